#!/usr/bin/env bash
# crossplane e2e (issue 19 item 3, as far as the module proxy allows): the real crossplane CLI
# (crank, github.com/crossplane/crossplane/v2/cmd/crank, pinned by go.mod/go.sum beside this file)
# validates the platform's Crossplane manifests, the example claims, the XRs built from them and
# the rendered goldens with Crossplane's own validator (`crossplane beta validate`: XRD -> CRD
# conversion, OpenAPI schema, defaults, CEL, unknown fields) against the CRDs Crossplane and
# provider-kubernetes ship in their Go modules.
#
# NOT run here: `crossplane render` with function-patch-and-transform. Neither the function
# (github.com/crossplane-contrib/function-patch-and-transform, any version) nor
# github.com/crossplane/function-sdk-go is served by the Go module proxy, so the goldens are still
# rendered by test/platform/lib/render.py. The last check only shows that render, without the
# function, fails with an error naming its pipeline step (no hang, no output taken for a render).
#
#   test/e2e/crossplane/run.sh
#
# Network: none besides the module proxy for a cold build/download; the validator gets no
# Provider/Function package to fetch (only CRDs and XRDs as extensions) and a private cache dir.
# Ends with "crossplane e2e: N passed, M failed"; exits 1 if anything failed.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
passed=0 failed=0
work=$(mktemp -d -t jss-e2e-crossplane.XXXXXX)
trap 'rm -rf "$work"' EXIT

pass() { passed=$((passed + 1)); echo "PASS crossplane: $1"; }
fail() {
  failed=$((failed + 1))
  echo "FAIL crossplane: $1"
  [[ -n ${2:-} ]] && sed 's/^/       | /' <<<"$2" | tail -n 12
  return 0
}
finish() {
  echo "crossplane e2e: $passed passed, $failed failed"
  [[ $failed -eq 0 ]]
  exit $?
}

# provider-kubernetes: the version platform/bootstrap/provider-kubernetes/provider.yaml installs;
# only its CRDs (package/crds) are read. Its module hash is pinned here (go.sum-style), since it
# is data for the validator, not a program to build.
PK_MODULE=github.com/crossplane-contrib/provider-kubernetes
PK_VERSION=v1.2.1
PK_SUM=h1:f9kHENnT2uhCbQl4Y0YzqPJX0ap9++9k5E1LMNp3Y6g=
# Crossplane core as platform/bootstrap/components/00-crossplane.yaml installs it: its CRDs
# (cluster/crds) are what the platform's API server serves. The CLI is older (v2.2.0, go.mod):
# in v2.3.4 crank is no longer in the core module (it moved to github.com/crossplane/cli, not served).
XP_CORE_MODULE=github.com/crossplane/crossplane/v2
XP_CORE_VERSION=v2.3.4
XP_CORE_SUM=h1:fqYKqtyQjMnodjyKOJUeupf8SSzjLrTWGUrS+aR2z+E=

start=$SECONDS
xp=$("$root/scripts/go-tool.sh" test/e2e/crossplane github.com/crossplane/crossplane/v2/cmd/crank crossplane) ||
  { fail "the crossplane CLI builds from test/e2e/crossplane/go.sum"; finish; }
xp_version=$(sed -n 's/^\tgithub.com\/crossplane\/crossplane\/v2 \(v[^ ]*\).*/\1/p' "$here/go.mod")
# module_dir MODULE VERSION SUM: the module's directory in Go's module cache, downloaded if
# missing; refused unless its hash is SUM.
module_dir() {
  local json
  json=$(cd "$work" && timeout 300 go mod download -json "$1@$2" 2>&1)
  python3 -c 'import json,sys; d=json.loads(sys.stdin.read()); print(d["Dir"] if d.get("Sum")==sys.argv[1] else "")' \
    "$3" <<<"$json" 2>/dev/null
}
xp_dir=$(module_dir "$XP_CORE_MODULE" "$XP_CORE_VERSION" "$XP_CORE_SUM")
[[ -n $xp_dir && -d $xp_dir/cluster/crds ]] ||
  { fail "$XP_CORE_MODULE@$XP_CORE_VERSION downloads with the pinned hash"; finish; }
pk_dir=$(module_dir "$PK_MODULE" "$PK_VERSION" "$PK_SUM")
[[ -n $pk_dir && -d $pk_dir/package/crds ]] ||
  { fail "$PK_MODULE@$PK_VERSION downloads with the pinned hash"; finish; }
echo "versions: crossplane CLI (crank) $xp_version; Crossplane $XP_CORE_VERSION CRDs (cluster/crds);" \
  "provider-kubernetes $PK_VERSION CRDs (package/crds)"

# The validator takes Crossplane's own CRDs (Composition, XRD, Function, ...) from the Crossplane
# image named by --crossplane-image, kept in its schema cache as <cache>/<image with @ for :>/.
# The image cannot be fetched here; its CRDs are the core module's cluster/crds at the same
# version, so the cache entry is filled from there and the validator finds it and fetches nothing.
xp_image=xpkg.crossplane.io/crossplane/crossplane:$XP_CORE_VERSION
mkdir -p "$work/cache/${xp_image//:/@}"
cp "$xp_dir"/cluster/crds/*.yaml "$work/cache/${xp_image//:/@}/"

# validate NAME EXPECT_FAILURES EXTENSIONS RESOURCES: runs the real validator; the summary line
# must show no missing schema and exactly EXPECT_FAILURES failures (0: all valid), and nothing
# may have been downloaded.
validate() {
  local name=$1 want=$2 out rc
  out=$(timeout 300 "$xp" beta validate --cache-dir "$work/cache" --crossplane-image "$xp_image" \
    --error-on-missing-schemas "$3" "$4" 2>&1)
  rc=$?
  local summary
  summary=$(grep -E '^Total [0-9]+ resources: ' <<<"$out" | tail -1)
  if grep -q 'downloading' <<<"$out"; then
    fail "$name (the validator tried to download a package)" "$out"
  elif [[ $want == 0 && $rc == 0 && $summary =~ ": 0 missing schemas, "[1-9][0-9]*" success cases, 0 failure cases" ]]; then
    pass "$name ($summary)"
  elif [[ $want != 0 && $rc != 0 && $summary =~ ": 0 missing schemas, "[0-9]+" success cases, $want failure cases" ]]; then
    pass "$name ($(grep -m1 '^\[x\]' <<<"$out" | cut -c1-160))"
  else
    fail "$name (exit $rc)" "$out"
  fi
}

pk_crds=$pk_dir/package/crds
xrd=$root/platform/04-apis/definitions/xagentexecutors.yaml
composition=$root/platform/04-apis/compositions/agent-executor-composition.yaml
examples=$root/platform/04-apis/examples

# 1. The platform's Crossplane objects against Crossplane's and provider-kubernetes' own CRDs.
platform_objects=$xrd,$composition,$root/platform/04-apis/functions
platform_objects+=,$root/platform/bootstrap/provider-kubernetes/provider.yaml,$root/platform/bootstrap/provider-kubernetes/providerconfig.yaml
# The Composition's pipeline input (pt.fn.crossplane.io Resources) has its CRD in the function's
# package, which is not served; test/platform/schemas/ keeps that CRD's schema (PROVENANCE.md).
pt_input=$root/test/platform/schemas/function-patch-and-transform-resources.yaml
validate "XRD, Composition (+ its function input), Function, Provider, DeploymentRuntimeConfig, ProviderConfig are valid for Crossplane $XP_CORE_VERSION / provider-kubernetes $PK_VERSION" \
  0 "$pk_crds,$pt_input" "$platform_objects"

# 2. The example claims against the claim CRD Crossplane generates from the XRD.
claims=()
for f in "$examples"/claim-*.yaml "$examples"/test-claim.yaml; do claims+=("$f"); done
validate "every example claim is valid against the XRD (Crossplane's claim CRD)" 0 "$xrd" "$(IFS=,; echo "${claims[*]}")"

# 3. The XR of each claim, built the way render.py says Crossplane's claim controller does
# (claim spec with defaults, spec.claimRef), against the XR CRD Crossplane generates.
if python3 - "$root" "$work/xrs" <<'EOF'
import os, sys
sys.path.insert(0, os.path.join(sys.argv[1], "test/platform/lib"))
import yaml
import render
os.makedirs(sys.argv[2])
xrd = yaml.safe_load(open(os.path.join(sys.argv[1], "platform/04-apis/definitions/xagentexecutors.yaml")))
schema = xrd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
for name in sorted(os.listdir(os.path.join(sys.argv[1], "platform/04-apis/examples"))):
    if not (name.startswith("claim-") or name == "test-claim.yaml"):
        continue
    claim = yaml.safe_load(open(os.path.join(sys.argv[1], "platform/04-apis/examples", name)))
    xr = render.claim_to_xr(claim, schema, xrd["spec"]["names"]["kind"])
    with open(os.path.join(sys.argv[2], name), "w") as f:
        yaml.safe_dump(xr, f)
EOF
then
  validate "the XR of every example claim (spec.claimRef, LegacyCluster) is valid against the XR CRD" 0 "$xrd" "$work/xrs"
else
  fail "the XRs of the example claims are built by render.py's claim_to_xr"
fi

# 4. The goldens (provider-kubernetes Objects) against provider-kubernetes' Object CRD.
# (Each golden opens with a comment-only document, which the validator would count as an object
# without a kind: only the objects are handed over.)
goldens=$work/goldens
python3 - "$root/test/platform/golden" "$goldens" <<'EOF'
import os, sys, yaml
os.makedirs(sys.argv[2])
for name in sorted(os.listdir(sys.argv[1])):
    docs = [d for d in yaml.safe_load_all(open(os.path.join(sys.argv[1], name))) if d]
    with open(os.path.join(sys.argv[2], name), "w") as f:
        yaml.safe_dump_all(docs, f)
EOF
validate "every golden (rendered provider-kubernetes Objects) is valid against provider-kubernetes $PK_VERSION" \
  0 "$pk_crds" "$goldens"

# 5. The validator can fail: a claim with a size outside the XRD's enum, one with a field the XRD
# lacks, one that breaks a CEL rule of the XRD, and an XR whose spec.claimRef has no namespace
# (Crossplane's XR schema requires it).
python3 - "$examples/test-claim.yaml" "$work/bad" "$work/xrs/test-claim.yaml" <<'EOF'
import os, sys, yaml
os.makedirs(sys.argv[2])
xr = yaml.safe_load(open(sys.argv[3]))
del xr["spec"]["claimRef"]["namespace"]
yaml.safe_dump(xr, open(os.path.join(sys.argv[2], "bad-claimref.yaml"), "w"))
claim = yaml.safe_load(open(sys.argv[1]))
claim["spec"]["size"] = "huge"
yaml.safe_dump(claim, open(os.path.join(sys.argv[2], "bad-size.yaml"), "w"))
claim = yaml.safe_load(open(sys.argv[1]))
claim["spec"]["lagThresold"] = "5"
yaml.safe_dump(claim, open(os.path.join(sys.argv[2], "bad-field.yaml"), "w"))
claim = yaml.safe_load(open(sys.argv[1]))
claim["spec"]["activationAgeSeconds"] = 10  # without scaleOnAgeSeconds: the XRD's CEL rule
yaml.safe_dump(claim, open(os.path.join(sys.argv[2], "bad-activation-age.yaml"), "w"))
EOF
validate "negative: a claim with size 'huge', one with a misspelt field, one with activationAgeSeconds but no scaleOnAgeSeconds (CEL) and an XR without claimRef.namespace are all refused" \
  4 "$xrd" "$work/bad"

# 6. render without the function: fails naming it, within the deadline.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
python3 - "$root/platform/04-apis/functions/function-patch-and-transform.yaml" "$work/fn.yaml" "$port" <<'EOF'
import sys, yaml
fn = yaml.safe_load(open(sys.argv[1]))
ann = fn.setdefault("metadata", {}).setdefault("annotations", {})
ann["render.crossplane.io/runtime"] = "Development"
ann["render.crossplane.io/runtime-development-target"] = f"127.0.0.1:{sys.argv[3]}"
yaml.safe_dump(fn, open(sys.argv[2], "w"))
EOF
out=$(timeout 120 "$xp" render --timeout=10s "$work/xrs/test-claim.yaml" "$composition" "$work/fn.yaml" 2>&1)
rc=$?
if [[ $rc != 0 && $rc != 124 ]] && grep -q 'cannot run pipeline step "patch-and-transform"' <<<"$out" &&
  grep -q "127.0.0.1:$port" <<<"$out"; then
  pass "crossplane render without the function (not served) fails naming its pipeline step and address"
else
  fail "crossplane render without the function fails naming it (exit $rc)" "$out"
fi
echo "crossplane e2e ran in $((SECONDS - start)) s"
finish
