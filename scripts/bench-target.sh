#!/usr/bin/env bash
# Point 4: what the target's instrumentation costs. `numaload target --variant async --work-us 0`
# against a bare hyper hello-world (target-server/examples/bare_hyper.rs: same runtime shape, no
# metrics), both pinned to CPU 0 with 1 worker, under the same generator (wrk pinned to CPU 1,
# $CONNS connections), rounds interleaved with the order alternating (ABBA). Writes $OUT_MD.
set -euo pipefail
source "$(dirname "$0")/bench-lib.sh"
ROUNDS=${TARGET_ROUNDS:-5}; SECS=5
[ "$QUICK" = 1 ] && { ROUNDS=2; SECS=2; }
TARGET_CMD=("$BIN" target --variant async --listen 127.0.0.1:0 --threads 1 --work-us 0)
BARE_CMD=("$BARE" --listen 127.0.0.1:0 --threads 1)
: >"$WORK/target.rows"
for round in $(seq "$ROUNDS"); do
  if [ $((round % 2)) = 1 ]; then order="target bare"; else order="bare target"; fi
  for which in $order; do
    if [ "$which" = target ]; then start_server "${TARGET_CMD[@]}"; else start_server "${BARE_CMD[@]}"; fi
    read -r rps _ < <(wrk_load "$SECS"); stop_server
    eval "${which}_rps=$rps"
  done
  echo "  target round $round: numaload target $target_rps | bare hyper $bare_rps" >&2
  printf '%s\t%s\t%s\t%s\n' "$round" "${order%% *}" "$target_rps" "$bare_rps" >>"$WORK/target.rows"
done
{
  echo "## 4. Target server overhead: numaload's async target vs a bare hyper hello-world"
  echo
  echo "- \`taskset -c 0 numaload target --variant async --threads 1 --work-us 0\` vs \`taskset -c 0 target/release/examples/bare_hyper --threads 1\` (multi-thread tokio runtime, 1 worker, keep-alive HTTP/1.1, TCP_NODELAY, body \`ok\\n\` as the target's; no metrics, no content-type header)"
  echo "- generator: \`taskset -c 1 wrk -t1 -c$CONNS -d${SECS}s\` after a 1 s warm-up against each fresh server; $ROUNDS rounds, order alternating"
  echo
  "$PARSE" render-target "$WORK/target.rows" "$SUMMARY"
} >"$OUT_MD"
