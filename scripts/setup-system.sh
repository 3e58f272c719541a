#!/usr/bin/env bash
# Installs the system packages numaload's build and tests need, only those missing.
# Debian/Ubuntu (apt). Run as root or with sudo available.
#   build: pkg-config libhwloc-dev libudev-dev (hwlocality links libhwloc through pkg-config),
#          libsqlite3-dev (the history store's SQLite, linked through pkg-config)
#   tests: protobuf-compiler (regenerating the gRPC code), hwloc (lstopo), prometheus (promtool
#          checks /metrics), chromium (renders the HTML report), iproute2 (network namespaces),
#          golang-go (builds the Go test server, tests/servers/go/build.sh; its cgo build uses
#          the same C compiler as the Rust build), postgresql (the store tests start a throw-away
#          cluster of their own as an unprivileged user on a free port; they never use the
#          package's own cluster), nginx-light (nginx as a target; plain nginx where the light
#          flavour is not packaged), systemd (systemd-analyze verifies the unit file), numactl (a
#          replica's child that sets its own memory policy, in the agent's tests), libxml2-utils
#          (xmllint validates compare's JUnit XML against controller/tests/fixtures/junit-10.xsd),
#          python3 (its csv module reads the CSV reports back), bsdutils (`script` runs `numaload
#          run` under a pseudo-terminal for its live display), jq (docs/cli.md pipes `run --json`
#          into it, and the test of the documented commands runs that line), nghttp2-client
#          (h2load loads the built-in target over h2c and h2; `make bench` compares the HTTP/2
#          generator with it), python3-grpcio (gRPC's C core for Debian's /usr/bin/python3: the
#          third-party gRPC server of tests/servers/python/grpc_server.py)
#   The emulated-NUMA test installs its QEMU packages itself (tests/numa-vm/run.sh).
#   Installing nginx must not leave a system nginx serving port 80: service starts are refused
#   during the install (policy-rc.d), the unit is disabled, and any nginx it started is stopped.
set -euo pipefail
# Any nginx already installed will do (installing nginx-light would replace nginx-full).
nginx_pkg=""
if [ ! -x /usr/sbin/nginx ] && ! command -v nginx >/dev/null 2>&1; then
  candidate=$(apt-cache policy nginx-light 2>/dev/null | sed -n 's/^ *Candidate: *//p')
  nginx_pkg=nginx-light; [ -n "$candidate" ] && [ "$candidate" != "(none)" ] || nginx_pkg=nginx
fi
need=()
for pkg in pkg-config libhwloc-dev libudev-dev libsqlite3-dev postgresql protobuf-compiler hwloc \
  prometheus chromium iproute2 golang-go systemd numactl libxml2-utils python3 bsdutils jq \
  nghttp2-client python3-grpcio $nginx_pkg; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
done
[ ${#need[@]} -eq 0 ] && exit 0
sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
nginx_new=false; [ -n "$nginx_pkg" ] && nginx_new=true
pg_new=false; printf '%s\n' "${need[@]}" | grep -qx postgresql && pg_new=true
policy=/usr/sbin/policy-rc.d
if { $nginx_new || $pg_new; } && [ ! -e "$policy" ]; then
  # Debian's maintainer scripts ask policy-rc.d before starting a service; 101 = not allowed.
  # An existing policy-rc.d is kept as it is (and whatever it lets start is stopped below).
  $sudo sh -c "printf '#!/bin/sh\n# numaload scripts/setup-system.sh: no service starts while installing\nexit 101\n' > $policy && chmod 755 $policy"
  trap '$sudo rm -f "$policy"' EXIT
fi
echo "installing system packages: ${need[*]}" >&2
$sudo apt-get update -q >/dev/null
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q "${need[@]}" >/dev/null
if $nginx_new; then
  # numaload starts its own nginx per replica; the packaged service would hold port 80 (now
  # where the policy let it start, and at every boot where systemd runs).
  if [ -d /run/systemd/system ]; then
    $sudo systemctl disable --now nginx.service >/dev/null 2>&1 || true
  elif command -v service >/dev/null 2>&1; then
    $sudo service nginx stop >/dev/null 2>&1 || true
  fi
  if [ -s /run/nginx.pid ] && $sudo kill -0 "$(cat /run/nginx.pid)" 2>/dev/null; then
    $sudo kill -QUIT "$(cat /run/nginx.pid)" || true
  fi
fi
if $pg_new; then
  # The store tests start a throw-away cluster of their own; the package's cluster (port 5432)
  # must not be left running by this script.
  if [ -d /run/systemd/system ]; then
    $sudo systemctl disable --now postgresql.service >/dev/null 2>&1 || true
  fi
  command -v pg_ctlcluster >/dev/null 2>&1 && for c in /etc/postgresql/*/*; do
    [ -d "$c" ] || continue
    $sudo pg_ctlcluster "$(basename "$(dirname "$c")")" "$(basename "$c")" stop >/dev/null 2>&1 || true
  done
fi
