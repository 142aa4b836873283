#!/usr/bin/env bash
# Bounded soak: mixed load against a real nats-server with NATS restarts, and the
# scaler's RSS sampled throughout. Not part of CI (it takes SOAK_SECONDS).
#
#   scripts/soak.sh [BUILD_DIR]      (default build; needs jetstream-scaler, jss-jsadmin,
#                                     jss-keda-query built there, nats-server on PATH)
#
# Load, all at once for SOAK_SECONDS (default 600):
#   - KEDA-like polls (GetMetricSpec, GetMetrics, IsActive) of 20 real consumers;
#   - a tenant reading consumers that do not exist, a new name every call;
#   - a tenant sending oversized metadata values;
#   - publishes, so lag changes;
#   - nats-server killed (SIGKILL) and restarted on the same port every RESTART_EVERY s.
# Passes when the RSS at the end is within 10% of the RSS after the warm-up
# (the highest sample of minute 2), and the scaler answered real reads again after
# the last restart. Samples go to $OUT/rss.csv.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
seconds=${SOAK_SECONDS:-600}
restart_every=${RESTART_EVERY:-60}
scaler=$build/scaler/main/jetstream-scaler
jsadmin=$build/scaler/tools/jss-jsadmin
query=$build/scaler/tools/jss-keda-query
for bin in "$scaler" "$jsadmin" "$query"; do
  [[ -x $bin ]] || { echo "soak: $bin not built" >&2; exit 2; }
done
command -v nats-server >/dev/null || { echo "soak: nats-server not on PATH" >&2; exit 2; }

OUT=${OUT:-$(mktemp -d /tmp/jss-soak-XXXXXX)}
mkdir -p "$OUT"  # a given OUT may not exist yet
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  [[ -n ${nats_pid:-} ]] && kill "$nats_pid" 2>/dev/null || true
  [[ -n ${scaler_pid:-} ]] && kill "$scaler_pid" 2>/dev/null || true
  wait 2>/dev/null || true
}
trap cleanup EXIT

free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
nats_port=$(free_port)
grpc_port=$(free_port)
metrics_port=$(free_port)
url=nats://127.0.0.1:$nats_port

start_nats() {
  nats-server -a 127.0.0.1 -p "$nats_port" -js -sd "$OUT/js" >>"$OUT/nats.log" 2>&1 &
  nats_pid=$!
  for _ in $(seq 100); do
    /usr/bin/python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1)' \
      "$nats_port" 2>/dev/null && return 0
    sleep 0.1
  done
}

start_nats
sleep 1
"$jsadmin" "$url" add-stream SOAK 'soak.>' >/dev/null
for i in $(seq 0 19); do "$jsadmin" "$url" add-consumer SOAK "c$i" >/dev/null; done

"$scaler" --grpc-address "127.0.0.1:$grpc_port" --metrics-address "127.0.0.1:$metrics_port" \
  --nats-url "$url" --log-level warn >"$OUT/scaler.log" 2>&1 &
scaler_pid=$!
sleep 1

end=$((SECONDS + seconds))
# KEDA-like polls of real consumers.
for lane in 1 2 3 4; do
  (while ((SECONDS < end)); do
     "$query" "127.0.0.1:$grpc_port" stream=SOAK "consumer=c$((RANDOM % 20))" >/dev/null 2>&1 || true
   done) &
  pids+=($!)
done
# A tenant probing names that do not exist (each one new).
(n=0; while ((SECONDS < end)); do
   n=$((n + 1))
   "$query" "127.0.0.1:$grpc_port" stream=SOAK "consumer=ghost-$n-$RANDOM" >/dev/null 2>&1 || true
 done) &
pids+=($!)
# A tenant sending oversized values.
big=$(head -c 60000 /dev/zero | tr '\0' x)
(while ((SECONDS < end)); do
   "$query" "127.0.0.1:$grpc_port" stream=SOAK consumer=c1 "lagThreshold=$big" >/dev/null 2>&1 || true
   sleep 0.2
 done) &
pids+=($!)
# Publishes.
(while ((SECONDS < end)); do "$jsadmin" "$url" publish soak.x 50 >/dev/null 2>&1 || true; sleep 1; done) &
pids+=($!)

echo "seconds,rss_kib,restarts" >"$OUT/rss.csv"
restarts=0
next_restart=$((SECONDS + restart_every))
while ((SECONDS < end)); do
  rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$scaler_pid/status")
  echo "$((SECONDS)),$rss,$restarts" >>"$OUT/rss.csv"
  if ((SECONDS >= next_restart)); then
    kill -9 "$nats_pid"; wait "$nats_pid" 2>/dev/null || true
    start_nats
    restarts=$((restarts + 1))
    next_restart=$((SECONDS + restart_every))
  fi
  sleep 10
done
for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
pids=()

# After the last restart the scaler must answer a real read again.
recovered=no
for _ in $(seq 50); do
  if "$query" "127.0.0.1:$grpc_port" stream=SOAK consumer=c0 2>/dev/null | grep -q "metricValue="; then
    recovered=yes; break
  fi
  sleep 0.2
done

/usr/bin/python3 - "$OUT/rss.csv" "$recovered" <<'EOF'
import csv, sys
rows = [(int(r["seconds"]), int(r["rss_kib"])) for r in csv.DictReader(open(sys.argv[1]))]
warm = [rss for t, rss in rows if 60 <= t < 120] or [rows[0][1]]
baseline, final, peak = max(warm), rows[-1][1], max(rss for _, rss in rows)
growth = (final - baseline) / baseline
print(f"soak: {len(rows)} samples, baseline {baseline/1024:.1f} MiB (max of minute 2), "
      f"final {final/1024:.1f} MiB, peak {peak/1024:.1f} MiB, growth {growth*100:+.1f}%, "
      f"recovered after last restart: {sys.argv[2]}")
sys.exit(0 if growth <= 0.10 and sys.argv[2] == "yes" else 1)
EOF
