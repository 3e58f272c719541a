#!/usr/bin/env bash
# Installs the system packages numaload's build and tests need, only those missing.
# Debian/Ubuntu (apt). Run as root or with sudo available.
set -euo pipefail
need=()
for pkg in pkg-config libhwloc-dev libudev-dev protobuf-compiler hwloc; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
done
[ ${#need[@]} -eq 0 ] && exit 0
sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "installing system packages: ${need[*]}" >&2
$sudo apt-get update -q >/dev/null
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q "${need[@]}" >/dev/null
