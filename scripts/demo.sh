#!/usr/bin/env bash
# The embedded default: installs what is missing, builds, then runs a local
# nats-server with JetStream, a demo stream + consumer with some work in it,
# the scaler, and asks it what KEDA asks on every poll.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

scripts/install-deps.sh scripts/packages-build.txt <(echo nats-server; echo curl)
scripts/build.sh build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DJSS_BUILD_TESTS=OFF -DJSS_BUILD_BENCH=OFF \
  -- jetstream-scaler jss-jsadmin jss-keda-query

bin=$root/build/scaler
work=$(mktemp -d /tmp/jetstream-scaler-demo.XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# Waits (bounded) until a file exists and contains a pattern.
await() {
  local file=$1 pattern=$2
  for _ in $(seq 200); do
    grep -qs "$pattern" "$file" && return 0
    sleep 0.05
  done
  echo "demo: timed out waiting for '$pattern' in $file" >&2
  cat "$file" >&2 || true
  exit 1
}

echo "== starting nats-server with JetStream (loopback, free port)"
nats-server -a 127.0.0.1 -p -1 -js -sd "$work/store" --ports_file_dir "$work" >"$work/nats.log" 2>&1 &
pids+=($!)
await "$work/nats-server_${pids[0]}.ports" "nats://"
url=$(grep -o 'nats://127.0.0.1:[0-9]*' "$work/nats-server_${pids[0]}.ports" | head -1)
echo "   $url"

echo "== demo stream DEMO (subjects demo.>) with durable consumer 'workers'"
"$bin/tools/jss-jsadmin" "$url" add-stream DEMO 'demo.>'
"$bin/tools/jss-jsadmin" "$url" add-consumer DEMO workers
"$bin/tools/jss-jsadmin" "$url" publish demo.jobs 25
"$bin/tools/jss-jsadmin" "$url" fetch DEMO workers 5 noack
"$bin/tools/jss-jsadmin" "$url" info DEMO workers

echo "== starting jetstream-scaler"
"$bin/main/jetstream-scaler" --nats-url "$url" --grpc-address 127.0.0.1:0 \
  --metrics-address 127.0.0.1:0 >"$work/scaler.log" 2>&1 &
pids+=($!)
await "$work/scaler.log" "jetstream-scaler started"
grpc_port=$(grep -o 'grpc_port=[0-9]*' "$work/scaler.log" | cut -d= -f2)
metrics_port=$(grep -o 'metrics_port=[0-9]*' "$work/scaler.log" | cut -d= -f2)
cat "$work/scaler.log"

echo
echo "== what KEDA asks each poll (trigger metadata: stream=DEMO consumer=workers lagThreshold=5)"
"$bin/tools/jss-keda-query" "127.0.0.1:$grpc_port" stream=DEMO consumer=workers lagThreshold=5
echo "   lag = 20 pending + 5 delivered-but-unacked = 25; HPA target 5 per replica -> 5 replicas"

echo
echo "== a trigger that names a consumer that does not exist gets a typed error, never 0"
"$bin/tools/jss-keda-query" "127.0.0.1:$grpc_port" stream=DEMO consumer=typo || true

echo
echo "== /readyz and a few metrics (http://127.0.0.1:$metrics_port)"
curl -s "http://127.0.0.1:$metrics_port/readyz"
curl -s "http://127.0.0.1:$metrics_port/metrics" | grep -E '^jetstream_scaler_(consumer_lag|grpc_requests_total|nats_requests_total)' || true
echo
echo "demo: done (everything it started is stopped on exit)"
