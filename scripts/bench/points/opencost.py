"""Point 8 (issue 13): what the open loop costs, side by side in each round on the same target,
against wrk's closed loop (the cost floor) and oha's open loop (`-q RATE --latency-correction`,
the second open-loop anchor), and how precise it stays meanwhile, at each send_precision of
COST_PRECISIONS (how late a send may be: looser = fewer wake-ups = less CPU, more send lag and so
more corrected latency).

Per round: wrk closed loop at full speed (whole process CPU: /usr/bin/time), then for each rate:
`numaload run` of an open-loop plan once per send_precision (whole process CPU, every thread,
children excluded, over the measured window) and oha once at the same rate (whole process CPU:
/usr/bin/time), the target's own handling latency read from its /metrics histogram before and
after the oha run. Target on CPU 0, generators on CPU 1.
"""

import json
import os
import shutil
import statistics
import subprocess
from dataclasses import dataclass
from typing import List, Sequence, Tuple

from .. import parse, plan, tools
from ..section import Section, SummaryRow, lines
from ..stats import median_range

# Issue 13's goals: numaload's open-loop CPU per request over wrk's closed loop, by rate.
CPU_GOALS = {20000: 2.0, 50000: 1.4}
# Corrected p50 at most this far above the target's own handling latency; send lag p99 below.
P50_ABOVE_HANDLING_US = 100.0
LAG_P99_US = 100.0


@dataclass(frozen=True)
class Params:
    connections: int
    rounds: int
    rates: Tuple[int, ...]
    seconds: int
    warmup: str
    precisions: Tuple[str, ...]  # "default": the key left out of the plan


def params(settings) -> Params:
    rounds, seconds, warmup = settings.cost_rounds, settings.cost_seconds, "1s"
    if settings.quick:
        rounds, seconds, warmup = 1, 2, "500ms"
    return Params(settings.connections, rounds, settings.cost_rates, seconds, warmup, settings.cost_precisions)


def oha_binary() -> str:
    """oha, installed from crates.io when missing (the bench's set-up, never `make test`'s)."""
    found = shutil.which("oha")
    if found:
        return found
    path = os.path.join(os.environ.get("CARGO_HOME") or os.path.expanduser("~/.cargo"), "bin", "oha")
    if not os.access(path, os.X_OK):
        subprocess.run(["cargo", "install", "oha", "--locked"], check=True, stdout=subprocess.DEVNULL)
    return path


def numaload_row(rnd: int, rate: int, cpu_us: float, result: dict, precision: str = "default") -> dict:
    return {"round": rnd, "gen": "numaload", "rate": rate, "precision": precision, "cpu_us": cpu_us,
            **parse.open_cost(result)}


def oha_row(rnd: int, rate: int, out: parse.Oha, cpu_seconds: float, before: str, after: str) -> dict:
    bound, mean, count = parse.handling_delta(before, after)
    return {"round": rnd, "gen": "oha", "rate": rate, "cpu_us": cpu_seconds * 1e6 / max(out.requests, 1),
            "rps": out.rps, "p50_us": out.p50_us, "handling_p50_le_us": bound, "handling_mean_us": mean,
            "handled": count}


def measure(ctx: tools.Context, p: Params) -> List[dict]:
    oha = oha_binary()
    rows: List[dict] = []
    for rnd in range(1, p.rounds + 1):
        with tools.Server(ctx, ctx.target_cmd()) as addr:
            w = tools.wrk_load(ctx, addr, p.connections, p.seconds)
        rows.append({"round": rnd, "gen": "wrk", "rate": 0, "rps": w.rps, "cpu_us": w.cpu_us})
        for rate in p.rates:
            for prec in p.precisions:
                extra = [] if prec == "default" else [f'send_precision = "{prec}"']
                cost = ctx.write("cost.toml", plan.plan("open", p.connections, f"{p.seconds}s", p.warmup, 1, 1,
                                                        rate=rate, load_lines=extra))
                result, cpu = tools.sampled_numaload_run(ctx, cost, ctx.path("cost.json"))
                rows.append(numaload_row(rnd, rate, cpu, result, prec))
            with tools.Server(ctx, ctx.target_cmd()) as addr:
                before = tools.metrics(addr)
                oha_out, oha_time = ctx.path("oha.json"), ctx.path("oha.time")
                with open(oha_out, "w") as f:
                    rc = tools.timed("%U %S", oha_time, tools.taskset_load(
                        [oha, "-z", f"{p.seconds}s", "-c", str(p.connections), "-q", str(rate), "--latency-correction",
                         "--no-tui", "--output-format", "json", f"http://{addr}/"]), stdout=f)
                if rc != 0:
                    raise tools.BenchError(f"oha exited {rc}")
                after = tools.metrics(addr)
            ctx.write("metrics.before", before)
            ctx.write("metrics.after", after)
            rows.append(oha_row(rnd, rate, parse.oha(json.loads(oha_out.read_text())),
                                parse.cpu_seconds(oha_time.read_text()), before, after))
            tools.say(f"  cost round {rnd}, {rate} req/s done")
    ctx.keep_rows("8", rows)
    return rows


def label(precision: str) -> str:
    """How the table and the summary name a send_precision: default, or "100us"."""
    return "send_precision = " + ("default" if precision == "default" else f'"{precision}"')


def render(p: Params, rows: Sequence[dict]) -> Section:
    labels = ", ".join("default" if x == "default" else f'"{x}"' for x in p.precisions)
    head = lines(
        "## 8. Open-loop cost vs wrk's closed loop and oha's open loop (issue 13)",
        "",
        f"- target: `numaload target --variant async --threads 1 --work-us 0` pinned to CPU 0; generators pinned to "
        f"CPU 1; {p.connections} keep-alive connections; {p.rounds} round(s), each: wrk closed loop, then per rate "
        "numaload's open loop once per send_precision and oha's, back to back",
        f"- numaload: `numaload run` of an open-loop plan (replicas = 1, reserve_cpus = 1, {p.seconds}s measured after "
        f"{p.warmup} warm-up), run at send_precision = {labels} (`default`: the key left out, so the plan's default, "
        "see docs/plan.md); CPU per request = the whole `numaload run` process (every thread, replicas excluded: "
        "utime + stime from /proc/PID/stat, sampled every 10 ms) over the measured window, over the requests "
        "answered in it",
        "- send_precision (`[load]`, open loop only) is how late a send may be: the load worker's timer may fire up "
        "to that long after a send time and every send then due goes out in that one wake-up. Looser means fewer "
        "wake-ups and so less CPU per request, at the cost of send lag (and so of corrected latency, which includes "
        "it); finer means more wake-ups (and some busy-polling) for less lag. Each numaload row, and each pair of "
        "summary rows, names the send_precision it was run at",
        f"- wrk: `wrk -t1 -c{p.connections} -d{p.seconds}s` at full speed (closed loop), after a 1 s warm-up run; oha: "
        f"`oha -z {p.seconds}s -c {p.connections} -q RATE --latency-correction --no-tui --output-format json`; CPU per "
        "request = the process's user + system time (/usr/bin/time) over its requests",
        "- ratio = the generator's CPU per request over wrk's in the same round; corrected p50 = from the intended "
        "send time (oha: `--latency-correction`); target handling = the target's own "
        "`numaload_request_duration_seconds` histogram over the oha run at the same rate (its first bucket is ≤ 50 µs, "
        "so the mean, sum/count, is shown beside it)",
        "- wake-ups per request = numaload's own count of the load worker's waits that could sleep (result JSON "
        "`load.workers[].wakeups`) over its requests: the open loop's CPU is mostly spent per wake-up; responses are "
        "read at the sends' wake-ups and timed by the kernel's receive timestamp (`load.workers[].stamped`)",
        "",
    )
    table, summary = table_and_summary(rows)
    return Section(head + table, summary)


def table_and_summary(rows: Sequence[dict]) -> Tuple[str, Tuple[SummaryRow, ...]]:
    wrk = {r["round"]: r for r in rows if r["gen"] == "wrk"}
    rates = sorted({r["rate"] for r in rows if r["gen"] != "wrk"})
    # In the order they were run (COST_PRECISIONS'), not sorted: "default" is no duration.
    precisions = list(dict.fromkeys(r["precision"] for r in rows if r["gen"] == "numaload"))
    at = lambda gen, rate, prec=None: [r for r in rows if r["gen"] == gen and r["rate"] == rate
                                       and (prec is None or r["precision"] == prec)]
    ratio = lambda r: r["cpu_us"] / wrk[r["round"]]["cpu_us"]
    out = [f"wrk closed loop: {median_range([r['rps'] for r in wrk.values()], '{:,.0f}')} req/s at "
           f"{median_range([r['cpu_us'] for r in wrk.values()])} µs CPU per request (median, min–max over rounds).",
           "",
           "| rate req/s | generator | achieved req/s | CPU µs/req | CPU ratio to wrk | corrected p50 µs "
           "| send lag p50 / p99 µs | load core busy (of it pacing) | wake-ups per request | target handling p50 (mean) µs |",
           "|---|---|---|---|---|---|---|---|---|---|"]
    judged = []
    for rate in rates:
        o = at("oha", rate)
        handling_mean = [r["handling_mean_us"] for r in o]
        hand = f"≤ {median_range([r['handling_p50_le_us'] for r in o], '{:.0f}')} ({median_range(handling_mean, '{:.2f}')})"
        for prec in precisions:
            n = at("numaload", rate, prec)
            if not n:
                continue
            lag = (f"{median_range([r['lag_p50_us'] for r in n], '{:.0f}')} / "
                   f"{median_range([r['lag_p99_us'] for r in n], '{:.0f}')}")
            busy = (f"{median_range([100 * r['busy'] for r in n], '{:.0f}')}% "
                    f"({median_range([100 * r['paced'] for r in n], '{:.0f}')}%)")
            wakes = median_range([r.get("wakeups_per_request", float("nan")) for r in n])
            out.append(f"| {rate:,} | numaload ({label(prec)}) | {median_range([r['rps'] for r in n], '{:,.0f}')} "
                       f"| {median_range([r['cpu_us'] for r in n])} | {median_range([ratio(r) for r in n], '{:.2f}')} "
                       f"| {median_range([r['p50_us'] for r in n], '{:.0f}')} | {lag} | {busy} | {wakes} | {hand} |")
            judged.append((rate, prec, n, o, handling_mean))
        if o:
            out.append(f"| {rate:,} | oha | {median_range([r['rps'] for r in o], '{:,.0f}')} "
                       f"| {median_range([r['cpu_us'] for r in o])} | {median_range([ratio(r) for r in o], '{:.2f}')} "
                       f"| {median_range([r['p50_us'] for r in o], '{:.0f}')} | — | — | — | {hand} |")
    out += ["", "- medians over rounds, (min–max) when there are several; a ratio is taken within its round"]
    flagged = []
    for prec in precisions:
        msgs = sorted({s for r in rows if r["gen"] == "numaload" and r["precision"] == prec for s in r["suspect"]})
        if msgs:
            flagged.append(f"at {label(prec)}: {'; '.join(msgs)}")
    out.append(f"- numaload's own \"generator may have limited the measurement\" flag: "
               f"{'; '.join(flagged) if flagged else 'never raised'}")
    summary = []
    for rate, prec, n, o, handling_mean in judged:
        r = statistics.median(ratio(x) for x in n)
        goal = CPU_GOALS.get(rate)
        summary.append(SummaryRow(
            "8", f"open-loop CPU per request, whole numaload run ({label(prec)}) / wrk closed loop, {rate:,} req/s "
                 f"(oha: {median_range([ratio(x) for x in o], '{:.2f}')})",
            f"≤ {goal}" if goal else "—", median_range([ratio(x) for x in n], "{:.2f}"),
            ("yes" if r <= goal else "**no**") if goal else "—"))
        hm = statistics.median(handling_mean) if handling_mean else float("nan")
        above = statistics.median(x["p50_us"] for x in n) - hm
        lag99 = statistics.median(x["lag_p99_us"] for x in n)
        summary.append(SummaryRow(
            "8", f"{rate:,} req/s, {label(prec)}: corrected p50 above the target's handling (mean), and send lag p99",
            f"≤ {P50_ABOVE_HANDLING_US:.0f} µs; < {LAG_P99_US:.0f} µs", f"{above:.0f} µs; {lag99:.0f} µs",
            "yes" if above <= P50_ABOVE_HANDLING_US and lag99 < LAG_P99_US else "**no**"))
    return lines(*out), tuple(summary)
