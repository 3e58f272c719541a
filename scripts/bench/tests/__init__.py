"""Unit tests of the benchmark harness: parsers on outputs captured from a real `make bench
QUICK=1` run (fixtures/), the statistics, and every section rendered against the markdown the
previous harness wrote for the same rows (fixtures/expected/). Run from the repository root:
`python3 -m unittest discover -s scripts/bench/tests -t scripts`."""

from pathlib import Path

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def fixture(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")
