#!/usr/bin/env bash
# Runs a benchmark config with the BLAS kernels this CPU allows (never used by tests/CI).
# Usage: scripts/bench.sh config/bench-compare.toml [compare.py options...]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
source "$(dirname "${BASH_SOURCE[0]}")/blas-env.sh"
"$HIPI_ROOT/scripts/install-deps.sh" --bench >/dev/null
[ -x "$HIPI_BUILD/hipi" ] || "$HIPI_ROOT/scripts/build.sh"
exec /usr/bin/python3 "$HIPI_ROOT/bench/compare.py" --config "$@"
