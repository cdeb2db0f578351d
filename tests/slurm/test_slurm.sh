#!/usr/bin/env bash
# jobs/hipi-solve.sbatch under a real Slurm: a one-node cluster (scripts/slurm-cluster.sh)
# runs the job script with sbatch --wait, as a user would submit it.
# Usage: test_slurm.sh HIPI MPIEXEC   (as root; needs slurm-wlm and munge)
# Checks: a 4-task job writes the same pairs as brute force run directly; a job with a
# missing HIPI_PROFILE calibrates first, then solves with auto; a job given a missing input
# ends with hipi's exit status 2, says so once, and leaves no output file.
set -u
HIPI=$1
MPIEXEC=${2:-mpirun}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_btl_vader_single_copy_mechanism=none
WORK=$(mktemp -d)
export HIPI_SLURM_DIR=$WORK/slurm
cleanup() {
  bash "$ROOT/scripts/slurm-cluster.sh" stop
  rm -rf "$WORK"
}
trap cleanup EXIT
cd "$WORK"

failures=0
passes=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
pass() { echo "ok:   $*"; passes=$((passes + 1)); }

if ! started=$(bash "$ROOT/scripts/slurm-cluster.sh" start); then
  echo "FAIL: the test cluster did not start"
  tail -n 20 "$HIPI_SLURM_DIR"/*.log
  exit 1
fi
eval "$started"  # export SLURM_CONF=...
pass "one-node Slurm cluster up: $(sinfo -h -o '%P %D %c %T')"

# submit NAME ARGS...: sbatch --wait the job script (10 minutes at most); sets $status and
# $log (the job's output).
submit() {
  local name=$1
  shift
  timeout 600 sbatch --wait --quiet --output="$name.out" "$@" >/dev/null 2>"$name.sbatch.err"
  status=$?
  log=$(cat "$name.out" 2>/dev/null)
}

timeout 120 "$MPIEXEC" -np 2 --oversubscribe "$HIPI" generate --out inst.h5 --n 600 --n-b 500 --d 256 --k 9 \
  --rho 0.5 --seed 7 >/dev/null 2>&1 || fail "generate"
timeout 120 "$MPIEXEC" -np 1 "$HIPI" solve --a inst.h5 --b inst.h5:/B --rho 0.5 --method brute --out ref.h5 \
  >/dev/null 2>&1 || fail "brute force reference"

# same_pairs FILE: the pairs and inner products of FILE are those of ref.h5.
same_pairs() { h5diff -q ref.h5 "$1" /pairs && h5diff -q ref.h5 "$1" /inner_products; }

# 1. A 4-task job, the sketch method: the same pairs as brute force.
submit sketch --ntasks=4 --export=ALL,HIPI="$HIPI" "$ROOT/jobs/hipi-solve.sbatch" --a inst.h5 --b inst.h5:/B \
  --rho 0.5 --method sketch --group-size 2 --out sketch.h5
if [ "$status" -ne 0 ]; then fail "sketch job: exit status $status"$'\n'"$log"$'\n'"$(cat sketch.sbatch.err)"
elif ! grep -q "on 4 ranks" <<<"$log"; then fail "sketch job did not run on 4 ranks:"$'\n'"$log"
elif ! same_pairs sketch.h5; then fail "sketch job: pairs differ from brute force"
else pass "4-task sketch job equals brute force"; fi

# 2. auto with a profile that does not exist yet: calibrated inside the job, then used.
submit auto --ntasks=2 --export=ALL,HIPI="$HIPI",HIPI_PROFILE="$WORK/profile.toml" "$ROOT/jobs/hipi-solve.sbatch" \
  --a inst.h5 --b inst.h5:/B --rho 0.5 --out auto.h5
if [ "$status" -ne 0 ]; then fail "auto job: exit status $status"$'\n'"$log"
elif [ ! -s profile.toml ]; then fail "auto job wrote no profile"$'\n'"$log"
elif ! grep -q "calibrating this job's layout first" <<<"$log"; then fail "auto job did not say it calibrates"$'\n'"$log"
elif ! same_pairs auto.h5; then fail "auto job: pairs differ from brute force"
else pass "auto job calibrates a missing profile, then equals brute force"; fi

# 3. A missing input: hipi's exit status 2 is the job's, one message, no output file.
submit missing --ntasks=2 --export=ALL,HIPI="$HIPI" "$ROOT/jobs/hipi-solve.sbatch" --a nope.h5 --rho 0.5 \
  --out missing.h5
count=$(grep -c "nope.h5" <<<"$log")
if [ "$status" -ne 2 ]; then fail "missing input: job exit status $status, want 2"$'\n'"$log"
elif [ "$count" -ne 1 ]; then fail "missing input: nope.h5 named $count times"$'\n'"$log"
elif [ -e missing.h5 ]; then fail "missing input: left missing.h5 behind"
else pass "missing input: exit 2, one message, no output"; fi

# 4. Pre-emption: SIGUSR1 to the batch shell (what --signal=B:USR1 and scancel --signal=USR1
# --batch send) half way through a brute-force job: hipi saves its checkpoint and stops,
# the job requeues itself, resumes and writes the pairs of an uninterrupted run.
timeout 120 "$MPIEXEC" -np 2 --oversubscribe "$HIPI" generate --out long.h5 --type real --n 24576 --d 2048 --k 8 \
  --tau 400 --seed 11 >/dev/null 2>&1 || fail "generate a long instance"
jobid=$(sbatch --parsable --ntasks=2 --output=preempt.out --export=ALL,HIPI="$HIPI" "$ROOT/jobs/hipi-solve.sbatch" \
  --a long.h5 --b long.h5:/B --tau 400 --method brute --checkpoint-interval 1 --out preempt.h5)
signalled=0
for _ in $(seq 1 600); do  # up to 120 s for the first checkpoint
  if grep -q "checkpoint: .* saved" preempt.out 2>/dev/null; then
    scancel --signal=USR1 --batch "$jobid" && signalled=1
    break
  fi
  squeue -h -j "$jobid" 2>/dev/null | grep -q . || break
  sleep 0.2
done
held=0
for _ in $(seq 1 300); do  # up to 300 s for the job to requeue, resume and finish
  state=$(squeue -h -j "$jobid" -o "%T %r" 2>/dev/null)
  [ -n "$state" ] || break
  # Slurm holds a requeued job back (reason BeginTime) for a while; start it sooner, but not
  # within the second of the requeue: slurmd refuses a launch whose credential is no newer
  # than the old run's revocation ("Job credential revoked"; the job then fails at once).
  if [ "$state" = "PENDING BeginTime" ]; then
    held=$((held + 1))
    [ "$held" -ge 3 ] && scontrol update JobId="$jobid" StartTime=now >/dev/null 2>&1
  fi
  sleep 1
done
log=$(cat preempt.out 2>/dev/null)
if [ "$signalled" -ne 1 ]; then fail "pre-emption: the job ended before its first checkpoint"$'\n'"$log"
elif ! grep -q "stopped by SIGUSR1 after" <<<"$log"; then fail "pre-emption: hipi did not stop with a checkpoint"$'\n'"$log"
elif ! grep -q "requeueing job $jobid" <<<"$log"; then fail "pre-emption: the job did not requeue itself"$'\n'"$log"
elif ! grep -q "checkpoint: resuming from" <<<"$log"; then fail "pre-emption: the requeued job did not resume"$'\n'"$log"
elif ! h5diff -q long.h5 preempt.h5 /truth_pairs /pairs; then fail "pre-emption: resumed pairs differ from the truth"$'\n'"$log"
elif [ -e preempt.h5.hipi-checkpoint ]; then fail "pre-emption: the checkpoint was left behind"
else pass "pre-empted brute-force job saved a checkpoint, requeued, resumed: $(grep -o 'stopped by SIGUSR1 after [0-9]* of [0-9]* units' <<<"$log")"; fi

echo "slurm tests: $passes passed, $failures failed"
[ "$failures" -eq 0 ]
