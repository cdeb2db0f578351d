# Sourced by hipi's scripts: the environment a run on these machines needs.
# Open MPI refuses to run as root unless told twice (CI and these machines run as root).
if [ "$(id -u)" -eq 0 ]; then
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi
# Shared-memory single-copy (CMA) is refused inside many containers; plain copies work everywhere.
export OMPI_MCA_btl_vader_single_copy_mechanism=${OMPI_MCA_btl_vader_single_copy_mechanism:-none}
HIPI_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
HIPI_BUILD=${HIPI_BUILD:-$HIPI_ROOT/build}
export HIPI_ROOT HIPI_BUILD
