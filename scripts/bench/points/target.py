"""Point 4: what the target's instrumentation costs. `numaload target --variant async --work-us 0`
against a bare hyper hello-world (target-server/examples/bare_hyper.rs: same runtime shape, no
metrics), both pinned to CPU 0 with 1 worker, under the same generator (wrk pinned to CPU 1),
rounds interleaved with the order alternating (ABBA)."""

from dataclasses import dataclass
from typing import List, Sequence

from .. import tools
from ..section import Section, SummaryRow, lines, met
from ..stats import median, min_median_max


@dataclass(frozen=True)
class Params:
    connections: int
    rounds: int
    seconds: int


def params(settings) -> Params:
    if settings.quick:
        return Params(settings.connections, 2, 2)
    return Params(settings.connections, settings.target_rounds, 5)


@dataclass(frozen=True)
class Round:
    round: int
    first: str  # "target" or "bare"
    target_rps: float
    bare_rps: float


def measure(ctx: tools.Context, p: Params) -> List[Round]:
    rounds = []
    for r in range(1, p.rounds + 1):
        order = ("target", "bare") if r % 2 == 1 else ("bare", "target")
        rps = {}
        for which in order:
            with tools.Server(ctx, ctx.target_cmd() if which == "target" else ctx.bare_cmd()) as addr:
                rps[which] = tools.wrk_load(ctx, addr, p.connections, p.seconds).rps
        tools.say(f"  target round {r}: numaload target {rps['target']:.0f} | bare hyper {rps['bare']:.0f}")
        rounds.append(Round(r, order[0], rps["target"], rps["bare"]))
    ctx.keep_rows("4", rounds)
    return rounds


def render(p: Params, rounds: Sequence[Round]) -> Section:
    out = [
        "## 4. Target server overhead: numaload's async target vs a bare hyper hello-world",
        "",
        "- `taskset -c 0 numaload target --variant async --threads 1 --work-us 0` vs `taskset -c 0 "
        "target/release/examples/bare_hyper --threads 1` (multi-thread tokio runtime, 1 worker, keep-alive HTTP/1.1, "
        "TCP_NODELAY, body `ok\\n` as the target's; no metrics, no content-type header)",
        f"- generator: `taskset -c 1 wrk -t1 -c{p.connections} -d{p.seconds}s` after a 1 s warm-up against each "
        f"fresh server; {p.rounds} rounds, order alternating",
        "",
        "| round | ran first | numaload target req/s | bare hyper req/s | ratio |",
        "|---|---|---|---|---|",
    ]
    ratios = []
    for r in rounds:
        ratios.append(r.target_rps / r.bare_rps)
        out.append(f"| {r.round} | {r.first} | {r.target_rps:,.0f} | {r.bare_rps:,.0f} | {ratios[-1]:.3f} |")
    out += ["", f"- numaload target / bare hyper: {min_median_max(ratios)} (goal ≥ 0.95)"]
    return Section(lines(*out), (SummaryRow("4", "async target (work 0) / bare hyper req/s (median)", "≥ 0.95",
                                            f"{median(ratios):.3f}", met(median(ratios) >= 0.95)),))
