#!/usr/bin/env bash
# Builds and runs the benchmark (see docs/benchmarks.md). Extra args go to
# scaler_bench, e.g. --seconds 5 --out /tmp/bench.md
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh scripts/packages-build.txt scripts/packages-test.txt
scripts/build.sh build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DJSS_BUILD_TESTS=ON \
  -DJSS_BUILD_BENCH=ON -- scaler_bench jetstream-scaler
exec build/bench/scaler_bench "$@"
