#!/usr/bin/env bash
# The whole test suite: installs dependencies, builds, and runs every CTest test (unit
# tests, MPI tests at 1, 2, 3 and 4 ranks, end-to-end CLI tests). Usage: scripts/run-tests.sh
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
"$HIPI_ROOT/scripts/build.sh"
cd "$HIPI_BUILD"
ctest --output-on-failure -j"$(nproc)" --timeout 900
