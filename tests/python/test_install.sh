#!/usr/bin/env bash
# The Python package as a user installs it: `pip install --no-build-isolation .` into a
# fresh venv that sees the Debian packages (numpy, mpi4py, scipy, h5py), offline. The
# C++ build is this suite's (HIPI_BUILD_DIR): pip still configures nothing new, copies the
# module and the executable into a wheel and installs it. Then, from another directory:
# import hipi, the version, the `hipi` command at 1 and 2 ranks, and read_pairs on its file.
# Usage: test_install.sh SOURCE_DIR BUILD_DIR MPIEXEC
set -u
SOURCE=$1
BUILD=$2
MPIEXEC=${3:-mpirun}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
pass() { echo "ok:   $*"; }

/usr/bin/python3 -m venv --system-site-packages "$WORK/v" || { echo "FAIL: python3 -m venv"; exit 1; }
# A copy of the source without build trees, data or git, so that the build's own files
# (build-python/) stay out of the tree.
mkdir "$WORK/src" && tar -C "$SOURCE" --exclude=./.git --exclude='./build*' --exclude=./demo-output \
  --exclude=./bench-data --exclude='*.h5' -cf - . | tar -C "$WORK/src" -xf -
if out=$(cd "$WORK/src" && HIPI_BUILD_DIR=$BUILD "$WORK/v/bin/pip" install --no-build-isolation --no-index . 2>&1); then
  pass "pip install --no-build-isolation ."
else fail "pip install"$'\n'"$out"; exit 1; fi

cd /
want=$(sed -n 's/^project(hipi VERSION \([0-9.]*\).*/\1/p' "$SOURCE/CMakeLists.txt")
got=$("$WORK/v/bin/python" -c 'import hipi; print(hipi.__version__, hipi.__file__)' 2>&1)
case "$got" in
  "$want $WORK/v/lib/"*/site-packages/hipi/__init__.py) pass "import hipi from / : $got" ;;
  *) fail "import hipi from /: '$got' (want version $want from the venv)" ;;
esac
got=$("$WORK/v/bin/hipi" --version 2>&1)
[ "$got" = "hipi $want" ] && pass "hipi --version: $got" || fail "hipi --version: '$got'"

cd "$WORK"
if out=$(timeout 120 "$MPIEXEC" -np 2 --oversubscribe "$WORK/v/bin/hipi" generate --out g.h5 --n 512 --d 256 --k 8 --rho 0.5 2>&1) &&
   out=$(timeout 120 "$MPIEXEC" -np 2 --oversubscribe "$WORK/v/bin/hipi" solve --a g.h5 --b g.h5:/B --rho 0.5 --method brute --out p.h5 2>&1); then
  pass "mpirun -np 2 hipi generate, solve"
else fail "mpirun -np 2 hipi: $out"; fi
# The planted pairs are the file's /truth_pairs; read_pairs and output="lims" agree with it.
cat >check.py <<'PY'
import h5py, numpy as np, hipi
got = hipi.read_pairs("p.h5")
with h5py.File("g.h5", "r") as f:
    truth = f["truth_pairs"][...]
    a, b = f["A"][...], f["B"][...]
assert np.array_equal(got.pairs, truth) and len(truth) == 8, (got.pairs, truth)
lims, D, I = hipi.find_heavy_pairs(a, b, rho=0.5, method="brute", output="lims")
assert np.array_equal(I, got.pairs[:, 1]) and np.array_equal(D, got.inner_products) and got.shape == (512, 512)
print(len(got.pairs), "pairs")
PY
if out=$("$WORK/v/bin/python" check.py 2>&1); then pass "read_pairs on the CLI's file: $out"; else fail "read_pairs: $out"; fi

[ "$failures" -eq 0 ] || { echo "$failures failure(s)"; exit 1; }
echo "all passed"
