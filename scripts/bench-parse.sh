#!/usr/bin/env bash
# Parsing and rendering for `make bench` (scripts/bench*.sh): every number the benchmark scripts
# read from wrk, numaload result files, criterion and the sampler benchmark goes through here,
# and so does every markdown table and summary row they write. One Python program, subcommands:
#
#   wrk OUT [TIMEFILE]                 -> "req_per_s [cpu_us_per_req]"
#   result-closed RESULT.json          -> "req_per_s load_cpu_us_per_req p50_us p99_us"
#   result-open RESULT.json            -> one JSON object (rate, lag, latency, behind flag)
#   criterion TARGET_DIR GROUP/NAME    -> "median_ns low_ns high_ns"
#   first-request OUT.json -- CMD...   -> runs CMD, watches its replicas' /metrics from outside
#   render-openloop|render-precision|render-target|render-overhead|
#   render-startup  ARGS...            -> a BENCHMARKS.md section (stdout) + summary rows
#                                         (point 1's section: scripts/bench-pairs.sh)
#   selftest                           -> checks the parsers and renderers on built-in samples
#
# `scripts/bench-parse.sh selftest` is fast (no server, no timing) and runs first in bench.sh.
set -euo pipefail
exec python3 - "$@" <<'PY'
import json, os, re, socket, statistics, subprocess, sys, time

# ---------------------------------------------------------------- parsers

def parse_wrk(out, timefile=None):
    """wrk's stdout (and /usr/bin/time -f '%U %S' output) -> (req/s, CPU µs per request|None)."""
    total = int(re.search(r"(\d+) requests in", out).group(1))
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    if timefile is None:
        return rps, None
    user, system = map(float, timefile.split()[-2:])
    return rps, (user + system) * 1e6 / max(total, 1)

def parse_wrk_latency(out):
    """wrk --latency's distribution -> (p50 µs, p99 µs); NaN where it printed none."""
    scale = {"us": 1.0, "ms": 1e3, "s": 1e6}
    def at(pct):
        m = re.search(rf"^\s+{pct}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        return float(m.group(1)) * scale[m.group(2)] if m else float("nan")
    return at(50), at(99)

def first_layout(result):
    layout = result["layouts"][0]
    if layout["status"] != "ok":
        raise SystemExit(f"layout {layout['name']}: {layout['status']}: {layout.get('error')}")
    return layout

def parse_closed(result):
    layout = first_layout(result)
    cpu_ns = sum(w["cpu_time_ns"] for w in layout["load"]["workers"])
    return layout["throughput_rps"], cpu_ns / 1e3 / max(layout["requests"], 1)

def closed_latency(result):
    """-> (p50 µs, p99 µs) of a closed-loop layout."""
    latency = first_layout(result)["latency_ns"]
    return us(latency["p50"]), us(latency["p99"])

def parse_open(result):
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

def parse_criterion(target_dir, name):
    est = json.load(open(os.path.join(target_dir, "criterion", name, "new", "estimates.json")))
    m = est["median"]
    return m["point_estimate"], m["confidence_interval"]["lower_bound"], m["confidence_interval"]["upper_bound"]

def parse_kv(line):
    """'sampler_cost a=1 b=2.5' -> {'a': 1.0, 'b': 2.5}"""
    return {k: float(v) for k, v in (f.split("=", 1) for f in line.split()[1:] if "=" in f)}

def listening_ports(pid):
    """TCP ports process `pid` listens on (its socket inodes matched in /proc/net/tcp{,6})."""
    inodes = set()
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                link = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if link.startswith("socket:["):
                inodes.add(link[8:-1])
    except OSError:
        return []
    ports = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = open(table).read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            f = line.split()
            if len(f) > 9 and f[3] == "0A" and f[9] in inodes:
                ports.append(int(f[1].rsplit(":", 1)[1], 16))
    return ports

def descendants(pid):
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        try:
            tasks = os.listdir(f"/proc/{p}/task")
        except OSError:
            continue
        for t in tasks:
            try:
                kids = open(f"/proc/{p}/task/{t}/children").read().split()
            except OSError:
                continue
            for k in map(int, kids):
                out.append(k); todo.append(k)
    return out

def served_requests(port):
    """numaload_requests_total{status="200"} from the target's /metrics, or None."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.05) as s:
            s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            data = b""
            while chunk := s.recv(65536):
                data += chunk
    except OSError:
        return None
    m = re.search(rb'numaload_requests_total\{status="200"\} (\d+)', data)
    return int(m.group(1)) if m else None

def first_request(out_path, cmd):
    """Runs cmd (a `numaload run`), and from outside: when did a replica first count a served
    request? Polls every replica's /metrics about every millisecond. Writes JSON to out_path."""
    start_ns = time.time_ns()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    first_ns, replicas_seen_ns, ports = None, None, {}
    while proc.poll() is None and first_ns is None:
        for child in descendants(proc.pid):
            if child not in ports:
                found = listening_ports(child)
                if found:
                    ports[child] = found[0]
                    replicas_seen_ns = replicas_seen_ns or time.time_ns()
        for port in ports.values():
            n = served_requests(port)
            if n:
                first_ns = time.time_ns()
                break
        time.sleep(0.001)
    rc = proc.wait()
    json.dump({"start_ns": start_ns, "first_served_ns": first_ns,
               "replica_listening_ns": replicas_seen_ns, "rc": rc}, open(out_path, "w"))

# ---------------------------------------------------------------- rendering helpers

def span(v, fmt="{:.3f}"):
    return f"min {fmt.format(min(v))} / median {fmt.format(statistics.median(v))} / max {fmt.format(max(v))}"

def us(ns):
    return ns / 1e3

def summary_row(path, point, what, goal, measured, met):
    with open(path, "a") as f:
        f.write("\t".join([point, what, goal, measured, "yes" if met else "**no**"]) + "\n")

def rows_of(path, sep=None):
    return [l.rstrip("\n").split(sep) for l in open(path) if l.strip()]

# ---------------------------------------------------------------- section renderers
# Each takes the raw rows its script collected (TSV or JSON lines), prints markdown and appends
# to the summary TSV given as the last argument.

def render_openloop(rows_path, closed_max, summary):
    """rows: JSON lines {pct, ...parse_open}"""
    steps = [json.loads(l) for l in open(rows_path) if l.strip()]
    print("| % of max | max just before | target req/s | achieved req/s | achieved/target | within 1% | send lag p50 | send lag p99 | late sends | corrected p99 | load core busy | numaload says |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    under, worst = [], 0.0
    for s in steps:
        ratio = s["achieved_rps"] / s["target_rps"]
        ok = abs(ratio - 1) <= 0.01
        late = s["late_sends"] / max(s["requests"], 1)
        said = "fell behind" if s["behind"] else "—"
        print(f"| {s['pct']}% | {s.get('max_rps', closed_max):,.0f} | {s['target_rps']:,.0f} | {s['achieved_rps']:,.0f} | {ratio:.4f} | {'yes' if ok else '**no**'} "
              f"| {us(s['lag_p50_ns']):,.1f} µs | {us(s['lag_p99_ns']):,.1f} µs | {late:.2%} | {us(s['corrected_p99_ns']):,.0f} µs "
              f"| {s['busy']:.0%} | {said} |")
        if s["pct"] <= 90:
            under.append(ok); worst = max(worst, abs(ratio - 1))
    print()
    maxima = [s.get("max_rps", closed_max) for s in steps]
    print(f"- closed-loop maximum just before each step: {span(maxima, '{:,.0f}')} req/s; steps up to 90%: {sum(under)}/{len(under)} within 1% of the target rate "
          f"(worst {worst:.2%})")
    for s in steps:
        if s["behind"]:
            print(f"- {s['pct']}%: numaload flagged it: “{s['behind']}”; {s['late_sends']:,} late sends, send lag p99 {us(s['lag_p99_ns']) / 1e3:,.1f} ms")
    past = [s for s in steps if s["pct"] > 100]
    summary_row(summary, "2", "open loop 10–90% of max: steps within 1% of the rate", "all",
                f"{sum(under)}/{len(under)} (worst {worst:.2%})", all(under) and bool(under))
    if past:
        flagged = sum(1 for s in past if s["behind"])
        summary_row(summary, "2", "past the maximum: flagged “fell behind”", "all",
                    f"{flagged}/{len(past)}", flagged == len(past))

def render_precision(rows_path, summary):
    """rows: JSON lines {round, ...parse_open}"""
    rounds = [json.loads(l) for l in open(rows_path) if l.strip()]
    print("| round | achieved req/s | corrected p50 | uncorrected p50 | difference | send lag p50 | send lag p99 | late sends | load core busy |")
    print("|---|---|---|---|---|---|---|---|---|")
    diffs = []
    for r in rounds:
        d = us(r["corrected_p50_ns"] - r["uncorrected_p50_ns"]); diffs.append(d)
        print(f"| {r['round']} | {r['achieved_rps']:,.0f} | {us(r['corrected_p50_ns']):.1f} µs | {us(r['uncorrected_p50_ns']):.1f} µs "
              f"| {d:.1f} µs | {us(r['lag_p50_ns']):.1f} µs | {us(r['lag_p99_ns']):,.1f} µs | {r['late_sends']:,} | {r['busy']:.0%} |")
    print()
    print(f"- corrected p50 − uncorrected p50: {span(diffs, '{:.1f}')} µs (goal ≤ 50 µs in every round)")
    summary_row(summary, "3", "corrected p50 − uncorrected p50 at 2,000 req/s (worst round)", "≤ 50 µs",
                f"{max(diffs):.1f} µs", max(diffs) <= 50)

def render_target(rows_path, summary):
    """rows: round first target_rps bare_rps"""
    rows = rows_of(rows_path)
    print("| round | ran first | numaload target req/s | bare hyper req/s | ratio |")
    print("|---|---|---|---|---|")
    ratios = []
    for r, first, t, b in rows:
        t, b = float(t), float(b); ratios.append(t / b)
        print(f"| {r} | {first} | {t:,.0f} | {b:,.0f} | {t / b:.3f} |")
    print()
    print(f"- numaload target / bare hyper: {span(ratios)} (goal ≥ 0.95)")
    summary_row(summary, "4", "async target (work 0) / bare hyper req/s (median)", "≥ 0.95",
                f"{statistics.median(ratios):.3f}", statistics.median(ratios) >= 0.95)

def render_overhead(target_dir, sampler_line, summary):
    rec = parse_criterion(target_dir, "record/one_latency")
    req = parse_criterion(target_dir, "record/open_loop_request")
    merge = parse_criterion(target_dir, "merge/1000_encoded")
    decode = parse_criterion(target_dir, "merge/1000_decode_only")
    s = parse_kv(sampler_line)
    print("| measurement | median | 95% interval | goal |")
    print("|---|---|---|---|")
    print(f"| record one latency into a worker histogram | {rec[0]:.1f} ns | {rec[1]:.1f}–{rec[2]:.1f} ns | ≤ 50 ns |")
    print(f"| one open-loop request (count + 3 histograms) | {req[0]:.1f} ns | {req[1]:.1f}–{req[2]:.1f} ns | — |")
    print(f"| merge 1,000 encoded histograms (`merge_encoded`) | {merge[0] / 1e6:.1f} ms | {merge[1] / 1e6:.1f}–{merge[2] / 1e6:.1f} ms | < 100 ms |")
    print(f"| of which decoding alone | {decode[0] / 1e6:.1f} ms | {decode[1] / 1e6:.1f}–{decode[2] / 1e6:.1f} ms | — |")
    print()
    print(f"- sampler, one replica, {s['seconds']:.0f} s, {s['samples']:.0f} samples: sampler CPU {s['sampler_pct']:.2f}% of a core "
          f"({s['per_sample_us']:.0f} µs per sample, runtime included); replica's extra CPU serving the scrapes "
          f"{s['replica_extra_pct']:.2f}% of a core (sampled {s['replica_sampled_cpu_ns'] / 1e6:.0f} ms vs idle "
          f"{s['replica_idle_cpu_ns'] / 1e6:.0f} ms; /proc CPU times tick in 10 ms)")
    total = s["sampler_pct"] + s["replica_extra_pct"]
    summary_row(summary, "5", "record one latency (criterion median)", "≤ 50 ns", f"{rec[0]:.1f} ns", rec[0] <= 50)
    summary_row(summary, "5", "merge 1,000 serialized histograms (criterion median)", "< 100 ms",
                f"{merge[0] / 1e6:.1f} ms", merge[0] < 100e6)
    summary_row(summary, "5", "sampling one replica every 100 ms (sampler + replica side)", "< 1% of a core",
                f"{total:.2f}%", total < 1.0)

def render_startup(first_rows, mem_rows, summary):
    """first_rows: JSON lines {run, outside(first_request json), measuring_at_ns}; mem_rows: secs rss_kb requests"""
    runs = [json.loads(l) for l in open(first_rows) if l.strip()]
    print("| run | process start → first request served (outside, /metrics polled) | process start → measuring phase (result JSON, warm-up 0) |")
    print("|---|---|---|")
    outside, inside = [], []
    for r in runs:
        o = r["outside"]
        out_ms = (o["first_served_ns"] - o["start_ns"]) / 1e6 if o["first_served_ns"] else float("nan")
        in_ms = (r["measuring_at_ns"] - o["start_ns"]) / 1e6 if r["measuring_at_ns"] else float("nan")
        outside.append(out_ms); inside.append(in_ms)
        print(f"| {r['run']} | {out_ms:.0f} ms | {in_ms:.0f} ms |")
    print()
    good = [v for v in outside if v == v]
    if good:
        print(f"- plan to first request, two replicas: {span(good, '{:.0f}')} ms (goal ≤ 500 ms)")
    summary_row(summary, "6", "plan to first request, two replicas (worst run, outside)", "≤ 500 ms",
                f"{max(good):.0f} ms" if good else "not seen", bool(good) and len(good) == len(outside) and max(good) <= 500)
    mem = [list(map(float, r)) for r in rows_of(mem_rows)]
    print()
    print("| run length | requests | max RSS of `numaload run` |")
    print("|---|---|---|")
    for secs, rss, reqs in mem:
        print(f"| {secs:.0f} s | {reqs:,.0f} | {rss / 1024:.1f} MiB |")
    (s_secs, s_rss, _), (l_secs, l_rss, _) = mem[0], mem[-1]
    growth = l_rss / s_rss
    print()
    print(f"- max RSS {l_secs:.0f} s run / {s_secs:.0f} s run: {growth:.3f} (goal: flat, ≤ 1.10)")
    summary_row(summary, "6", f"controller max RSS, {l_secs:.0f} s run / {s_secs:.0f} s run", "≤ 1.10 (flat)",
                f"{growth:.3f}", growth <= 1.10)

# ---------------------------------------------------------------- self test

WRK_SAMPLE = """Running 5s test @ http://127.0.0.1:40000/
  1 threads and 50 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   452.10us   80.22us   3.10ms   90.00%
    Req/Sec   110.51k     3.20k  115.00k    80.00%
  Latency Distribution
     50%  431.00us
     75%  470.00us
     90%  520.00us
     99%    1.20ms
  549871 requests in 5.00s, 41.95MB read
Requests/sec: 109974.20
Transfer/sec:      8.39MB
"""

def sample_result(mode="open", rate=2000.0, achieved=2000.0, suspect=()):
    p = lambda v: {"count": 1, "min": v, "mean": v, "p50": v, "p90": v, "p99": v * 2, "p999": v * 3, "max": v * 4}
    return {"layouts": [{"name": "x", "status": "ok", "mode": mode, "target_rate_rps": rate,
                         "throughput_rps": achieved, "requests": 10000, "errors": 0, "late_sends": 3,
                         "latency_ns": p(100_000), "latency_uncorrected_ns": p(90_000),
                         "send_lag_ns": p(8_000) if mode == "open" else None, "suspect": list(suspect),
                         "load": {"workers": [{"cpu_time_ns": 80_000_000, "busy": 0.2}]}}]}

def selftest():
    import contextlib, io, tempfile
    with contextlib.redirect_stdout(io.StringIO()) as shown:
        _selftest()
    assert "| 150% |" in shown.getvalue() and "fell behind" in shown.getvalue()
    print("bench-parse selftest: 1 passed, 0 failed", file=sys.stderr)

def _selftest():
    import tempfile
    rps, cpu = parse_wrk(WRK_SAMPLE, "0.91 4.02\n")
    assert rps == 109974.20 and abs(cpu - 4.93e6 / 549871) < 1e-6, (rps, cpu)
    assert parse_wrk(WRK_SAMPLE) == (109974.20, None)
    assert parse_wrk_latency(WRK_SAMPLE) == (431.0, 1200.0)
    assert all(v != v for v in parse_wrk_latency("no distribution"))
    assert parse_closed(sample_result("closed")) == (2000.0, 8.0)
    assert closed_latency(sample_result("closed")) == (100.0, 200.0)
    o = parse_open(sample_result(suspect=["achieved 1,800 req/s of the 2,000 req/s asked: the target or the generator fell behind"]))
    assert o["lag_p50_ns"] == 8000 and o["behind"].startswith("achieved") and o["busy"] == 0.2, o
    assert parse_open(sample_result())["behind"] == ""
    assert parse_kv("sampler_cost seconds=10.0 samples=100 sampler_pct=0.3") == {"seconds": 10.0, "samples": 100.0, "sampler_pct": 0.3}
    try:
        first_layout({"layouts": [{"name": "x", "status": "failed", "error": "boom"}]})
        raise AssertionError("a failed layout must stop the benchmark")
    except SystemExit as e:
        assert "boom" in str(e)
    with tempfile.TemporaryDirectory() as d:
        j = lambda name: os.path.join(d, name)
        summary = j("summary.tsv")
        steps = [dict(parse_open(sample_result(rate=r, achieved=a, suspect=s)), pct=p, max_rps=m) for p, m, r, a, s in
                 [(10, 10000, 1000, 1000, ()), (90, 10000, 9000, 8950, ()), (150, 10000, 15000, 10000, ("x fell behind",))]]
        open(j("open"), "w").write("".join(json.dumps(s) + "\n" for s in steps))
        render_openloop(j("open"), 10000, summary)
        open(j("prec"), "w").write(json.dumps(dict(parse_open(sample_result()), round=1)) + "\n")
        render_precision(j("prec"), summary)
        open(j("tgt"), "w").write("1\tbare\t95000\t100000\n2\ttarget\t97000\t100000\n")
        render_target(j("tgt"), summary)
        for name, ns in [("record/one_latency", 8.0), ("record/open_loop_request", 16.0),
                         ("merge/1000_encoded", 120e6), ("merge/1000_decode_only", 60e6)]:
            os.makedirs(j(f"criterion/{name}/new"))
            json.dump({"median": {"point_estimate": ns, "confidence_interval": {"lower_bound": ns * 0.9, "upper_bound": ns * 1.1}}},
                      open(j(f"criterion/{name}/new/estimates.json"), "w"))
        render_overhead(d, "sampler_cost seconds=10.0 samples=100 sampler_cpu_ns=30000000 sampler_pct=0.3 "
                           "replica_sampled_cpu_ns=20000000 replica_idle_cpu_ns=0 replica_extra_pct=0.2 per_sample_us=300", summary)
        open(j("first"), "w").write(json.dumps({"run": 1, "measuring_at_ns": 1_040_000_000,
                                                "outside": {"start_ns": 1_000_000_000, "first_served_ns": 1_045_000_000}}) + "\n")
        open(j("mem"), "w").write("5 20480 500000\n30 20992 3000000\n")
        render_startup(j("first"), j("mem"), summary)
        rows = rows_of(summary, "\t")
        got = {(r[0], r[1]): r[4] for r in rows}
        assert got[("2", "open loop 10–90% of max: steps within 1% of the rate")] == "yes"
        assert got[("2", "past the maximum: flagged “fell behind”")] == "yes"
        assert got[("3", "corrected p50 − uncorrected p50 at 2,000 req/s (worst round)")] == "yes"
        assert got[("4", "async target (work 0) / bare hyper req/s (median)")] == "yes"
        assert got[("5", "merge 1,000 serialized histograms (criterion median)")] == "**no**"
        assert got[("6", "plan to first request, two replicas (worst run, outside)")] == "yes"
        assert len(rows) == 9, rows

# ---------------------------------------------------------------- entry

def main(argv):
    cmd, args = argv[0], argv[1:]
    if cmd == "wrk":
        out = open(args[0]).read()
        rps, cpu = parse_wrk(out, open(args[1]).read() if len(args) > 1 else None)
        p50, p99 = parse_wrk_latency(out)
        print(f"{rps:.0f}" + (f" {cpu:.3f} {p50:.1f} {p99:.1f}" if cpu is not None else ""))
    elif cmd == "result-closed":
        result = json.load(open(args[0]))
        rps, cpu = parse_closed(result); p50, p99 = closed_latency(result)
        print(f"{rps:.0f} {cpu:.3f} {p50:.1f} {p99:.1f}")
    elif cmd == "result-open":
        print(json.dumps(parse_open(json.load(open(args[0])))))
    elif cmd == "measuring-at":
        layout = json.load(open(args[0]))["layouts"][0]
        print(min((a["measuring_at_unix_ns"] for a in layout["agents"] if a.get("measuring_at_unix_ns")), default=0))
    elif cmd == "requests":
        print(json.load(open(args[0]))["layouts"][0]["requests"])
    elif cmd == "criterion":
        print(" ".join(f"{v:.3f}" for v in parse_criterion(args[0], args[1])))
    elif cmd == "first-request":
        assert args[1] == "--"; first_request(args[0], args[2:])
    elif cmd == "render-openloop": render_openloop(args[0], float(args[1]), args[2])
    elif cmd == "render-precision": render_precision(*args)
    elif cmd == "render-target": render_target(*args)
    elif cmd == "render-overhead": render_overhead(args[0], open(args[1]).read().strip(), args[2])
    elif cmd == "render-startup": render_startup(*args)
    elif cmd == "selftest": selftest()
    else:
        raise SystemExit(f"bench-parse: unknown command {cmd}")

main(sys.argv[1:])
PY
