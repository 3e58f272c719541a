#!/usr/bin/env bash
# Point 1 of `make bench` (scripts/bench-generator.sh): numaload vs wrk in paired rounds, and
# numaload's whole-process CPU. One Python program, subcommands:
#
#   proc-cpu SAMPLES.json -- CMD...    -> runs CMD; samples its own CPU time (all its threads,
#                                         children excluded) every 10 ms, and once more after it
#                                         exited but before it is reaped; exits with CMD's code
#   window-cpu SAMPLES.json RESULT.json -> the process's CPU µs per request over the result's
#                                         measured window
#   render-generator ROWS SUMMARY POINT ALT -> the BENCHMARKS.md section's tables + summary rows
#   selftest                           -> checks the above on built-in samples (no server)
#
# docs/window.md ("How make bench compares") explains the method.
set -euo pipefail
exec python3 - "$@" <<'PY'
import json, os, statistics, subprocess, sys, tempfile, time

# The outer pair of a round is one generator run at both ends of the round: if its two req/s
# differ by more than this, the machine changed speed during the round (marked †, not judged).
DRIFT = 0.05

def proc_stat_seconds(pid):
    """utime + stime of process `pid` (its whole thread group; reaped children are in cutime and
    cstime, which are not added), in seconds."""
    stat = open(f"/proc/{pid}/stat").read()
    fields = stat[stat.rindex(")") + 2:].split()  # fields[0] is field 3 (state)
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

def proc_cpu(out_path, cmd):
    child = subprocess.Popen(cmd)
    samples = []
    while True:
        # WNOWAIT: an exited child stays a zombie, so its final CPU time can still be read.
        exited = os.waitid(os.P_PID, child.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        samples.append((time.time_ns(), proc_stat_seconds(child.pid)))
        if exited is not None:
            break
        time.sleep(0.01)
    code = child.wait()
    json.dump({"samples": samples}, open(out_path, "w"))
    return code

def cpu_at(samples, t_ns):
    """CPU seconds at wall time t_ns, interpolated between the samples around it."""
    before = [s for s in samples if s[0] <= t_ns] or samples[:1]
    after = [s for s in samples if s[0] >= t_ns] or samples[-1:]
    (t0, c0), (t1, c1) = before[-1], after[0]
    return c0 if t1 == t0 else c0 + (c1 - c0) * (t_ns - t0) / (t1 - t0)

def window_cpu(samples, result):
    """Whole-process CPU µs per request over the layout's measured window."""
    layout = result["layouts"][0]
    start = min(a["measuring_at_unix_ns"] for a in layout["agents"] if a.get("measuring_at_unix_ns"))
    end = start + int(layout["elapsed_s"] * 1e9)
    return (cpu_at(samples, end) - cpu_at(samples, start)) * 1e6 / max(layout["requests"], 1)

# ---------------------------------------------------------------- rendering

def runs_of(path):
    """rows 'round slot gen rps worker_cpu p50 p99 proc_cpu' -> {round: [run dicts in slot order]}"""
    rounds = {}
    for line in open(path):
        if not line.strip():
            continue
        r, slot, gen, *v = line.split()
        rps, worker, p50, p99, proc = map(float, v)
        rounds.setdefault(int(r), []).append(dict(slot=int(slot), gen=gen, rps=rps, worker=worker,
                                                  p50=p50, p99=p99, proc=proc))
    return {r: sorted(runs, key=lambda x: x["slot"]) for r, runs in sorted(rounds.items())}

def mean_of(runs, gen, key):
    return statistics.mean(x[key] for x in runs if x["gen"] == gen)

def span(v, fmt="{:.3f}"):
    return f"median {fmt.format(statistics.median(v))} (min–max {fmt.format(min(v))}–{fmt.format(max(v))})"

def summary_row(path, point, what, goal, measured, met):
    with open(path, "a") as f:
        f.write("\t".join([point, what, goal, measured, met]) + "\n")

def render_generator(rows_path, summary, point="1", alt="coalesce = false"):
    rounds = runs_of(rows_path)
    names = {"n": "numaload", "e": alt, "w": "wrk"}
    print("| round | order | numaload req/s (1st, 2nd) | wrk req/s (1st, 2nd) | req/s ratio "
          "| numaload CPU µs/req: worker thread / whole process | wrk CPU µs/req | CPU ratio: worker / process | outer pair differs |")
    print("|---|---|---|---|---|---|---|---|---|")
    ratios = {}  # round -> (req/s, worker CPU, process CPU, alt req/s, alt process CPU, steady)
    for r, runs in rounds.items():
        first, last = runs[0], runs[-1]
        drift = abs(first["rps"] / last["rps"] - 1)
        steady = first["gen"] == last["gen"] and drift <= DRIFT
        n = lambda k: mean_of(runs, "n", k)
        w = lambda k: mean_of(runs, "w", k)
        e = lambda k: mean_of(runs, "e", k)
        ratios[r] = (n("rps") / w("rps"), n("worker") / w("proc"), n("proc") / w("proc"),
                     e("rps") / w("rps"), e("proc") / w("proc"), steady)
        pair = lambda g: ", ".join(f"{x['rps']:,.0f}" for x in runs if x["gen"] == g)
        order = " ".join("ACB"["new".index(x["gen"])] for x in runs)
        print(f"| {r}{'' if steady else ' †'} | {order} | {pair('n')} | {pair('w')} | {ratios[r][0]:.3f} "
              f"| {n('worker'):.2f} / {n('proc'):.2f} | {w('proc'):.2f} | {ratios[r][1]:.3f} / {ratios[r][2]:.3f} "
              f"| {names[first['gen']]} {drift:.1%} |")
    print()
    every = list(ratios.values())
    steady = [x for x in every if x[5]]
    judged = steady or every
    col = lambda rows, i: [x[i] for x in rows]
    print(f"- A = numaload, C = numaload with `{alt}`, B = wrk; a round's ratio is the mean of its two "
          f"numaload runs over the mean of its two wrk runs. † the outer pair (one generator at both ends "
          f"of the round) differs by more than {DRIFT:.0%} in req/s: the machine changed speed during the "
          f"round, which is not judged.")
    print(f"- steady rounds: {len(steady)} of {len(every)}" + ("" if steady else
          " — **none: the figures below are every round's and do not judge the generators**"))
    print(f"- req/s numaload/wrk: {span(col(judged, 0))}; every round: {span(col(every, 0))}")
    print(f"- CPU per request, whole `numaload run` process / wrk process: {span(col(judged, 2))}; every round: {span(col(every, 2))}")
    print(f"- CPU per request, numaload load-worker thread / wrk process: {span(col(judged, 1))}; every round: {span(col(every, 1))}")
    print()
    print(f"`{alt}` (the same rounds) and the latency each generator reports (means of the pair; wrk: `--latency`, from its own clock reads):")
    print()
    print(f"| round | {alt} req/s | its req/s ratio | its process CPU ratio | p50 / p99 numaload | p50 / p99 {alt} | p50 / p99 wrk |")
    print("|---|---|---|---|---|---|---|")
    for r, runs in rounds.items():
        lat = lambda g: f"{mean_of(runs, g, 'p50'):,.0f} / {mean_of(runs, g, 'p99'):,.0f} µs"
        print(f"| {r} | {mean_of(runs, 'e', 'rps'):,.0f} | {ratios[r][3]:.3f} | {ratios[r][4]:.3f} | {lat('n')} | {lat('e')} | {lat('w')} |")
    print()
    print(f"- {alt}: req/s numaload/wrk {span(col(judged, 3))}; process CPU {span(col(judged, 4))}")
    rounds_said = f"{len(steady)}/{len(every)} rounds steady"
    med = lambda i: statistics.median(col(judged, i))
    measured = lambda i: f"{med(i):.3f} ({min(col(judged, i)):.3f}–{max(col(judged, i)):.3f}; {rounds_said})"
    met = lambda ok: ("yes" if ok else "**no**") if steady else "undecided (machine unsteady)"
    if point != "1":
        summary_row(summary, point, f"few connections: closed-loop req/s, numaload/wrk (median; {alt}: {med(3):.3f})", "—", measured(0), "—")
        summary_row(summary, point, "few connections: CPU per request, whole numaload run process / wrk", "—", measured(2), "—")
        return
    summary_row(summary, "1", "closed-loop req/s, numaload/wrk (median of steady rounds)", "≥ 1.0", measured(0), met(med(0) >= 1.0))
    summary_row(summary, "1", "CPU per request, whole numaload run process / wrk (median of steady rounds)", "≤ 0.9", measured(2), met(med(2) <= 0.9))
    summary_row(summary, "1", "CPU per request, numaload load-worker thread / wrk (median of steady rounds)", "—", measured(1), "—")
    print(f"\nclosed-loop maximum used by the open-loop steps: {statistics.median(mean_of(x, 'n', 'rps') for x in rounds.values()):,.0f} req/s "
          "(median of numaload's rounds)")

# ---------------------------------------------------------------- selftest

def selftest():
    import contextlib, io
    samples = [(0, 0.0), (1_000_000_000, 0.5), (3_000_000_000, 2.5), (4_000_000_000, 2.6)]
    assert cpu_at(samples, 2_000_000_000) == 1.5 and cpu_at(samples, 5_000_000_000) == 2.6
    result = {"layouts": [{"elapsed_s": 2.0, "requests": 1000,
                           "agents": [{"measuring_at_unix_ns": 1_000_000_000}]}]}
    assert abs(window_cpu(samples, result) - 2000.0) < 1e-9  # 2 s of CPU over 1,000 requests
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "cpu.json")
        code = proc_cpu(out, [sys.executable, "-c", "import time\nt=time.process_time()\nwhile time.process_time()-t<0.2: pass"])
        last = json.load(open(out))["samples"][-1][1]
        assert code == 0 and 0.15 <= last <= 0.5, last
        rows, summary = os.path.join(d, "rows"), os.path.join(d, "summary")
        # Round 1 steady (A C B B C A, outer numaload runs 2% apart); round 2 the machine sped up
        # by 20% between its two wrk runs at the ends (B C A A C B): marked and not judged.
        open(rows, "w").write(
            "1 1 n 100000 6.0 400 600 9.0\n1 2 e 98000 6.5 400 600 9.5\n1 3 w 100000 8.0 400 900 10.0\n"
            "1 4 w 100000 8.0 400 900 10.0\n1 5 e 98000 6.5 400 600 9.5\n1 6 n 102000 6.0 400 600 9.0\n"
            "2 1 w 90000 8.0 400 900 10.0\n2 2 e 98000 6.5 400 600 9.5\n2 3 n 140000 6.0 400 600 9.0\n"
            "2 4 n 140000 6.0 400 600 9.0\n2 5 e 98000 6.5 400 600 9.5\n2 6 w 108000 8.0 400 900 10.0\n")
        with contextlib.redirect_stdout(io.StringIO()) as shown:
            render_generator(rows, summary)
            render_generator(rows, summary, "1b", "spin = false")
        text = shown.getvalue()
        assert "| 1 | A C B B C A |" in text and "| 2 † | B C A A C B |" in text, text
        assert "steady rounds: 1 of 2" in text, text
        got = {r.split("\t")[1]: r.rstrip("\n").split("\t") for r in open(summary)}
        req = got["closed-loop req/s, numaload/wrk (median of steady rounds)"]
        assert req[3].startswith("1.010 ") and req[4] == "yes", req  # round 1 only: 101000/100000
        cpu = got["CPU per request, whole numaload run process / wrk (median of steady rounds)"]
        assert cpu[3].startswith("0.900 ") and cpu[4] == "yes", cpu
        assert sum(1 for r in got.values() if r[0] == "1b" and r[4] == "—") == 2
    print("bench-pairs selftest: passed", file=sys.stderr)

def main(argv):
    cmd, args = argv[0], argv[1:]
    if cmd == "proc-cpu":
        assert args[1] == "--"; sys.exit(proc_cpu(args[0], args[2:]))
    elif cmd == "window-cpu":
        print(f"{window_cpu(json.load(open(args[0]))['samples'], json.load(open(args[1]))):.3f}")
    elif cmd == "render-generator": render_generator(*args)
    elif cmd == "selftest": selftest()
    else:
        raise SystemExit(f"bench-pairs: unknown command {cmd}")

main(sys.argv[1:])
PY
