#!/usr/bin/env bash
# Injected faults (HIPI_INJECT_FAULT=POINT:RANK, src/fault.cpp) at every named point, at 2
# and 3 ranks: the job must end within 30 s with exit status 1, one message naming the
# rank and the point, and no output, report or temporary file left behind.
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
  elif ls -a | grep -q 'hipi-tmp'; then fail "$name: left a temporary file: $(ls -a | grep hipi-tmp)"
  else pass "$name (${took} s)"; fi
}

solve=(solve --a in.h5 --b in.h5:/B --rho 0.6 --out out.h5 --report report.json)
for np in 2 3; do
  last=$((np - 1))
  for rank in 0 "$last"; do
    expect_fault generate-write "$rank" "$np" generate --out gen.h5 --n 500 --d 64 --k 3 --seed 1
    for point in read-file read compute gather write; do
      expect_fault "$point" "$rank" "$np" "${solve[@]}" --method brute
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

echo "test_faults: $passes passed, $failures failed"
[ "$failures" -eq 0 ]
