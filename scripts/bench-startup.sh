#!/usr/bin/env bash
# Point 6: the controller and agent stay small.
# - Plan to first request: `numaload run` of a two-replica plan (warm-up 0), timed from outside:
#   bench-parse.sh starts the process, finds the replicas it launches (/proc), polls their
#   /metrics about every millisecond and notes when a replica first counts a served request.
#   Cross-checked with the result's measuring_at_unix_ns (the agent's measuring phase, which
#   with no warm-up begins as the load starts).
# - Memory flat with run length: max RSS (/usr/bin/time -f %M) of `numaload run` for a short and
#   a 6x longer closed-loop run at full rate.
# Writes $OUT_MD.
set -euo pipefail
source "$(dirname "$0")/bench-lib.sh"
RUNS=5; SHORT=5; LONG=30
[ "$QUICK" = 1 ] && { RUNS=2; SHORT=2; LONG=6; }
# Two replicas need both CPUs here: the load shares them (reserve_cpus = 0), which is fine for
# timing the start.
plan "$WORK/first.toml" open 1000 4 1s 0s 0 2
: >"$WORK/first.rows"
for run in $(seq "$RUNS"); do
  "$PARSE" first-request "$WORK/first.out.json" -- "$BIN" run "$WORK/first.toml" --out "$WORK/first.json" --quiet
  python3 - "$WORK/first.out.json" "$run" "$("$PARSE" measuring-at "$WORK/first.json")" >>"$WORK/first.rows" <<'PY'
import json, sys
outside = json.load(open(sys.argv[1]))
assert outside["rc"] == 0, "numaload run failed"
print(json.dumps({"run": int(sys.argv[2]), "measuring_at_ns": int(sys.argv[3]), "outside": outside}))
PY
  echo "  first request run $run done" >&2
done
: >"$WORK/mem.rows"
for secs in "$SHORT" "$LONG"; do
  plan "$WORK/mem.toml" closed 0 "$CONNS" "${secs}s" 1s 1 1
  /usr/bin/time -f "%M" -o "$WORK/mem.time" "$BIN" run "$WORK/mem.toml" --out "$WORK/mem.json" --quiet >/dev/null 2>"$WORK/run.err"
  echo "$secs $(tail -1 "$WORK/mem.time") $("$PARSE" requests "$WORK/mem.json")" >>"$WORK/mem.rows"
  echo "  memory ${secs}s run done" >&2
done
{
  echo "## 6. Start-up time and controller memory"
  echo
  echo "- plan to first request: \`numaload run\` of a plan with replicas = 2, reserve_cpus = 0, open loop 1,000 req/s over 4 connections, warm-up 0, 1 s; timed from just before the process is started (local run: controller and agent in one process, calibration included) to the first poll of a replica's /metrics that shows a served request (poll about every 1 ms, so up to ~1–2 ms late); $RUNS runs"
  echo "- memory: \`/usr/bin/time -f %M numaload run\` of a closed-loop plan ($CONNS connections, replicas = 1, reserve_cpus = 1, 1 s warm-up) measured for ${SHORT}s and ${LONG}s; local run, so the RSS includes the in-process agent and its load generator"
  echo
  "$PARSE" render-startup "$WORK/first.rows" "$WORK/mem.rows" "$SUMMARY"
} >"$OUT_MD"
