"""Point 6: the controller and agent stay small.

- Plan to first request: `numaload run` of a two-replica plan (warm-up 0), timed from outside
  (`tools.first_request`: finds the replicas the run launches, polls their /metrics about every
  millisecond and notes when one first counts a served request). Cross-checked with the result's
  measuring_at_unix_ns (the agent's measuring phase, which with no warm-up begins as the load
  starts).
- Memory flat with run length: max RSS (/usr/bin/time -f %M) of `numaload run` for a short and a
  6x longer closed-loop run at full rate.
"""

from dataclasses import dataclass
from typing import List, Sequence

from .. import parse, plan, tools
from ..section import Section, SummaryRow, lines, met
from ..stats import min_median_max


@dataclass(frozen=True)
class Params:
    connections: int
    runs: int
    short_seconds: int
    long_seconds: int


def params(settings) -> Params:
    if settings.quick:
        return Params(settings.connections, 2, 2, 6)
    return Params(settings.connections, 5, 5, 30)


@dataclass(frozen=True)
class FirstRequest:
    run: int
    start_ns: int
    first_served_ns: int  # 0: never seen
    measuring_at_ns: int  # 0: the result names none


@dataclass(frozen=True)
class Memory:
    seconds: int
    max_rss_kb: int
    requests: int


def measure(ctx: tools.Context, p: Params):
    # Two replicas need both CPUs here: the load shares them (reserve_cpus = 0), which is fine for
    # timing the start.
    first_plan = ctx.write("first.toml", plan.plan("open", 4, "1s", "0s", 0, 2, rate=1000))
    first: List[FirstRequest] = []
    for run in range(1, p.runs + 1):
        seen = tools.first_request(tools.run_cmd(ctx, first_plan, ctx.path("first.json")))
        result = tools.run_result(f"numaload run {first_plan}", seen["rc"], ctx.path("first.json"),
                                  ctx.path("first.err"))
        first.append(FirstRequest(run, seen["start_ns"], seen["first_served_ns"] or 0, parse.measuring_at_ns(result)))
        tools.say(f"  first request run {run} done")
    memory: List[Memory] = []
    for secs in (p.short_seconds, p.long_seconds):
        mem_plan = ctx.write("mem.toml", plan.plan("closed", p.connections, f"{secs}s", "1s", 1, 1))
        out, time_out = ctx.path("mem.json"), ctx.path("mem.time")
        with open(ctx.path("run.err"), "w") as err:
            rc = tools.timed("%M", time_out, tools.run_cmd(ctx, mem_plan, out), stderr=err)
        result = tools.run_result(f"numaload run {mem_plan}", rc, out, ctx.path("run.err"))
        memory.append(Memory(secs, parse.max_rss_kb(time_out.read_text()), parse.requests(result)))
        tools.say(f"  memory {secs}s run done")
    ctx.keep_rows("6-first", first)
    ctx.keep_rows("6-memory", memory)
    return first, memory


def render(p: Params, first: Sequence[FirstRequest], memory: Sequence[Memory]) -> Section:
    out = [
        "## 6. Start-up time and controller memory",
        "",
        "- plan to first request: `numaload run` of a plan with replicas = 2, reserve_cpus = 0, open loop 1,000 req/s "
        "over 4 connections, warm-up 0, 1 s; timed from just before the process is started (local run: controller "
        "and agent in one process, calibration included) to the first poll of a replica's /metrics that shows a "
        f"served request (poll about every 1 ms, so up to ~1–2 ms late); {p.runs} runs",
        f"- memory: `/usr/bin/time -f %M numaload run` of a closed-loop plan ({p.connections} connections, replicas = 1, "
        f"reserve_cpus = 1, 1 s warm-up) measured for {p.short_seconds}s and {p.long_seconds}s; local run, so the RSS "
        "includes the in-process agent and its load generator",
        "",
        "| run | process start → first request served (outside, /metrics polled) | process start → measuring phase "
        "(result JSON, warm-up 0) |",
        "|---|---|---|",
    ]
    outside = []
    for r in first:
        out_ms = (r.first_served_ns - r.start_ns) / 1e6 if r.first_served_ns else float("nan")
        in_ms = (r.measuring_at_ns - r.start_ns) / 1e6 if r.measuring_at_ns else float("nan")
        outside.append(out_ms)
        out.append(f"| {r.run} | {out_ms:.0f} ms | {in_ms:.0f} ms |")
    out.append("")
    good = [v for v in outside if v == v]
    if good:
        out.append(f"- plan to first request, two replicas: {min_median_max(good, '{:.0f}')} ms (goal ≤ 500 ms)")
    rows = [SummaryRow("6", "plan to first request, two replicas (worst run, outside)", "≤ 500 ms",
                       f"{max(good):.0f} ms" if good else "not seen",
                       met(bool(good) and len(good) == len(outside) and max(good) <= 500))]
    out += ["", "| run length | requests | max RSS of `numaload run` |", "|---|---|---|"]
    for m in memory:
        out.append(f"| {m.seconds:.0f} s | {m.requests:,.0f} | {m.max_rss_kb / 1024:.1f} MiB |")
    short, long = memory[0], memory[-1]
    growth = long.max_rss_kb / short.max_rss_kb
    out += ["", f"- max RSS {long.seconds:.0f} s run / {short.seconds:.0f} s run: {growth:.3f} (goal: flat, ≤ 1.10)"]
    rows.append(SummaryRow("6", f"controller max RSS, {long.seconds:.0f} s run / {short.seconds:.0f} s run",
                           "≤ 1.10 (flat)", f"{growth:.3f}", met(growth <= 1.10)))
    return Section(lines(*out), tuple(rows))
