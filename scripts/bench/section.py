"""What each point hands the report: its markdown section and its rows of the summary table."""

from dataclasses import dataclass
from typing import Tuple


@dataclass(frozen=True)
class SummaryRow:
    point: str
    what: str
    goal: str
    measured: str
    met: str  # "yes", "**no**", "—" or a sentence

    def markdown(self) -> str:
        return f"| {self.point} | {self.what} | {self.goal} | {self.measured} | {self.met} |"


def met(ok: bool) -> str:
    return "yes" if ok else "**no**"


@dataclass(frozen=True)
class Section:
    markdown: str  # ends with a newline
    summary: Tuple[SummaryRow, ...] = ()


def lines(*parts: str) -> str:
    """Lines of markdown joined, with the final newline."""
    return "\n".join(parts) + "\n"
