"""Unit tests of the benchmark harness: the parsers on outputs captured from a real `make bench
QUICK=1` run (fixtures/raw/), the statistics, and the reports of real runs rebuilt from the rows
they collected (fixtures/rows*/, fixtures/expected/). Run from the repository root:
`python3 -m unittest discover -s scripts/bench/tests -t scripts` (`make test-crates` does)."""

from pathlib import Path

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def fixture(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")
