"""Point 12: a fleet of real agents on one small host, asked more load than it can deliver.

PER agents, each a `numaload agent` process on loopback that launches one replica of the built-in
`async` target and drives 100 req/s at it (open loop, a 500 ms warm-up and 3 s measured): far
more processes than two CPUs can serve on time, so most of the asked load is never sent. The run
must say so: the layout not "ok" and `numaload run` exiting 4 whenever less than the plan's
`min_delivered` share of the window's requests was answered, with each agent's own delivery in
the result. The controller's wall time and peak memory are shown beside it.
"""

import json
import subprocess
import time
from dataclasses import dataclass
from typing import List, Sequence

from .. import tools
from ..section import Section, SummaryRow, lines, met
from . import fleet
from .fleet import time_fields

MIN_DELIVERED = 0.99  # the plan's default share of the window that must be answered
# Point 11's plan (100 req/s per agent, 500 ms warm-up, 3 s measured), on real agents.
PLAN = fleet.PLAN.replace('name = "hollow-fleet"', 'name = "real-fleet"')
PLAN_SECONDS = fleet.PLAN_SECONDS


@dataclass(frozen=True)
class Params:
    agents: int


def params(settings) -> Params:
    return Params(64 if settings.quick else 512)


@dataclass(frozen=True)
class Row:
    agents: int
    exit_code: int
    status: str
    asked: int  # requests the plan asked of the window, over every agent
    answered: int
    agents_short: int  # agents whose own delivery fell short
    agents_in_result: int
    wall_s: float
    max_rss_kb: int


def start_agents(ctx: tools.Context, count: int) -> List[subprocess.Popen]:
    """`count` agents on loopback ports of their own choosing, each writing to its own log."""
    procs = []
    for i in range(count):
        with open(ctx.path(f"agent-{i}.log"), "w") as log:
            procs.append(subprocess.Popen([ctx.bin, "agent", "--listen", "127.0.0.1:0", "--insecure"],
                                          stdout=subprocess.DEVNULL, stderr=log))
    return procs


def address_of(ctx: tools.Context, i: int, proc: subprocess.Popen) -> str:
    """The address in agent `i`'s first line, "numaload agent listening on ADDRESS (mode)"."""
    log = ctx.path(f"agent-{i}.log")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        first = log.read_text().partition("\n")[0]
        if "listening on " in first:
            return first.split("listening on ", 1)[1].split()[0]
        time.sleep(0.05)
    raise tools.BenchError(f"agent {i} did not start: {log.read_text()[:300]!r}")


def measure(ctx: tools.Context, p: Params) -> List[Row]:
    procs = start_agents(ctx, p.agents)
    try:
        addresses = [address_of(ctx, i, proc) for i, proc in enumerate(procs)]
        plan = ctx.write("realfleet.toml", PLAN)
        out, time_out = ctx.path("realfleet.json"), ctx.path("realfleet.time")
        cmd = [*tools.run_cmd(ctx, plan, out)]
        for a in addresses:
            cmd += ["--agent", a]
        with open(ctx.path("realfleet.err"), "w") as err:
            rc = tools.timed("%e %M %U %S", time_out, cmd, stderr=err)
        if not out.exists():
            raise tools.BenchError(f"numaload run on {p.agents} agents exited {rc} with no result")
        result = json.loads(out.read_text())
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait()
    layout = result["layouts"][0]
    agents = layout.get("agents", [])
    wall, rss, _ = time_fields(time_out.read_text())
    short = sum(1 for a in agents if a.get("status") != "ok")
    rows = [Row(p.agents, rc, layout["status"], layout["delivery"]["asked"], layout["delivery"]["answered"],
                short, len(agents), wall, rss)]
    ctx.keep_rows("12", rows)
    tools.say(f"  {p.agents} real agents done")
    return rows


def render(p: Params, rows: Sequence[Row]) -> Section:
    r = rows[0]
    share = r.answered / r.asked if r.asked else 0.0
    delivered = share >= MIN_DELIVERED
    # Short of the plan is never ok; and the exit code is the status's.
    truthful = (delivered or r.status != "ok") and (r.exit_code == 0) == (r.status == "ok")
    out = [
        f"## 12. A fleet of {p.agents:,} real agents asked more than one small host can deliver",
        "",
        f"- {p.agents:,} `numaload agent` processes on loopback, each launching one replica of the `async` target and "
        f"driving 100 req/s at it (open loop, 500 ms warm-up, 3 s measured: {PLAN_SECONDS} s of plan); "
        "`/usr/bin/time -f '%e %M %U %S' numaload run` on all of them, release build. Two CPUs cannot serve that "
        "many processes on time: the point is what the run says about it.",
        "",
        "| agents | asked (window) | answered | share | layout status | agents not ok | exit code | "
        "controller wall time | max RSS |",
        "|---|---|---|---|---|---|---|---|---|",
        f"| {r.agents:,} | {r.asked:,} | {r.answered:,} | {share:.1%} | {r.status} | {r.agents_short:,} of "
        f"{r.agents_in_result:,} | {r.exit_code} | {r.wall_s:.1f} s | {r.max_rss_kb / 1024:.0f} MiB |",
    ]
    rows_out = [
        SummaryRow("12", f"{p.agents:,} real agents: status and exit code follow delivery",
                   f"not ok and exit 4 below {MIN_DELIVERED:.0%} answered",
                   f"{share:.1%} answered, {r.status}, exit {r.exit_code}", met(truthful)),
    ]
    return Section(lines(*out), tuple(rows_out))
