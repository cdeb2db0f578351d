#!/usr/bin/env bash
# The whole test suite: installs dependencies, builds, and runs every CTest test (unit
# tests, MPI tests at 1, 2, 3 and 4 ranks, end-to-end CLI tests, injected faults, the Slurm
# job script), then the MPI tests at 2 ranks again built with AddressSanitizer and
# UndefinedBehaviorSanitizer (in $HIPI_BUILD-sanitize; any report fails them).
# Usage: scripts/run-tests.sh
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
"$HIPI_ROOT/scripts/build.sh"
cd "$HIPI_BUILD"
ctest --output-on-failure -j"$(nproc)" --timeout 900

sanitize=$HIPI_BUILD-sanitize
cmake -S "$HIPI_ROOT" -B "$sanitize" -DCMAKE_BUILD_TYPE=Debug -DHIPI_SANITIZE=ON >/dev/null
cmake --build "$sanitize" -j"$(nproc)" --target hipi_mpi_tests
cd "$sanitize"
ctest --output-on-failure -R '^mpi_np2$' --timeout 1800
