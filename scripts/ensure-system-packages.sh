#!/usr/bin/env bash
# Installs the Debian packages whose commands are missing: ensure-system-packages.sh CMD[=PKG] …
# (for example `ffmpeg espeak-ng redis-server=redis-server`). Quiet when everything is there.
set -euo pipefail
missing=()
for spec in "$@"; do
  cmd=${spec%%=*}
  pkg=${spec#*=}
  command -v "$cmd" >/dev/null 2>&1 || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "error: missing system packages: ${missing[*]}" >&2
  echo "       install them with: sudo apt-get install ${missing[*]}" >&2
  exit 1
fi
echo "Installing system packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
