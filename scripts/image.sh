#!/usr/bin/env bash
# Builds, smoke-tests and saves the container image (Dockerfile) with docker or podman.
#
#   scripts/image.sh build   build the image (JSS_IMAGE, default jetstream-scaler:dev) with
#                            OCI version/revision labels; print its size; fail above
#                            JSS_IMAGE_BUDGET_MIB (default 60) MiB uncompressed
#   scripts/image.sh smoke   run the built image the way the Helm chart does (its rendered
#                            args, uid/gid, read-only root, no capabilities) against a real
#                            nats-server: --version = chart appVersion, /readyz, one
#                            KEDA-style GetMetrics answer, exit 0 after SIGTERM
#   scripts/image.sh save [FILE]  write an OCI archive (default
#                            out/jetstream-scaler-VERSION.oci.tar) after checking its labels
#
# Container tool: docker when its daemon answers, else podman (installed with runc and
# debootstrap through apt when missing). Without registry access the debian:bookworm
# base of the build stage is bootstrapped once from Debian packages (debootstrap from the
# mirror apt uses) and imported under that name. Exit status 77: no container tool
# available or installable (CI reports the step as skipped).
#
# smoke needs nats-server, curl, /usr/bin/python3 with yaml (scripts/packages-test.txt),
# helm 3 (PATH, or the copy test/chart/check.sh caches) and the jss-jsadmin and
# jss-keda-query tools (built into build/ when missing). Everything it starts is stopped
# on exit, also on failure.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

IMAGE=${JSS_IMAGE:-jetstream-scaler:dev}
BUDGET_MIB=${JSS_IMAGE_BUDGET_MIB:-60}
BASE=docker.io/library/debian:bookworm
CHART=charts/jetstream-scaler
TOOLS_CACHE=${JSS_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/jetstream-scaler-tools}

say() { echo "image: $*"; }
die() { echo "image: FAIL: $*" >&2; exit 1; }
skip() { echo "image: SKIP: $*" >&2; exit 77; }

version=$(sed -n 's/^project(jetstream_scaler VERSION \([0-9][0-9.]*\).*/\1/p' CMakeLists.txt)
[[ -n $version ]] || die "no project VERSION in CMakeLists.txt"
revision=$(git rev-parse HEAD 2>/dev/null || echo unknown)
short_revision=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
app_version=$(sed -n 's/^appVersion: *"\{0,1\}\([^"]*\)"\{0,1\} *$/\1/p' "$CHART/Chart.yaml")

# ---- container tool -------------------------------------------------------------------
tool=()
pick_tool() {
  if command -v docker >/dev/null && timeout 20 docker info >/dev/null 2>&1; then
    tool=(docker)
    return
  fi
  if ! command -v podman >/dev/null || ! command -v runc >/dev/null; then
    local sudo=""
    if [[ $(id -u) -ne 0 ]]; then
      command -v sudo >/dev/null && sudo -n true 2>/dev/null ||
        skip "no working docker, no podman, and no root to install podman"
      sudo="sudo -n"
    fi
    say "installing podman runc debootstrap (apt)"
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get -o DPkg::Lock::Timeout=900 update -qq &&
      $sudo apt-get -o DPkg::Lock::Timeout=900 install -y -qq podman runc debootstrap >/dev/null ||
      skip "podman could not be installed with apt-get"
  fi
  # runc with cgroupfs: the default runtime cannot create containers on hosts with
  # hybrid cgroups; explicit limits: raising RLIMIT_NPROC is refused there (docs/deploy.md).
  tool=(podman --runtime runc --cgroup-manager=cgroupfs)
  local nofile
  nofile=$(ulimit -Hn)
  [[ $nofile =~ ^[0-9]+$ ]] && ((nofile <= 1048576)) || nofile=1048576
  run_limits=(--ulimit "nofile=$nofile:$nofile" --ulimit nproc=1024:1024)
}
run_limits=()
is_podman() { [[ ${tool[0]} == podman ]]; }

# The build stage's base image: present, pulled, or bootstrapped from Debian packages.
ensure_base() {
  is_podman || return 0 # docker pulls it itself
  if podman image exists "$BASE"; then return 0; fi
  if timeout 120 podman pull -q "$BASE" >/dev/null 2>&1; then
    say "pulled $BASE"
    return 0
  fi
  say "no registry: bootstrapping $BASE from Debian packages (debootstrap, once per machine)"
  command -v debootstrap >/dev/null || die "debootstrap is missing (apt-get install debootstrap)"
  local mirror tmp start=$SECONDS
  mirror=$(apt-get indextargets --format '$(REPO_URI)' 'Created-By: Packages' |
    grep -v -- '-security' | grep -m1 -E '^https?://') ||
    die "no Debian mirror in apt's sources"
  tmp=$(mktemp -d /var/tmp/jss-debootstrap.XXXXXX)
  if ! debootstrap --variant=minbase bookworm "$tmp/rootfs" "$mirror" >"$tmp/log" 2>&1; then
    tail -20 "$tmp/log" >&2
    rm -rf "$tmp"
    die "debootstrap bookworm from $mirror failed"
  fi
  # apt inside the build stage uses the same mirror the host does.
  tar -C "$tmp/rootfs" -c . | podman import -q - "$BASE" >/dev/null
  rm -rf "$tmp"
  say "bootstrapped $BASE from $mirror in $((SECONDS - start)) s"
}

image_size_bytes() {
  "${tool[@]}" image inspect --format '{{.Size}}' "$IMAGE"
}
label() {
  "${tool[@]}" image inspect --format "{{index .Config.Labels \"$1\"}}" "$IMAGE"
}

# ---- build ----------------------------------------------------------------------------
cmd_build() {
  pick_tool
  say "container tool: ${tool[*]}"
  ensure_base
  local start=$SECONDS args=()
  is_podman && args=(--pull=never --isolation chroot --network host)
  say "building $IMAGE (version $version, revision $revision)"
  "${tool[@]}" build "${args[@]}" -t "$IMAGE" \
    --label "org.opencontainers.image.version=$version" \
    --label "org.opencontainers.image.revision=$revision" \
    --build-arg "JSS_REVISION=$short_revision" \
    .
  local bytes mib
  bytes=$(image_size_bytes)
  mib=$(awk -v b="$bytes" 'BEGIN { printf "%.1f", b / 1048576 }')
  say "built $IMAGE in $((SECONDS - start)) s"
  say "image size: $mib MiB uncompressed (budget $BUDGET_MIB MiB)"
  ((bytes <= BUDGET_MIB * 1048576)) || die "image is $mib MiB, above the $BUDGET_MIB MiB budget"
}

# ---- smoke ----------------------------------------------------------------------------
work=""
container=""
nats_pid=""
cleanup() {
  if [[ -n $container ]]; then "${tool[@]}" rm -f "$container" >/dev/null 2>&1 || true; fi
  if [[ -n $nats_pid ]]; then
    kill "$nats_pid" 2>/dev/null || true
    wait "$nats_pid" 2>/dev/null || true
  fi
  if [[ -n $work ]]; then rm -rf "$work"; fi
}

find_helm() {
  if command -v helm >/dev/null && helm version --short 2>/dev/null | grep -q '^v3\.'; then
    command -v helm
    return
  fi
  local cached
  cached=$(ls "$TOOLS_CACHE"/*/helm 2>/dev/null | head -1)
  [[ -n $cached ]] || die "no helm 3 on PATH or in $TOOLS_CACHE (test/chart/check.sh installs it)"
  echo "$cached"
}

free_port() {
  /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

cmd_smoke() {
  pick_tool
  "${tool[@]}" image inspect "$IMAGE" >/dev/null 2>&1 || die "no image $IMAGE (run: scripts/image.sh build)"
  local helm tools=${JSS_TOOLS_DIR:-$root/build/scaler/tools}
  helm=$(find_helm)
  command -v nats-server >/dev/null || die "nats-server is missing (scripts/packages-test.txt)"
  if [[ ! -x $tools/jss-jsadmin || ! -x $tools/jss-keda-query ]]; then
    say "building jss-jsadmin and jss-keda-query"
    scripts/build.sh build -DJSS_BUILD_TESTS=OFF -DJSS_BUILD_BENCH=OFF -- jss-jsadmin jss-keda-query >/dev/null
    tools=$root/build/scaler/tools
  fi
  work=$(mktemp -d /tmp/jss-image-smoke.XXXXXX)
  trap cleanup EXIT

  # 1. The binary in the image is the chart's appVersion.
  local got
  got=$("${tool[@]}" run --rm "${run_limits[@]}" --network none "$IMAGE" --version) || die "--version failed in the image"
  say "--version: $got"
  [[ $got == "jetstream-scaler $app_version "* ]] ||
    die "the image's --version '$got' does not match $CHART/Chart.yaml appVersion $app_version"
  local label_revision stamped=${got##*(}
  stamped=${stamped%)}
  label_revision=$(label org.opencontainers.image.revision)
  [[ $stamped != unknown && $label_revision == "$stamped"* ]] ||
    die "--version names revision '$stamped', the image's revision label is '$label_revision'"

  # 2. A real nats-server with a stream, a consumer and lag 25 (20 pending + 5 unacked).
  nats-server -a 127.0.0.1 -p -1 -js -sd "$work/store" --ports_file_dir "$work" >"$work/nats.log" 2>&1 &
  nats_pid=$!
  local url=""
  for _ in $(seq 200); do
    url=$(grep -so 'nats://127.0.0.1:[0-9]*' "$work/nats-server_$nats_pid.ports" | head -1) && break
    kill -0 "$nats_pid" 2>/dev/null || { cat "$work/nats.log" >&2; die "nats-server exited"; }
    sleep 0.05
  done
  [[ -n $url ]] || die "nats-server wrote no ports file"
  "$tools/jss-jsadmin" "$url" add-stream SMOKE 'smoke.>' >/dev/null
  "$tools/jss-jsadmin" "$url" add-consumer SMOKE workers >/dev/null
  "$tools/jss-jsadmin" "$url" publish smoke.jobs 25 >/dev/null
  "$tools/jss-jsadmin" "$url" fetch SMOKE workers 5 noack >/dev/null
  say "nats-server $url: stream SMOKE, consumer workers, 20 pending + 5 unacked"

  # 3. The chart's container, rendered for this nats-server and two free ports.
  local grpc_port metrics_port
  grpc_port=$(free_port)
  metrics_port=$(free_port)
  "$helm" template smoke "$CHART" --namespace keda \
    --set "nats.urls={$url}" --set "grpc.port=$grpc_port" --set "metrics.port=$metrics_port" \
    >"$work/chart.yaml" || die "helm template failed"
  /usr/bin/python3 - "$work/chart.yaml" "$work" <<'EOF' || die "could not read the chart's Deployment"
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
dep = next(d for d in docs if d["kind"] == "Deployment")
pod = dep["spec"]["template"]["spec"]
c = next(c for c in pod["containers"] if c["name"] == "scaler")
open(sys.argv[2] + "/args", "w").write("\n".join(c["args"]) + "\n")
open(sys.argv[2] + "/image", "w").write(c["image"] + "\n")
sc = pod["securityContext"]
open(sys.argv[2] + "/user", "w").write(f'{sc["runAsUser"]}:{sc["runAsGroup"]}\n')
assert c["securityContext"]["readOnlyRootFilesystem"] is True
EOF
  local chart_image user args=()
  chart_image=$(cat "$work/image")
  user=$(cat "$work/user")
  mapfile -t args <"$work/args"
  [[ $chart_image == *":$app_version" ]] || die "the chart deploys $chart_image, not tag $app_version"
  say "chart deploys $chart_image as uid:gid $user with: ${args[*]}"

  # 4. Run the image as the chart does: read-only root, tmpfs /tmp, no capabilities.
  local run=(run -d --read-only --tmpfs /tmp:size=16m --user "$user" --cap-drop ALL
    --security-opt no-new-privileges --network host "${run_limits[@]}")
  container=jss-smoke-$$
  "${tool[@]}" "${run[@]}" --name "$container" "$IMAGE" "${args[@]}" >/dev/null ||
    die "the image did not start with the chart's args"
  local ready=""
  for _ in $(seq 300); do
    ready=$(curl -fsS "http://127.0.0.1:$metrics_port/readyz" 2>/dev/null || true)
    [[ $ready == ready* ]] && break
    [[ $("${tool[@]}" inspect --format '{{.State.Running}}' "$container") == true ]] || break
    sleep 0.1
  done
  if [[ $ready != ready* ]]; then
    "${tool[@]}" logs "$container" >&2 || true
    die "/readyz on :$metrics_port never answered ready"
  fi
  say "/readyz: $ready"

  # 5. What KEDA asks on each poll.
  local answer
  answer=$("$tools/jss-keda-query" "127.0.0.1:$grpc_port" stream=SMOKE consumer=workers lagThreshold=5) || {
    echo "$answer" >&2
    "${tool[@]}" logs "$container" >&2 || true
    die "KEDA-style query failed"
  }
  echo "$answer" | sed 's/^/image:   /'
  grep -Eq '^GetMetrics: +metricName=.* metricValue=25 ' <<<"$answer" ||
    die "GetMetrics did not answer lag 25"
  grep -q '^IsActive: *result=true' <<<"$answer" || die "IsActive did not answer true"

  # 6. SIGTERM (what Kubernetes sends) ends it cleanly.
  "${tool[@]}" stop -t 30 "$container" >/dev/null
  local status
  status=$("${tool[@]}" inspect --format '{{.State.ExitCode}}' "$container")
  if [[ $status != 0 ]]; then
    "${tool[@]}" logs "$container" >&2 || true
    die "exit status $status after SIGTERM (want 0)"
  fi
  say "stopped with SIGTERM: exit 0"
  say "smoke OK"
}

# ---- save -----------------------------------------------------------------------------
cmd_save() {
  pick_tool
  local file=${1:-out/jetstream-scaler-$version.oci.tar}
  "${tool[@]}" image inspect "$IMAGE" >/dev/null 2>&1 || die "no image $IMAGE (run: scripts/image.sh build)"
  local v r
  v=$(label org.opencontainers.image.version)
  r=$(label org.opencontainers.image.revision)
  [[ $v == "$version" ]] || die "label org.opencontainers.image.version is '$v', want $version"
  [[ $r =~ ^[0-9a-f]{40}$ ]] || die "label org.opencontainers.image.revision is '$r', want a commit"
  mkdir -p "$(dirname "$file")"
  rm -f "$file"
  if is_podman; then
    "${tool[@]}" save --format oci-archive -o "$file" "$IMAGE"
  else
    # Docker 25+ writes the OCI image layout (plus its own manifest.json).
    docker save -o "$file" "$IMAGE"
  fi
  say "saved $file ($(du -h "$file" | cut -f1)): version $v, revision $r"
}

case ${1:-} in
  build) cmd_build ;;
  smoke) cmd_smoke ;;
  save) shift; cmd_save "$@" ;;
  *) sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
