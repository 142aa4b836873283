#!/usr/bin/env bash
# Assembles the container image's runtime file set into a directory and runs the
# scaler from it with nothing else present -- the image check for machines without
# a Docker engine.
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
# The directory holds the files of the Dockerfile's RUNTIME_PACKAGES and of every
# package they depend on (as apt would install them into the runtime stage), the
# binary at /usr/local/bin/jetstream-scaler and a passwd entry for uid 65532. As root
# the binary then runs chrooted into the directory as uid 65532, so a library that is
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
    -h|--help) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
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

rm -rf "$dir"
mkdir -p "$dir"/usr/{bin,sbin,lib,lib64,local/bin} "$dir"/{etc,tmp}
chmod 1777 "$dir/tmp"
for d in bin sbin lib lib64; do ln -s "usr/$d" "$dir/$d"; done
root=$(cd "$dir" && pwd)

/usr/bin/python3 - "$root" "${closure[@]}" <<'EOF'
import os, shutil, subprocess, sys
root, pkgs = sys.argv[1], sys.argv[2:]
skip = ("/usr/share/doc/", "/usr/share/man/", "/usr/share/info/", "/usr/share/lintian/",
        "/usr/share/locale/", "/usr/share/bug/")
copied = 0
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
        copied += 1
print(f"runtime-dir: copied {copied} files")
EOF

# ca-certificates' bundle is generated by its postinst, as in the image.
if [[ " ${packages[*]} " == *" ca-certificates "* && -f /etc/ssl/certs/ca-certificates.crt ]]; then
  mkdir -p "$dir/etc/ssl/certs"
  cp /etc/ssl/certs/ca-certificates.crt "$dir/etc/ssl/certs/"
fi
# What the runtime stage's useradd/groupadd leave behind, and loopback name resolution.
printf 'root:x:0:0:root:/root:/usr/sbin/nologin\nscaler:x:65532:65532::/nonexistent:/usr/sbin/nologin\n' >"$dir/etc/passwd"
printf 'root:x:0:\nscaler:x:65532:\n' >"$dir/etc/group"
printf '127.0.0.1 localhost\n::1 localhost\n' >"$dir/etc/hosts"
printf 'hosts: files dns\n' >"$dir/etc/nsswitch.conf"
install -m 0755 "$bin" "$dir/usr/local/bin/jetstream-scaler"
say "assembled $dir ($(du -sh "$dir" | cut -f1))"

# 3. The loader's view: every library must resolve inside the directory.
loader=/lib64/ld-linux-x86-64.so.2
[[ -e $dir$loader ]] || fail "no dynamic loader $loader in the directory"
libpath="$root/usr/lib/x86_64-linux-gnu:$root/usr/lib"
use_chroot=0
if [[ -z ${RUNTIME_DIR_NO_CHROOT:-} && $(id -u) -eq 0 ]] && chroot "$dir" /usr/local/bin/jetstream-scaler --version >/dev/null 2>&1; then
  use_chroot=1
fi
if ((use_chroot)); then
  listing=$(chroot "$dir" $loader --list /usr/local/bin/jetstream-scaler) ||
    fail "the loader inside the directory cannot load the binary"
  outside=$(grep -E 'not found' <<<"$listing" || true)
else
  listing=$("$dir$loader" --inhibit-cache --library-path "$libpath" --list \
    "$dir/usr/local/bin/jetstream-scaler") || fail "the directory's loader cannot load the binary"
  outside=$(awk -v root="$root" '
    /not found/ { print; next }
    /=>/ { if (index($3, root) != 1) print }' <<<"$listing")
fi
if [[ -n $outside ]]; then
  fail "libraries not provided by the runtime file set:"$'\n'"$outside"
fi
say "ldd check: $(grep -c '=>' <<<"$listing") libraries, all inside the directory$( ((use_chroot)) && echo ' (chroot)')"

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
  curl -fsS "http://127.0.0.1:$metrics_port/metrics" | grep -q '^jetstream_scaler_build_info' ||
    fail "/metrics lacks jetstream_scaler_build_info"
  kill -TERM "$pid"
  rc=0
  wait "$pid" || rc=$?
  trap 'rm -f "$log"' EXIT
  ((rc == 0)) || { cat "$log" >&2; fail "exit status $rc after SIGTERM (want 0)"; }
  say "started from the directory against $nats_url: /readyz ready, /metrics served, SIGTERM -> exit 0"
fi
say "OK"
