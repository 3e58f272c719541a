#!/usr/bin/env bash
# netns-hosts.sh: several test "hosts" on one machine, each a network namespace on one bridge.
#   up | down | exec HOST CMD... | ip-of HOST | ns-of HOST | pids HOST | partition HOST | heal HOST
#   | slow HOST RATE | fast HOST
#   HOSTS (default "ctl agent1 agent2 agent3"), PREFIX (default nl; give each parallel run its own),
#   NET (default 10.254.77, a /24). Host i of HOSTS (from 0) gets $NET.(10+i); `ip-of HOST` prints it.
# Adapted from the lab's proven recipe (a copy: tests and CI never read the shared lab directory).
# Safety: the test subnet must never be addressed from a namespace that has a route to the outside,
# or the traffic leaves the machine. So this script refuses to run where a default route exists:
# run the whole test under `unshare --net` (a fresh namespace with only lo), e.g.
#   unshare --net bash -c 'netns-hosts.sh up && ... ; netns-hosts.sh down'
# The namespaces it creates have no route out either: only lo and one veth on the hub's bridge.
# Needs root and iproute2. No delay/loss emulation: this kernel has no netem (tbf rate limits work).
# A partitioned host's open connections hang until a timeout (keep-alive, TCP_USER_TIMEOUT) ends them.
set -euo pipefail
P=${PREFIX:-nl}; NET=${NET:-10.254.77}; HOSTS=${HOSTS:-"ctl agent1 agent2 agent3"}
case "$P" in *[!A-Za-z0-9_.-]*|"") echo "netns-hosts.sh: PREFIX '$P': use letters, digits, _ . -" >&2; exit 2 ;; esac
if [ -n "$(ip route show default 2>/dev/null)" ] || [ -n "$(ip -6 route show default 2>/dev/null)" ]; then
  echo "netns-hosts.sh: this namespace has a default route; run under 'unshare --net'" >&2; exit 2
fi
ip_of() { local i=0; for h in $HOSTS; do [ "$h" = "$1" ] && { echo "$NET.$((10 + i))"; return; }; i=$((i + 1)); done
          echo "netns-hosts.sh: unknown host $1 (HOSTS: $HOSTS)" >&2; return 2; }
ours() { ip netns list | awk '{print $1}' | grep "^$P-" || true; }
case "${1:-}" in
up)
  [ -z "$(ours)" ] || { echo "netns-hosts.sh: namespaces $P-* exist already; pick another PREFIX or run down" >&2; exit 2; }
  ip netns add "$P-hub"; ip -n "$P-hub" link set lo up
  ip -n "$P-hub" link add br0 type bridge; ip -n "$P-hub" link set br0 up
  for h in $HOSTS; do
    addr=$(ip_of "$h")
    ip netns add "$P-$h"
    ip -n "$P-hub" link add "v-$h" type veth peer name eth0 netns "$P-$h"
    ip -n "$P-hub" link set "v-$h" master br0 up
    ip -n "$P-$h" addr add "$addr/24" dev eth0
    ip -n "$P-$h" link set eth0 up; ip -n "$P-$h" link set lo up
  done ;;
down)   # kills whatever still runs inside, then deletes (veths and bridge go with their namespaces)
  for ns in $(ours); do
    for _ in 1 2 3 4 5 6 7 8 9 10; do
      pids=$(ip netns pids "$ns" 2>/dev/null || true)
      [ -z "$pids" ] && break
      kill -9 $pids 2>/dev/null || true; sleep 0.1
    done
    [ -z "$pids" ] || echo "netns-hosts.sh: still running in $ns after SIGKILL: $pids" >&2
    ip netns del "$ns" || true
  done ;;
ip-of)     ip_of "$2" ;;
ns-of)     ip_of "$2" >/dev/null; echo "$P-$2" ;;
pids)      ip_of "$2" >/dev/null; ip netns pids "$P-$2" ;;
exec)      h=$2; shift 2; ip_of "$h" >/dev/null; exec ip netns exec "$P-$h" "$@" ;;
partition) ip -n "$P-hub" link set "v-$2" down ;;   # silent drop, like a pulled cable
heal)      ip -n "$P-hub" link set "v-$2" up ;;
slow)      tc -n "$P-hub" qdisc replace dev "v-$2" root tbf rate "$3" burst 1600 latency 400ms
           tc -n "$P-$2" qdisc replace dev eth0 root tbf rate "$3" burst 1600 latency 400ms ;;
fast)      tc -n "$P-hub" qdisc del dev "v-$2" root 2>/dev/null || true
           tc -n "$P-$2" qdisc del dev eth0 root 2>/dev/null || true ;;
*) sed -n '2,6p' "$0" >&2; exit 2 ;;
esac
