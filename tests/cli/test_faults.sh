#!/usr/bin/env bash
# Injected faults (HIPI_INJECT_FAULT=POINT:RANK, src/fault.cpp) at every named point, at 2
# and 3 ranks: the job must end within 30 s with exit status 1, one message naming the
# rank and the point, and no output, report or temporary file left behind. Then a stopped
# rank (the watchdog), and a stop request at a unit boundary: exit status 3, a checkpoint,
# and a resumed run writing the uninterrupted run's output; other runs' checkpoints refused,
# and damaged ones (flipped bytes, edited pairs or counts) refused with exit status 2; an
# input overwritten in place during a run never gives a mixed answer.
# Usage: test_faults.sh HIPI MPIEXEC
set -u
HIPI=$1
MPIEXEC=${2:-mpirun}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
unset HIPI_CACHE_DIR HIPI_INJECT_FAULT
export XDG_CACHE_HOME="$WORK/cache"

failures=0
passes=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
pass() { echo "ok:   $*"; passes=$((passes + 1)); }

"$MPIEXEC" -np 2 --oversubscribe "$HIPI" -q generate --out in.h5 --n 700 --n-b 600 --d 256 --k 12 --rho 0.6 --seed 3 ||
  { echo "FAIL: generate"; exit 1; }

# expect_fault POINT RANK NP ARGS...: run with the fault injected, check how it ended.
expect_fault() {
  local point=$1 rank=$2 np=$3
  shift 3
  rm -f out.h5 report.json
  local start=$SECONDS
  out=$(HIPI_INJECT_FAULT="$point:$rank" timeout 30 "$MPIEXEC" -np "$np" --oversubscribe "$HIPI" "$@" 2>&1)
  local status=$? took=$((SECONDS - start))
  local name="fault at $point on rank $rank of $np"
  local count
  count=$(grep -c -e "injected fault at $point on rank $rank" <<<"$out")
  if [ "$status" -eq 124 ]; then fail "$name: still running after 30 s"$'\n'"$out"
  elif [ "$status" -ne 1 ]; then fail "$name: exit status $status, want 1"$'\n'"$out"
  elif [ "$count" -ne 1 ]; then fail "$name: message printed $count times"$'\n'"$out"
  elif [ -e out.h5 ] || [ -e report.json ] || [ -e gen.h5 ]; then fail "$name: left an output file"
  elif ls -a | grep -q 'hipi-tmp\|hipi-spill'; then fail "$name: left a temporary file: $(ls -a | grep 'hipi-tmp\|hipi-spill')"
  else pass "$name (${took} s)"; fi
}

solve=(solve --a in.h5 --b in.h5:/B --rho 0.6 --out out.h5 --report report.json)
for np in 2 3; do
  last=$((np - 1))
  for rank in 0 "$last"; do
    expect_fault generate-write "$rank" "$np" generate --out gen.h5 --n 500 --d 64 --k 3 --seed 1
    for point in read-file read compute sort write; do
      expect_fault "$point" "$rank" "$np" "${solve[@]}" --method brute
    done
    # An answer past the (lowered) limit of pairs held: while brute force spills it, and
    # while the spilled answer is written window by window.
    for point in spill window; do
      HIPI_TEST_SPILL_PAIRS=1000 expect_fault "$point" "$rank" "$np" solve --a in.h5 --b in.h5:/B --rho 0.1 \
        --out out.h5 --report report.json --method brute
    done
    for point in sample plan; do
      expect_fault "$point" "$rank" "$np" "${solve[@]}" --method auto
    done
    for point in sketch product route verify collect complete recall; do
      expect_fault "$point" "$rank" "$np" "${solve[@]}" --method sketch --sketch sign --group-size 4
    done
    for point in redistribute gemm detect; do
      expect_fault "$point" "$rank" "$np" "${solve[@]}" --method sketch --sketch linear --group-size 4
    done
  done
done

# --- a stopped rank: the watchdog ends the job -----------------------------------------
for np in 2 3; do
  rm -f out.h5
  start=$SECONDS
  out=$(HIPI_INJECT_FAULT="compute:1:stop" timeout 60 "$MPIEXEC" -np "$np" --oversubscribe "$HIPI" "${solve[@]}" \
    --method brute --stall-timeout 3 2>&1)
  status=$? took=$((SECONDS - start))
  if [ "$status" -eq 124 ]; then fail "stopped rank at $np ranks: still running after 60 s"$'\n'"$out"
  elif [ "$status" -ne 1 ]; then fail "stopped rank at $np ranks: exit status $status, want 1"$'\n'"$out"
  elif ! grep -q "no progress for [0-9]* s (--stall-timeout)" <<<"$out"; then fail "stopped rank: no watchdog message"$'\n'"$out"
  elif [ "$took" -gt 30 ]; then fail "stopped rank at $np ranks: took $took s"
  elif [ -e out.h5 ] || ls -a | grep -q 'hipi-tmp'; then fail "stopped rank at $np ranks: left files"
  else pass "a stopped rank at $np ranks: the watchdog ended the job in $took s"; fi
done

# --- stop with a checkpoint, resume to the same output --------------------------------
# usr1 at rank R's first unit boundary: as if the job had been sent SIGUSR1 (or SIGTERM).
"$MPIEXEC" -np 2 --oversubscribe "$HIPI" -q generate --out self.h5 --n 900 --d 256 --k 12 --rho 0.6 --seed 4 --self-join ||
  fail "generate a self-join"
same_output() {
  h5diff -q "$1" "$2" /pairs && h5diff -q "$1" "$2" /inner_products &&
    { h5diff -q "$1" "$2" /knn_indices >/dev/null 2>&1 || ! h5ls "$1" | grep -q knn_indices; }
}
for np in 2 3; do
  for kind in ab self top-k top-k-ab; do
    case $kind in
      ab) args=(solve --a in.h5 --b in.h5:/B --rho 0.6 --method brute) ;;
      self) args=(solve --a self.h5 --rho 0.6 --method brute) ;;
      top-k) args=(solve --a self.h5 --top-k 7 --binary --method brute) ;;
      top-k-ab) args=(solve --a in.h5 --b in.h5:/B --top-k 5 --binary --method brute) ;;
    esac
    name="stop and resume, $kind, $np ranks"
    rm -f ref.h5 out.h5 out.h5.hipi-checkpoint
    "$MPIEXEC" -np "$np" --oversubscribe "$HIPI" -q "${args[@]}" --out ref.h5 || fail "$name: uninterrupted run"
    out=$(HIPI_INJECT_FAULT="unit:$((np - 1)):usr1" timeout 60 "$MPIEXEC" -np "$np" --oversubscribe "$HIPI" \
      "${args[@]}" --out out.h5 2>&1)
    status=$?
    if [ "$status" -ne 3 ]; then fail "$name: stopped run exit status $status, want 3"$'\n'"$out"; continue; fi
    if [ -e out.h5 ] || [ ! -s out.h5.hipi-checkpoint ]; then fail "$name: want a checkpoint and no output"; continue; fi
    grep -q "stopped by SIGUSR1 after 1 of" <<<"$out" || fail "$name: no stop message"$'\n'"$out"
    out=$(timeout 60 "$MPIEXEC" -np "$np" --oversubscribe "$HIPI" "${args[@]}" --out out.h5 2>&1)
    status=$?
    if [ "$status" -ne 0 ]; then fail "$name: resumed run exit status $status"$'\n'"$out"
    elif ! grep -q "checkpoint: resuming from out.h5.hipi-checkpoint: 1 of" <<<"$out"; then fail "$name: did not resume"$'\n'"$out"
    elif ! same_output ref.h5 out.h5; then fail "$name: resumed output differs from the uninterrupted run"
    elif [ -e out.h5.hipi-checkpoint ]; then fail "$name: checkpoint left after success"
    else pass "$name: identical output"; fi
  done
done

# A checkpoint of another run is refused, naming what differs, and kept: a run of other
# options, and a run of a method that keeps none (sketch; its output used to delete it).
while IFS='|' read -r name options want; do
  rm -f out.h5 out.h5.hipi-checkpoint
  HIPI_INJECT_FAULT="unit:0:usr1" "$MPIEXEC" -np 2 --oversubscribe "$HIPI" -q solve --a in.h5 --b in.h5:/B --rho 0.6 \
    --method brute --out out.h5 2>/dev/null </dev/null  # (mpirun would read the cases)
  # shellcheck disable=SC2086
  out=$("$MPIEXEC" -np 2 --oversubscribe "$HIPI" solve --a in.h5 --b in.h5:/B $options --out out.h5 2>&1 </dev/null)
  status=$?
  if [ "$status" -eq 2 ] && grep -qF "saved by a run with other inputs or options ($want" <<<"$out" &&
    [ -s out.h5.hipi-checkpoint ] && [ ! -e out.h5 ]; then pass "a checkpoint beside $name is refused and kept"
  else fail "checkpoint beside $name: exit $status"$'\n'"$out"; fi
done <<'CASES'
a run of other options|--rho 0.7 --method brute|threshold was
a sketch run|--rho 0.6 --method sketch|method was "brute", now "sketch")
CASES
"$MPIEXEC" -np 2 --oversubscribe "$HIPI" -q generate --out in.h5 --n 700 --n-b 600 --d 256 --k 12 --rho 0.6 --seed 99
out=$("$MPIEXEC" -np 2 --oversubscribe "$HIPI" solve --a in.h5 --b in.h5:/B --rho 0.6 --method brute --out out.h5 2>&1)
status=$?
if [ "$status" -eq 2 ] && grep -q "(data_checksum was" <<<"$out"; then pass "a checkpoint of other data is refused"
else fail "checkpoint of other data: exit $status"$'\n'"$out"; fi

# Every scoring option is in the key: a checkpoint of a --cosine run resumed without it
# (or the reverse) would mix cosines with inner products and skip the units it holds.
"$MPIEXEC" -np 2 --oversubscribe "$HIPI" -q generate --out real.h5 --n 800 --d 64 --k 8 --type real --tau 20 \
  --self-join --seed 5 || fail "generate real rows"
while IFS='|' read -r saved resumed want; do
  rm -f out.h5 out.h5.hipi-checkpoint
  # shellcheck disable=SC2086
  HIPI_INJECT_FAULT="unit:0:usr1" "$MPIEXEC" -np 2 --oversubscribe "$HIPI" -q solve --a real.h5 $saved --method brute \
    --out out.h5 2>/dev/null </dev/null
  # shellcheck disable=SC2086
  out=$("$MPIEXEC" -np 2 --oversubscribe "$HIPI" solve --a real.h5 $resumed --method brute --out out.h5 2>&1 </dev/null)
  status=$?
  if [ "$status" -eq 2 ] && grep -qF "saved by a run with other inputs or options ($want" <<<"$out" &&
    [ -s out.h5.hipi-checkpoint ] && [ ! -e out.h5 ]; then pass "a checkpoint of '$saved' is refused by '$resumed'"
  else fail "checkpoint of '$saved' resumed by '$resumed': exit $status"$'\n'"$out"; fi
done <<'CASES'
--tau 0.3 --cosine|--tau 0.3|cosine was true, now false
--tau 0.3|--tau 0.3 --cosine|cosine was false, now true
--tau 0.3 --cosine|--tau 0.3 --cosine --skip-zero-rows|skip_zero_rows was false, now true
--tau 0.3 --cosine|--tau 0.3 --cosine --components|components was false, now true
--tau 10|--tau 10 --abs|abs was false, now true
--top-k 10|--top-k 5|top_k was 10, now 5
--tau 0.3 --cosine|--tau 0.3 --cosine --top-k 5|top_k was 0, now 5
CASES
# A stop signal where no checkpoint can be saved (--checkpoint-interval 0, or the write)
# ends the run with hipi's exit status 1, saying so, not with mpirun's 128 + signal; nothing
# is left behind, not even the output's temporary file.
# (window: the answer spilled, the signal between two windows written into the temporary file.)
for case in unit:brute unit:prefix window:brute; do
  rm -f out.h5 out.h5.hipi-checkpoint .out.h5.hipi-tmp-*
  out=$(HIPI_TEST_SPILL_PAIRS=50 HIPI_INJECT_FAULT="${case%%:*}:1:usr1" timeout 60 "$MPIEXEC" -np 2 --oversubscribe \
    "$HIPI" solve --a real.h5 \
    --tau 0.3 --cosine --method "${case#*:}" --checkpoint-interval 0 --out out.h5 2>&1 </dev/null)
  status=$?
  if [ "$status" -eq 1 ] && grep -q "rank 1: stopped by SIGUSR1 (this stage keeps no checkpoint)" <<<"$out" &&
    [ ! -e out.h5 ] && [ ! -e out.h5.hipi-checkpoint ] && ! ls -a | grep -q 'out.h5.hipi-tmp'; then
    pass "SIGUSR1 without checkpoints ($case): exit status 1, no files"
  else fail "SIGUSR1 without checkpoints ($case): exit $status, $(ls -a | grep hipi-tmp)"$'\n'"$out"; fi
done

# --- damaged checkpoints: exit 2, "not a readable checkpoint", checkpoint kept, no output ---
# As bit rot or a hand edit would leave them: a flipped byte inside /pairs, a pair outside
# the problem, units_done out of range, of the wrong type or missing, an edited state, a
# header that is JSON of another shape or has no key.
"$MPIEXEC" -np 2 --oversubscribe "$HIPI" -q generate --out in.h5 --n 700 --n-b 600 --d 256 --k 12 --rho 0.6 --seed 3
damaged_args=(solve --a in.h5 --b in.h5:/B --rho 0.6 --method brute --out out.h5)
for damage in flip_pair far_pair done_8 done_minus done_100 done_text done_missing state_missing state_edited \
  header_array header_string key_missing; do
  rm -f out.h5 out.h5.hipi-checkpoint
  HIPI_INJECT_FAULT="unit:1:usr1" "$MPIEXEC" -np 2 --oversubscribe "$HIPI" -q "${damaged_args[@]}" 2>/dev/null
  [ -s out.h5.hipi-checkpoint ] || { fail "damaged checkpoint $damage: no checkpoint to damage"; continue; }
  /usr/bin/python3 - "$damage" <<'PY' || fail "damaging the checkpoint ($damage)"
import json, sys, h5py, numpy as np
damage = sys.argv[1]
with h5py.File("out.h5.hipi-checkpoint", "r+") as f:
    header = json.loads(f.attrs["checkpoint"])
    pairs = f["pairs"]
    assert pairs.shape[0] > 0, "an empty checkpoint"
    if damage == "flip_pair":
        row = pairs[0]
        row[0] ^= 0xFFFFFC00  # four bytes of rot in the first row's index
        pairs[0] = row
    elif damage == "far_pair":
        pairs[0] = np.array([10**9, 5])
    elif damage.startswith("done_"):
        value = {"done_8": 8, "done_minus": -1, "done_100": 100, "done_text": "one"}.get(damage)
        if damage == "done_missing":
            del header["units_done"]
        else:
            header["units_done"] = value
    elif damage == "state_missing":
        del header["state"]
    elif damage == "state_edited":
        header["state"]["method"] = "prefix"
    elif damage == "header_array":
        header = [1, 2, 3]
    elif damage == "header_string":
        header = "hipi checkpoint 3"
    elif damage == "key_missing":
        del header["key"]
    f.attrs["checkpoint"] = json.dumps(header)
PY
  before=$(md5sum out.h5.hipi-checkpoint)
  out=$(timeout 60 "$MPIEXEC" -np 2 --oversubscribe "$HIPI" "${damaged_args[@]}" 2>&1)
  status=$?
  if [ "$status" -ne 2 ]; then fail "damaged checkpoint $damage: exit $status, want 2"$'\n'"$out"
  elif ! grep -q "out.h5.hipi-checkpoint: not a readable checkpoint (.*); remove it to start over" <<<"$out"; then
    fail "damaged checkpoint $damage: message"$'\n'"$out"
  elif [ -e out.h5 ] || [ "$(md5sum out.h5.hipi-checkpoint)" != "$before" ]; then fail "damaged checkpoint $damage: files changed"
  else pass "a damaged checkpoint ($damage) is refused and kept"; fi
done

# A header whose pair count was edited (10^12, past any budget) is damage, refused as such
# before the budget is asked about it (it was "past the budget": use more ranks).
rm -f out.h5 out.h5.hipi-checkpoint
HIPI_INJECT_FAULT="unit:1:usr1" "$MPIEXEC" -np 2 --oversubscribe "$HIPI" -q "${damaged_args[@]}" 2>/dev/null
/usr/bin/python3 -c '
import json, h5py
with h5py.File("out.h5.hipi-checkpoint", "r+") as f:
    h = json.loads(f.attrs["checkpoint"]); h["pairs"] = 10**12; f.attrs["checkpoint"] = json.dumps(h)
' || fail "editing the checkpoint's pair count"
out=$(timeout 60 "$MPIEXEC" -np 2 --oversubscribe "$HIPI" "${damaged_args[@]}" 2>&1)
status=$?
if [ "$status" -eq 2 ] && grep -q "not a readable checkpoint (its header counts 1000000000000 pairs, /pairs holds" <<<"$out" &&
  [ -s out.h5.hipi-checkpoint ] && [ ! -e out.h5 ]; then pass "a checkpoint with an edited pair count is refused as damaged"
else fail "checkpoint with an edited pair count: exit $status"$'\n'"$out"; fi

# --- an input overwritten in place during a run: never a mixed answer --------------------
# `cp` over the input (same inode: truncated, then rewritten) at several moments of a brute
# run on 2 x 64 MB. Whatever the moment, the run either ends with exit 0 and exactly the old
# or the new file's answer (its planted pairs: 8 or 16), or fails naming the file with no
# output; never exit 0 with pairs of both.
"$MPIEXEC" -np 2 --oversubscribe "$HIPI" -q generate --out old.h5 --n 16384 --d 2048 --k 8 --rho 0.5 --seed 1 &&
  "$MPIEXEC" -np 2 --oversubscribe "$HIPI" -q generate --out new.h5 --n 16384 --d 2048 --k 16 --rho 0.5 --seed 2 ||
  fail "generate the live-overwrite inputs"
outcomes=""
for delay in 0.2 0.35 0.5 0.8; do
  cp old.h5 live.h5
  rm -f out.h5
  timeout 120 "$MPIEXEC" -np 2 --oversubscribe "$HIPI" solve --a live.h5 --b live.h5:/B --rho 0.5 --method brute \
    --out out.h5 >live.log 2>&1 </dev/null &
  run_pid=$!
  sleep "$delay"
  cp new.h5 live.h5
  wait "$run_pid"
  status=$?
  if [ "$status" -eq 0 ]; then
    verdict=$(/usr/bin/python3 -c '
import h5py, numpy as np
got = h5py.File("out.h5", "r")["pairs"][...]
for name in ("old", "new"):
    if np.array_equal(got, h5py.File(name + ".h5", "r")["truth_pairs"][...]):
        print(name); break
else:
    print("mixed:", len(got), "pairs")' 2>&1)
  elif [ -e out.h5 ]; then verdict="failed (exit $status) but left out.h5"
  elif grep -q "live.h5" live.log; then verdict="refused"
  else verdict="failed (exit $status) without naming the file: $(tail -3 live.log)"; fi
  case "$verdict" in
    old | new | refused) outcomes+=" ${delay}s:$verdict" ;;
    *) fail "input overwritten ${delay} s into the run: $verdict" ;;
  esac
done
[ -n "$outcomes" ] && pass "input overwritten in place during a run: never a mixed answer ($outcomes )"

echo "test_faults: $passes passed, $failures failed"
[ "$failures" -eq 0 ]
