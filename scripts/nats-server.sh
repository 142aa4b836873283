#!/usr/bin/env bash
# Prints the path of a nats-server release binary, building it first if it is not cached.
#
#   scripts/nats-server.sh v2.15.3        # -> ~/.cache/jetstream-scaler/nats-server/v2.15.3/nats-server
#   scripts/nats-server.sh debian         # -> Debian's nats-server (2.9), installed if missing
#   scripts/nats-server.sh --list         # the versions pinned in test/nats-servers/
#
# Each release is pinned, with everything it links, by test/nats-servers/<version>/go.mod and
# go.sum (a `tool` directive), and built from the Go module proxy with `go build -trimpath`.
# Module and build caches stay outside the repository (Go's defaults, or GOMODCACHE/GOCACHE);
# binaries go to $JSS_CACHE_DIR/nats-server/<version>/ (default ~/.cache/jetstream-scaler).
# A cold build takes about a minute on 2 cores; a cached binary is printed at once.
# Progress goes to stderr, only the path to stdout, so `JSS_NATS_SERVER=$(scripts/nats-server.sh v2.15.3)`.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
pins=$root/test/nats-servers

if [[ $# -ne 1 ]]; then
  echo "usage: $0 VERSION|debian|--list" >&2
  exit 2
fi
version=$1

if [[ $version == --list ]]; then
  ls "$pins" | grep -E '^v[0-9]' | sort -V
  exit 0
fi

if [[ $version == debian ]]; then
  if ! command -v nats-server >/dev/null; then
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nats-server; } >&2
  fi
  command -v nats-server
  exit 0
fi

if [[ ! -f $pins/$version/go.mod ]]; then
  echo "nats-server $version is not pinned: add test/nats-servers/$version/go.mod (see test/nats-servers/README.md)" >&2
  exit 2
fi
out=${JSS_CACHE_DIR:-$HOME/.cache/jetstream-scaler}/nats-server/$version
bin=$out/nats-server
# The binary is rebuilt when its pin changes: the go.sum's hash is kept beside it.
stamp=$(sha256sum "$pins/$version/go.sum" | cut -c1-16)
if [[ -x $bin && -f $out/pin && $(cat "$out/pin") == "$stamp" ]]; then
  echo "$bin"
  exit 0
fi
if ! command -v go >/dev/null; then
  echo "nats-server $version: needs the go command (Go 1.24+) to build it from the module proxy" >&2
  exit 1
fi
mkdir -p "$out"
echo "building nats-server $version (go build, pinned by test/nats-servers/$version/go.sum)" >&2
start=$SECONDS
(cd "$pins/$version" && GOFLAGS=-mod=readonly CGO_ENABLED=0 go build -trimpath -o "$bin.tmp" github.com/nats-io/nats-server/v2) >&2
mv "$bin.tmp" "$bin"
echo "$stamp" >"$out/pin"
echo "built nats-server $version in $((SECONDS - start)) s: $("$bin" --version)" >&2
echo "$bin"
