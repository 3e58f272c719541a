"""The benchmark's settings, read once from an environment mapping (tests pass a dict).

| variable | default | what |
|---|---|---|
| QUICK | 0 | 1: a ~2-min smoke run (short windows, one round; figures indicative only) |
| CONNECTIONS | 50 | keep-alive connections of points 1, 2, 4, 6 and 8 |
| ROUNDS / SECONDS_PER_ROUND | 8 / 3 | point 1's paired rounds and their measured seconds |
| FEW_CONNECTIONS / FEW_ROUNDS | 4 / 4 | point 1b |
| TLS_ROUNDS | 4 | point 9 (point 1 over TLS, CONNECTIONS connections) |
| TARGET_ROUNDS | 5 | point 4 |
| OPEN_STEPS | 10 20 ... 90 110 150 | point 2's steps, % of the closed-loop maximum |
| COST_ROUNDS / COST_RATES / COST_SECONDS | 3 / 5000 20000 50000 100000 / 3 | point 8 |
| COST_PRECISIONS | "default 100us" | point 8's send_precision values, each a run of its own; `default` leaves the key out (the plan's default); PRECISION=X is short for it (COST_PRECISIONS wins) |
| SHAPE_ROUNDS / SHAPE_RATES | 3 / 20000 50000 | point 10: rounds of uniform and Poisson side by side, and the rates (its window: COST_SECONDS) |
| H2_CONNECTIONS / H2_STREAMS / H2_ROUNDS | 10 / 1 10 100 / 3 | point 13: HTTP/2 vs h2load, connections, streams per connection (each a comparison of its own), rounds |
| ONLY | (all) | e.g. "1 4" or "11" (the fleet of hollow agents: 10,000, 1,000 with QUICK): run some points; BENCHMARKS.md is then left alone and the report printed |
| OUT | BENCHMARKS.md | where the report goes |
| HISTORY / LAST | target/numa-vm/loadcpus-history.jsonl / 8 | point 7's record and how many runs it shows |
| BENCH_KEEP | (unset) | a directory: keep every raw output and the collected rows there |
"""

import re
from dataclasses import dataclass
from typing import Mapping, Optional, Tuple

# Points in the order they run and appear; "3" is rendered with "2" (one measurement).
POINTS = ("1", "1b", "2", "4", "5", "6", "7", "8", "9", "10", "11", "12", "13")


class ConfigError(ValueError):
    """A setting the benchmark cannot run with (the message names the variable)."""


@dataclass(frozen=True)
class Settings:
    quick: bool
    connections: int
    rounds: int
    seconds_per_round: int
    few_connections: int
    few_rounds: int
    tls_rounds: int
    target_rounds: int
    open_steps: Tuple[int, ...]
    cost_rounds: int
    cost_rates: Tuple[int, ...]
    cost_seconds: int
    cost_precisions: Tuple[str, ...]
    shape_rounds: int
    shape_rates: Tuple[int, ...]
    h2_connections: int
    h2_streams: Tuple[int, ...]
    h2_rounds: int
    only: Optional[Tuple[str, ...]]
    out: str
    history: str
    history_last: int
    keep: Optional[str]

    def runs(self, point: str) -> bool:
        """Whether ONLY (if set) asks for `point`; asking for 3 runs 2, which measures both."""
        if self.only is None:
            return True
        return point in self.only or (point == "2" and "3" in self.only)


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "")
    if raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"{name}: \"{raw}\" is not a whole number") from None


def _ints(env: Mapping[str, str], name: str, default: str) -> Tuple[int, ...]:
    raw = env.get(name) or default
    try:
        return tuple(int(v) for v in raw.split())
    except ValueError:
        raise ConfigError(f"{name}: \"{raw}\" is not a list of whole numbers") from None


def precisions(raw: str) -> Tuple[str, ...]:
    """COST_PRECISIONS' words, checked up front (a typo fails here, not rounds in)."""
    words = tuple(raw.split())
    if not words:
        raise ConfigError("COST_PRECISIONS is empty")
    for p in words:
        if p != "default" and not re.fullmatch(r"[0-9]+(\.[0-9]+)?[a-z]+", p):
            raise ConfigError(f'COST_PRECISIONS: "{p}" is neither "default" nor a duration like 100us')
        if words.count(p) > 1:
            raise ConfigError(f'COST_PRECISIONS: "{p}" listed twice')
    return words


def settings(env: Mapping[str, str]) -> Settings:
    only = env.get("ONLY", "").split()
    return Settings(
        quick=env.get("QUICK", "0") == "1",
        connections=_int(env, "CONNECTIONS", 50),
        rounds=_int(env, "ROUNDS", 8),
        seconds_per_round=_int(env, "SECONDS_PER_ROUND", 3),
        few_connections=_int(env, "FEW_CONNECTIONS", 4),
        few_rounds=_int(env, "FEW_ROUNDS", 4),
        tls_rounds=_int(env, "TLS_ROUNDS", 4),
        target_rounds=_int(env, "TARGET_ROUNDS", 5),
        open_steps=_ints(env, "OPEN_STEPS", "10 20 30 40 50 60 70 80 90 110 150"),
        cost_rounds=_int(env, "COST_ROUNDS", 3),
        cost_rates=_ints(env, "COST_RATES", "5000 20000 50000 100000"),
        cost_seconds=_int(env, "COST_SECONDS", 3),
        cost_precisions=precisions(env.get("COST_PRECISIONS") or env.get("PRECISION") or "default 100us"),
        shape_rounds=_int(env, "SHAPE_ROUNDS", 3),
        shape_rates=_ints(env, "SHAPE_RATES", "20000 50000"),
        h2_connections=_int(env, "H2_CONNECTIONS", 10),
        h2_streams=_ints(env, "H2_STREAMS", "1 10 100"),
        h2_rounds=_int(env, "H2_ROUNDS", 3),
        only=tuple(only) if only else None,
        out=env.get("OUT") or "BENCHMARKS.md",
        history=env.get("HISTORY") or "target/numa-vm/loadcpus-history.jsonl",
        history_last=_int(env, "LAST", 8),
        keep=env.get("BENCH_KEEP") or None,
    )
