#!/usr/bin/env bash
# scripts/lab/prepare.sh WHO: what the network-namespace labs (tests/netns, tests/chaos) need
# before they enter their namespace: root, iproute2, python3, procps and util-linux (installed
# from apt when missing), and the numaload they test — $NUMALOAD if set, else a `cargo build
# --locked -p numaload` of this tree. Prints the binary's absolute path; WHO names the caller in
# errors. The only part of a lab that may use the network.
set -euo pipefail
WHO=${1:?usage: prepare.sh WHO}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
[ "$(id -u)" -eq 0 ] || { echo "$WHO: needs root (network namespaces); run with sudo" >&2; exit 2; }
need=()
{ command -v ip && command -v ss && command -v tc; } >/dev/null || need+=(iproute2)
command -v python3 >/dev/null || need+=(python3)
{ command -v pgrep && command -v ps; } >/dev/null || need+=(procps)
command -v unshare >/dev/null || need+=(util-linux)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}" >&2
  timeout 300 apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -q "${need[@]}" >/dev/null
fi
NUMALOAD=${NUMALOAD:-}
if [ -z "$NUMALOAD" ]; then
  command -v cargo >/dev/null || { echo "$WHO: cargo not found (install rustup)" >&2; exit 2; }
  "$ROOT/scripts/setup-system.sh" >&2
  echo "building numaload (cargo build --locked -p numaload) ..." >&2
  (cd "$ROOT" && timeout 1800 cargo build --locked -p numaload) >&2
  NUMALOAD="${CARGO_TARGET_DIR:-$ROOT/target}/debug/numaload"
fi
NUMALOAD=$(realpath "$NUMALOAD")
[ -x "$NUMALOAD" ] || { echo "$WHO: no executable at $NUMALOAD" >&2; exit 2; }
echo "$NUMALOAD"
