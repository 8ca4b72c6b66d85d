#!/usr/bin/env bash
# Sets up (packages, configure, build) and runs the whole test suite with ctest.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$root/tools/setup.sh"
build_dir=${BUILD_DIR:-$root/build}
# Two test processes at a time, each with its share of the cores.
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}
cd "$build_dir"
ctest --output-on-failure -j "${CTEST_JOBS:-2}" "$@"
