#!/usr/bin/env bash
# Point 8 (issue 13): what the open loop costs, side by side in each round on the same target,
# against wrk's closed loop (the cost floor) and oha's open loop (`-q RATE --latency-correction`,
# the second open-loop anchor), and how precise it stays meanwhile, at each of several
# send_precision values (how late a send may be: looser = fewer wake-ups = less CPU, more send
# lag and so more corrected latency).
#
# Per round: wrk closed loop at full speed (whole process CPU: /usr/bin/time), then for each rate
# in RATES: `numaload run` of an open-loop plan once per send_precision in PRECISIONS (whole
# process CPU, every thread, children excluded: bench-pairs.sh proc-cpu over the measured window)
# and oha once at the same rate (whole process CPU: /usr/bin/time), the target's own handling
# latency read from its /metrics histogram before and after the oha run. Target `numaload target
# --variant async --threads 1 --work-us 0` on CPU 0, generators on CPU 1, CONNS connections.
# Writes the section to $OUT_MD.
#
# Env: COST_ROUNDS (default 3), COST_RATES (default "5000 20000 50000 100000"), COST_SECONDS
# (default 3), COST_PRECISIONS (space-separated `[load] send_precision` values, each a run of its
# own; the word `default` leaves the key out of the plan, i.e. the plan's default; default
# "default 100us"). PRECISION=X is short for COST_PRECISIONS=X (COST_PRECISIONS wins if both).
set -euo pipefail
source "$(dirname "$0")/bench-lib.sh"
ROUNDS=${COST_ROUNDS:-3}; RATES=${COST_RATES:-"5000 20000 50000 100000"}; SECS=${COST_SECONDS:-3}
PRECISIONS=${COST_PRECISIONS:-${PRECISION:-"default 100us"}}
# Checked up front (a typo fails here, not rounds in); each goes into the plan as a TOML string.
read -ra PRECS <<<"$PRECISIONS"
[ ${#PRECS[@]} -gt 0 ] || { echo "bench: COST_PRECISIONS is empty" >&2; exit 2; }
for p in "${PRECS[@]}"; do
  [[ $p == default || $p =~ ^[0-9]+(\.[0-9]+)?[a-z]+$ ]] \
    || { echo "bench: COST_PRECISIONS: \"$p\" is neither \"default\" nor a duration like 100us" >&2; exit 2; }
  [ "$(printf '%s\n' "${PRECS[@]}" | grep -cxF -- "$p")" = 1 ] \
    || { echo "bench: COST_PRECISIONS: \"$p\" listed twice" >&2; exit 2; }
done
# "default" -> default; 100us -> "100us" (as the section and its table name them).
label() { if [ "$1" = default ]; then echo default; else echo "\"$1\""; fi; }
WARM=1s
[ "$QUICK" = 1 ] && { ROUNDS=1; SECS=2; WARM=500ms; }
PAIRS="$(dirname "$0")/bench-pairs.sh"
COST="$(dirname "$0")/bench-opencost-parse.sh"
# oha from crates.io when missing (the bench's set-up, never `make test`'s).
OHA=$(command -v oha || echo "${CARGO_HOME:-$HOME/.cargo}/bin/oha")
[ -x "$OHA" ] || cargo install oha --locked >&2
: >"$WORK/cost.rows"

for round in $(seq "$ROUNDS"); do
  start_server "$BIN" target --variant async --listen 127.0.0.1:0 --threads 1 --work-us 0
  w=$(wrk_load "$SECS"); stop_server
  echo "{\"round\": $round, \"gen\": \"wrk\", \"rate\": 0, \"rps\": $(echo "$w" | awk '{print $1}'), \"cpu_us\": $(echo "$w" | awk '{print $2}')}" >>"$WORK/cost.rows"
  for rate in $RATES; do
    for prec in "${PRECS[@]}"; do
      plan "$WORK/cost.toml" open "$rate" "$CONNS" "${SECS}s" "$WARM" 1 1
      [ "$prec" = default ] || sed -i "s/^mode = \"open\"\$/mode = \"open\"\nsend_precision = \"$prec\"/" "$WORK/cost.toml"
      "$PAIRS" proc-cpu "$WORK/cost-cpu.json" -- "$BIN" run "$WORK/cost.toml" --out "$WORK/cost.json" --quiet \
        >/dev/null 2>"$WORK/run.err" || { echo "bench: numaload run (send_precision $prec) failed:" >&2; cat "$WORK/run.err" >&2; exit 1; }
      cpu=$("$PAIRS" window-cpu "$WORK/cost-cpu.json" "$WORK/cost.json")
      "$COST" numaload-row "$round" "$rate" "$cpu" "$WORK/cost.json" "$prec" >>"$WORK/cost.rows"
    done

    start_server "$BIN" target --variant async --listen 127.0.0.1:0 --threads 1 --work-us 0
    "$COST" metrics "$ADDR" >"$WORK/metrics.before"
    /usr/bin/time -f "%U %S" -o "$WORK/oha.time" taskset -c 1 "$OHA" -z "${SECS}s" -c "$CONNS" \
      -q "$rate" --latency-correction --no-tui --output-format json "http://$ADDR/" >"$WORK/oha.json" 2>/dev/null
    "$COST" metrics "$ADDR" >"$WORK/metrics.after"
    stop_server
    "$COST" oha-row "$round" "$rate" "$WORK/oha.json" "$WORK/oha.time" "$WORK/metrics.before" "$WORK/metrics.after" >>"$WORK/cost.rows"
    echo "  cost round $round, $rate req/s done" >&2
  done
done

labels=$(for p in "${PRECS[@]}"; do label "$p"; done | paste -sd, - | sed 's/,/, /g')
{
  echo "## 8. Open-loop cost vs wrk's closed loop and oha's open loop (issue 13)"
  echo
  echo "- target: \`numaload target --variant async --threads 1 --work-us 0\` pinned to CPU 0; generators pinned to CPU 1; $CONNS keep-alive connections; $ROUNDS round(s), each: wrk closed loop, then per rate numaload's open loop once per send_precision and oha's, back to back"
  echo "- numaload: \`numaload run\` of an open-loop plan (replicas = 1, reserve_cpus = 1, ${SECS}s measured after $WARM warm-up), run at send_precision = $labels (\`default\`: the key left out, so the plan's default, see docs/plan.md); CPU per request = the whole \`numaload run\` process (every thread, replicas excluded: utime + stime from /proc/PID/stat, sampled every 10 ms) over the measured window, over the requests answered in it"
  echo "- send_precision (\`[load]\`, open loop only) is how late a send may be: the load worker's timer may fire up to that long after a send time and every send then due goes out in that one wake-up. Looser means fewer wake-ups and so less CPU per request, at the cost of send lag (and so of corrected latency, which includes it); finer means more wake-ups (and some busy-polling) for less lag. Each numaload row, and each pair of summary rows, names the send_precision it was run at"
  echo "- wrk: \`wrk -t1 -c$CONNS -d${SECS}s\` at full speed (closed loop), after a 1 s warm-up run; oha: \`oha -z ${SECS}s -c $CONNS -q RATE --latency-correction --no-tui --output-format json\`; CPU per request = the process's user + system time (/usr/bin/time) over its requests"
  echo "- ratio = the generator's CPU per request over wrk's in the same round; corrected p50 = from the intended send time (oha: \`--latency-correction\`); target handling = the target's own \`numaload_request_duration_seconds\` histogram over the oha run at the same rate (its first bucket is ≤ 50 µs, so the mean, sum/count, is shown beside it)"
  echo "- wake-ups per request = numaload's own count of the load worker's waits that could sleep (result JSON \`load.workers[].wakeups\`) over its requests: the open loop's CPU is mostly spent per wake-up; responses are read at the sends' wake-ups and timed by the kernel's receive timestamp (\`load.workers[].stamped\`)"
  echo
  "$COST" render "$WORK/cost.rows" "$SUMMARY"
} >"$OUT_MD"
