#!/usr/bin/env bash
# Installs every Debian package that hipi's build, tests, demo and benchmarks need.
# Idempotent: packages already installed are skipped, and apt-get update runs at most once.
# Usage (as root on Debian 12): scripts/install-deps.sh [--bench]
#   --bench also installs what the benchmarks need: FAISS, h5py, numpy, matplotlib, scikit-learn.
set -euo pipefail

packages=(
  build-essential cmake pkg-config
  openmpi-bin libopenmpi-dev         # MPI runtime and headers
  libboost-mpi-dev                   # C++ MPI wrapper
  libhdf5-openmpi-dev hdf5-tools     # parallel HDF5 (h5dump for inspecting output)
  libscalapack-openmpi-dev           # ScaLAPACK/PBLAS/BLACS over Open MPI
  libopenblas-dev                    # the BLAS behind ScaLAPACK
  libgtest-dev                       # unit and MPI tests
  libcli11-dev                       # command-line parsing
  libtomlplusplus-dev                # --config files
  libspdlog-dev libfmt-dev           # logging
  nlohmann-json3-dev                 # --report JSON
  slurm-wlm munge                    # a real one-node Slurm for the job scripts' test
  pybind11-dev python3-dev           # the Python module
  python3-numpy python3-mpi4py       # its arrays and communicators
  python3-pytest python3-h5py        # its tests (h5py writes the CLI's inputs)
  python3-scipy                      # --components checked against scipy's connected_components
  python3-torch                      # the training example and its test (examples/relu_training)
  python3-venv python3-pip python3-setuptools python3-wheel  # pip install . (pyproject.toml) and its test
)
if [ "${1:-}" = "--bench" ]; then
  packages+=(python3-faiss python3-h5py python3-numpy python3-matplotlib python3-threadpoolctl  # baselines, plots
             python3-sklearn)  # TF-IDF for bench/sparse.py
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages already installed"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: need root to install: ${missing[*]}" >&2
  exit 1
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"
