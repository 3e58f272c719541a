#!/usr/bin/env bash
# tests/numa-vm/run.sh: prove numaload's per-node placement on a real multi-node kernel.
# Boots a 4-node x 2-CPU Linux guest (QEMU TCG, scripts/lab/numa-vm.sh), runs
# `numaload run tests/numa-vm/plan.toml` in it and checks the result JSON (tests/numa-vm/check.py):
# each per-node replica exactly on its node's CPUs with memory bound and resident there, and an
# unpinned control replica on every CPU with the default policy; then the Go test server
# (tests/numa-vm/go-*.toml) per node with GOMAXPROCS = the node's CPUs against one process with
# all CPUs, every thread verified; then the highest open-loop rate from one load CPU and from two
# (tests/numa-vm/loadcpus-plan.toml, recorded in $W/loadcpus.json); then a virtio network card on
# NUMA node 2, backed by a tap device in a network namespace this script creates, where a load
# agent drives one process, per-node and NIC-local layouts at replicas in the guest
# (tests/numa-vm/nic-*.toml, checked by nic.py). See tests/numa-vm/README.md.
# Debian 12, as root (or with sudo for the apt steps). Env: NODES=4 CPUS_PER_NODE=2
# MEM_PER_NODE_MB=512 TIMEOUT=300 (seconds for the guest) W=target/numa-vm (cache and outputs)
# LOADCPUS_MIN_RATIO (assert two load CPUs reach this multiple of one's rate on any host).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd); cd "$ROOT"
export NODES=${NODES:-4} CPUS_PER_NODE=${CPUS_PER_NODE:-2} MEM_PER_NODE_MB=${MEM_PER_NODE_MB:-512}
export TIMEOUT=${TIMEOUT:-300} W=${W:-$ROOT/target/numa-vm}
T0=$(date +%s); phase_t=$T0; timings=()
phase() { local now; now=$(date +%s); timings+=("$1 $((now - phase_t))s"); phase_t=$now; }
fail() { echo "numa-vm test FAILED: $*" >&2; exit 1; }
sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
apt_updated=""
apt_update() { [ -n "$apt_updated" ] || { $sudo apt-get update -q >/dev/null; apt_updated=1; }; }

# --- 1. host packages --------------------------------------------------------------------------
scripts/setup-system.sh   # the project's build dependencies (hwloc, udev, protoc), only if missing
if ! command -v qemu-system-x86_64 >/dev/null || ! command -v cpio >/dev/null || ! command -v python3 >/dev/null; then
  echo "installing qemu-system-x86 qemu-utils cpio python3" >&2
  apt_update
  export DEBIAN_FRONTEND=noninteractive
  pkgs=(qemu-system-x86 qemu-utils cpio python3)
  if ! apt-get install -s -q --no-install-recommends "${pkgs[@]}" >/dev/null 2>&1; then
    # An installed qemu-utils newer than the archive's qemu-system-x86 (a backport, as on some
    # images) breaks it: install the matching qemu-utils with it rather than let apt remove it.
    v=$(apt-cache policy qemu-system-x86 | awk '/Candidate:/{print $2}')
    echo "installed qemu-utils is newer than qemu-system-x86 $v: installing qemu-utils=$v with it" >&2
    pkgs=(--allow-downgrades qemu-system-x86 "qemu-utils=$v" cpio python3)
  fi
  $sudo apt-get install -y -q --no-install-recommends "${pkgs[@]}" >/dev/null
fi
phase packages

# --- 2. build ----------------------------------------------------------------------------------
cargo build --release --locked -p numaload
BIN=$ROOT/target/release/numaload
phase build

# --- 3. payload: the binary, every library ldd lists at the same path, the loader, the plan ----
P=$W/payload; rm -rf "$P"; mkdir -p "$P/usr/local/bin" "$P/numa-vm"
cp tests/numa-vm/payload/test.sh "$P/test.sh"; cp tests/numa-vm/plan.toml "$P/numa-vm/plan.toml"
# The Go test server for the second run: the pure-Go build is static, so it needs no library.
tests/servers/go/build.sh "$W/go" >/dev/null
mkdir -p "$P/usr/local/lib/numaload"; cp "$W/go/go-server" "$P/usr/local/lib/numaload/go-server"
cp tests/numa-vm/go-agent.toml tests/numa-vm/go-plan.toml tests/numa-vm/loadcpus-plan.toml "$P/numa-vm/"
cp tests/numa-vm/nic-agent.toml tests/numa-vm/nic-plan.toml "$P/numa-vm/"
# The NIC run's fleet certificates: the load agent's address in the host's namespace and the
# guest's on the card.
"$BIN" certs --dir "$P/numa-vm/tls" --host 10.254.78.1 --host 10.254.78.2 >/dev/null
if command -v objcopy >/dev/null; then   # debug info only makes the initrd bigger and slower to unpack
  objcopy --strip-debug "$BIN" "$P/usr/local/bin/numaload"
else
  cp "$BIN" "$P/usr/local/bin/numaload"
fi
ldd_out=$(ldd "$BIN")
! grep -q "not found" <<<"$ldd_out" || fail "ldd $BIN: a library is missing on this host:"$'\n'"$ldd_out"
while read -r lib; do
  [ -n "$lib" ] || continue
  mkdir -p "$P$(dirname "$lib")"; cp -L "$lib" "$P$lib"
done < <(awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}' <<<"$ldd_out")
grep -q "ld-linux" <<<"$ldd_out" || fail "ldd names no loader for $BIN"
phase payload

# --- 4. guest ----------------------------------------------------------------------------------
if [ ! -s "$W/vmlinuz" ] || [ ! -s "$W/base.cpio.gz" ]; then apt_update; fi
scripts/lab/numa-vm.sh prepare
phase prepare
echo "booting a ${NODES}-node x ${CPUS_PER_NODE}-CPU guest (TCG, timeout ${TIMEOUT}s)..." >&2
# CPU time of this script's reaped descendants (QEMU among them), in seconds: `times` run in this
# shell (in a subshell it would see only the subshell's own children).
children_cpu_s() { awk 'NR == 2 { split($1, u, "m"); split($2, s, "m"); print u[1] * 60 + u[2] + s[1] * 60 + s[2] }' "$1"; }
# The card's other end: a tap device in a network namespace of this run (only lo and the tap: no
# route out), QEMU started inside it, and a load agent listening there on the tap's address.
NS=nlvm$$; TAP=nlvmtap0
nic_cleanup() {
  [ -n "${LOAD_AGENT:-}" ] && kill "$LOAD_AGENT" 2>/dev/null; wait "${LOAD_AGENT:-}" 2>/dev/null
  ip netns delete "$NS" 2>/dev/null || true
}
trap nic_cleanup EXIT
$sudo ip netns add "$NS"
$sudo ip netns exec "$NS" ip link set lo up
$sudo ip netns exec "$NS" ip tuntap add dev "$TAP" mode tap
$sudo ip netns exec "$NS" ip addr add 10.254.78.1/24 dev "$TAP"
$sudo ip netns exec "$NS" ip link set "$TAP" up
$sudo ip netns exec "$NS" "$BIN" agent --listen 10.254.78.1:7000 --tls-dir "$P/numa-vm/tls" \
  >"$W/nic-load-agent.log" 2>&1 &
LOAD_AGENT=$!
export NETNS=$NS QEMU_EXTRA="-netdev tap,id=n0,ifname=$TAP,script=no,downscript=no \
-device pxb,id=pxb2,bus_nr=64,numa_node=2 \
-device virtio-net-pci,netdev=n0,bus=pxb2,addr=0x1,mac=52:54:00:4e:4c:02"
times > "$W/times.before"; wall0=$(date +%s.%N); load0=$(cut -d' ' -f1 /proc/loadavg)
rm -f "$W/loadcpus.json"
set +e
QUIET=1 scripts/lab/numa-vm.sh run "$P"
guest_rc=$?
set -e
# How much host CPU the guest's 8 vCPUs got: the load-CPU ratio cannot exceed what QEMU gets.
times > "$W/times.after"
qemu_cores=$(awk -v c0="$(children_cpu_s "$W/times.before")" -v c1="$(children_cpu_s "$W/times.after")" \
  -v w0="$wall0" -v w1="$(date +%s.%N)" 'BEGIN { printf "%.2f", (c1 - c0) / (w1 - w0) }')
load1=$(cut -d' ' -f1 /proc/loadavg)
echo "the guest used ${qemu_cores} of this host's $(nproc) CPUs on average (load average ${load0} before, ${load1} after)"
phase guest
CONSOLE=$W/console.log

show_console_tail() {
  echo "----- guest console, last 60 lines ($CONSOLE) -----" >&2
  [ -f "$CONSOLE" ] && tail -n 60 "$CONSOLE" >&2
  echo "-----" >&2
}
[ "$guest_rc" -ne 124 ] || { show_console_tail; fail "the guest did not finish within TIMEOUT=${TIMEOUT}s"; }

# numaload's own report as the guest printed it (everything but the base64 blocks)
echo "----- guest console (base64 blocks left out) -----"
awk '/NUMALOAD-VM-7f3c (topology|result|cgroup-result|go-result|loadcpus-[12]|nic-topology|nic-result)-begin/{skip=1} !skip{print} /NUMALOAD-VM-7f3c (topology|result|cgroup-result|go-result|loadcpus-[12]|nic-topology|nic-result)-end/{skip=0}' "$CONSOLE"
echo "-----"

# --- 5. checks ---------------------------------------------------------------------------------
set +e
python3 tests/numa-vm/check.py "$CONSOLE" --nodes "$NODES" --cpus-per-node "$CPUS_PER_NODE" --save-dir "$W" \
  --host-cpus "$(nproc)" --qemu-cores "$qemu_cores" ${LOADCPUS_MIN_RATIO:+--loadcpus-min-ratio "$LOADCPUS_MIN_RATIO"}
check_rc=$?
set -e
phase check
if [ -s "$W/loadcpus.json" ]; then   # every run's load-CPU figures, for BENCHMARKS.md point 7
  python3 -c 'import json, sys; r = json.load(open(sys.argv[1])); r.update(at=sys.argv[2], load_average=sys.argv[3]); print(json.dumps(r))' \
    "$W/loadcpus.json" "$(date -u +%Y-%m-%dT%H:%MZ)" "$load0 / $load1" >>"$W/loadcpus-history.jsonl"
fi
echo "timings: ${timings[*]}; total $(( $(date +%s) - T0 ))s"
if [ "$check_rc" -ne 0 ] || [ "$guest_rc" -ne 0 ]; then
  show_console_tail
  fail "checks exit $check_rc, guest test.sh exit $guest_rc (console: $CONSOLE; result: $W/result.json)"
fi
echo "numa-vm test passed (result: $W/result.json, console: $CONSOLE)"
