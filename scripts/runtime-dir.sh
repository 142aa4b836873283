#!/usr/bin/env bash
# Assembles the container image's root file system into a directory -- the runtime
# stage of the Dockerfile copies exactly this directory into an empty (FROM scratch)
# image -- and runs the scaler from it with nothing else present.
#
#   scripts/runtime-dir.sh [--bin PATH] [--dir DIR] [--nats-url URL] [--dockerfile FILE]
#
#   --bin       the jetstream-scaler binary (default $JETSTREAM_SCALER_BIN, else
#               build/scaler/main/jetstream-scaler)
#   --dir       where to assemble (default out/runtime; recreated)
#   --nats-url  also start the scaler from the directory against this NATS server,
#               wait for /readyz, scrape /metrics and stop it with SIGTERM
#   --dockerfile  read RUNTIME_PACKAGES from this file (default Dockerfile)
#
# Two passes. First the files of the Dockerfile's RUNTIME_PACKAGES and of every
# package they depend on (as apt would install them) go into DIR.pkgs, and the dynamic
# loader checks that the binary's libraries all resolve there: the package list is
# complete. Then DIR gets only what the binary uses: the loader and the libraries it
# resolved, the CA bundle (+ OpenSSL's default paths to it), passwd/group entries for
# uid 65532, hosts/nsswitch.conf, and a dpkg status record (var/lib/dpkg/status.d/,
# the layout image scanners read for distroless images) plus the copyright file of
# each package a kept file came from. No shell, no package manager.
# As root the binary then runs chrooted into DIR as uid 65532, so a library that is
# not in the set cannot be found at all; otherwise it runs through the directory's
# own dynamic loader with the directory's library path, and the loader's resolution
# list is checked for anything outside the directory.
set -euo pipefail
cd "$(dirname "$0")/.."

bin=${JETSTREAM_SCALER_BIN:-build/scaler/main/jetstream-scaler}
dir=out/runtime
nats_url=""
dockerfile=Dockerfile
while (($#)); do
  case $1 in
    --bin) bin=$2; shift 2 ;;
    --dir) dir=$2; shift 2 ;;
    --nats-url) nats_url=$2; shift 2 ;;
    --dockerfile) dockerfile=$2; shift 2 ;;
    -h|--help) sed -n '2,27p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "runtime-dir: unknown argument $1" >&2; exit 2 ;;
  esac
done
fail() { echo "runtime-dir: FAIL: $*" >&2; exit 1; }
say() { echo "runtime-dir: $*"; }

[[ -x $bin ]] || fail "no executable binary at $bin (build it, or pass --bin / JETSTREAM_SCALER_BIN)"
[[ -n $dir && $dir != / ]] || fail "refusing to use --dir '$dir'"

# 1. RUNTIME_PACKAGES from the Dockerfile (one ARG spanning continuation lines).
mapfile -t packages < <(sed -n '/^ARG RUNTIME_PACKAGES="/,/^[[:space:]]*"[[:space:]]*$/p' "$dockerfile" |
  sed -e 's/^ARG RUNTIME_PACKAGES="//' -e 's/[\\"]//g' | tr -s ' \t' '\n' | grep -v '^$' || true)
((${#packages[@]} > 0)) || fail "no ARG RUNTIME_PACKAGES in $dockerfile"
say "$dockerfile RUNTIME_PACKAGES: ${packages[*]}"

# 2. Everything they pull in (Depends + Pre-Depends, first installed alternative),
#    then their files, copied into a merged-/usr tree like Debian's.
mapfile -t closure < <(/usr/bin/python3 - "${packages[@]}" <<'EOF'
import re, subprocess, sys

# One dpkg-query for every installed package: name -> dependency clauses.
out = subprocess.run(["dpkg-query", "-W", "-f=${Package}\t${db:Status-Abbrev}\t"
                      "${Depends}, ${Pre-Depends}\t${Provides}\n"],
                     capture_output=True, text=True, check=True).stdout
deps, provider = {}, {}
for line in out.splitlines():
    name, status, dep, provides = (line.split("\t") + ["", "", ""])[:4]
    if not status.startswith("ii"):
        continue
    deps[name] = dep
    for p in provides.split(","):
        p = re.split(r"[\s(]", p.strip())[0]
        if p:
            provider.setdefault(p, name)

def installed(name):
    return name if name in deps else provider.get(name)

missing = [p for p in sys.argv[1:] if p not in deps]
if missing:
    sys.exit("runtime-dir: FAIL: not installed on this machine: " + " ".join(missing))
seen, todo = set(), list(sys.argv[1:])
while todo:
    pkg = todo.pop()
    if pkg in seen:
        continue
    seen.add(pkg)
    for clause in deps[pkg].split(","):
        for alt in clause.split("|"):
            name = installed(re.split(r"[\s(]", alt.strip())[0].split(":")[0])
            if name:
                todo.append(name)
                break
print("\n".join(sorted(seen)))
EOF
)
((${#closure[@]} > 0)) || fail "could not resolve the package closure"
say "with dependencies: ${#closure[@]} packages"

[[ $dir != */ ]] || dir=${dir%/}
stage=$dir.pkgs
rm -rf "$dir" "$stage"
mkdir -p "$stage"/usr/{bin,sbin,lib,lib64,local/bin} "$stage"/{etc,tmp}
for d in bin sbin lib lib64; do ln -s "usr/$d" "$stage/$d"; done
stage_root=$(cd "$stage" && pwd)
trap 'rm -rf "$stage_root"' EXIT

# Pass 1: every file of the package closure; records which package each came from.
/usr/bin/python3 - "$stage_root" "${closure[@]}" <<'EOF'
import os, shutil, subprocess, sys
root, pkgs = sys.argv[1], sys.argv[2:]
skip = ("/usr/share/doc/", "/usr/share/man/", "/usr/share/info/", "/usr/share/lintian/",
        "/usr/share/locale/", "/usr/share/bug/")
copied = 0
owners = []
for pkg in pkgs:
    files = subprocess.run(["dpkg-query", "-L", pkg], capture_output=True, text=True,
                           check=True).stdout.splitlines()
    for f in files:
        if not f.startswith("/") or f.startswith(skip) or f in ("/.",):
            continue
        if os.path.isdir(f) and not os.path.islink(f):
            continue
        if not os.path.lexists(f):
            continue
        # /lib/x → /usr/lib/x: place by the real parent directory (merged /usr).
        parent = os.path.realpath(os.path.dirname(f))
        dest_dir = root + parent
        os.makedirs(dest_dir, exist_ok=True)
        dest = os.path.join(dest_dir, os.path.basename(f))
        if os.path.lexists(dest):
            continue
        if os.path.islink(f):
            os.symlink(os.readlink(f), dest)
        else:
            shutil.copy2(f, dest)
        owners.append(f"{os.path.join(parent, os.path.basename(f))}\t{pkg}")
        copied += 1
with open(os.path.join(root, ".owners"), "w") as out:
    out.write("\n".join(owners) + "\n")
print(f"runtime-dir: package closure: {copied} files")
EOF
install -m 0755 "$bin" "$stage/usr/local/bin/jetstream-scaler"

# The loader the binary names (PT_INTERP) and Debian's multiarch directory: the same
# script serves amd64 and arm64 builds.
loader=$(/usr/bin/python3 - "$bin" <<'EOF'
import struct, sys
with open(sys.argv[1], "rb") as f:
    h = f.read(64)
    if h[:4] != b"\x7fELF":
        sys.exit("runtime-dir: FAIL: not an ELF binary: " + sys.argv[1])
    wide, e = h[4] == 2, "<" if h[5] == 1 else ">"
    word = e + ("Q" if wide else "I")
    phoff = struct.unpack_from(word, h, 0x20 if wide else 0x1C)[0]
    size, count = struct.unpack_from(e + "HH", h, 0x36 if wide else 0x2A)
    for i in range(count):
        f.seek(phoff + i * size)
        ph = f.read(size)
        if struct.unpack_from(e + "I", ph, 0)[0] == 3:  # PT_INTERP
            offset = struct.unpack_from(word, ph, 8 if wide else 4)[0]
            length = struct.unpack_from(word, ph, 32 if wide else 16)[0]
            f.seek(offset)
            print(f.read(length).rstrip(b"\0").decode())
            break
    else:
        sys.exit("runtime-dir: FAIL: no PT_INTERP (a static binary?) in " + sys.argv[1])
EOF
)
multiarch=$(/usr/bin/python3 -c 'import sys; print(getattr(sys.implementation, "_multiarch", ""))')
[[ -n $multiarch ]] || multiarch=$(uname -m)-linux-gnu
use_chroot=0
# Sets $listing to the loader's resolution list for the binary inside directory $1 and
# fails if any library is missing or resolves outside it.
loader_check() {
  local d=$1 r
  r=$(cd "$d" && pwd)
  [[ -e $d$loader ]] || fail "no dynamic loader $loader in $d"
  use_chroot=0
  if [[ -z ${RUNTIME_DIR_NO_CHROOT:-} && $(id -u) -eq 0 ]] &&
      chroot "$d" /usr/local/bin/jetstream-scaler --version >/dev/null 2>&1; then
    use_chroot=1
  fi
  local outside
  if ((use_chroot)); then
    listing=$(chroot "$d" $loader --list /usr/local/bin/jetstream-scaler) ||
      fail "the loader inside $d cannot load the binary"
    outside=$(grep -E 'not found' <<<"$listing" || true)
  else
    listing=$("$d$loader" --inhibit-cache --library-path "$r/usr/lib/$multiarch:$r/usr/lib" \
      --list "$d/usr/local/bin/jetstream-scaler") || fail "the loader in $d cannot load the binary"
    outside=$(awk -v root="$r" '
      /not found/ { print; next }
      /=>/ { if (index($3, root) != 1) print }' <<<"$listing")
    # Report in-image paths, as the chroot listing does.
    listing=${listing//"$r"/}
  fi
  if [[ -n $outside ]]; then
    fail "libraries not provided by the runtime file set:"$'\n'"$outside"
  fi
}
loader_check "$stage"
say "package list complete: $(grep -c '=>' <<<"$listing") libraries resolve inside the package closure"

# Pass 2: only what the loader resolved (with the symlinks leading to it).
mkdir -p "$dir"
root=$(cd "$dir" && pwd)
ca_bundle=no
[[ " ${packages[*]} " == *" ca-certificates "* ]] && ca_bundle=yes
LISTING=$listing CA_BUNDLE=$ca_bundle /usr/bin/python3 - "$stage_root" "$root" "$loader" <<'EOF'
import os, re, shutil, subprocess, sys
stage, root, loader = sys.argv[1:4]
owner = dict(l.split("\t") for l in open(os.path.join(stage, ".owners")).read().splitlines() if l)
wanted = [loader]
for line in os.environ["LISTING"].splitlines():
    m = re.search(r"=>\s*(/\S+)", line)
    if m:
        wanted.append(m.group(1))
for top in ("lib", "lib64"):
    os.symlink(f"usr/{top}", os.path.join(root, top))
used = set()
def keep(path):
    """Copies in-image `path` from the stage, following symlinks, keeping each link."""
    for _ in range(20):
        parent = os.path.realpath(stage + os.path.dirname(path))[len(stage):] or "/"
        path = os.path.join(parent, os.path.basename(path))
        src, dest = stage + path, root + path
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        if path in owner:
            used.add(owner[path])
        if os.path.islink(src):
            target = os.readlink(src)
            if not os.path.lexists(dest):
                os.symlink(target, dest)
            path = target if target.startswith("/") else os.path.join(parent, target)
            continue
        if not os.path.lexists(dest):
            shutil.copy2(src, dest)
        return
    sys.exit(f"runtime-dir: FAIL: symlink loop at {path}")
for w in wanted:
    keep(w)
# CA roots: the bundle ca-certificates' postinst generated on this machine, and OpenSSL's default
# verify paths (SSL_CTX_set_default_verify_paths, used by cnats) leading to it.
bundle = "/etc/ssl/certs/ca-certificates.crt"
if os.environ["CA_BUNDLE"] == "yes":
    if not os.path.exists(bundle):
        sys.exit(f"runtime-dir: FAIL: ca-certificates is listed but {bundle} is missing")
    os.makedirs(root + "/etc/ssl/certs", exist_ok=True)
    shutil.copy2(bundle, root + bundle)
    os.makedirs(root + "/usr/lib/ssl", exist_ok=True)
    os.symlink(bundle, root + "/usr/lib/ssl/cert.pem")
    os.symlink("/etc/ssl/certs", root + "/usr/lib/ssl/certs")
    used.add("ca-certificates")
# What scanners read in distroless images: one dpkg status record per package.
status = root + "/var/lib/dpkg/status.d"
os.makedirs(status)
for pkg in sorted(used):
    record = subprocess.run(["dpkg-query", "-s", pkg], capture_output=True, text=True,
                            check=True).stdout
    name = pkg.split(":")[0]
    with open(os.path.join(status, name), "w") as out:
        out.write(record.rstrip("\n") + "\n")
    copyright = f"/usr/share/doc/{name}/copyright"
    if os.path.exists(copyright):
        os.makedirs(root + os.path.dirname(copyright), exist_ok=True)
        shutil.copy2(copyright, root + copyright)
print("runtime-dir: packages in the image: " + " ".join(sorted(used)))
EOF
mkdir -p "$dir"/{etc,tmp} "$dir/usr/local/bin"
chmod 1777 "$dir/tmp"
# The image's only users, and loopback name resolution.
printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/nonexistent:/sbin/nologin\n' >"$dir/etc/passwd"
printf 'root:x:0:\nnonroot:x:65532:\n' >"$dir/etc/group"
printf '127.0.0.1 localhost\n::1 localhost\n' >"$dir/etc/hosts"
printf 'hosts: files dns\n' >"$dir/etc/nsswitch.conf"
install -m 0755 "$bin" "$dir/usr/local/bin/jetstream-scaler"
rm -rf "$stage_root"
trap - EXIT
say "assembled $dir ($(du -sh "$dir" | cut -f1))"

# 3. The loader's view of the final set: every library must resolve inside it.
loader_check "$dir"
say "ldd check: $(grep -c '=>' <<<"$listing") libraries, all inside the directory$( ((use_chroot)) && echo ' (chroot)')"
libpath="$root/usr/lib/$multiarch:$root/usr/lib"
# 4. Run it from the directory, as uid 65532 when we can.
run() {
  if ((use_chroot)); then
    chroot --userspec=65532:65532 "$dir" /usr/local/bin/jetstream-scaler "$@"
  else
    "$dir$loader" --inhibit-cache --library-path "$libpath" "$dir/usr/local/bin/jetstream-scaler" "$@"
  fi
}
# The same, replacing the calling (sub)shell, so a background job's $! is the scaler.
exec_run() {
  if ((use_chroot)); then
    exec chroot --userspec=65532:65532 "$dir" /usr/local/bin/jetstream-scaler "$@"
  else
    exec "$dir$loader" --inhibit-cache --library-path "$libpath" "$dir/usr/local/bin/jetstream-scaler" "$@"
  fi
}
version=$(run --version) || fail "--version failed"
say "--version: $version"
run --help | grep -q -- '--nats-url' || fail "--help does not list --nats-url"
run --print-metadata-keys | grep -qx stream || fail "--print-metadata-keys lacks stream"

if [[ -n $nats_url ]]; then
  log=$(mktemp)
  exec_run --nats-url "$nats_url" --grpc-address 127.0.0.1:0 --metrics-address 127.0.0.1:0 \
    --log-format json >"$log" 2>&1 &
  pid=$!
  trap 'kill "$pid" 2>/dev/null || true; rm -f "$log"' EXIT
  metrics_port=""
  for _ in $(seq 100); do
    metrics_port=$(sed -n 's/.*"metrics_port":"\([0-9]*\)".*/\1/p' "$log" | head -1)
    [[ -n $metrics_port ]] && break
    kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; fail "the scaler exited at start"; }
    sleep 0.1
  done
  [[ -n $metrics_port ]] || { cat "$log" >&2; fail "no 'started' log line with metrics_port"; }
  ready=""
  for _ in $(seq 50); do
    ready=$(curl -fsS "http://127.0.0.1:$metrics_port/readyz" 2>/dev/null || true)
    [[ $ready == ready* ]] && break
    sleep 0.1
  done
  [[ $ready == ready* ]] || { cat "$log" >&2; fail "/readyz never became ready"; }
  # Read whole, then searched: `curl | grep -q` fails under pipefail once grep stops reading
  # a /metrics larger than the pipe buffer (curl: (23) Failed writing body).
  scrape=$(curl -fsS "http://127.0.0.1:$metrics_port/metrics") || fail "/metrics not served"
  grep -q '^jetstream_scaler_build_info' <<<"$scrape" ||
    fail "/metrics lacks jetstream_scaler_build_info"
  kill -TERM "$pid"
  rc=0
  wait "$pid" || rc=$?
  trap 'rm -f "$log"' EXIT
  ((rc == 0)) || { cat "$log" >&2; fail "exit status $rc after SIGTERM (want 0)"; }
  say "started from the directory against $nats_url: /readyz ready, /metrics served, SIGTERM -> exit 0"
fi
say "OK"
