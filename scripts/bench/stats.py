"""Medians with their spread, as BENCHMARKS.md writes them, and CPU time over a window.

BENCHMARKS.md writes a spread three ways, one per kind of table: point 1's "median M (min–max
A–B)", points 2 to 6's "min A / median M / max B", and point 8's "M (A–B)" (M alone for one
value, "—" for none). Each takes a `str.format` pattern for the numbers.
"""

import math
import statistics
from typing import Sequence, Tuple

from .parse import Window

median = statistics.median
mean = statistics.mean


def median_min_max(values: Sequence[float], fmt: str = "{:.3f}") -> str:
    """Point 1: 'median M (min–max A–B)'."""
    return f"median {fmt.format(median(values))} (min–max {fmt.format(min(values))}–{fmt.format(max(values))})"


def min_median_max(values: Sequence[float], fmt: str = "{:.3f}") -> str:
    """Points 2 to 6: 'min A / median M / max B'."""
    return f"min {fmt.format(min(values))} / median {fmt.format(median(values))} / max {fmt.format(max(values))}"


def median_range(values: Sequence[float], fmt: str = "{:.2f}") -> str:
    """Point 8: 'M (A–B)', NaNs left out; 'M' for one value, '—' for none."""
    v = [x for x in values if not math.isnan(x)]
    if not v:
        return "—"
    m = median(v)
    return fmt.format(m) if len(v) == 1 else f"{fmt.format(m)} ({fmt.format(min(v))}–{fmt.format(max(v))})"


Sample = Tuple[int, float]  # (wall clock ns, the process's CPU seconds so far)


def cpu_at(samples: Sequence[Sample], t_ns: int) -> float:
    """CPU seconds at wall time t_ns, interpolated between the samples around it (the first or
    last sample outside their span)."""
    before = [s for s in samples if s[0] <= t_ns] or list(samples[:1])
    after = [s for s in samples if s[0] >= t_ns] or list(samples[-1:])
    (t0, c0), (t1, c1) = before[-1], after[0]
    return c0 if t1 == t0 else c0 + (c1 - c0) * (t_ns - t0) / (t1 - t0)


def cpu_us_per_request(samples: Sequence[Sample], window: Window) -> float:
    """A process's CPU µs per request over a measured window, from its sampled CPU time."""
    used = cpu_at(samples, window.end_ns) - cpu_at(samples, window.start_ns)
    return used * 1e6 / max(window.requests, 1)
