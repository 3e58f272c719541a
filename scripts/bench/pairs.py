"""Point 1's paired rounds: numaload (A), numaload with one closed-loop wait turned off (C) and wrk
(B), six runs back to back, A C B B C A in odd rounds and B C A A C B in even ones. A linear
drift of the machine during a round weighs the same on every generator, and the outer pair (one
generator at both ends of the round) shows a change of speed: a round whose outer pair differs
by more than `DRIFT` in req/s is unsteady, marked and not judged.
"""

from dataclasses import dataclass
from typing import Dict, List, Sequence, Tuple

from .stats import mean

DRIFT = 0.05

NUMALOAD, ALT, WRK = "n", "e", "w"
LETTER = {NUMALOAD: "A", ALT: "C", WRK: "B"}


def order(round_number: int) -> Tuple[str, ...]:
    """The generators of a round, in the order they run."""
    if round_number % 2 == 1:
        return (NUMALOAD, ALT, WRK, WRK, ALT, NUMALOAD)
    return (WRK, ALT, NUMALOAD, NUMALOAD, ALT, WRK)


@dataclass(frozen=True)
class Run:
    """One generator's run: req/s, CPU µs per request (its load worker thread, its whole
    process: for wrk both are its process), latency µs as it reports it."""
    round: int
    slot: int
    gen: str
    rps: float
    worker: float
    p50: float
    p99: float
    proc: float


@dataclass(frozen=True)
class Ratios:
    """A round's figures over wrk's (means of each generator's two runs)."""
    rps: float
    worker_cpu: float
    proc_cpu: float
    alt_rps: float
    alt_proc_cpu: float


@dataclass(frozen=True)
class Round:
    number: int
    runs: Tuple[Run, ...]  # in slot order

    def mean(self, gen: str, key: str) -> float:
        return mean(getattr(r, key) for r in self.runs if r.gen == gen)

    def rps_of(self, gen: str) -> List[float]:
        return [r.rps for r in self.runs if r.gen == gen]

    @property
    def drift(self) -> float:
        """How far apart the outer pair's req/s are (a share)."""
        return abs(self.runs[0].rps / self.runs[-1].rps - 1)

    @property
    def steady(self) -> bool:
        return self.runs[0].gen == self.runs[-1].gen and self.drift <= DRIFT

    @property
    def order(self) -> str:
        return " ".join(LETTER[r.gen] for r in self.runs)

    @property
    def ratios(self) -> Ratios:
        w = self.mean(WRK, "proc")
        wrk_rps = self.mean(WRK, "rps")
        return Ratios(self.mean(NUMALOAD, "rps") / wrk_rps, self.mean(NUMALOAD, "worker") / w,
                      self.mean(NUMALOAD, "proc") / w, self.mean(ALT, "rps") / wrk_rps,
                      self.mean(ALT, "proc") / w)


def rounds(runs: Sequence[Run]) -> List[Round]:
    """Runs grouped into rounds, by round number, each in slot order."""
    by: Dict[int, List[Run]] = {}
    for r in runs:
        by.setdefault(r.round, []).append(r)
    return [Round(n, tuple(sorted(rs, key=lambda r: r.slot))) for n, rs in sorted(by.items())]


def judged(all_rounds: Sequence[Round]) -> List[Round]:
    """The rounds the verdict stands on: the steady ones, or every round when none is."""
    return [r for r in all_rounds if r.steady] or list(all_rounds)
