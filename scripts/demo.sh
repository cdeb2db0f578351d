#!/usr/bin/env bash
# The main job end to end on a small demo: install, build, generate a planted instance,
# solve it under mpirun, show the result. Usage: scripts/demo.sh [ranks]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
source "$(dirname "${BASH_SOURCE[0]}")/blas-env.sh"  # the BLAS kernels this CPU allows
RANKS=${1:-2}
"$HIPI_ROOT/scripts/build.sh"
HIPI="$HIPI_BUILD/hipi"
DEMO=${HIPI_DEMO_DIR:-$HIPI_ROOT/demo-output}
mkdir -p "$DEMO"
cd "$DEMO"
set -x
mpirun -np "$RANKS" --oversubscribe "$HIPI" generate --out instance.h5 \
  --n 8192 --d 1024 --k 16 --rho 0.5 --seed 42
mpirun -np "$RANKS" --oversubscribe "$HIPI" solve --a instance.h5:/A --b instance.h5:/B \
  --rho 0.5 --out pairs.h5 --report report.json
set +x
echo
echo "== heavy pairs found (row of A, row of B) and their inner products =="
h5dump -d /pairs -d /inner_products -A 0 pairs.h5 | grep -E '^\s+\(' | head -40
echo
if h5diff instance.h5 pairs.h5 /truth_pairs /pairs >/dev/null; then
  echo "== all $(h5dump -d /truth_pairs -H instance.h5 | grep -oE '\( [0-9]+' | head -1 | tr -d '( ') planted pairs found, no others =="
else
  echo "== the result differs from the planted pairs =="
  exit 1
fi
echo "files: $DEMO/instance.h5 $DEMO/pairs.h5 $DEMO/report.json"
