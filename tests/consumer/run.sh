#!/usr/bin/env bash
# Installs hipi from the build tree into a fresh prefix, builds tests/consumer against it
# with find_package(hipi), and runs it at 1 to 3 ranks.
# Usage: run.sh <build dir> <mpiexec>
set -euo pipefail
build=$1 mpiexec=$2
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cmake --install "$build" --prefix "$work/prefix" >/dev/null
# What a user gets: headers of hipi's own only, no third-party ones.
ls "$work/prefix/include/hipi"
cmake -S "$here" -B "$work/build" -DCMAKE_PREFIX_PATH="$work/prefix" >/dev/null
cmake --build "$work/build" >/dev/null
for n in 1 2 3; do
  "$mpiexec" -n "$n" --oversubscribe "$work/build/consumer"
done
