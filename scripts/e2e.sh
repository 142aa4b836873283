#!/usr/bin/env bash
# End to end with the real components, on loopback (issue 19: control plane, KEDA, Crossplane core):
#   etcd 3.6.5, kube-apiserver and kube-controller-manager v1.35.4 (test/e2e/kube/go.mod),
#   the KEDA operator and its metrics adapter v2.20.2 out of cluster (test/e2e/keda/go.mod; the
#   adapter registered with the aggregator: --requestheader-*/--proxy-client-* below), Crossplane
#   core v2.3.4 out of cluster (test/e2e/crossplane-core/go.mod; no function runs: none is
#   served), a nats-server release (scripts/nats-server.sh) and this repository's scaler
#   (build/scaler/main/jetstream-scaler).
# The scenarios are Go tests (test/e2e/scenarios/, client-go v0.35.5 like KEDA's):
#   scenario A  the real CRDs (KEDA, Crossplane, provider-kubernetes) and the rendered test claim's
#               objects (test/platform/golden/) accepted with server-side apply, warnings failing;
#               the platform's XRD, Composition and Function accepted;
#   KEDA        the golden ScaledObject Ready, its HPA; the metric KEDA reads equals the lag;
#               0 -> 1 -> 0; an age trigger beside the lag trigger (two HPA metrics, the age
#               grows while messages wait, 0 after the ack); external-push; a missing consumer;
#               nats-server and scaler restarts; the external metrics API through the aggregator
#               answers the lag and the real HPA scales 1 -> ceil(N/5) -> 1 on it.
#   Crossplane  core establishes the platform's XRD (the generated XR and claim CRDs), the API
#               server applies the claim CRD's CEL rules, the claim syncer's XR against
#               render.py's claim_to_xr, the XR's Synced=False naming the missing function, and
#               deleting the claim deletes the XR. Core runs in a network namespace of the test
#               with only loopback (the API server forwarded into it): its package pulls reach
#               nothing, and its [::]:8080/8081 listen only there.
# Binaries are built from the module proxy into ~/.cache/jetstream-scaler/e2e/bin (JSS_CACHE_DIR),
# rebuilt when a go.sum changes; module and build caches are Go's defaults. Everything listens on
# 127.0.0.1 or on one random 127.x.y.z address that a private /etc/hosts (a mount namespace made
# with unshare -m, so root is needed) gives the Composition's names jetstream-scaler.keda.svc and
# nats.nats.svc (KEDA's metrics adapter and Crossplane core each in a network namespace of its
# own, see test/e2e/scenarios/netns_test.go). Ends everything it started. Last line:
# "e2e: N passed, M failed".
#
#   scripts/e2e.sh                   # all scenarios
#   E2E_RUN=TestScenarioA scripts/e2e.sh   # a -test.run pattern
#   E2E_KEEP=1 scripts/e2e.sh        # keep the temp dir (logs of every process) after the run
#   JSS_SCALER_BIN=path              # scaler binary (default build/scaler/main/jetstream-scaler)
#   JSS_E2E_NATS=v2.15.3             # nats-server version for scripts/nats-server.sh
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cache=${JSS_CACHE_DIR:-$HOME/.cache/jetstream-scaler}/e2e
bin=$cache/bin
start_all=$SECONDS

fail() {
  echo "e2e: FAILED: $*" >&2
  echo "e2e: 0 passed, 1 failed"
  exit 1
}

# A missing real component is a failure, not a skip: CI must not pass without having run them.
for tool in go openssl unshare nsenter mount python3 curl; do
  command -v "$tool" >/dev/null || fail "needs '$tool' on PATH"
done
[[ $(id -u) == 0 ]] || fail "needs root: the scaler and KEDA run in a mount namespace with their own /etc/hosts (unshare -m)"

# build_bin MODULE_DIR PACKAGE NAME: go build -mod=readonly into $bin/NAME unless the go.sum it
# was built from is unchanged (its hash is kept in NAME.pin).
build_bin() {
  local dir=$root/$1 pkg=$2 name=$3 ldflags=${4:-} stamp t
  stamp=$( (cat "$dir/go.mod" "$dir/go.sum"; echo "$ldflags") | sha256sum | cut -c1-16)
  if [[ -x $bin/$name && -f $bin/$name.pin && $(cat "$bin/$name.pin") == "$stamp" ]]; then
    return 0
  fi
  mkdir -p "$bin"
  echo "e2e: building $name ($pkg, pinned by ${1}/go.sum)"
  t=$SECONDS
  if ! (cd "$dir" && GOFLAGS=-mod=readonly CGO_ENABLED=0 go build -trimpath -ldflags "$ldflags" -o "$bin/$name.tmp" "$pkg"); then
    fail "building $name from the Go module proxy (is proxy.golang.org or GOPROXY reachable?)"
  fi
  mv "$bin/$name.tmp" "$bin/$name"
  echo "$stamp" >"$bin/$name.pin"
  echo "e2e: built $name in $((SECONDS - t)) s (cold build)"
}

build_bin test/e2e/kube go.etcd.io/etcd/server/v3 etcd
# A module build carries no version stamp: without these the API server reports (to KEDA, in
# /version) "v0.0.0-master". The values are what Kubernetes' own release build sets.
kube_version=$(cd "$root/test/e2e/kube" && GOFLAGS=-mod=readonly go list -m -f '{{.Version}}' k8s.io/kubernetes) ||
  fail "reading the Kubernetes version from test/e2e/kube/go.mod"
kube_minor=${kube_version#v1.}
kube_ldflags="-X k8s.io/component-base/version.gitVersion=$kube_version -X k8s.io/component-base/version.gitMajor=1"
kube_ldflags+=" -X k8s.io/component-base/version.gitMinor=${kube_minor%%.*} -X k8s.io/component-base/version.gitTreeState=clean"
build_bin test/e2e/kube k8s.io/kubernetes/cmd/kube-apiserver kube-apiserver "$kube_ldflags"
build_bin test/e2e/kube k8s.io/kubernetes/cmd/kube-controller-manager kube-controller-manager "$kube_ldflags"
build_bin test/e2e/keda github.com/kedacore/keda/v2/cmd/operator keda-operator
build_bin test/e2e/keda github.com/kedacore/keda/v2/cmd/adapter keda-adapter
# Like Crossplane's release build (nix/build.nix): without it `crossplane --version` is empty and
# package dependency constraints on Crossplane's version cannot be checked.
# Named crossplane-core: "crossplane" in the same directory is the CLI (crank) of scripts/go-tool.sh.
xp_version=$(cd "$root/test/e2e/crossplane-core" && GOFLAGS=-mod=readonly go list -m -f '{{.Version}}' github.com/crossplane/crossplane/v2) ||
  fail "reading the Crossplane version from test/e2e/crossplane-core/go.mod"
build_bin test/e2e/crossplane-core github.com/crossplane/crossplane/v2/cmd/crossplane crossplane-core \
  "-X github.com/crossplane/crossplane-runtime/v2/pkg/version.version=$xp_version"
t=$SECONDS
(cd "$root/test/e2e/scenarios" && GOFLAGS=-mod=readonly go test -c -o "$bin/scenarios.test" .) ||
  fail "building the scenarios (test/e2e/scenarios)"
echo "e2e: scenarios built in $((SECONDS - t)) s"

scaler=${JSS_SCALER_BIN:-$root/build/scaler/main/jetstream-scaler}
[[ -x $scaler ]] || fail "no scaler binary at $scaler: build it (scripts/build.sh build ... -- jetstream-scaler) or set JSS_SCALER_BIN"
nats_server=$("$root/scripts/nats-server.sh" "${JSS_E2E_NATS:-v2.15.3}") || fail "nats-server ${JSS_E2E_NATS:-v2.15.3}"

keda_dir=$(cd "$root/test/e2e/keda" && GOFLAGS=-mod=readonly go list -m -f '{{.Dir}}' github.com/kedacore/keda/v2) ||
  fail "locating the KEDA module's CRDs"
# CRDs only (no code is built from these): the versions platform/bootstrap/ installs, checked
# against the checksum database like any module download.
xp_dir=$(cd / && go mod download -json github.com/crossplane/crossplane/v2@v2.3.4 |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])') || fail "downloading crossplane v2.3.4's CRDs"
pk_dir=$(cd / && go mod download -json github.com/crossplane-contrib/provider-kubernetes@v1.2.1 |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])') || fail "downloading provider-kubernetes v1.2.1's CRDs"

tmp=$(mktemp -d /tmp/jss-e2e.XXXXXX)
pids=()
cleanup() {
  local i pid
  # Last started first: the API server shuts down slowly once etcd is gone.
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    pid=${pids[i]}
    kill "$pid" 2>/dev/null
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null
  done
  if [[ -n ${E2E_KEEP:-} ]]; then echo "e2e: logs kept in $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Free loopback ports, chosen by the kernel (bound then released).
read -r p_etcd p_peer p_api p_kcm < <(python3 -c '
import socket
ss = [socket.socket() for _ in range(4)]
for s in ss: s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in ss])')
# The address the Composition's service names resolve to: random, so parallel runs do not meet.
host_ip=127.$((RANDOM % 200 + 20)).$((RANDOM % 250 + 1)).$((RANDOM % 250 + 1))

echo "e2e: certificates (openssl) in $tmp/pki"
pki=$tmp/pki
mkdir -p "$pki" "$tmp/keda-certs"
{
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=jss-e2e-ca \
    -keyout "$pki/ca.key" -out "$pki/ca.crt"
  # sign NAME SUBJ SAN [EKU]: a leaf certificate of the CA.
  sign() {
    openssl req -newkey rsa:2048 -nodes -subj "$2" -keyout "$pki/$1.key" -out "$pki/$1.csr"
    openssl x509 -req -in "$pki/$1.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -CAcreateserial \
      -days 2 -out "$pki/$1.crt" -extfile <(printf 'subjectAltName=%s\nextendedKeyUsage=%s\n' "$3" "$4")
  }
  sign apiserver /CN=kube-apiserver \
    "IP:127.0.0.1,IP:10.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default.svc" serverAuth
  sign admin "/O=system:masters/CN=jss-e2e-admin" "DNS:jss-e2e-admin" clientAuth
  # KEDA's metrics-service gRPC server (it refuses to start without a key pair in --cert-dir).
  sign keda "/CN=keda-operator" "IP:127.0.0.1,DNS:localhost" "serverAuth,clientAuth"
  # The aggregator's front proxy (issue 19: KEDA's metrics adapter behind it): its own CA, since
  # a client certificate of that CA may assert any user to an extension API server.
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=jss-e2e-front-proxy-ca \
    -keyout "$pki/front-proxy-ca.key" -out "$pki/front-proxy-ca.crt"
  openssl req -newkey rsa:2048 -nodes -subj /CN=front-proxy-client -keyout "$pki/front-proxy-client.key" \
    -out "$pki/front-proxy-client.csr"
  openssl x509 -req -in "$pki/front-proxy-client.csr" -CA "$pki/front-proxy-ca.crt" -CAkey "$pki/front-proxy-ca.key" \
    -CAcreateserial -days 2 -out "$pki/front-proxy-client.crt" -extfile <(printf 'extendedKeyUsage=clientAuth\n')
  openssl genrsa -out "$pki/sa.key" 2048
  openssl rsa -in "$pki/sa.key" -pubout -out "$pki/sa.pub"
} >"$tmp/openssl.log" 2>&1 || { cat "$tmp/openssl.log"; fail "generating certificates"; }
cp "$pki/ca.crt" "$tmp/keda-certs/ca.crt"
cp "$pki/keda.crt" "$tmp/keda-certs/tls.crt"
cp "$pki/keda.key" "$tmp/keda-certs/tls.key"

kubeconfig=$tmp/kubeconfig
cat >"$kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: e2e
  cluster: {server: "https://127.0.0.1:$p_api", certificate-authority: "$pki/ca.crt"}
users:
- name: admin
  user: {client-certificate: "$pki/admin.crt", client-key: "$pki/admin.key"}
contexts:
- name: e2e
  context: {cluster: e2e, user: admin}
current-context: e2e
EOF

# await WHAT SECONDS URL [curl args]: polls URL until it answers 200 "ok", or fails the run.
await() {
  local what=$1 seconds=$2 url=$3 deadline
  shift 3
  deadline=$((SECONDS + seconds))
  until [[ $(curl -s --max-time 2 "$@" "$url" 2>/dev/null) == ok ]]; do
    ((SECONDS < deadline)) || { tail -30 "$tmp/$what.log"; fail "$what not ready at $url after $seconds s"; }
    sleep 0.5
  done
  echo "e2e: $what ready ($url)"
}
admin_curl=(--cacert "$pki/ca.crt" --cert "$pki/admin.crt" --key "$pki/admin.key")

"$bin/etcd" --name e2e --data-dir "$tmp/etcd" \
  --listen-client-urls "http://127.0.0.1:$p_etcd" --advertise-client-urls "http://127.0.0.1:$p_etcd" \
  --listen-peer-urls "http://127.0.0.1:$p_peer" --initial-advertise-peer-urls "http://127.0.0.1:$p_peer" \
  --initial-cluster "e2e=http://127.0.0.1:$p_peer" >"$tmp/etcd.log" 2>&1 &
pids+=($!)
deadline=$((SECONDS + 60))
until curl -s --max-time 2 "http://127.0.0.1:$p_etcd/health" | grep -q '"health":"true"'; do
  ((SECONDS < deadline)) || { tail -30 "$tmp/etcd.log"; fail "etcd not healthy after 60 s"; }
  sleep 0.5
done
echo "e2e: etcd ready (127.0.0.1:$p_etcd)"

"$bin/kube-apiserver" --etcd-servers "http://127.0.0.1:$p_etcd" \
  --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$p_api" \
  --tls-cert-file "$pki/apiserver.crt" --tls-private-key-file "$pki/apiserver.key" \
  --client-ca-file "$pki/ca.crt" --authorization-mode RBAC \
  --service-account-key-file "$pki/sa.pub" --service-account-signing-key-file "$pki/sa.key" \
  --service-account-issuer https://kubernetes.default.svc --service-cluster-ip-range 10.0.0.0/24 \
  --requestheader-client-ca-file "$pki/front-proxy-ca.crt" --requestheader-allowed-names front-proxy-client \
  --requestheader-username-headers X-Remote-User --requestheader-group-headers X-Remote-Group \
  --requestheader-extra-headers-prefix X-Remote-Extra- \
  --proxy-client-cert-file "$pki/front-proxy-client.crt" --proxy-client-key-file "$pki/front-proxy-client.key" \
  --cert-dir "$tmp/apiserver" --profiling=false >"$tmp/kube-apiserver.log" 2>&1 &
pids+=($!)
await kube-apiserver 120 "https://127.0.0.1:$p_api/readyz" "${admin_curl[@]}"

# Only the controllers whose decisions the scenarios look at: Deployments -> ReplicaSets -> Pods
# (which stay Pending: there is no scheduler or kubelet), the HPA, garbage collection, namespaces.
"$bin/kube-controller-manager" --kubeconfig "$kubeconfig" \
  --authentication-kubeconfig "$kubeconfig" --authorization-kubeconfig "$kubeconfig" \
  --bind-address 127.0.0.1 --secure-port "$p_kcm" --leader-elect=false \
  --controllers deployment-controller,replicaset-controller,horizontal-pod-autoscaler-controller,garbage-collector-controller,namespace-controller \
  --horizontal-pod-autoscaler-sync-period 5s --profiling=false >"$tmp/kube-controller-manager.log" 2>&1 &
pids+=($!)
await kube-controller-manager 60 "https://127.0.0.1:$p_kcm/healthz" -k

keda_version=$(cd "$root/test/e2e/keda" && go list -m -f '{{.Version}}' github.com/kedacore/keda/v2)
echo "e2e: versions: $("$bin/etcd" --version | head -1 | tr -s ' ');" \
  "$("$bin/kube-apiserver" --version); kube-controller-manager $("$bin/kube-controller-manager" --version | awk '{print $2}');" \
  "KEDA operator and metrics adapter $keda_version; Crossplane core $("$bin/crossplane-core" --version); $("$nats_server" --version); $("$scaler" --version 2>&1 | head -1)"

# The scenarios run in a mount namespace whose /etc/hosts names the Composition's services.
cp /etc/hosts "$tmp/hosts"
printf '%s jetstream-scaler.keda.svc nats.nats.svc\n' "$host_ip" >>"$tmp/hosts"
export E2E_KUBECONFIG=$kubeconfig E2E_TMP=$tmp E2E_HOST_IP=$host_ip E2E_REPO=$root \
  E2E_KEDA_OPERATOR=$bin/keda-operator E2E_KEDA_ADAPTER=$bin/keda-adapter E2E_CROSSPLANE=$bin/crossplane-core \
  E2E_KEDA_CERTS=$tmp/keda-certs E2E_SCALER=$scaler \
  E2E_NATS_SERVER=$nats_server E2E_KEDA_CRDS=$keda_dir/config/crd/bases \
  E2E_CROSSPLANE_CRDS=$xp_dir/cluster/crds E2E_PROVIDER_KUBERNETES_CRDS=$pk_dir/package/crds
echo "e2e: scenarios (jetstream-scaler.keda.svc and nats.nats.svc -> $host_ip in a private /etc/hosts)"
t=$SECONDS
unshare -m --propagation private -- /bin/sh -c 'mount --bind "$1" /etc/hosts && shift && exec "$@"' sh \
  "$tmp/hosts" "$bin/scenarios.test" -test.v -test.timeout 20m ${E2E_RUN:+-test.run "$E2E_RUN"} 2>&1 |
  tee "$tmp/scenarios.log"
echo "e2e: scenarios ran in $((SECONDS - t)) s; whole run $((SECONDS - start_all)) s"
passed=$(grep -cE '^--- PASS' "$tmp/scenarios.log")
failed=$(grep -cE '^--- FAIL' "$tmp/scenarios.log")
# A test binary that ended without a verdict (panic, timeout) is a failure too.
if ! tail -5 "$tmp/scenarios.log" | grep -qE '^(PASS|FAIL|ok)'; then failed=$((failed + 1)); fi
if grep -qE '^FAIL$' "$tmp/scenarios.log" && ((failed == 0)); then failed=1; fi
((passed + failed > 0)) || failed=1
echo "e2e: $passed passed, $failed failed"
((failed == 0))
