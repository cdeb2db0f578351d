#!/usr/bin/env bash
# Solves the same instances with two builds of hipi and compares their answers (/pairs and
# /inner_products, with h5diff) and root attributes: a restructuring must change no output. One machine
# profile (measured once with the first build) serves every auto run of both, so auto's
# choices can differ only through the code.
# Usage: scripts/compare-builds.sh OLD_BUILD_DIR NEW_BUILD_DIR [ranks]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
source "$(dirname "${BASH_SOURCE[0]}")/blas-env.sh"
OLD=$(realpath "$1")/hipi NEW=$(realpath "$2")/hipi RANKS=${3:-2}
work=$(mktemp -d)
trap 'status=$?; [ $status -ne 0 ] && tail -20 "$work/log.txt"; rm -rf "$work"' EXIT
cd "$work"
run() { mpirun -np "$RANKS" --oversubscribe "$@" >>log.txt 2>&1; }

run "$OLD" generate --out bin.h5 --n 8192 --d 1024 --k 16 --rho 0.5 --seed 7
run "$OLD" generate --out bin256.h5 --n 16384 --d 256 --k 32 --rho 0.8 --seed 8 --packed
run "$OLD" generate --out self.h5 --n 6000 --d 512 --k 24 --rho 0.5 --seed 9 --self-join
run "$OLD" generate --out real.h5 --n 6000 --d 512 --k 16 --type real --tau 60 --seed 10
run "$OLD" calibrate --d 1024 --out profile.toml
# Exact copies: the planted self-join with its first 500 rows repeated (duplicates, expansion).
/usr/bin/python3 - <<'PY'
import h5py, numpy as np
a = h5py.File("self.h5")["A"][:]
with h5py.File("copies.h5", "w") as f:
    f["A"] = np.concatenate([a, a[:500], a[:3]])
PY

cases=(
  "bin-brute|--a bin.h5:/A --b bin.h5:/B --rho 0.5 --method brute"
  "bin-sketch|--a bin.h5:/A --b bin.h5:/B --rho 0.5 --method sketch --group-size 4"
  "bin-sign|--a bin.h5:/A --b bin.h5:/B --rho 0.5 --method sketch --sketch sign --group-size 3"
  "bin-auto|--a bin.h5:/A --b bin.h5:/B --rho 0.5 --profile profile.toml"
  "packed-hash|--a bin256.h5:/A --b bin256.h5:/B --rho 0.8 --method hash"
  "packed-auto|--a bin256.h5:/A --b bin256.h5:/B --rho 0.8 --profile profile.toml"
  "self-brute|--a self.h5:/A --rho 0.5 --method brute"
  "self-sketch|--a self.h5:/A --rho 0.5 --method sketch --reps 2"
  "self-abs|--a self.h5:/A --rho 0.3 --abs --method brute"
  "real-brute|--a real.h5:/A --b real.h5:/B --tau 60 --method brute"
  "real-sketch|--a real.h5:/A --b real.h5:/B --tau 60 --method sketch --group-size 2"
  "real-auto|--a real.h5:/A --b real.h5:/B --tau 60 --profile profile.toml"
  "copies-brute|--a copies.h5:/A --rho 0.5 --method brute"
  "copies-auto|--a copies.h5:/A --rho 0.5 --profile profile.toml"
  "copies-spill|--a copies.h5:/A --rho 0.1 --method brute --memory-mib 60"
)
# The root attributes but the timings; under auto (timed measurements may choose another
# method) neither the method, the grid nor the parameters.
same_attributes() {
  /usr/bin/python3 - "$@" <<'PY'
import sys, h5py
old, new, name = h5py.File(sys.argv[1]), h5py.File(sys.argv[2]), sys.argv[3]
skip = {"timings"} | ({"method", "grid", "parameters"} if "auto" in name else set())
keys = (set(old.attrs) | set(new.attrs)) - skip
bad = [k for k in sorted(keys) if str(old.attrs.get(k)) != str(new.attrs.get(k))]
for k in bad: print(f"attribute {k}: {old.attrs.get(k)!r} against {new.attrs.get(k)!r}")
sys.exit(1 if bad else 0)
PY
}
failed=0
for c in "${cases[@]}"; do
  name=${c%%|*} args=${c#*|}
  # shellcheck disable=SC2086
  run "$OLD" solve $args --out "old-$name.h5"
  # shellcheck disable=SC2086
  run "$NEW" solve $args --out "new-$name.h5"
  count=$(h5dump -H -d /pairs "old-$name.h5" | grep -oE '\( [0-9]+' | head -1 | tr -d '( ')
  method=$(h5dump -a /method "new-$name.h5" | grep -oE '"[a-z]+"' | tail -1)
  if h5diff "old-$name.h5" "new-$name.h5" /pairs && h5diff "old-$name.h5" "new-$name.h5" /inner_products &&
    same_attributes "old-$name.h5" "new-$name.h5" "$name"; then
    echo "same   $name: $count pairs, method $method"
  else
    echo "DIFFER $name"
    failed=1
  fi
done
exit $failed
