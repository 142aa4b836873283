#!/usr/bin/env bash
# Prints the path of a Go program pinned by a go.mod/go.sum of this repository, building it first
# if it is not cached (the pattern of scripts/nats-server.sh, for the e2e tools).
#
#   scripts/go-tool.sh test/e2e/natscli github.com/nats-io/natscli/nats nats
#   scripts/go-tool.sh test/e2e/crossplane github.com/crossplane/crossplane/v2/cmd/crank crossplane
#
# PIN_DIR's go.mod names PACKAGE in a `tool` directive; the binary goes to
# $JSS_CACHE_DIR/e2e/bin/NAME (default ~/.cache/jetstream-scaler) and is rebuilt only when
# PIN_DIR/go.sum changes (its hash is kept beside the binary). Module and build caches stay at Go's
# defaults, outside the repository. Progress goes to stderr, only the path to stdout.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
if [[ $# -ne 3 ]]; then
  echo "usage: $0 PIN_DIR PACKAGE NAME" >&2
  exit 2
fi
pins=$root/$1 pkg=$2 name=$3
if [[ ! -f $pins/go.mod || ! -f $pins/go.sum ]]; then
  echo "$name: $1 has no go.mod/go.sum pinning $pkg" >&2
  exit 2
fi
if ! grep -qx "tool $pkg" "$pins/go.mod"; then
  echo "$name: $1/go.mod has no 'tool $pkg' directive" >&2
  exit 2
fi
out=${JSS_CACHE_DIR:-$HOME/.cache/jetstream-scaler}/e2e/bin
bin=$out/$name
stamp=$(sha256sum "$pins/go.sum" | cut -c1-16)
if [[ -x $bin && -f $bin.pin && $(cat "$bin.pin") == "$stamp" ]]; then
  echo "$bin"
  exit 0
fi
if ! command -v go >/dev/null; then
  echo "$name: needs the go command (the version $1/go.mod names) to build it from the module proxy" >&2
  exit 1
fi
mkdir -p "$out"
echo "building $name ($pkg, pinned by $1/go.sum)" >&2
start=$SECONDS
(cd "$pins" && GOFLAGS=-mod=readonly CGO_ENABLED=0 go build -trimpath -o "$bin.tmp" "$pkg") >&2
mv "$bin.tmp" "$bin"
echo "$stamp" >"$bin.pin"
echo "built $name in $((SECONDS - start)) s" >&2
echo "$bin"
