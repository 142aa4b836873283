#!/usr/bin/env bash
# natscli e2e (issue 19 item 4): the real nats CLI (natscli, pinned by go.mod/go.sum beside this
# file) runs the platform plan's commands against nats-server 2.10.5 (the NATS chart 1.1.5
# default) configured with the nats.conf that test/platform/lib/nats_chart_conf.py derives from
# platform/bootstrap/components/01-nats.yaml following the chart's templates (derived, NOT
# rendered by helm: the chart is not served by any registry these machines reach). Then the
# scaler built from this repository logs in as the platform's jetstream-scaler user and
# jss-keda-query asks it for the lag the way KEDA does.
#
#   test/e2e/natscli/run.sh            # builds what is missing, prints PASS/FAIL lines
#
# Everything listens on 127.0.0.1 with free ports; everything started is stopped on exit. The
# scaler and jss-keda-query come from $JSS_BUILD_DIR (default build/, see scripts/build.sh).
# Ends with "natscli e2e: N passed, M failed"; exits 1 if anything failed.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
build=${JSS_BUILD_DIR:-$root/build}
passed=0 failed=0
pids=()
work=$(mktemp -d -t jss-e2e-natscli.XXXXXX)
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
  rm -rf "$work"
}
trap cleanup EXIT

pass() { passed=$((passed + 1)); echo "PASS natscli: $1"; }
fail() {
  failed=$((failed + 1))
  echo "FAIL natscli: $1"
  [[ -n ${2:-} ]] && sed 's/^/       | /' <<<"$2" | tail -n 8
  return 0
}
# check NAME OUTPUT COMMAND...: PASS when COMMAND (a test on OUTPUT) succeeds.
check() {
  local name=$1 out=$2
  shift 2
  if "$@"; then pass "$name"; else fail "$name" "$out"; fi
}
finish() {
  echo "natscli e2e: $passed passed, $failed failed"
  [[ $failed -eq 0 ]]
  exit $?
}
# Waits (bounded: 600 x 50 ms) until FILE holds PATTERN.
await() {
  local file=$1 pattern=$2
  for _ in $(seq 600); do
    grep -q -- "$pattern" "$file" 2>/dev/null && return 0
    sleep 0.05
  done
  return 1
}

start=$SECONDS
nats_server=$("$root/scripts/nats-server.sh" v2.10.5) || { fail "nats-server v2.10.5 is available"; finish; }
nats=$("$root/scripts/go-tool.sh" test/e2e/natscli github.com/nats-io/natscli/nats nats) ||
  { fail "the nats CLI builds from test/e2e/natscli/go.sum"; finish; }
scaler=$build/scaler/main/jetstream-scaler
query=$build/scaler/tools/jss-keda-query
for b in "$scaler" "$query"; do
  [[ -x $b ]] || { fail "$(basename "$b") is built (scripts/build.sh build -- jetstream-scaler jss-keda-query)"; finish; }
done
natscli_version=$(sed -n 's/^\tgithub.com\/nats-io\/natscli \(v[^ ]*\).*/\1/p' "$here/go.mod")
echo "versions: nats-server $("$nats_server" --version | awk '{print $2}'), nats CLI $("$nats" --version 2>&1)" \
  "(module $natscli_version), jetstream-scaler $("$scaler" --version 2>&1 | head -1)"

# The server, with the platform's users; passwords as the runbook makes them ("p" + hex: a value
# that starts like a number stops nats-server), handed over through the environment as the
# chart's Secret does.
scaler_pw=p$(openssl rand -hex 16)
tenant_pw=p$(openssl rand -hex 16)
python3 "$root/test/platform/lib/nats_chart_conf.py" --root "$root" --out "$work/nats.conf" \
  --store-dir "$work/js" --pid-file "$work/nats.pid" || { fail "nats.conf derived from 01-nats.yaml"; finish; }
mkdir "$work/ports"
POD_NAME=nats-0 JETSTREAM_SCALER_PASSWORD=$scaler_pw TENANT_PASSWORD=$tenant_pw \
  "$nats_server" -c "$work/nats.conf" -a 127.0.0.1 -p -1 -m -1 --ports_file_dir "$work/ports" \
  >"$work/nats.log" 2>&1 &
pids+=($!)
if ! await "$work/nats.log" "Server is ready" || ! await "$work/ports/nats-server_${pids[0]}.ports" monitoring; then
  fail "nats-server 2.10.5 starts with the derived nats.conf" "$(cat "$work/nats.log")"
  finish
fi
pass "nats-server 2.10.5 starts with the derived nats.conf (chart 1.1.5 structure, 01-nats.yaml values)"
ports=$work/ports/nats-server_${pids[0]}.ports
url=$(grep -o 'nats://127.0.0.1:[0-9]*' "$ports" | head -1)
monitor=$(grep -o 'http://127.0.0.1:[0-9]*' "$ports" | head -1)

# The CLI reads no context of the machine's user; no terminal (like kubectl exec without -t, and
# the example Jobs); every request bounded. The scaler's user waits less: its refused requests
# end only by that timeout (the server answers a permission violation asynchronously).
export XDG_CONFIG_HOME=$work/xdg NATS_URL=$url
unset NATS_CONTEXT NATS_USER NATS_PASSWORD NATS_CREDS NATS_NKEY
tenant() { timeout 60 "$nats" --timeout=10s "$@" </dev/null 2>&1; }
as_scaler() { NATS_USER=jetstream-scaler NATS_PASSWORD=$scaler_pw timeout 60 "$nats" --timeout=4s "$@" </dev/null 2>&1; }
has() { grep -q -- "$2" <<<"$1"; }
hasnt() { ! grep -q -- "$2" <<<"$1"; }
json_field() { python3 -c 'import json,sys; d=json.load(sys.stdin)
for k in sys.argv[1].split("."): d=d[k]
print(d)' "$1" 2>/dev/null; }

# --- JetStream limits: the chart's 2Gi memory / 10Gi file store -------------------------------
jsz=$(curl -s --max-time 5 "$monitor/jsz")
check "/jsz reports max_memory 2147483648 (memoryStore.maxSize 2Gi)" "$jsz" \
  test "$(json_field config.max_memory <<<"$jsz")" = 2147483648
check "/jsz reports max_storage 10737418240 (fileStore.pvc.size 10Gi, the chart's maxSize fallback)" "$jsz" \
  test "$(json_field config.max_storage <<<"$jsz")" = 10737418240
# nats account info / $JS.API.INFO show the account's own limits: this configuration sets none,
# so the account may use up to the server's limits, which the server enforces exactly:
info=$(tenant account info)
check "nats account info (no credentials) is the tenant user, server 2.10.5, JetStream unlimited per account" "$info" \
  bash -c 'grep -q "User: tenant" <<<"$1" && grep -q "Server Version: 2.10.5" <<<"$1" && grep -q "Memory: 0 B of Unlimited" <<<"$1"' _ "$info"
jsinfo=$(tenant request '$JS.API.INFO' '' --raw)
check "\$JS.API.INFO answers the tenant (max_memory -1: no account limit)" "$jsinfo" \
  test "$(json_field limits.max_memory <<<"$jsinfo")" = -1
limit_stream() { # STORAGE MAX_BYTES: nats stream add --config with a stream reserving MAX_BYTES
  printf '{"name":"LIMIT_CHECK","subjects":["limitcheck.x"],"storage":"%s","max_bytes":%s,"retention":"limits",
"discard":"old","num_replicas":1,"max_msgs":-1,"max_age":0,"max_consumers":-1,"max_msgs_per_subject":-1,
"max_msg_size":-1,"duplicate_window":0}' "$1" "$2" >"$work/limit.json"
  tenant stream add --config "$work/limit.json"
  tenant stream rm LIMIT_CHECK -f >/dev/null
}
out=$(limit_stream memory 2147483648)
check "a memory stream reserving exactly 2Gi is accepted" "$out" has "$out" "Maximum Bytes: 2.0 GiB"
out=$(limit_stream memory 2147483649)
check "a memory stream reserving 2Gi + 1 byte is refused (insufficient memory resources, 10028)" "$out" \
  has "$out" "insufficient memory resources available (10028)"
out=$(limit_stream file 10737418240)
check "a file stream reserving exactly 10Gi is accepted" "$out" has "$out" "Maximum Bytes: 10 GiB"
out=$(limit_stream file 10737418241)
check "a file stream reserving 10Gi + 1 byte is refused (insufficient storage resources, 10047)" "$out" \
  has "$out" "insufficient storage resources available (10047)"
# The plan's 1.4 command needs a system-account user, which this configuration does not define.
out=$(tenant server info)
check "plan 1.4 'nats server info' is refused without system privileges (the runbook reads /jsz instead)" "$out" \
  has "$out" "ensure the account used has system privileges"

# --- Plan checkpoint 1.5 ------------------------------------------------------------------------
plan_15=(stream add TEST_STREAM --subjects "test.*" --retention limits --max-msgs=-1 --max-age=1h --storage file --replicas 1)
out=$(tenant "${plan_15[@]}")
check "plan 1.5 'nats stream add' as written needs a terminal (it prompts; the runbook adds --defaults)" "$out" \
  has "$out" "cannot prompt for user input without a terminal"
out=$(tenant "${plan_15[@]}" --defaults)
check "plan 1.5 'nats stream add TEST_STREAM ... --defaults' creates it (file, limits, 1h, 1 replica)" "$out" \
  bash -c 'grep -q "Stream TEST_STREAM was created" <<<"$1" && grep -q "Subjects: test.\*" <<<"$1" && grep -q "Maximum Age: 1h0m0s" <<<"$1" && grep -q "Storage: File" <<<"$1"' _ "$out"
out=$(tenant stream list --names)
check "plan 1.5 'nats stream list' lists TEST_STREAM" "$out" grep -qx TEST_STREAM <<<"$out"
out=$(tenant stream rm TEST_STREAM -f)
after=$(tenant stream list --names)
check "plan 1.5 'nats stream rm TEST_STREAM -f' removes it" "$out$after" hasnt "$after" TEST_STREAM

# --- Plan checkpoint 3.6, with the example Jobs' own command lines ------------------------------
# platform/04-apis/examples/nats-{stream,consumer}-job.yaml run `nats --server=... stream add ...`;
# their argument lists are read from the manifests (the server URL pointed at this server).
job_args() {
  python3 - "$1" "$url" <<'EOF'
import sys, yaml
doc = yaml.safe_load(open(sys.argv[1], encoding="utf-8"))
cmd = doc["spec"]["template"]["spec"]["containers"][0]["command"]
assert cmd[0] == "nats", cmd
for a in cmd[1:]:
    print("--server=" + sys.argv[2] if a.startswith("--server=") else a)
EOF
}
mapfile -t stream_job < <(job_args "$root/platform/04-apis/examples/nats-stream-job.yaml")
mapfile -t consumer_job < <(job_args "$root/platform/04-apis/examples/nats-consumer-job.yaml")
out=$(tenant "${stream_job[@]}")
check "3.6 the stream Job's command creates TEST_AGENT_STREAM (test.agent.*, file, 1 day)" "$out" \
  bash -c 'grep -q "Stream TEST_AGENT_STREAM was created" <<<"$1" && grep -q "Subjects: test.agent.\*" <<<"$1" && grep -q "Maximum Age: 1d0h0m0s" <<<"$1"' _ "$out"
out=$(tenant "${consumer_job[@]}")
check "3.6 the consumer Job's command creates the pull consumer test-agent-workers (deliver all, explicit ack)" "$out" \
  bash -c 'grep -q " Name: test-agent-workers" <<<"$1" && grep -q "Pull Mode: true" <<<"$1" && grep -q "Ack Policy: Explicit" <<<"$1" && grep -q "Deliver Policy: All" <<<"$1"' _ "$out"
out=$(tenant stream info TEST_AGENT_STREAM --json)
check "3.6 'nats stream info TEST_AGENT_STREAM' shows the stream" "$out" \
  test "$(json_field config.name <<<"$out")" = TEST_AGENT_STREAM
out=$(tenant consumer info TEST_AGENT_STREAM test-agent-workers --json)
check "3.6 'nats consumer info TEST_AGENT_STREAM test-agent-workers' shows the consumer" "$out" \
  test "$(json_field config.durable_name <<<"$out")" = test-agent-workers

# --- The scaler's user: least privilege, seen through the real CLI ------------------------------
out=$(as_scaler consumer info TEST_AGENT_STREAM test-agent-workers --json)
check "jetstream-scaler reads consumer info (\$JS.API.CONSUMER.INFO)" "$out" \
  test "$(json_field config.durable_name <<<"$out")" = test-agent-workers
out=$(as_scaler stream info TEST_AGENT_STREAM --json)
check "jetstream-scaler reads stream info (\$JS.API.STREAM.INFO)" "$out" \
  test "$(json_field config.name <<<"$out")" = TEST_AGENT_STREAM
out=$(as_scaler stream add SCALER_MADE --subjects "scaler.made.x" --defaults)
check "jetstream-scaler may not add a stream (Permissions Violation on \$JS.API.STREAM.CREATE)" "$out" \
  has "$out" 'Permissions Violation for Publish to "$JS.API.STREAM.CREATE.SCALER_MADE"'
out=$(as_scaler stream rm TEST_AGENT_STREAM -f)
still=$(tenant stream info TEST_AGENT_STREAM --json)
check "jetstream-scaler may not remove a stream (refused; TEST_AGENT_STREAM still there)" "$out" \
  bash -c 'hasnt() { ! grep -q -- "$2" <<<"$1"; }; hasnt "$1" "TEST_AGENT_STREAM was removed" && test "$2" = TEST_AGENT_STREAM' _ "$out" \
  "$(json_field config.name <<<"$still")"
out=$(as_scaler stream list --names)
check "jetstream-scaler may not list streams (\$JS.API.STREAM.NAMES)" "$out" \
  has "$out" 'Permissions Violation for Publish to "$JS.API.STREAM.NAMES"'
out=$(as_scaler pub test.agent.task forged)
check "jetstream-scaler may not publish tenant data" "$out" \
  has "$out" 'Permissions Violation for Publish to "test.agent.task"'
out=$(NATS_USER=jetstream-scaler NATS_PASSWORD=wrong$RANDOM timeout 60 "$nats" --timeout=3s account info </dev/null 2>&1)
check "a wrong password is refused" "$out" has "$out" "Authorization Violation"

# --- The scaler against this server: lag after nats pub equals the count -----------------------
published=25 consumed=5
out=$(tenant pub test.agent.task --count "$published" 'task {{Count}}')
pending=$(tenant consumer info TEST_AGENT_STREAM test-agent-workers --json | json_field num_pending)
check "nats pub --count $published: the consumer has $published pending" "$out" test "$pending" = "$published"
printf '%s' "$scaler_pw" >"$work/scaler.pw"
chmod 600 "$work/scaler.pw"
# --lag-cache-ttl 0: each query reads JetStream afresh, so the value after the fetch below is the
# new lag, with no freshness window to wait out.
"$scaler" --nats-url "$url" --nats-user jetstream-scaler --nats-password-file "$work/scaler.pw" \
  --grpc-address 127.0.0.1:0 --metrics-address 127.0.0.1:0 --lag-cache-ttl 0 >"$work/scaler.log" 2>&1 &
pids+=($!)
if ! await "$work/scaler.log" "jetstream-scaler started"; then
  fail "jetstream-scaler starts as user jetstream-scaler" "$(cat "$work/scaler.log")"
  finish
fi
pass "jetstream-scaler starts and logs in as user jetstream-scaler (password from a file)"
grpc=127.0.0.1:$(grep -o 'grpc_port=[0-9]*' "$work/scaler.log" | head -1 | cut -d= -f2)
trigger=(stream=TEST_AGENT_STREAM consumer=test-agent-workers lagThreshold=5)
out=$(timeout 60 "$query" "$grpc" "${trigger[@]}" 2>&1)
check "jss-keda-query: the scaler reports lag $published (GetMetrics) and active (IsActive)" "$out" \
  bash -c 'grep -q "metricValue=$2 " <<<"$1" && grep -q "IsActive: *result=true" <<<"$1" && grep -q "targetSize=5 " <<<"$1"' _ "$out" "$published"
out=$(tenant consumer next TEST_AGENT_STREAM test-agent-workers --count "$consumed" --ack)
out=$(timeout 60 "$query" "$grpc" "${trigger[@]}" 2>&1)
check "after 'nats consumer next --count $consumed --ack' the scaler reports lag $((published - consumed))" "$out" \
  has "$out" "metricValue=$((published - consumed)) "
out=$(timeout 60 "$query" "$grpc" stream=TEST_AGENT_STREAM consumer=no-such-consumer lagThreshold=5 2>&1)
check "a missing consumer is NOT_FOUND from the scaler, never a value" "$out" \
  bash -c 'grep -q "GetMetrics: *error NOT_FOUND" <<<"$1" && ! grep -q "metricValue=" <<<"$1"' _ "$out"
if grep -q -- "$scaler_pw" "$work/scaler.log" "$work/nats.log"; then
  fail "the scaler's password appears in no log"
else
  pass "the scaler's password appears in no log"
fi
echo "natscli e2e ran in $((SECONDS - start)) s"
finish
