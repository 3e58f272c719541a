#!/usr/bin/env bash
# numa-vm.sh: boot a real Linux guest with several NUMA nodes (QEMU, software emulation) and run a test in it.
#   numa-vm.sh prepare             fetch a Debian cloud kernel, busybox and numactl into $W (no system install);
#                                  does nothing when $W already holds them (FORCE=1 fetches again)
#   numa-vm.sh run PAYLOAD_DIR     boot; PAYLOAD_DIR is copied to the guest's / and its test.sh runs as root;
#                                  exits with test.sh's status (124 if TIMEOUT ran out, 99 if the guest printed
#                                  no status); the console, without \r, is in $W/console.log
#   Env: NODES=2 CPUS_PER_NODE=2 MEM_PER_NODE_MB=512 TIMEOUT=600 W=<work dir, default ./.numa-vm> QUIET=1 (no echo)
#        QEMU_EXTRA (more QEMU arguments, split on blanks: e.g. a network card) NETNS (run QEMU in this network
#        namespace, where the card's tap device is)
# Adapted from the lab recipe proven on these machines (kept in the repository: tests never read it elsewhere).
# Host needs: apt-get install qemu-system-x86 qemu-utils cpio (install the qemu packages together: qemu-system-x86
# alone replaces a newer qemu-utils). /dev/kvm here cannot boot stock kernels: TCG only, about 17x slower than the
# host, so use the guest for correctness (pinning, binding, topology), not speed.
# The guest has no network (loopback is up) unless QEMU_EXTRA gives it a card (the virtio network driver's modules
# are in /lib/numa-vm-net): carry binaries statically linked or with every library `ldd` lists at the same paths,
# plus the loader, and read results from the console.
set -euo pipefail
W=${W:-$PWD/.numa-vm}; mkdir -p "$W"; W=$(cd "$W" && pwd)
NODES=${NODES:-2}; CPN=${CPUS_PER_NODE:-2}; MPN=${MEM_PER_NODE_MB:-512}
case "${1:-}" in
prepare)
  if [ -z "${FORCE:-}" ] && [ -s "$W/vmlinuz" ] && [ -s "$W/base.cpio.gz" ] && [ -f "$W/base.net" ]; then
    echo "numa-vm.sh: $W already prepared (FORCE=1 to fetch again)" >&2; exit 0
  fi
  cd "$W"; rm -f ./*.deb
  KPKG=$(apt-cache depends linux-image-cloud-amd64 | awk '/Depends: linux-image-/{print $2; exit}')
  [ -n "$KPKG" ] || { echo "numa-vm.sh: apt knows no linux-image-cloud-amd64 (run apt-get update)" >&2; exit 2; }
  apt-get download -q "$KPKG" busybox-static numactl libnuma1 >/dev/null
  rm -rf x base; mkdir x; for d in ./*.deb; do dpkg-deb -x "$d" x; done
  cp "x/boot/vmlinuz-${KPKG#linux-image-}" vmlinuz.new
  mkdir -p base/{bin,proc,sys,dev,tmp,lib/x86_64-linux-gnu,lib64}
  cp x/bin/busybox x/usr/bin/numactl base/bin/
  cp -a x/usr/lib/x86_64-linux-gnu/libnuma.so.1* base/lib/x86_64-linux-gnu/
  cp -L /lib/x86_64-linux-gnu/libc.so.6 base/lib/x86_64-linux-gnu/; cp -L /lib64/ld-linux-x86-64.so.2 base/lib64/
  # The virtio network driver and what it needs, for a guest given a card (loaded in this order by the test).
  mkdir -p base/lib/numa-vm-net
  for m in virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci failover net_failover virtio_net; do
    f=$(find x/lib/modules -name "$m.ko" | head -n 1)
    [ -n "$f" ] || { echo "numa-vm.sh: kernel module $m.ko not in $KPKG" >&2; exit 2; }
    cp "$f" base/lib/numa-vm-net/
  done
  cat > base/init <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin; mount -t proc p /proc; mount -t sysfs s /sys; mount -t devtmpfs d /dev
mount -t tmpfs t /tmp; ip link set lo up
cd /; sh /test.sh; echo "GUEST-TEST-RC=$?"; poweroff -f
INIT
  chmod +x base/init; (cd base && find . | cpio -o -H newc --quiet | gzip -1) > base.cpio.gz.new
  # Written last, so an interrupted prepare is not mistaken for a finished one.
  mv base.cpio.gz.new base.cpio.gz; mv vmlinuz.new vmlinuz; touch base.net; rm -rf x ./*.deb ;;
run)
  [ -s "$W/base.cpio.gz" ] && [ -s "$W/vmlinuz" ] || { echo "numa-vm.sh: run 'prepare' first" >&2; exit 2; }
  [ -f "${2:-}/test.sh" ] || { echo "numa-vm.sh: run needs a PAYLOAD_DIR holding test.sh" >&2; exit 2; }
  (cd "$2" && find . | cpio -o -H newc --quiet | gzip -1) > "$W/payload.cpio.gz"
  cat "$W/base.cpio.gz" "$W/payload.cpio.gz" > "$W/initrd.cpio.gz"   # later archives overlay earlier ones
  numa=()
  for ((n = 0; n < NODES; n++)); do
    numa+=(-object "memory-backend-ram,id=m$n,size=${MPN}M"
           -numa "node,nodeid=$n,cpus=$((n * CPN))-$((n * CPN + CPN - 1)),memdev=m$n")
  done
  out=/dev/stdout; [ -n "${QUIET:-}" ] && out=/dev/null
  in_netns=(); [ -n "${NETNS:-}" ] && in_netns=(ip netns exec "$NETNS")
  read -r -a extra <<<"${QEMU_EXTRA:-}"
  set +e
  timeout "${TIMEOUT:-600}" "${in_netns[@]}" qemu-system-x86_64 -accel tcg -nographic -no-reboot -nic none \
    -m $((NODES * MPN)) -smp $((NODES * CPN)) "${numa[@]}" "${extra[@]}" \
    -kernel "$W/vmlinuz" -initrd "$W/initrd.cpio.gz" -append "console=ttyS0 panic=-1 loglevel=3 rdinit=/init" \
    </dev/null | tr -d '\r' | tee "$W/console.log" >"$out"
  qemu_rc=${PIPESTATUS[0]}
  set -e
  if [ "$qemu_rc" -eq 124 ]; then
    echo "numa-vm.sh: the guest did not finish within TIMEOUT=${TIMEOUT:-600}s" >&2; exit 124
  fi
  rc=$(sed -n 's/.*GUEST-TEST-RC=\([0-9]*\).*/\1/p' "$W/console.log" | tail -n 1)
  [ -n "$rc" ] || echo "numa-vm.sh: the guest printed no GUEST-TEST-RC (qemu exit $qemu_rc)" >&2
  exit "${rc:-99}" ;;
*) sed -n '2,9p' "$0" >&2; exit 2 ;;
esac
