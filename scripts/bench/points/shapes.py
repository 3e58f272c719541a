"""Point 10 (issue 27): what Poisson arrivals cost against even spacing, side by side in each
round on the same target, at the same rate and send_precision (the plan's default): the whole
`numaload run` process's CPU per request, and how precise it stays (send lag, corrected p50,
wake-ups per request).

Per round and rate: `numaload run` of the open-loop plan with `arrivals = "uniform"` (the
default) and with `arrivals = "poisson"` (seed = the round, so a round can be replayed), in
alternating order (uniform first in odd rounds), target on CPU 0, generator on CPU 1. The
ratio is taken within its round, so slow drift of the machine cancels.
"""

import statistics
from dataclasses import dataclass
from typing import List, Sequence, Tuple

from .. import plan, tools
from ..section import Section, SummaryRow, lines, met
from ..stats import median_range
from .opencost import numaload_row

ARRIVALS = ("uniform", "poisson")
# Issue 27's goal: Poisson costs no more CPU per request than even spacing at the same rate.
CPU_RATIO_GOAL = 1.0
# A run kept its rate when it answered at least this share of it; a round is compared only when
# both its runs did (a target that falls behind changes how the generator batches its work, and
# so its CPU per request, whatever the arrivals).
KEPT_RATE = 0.99


@dataclass(frozen=True)
class Params:
    connections: int
    rounds: int
    rates: Tuple[int, ...]
    seconds: int
    warmup: str


def params(settings) -> Params:
    rounds, seconds, warmup = settings.shape_rounds, settings.cost_seconds, "1s"
    if settings.quick:
        rounds, seconds, warmup = 1, 2, "500ms"
    return Params(settings.connections, rounds, settings.shape_rates, seconds, warmup)


def order(rnd: int) -> Tuple[str, ...]:
    """Uniform first in odd rounds, Poisson first in even ones."""
    return ARRIVALS if rnd % 2 == 1 else tuple(reversed(ARRIVALS))


def measure(ctx: tools.Context, p: Params) -> List[dict]:
    rows: List[dict] = []
    for rnd in range(1, p.rounds + 1):
        for rate in p.rates:
            for arrivals in order(rnd):
                extra = [] if arrivals == "uniform" else ['arrivals = "poisson"', f"seed = {rnd}"]
                shaped = ctx.write("shape.toml", plan.plan("open", p.connections, f"{p.seconds}s", p.warmup, 1, 1,
                                                           rate=rate, load_lines=extra))
                result, cpu = tools.sampled_numaload_run(ctx, shaped, ctx.path("shape.json"))
                rows.append({**numaload_row(rnd, rate, cpu, result), "arrivals": arrivals})
            tools.say(f"  shapes round {rnd}, {rate} req/s done")
    ctx.keep_rows("10", rows)
    return rows


def render(p: Params, rows: Sequence[dict]) -> Section:
    head = lines(
        "## 10. Poisson arrivals vs even spacing: open-loop cost (issue 27)",
        "",
        f"- target: `numaload target --variant async --threads 1 --work-us 0` pinned to CPU 0; the generator pinned "
        f"to CPU 1; {p.connections} keep-alive connections; {p.rounds} round(s), each, per rate: `numaload run` of "
        "the same open-loop plan with `arrivals = \"uniform\"` and with `arrivals = \"poisson\"` (seed = the round), "
        "back to back, uniform first in odd rounds and Poisson first in even ones",
        f"- the plan: replicas = 1, reserve_cpus = 1, {p.seconds}s measured after {p.warmup} warm-up, "
        "send_precision left at the plan's default (both runs alike); CPU per request = the whole `numaload run` "
        "process (every thread, replicas excluded: utime + stime from /proc/PID/stat, sampled every 10 ms) over "
        "the measured window, over the requests answered in it",
        "- ratio = Poisson's CPU per request over uniform's in the same round; the goal is ≤ 1.0 (Poisson costs no "
        "more): a Poisson send costs a random draw and a logarithm more to place, and its bursts fall due together "
        "and go out in one wake-up",
        "",
    )
    table, summary = table_and_summary(rows)
    return Section(head + table, summary)


def kept(rows: Sequence[dict], rate: int) -> List[int]:
    """The rounds at `rate` in which both runs kept the rate (see KEPT_RATE)."""
    by = {(r["round"], r["arrivals"]): r["rps"] for r in rows if r["rate"] == rate}
    rounds = sorted({r["round"] for r in rows if r["rate"] == rate})
    return [n for n in rounds if all(by.get((n, a), 0.0) >= KEPT_RATE * rate for a in ARRIVALS)]


def ratios(rows: Sequence[dict], rate: int) -> List[float]:
    """Poisson's CPU per request over uniform's, one per round at `rate` that kept the rate."""
    by = {(r["round"], r["arrivals"]): r["cpu_us"] for r in rows if r["rate"] == rate}
    return [by[(n, "poisson")] / by[(n, "uniform")] for n in kept(rows, rate)]


def table_and_summary(rows: Sequence[dict]) -> Tuple[str, Tuple[SummaryRow, ...]]:
    rates = sorted({r["rate"] for r in rows})
    out = ["| rate req/s | arrivals | achieved req/s | CPU µs/req | CPU ratio Poisson / uniform | corrected p50 µs "
           "| send lag p50 / p99 µs | load core busy | wake-ups per request |",
           "|---|---|---|---|---|---|---|---|---|"]
    summary = []
    for rate in rates:
        for arrivals in ARRIVALS:
            n = [r for r in rows if r["rate"] == rate and r["arrivals"] == arrivals]
            if not n:
                continue
            ratio = median_range(ratios(rows, rate), "{:.3f}") if arrivals == "poisson" else "—"
            lag = (f"{median_range([r['lag_p50_us'] for r in n], '{:.0f}')} / "
                   f"{median_range([r['lag_p99_us'] for r in n], '{:.0f}')}")
            out.append(f"| {rate:,} | {arrivals} | {median_range([r['rps'] for r in n], '{:,.0f}')} "
                       f"| {median_range([r['cpu_us'] for r in n])} | {ratio} "
                       f"| {median_range([r['p50_us'] for r in n], '{:.0f}')} | {lag} "
                       f"| {median_range([100 * r['busy'] for r in n], '{:.0f}')}% "
                       f"| {median_range([r.get('wakeups_per_request', float('nan')) for r in n])} |")
        paired = ratios(rows, rate)
        rounds = len({r["round"] for r in rows if r["rate"] == rate})
        summary.append(SummaryRow(
            "10", f"Poisson / uniform arrivals: CPU per request, whole numaload run, {rate:,} req/s "
                 f"(send_precision = default; {len(paired)}/{rounds} rounds kept the rate)",
            f"≤ {CPU_RATIO_GOAL}", median_range(paired, "{:.3f}"),
            met(statistics.median(paired) <= CPU_RATIO_GOAL) if paired else "undecided (no round kept the rate)"))
    out += ["", "- medians over rounds, (min–max) when there are several; a ratio is taken within its round, and "
                f"only of the rounds in which both runs answered at least {KEPT_RATE:.0%} of the rate (a target that "
                "falls behind changes how the generator batches its work, and so its CPU per request, whatever the "
                "arrivals); the other columns show every round"]
    flagged = sorted({f"{r['arrivals']} at {r['rate']:,} req/s: {s}" for r in rows for s in r["suspect"]})
    out.append(f"- numaload's own \"generator may have limited the measurement\" flag: "
               f"{'; '.join(flagged) if flagged else 'never raised'}")
    return lines(*out), tuple(summary)
