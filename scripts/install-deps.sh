#!/usr/bin/env bash
# Install, with apt-get, the Debian packages rill needs that are missing.
# Works as root or through sudo; says what it does; does nothing when all
# packages are present.
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config
  librocksdb-dev libzmq3-dev liblinear-dev liblinear-tools libmsgpack-dev libcmocka-dev
  libjansson-dev libxxhash-dev
  clang libclang-rt-14-dev
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "install-deps: missing ${missing[*]}; run as root or install sudo" >&2
    exit 1
  fi
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
echo "install-deps: done"
