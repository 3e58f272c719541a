"""Points 1 and 1b: numaload's closed-loop generator vs wrk on the same target, in paired rounds
(`pairs`). The target (`numaload target`, async, 1 worker, no work) is pinned to CPU 0, the
generator under test to CPU 1. numaload runs through a real `numaload run` (replicas = 1 on CPU 0,
load reserved CPU 1), its whole process's CPU sampled from outside; wrk through `taskset -c 1 wrk`
against a target pinned the same way. Point 1 has issue 6's goals (CONNECTIONS connections);
1b is the same with few connections and no goal; 9 is point 1 over TLS (the target serves it on
the same port with its self-signed certificate: numaload `tls = true, insecure_skip_verify =
true`, wrk `https://`), whose goal is at most wrk's CPU per request. Each round also runs
numaload with one closed-loop wait turned off (`alt`) to show what that wait does."""

from dataclasses import dataclass
from typing import List, Sequence

from .. import pairs, parse, plan, tools
from ..pairs import ALT, NUMALOAD, WRK, Run
from ..section import Section, SummaryRow, lines, met
from ..stats import median, median_min_max


@dataclass(frozen=True)
class Params:
    point: str  # "1", "1b" or "9"
    alt: str  # the plan line of the second numaload run
    connections: int
    rounds: int
    seconds: int
    tls: bool = False


# The plan lines of point 9: TLS to the target's generated (self-signed) certificate.
TLS_LINES = ("tls = true", "insecure_skip_verify = true")


def params(settings, point: str) -> Params:
    if point == "1":
        p = Params("1", "coalesce = false", settings.connections, settings.rounds, settings.seconds_per_round)
    elif point == "9":
        p = Params("9", "coalesce = false", settings.connections, settings.tls_rounds, settings.seconds_per_round,
                   tls=True)
    else:
        p = Params("1b", "spin = false", settings.few_connections, settings.few_rounds, settings.seconds_per_round)
    if settings.quick:
        p = Params(p.point, p.alt, p.connections, 1, 2, p.tls)
    return p


def measure(ctx: tools.Context, p: Params) -> List[Run]:
    base = dict(mode="closed", connections=p.connections, duration=f"{p.seconds}s", warmup="1s",
                reserve_cpus=1, replicas=1)
    tls = list(TLS_LINES) if p.tls else []
    plans = {NUMALOAD: ctx.write("closed.toml", plan.plan(**base, load_lines=tls)),
             ALT: ctx.write("alt.toml", plan.plan(**base, load_lines=[*tls, p.alt]))}
    runs: List[Run] = []
    for r in range(1, p.rounds + 1):
        for slot, gen in enumerate(pairs.order(r), start=1):
            if gen == WRK:
                with tools.Server(ctx, ctx.target_cmd()) as addr:
                    w = tools.wrk_load(ctx, addr, p.connections, p.seconds, https=p.tls)
                # wrk has no worker thread apart from its process: both CPU figures are its process's.
                runs.append(Run(r, slot, gen, w.rps, w.cpu_us, w.p50_us, w.p99_us, w.cpu_us))
            else:
                result, proc_cpu = tools.sampled_numaload_run(ctx, plans[gen], ctx.path("closed.json"))
                c = parse.closed(result)
                runs.append(Run(r, slot, gen, c.rps, c.worker_cpu_us, c.p50_us, c.p99_us, proc_cpu))
        shown = "  ".join(f"{x.gen} {x.rps:.0f}" for x in runs if x.round == r)
        tools.say(f"  generator round {r} ({p.connections} connections): {shown}  ")
    ctx.keep_rows(p.point, runs)
    return runs


def render(p: Params, runs: Sequence[Run]) -> Section:
    if p.point == "1":
        title = "## 1. Load generator vs wrk, closed loop, same target"
    elif p.point == "9":
        title = "## 9. Load generator vs wrk over TLS (HTTP/1.1 over https), closed loop, same target"
    else:
        title = (f"## {p.point}. The same with few connections ({p.connections}): no goal of issue 6's, "
                 "shown because the server then has no backlog")
    head = [
        title,
        "",
        f"- target: `numaload target --variant async --threads 1 --work-us 0` pinned to CPU 0; generator pinned to CPU 1; "
        f"{p.connections} keep-alive connections; {p.seconds}s measured after 1s warm-up; {p.rounds} rounds of six runs "
        "back to back, A C B B C A in odd rounds and B C A A C B in even ones (A numaload, C numaload with "
        f"`{p.alt}`, B wrk)",
        "- numaload: `numaload run` of a closed-loop plan (replicas = 1, reserve_cpus = 1); CPU per request two ways: "
        "the load worker thread's CPU time (CLOCK_THREAD_CPUTIME_ID) over requests, and the whole `numaload run` "
        "process (every thread, replicas excluded: utime + stime from /proc/PID/stat, sampled every 10 ms and read "
        "at exit before the process is reaped) over the measured window, over the same requests",
        "- numaload runs twice per round: as users get it (closed-loop defaults: a worker with nothing to read naps "
        "a quarter of the server's queueing delay, at most 100 µs, before blocking while the server has a backlog, "
        "so the saturated server is not made to wake it for each response; with no backlog it busy-polls for a "
        f"window adapted to its waits, at most 25 µs, before blocking) and with `{p.alt}`",
        f"- wrk: `taskset -c 1 wrk -t1 -c{p.connections} -d{p.seconds}s --latency`; CPU per request = wrk's user + "
        "system time (/usr/bin/time) over requests",
    ]
    if p.tls:
        head.append("- over TLS: the target serves TLS on its port with the certificate it generates at start (ECDSA "
                    "P-256, TLS 1.3); numaload's plans add `tls = true` and `insecure_skip_verify = true` (rustls), "
                    "wrk loads `https://` (OpenSSL); every connection's handshake falls in the warm-up")
    head.append("")
    tables, summary = tables_and_summary(runs, p.point, p.alt)
    return Section(lines(*head) + tables, summary)


def tables_and_summary(runs: Sequence[Run], point: str = "1", alt: str = "coalesce = false"):
    """The section's tables and notes (markdown) and its summary rows."""
    all_rounds = pairs.rounds(runs)
    names = {NUMALOAD: "numaload", ALT: alt, WRK: "wrk"}
    out = ["| round | order | numaload req/s (1st, 2nd) | wrk req/s (1st, 2nd) | req/s ratio "
           "| numaload CPU µs/req: worker thread / whole process | wrk CPU µs/req | CPU ratio: worker / process | outer pair differs |",
           "|---|---|---|---|---|---|---|---|---|"]
    for rd in all_rounds:
        x = rd.ratios
        pair = lambda g: ", ".join(f"{v:,.0f}" for v in rd.rps_of(g))
        out.append(f"| {rd.number}{'' if rd.steady else ' †'} | {rd.order} | {pair(NUMALOAD)} | {pair(WRK)} | {x.rps:.3f} "
                   f"| {rd.mean(NUMALOAD, 'worker'):.2f} / {rd.mean(NUMALOAD, 'proc'):.2f} | {rd.mean(WRK, 'proc'):.2f} "
                   f"| {x.worker_cpu:.3f} / {x.proc_cpu:.3f} | {names[rd.runs[0].gen]} {rd.drift:.1%} |")
    steady = [rd for rd in all_rounds if rd.steady]
    judged = pairs.judged(all_rounds)
    col = lambda rds, key: [getattr(rd.ratios, key) for rd in rds]
    out += [
        "",
        f"- A = numaload, C = numaload with `{alt}`, B = wrk; a round's ratio is the mean of its two numaload runs "
        "over the mean of its two wrk runs. † the outer pair (one generator at both ends of the round) differs by "
        f"more than {pairs.DRIFT:.0%} in req/s: the machine changed speed during the round, which is not judged.",
        f"- steady rounds: {len(steady)} of {len(all_rounds)}"
        + ("" if steady else " — **none: the figures below are every round's and do not judge the generators**"),
        f"- req/s numaload/wrk: {median_min_max(col(judged, 'rps'))}; every round: {median_min_max(col(all_rounds, 'rps'))}",
        f"- CPU per request, whole `numaload run` process / wrk process: {median_min_max(col(judged, 'proc_cpu'))}; "
        f"every round: {median_min_max(col(all_rounds, 'proc_cpu'))}",
        f"- CPU per request, numaload load-worker thread / wrk process: {median_min_max(col(judged, 'worker_cpu'))}; "
        f"every round: {median_min_max(col(all_rounds, 'worker_cpu'))}",
        "",
        f"`{alt}` (the same rounds) and the latency each generator reports (means of the pair; wrk: `--latency`, from "
        "its own clock reads):",
        "",
        f"| round | {alt} req/s | its req/s ratio | its process CPU ratio | p50 / p99 numaload | p50 / p99 {alt} | p50 / p99 wrk |",
        "|---|---|---|---|---|---|---|",
    ]
    for rd in all_rounds:
        lat = lambda g: f"{rd.mean(g, 'p50'):,.0f} / {rd.mean(g, 'p99'):,.0f} µs"
        out.append(f"| {rd.number} | {rd.mean(ALT, 'rps'):,.0f} | {rd.ratios.alt_rps:.3f} | {rd.ratios.alt_proc_cpu:.3f} "
                   f"| {lat(NUMALOAD)} | {lat(ALT)} | {lat(WRK)} |")
    out += ["", f"- {alt}: req/s numaload/wrk {median_min_max(col(judged, 'alt_rps'))}; "
                f"process CPU {median_min_max(col(judged, 'alt_proc_cpu'))}"]
    said = f"{len(steady)}/{len(all_rounds)} rounds steady"
    med = lambda key: median(col(judged, key))
    measured = lambda key: f"{med(key):.3f} ({min(col(judged, key)):.3f}–{max(col(judged, key)):.3f}; {said})"
    verdict = lambda ok: met(ok) if steady else "undecided (machine unsteady)"
    if point == "9":
        return lines(*out), (
            SummaryRow("9", "TLS closed-loop req/s, numaload/wrk over https (median of steady rounds)", "—",
                       measured("rps"), "—"),
            SummaryRow("9", "TLS: CPU per request, whole numaload run process / wrk over https (median of steady "
                       "rounds)", "≤ 1.0", measured("proc_cpu"), verdict(med("proc_cpu") <= 1.0)))
    if point != "1":
        return lines(*out), (
            SummaryRow(point, f"few connections: closed-loop req/s, numaload/wrk (median; {alt}: {med('alt_rps'):.3f})",
                       "—", measured("rps"), "—"),
            SummaryRow(point, "few connections: CPU per request, whole numaload run process / wrk", "—",
                       measured("proc_cpu"), "—"))
    out += ["", f"closed-loop maximum used by the open-loop steps: "
                f"{median(rd.mean(NUMALOAD, 'rps') for rd in all_rounds):,.0f} req/s (median of numaload's rounds)"]
    return lines(*out), (
        SummaryRow("1", "closed-loop req/s, numaload/wrk (median of steady rounds)", "≥ 1.0", measured("rps"),
                   verdict(med("rps") >= 1.0)),
        SummaryRow("1", "CPU per request, whole numaload run process / wrk (median of steady rounds)", "≤ 0.9",
                   measured("proc_cpu"), verdict(med("proc_cpu") <= 0.9)),
        SummaryRow("1", "CPU per request, numaload load-worker thread / wrk (median of steady rounds)", "—",
                   measured("worker_cpu"), "—"))
