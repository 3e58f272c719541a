# Shared by scripts/bench*.sh (sourced, not run). Expects BIN, WORK, QUICK from bench.sh.

PARSE="$(dirname "${BASH_SOURCE[0]}")/bench-parse.sh"
SERVER_PID=""

# start_server CMD...: runs CMD pinned to CPU 0, waits for its "... listening on ADDR" line,
# sets ADDR and SERVER_PID.
start_server() {
  taskset -c 0 "$@" >"$WORK/server.out" 2>/dev/null &
  SERVER_PID=$!
  ADDR=""
  for _ in $(seq 200); do
    ADDR=$(sed -n 's/^.* listening on //p' "$WORK/server.out")
    [ -n "$ADDR" ] && return 0
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.025
  done
  echo "bench: server did not start: $*" >&2; return 1
}

stop_server() {
  [ -n "$SERVER_PID" ] || return 0
  kill "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=""
}

# wrk_load SECONDS: wrk pinned to CPU 1 against $ADDR, 1 s warm-up first; prints
# "req/s cpu_us p50_us p99_us".
wrk_load() {
  taskset -c 1 wrk -t1 -c"$CONNS" -d1s "http://$ADDR/" >/dev/null
  /usr/bin/time -f "%U %S" -o "$WORK/time" taskset -c 1 wrk -t1 -c"$CONNS" -d"${1}s" --latency "http://$ADDR/" >"$WORK/wrk.out"
  "$PARSE" wrk "$WORK/wrk.out" "$WORK/time"
}

# plan FILE MODE RATE CONNECTIONS DURATION WARMUP RESERVE_CPUS REPLICAS: a one-layout plan for the
# async target with no work per request (RATE is ignored in closed loop).
plan() {
  local file=$1 mode=$2 rate=$3 conns=$4 duration=$5 warmup=$6 reserve=$7 replicas=$8
  {
    echo "name = \"bench\""
    echo "[target]"; echo "name = \"async\""; echo "work_us = 0"
    echo "[load]"; echo "mode = \"$mode\""
    [ "$mode" = open ] && echo "rate = $rate"
    echo "connections = $conns"; echo "duration = \"$duration\""; echo "warmup = \"$warmup\""
    echo "reserve_cpus = $reserve"
    echo "[[layouts]]"; echo "name = \"bench\""; echo "replicas = $replicas"
  } >"$file"
}

# run_plan PLAN OUT: `numaload run`, quiet; fails the benchmark if the run fails.
run_plan() {
  "$BIN" run "$1" --out "$2" --quiet >/dev/null 2>"$WORK/run.err" || {
    echo "bench: numaload run $1 failed:" >&2; cat "$WORK/run.err" >&2; return 1; }
}
