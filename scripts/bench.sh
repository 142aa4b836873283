#!/usr/bin/env bash
# Builds and runs the benchmarks (see docs/benchmarks.md).
# Usage: scripts/bench.sh [all|scaler|push] [args for that benchmark...]
#   all:    sections 1-4; --out FILE saves all four (other args go to scaler_bench)
#   scaler: sections 1-3 (polling load, raw reads, /jsz), e.g. --seconds 5 --out /tmp/bench.md
#   push:   section 4 (push at scale: first values, idle cost counted by nats-server, publish -> true),
#           e.g. --watched 10000,1000 --wakeup-off 1000 --samples 200 --idle-seconds 45
set -euo pipefail
cd "$(dirname "$0")/.."
which=all
if [[ $# -gt 0 && "$1" != -* ]]; then
  which=$1
  shift
fi
scripts/install-deps.sh scripts/packages-build.txt scripts/packages-test.txt
scripts/build.sh build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DJSS_BUILD_TESTS=ON \
  -DJSS_BUILD_BENCH=ON -- scaler_bench push_bench jetstream-scaler
case "$which" in
  scaler) exec build/bench/scaler_bench "$@" ;;
  push) exec build/bench/push_bench "$@" ;;
  all)
    # --out FILE gets the whole report: sections 1-3 (scaler_bench), then section 4 (push_bench).
    out=""
    args=()
    while (($#)); do
      case $1 in
        --out) out=$2; shift 2 ;;
        --out=*) out=${1#--out=}; shift ;;
        *) args+=("$1"); shift ;;
      esac
    done
    if [[ -z $out ]]; then
      build/bench/scaler_bench "${args[@]}"
      build/bench/push_bench
    else
      push_out=$(mktemp)
      trap 'rm -f "$push_out"' EXIT
      build/bench/scaler_bench "${args[@]}" --out "$out"
      build/bench/push_bench --out "$push_out"
      cat "$push_out" >>"$out"
    fi
    ;;
  *) echo "usage: scripts/bench.sh [all|scaler|push] [args...]" >&2; exit 2 ;;
esac
