#!/usr/bin/env bash
# Point 1: numaload's closed-loop generator vs wrk on the same target, in paired rounds (see
# docs/window.md, "How make bench compares"; parsing and tables in scripts/bench-pairs.sh).
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
PAIRS="$(dirname "$0")/bench-pairs.sh"
slot=0
# numaload_run PLAN GEN: one `numaload run`, its own CPU sampled from outside (all threads,
# replicas excluded) and taken over the measured window.
numaload_run() {
  slot=$((slot + 1))
  "$PAIRS" proc-cpu "$WORK/cpu.json" -- "$BIN" run "$1" --out "$WORK/closed.json" --quiet \
    >/dev/null 2>"$WORK/run.err" || { echo "bench: numaload run $1 failed:" >&2; cat "$WORK/run.err" >&2; return 1; }
  echo "$round $slot $2 $("$PARSE" result-closed "$WORK/closed.json") $("$PAIRS" window-cpu "$WORK/cpu.json" "$WORK/closed.json")" >>"$WORK/gen.rows"
}
wrk_run() {
  slot=$((slot + 1))
  start_server "$BIN" target --variant async --listen 127.0.0.1:0 --threads 1 --work-us 0
  local w; w=$(wrk_load "$SECS"); stop_server
  # wrk has no worker thread apart from its process: both CPU columns are its whole process.
  echo "$round $slot w $w $(echo "$w" | awk '{print $2}')" >>"$WORK/gen.rows"
}
A() { numaload_run "$WORK/closed.toml" n; }
C() { numaload_run "$WORK/eager.toml" e; }
B() { wrk_run; }
for round in $(seq "$ROUNDS"); do
  # A C B B C A, then B C A A C B: a linear drift of the machine during a round weighs the same
  # on both generators, and the outer pair (one generator at both ends) shows a speed change.
  slot=0
  if [ $((round % 2)) = 1 ]; then A; C; B; B; C; A; else B; C; A; A; C; B; fi
  echo "  generator round $round ($CONNS connections): $(awk -v r="$round" '$1 == r {printf "%s %.0f  ", $3, $4}' "$WORK/gen.rows")" >&2
done
{
  if [ "$POINT" = 1 ]; then
    echo "## 1. Load generator vs wrk, closed loop, same target"
  else
    echo "## $POINT. The same with few connections ($CONNS): no goal of issue 6's, shown because the server then has no backlog"
  fi
  echo
  echo "- target: \`numaload target --variant async --threads 1 --work-us 0\` pinned to CPU 0; generator pinned to CPU 1; $CONNS keep-alive connections; ${SECS}s measured after 1s warm-up; $ROUNDS rounds of six runs back to back, A C B B C A in odd rounds and B C A A C B in even ones (A numaload, C numaload with \`$ALT\`, B wrk)"
  echo "- numaload: \`numaload run\` of a closed-loop plan (replicas = 1, reserve_cpus = 1); CPU per request two ways: the load worker thread's CPU time (CLOCK_THREAD_CPUTIME_ID) over requests, and the whole \`numaload run\` process (every thread, replicas excluded: utime + stime from /proc/PID/stat, sampled every 10 ms and read at exit before the process is reaped) over the measured window, over the same requests"
  echo "- numaload runs twice per round: as users get it (closed-loop defaults: a worker with nothing to read naps a quarter of the server's queueing delay, at most 100 µs, before blocking while the server has a backlog, so the saturated server is not made to wake it for each response; with no backlog it busy-polls for a window adapted to its waits, at most 25 µs, before blocking) and with \`$ALT\`"
  echo "- wrk: \`taskset -c 1 wrk -t1 -c$CONNS -d${SECS}s --latency\`; CPU per request = wrk's user + system time (/usr/bin/time) over requests"
  echo
  "$PAIRS" render-generator "$WORK/gen.rows" "$SUMMARY" "$POINT" "$ALT"
} >"$OUT_MD"
[ "$POINT" = 1 ] || exit 0
awk '$3 == "n" {print $4}' "$WORK/gen.rows" | sort -n | awk '{v[NR]=$1} END {print (NR%2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2)}' >"$WORK/closed_max"
