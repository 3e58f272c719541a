#!/usr/bin/env bash
# Point 1: numaload's closed-loop generator vs wrk on the same target, rounds alternating.
# The target (`numaload target`, async, 1 worker, no work) is pinned to CPU 0, the generator
# under test to CPU 1, CONNS keep-alive connections. numaload runs through a real `numaload
# run` (replicas = 1 on CPU 0, load reserved CPU 1); wrk through `taskset -c 1 wrk` against a
# target pinned the same way. Writes the section to $OUT_MD and the median numaload req/s
# (the closed-loop maximum the open-loop steps use) to $WORK/closed_max.
set -euo pipefail
source "$(dirname "$0")/bench-lib.sh"
ROUNDS=${ROUNDS:-8}; SECS=${SECONDS_PER_ROUND:-3}
[ "$QUICK" = 1 ] && { ROUNDS=1; SECS=2; }
# POINT 1 (the issue's goals, CONNS connections) or 1b (few connections, no goal); ALT: the plan
# line of the second numaload run, which turns one closed-loop wait off to show what it does.
POINT=${POINT:-1}; ALT=${ALT:-coalesce = false}
plan "$WORK/closed.toml" closed 0 "$CONNS" "${SECS}s" 1s 1 1
sed "s/^mode = \"closed\"\$/mode = \"closed\"\n$ALT/" "$WORK/closed.toml" >"$WORK/eager.toml"
grep -qx "$ALT" "$WORK/eager.toml"
: >"$WORK/gen.rows"
numaload_round() {
  run_plan "$WORK/closed.toml" "$WORK/closed.json"
  n=$("$PARSE" result-closed "$WORK/closed.json")
}
eager_round() {
  run_plan "$WORK/eager.toml" "$WORK/eager.json"
  e=$("$PARSE" result-closed "$WORK/eager.json")
}
wrk_round() {
  start_server "$BIN" target --variant async --listen 127.0.0.1:0 --threads 1 --work-us 0
  w=$(wrk_load "$SECS"); stop_server
}
for round in $(seq "$ROUNDS"); do
  # Odd rounds numaload first, even rounds wrk first: a drift of the machine during a round
  # favours neither.
  if [ $((round % 2)) = 1 ]; then numaload_round; eager_round; wrk_round
  else wrk_round; eager_round; numaload_round; fi
  echo "  generator round $round ($CONNS connections): numaload $n | $ALT $e | wrk $w" >&2
  echo "$round $n $e $w" >>"$WORK/gen.rows"
done
{
  if [ "$POINT" = 1 ]; then
    echo "## 1. Load generator vs wrk, closed loop, same target"
  else
    echo "## $POINT. The same with few connections ($CONNS): no goal of issue 6's, shown because the server then has no backlog"
  fi
  echo
  echo "- target: \`numaload target --variant async --threads 1 --work-us 0\` pinned to CPU 0; generator pinned to CPU 1; $CONNS keep-alive connections; ${SECS}s measured after 1s warm-up; $ROUNDS rounds, in each the three runs back to back, numaload first in odd rounds and wrk first in even ones"
  echo "- numaload: \`numaload run\` of a closed-loop plan (replicas = 1, reserve_cpus = 1); CPU per request = the load worker thread's CPU time over requests (CLOCK_THREAD_CPUTIME_ID)"
  echo "- numaload runs twice per round: as users get it (closed-loop defaults: a worker with nothing to read naps a quarter of the server's queueing delay, at most 100 µs, before blocking while the server has a backlog, so the saturated server is not made to wake it for each response; with no backlog it busy-polls for a window adapted to its waits, at most 25 µs, before blocking) and with \`$ALT\`"
  echo "- wrk: \`taskset -c 1 wrk -t1 -c$CONNS -d${SECS}s --latency\`; CPU per request = wrk's user + system time (/usr/bin/time) over requests"
  echo
  "$PARSE" render-generator "$WORK/gen.rows" "$SUMMARY" "$POINT" "$ALT"
} >"$OUT_MD"
[ "$POINT" = 1 ] || exit 0
awk '{print $2}' "$WORK/gen.rows" | sort -n | awk '{v[NR]=$1} END {print (NR%2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2)}' >"$WORK/closed_max"
