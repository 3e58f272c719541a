#!/usr/bin/env bash
# tests/netns/run.sh: numaload controller and agents on different "hosts" (network namespaces on
# one bridge, scripts/lab/netns-hosts.sh), talking gRPC over a real virtual network.
#
#   sudo tests/netns/run.sh            # root; Debian 12; about 45 s once built
#
# Outside: installs what is missing (iproute2, python3, procps; scripts/setup-system.sh for the
# build), builds `cargo build --locked -p numaload` (reuses target/), then re-executes itself under
# `unshare --net`: a fresh network namespace with only lo and no route out, in which it creates
# hosts ctl agent1 agent2 agent3 (PREFIX per run), so no test traffic can leave the machine.
# Checks print one PASS/FAIL line each; exit status 1 if any failed; total time at the end.
# Env: NUMALOAD=path skips the build and tests that binary; PREFIX names the namespaces (default
# nlt<pid>); KEEP=1 keeps the work directory (kept anyway on failure); NETNS_TEST_TIMEOUT bounds
# the whole namespace part (default 300 s).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
NETNS="$ROOT/scripts/lab/netns-hosts.sh"
now() { echo "${EPOCHREALTIME/./}"; }                      # microseconds
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", (b - a) / 1e6 }'; }

# ---------------------------------------------------------------- outside: prerequisites, build
if [ "${NUMALOAD_NETNS_INNER:-}" != 1 ]; then
  T_START=$(now)
  NUMALOAD=$("$ROOT/scripts/lab/prepare.sh" tests/netns/run.sh)
  echo "prerequisites and build: $(secs "$T_START" "$(now)") s" >&2
  export PREFIX=${PREFIX:-nlt$$}
  rc=0
  timeout -k 10 "${NETNS_TEST_TIMEOUT:-300}" \
    unshare --net env NUMALOAD_NETNS_INNER=1 NUMALOAD="$NUMALOAD" T_START="$T_START" bash "$0" "$@" || rc=$?
  # The inner part tears down on exit; if it was killed before it could (time limit), do it here,
  # again from a namespace without a route out.
  if ip netns list | awk '{print $1}' | grep -q "^$PREFIX-"; then
    echo "tests/netns/run.sh: namespaces $PREFIX-* left behind (exit $rc): tearing down" >&2
    timeout 60 unshare --net "$NETNS" down || true
    [ "$rc" -ne 0 ] || rc=1
  fi
  exit "$rc"
fi

# ---------------------------------------------------------------- inside `unshare --net`
set +e   # checks report failures themselves; setup steps use `|| die`
T_INNER=$(now)
export PREFIX=${PREFIX:?}
export HOSTS="ctl agent1 agent2 agent3"
PORT=7070
# Agents the smoke run talks to, all at once (one --agent each).
RUN_AGENTS=(agent1 agent2 agent3)
WORK=$(mktemp -d /tmp/numaload-netns.XXXXXX)
FAILS=0
declare -A AGENT_PID ADDR
BG_PIDS=()

pass() { echo "PASS: $*"; }
fail() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }
check() { local what=$1; shift; if "$@"; then pass "$what"; else fail "$what"; fi; }
die() { fail "$*"; exit 1; }
nsx() { "$NETNS" exec "$@"; }
# wait_until SECONDS CMD...: polls CMD (each probe bounded by its own timeout) until it succeeds.
wait_until() {
  local deadline=$(( $(now) + $1 * 1000000 )); shift
  until "$@"; do [ "$(now)" -ge "$deadline" ] && return 1; sleep 0.1; done
}
# A process that runs (exists and is not a zombie).
running() { local s; s=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1); [ -n "$s" ] && [ "$s" != Z ]; }
# Pids of running processes whose command line contains `numaload target`.
targets_running() { pgrep -f 'numaload target' || true; }
# Replica children of an agent (the replicas are the agent's direct children).
# children_of PID: the agent's children but its orphan watchdog (numaload-reaper, a fork of the
# agent that lives as long as it does and kills replicas' process groups if the agent dies).
children_of() { ps --ppid "$1" -o pid=,comm= | awk '$2 != "numaload-reaper" {print $1}'; }
replicas_of() { local p; for p in $(pgrep -P "$1"); do tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -q 'numaload target' && echo "$p"; done; }
count_at_least() { [ "$(replicas_of "$1" | wc -l)" -ge "$2" ]; }
is_agent() { tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | grep -q 'numaload agent --listen'; }
listens() { timeout 2 "$NETNS" exec ctl bash -c "exec 3<>/dev/tcp/$1/$PORT" 2>/dev/null; }
still_running() { kill -0 "$1" 2>/dev/null; }
exited() { ! kill -0 "$1" 2>/dev/null; }
none_of_running() { local p live; live=$(targets_running); for p in "$@"; do grep -qx "$p" <<<"$live" && return 1; done; return 0; }
ns_empty() { [ -z "$("$NETNS" pids "$1" 2>/dev/null)" ]; }
log_has() { grep -q -- "$2" "$1" 2>/dev/null; }

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  for p in "${BG_PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
  "$NETNS" down
  local left; left=$(ip netns list | awk '{print $1}' | grep "^$PREFIX-")
  [ -z "$left" ] || fail "teardown: namespaces left: $left"
  [ "$FAILS" -eq 0 ] && [ "$rc" -ne 0 ] && fail "aborted (exit $rc)"
  if [ "$FAILS" -eq 0 ] && [ -z "${KEEP:-}" ]; then rm -rf "$WORK"; else echo "logs and results kept in $WORK"; fi
  echo "namespace part: $(secs "$T_INNER" "$(now)") s; total: $(secs "${T_START:-$T_INNER}" "$(now)") s"
  if [ "$FAILS" -eq 0 ]; then echo "netns test: all checks passed"; exit 0; fi
  echo "netns test: $FAILS check(s) FAILED"; exit 1
}
trap cleanup EXIT
trap 'echo "interrupted" >&2; exit 130' INT
trap 'echo "terminated (time limit?)" >&2; exit 143' TERM

[ -z "$(ip route show default)" ] || die "not in a namespace without a default route"
echo "numaload: $NUMALOAD; namespaces $PREFIX-*; work dir $WORK"

# ---------------------------------------------------------------- hosts and agents
"$NETNS" up || die "netns-hosts.sh up ($HOSTS)"
for h in $HOSTS; do ADDR[$h]=$("$NETNS" ip-of "$h"); done
pass "hosts up: $(for h in $HOSTS; do printf '%s=%s ' "$h" "${ADDR[$h]}"; done)"
# The agents serve mutual TLS only: a fleet CA and certificates for their addresses.
"$NUMALOAD" certs --dir "$WORK/tls" --host "${ADDR[agent1]}" --host "${ADDR[agent2]}" \
  --host "${ADDR[agent3]}" 2>/dev/null || die "numaload certs"
TLS=(--tls-dir "$WORK/tls")
for a in agent1 agent2 agent3; do
  "$NETNS" exec "$a" "$NUMALOAD" agent --listen "${ADDR[$a]}:$PORT" "${TLS[@]}" >"$WORK/$a.log" 2>&1 &
  AGENT_PID[$a]=$!   # bash, netns-hosts.sh and `ip netns exec` all exec: this is the agent itself
  disown "${AGENT_PID[$a]}"   # killed on purpose later: no job-status noise
done
for a in agent1 agent2 agent3; do
  if wait_until 15 listens "${ADDR[$a]}"; then
    check "$a: numaload agent (pid ${AGENT_PID[$a]}) listens on ${ADDR[$a]}:$PORT, reachable from ctl" \
      is_agent "${AGENT_PID[$a]}"
  else
    fail "$a: agent not reachable on ${ADDR[$a]}:$PORT from ctl within 15 s: $(tail -3 "$WORK/$a.log")"
  fi
done
[ "$FAILS" -eq 0 ] || die "agents did not come up"

# ---------------------------------------------------------------- 1. a normal run over the network
echo "== smoke: plans/smoke.toml from ctl on ${RUN_AGENTS[*]}"
A1="${ADDR[agent1]}:$PORT"
agent_args=(); for a in "${RUN_AGENTS[@]}"; do agent_args+=(--agent "${ADDR[$a]}:$PORT"); done
t=$(now)
timeout -k 5 90 "$NETNS" exec ctl "$NUMALOAD" run "$HERE/plans/smoke.toml" --allow-suspect "${agent_args[@]}" "${TLS[@]}" \
  --out "$WORK/smoke.json" --quiet >"$WORK/smoke.out" 2>&1
rc=$?
check "smoke: controller exits 0 (exit $rc, $(secs "$t" "$(now)") s)" [ "$rc" -eq 0 ]
[ "$rc" -eq 0 ] || sed 's/^/    /' "$WORK/smoke.out" | tail -20
python3 "$HERE/check.py" smoke "$WORK/smoke.json" "$A1" | sed 's/^\(PASS\|FAIL\): /\1: smoke: /' \
  | tee "$WORK/smoke.checks"
FAILS=$((FAILS + $(grep -c '^FAIL' "$WORK/smoke.checks")))
mapfile -t pids < <(python3 "$HERE/check.py" pids "$WORK/smoke.json" 2>/dev/null)
gone=1; for p in "${pids[@]}"; do nsx agent1 bash -c "kill -0 $p" 2>/dev/null && gone=0; done
check "smoke: the result covers all ${#RUN_AGENTS[@]} agents, not degraded" python3 -c "
import json, sys
r = json.load(open('$WORK/smoke.json'))
sys.exit(not (len(r['hosts']) == ${#RUN_AGENTS[@]} and not r['degraded']
              and all(len(l['agents']) == ${#RUN_AGENTS[@]} for l in r['layouts'])))"
# Without the fleet's certificate the controller gets nothing from an agent.
timeout -k 5 30 "$NETNS" exec ctl "$NUMALOAD" run "$HERE/plans/smoke.toml" --allow-suspect --agent "${ADDR[agent3]}:$PORT" \
  --quiet >"$WORK/notls.out" 2>&1
rc=$?
check "tls: a controller without the fleet's certificate is refused by agent3 (exit $rc)" \
  [ "$rc" -ne 0 -a "$rc" -ne 124 -a -z "$(children_of "${AGENT_PID[agent3]}")" ]
check "smoke: replica pids ${pids[*]:-?} are gone after the run (kill -0 fails in agent1)" [ "$gone" -eq 1 -a ${#pids[@]} -gt 0 ]
check "smoke: agent1 has no children left" [ -z "$(children_of "${AGENT_PID[agent1]}")" ]

# ---------------------------------------------------------------- 2. agent killed mid-run
# fault_run NAME AGENT PLAN: starts plans/PLAN.toml from ctl against AGENT in the background, waits until
# it measures, records the replica pids; sets CTL_PID, REPLICAS.
fault_run() {
  local name=$1 agent=$2 plan=$3
  timeout -k 5 150 "$NETNS" exec ctl "$NUMALOAD" run "$HERE/plans/$plan.toml" --agent "${ADDR[$agent]}:$PORT" \
    "${TLS[@]}" --out "$WORK/$name.json" >"$WORK/$name.out" 2>&1 &
  CTL_PID=$!; BG_PIDS+=("$CTL_PID")
  if ! wait_until 20 log_has "$WORK/$name.out" "measuring"; then
    fail "$name: run never reached measuring within 20 s: $(tail -3 "$WORK/$name.out")"; return 1
  fi
  wait_until 5 count_at_least "${AGENT_PID[$agent]}" 2
  mapfile -t REPLICAS < <(replicas_of "${AGENT_PID[$agent]}")
  check "$name: $agent runs the layout's replicas (pids ${REPLICAS[*]:-none})" [ ${#REPLICAS[@]} -eq 2 ]
  sleep 2   # well into the measurement (20 s or more)
}
# wait_controller NAME BOUND AGENT_ADDR SINCE: the controller must exit non-zero within BOUND s of
# SINCE, naming the agent; waits up to 90 s in all to measure a slow exit, then kills it.
wait_controller() {
  local name=$1 bound=$2 addr=$3 since=$4 rc took
  wait_until 90 exited "$CTL_PID"
  took=$(secs "$since" "$(now)")
  if still_running "$CTL_PID"; then
    fail "$name: controller still running ${took} s after the fault (bound $bound s); killed it"
    kill -9 "$CTL_PID" 2>/dev/null; wait "$CTL_PID" 2>/dev/null; return
  fi
  wait "$CTL_PID"; rc=$?
  check "$name: controller exits within $bound s of the fault (took $took s)" \
    awk -v t="$took" -v b="$bound" 'BEGIN { exit !(t <= b) }'
  check "$name: controller exit status is non-zero (exit $rc)" [ "$rc" -ne 0 -a "$rc" -ne 124 -a "$rc" -ne 137 ]
  local line; line=$(grep -m1 -E '^ +error +|numaload: error' "$WORK/$name.out")
  check "$name: the error names the agent $addr: \"${line:0:200}\"" grep -q -- "$addr" <<<"$line"
}

echo "== kill: SIGKILL agent1 while plans/long.toml measures"
if fault_run kill agent1 long; then
  t=$(now)
  kill -9 "${AGENT_PID[agent1]}"
  wait_controller kill 30 "$A1" "$t"
  wait_until 5 none_of_running "${REPLICAS[@]}"
  check "kill: no replica of the killed agent survives (pgrep -f 'numaload target' lists none of ${REPLICAS[*]}, $(secs "$t" "$(now)") s after the kill)" \
    none_of_running "${REPLICAS[@]}"
  check "kill: nothing runs in the agent1 namespace any more" wait_until 5 ns_empty agent1
  # An agent that restarts (as systemd's Restart=on-failure would) accepts the next run.
  "$NETNS" exec agent1 "$NUMALOAD" agent --listen "$A1" "${TLS[@]}" >"$WORK/agent1-restarted.log" 2>&1 &
  AGENT_PID[agent1]=$!; disown "${AGENT_PID[agent1]}"
  if wait_until 15 listens "${ADDR[agent1]}"; then
    t=$(now)
    timeout -k 5 90 "$NETNS" exec ctl "$NUMALOAD" run "$HERE/plans/smoke.toml" --allow-suspect --agent "$A1" "${TLS[@]}" \
      --out "$WORK/restarted.json" --quiet >"$WORK/restarted.out" 2>&1
    rc=$?
    check "kill: the restarted agent1 runs a new plan (exit $rc, $(secs "$t" "$(now)") s)" [ "$rc" -eq 0 ]
  else
    fail "kill: agent1 did not listen again within 15 s of its restart: $(tail -3 "$WORK/agent1-restarted.log")"
  fi
fi

# ---------------------------------------------------------------- 3. agent partitioned mid-run
echo "== partition: pull agent2's cable while plans/partition.toml (60 s) measures"
A2="${ADDR[agent2]}:$PORT"
if fault_run partition agent2 partition; then
  t=$(now)
  "$NETNS" partition agent2
  # HTTP/2 keep-alive on the controller: ping every 5 s, 10 s to answer -> gone within ~15 s.
  wait_controller partition 30 "$A2" "$t"
  # The agent must not measure for nobody: its keep-alive (10 s / 20 s) ends the stream, which
  # cancels the run and stops its replicas: within 30 s + stop grace. Left alone, the 60 s run
  # would go on measuring for nobody until ~58 s after the partition.
  wait_until 45 none_of_running "${REPLICAS[@]}"
  check "partition: agent2's replicas ${REPLICAS[*]} stop while it is partitioned (within 45 s; $(secs "$t" "$(now)") s after the partition)" \
    none_of_running "${REPLICAS[@]}"
  "$NETNS" heal agent2
  t=$(now)
  timeout -k 5 90 "$NETNS" exec ctl "$NUMALOAD" run "$HERE/plans/smoke.toml" --allow-suspect --agent "$A2" "${TLS[@]}" \
    --out "$WORK/healed.json" --quiet >"$WORK/healed.out" 2>&1
  rc=$?
  check "partition: after heal, agent2 runs a new plan (exit $rc, $(secs "$t" "$(now)") s)" [ "$rc" -eq 0 ]
  [ "$rc" -eq 0 ] || sed 's/^/    /' "$WORK/healed.out" | tail -5
fi

# ---------------------------------------------------------------- 4. Ctrl-C on the controller
echo "== cancel: SIGINT to the controller while plans/long.toml measures on agent3"
if fault_run cancel agent3 long; then
  t=$(now)
  kill -INT "$CTL_PID"   # timeout(1) forwards it to the controller
  wait_until 30 exited "$CTL_PID"
  wait "$CTL_PID"; rc=$?
  check "cancel: controller exits 4 (a cancelled run is not to be trusted) within 30 s of Ctrl-C (exit $rc, $(secs "$t" "$(now)") s)" [ "$rc" -eq 4 ]
  check "cancel: the report says the run was cancelled" grep -q "cancelled" "$WORK/cancel.out"
  wait_until 10 none_of_running "${REPLICAS[@]}"
  check "cancel: agent3's replicas ${REPLICAS[*]} are gone ($(secs "$t" "$(now)") s after Ctrl-C)" \
    none_of_running "${REPLICAS[@]}"
fi

check "agent3 still listens after the cancel" listens "${ADDR[agent3]}"
check "agent2 still runs" running "${AGENT_PID[agent2]}"

# ---------------------------------------------------------------- 5. load from other hosts
# agent1 runs a second agent (port 7071) whose replicas listen on its bridge address; agent2 and
# agent3 drive them as load agents.
echo "== remote: replicas on agent1 (replica_address ${ADDR[agent1]}), load from agent2 and agent3"
SUT="${ADDR[agent1]}:7071"
printf 'replica_address = "%s"\n' "${ADDR[agent1]}" >"$WORK/sut.toml"
"$NETNS" exec agent1 "$NUMALOAD" agent --listen "$SUT" --config "$WORK/sut.toml" "${TLS[@]}" >"$WORK/sut.log" 2>&1 &
SUT_PID=$!; disown "$SUT_PID"
sut_listens() { timeout 2 "$NETNS" exec ctl bash -c "exec 3<>/dev/tcp/${ADDR[agent1]}/7071" 2>/dev/null; }
LOADS=(--load-agent "${ADDR[agent2]}:$PORT" --load-agent "${ADDR[agent3]}:$PORT")
# Connections to the replicas as agent1's socket table shows them: the peer address of each
# established connection whose local address is agent1's and port is not the agent's own.
replica_peers() {
  nsx agent1 ss -Htn state established 2>/dev/null \
    | awk -v me="${ADDR[agent1]}" '{ split($3, l, ":"); split($4, p, ":"); if (l[1] == me && l[2] != 7071 && l[2] != 7070) print p[1] }' | sort | uniq -c
}
if wait_until 15 sut_listens; then
  # A plan with load agents against replicas on loopback is refused before anything starts.
  timeout -k 5 60 "$NETNS" exec ctl "$NUMALOAD" run "$HERE/plans/remote.toml" --allow-suspect --agent "$A1" "${LOADS[@]}" \
    "${TLS[@]}" --quiet >"$WORK/loopback.out" 2>&1
  rc=$?
  check "remote: replicas on loopback with load agents are refused, exit 2, naming the agent and replica_address (exit $rc)" \
    [ "$rc" -eq 2 -a -n "$(grep -F -- "--agent $A1" "$WORK/loopback.out" | grep replica_address)" ]
  timeout -k 5 90 "$NETNS" exec ctl "$NUMALOAD" run "$HERE/plans/remote.toml" --allow-suspect --agent "$SUT" "${LOADS[@]}" \
    "${TLS[@]}" --out "$WORK/remote.json" >"$WORK/remote.out" 2>&1 &
  CTL_PID=$!; BG_PIDS+=("$CTL_PID")
  wait_until 30 log_has "$WORK/remote.out" "measuring" && sleep 1.5
  replica_peers >"$WORK/remote.peers"
  mapfile -t RREPS < <(replicas_of "$SUT_PID")
  wait_until 60 exited "$CTL_PID"; wait "$CTL_PID"; rc=$?
  check "remote: the run exits 0 (exit $rc)" [ "$rc" -eq 0 ]
  [ "$rc" -eq 0 ] || sed 's/^/    /' "$WORK/remote.out" | tail -10
  # agent1's own connections (its sampler scraping the replicas' /metrics) are not load.
  check "remote: agent1's socket table shows the plan's 8 connections to the replicas, 4 from each load host, none from elsewhere ($(tr -s ' \n' ' ' <"$WORK/remote.peers"))" \
    python3 -c "
import sys
peers = {l.split()[1]: int(l.split()[0]) for l in open('$WORK/remote.peers') if l.strip()}
peers.pop('${ADDR[agent1]}', None)
sys.exit(not (peers == {'${ADDR[agent2]}': 4, '${ADDR[agent3]}': 4}))"
  python3 "$HERE/check.py" remote "$WORK/remote.json" "$SUT" "${ADDR[agent2]}:$PORT" "${ADDR[agent3]}:$PORT" \
    | sed 's/^\(PASS\|FAIL\): /\1: remote: /' | tee "$WORK/remote.checks"
  FAILS=$((FAILS + $(grep -c '^FAIL' "$WORK/remote.checks")))
  wait_until 5 none_of_running "${RREPS[@]}"
  check "remote: agent1's replicas ${RREPS[*]:-none} are gone after the run" [ ${#RREPS[@]} -eq 2 ] && none_of_running "${RREPS[@]}"
  check "remote: the agent under test has no children left" [ -z "$(children_of "$SUT_PID")" ]

  # A load agent that cannot reach the replicas (no route from agent2 to agent1): its part of
  # the layout fails with one line naming the replica's address and the OS error, the others
  # measure, and nothing is left running.
  nsx agent2 ip route add unreachable "${ADDR[agent1]}/32"
  t=$(now)
  timeout -k 5 90 "$NETNS" exec ctl "$NUMALOAD" run "$HERE/plans/remote.toml" --agent "$SUT" "${LOADS[@]}" \
    "${TLS[@]}" --out "$WORK/unreachable.json" >"$WORK/unreachable.out" 2>&1
  rc=$?
  nsx agent2 ip route del unreachable "${ADDR[agent1]}/32"
  line=$(grep -m1 -- "cannot connect to replica" "$WORK/unreachable.out")
  check "unreachable: the run exits 4 (degraded) in $(secs "$t" "$(now)") s, one line naming agent2, the replica's address and the OS error: \"${line:0:220}\"" \
    [ "$rc" -eq 4 ] && grep -q -- "${ADDR[agent2]}:$PORT" <<<"$line" && grep -q -- "at ${ADDR[agent1]}:" <<<"$line" \
    && grep -q "os error" <<<"$line"
  check "unreachable: nothing is left running under agent1's or agent2's agent" \
    [ -z "$(children_of "$SUT_PID")" -a -z "$(children_of "${AGENT_PID[agent2]}")" ]

  # A load agent killed mid-run: the result is degraded (exit 4), and no replica is left.
  echo "== remote-kill: SIGKILL agent3 (a load agent) while plans/remote-long.toml measures"
  timeout -k 5 120 "$NETNS" exec ctl "$NUMALOAD" run "$HERE/plans/remote-long.toml" --agent "$SUT" "${LOADS[@]}" \
    "${TLS[@]}" --out "$WORK/remote-kill.json" >"$WORK/remote-kill.out" 2>&1 &
  CTL_PID=$!; BG_PIDS+=("$CTL_PID")
  if wait_until 30 log_has "$WORK/remote-kill.out" "measuring"; then
    sleep 2
    mapfile -t REPLICAS < <(replicas_of "$SUT_PID")
    t=$(now)
    kill -9 "${AGENT_PID[agent3]}"
    wait_until 60 exited "$CTL_PID"; wait "$CTL_PID"; rc=$?
    check "remote-kill: the controller exits 4 (degraded) within 60 s (exit $rc, $(secs "$t" "$(now)") s)" [ "$rc" -eq 4 ]
    check "remote-kill: the result is degraded and names agent3" python3 -c "
import json, sys
r = json.load(open('$WORK/remote-kill.json'))
lost = [a['agent'] for a in r['agents'] if a['status'] == 'lost']
sys.exit(not (r['degraded'] and lost == ['${ADDR[agent3]}:$PORT']))"
    wait_until 30 none_of_running "${REPLICAS[@]}"
    check "remote-kill: agent1's replicas ${REPLICAS[*]:-none} are gone ($(secs "$t" "$(now)") s after the kill)" \
      [ ${#REPLICAS[@]} -eq 2 ] && none_of_running "${REPLICAS[@]}"
    check "remote-kill: nothing runs in agent3's namespace any more" wait_until 5 ns_empty agent3
  else
    fail "remote-kill: the run never reached measuring within 30 s: $(tail -3 "$WORK/remote-kill.out")"
  fi
  kill "$SUT_PID" 2>/dev/null
else
  fail "remote: the agent under test did not listen on $SUT within 15 s: $(tail -3 "$WORK/sut.log")"
fi
