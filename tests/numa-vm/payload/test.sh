#!/bin/sh
# Runs as root inside the guest (PID 1's child; see scripts/lab/numa-vm.sh). Prints what the host
# checks between unique markers: the kernel's node CPU lists, `numaload topology --json` and the
# result JSON (both base64, so console noise cannot corrupt them), and numaload's own report.
export PATH=/usr/local/bin:/bin RUST_BACKTRACE=1
M=NUMALOAD-VM-7f3c
echo "$M uname $(uname -r) nproc $(nproc)"

echo "$M sysfs-begin"
for d in /sys/devices/system/node/node[0-9]*; do echo "${d##*/node} $(cat "$d/cpulist")"; done
echo "$M sysfs-end"

numaload topology
numaload topology --json > /tmp/topology.json; trc=$?
echo "$M topology-rc $trc"
echo "$M topology-begin"; base64 /tmp/topology.json; echo "$M topology-end"

numaload run /numa-vm/plan.toml --out /tmp/result.json; rc=$?
echo "$M run-rc $rc"
if [ -s /tmp/result.json ]; then
  echo "$M result-begin"; base64 /tmp/result.json; echo "$M result-end"
fi
[ "$trc" -eq 0 ] || exit "$trc"
exit "$rc"
