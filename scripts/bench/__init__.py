"""`make bench`: numaload's performance claims (issue 6), measured side by side in one run,
reported as ratios and written into BENCHMARKS.md with the machine, the commands and the date.

Run as `python3 -m bench` with `scripts/` on the path (the Makefile's bench target does). The
package is cut so that data flows one way:

- `config`: the settings, read from an environment mapping (QUICK, CONNECTIONS, ONLY, ...).
- `parse`: text and JSON the tools print (wrk, /usr/bin/time, numaload's result JSON, criterion,
  the sampler benchmark, oha, Prometheus text, /proc files) into values. No I/O.
- `stats`: medians with their spread, CPU time interpolated over a measured window.
- `pairs`: point 1's paired rounds (A C B B C A), their ratios and whether a round was steady.
- `plan`: the plan files the runs use.
- `tools`: everything that runs a process or opens a socket (servers, wrk, `numaload run`,
  CPU sampling from /proc, the first-request watcher).
- `points/`: one module per point of BENCHMARKS.md, each a `measure(ctx)` (I/O, through
  `tools`) and a pure `render(...)` that returns the section's markdown and its summary rows.
- `report`: the whole file from the sections (header, summary table, sections).
- `cli`: the entry point: settings, build, the points in order, the report.

Everything is pinned: servers to CPU 0, generators and microbenchmarks to CPU 1. Other work on
the machine skews the numbers: the load average before and after is written into BENCHMARKS.md.

The unit tests (`tests/`, fixtures captured from a real run) cover the parsers, the statistics
and every renderer; `make test-crates` runs them, and `make bench` runs them before measuring.
"""
