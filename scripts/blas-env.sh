# Sourced where hipi runs for speed (the demo, benchmarks, job scripts); never by the tests
# or CI, which keep the machine's own setting.
#
# OpenBLAS 0.3.21 as Debian packages it misdetects these virtual CPUs and runs generic or
# AVX2 kernels: on an AVX-512 CPU, SGEMM runs about 1.5-4x slower than it can (DESIGN.md
# section 4). OPENBLAS_CORETYPE tells it which kernels to use. HIPI_OPENBLAS_CORETYPE
# overrides the choice made here; hipi logs the kernels it got ("GEMM on OpenBLAS ...").
if [ -n "${HIPI_OPENBLAS_CORETYPE:-}" ]; then
  export OPENBLAS_CORETYPE=$HIPI_OPENBLAS_CORETYPE
elif grep -qw avx512f /proc/cpuinfo 2>/dev/null; then
  export OPENBLAS_CORETYPE=SkylakeX
elif grep -qw avx2 /proc/cpuinfo 2>/dev/null; then
  export OPENBLAS_CORETYPE=Haswell
fi
# One rank per core: BLAS threads inside a rank would compete with the other ranks (Open
# MPI binds ranks to cores only up to one rank per core; oversubscribed runs are unbound).
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}
