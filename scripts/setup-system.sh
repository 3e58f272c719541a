#!/usr/bin/env bash
# Installs the system packages numaload's build and tests need, only those missing.
# Debian/Ubuntu (apt). Run as root or with sudo available.
#   build: pkg-config libhwloc-dev libudev-dev (hwlocality links libhwloc through pkg-config)
#   tests: protobuf-compiler (regenerating the gRPC code), hwloc (lstopo), prometheus (promtool
#          checks /metrics), chromium (renders the HTML report), iproute2 (network namespaces)
#   The emulated-NUMA test installs its QEMU packages itself (tests/numa-vm/run.sh).
set -euo pipefail
need=()
for pkg in pkg-config libhwloc-dev libudev-dev protobuf-compiler hwloc prometheus chromium iproute2; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
done
[ ${#need[@]} -eq 0 ] && exit 0
sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "installing system packages: ${need[*]}" >&2
$sudo apt-get update -q >/dev/null
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q "${need[@]}" >/dev/null
