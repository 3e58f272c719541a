#!/usr/bin/env bash
# tests/chaos/run.sh: a seeded schedule of faults over a fleet of network-namespace hosts, with
# the invariants checked after every run (chaos.py says which and how).
#
#   sudo tests/chaos/run.sh                      # root; CHAOS_RUNS runs (default 20), seed 29
#   sudo CHAOS_RUNS=200 tests/chaos/run.sh       # what `make chaos` runs, with a random seed
#   sudo CHAOS_SEED=1234 tests/chaos/run.sh      # replays a schedule (the seed is printed)
#
# Outside: prerequisites (iproute2, python3, procps, util-linux) and `cargo build --locked -p
# numaload` (reused from target/), then itself again under `unshare --net`: a namespace with only
# lo and no route out, in which scripts/lab/netns-hosts.sh makes five hosts on a bridge (ctl,
# sut1 and sut2 run the replicas, load1 and load2 drive them), so no traffic leaves the machine.
# Exit 0 when every run kept every invariant, 1 at the first violation (with the seed and the run).
# Env: NUMALOAD=path skips the build; PREFIX names the namespaces (default nch<pid>); KEEP=1 keeps
# the work directory (kept anyway on a violation); CHAOS_TIMEOUT bounds the namespace part
# (default: 60 s plus 30 s a run).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
NETNS="$ROOT/scripts/lab/netns-hosts.sh"
RUNS=${CHAOS_RUNS:-20}

if [ "${NUMALOAD_CHAOS_INNER:-}" != 1 ]; then
  NUMALOAD=$("$ROOT/scripts/lab/prepare.sh" tests/chaos/run.sh)
  export PREFIX=${PREFIX:-nch$$}
  rc=0
  timeout -k 10 "${CHAOS_TIMEOUT:-$((60 + 30 * RUNS))}" \
    unshare --net env NUMALOAD_CHAOS_INNER=1 NUMALOAD="$NUMALOAD" bash "$0" "$@" || rc=$?
  if ip netns list | awk '{print $1}' | grep -q "^$PREFIX-"; then
    echo "tests/chaos/run.sh: namespaces $PREFIX-* left behind (exit $rc): tearing down" >&2
    timeout 60 unshare --net "$NETNS" down || true
    [ "$rc" -ne 0 ] || rc=1
  fi
  exit "$rc"
fi

# ---------------------------------------------------------------- inside `unshare --net`
export PREFIX=${PREFIX:?}
export HOSTS="ctl sut1 sut2 load1 load2"
[ -z "$(ip route show default)" ] || { echo "not in a namespace without a default route" >&2; exit 1; }
WORK=$(mktemp -d /tmp/numaload-chaos.XXXXXX)
rc=0
"$NETNS" up || { echo "netns-hosts.sh up failed" >&2; exit 1; }
python3 "$HERE/chaos.py" --numaload "$NUMALOAD" --netns "$NETNS" --work "$WORK" --plan "$HERE/plan.toml" \
  --runs "$RUNS" ${CHAOS_SEED:+--seed "$CHAOS_SEED"} || rc=$?
"$NETNS" down
if [ "$rc" -eq 0 ] && [ -z "${KEEP:-}" ]; then rm -rf "$WORK"; else echo "logs and results kept in $WORK"; fi
exit "$rc"
