#!/usr/bin/env bash
# Offline checks of the platform layer: platform/ (Argo CD Applications, the AgentExecutor XRD,
# Composition, Function, examples) and the manifests in the platform docs. No cluster needed.
#
#   JETSTREAM_SCALER_BIN=build/scaler/main/jetstream-scaler test/platform/check.sh
#
# 1. yamllint on platform/ (config: test/platform/yamllint.yaml);
# 2. lib/platform_check.py: every manifest against the schema of its kind (Crossplane, provider-
#    kubernetes, function-patch-and-transform and KEDA CRDs in schemas/; Kubernetes core kinds,
#    Argo CD Application and KEDA ScaledObject with the kubernetes-models npm packages, strictly),
#    the Composition patch by patch against the XRD and the target kinds, the ScaledObject's
#    trigger metadata against the scaler's own key list (--print-metadata-keys), chart values,
#    wiring between the files, examples and the plan's numbers; lib/hazard_checks.py: repository
#    URL, sync waves, delete protection, scaler image and NetworkPolicy, provider-kubernetes
#    (pinned, SSA, RBAC = the composed kinds), tracking label, restricted pods, readiness, NATS
#    users; lib/render.py: each example claim rendered through the Composition (function-patch-
#    and-transform v0.10.8 semantics) equals its golden in golden/ and passes the schemas
#    (regenerate: /usr/bin/python3 test/platform/lib/render.py --write); lib/render_cases.py:
#    render.py against upstream test-table cases (fieldpath, transforms, RunFunction);
#    lib/nats_users_check.py: a real nats-server with 01-nats.yaml's users (tenants without
#    credentials keep JetStream, the scaler's user only reads info);
# 3. lib/negative_tests.py: broken copies of the tree that the checker must reject.
#
# Installs what it needs when missing (Debian packages as root; npm packages pinned by
# package-lock.json into a cache outside the repository: $JSS_PLATFORM_CACHE, default
# ~/.cache/jetstream-scaler/platform-check). Ends with "platform checks: N passed, M failed" and
# exits non-zero if anything failed.
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
here=$root/test/platform
cd "$root" || exit 1
python=/usr/bin/python3  # Debian's python with python3-yaml and python3-jsonschema
export PYTHONDONTWRITEBYTECODE=1  # no __pycache__ in the work tree

passed=0
failed=0
pass() { passed=$((passed + 1)); echo "PASS $*"; }
fail() { failed=$((failed + 1)); echo "FAIL $*"; }
finish() {
  echo "platform checks: $passed passed, $failed failed"
  ((failed == 0))
  exit
}

# Runs one checker, prints its output and adds its PASS/FAIL lines to the totals. A checker that
# exits non-zero without a FAIL line (a crash) counts as one failure.
run_checker() {
  local label=$1 out status fails
  shift
  out=$("$@" 2>&1)
  status=$?
  echo "$out"
  fails=$(grep -c '^FAIL ' <<<"$out")
  passed=$((passed + $(grep -c '^PASS ' <<<"$out")))
  failed=$((failed + fails))
  if ((status != 0 && fails == 0)); then
    fail "$label exited with status $status"
  fi
}

# --- tools ---------------------------------------------------------------------------------
missing=()
$python -c 'import yaml' 2>/dev/null || missing+=(python3-yaml)
$python -c 'import jsonschema' 2>/dev/null || missing+=(python3-jsonschema)
command -v yamllint >/dev/null || missing+=(yamllint)
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
command -v nats-server >/dev/null || missing+=(nats-server)
if ((${#missing[@]} > 0)); then
  echo "installing: ${missing[*]}"
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"; } \
      >/tmp/platform-check-apt.log 2>&1 || { tail -20 /tmp/platform-check-apt.log; }
  fi
fi
tools_ok=1
for probe in "$python -c 'import yaml, jsonschema'" "command -v yamllint" "command -v node" "command -v npm" \
  "command -v nats-server"; do
  if ! eval "$probe" >/dev/null 2>&1; then
    fail "tools: '$probe' failed (need python3-yaml python3-jsonschema yamllint nodejs npm nats-server)"
    tools_ok=0
  fi
done
((tools_ok)) || finish
node_major=$(node -p 'process.versions.node.split(".")[0]')
if ((node_major < 14)); then
  fail "tools: Node.js $node_major is too old (need 14+; Debian bookworm has 18)"
  finish
fi

# --- npm packages (pinned), cached outside the repository -----------------------------------
cache_root=${JSS_PLATFORM_CACHE:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/jetstream-scaler/platform-check}
lock_hash=$(cat "$here/package.json" "$here/package-lock.json" | sha256sum | cut -c1-16)
npm_dir=$cache_root/npm-$lock_hash
if [[ ! -f $npm_dir/.complete ]]; then
  mkdir -p "$cache_root"
  staging=$(mktemp -d "$cache_root/staging.XXXXXX")
  cp "$here/package.json" "$here/package-lock.json" "$staging/"
  if (cd "$staging" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error) >"$staging/npm.log" 2>&1; then
    touch "$staging/.complete"
    rm -rf "$npm_dir"
    mv "$staging" "$npm_dir"
  else
    tail -20 "$staging/npm.log"
    fail "npm ci of test/platform/package-lock.json (registry reachable?)"
    rm -rf "$staging"
    finish
  fi
fi
node_modules=$npm_dir/node_modules

# --- the scaler's metadata keys --------------------------------------------------------------
keys_file=$(mktemp)
trap 'rm -f "$keys_file"' EXIT
scaler_bin=${JETSTREAM_SCALER_BIN:-}
if [[ -z $scaler_bin && -x build/scaler/main/jetstream-scaler ]]; then
  scaler_bin=build/scaler/main/jetstream-scaler  # scripts/test.sh's build directory
fi
if [[ -z $scaler_bin || ! -x $scaler_bin ]]; then
  fail "scaler metadata keys: no jetstream-scaler binary (set JETSTREAM_SCALER_BIN); trigger keys checked against nothing"
elif ! "$scaler_bin" --print-metadata-keys >"$keys_file" 2>/dev/null || ! grep -qx stream "$keys_file"; then
  fail "scaler metadata keys: '$scaler_bin --print-metadata-keys' failed or printed no 'stream'"
  : >"$keys_file"
else
  pass "scaler metadata keys: $(wc -l <"$keys_file") keys from $scaler_bin --print-metadata-keys ($(paste -sd, "$keys_file"))"
fi

# --- 1. yamllint ---------------------------------------------------------------------------------
if lint=$(yamllint -f parsable -c "$here/yamllint.yaml" platform/ 2>&1); then
  pass "yamllint platform/ ($(find platform -name '*.yaml' | wc -l) files)"
else
  fail "yamllint platform/"
  while IFS= read -r line; do echo "       $line"; done <<<"$lint"
fi
# A duplicated key is the YAML mistake that parsers hide (the last one silently wins).
dup_dir=$(mktemp -d)
sed '0,/^  mode: Pipeline$/s//  mode: Pipeline\n  mode: Pipeline/' \
  platform/04-apis/compositions/agent-executor-composition.yaml >"$dup_dir/composition.yaml"
dup_lint=$(yamllint -f parsable -c "$here/yamllint.yaml" "$dup_dir/composition.yaml" 2>&1)
if grep -q 'key-duplicates' <<<"$dup_lint"; then
  pass "negative: yamllint rejects a duplicated key in the composition"
else
  fail "negative: yamllint did not report a duplicated key"
fi
rm -rf "$dup_dir"

# --- 2. schemas, composition, wiring, examples, docs ------------------------------------------------
run_checker platform_check.py $python "$here/lib/platform_check.py" --root "$root" \
  --scaler-keys "$keys_file" --node-modules "$node_modules"

# --- 2b. the renderer agrees with the upstream test cases of what it reproduces -------------------
run_checker render_cases.py $python "$here/lib/render_cases.py"

# --- 2c. the NATS users of 01-nats.yaml on a real nats-server ----------------------------------
run_checker nats_users_check.py $python "$here/lib/nats_users_check.py" --root "$root"

# --- 3. the checker rejects broken trees ---------------------------------------------------------
run_checker negative_tests.py $python "$here/lib/negative_tests.py" --root "$root" \
  --scaler-keys "$keys_file" --node-modules "$node_modules"

finish
