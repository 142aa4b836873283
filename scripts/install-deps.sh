#!/usr/bin/env bash
# Installs whatever Debian packages from the given lists are missing.
# Usage: scripts/install-deps.sh scripts/packages-build.txt [more lists...]
set -euo pipefail
cd "$(dirname "$0")/.."

wanted=()
for list in "$@"; do
  while read -r pkg; do
    [[ -z "$pkg" || "$pkg" == \#* ]] && continue
    wanted+=("$pkg")
  done < "$list"
done

missing=()
for pkg in "${wanted[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$pkg")
done
# node/npm may come from outside Debian (e.g. a preinstalled Node.js): accept that.
filtered=()
for pkg in "${missing[@]}"; do
  if [[ "$pkg" == nodejs || "$pkg" == npm ]] && command -v "${pkg/nodejs/node}" >/dev/null; then
    continue
  fi
  filtered+=("$pkg")
done

if ((${#filtered[@]} == 0)); then
  echo "install-deps: all ${#wanted[@]} packages present"
  exit 0
fi
echo "install-deps: installing ${filtered[*]}"
SUDO=""
[[ $(id -u) -eq 0 ]] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get -o DPkg::Lock::Timeout=900 update -qq
$SUDO apt-get -o DPkg::Lock::Timeout=900 install -y -qq --no-install-recommends "${filtered[@]}" >/dev/null
echo "install-deps: done"
