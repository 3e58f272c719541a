"""Point 5: what measuring costs. Criterion microbenchmarks for recording a latency into a
worker's histograms (agent/benches/record.rs) and merging 1,000 serialized histograms
(proto/benches/merge.rs); the replica sampler's CPU against a running target
(agent/benches/sampler_cost.rs, pinned to CPU 1, the target to CPU 0). The benches are built
before measuring (`cli`), so nothing compiles meanwhile."""

import json
import os
import subprocess
from dataclasses import dataclass
from typing import Dict, Tuple

from .. import parse, tools
from ..section import Section, SummaryRow, lines, met

CRITERION = ("record/one_latency", "record/open_loop_request", "merge/1000_encoded", "merge/1000_decode_only")


@dataclass(frozen=True)
class Params:
    criterion_args: Tuple[str, ...]
    sampler_seconds: int


def params(settings) -> Params:
    if settings.quick:
        return Params(("--warm-up-time", "0.5", "--measurement-time", "1"), 2)
    return Params(("--warm-up-time", "1", "--measurement-time", "3"), 10)


@dataclass(frozen=True)
class Measured:
    criterion: Dict[str, parse.Estimate]
    sampler: Dict[str, float]


def cargo_bench(ctx: tools.Context, package: str, bench: str, args, out_name: str, env=None) -> str:
    out = ctx.path(out_name)
    with open(out, "w") as f:
        rc = subprocess.run(tools.taskset_load(["cargo", "bench", "-q", "--locked", "-p", package, "--bench", bench,
                                                "--", *args]), stdout=f, stderr=subprocess.STDOUT, env=env).returncode
    if rc != 0:
        raise tools.BenchError(f"cargo bench --bench {bench} failed (exit {rc}):\n{out.read_text()}")
    return out.read_text()


def measure(ctx: tools.Context, p: Params) -> Measured:
    cargo_bench(ctx, "numaload-agent", "record", p.criterion_args, "record.out")
    tools.say("  criterion record done")
    cargo_bench(ctx, "numaload-proto", "merge", ("--warm-up-time", "1"), "merge.out")
    tools.say("  criterion merge done")
    env = dict(os.environ, NUMALOAD_BIN=ctx.bin, SAMPLER_SECONDS=str(p.sampler_seconds))
    sampler = parse.sampler_cost(cargo_bench(ctx, "numaload-agent", "sampler_cost", (), "sampler.out", env))
    tools.say("  sampler cost done")
    estimates = {}
    for name in CRITERION:
        with open(os.path.join(ctx.target_dir, "criterion", name, "new", "estimates.json")) as f:
            estimates[name] = parse.criterion(json.load(f))
    ctx.keep_rows("5", [{"criterion": {k: vars(v) for k, v in estimates.items()}, "sampler": sampler}])
    return Measured(estimates, sampler)


def render(p: Params, m: Measured) -> Section:
    rec, req = m.criterion["record/one_latency"], m.criterion["record/open_loop_request"]
    merge, decode = m.criterion["merge/1000_encoded"], m.criterion["merge/1000_decode_only"]
    s = m.sampler
    total = s["sampler_pct"] + s["replica_extra_pct"]
    out = [
        "## 5. Measurement overhead",
        "",
        f"- `cargo bench -p numaload-agent --bench record -- {' '.join(p.criterion_args)}` and `cargo bench -p "
        "numaload-proto --bench merge` (criterion 0.8, pinned to CPU 1): latencies cycle through 4,096 values "
        "log-uniform over 20 µs..20 ms; each of the 1,000 histograms holds 10,000 values over 10 µs..100 ms, "
        "V2-encoded as the agent ships them",
        f"- `NUMALOAD_BIN=target/release/numaload SAMPLER_SECONDS={p.sampler_seconds} cargo bench -p numaload-agent "
        "--bench sampler_cost`: the agent's `Sampler` (/proc status + stat reads and a /metrics scrape every 100 ms) "
        "on one idle async target; sampler CPU = the bench process's CPU time over the window; replica side = the "
        "target's CPU time while sampled minus an idle window of the same length",
        "",
        "| measurement | median | 95% interval | goal |",
        "|---|---|---|---|",
        f"| record one latency into a worker histogram | {rec.median:.1f} ns | {rec.low:.1f}–{rec.high:.1f} ns | ≤ 50 ns |",
        f"| one open-loop request (count + 3 histograms) | {req.median:.1f} ns | {req.low:.1f}–{req.high:.1f} ns | — |",
        f"| merge 1,000 encoded histograms (`merge_encoded`) | {merge.median / 1e6:.1f} ms | "
        f"{merge.low / 1e6:.1f}–{merge.high / 1e6:.1f} ms | < 100 ms |",
        f"| of which decoding alone | {decode.median / 1e6:.1f} ms | {decode.low / 1e6:.1f}–{decode.high / 1e6:.1f} ms | — |",
        "",
        f"- sampler, one replica, {s['seconds']:.0f} s, {s['samples']:.0f} samples: sampler CPU {s['sampler_pct']:.2f}% "
        f"of a core ({s['per_sample_us']:.0f} µs per sample, runtime included); replica's extra CPU serving the "
        f"scrapes {s['replica_extra_pct']:.2f}% of a core (sampled {s['replica_sampled_cpu_ns'] / 1e6:.0f} ms vs "
        f"idle {s['replica_idle_cpu_ns'] / 1e6:.0f} ms; /proc CPU times tick in 10 ms)",
    ]
    return Section(lines(*out), (
        SummaryRow("5", "record one latency (criterion median)", "≤ 50 ns", f"{rec.median:.1f} ns", met(rec.median <= 50)),
        SummaryRow("5", "merge 1,000 serialized histograms (criterion median)", "< 100 ms",
                   f"{merge.median / 1e6:.1f} ms", met(merge.median < 100e6)),
        SummaryRow("5", "sampling one replica every 100 ms (sampler + replica side)", "< 1% of a core",
                   f"{total:.2f}%", met(total < 1.0))))
