"""What the measuring tools print, turned into values. Pure: text or decoded JSON in, numbers out.

Every parser raises `ParseError` (naming what it looked for) when its input is not what the tool
prints, so a changed output format fails the benchmark instead of writing wrong figures.
"""

import re
from dataclasses import dataclass
from typing import Dict, Iterable, List, Optional, Set, Tuple

NAN = float("nan")


class ParseError(ValueError):
    """The input is not what the tool prints."""


class LayoutFailed(RuntimeError):
    """A numaload result whose (first) layout is not ok: the benchmark stops on it."""


def _search(pattern: str, text: str, what: str, flags: int = 0) -> "re.Match[str]":
    m = re.search(pattern, text, flags)
    if m is None:
        raise ParseError(f"no {what} in the output")
    return m


# ---------------------------------------------------------------- wrk and /usr/bin/time


@dataclass(frozen=True)
class Wrk:
    requests: int
    rps: float
    p50_us: float  # NaN when wrk printed no latency distribution (no --latency)
    p99_us: float


def wrk(out: str) -> Wrk:
    """wrk's stdout (with or without --latency's distribution)."""
    requests = int(_search(r"(\d+) requests in", out, "'N requests in'").group(1))
    rps = float(_search(r"Requests/sec:\s+([\d.]+)", out, "'Requests/sec:'").group(1))
    scale = {"us": 1.0, "ms": 1e3, "s": 1e6}

    def at(pct: int) -> float:
        m = re.search(rf"^\s+{pct}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        return float(m.group(1)) * scale[m.group(2)] if m else NAN

    return Wrk(requests, rps, at(50), at(99))


@dataclass(frozen=True)
class H2load:
    succeeded: int
    rps: float


def h2load(out: str) -> H2load:
    """h2load's stdout: its 'finished in' and 'requests:' lines."""
    rps = float(_search(r"finished in [\d.]+m?s, ([\d.]+) req/s", out, "'finished in ..., N req/s'").group(1))
    succeeded = int(_search(r"^requests: .* (\d+) succeeded", out, "'requests: ... N succeeded'", re.M).group(1))
    return H2load(succeeded, rps)


def cpu_seconds(time_out: str) -> float:
    """/usr/bin/time -f '%U %S' output (the last two fields): user + system seconds."""
    fields = time_out.split()
    if len(fields) < 2:
        raise ParseError("no '%U %S' in /usr/bin/time's output")
    return float(fields[-2]) + float(fields[-1])


def max_rss_kb(time_out: str) -> int:
    """/usr/bin/time -f '%M' output (its last line): the maximum resident set, KiB."""
    lines = time_out.strip().splitlines()
    if not lines or not lines[-1].strip().isdigit():
        raise ParseError("no '%M' in /usr/bin/time's output")
    return int(lines[-1])


# ---------------------------------------------------------------- numaload's result JSON


# The statuses of a layout every agent measured. A suspect or incomplete layout is data here: the
# sections show numaload's own reasons (its `suspect` entries) beside the figures. A failed or
# degraded one has no whole measurement, and stops the benchmark.
MEASURED = ("ok", "suspect", "incomplete")


def first_layout(result: dict) -> dict:
    """The result's first layout; `LayoutFailed` unless it was measured (`MEASURED`)."""
    layout = result["layouts"][0]
    if layout["status"] not in MEASURED:
        raise LayoutFailed(f"layout {layout['name']}: {layout['status']}: {layout.get('error')}")
    return layout


@dataclass(frozen=True)
class Closed:
    rps: float
    worker_cpu_us: float  # the load workers' thread CPU time per request
    p50_us: float
    p99_us: float


def closed(result: dict) -> Closed:
    layout = first_layout(result)
    cpu_ns = sum(w["cpu_time_ns"] for w in layout["load"]["workers"])
    latency = layout["latency_ns"]
    return Closed(layout["throughput_rps"], cpu_ns / 1e3 / max(layout["requests"], 1),
                  latency["p50"] / 1e3, latency["p99"] / 1e3)


def open_loop(result: dict) -> dict:
    """An open-loop layout's rate, lag, latency and "fell behind" flag (points 2 and 3)."""
    layout = first_layout(result)
    lag = layout.get("send_lag_ns") or {}
    workers = layout["load"]["workers"]
    behind = [s for s in layout.get("suspect", []) if "fell behind" in s]
    return {
        "target_rps": layout["target_rate_rps"],
        "achieved_rps": layout["throughput_rps"],
        "requests": layout["requests"],
        "errors": layout["errors"],
        "late_sends": layout["late_sends"],
        "lag_p50_ns": lag.get("p50", 0),
        "lag_p99_ns": lag.get("p99", 0),
        "corrected_p50_ns": layout["latency_ns"]["p50"],
        "corrected_p99_ns": layout["latency_ns"]["p99"],
        "uncorrected_p50_ns": layout["latency_uncorrected_ns"]["p50"],
        "uncorrected_p99_ns": layout["latency_uncorrected_ns"]["p99"],
        "busy": max((w.get("busy", 0.0) for w in workers), default=0.0),
        "behind": behind[0] if behind else "",
    }


def open_cost(result: dict) -> dict:
    """An open-loop layout's figures point 8 shows (CPU per request comes from outside)."""
    layout = first_layout(result)
    lag = layout.get("send_lag_ns") or {}
    workers = layout["load"]["workers"]
    requests = sum(w.get("requests", 0) for w in workers)
    return {"rps": layout["throughput_rps"], "p50_us": layout["latency_ns"]["p50"] / 1e3,
            "uncorrected_p50_us": layout["latency_uncorrected_ns"]["p50"] / 1e3,
            "lag_p50_us": lag.get("p50", 0) / 1e3, "lag_p99_us": lag.get("p99", 0) / 1e3,
            "busy": sum(w["busy"] for w in workers), "paced": sum(w.get("paced", 0.0) for w in workers),
            "wakeups_per_request": sum(w.get("wakeups", 0) for w in workers) / max(requests, 1),
            "suspect": [s for s in layout.get("suspect", []) if "% busy" in s]}


def measuring_at_ns(result: dict) -> int:
    """When the first agent began measuring (unix ns), 0 if none says."""
    agents = result["layouts"][0].get("agents", [])
    return min((a["measuring_at_unix_ns"] for a in agents if a.get("measuring_at_unix_ns")), default=0)


def requests(result: dict) -> int:
    return result["layouts"][0]["requests"]


@dataclass(frozen=True)
class Window:
    """A layout's measured window and the requests answered in it."""
    start_ns: int
    end_ns: int
    requests: int


def measured_window(result: dict) -> Window:
    layout = result["layouts"][0]
    start = measuring_at_ns(result)
    if start == 0:
        raise ParseError("no agent's measuring_at_unix_ns in the result")
    return Window(start, start + int(layout["elapsed_s"] * 1e9), layout["requests"])


# ---------------------------------------------------------------- criterion, the sampler bench, oha


@dataclass(frozen=True)
class Estimate:
    """A criterion benchmark's median and its 95% confidence interval, ns."""
    median: float
    low: float
    high: float


def criterion(estimates: dict) -> Estimate:
    """criterion's `new/estimates.json`."""
    m = estimates["median"]
    return Estimate(m["point_estimate"], m["confidence_interval"]["lower_bound"],
                    m["confidence_interval"]["upper_bound"])


def sampler_cost(out: str) -> Dict[str, float]:
    """The `sampler_cost key=value ...` line the sampler_cost bench prints."""
    line = _search(r"^sampler_cost (.*)$", out, "'sampler_cost' line", re.M).group(0)
    return {k: float(v) for k, v in (f.split("=", 1) for f in line.split()[1:] if "=" in f)}


@dataclass(frozen=True)
class Oha:
    requests: int
    rps: float
    p50_us: float


def oha(out: dict) -> Oha:
    """oha's `--output-format json`."""
    return Oha(sum(out.get("statusCodeDistribution", {}).values()), out["summary"]["requestsPerSec"],
               out["latencyPercentiles"]["p50"] * 1e6)


# ---------------------------------------------------------------- Prometheus text


HANDLING = "numaload_request_duration_seconds"


@dataclass(frozen=True)
class Histogram:
    buckets: Dict[float, int]  # le (seconds) -> cumulative count
    sum: float
    count: int


def histogram(page: str, name: str = HANDLING) -> Histogram:
    buckets = {float(le): int(c) for le, c in re.findall(rf'^{name}_bucket{{le="([^"]+)"}} (\d+)', page, re.M)}
    total = float(_search(rf"^{name}_sum (\S+)", page, f"{name}_sum", re.M).group(1))
    count = int(_search(rf"^{name}_count (\d+)", page, f"{name}_count", re.M).group(1))
    return Histogram(buckets, total, count)


def handling_delta(before: str, after: str) -> Tuple[float, float, int]:
    """The target's handling latency between two /metrics pages: (the bucket bound holding the
    median, µs; the mean, µs; the count). NaNs and 0 when nothing was handled."""
    b0, b1 = histogram(before), histogram(after)
    count = b1.count - b0.count
    if count <= 0:
        return NAN, NAN, 0
    bound = next(le for le in sorted(b1.buckets) if b1.buckets[le] - b0.buckets.get(le, 0) >= count / 2)
    return bound * 1e6, (b1.sum - b0.sum) * 1e6 / count, count


def served_requests(page: bytes) -> Optional[int]:
    """numaload_requests_total{status="200"} of a target's /metrics response, or None."""
    m = re.search(rb'numaload_requests_total\{status="200"\} (\d+)', page)
    return int(m.group(1)) if m else None


# ---------------------------------------------------------------- /proc


def proc_stat_ticks(stat: str) -> int:
    """utime + stime of /proc/PID/stat, in clock ticks: the whole thread group; reaped children
    (cutime, cstime) are not added."""
    fields = stat[stat.rindex(")") + 2:].split()  # fields[0] is field 3 (state)
    if len(fields) < 13:
        raise ParseError("/proc/PID/stat has too few fields")
    return int(fields[11]) + int(fields[12])


def socket_inodes(fd_links: Iterable[str]) -> Set[str]:
    """The socket inodes among a process's /proc/PID/fd link targets ("socket:[123]")."""
    return {link[8:-1] for link in fd_links if link.startswith("socket:[")}


def listening_ports(tcp_table: str, inodes: Set[str]) -> List[int]:
    """The ports of /proc/net/tcp{,6} rows in state LISTEN (0A) whose inode is in `inodes`."""
    ports = []
    for line in tcp_table.splitlines()[1:]:
        f = line.split()
        if len(f) > 9 and f[3] == "0A" and f[9] in inodes:
            ports.append(int(f[1].rsplit(":", 1)[1], 16))
    return ports


def listening_addr(server_out: str) -> Optional[str]:
    """The address of a server's "... listening on ADDR" line, None before it printed one."""
    m = re.search(r"^.* listening on (.*)$", server_out, re.M)
    return m.group(1) if m else None
