#!/bin/sh
# Runs as root inside the guest (PID 1's child; see scripts/lab/numa-vm.sh). Every run is allowed
# to be suspect (the load generator shares a replica's CPU by design here) and its plan asks no
# delivery (`min_delivered = "0%"`: the emulated guest is slow; these runs check placement, not
# capacity), so each exits 0 unless a layout failed. Prints what the host checks between unique markers: the kernel's node CPU lists, `numaload topology --json` and the
# result JSON (both base64, so console noise cannot corrupt them), and numaload's own report.
# The serial console is a terminal but is read as a log: TERM=dumb keeps numaload's plain phase
# lines instead of its live display.
export PATH=/usr/local/bin:/bin RUST_BACKTRACE=1 TERM=dumb
M=NUMALOAD-VM-7f3c
echo "$M uname $(uname -r) nproc $(nproc)"

# Transparent huge pages would make interleave's spread depend on luck: a 2 MB anonymous fault
# lands whole on one node (512 base pages), so one THP in a small replica's heap skews its pages
# (seen: N3=535 of 621). The checks are about the policy, so they run with base pages only.
thp=/sys/kernel/mm/transparent_hugepage/enabled
[ -w "$thp" ] && echo never > "$thp"
echo "$M thp $(cat "$thp" 2>/dev/null || echo absent)"

echo "$M sysfs-begin"
for d in /sys/devices/system/node/node[0-9]*; do echo "${d##*/node} $(cat "$d/cpulist")"; done
echo "$M sysfs-end"

numaload topology
numaload topology --json > /tmp/topology.json; trc=$?
echo "$M topology-rc $trc"
echo "$M topology-begin"; base64 /tmp/topology.json; echo "$M topology-end"

numaload run /numa-vm/plan.toml --allow-suspect --out /tmp/result.json; rc=$?
echo "$M run-rc $rc"
if [ -s /tmp/result.json ]; then
  echo "$M result-begin"; base64 /tmp/result.json; echo "$M result-end"
fi

# A server nobody here wrote: the Go test server from an agent configuration, per node with
# GOMAXPROCS = the node's CPUs, against one process with every CPU.
numaload run /numa-vm/go-plan.toml --agent-config /numa-vm/go-agent.toml --allow-suspect --out /tmp/go-result.json
grc=$?
echo "$M go-rc $grc"
if [ -s /tmp/go-result.json ]; then
  echo "$M go-result-begin"; base64 /tmp/go-result.json; echo "$M go-result-end"
fi

# cgroup v2: an agent (the run's own, in-process) inside a cgroup with a 1.5-CPU quota and the
# cpuset of nodes 1-2 plans inside it, reports its limits and its replicas' (which inherit it),
# and the target warns about 4 workers on 1.5 CPUs.
cg=/sys/fs/cgroup; crc=skipped
if grep -q " $cg cgroup2 " /proc/mounts || mount -t cgroup2 none "$cg"; then
  cpus="$(cat /sys/devices/system/node/node1/cpulist),$(cat /sys/devices/system/node/node2/cpulist)"
  echo "+cpu +cpuset" > "$cg/cgroup.subtree_control"; mkdir -p "$cg/numaload"
  echo "150000 100000" > "$cg/numaload/cpu.max"
  echo "$cpus" > "$cg/numaload/cpuset.cpus"; echo 1-2 > "$cg/numaload/cpuset.mems"
  cat > /tmp/cgroup-plan.toml <<'PLAN'
name = "numa-vm-cgroup"
[target]
name = "async"
work_us = 10
[load]
mode = "open"
rate = 100
connections = 2
duration = "2s"
warmup = "1s"
reserve_cpus = 0
timeout = "5s"
min_delivered = "0%"
[[layouts]]
name = "per-node-in-cgroup"
replicas = "per-node"
pin = "node"
memory = "local"
threads = 4
PLAN
  sh -c "echo \$\$ > $cg/numaload/cgroup.procs && exec numaload run /tmp/cgroup-plan.toml --allow-suspect --out /tmp/cgroup-result.json"
  crc=$?
  if [ -s /tmp/cgroup-result.json ]; then
    echo "$M cgroup-result-begin"; base64 /tmp/cgroup-result.json; echo "$M cgroup-result-end"
  fi
fi
echo "$M cgroup-rc $crc"

# Load CPUs: the highest open-loop rate the generator keeps up with from one load CPU, then from
# two (`[search]` in the plan), against the same three replicas on nodes 0-2. check.py reads
# both results, the ratio and how the load was spread over the workers.
lrc=0
for n in 1 2; do
  sed "s/^reserve_cpus = 1/reserve_cpus = $n/" /numa-vm/loadcpus-plan.toml > /tmp/loadcpus-$n.toml
  t0=$(date +%s)
  numaload run /tmp/loadcpus-$n.toml --allow-suspect --out /tmp/loadcpus-$n.json; r=$?
  echo "$M loadcpus-$n-rc $r secs $(( $(date +%s) - t0 ))"
  [ "$r" -eq 0 ] || lrc=$r
  if [ -s /tmp/loadcpus-$n.json ]; then
    echo "$M loadcpus-$n-begin"; base64 /tmp/loadcpus-$n.json; echo "$M loadcpus-$n-end"
  fi
done

# The NIC run (when run.sh attached the card): a virtio network card on NUMA node 2, backed by a
# tap device in a network namespace on the host where a load agent listens (10.254.78.1). Its
# driver's modules come with the payload; its interrupts are pinned to node 2's CPUs; this
# guest's agent serves replicas on the card's address and the load agent drives them.
nrc=skipped
if [ -d /lib/numa-vm-net ] && [ -f /numa-vm/nic-plan.toml ]; then
  for m in virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci failover \
    net_failover virtio_net; do
    insmod "/lib/numa-vm-net/$m.ko" || echo "$M nic insmod $m failed"
  done
  nic=""
  for i in $(seq 1 20); do
    nic=$(ls /sys/class/net | grep -v '^lo$' | head -n 1); [ -n "$nic" ] && break; sleep 0.5
  done
  if [ -n "$nic" ]; then
    ip addr add 10.254.78.2/24 dev "$nic"; ip link set "$nic" up
    pci=$(readlink -f "/sys/class/net/$nic/device/..")
    echo "$M nic $nic pci ${pci##*/} numa_node $(cat "$pci/numa_node")"
    node2=$(cat /sys/devices/system/node/node2/cpulist)
    for irq in $(ls "$pci/msi_irqs" 2>/dev/null); do
      echo "$node2" > "/proc/irq/$irq/smp_affinity_list" || echo "$M nic irq $irq not pinned"
    done
    numaload agent --listen 10.254.78.2:7000 --tls-dir /numa-vm/tls --config /numa-vm/nic-agent.toml \
      > /tmp/nic-agent.log 2>&1 &
    agent=$!
    for i in $(seq 1 60); do netstat -ltn 2>/dev/null | grep -q '10.254.78.2:7000' && break; sleep 0.5; done
    numaload topology --json > /tmp/nic-topology.json
    numaload run /numa-vm/nic-plan.toml --agent 10.254.78.2:7000 --load-agent 10.254.78.1:7000 \
      --tls-dir /numa-vm/tls --allow-suspect --out /tmp/nic-result.json
    nrc=$?
    kill "$agent"; wait "$agent" 2>/dev/null
    [ "$nrc" -eq 0 ] || tail -n 20 /tmp/nic-agent.log
    echo "$M nic-topology-begin"; base64 /tmp/nic-topology.json; echo "$M nic-topology-end"
    if [ -s /tmp/nic-result.json ]; then
      echo "$M nic-result-begin"; base64 /tmp/nic-result.json; echo "$M nic-result-end"
    fi
  else
    echo "$M nic no network interface appeared"; nrc=1
  fi
fi
echo "$M nic-rc $nrc"

[ "$trc" -eq 0 ] || exit "$trc"
[ "$grc" -eq 0 ] || exit "$grc"
[ "$crc" = 0 ] || exit 1
[ "$lrc" -eq 0 ] || exit "$lrc"
[ "$nrc" = skipped ] || [ "$nrc" -eq 0 ] || exit "$nrc"
exit "$rc"
