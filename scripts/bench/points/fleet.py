"""Point 11: the controller at fleet scale, on hollow agents.

`numaload agent --hollow N` processes (at most PER_PROCESS agents each: a process holds a listener
and a connection per agent, under the open-file limit) host agents that speak the real protocol and
make their figures up (docs/fleet.md). `/usr/bin/time -f '%e %M %U %S' numaload run --simulated`
runs one layout (one replica each, open loop, a 500 ms warm-up and 3 s measured) on all of them:
the controller's wall time beyond the plan's, its peak memory and CPU, each per agent, and whether
the merged request count equals the sum over the agents in the result.
"""

import json
import math
import subprocess
from dataclasses import dataclass
from typing import List, Sequence

from .. import tools
from ..section import Section, SummaryRow, lines, met

# Agents per hollow process: two descriptors each, well under a 20,000 open-file limit.
PER_PROCESS = 5000
PLAN_SECONDS = 3.5  # warm-up and measured time of the plan below
# The goals of issue 29 for 10,000 agents.
RSS_GOAL_KB = 1024 * 1024
BEYOND_GOAL_S = 10.0

PLAN = """name = "hollow-fleet"
[target]
name = "async"
[load]
mode = "open"
rate = 100
connections = 2
duration = "3s"
warmup = "500ms"
[[layouts]]
name = "one"
replicas = 1
"""


@dataclass(frozen=True)
class Params:
    agents: int


def params(settings) -> Params:
    return Params(1000 if settings.quick else 10000)


@dataclass(frozen=True)
class Row:
    agents: int
    wall_s: float
    max_rss_kb: int
    cpu_s: float
    requests: int  # the layout's merged count
    agents_requests: int  # the sum of its agents' counts
    agents_in_result: int


def time_fields(time_out: str):
    """/usr/bin/time -f '%e %M %U %S' output (its last line): wall s, max RSS KiB, CPU s."""
    fields = time_out.strip().splitlines()[-1].split()
    return float(fields[0]), int(fields[1]), float(fields[2]) + float(fields[3])


def start_hollow(ctx: tools.Context, count: int) -> List[subprocess.Popen]:
    procs = []
    left = count
    while left > 0:
        n = min(left, PER_PROCESS)
        procs.append(subprocess.Popen([ctx.bin, "agent", "--hollow", str(n), "--listen", "127.0.0.1:0", "--insecure"],
                                      stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True))
        left -= n
    return procs


def measure(ctx: tools.Context, p: Params) -> List[Row]:
    procs = start_hollow(ctx, p.agents)
    try:
        addresses = []
        for proc in procs:
            want = min(PER_PROCESS, p.agents - len(addresses))
            got = [proc.stdout.readline().strip() for _ in range(want)]
            if not all(got):
                raise tools.BenchError("hollow agents did not start")
            addresses += got
        plan = ctx.write("fleet.toml", PLAN)
        out, time_out = ctx.path("fleet.json"), ctx.path("fleet.time")
        cmd = [ctx.bin, "run", str(plan), "--simulated", "--quiet", "--out", str(out)]
        for a in addresses:
            cmd += ["--agent", a]
        with open(ctx.path("fleet.err"), "w") as err:
            rc = tools.timed("%e %M %U %S", time_out, cmd, stderr=err)
        if rc != tools.NOT_TRUSTED or not out.exists():  # simulated: never to be trusted
            raise tools.BenchError(f"numaload run on {p.agents} hollow agents exited {rc}")
        result = json.loads(out.read_text())
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait()
    layout = result["layouts"][0]
    wall, rss, cpu = time_fields(time_out.read_text())
    rows = [Row(p.agents, wall, rss, cpu, layout["requests"], sum(a["requests"] for a in layout["agents"]),
                len(layout["agents"]))]
    ctx.keep_rows("11", rows)
    tools.say(f"  {p.agents} hollow agents done")
    return rows


def render(p: Params, rows: Sequence[Row]) -> Section:
    r = rows[0]
    beyond = r.wall_s - PLAN_SECONDS
    exact = r.requests == r.agents_requests and r.agents_in_result == r.agents
    out = [
        f"## 11. The controller on a fleet of {p.agents:,} hollow agents",
        "",
        f"- `numaload agent --hollow` processes (at most {PER_PROCESS:,} agents each) host {p.agents:,} agents that speak "
        "the real protocol and make their figures up; `/usr/bin/time -f '%e %M %U %S' numaload run --simulated` of one "
        f"layout (one replica each, open loop at 100 req/s per agent, 500 ms warm-up, 3 s measured: {PLAN_SECONDS} s of "
        "plan) on all of them, release build. The hollow processes share the machine with the controller.",
        "",
        "| agents | controller wall time | beyond the plan's | max RSS | per agent | CPU (user + system) | per agent | "
        "merged requests = sum over agents |",
        "|---|---|---|---|---|---|---|---|",
        f"| {r.agents:,} | {r.wall_s:.1f} s | {beyond:.1f} s | {r.max_rss_kb / 1024:.0f} MiB | "
        f"{r.max_rss_kb / r.agents:.0f} KiB | {r.cpu_s:.1f} s | {r.cpu_s * 1000 / r.agents:.2f} ms | "
        f"{'yes' if exact else '**no**'} ({r.requests:,} and {r.agents_requests:,} over {r.agents_in_result:,} agents) |",
    ]
    rows_out = [
        SummaryRow("11", f"controller max RSS, {p.agents:,} hollow agents", "< 1 GiB",
                   f"{r.max_rss_kb / 1024:.0f} MiB", met(r.max_rss_kb < RSS_GOAL_KB)),
        SummaryRow("11", f"controller wall time beyond the plan's, {p.agents:,} hollow agents", "< 10 s",
                   f"{beyond:.1f} s", met(beyond < BEYOND_GOAL_S)),
        SummaryRow("11", "merged request count = sum over the agents", "exact",
                   f"{r.requests:,} = {r.agents_requests:,}" if exact else f"{r.requests:,} ≠ {r.agents_requests:,}",
                   met(exact and not math.isnan(r.wall_s))),
    ]
    return Section(lines(*out), tuple(rows_out))
