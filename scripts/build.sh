#!/usr/bin/env bash
# Installs the dependencies (Debian packages) and builds hipi, its tests and benchmarks
# into build/ (or $HIPI_BUILD). Usage: scripts/build.sh
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
"$HIPI_ROOT/scripts/install-deps.sh"
cmake -S "$HIPI_ROOT" -B "$HIPI_BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$HIPI_BUILD" -j"$(nproc)"
echo "build: $HIPI_BUILD/hipi"
