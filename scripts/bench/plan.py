"""The plan files the benchmark runs: one layout of the async target with no work per request."""

from typing import Sequence


def plan(mode: str, connections: int, duration: str, warmup: str, reserve_cpus: int, replicas: int,
         rate: int = 0, load_lines: Sequence[str] = ()) -> str:
    """A plan's TOML. `rate` is only written in open loop; `load_lines` (e.g. `coalesce = false`,
    `send_precision = "100us"`) go right after the mode."""
    lines = ['name = "bench"', "[target]", 'name = "async"', "work_us = 0", "[load]", f'mode = "{mode}"',
             *load_lines]
    if mode == "open":
        lines.append(f"rate = {rate}")
    lines += [f"connections = {connections}", f'duration = "{duration}"', f'warmup = "{warmup}"',
              f"reserve_cpus = {reserve_cpus}", "[[layouts]]", 'name = "bench"', f"replicas = {replicas}"]
    return "\n".join(lines) + "\n"
