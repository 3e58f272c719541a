#!/usr/bin/env bash
# Point 5: what measuring costs. Criterion microbenchmarks for recording a latency into a
# worker's histograms (agent/benches/record.rs) and merging 1,000 serialized histograms
# (proto/benches/merge.rs); the replica sampler's CPU against a running target
# (agent/benches/sampler_cost.rs, pinned to CPU 1, the target to CPU 0). Writes $OUT_MD.
set -euo pipefail
source "$(dirname "$0")/bench-lib.sh"
CRIT=(--warm-up-time 1 --measurement-time 3); SAMPLER_SECONDS=10
[ "$QUICK" = 1 ] && { CRIT=(--warm-up-time 0.5 --measurement-time 1); SAMPLER_SECONDS=2; }
# Built by bench.sh already (`cargo bench --no-run`), so nothing compiles while measuring.
taskset -c 1 cargo bench -q --locked -p numaload-agent --bench record -- "${CRIT[@]}" >"$WORK/record.out" 2>&1
echo "  criterion record done" >&2
taskset -c 1 cargo bench -q --locked -p numaload-proto --bench merge -- --warm-up-time 1 >"$WORK/merge.out" 2>&1
echo "  criterion merge done" >&2
NUMALOAD_BIN=$BIN SAMPLER_SECONDS=$SAMPLER_SECONDS taskset -c 1 \
  cargo bench -q --locked -p numaload-agent --bench sampler_cost 2>/dev/null | grep '^sampler_cost ' >"$WORK/sampler.out"
echo "  sampler cost done" >&2
{
  echo "## 5. Measurement overhead"
  echo
  echo "- \`cargo bench -p numaload-agent --bench record -- ${CRIT[*]}\` and \`cargo bench -p numaload-proto --bench merge\` (criterion 0.8, pinned to CPU 1): latencies cycle through 4,096 values log-uniform over 20 µs..20 ms; each of the 1,000 histograms holds 10,000 values over 10 µs..100 ms, V2-encoded as the agent ships them"
  echo "- \`NUMALOAD_BIN=target/release/numaload SAMPLER_SECONDS=$SAMPLER_SECONDS cargo bench -p numaload-agent --bench sampler_cost\`: the agent's \`Sampler\` (/proc status + stat reads and a /metrics scrape every 100 ms) on one idle async target; sampler CPU = the bench process's CPU time over the window; replica side = the target's CPU time while sampled minus an idle window of the same length"
  echo
  "$PARSE" render-overhead "$CARGO_TARGET_DIR" "$WORK/sampler.out" "$SUMMARY"
} >"$OUT_MD"
