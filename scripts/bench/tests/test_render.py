"""Every section's markdown and summary rows. The whole report of two real runs (`make bench
QUICK=1`, and one of two rounds per point) is rebuilt from the rows each collected
(fixtures/rows*/) and must equal the file it wrote (fixtures/expected/BENCHMARKS-*.md); each
renderer's tables were checked against the previous harness's on those rows. Then each renderer's
judgements on small hand-made cases."""

import json
import unittest

from bench import parse, report
from bench.config import settings
from bench.pairs import Run
from bench.points import generator, loadcpus, opencost, openloop, overhead, shapes, startup, target
from bench.section import Section
from bench.tests import FIXTURES, fixture

QUICK = settings({"QUICK": "1"})
FULL = settings({})
# The second run: no QUICK, fewer rounds and steps (several rounds per point, so every spread).
ROUNDS = settings({"ROUNDS": "2", "FEW_ROUNDS": "2", "TARGET_ROUNDS": "2", "OPEN_STEPS": "50 110", "COST_ROUNDS": "2",
                   "COST_RATES": "5000 50000", "SECONDS_PER_ROUND": "2", "COST_SECONDS": "2"})


def rows(name, run="rows"):
    return json.loads(fixture(f"{run}/rows-{name}.json"))


def sections_of(s, run):
    rows_of = lambda name: rows(name, run)
    m = rows_of("5")[0]
    return [
        generator.render(generator.params(s, "1"), [Run(**r) for r in rows_of("1")]),
        generator.render(generator.params(s, "1b"), [Run(**r) for r in rows_of("1b")]),
        openloop.render(openloop.params(s), rows_of("2"), rows_of("3")),
        target.render(target.params(s), [target.Round(**r) for r in rows_of("4")]),
        overhead.render(overhead.params(s), overhead.Measured(
            {k: parse.Estimate(**v) for k, v in m["criterion"].items()}, m["sampler"])),
        startup.render(startup.params(s), [startup.FirstRequest(**r) for r in rows_of("6-first")],
                       [startup.Memory(**r) for r in rows_of("6-memory")]),
        loadcpus.render([]),  # that machine had no numa-vm record
        opencost.render(opencost.params(s), rows_of("8")),
    ]


QUICK_FACTS = report.Facts(
    date="2026-12-06T06:00:27Z", commit="unknown", dirty=True, cpus=2, cpu_model="AMD EPYC", memory_gib=23,
    kernel="6.18.44-fc-v1272", numaload="0.1.0", wrk="wrk debian/4.1.0-3+b2", rustc="rustc 1.95.0",
    load_before="2.01 3.91 4.24", load_after="1.87 2.33 3.43", measuring_s=333, total_s=335)


def summary_of(section: Section):
    return [(r.point, r.what, r.goal, r.measured, r.met) for r in section.summary]


ROUNDS_FACTS = report.Facts(**{**QUICK_FACTS.__dict__, "date": "2026-12-06T06:08:20Z",
                                "load_before": "1.79 2.07 3.11", "load_after": "3.07 2.77 3.14",
                                "measuring_s": 273, "total_s": 274})


class RealRunTest(unittest.TestCase):
    def test_the_quick_report_is_reproduced(self):
        got = report.render(QUICK_FACTS, True, sections_of(QUICK, "rows"))
        want = fixture("expected/BENCHMARKS-quick.md")
        self.assertEqual(got.splitlines(), want.splitlines())
        self.assertEqual(got, want)

    def test_a_report_of_several_rounds_is_reproduced(self):
        got = report.render(ROUNDS_FACTS, False, sections_of(ROUNDS, "rows-rounds"))
        want = fixture("expected/BENCHMARKS-rounds.md")
        self.assertEqual(got.splitlines(), want.splitlines())
        self.assertEqual(got, want)

    def test_full_run_wording_of_the_section_heads(self):
        # The heads as a full run writes them (BENCHMARKS.md): rounds, windows and commands.
        text = generator.render(generator.params(FULL, "1"), [Run(**r) for r in rows("1")]).markdown
        self.assertIn("50 keep-alive connections; 3s measured after 1s warm-up; 8 rounds of six runs", text)
        self.assertIn("- wrk: `taskset -c 1 wrk -t1 -c50 -d3s --latency`;", text)
        text = openloop.render(openloop.params(FULL), rows("2"), rows("3")).markdown
        self.assertIn("50 connections, 3s measured after 1s warm-up\n", text)
        self.assertIn("(a 2s closed-loop run on the same target and connections)", text)
        self.assertIn("load on CPU 1, 5s after 1s warm-up, 3 round(s)\n", text)
        text = target.render(target.params(FULL), [target.Round(**r) for r in rows("4")]).markdown
        self.assertIn("`taskset -c 1 wrk -t1 -c50 -d5s` after a 1 s warm-up against each fresh server; 5 rounds", text)
        text = startup.render(startup.params(FULL), [startup.FirstRequest(**r) for r in rows("6-first")],
                              [startup.Memory(**r) for r in rows("6-memory")]).markdown
        self.assertIn("(poll about every 1 ms, so up to ~1–2 ms late); 5 runs\n", text)
        self.assertIn("1 s warm-up) measured for 5s and 30s;", text)
        text = opencost.render(opencost.params(FULL), rows("8")).markdown
        self.assertIn("50 keep-alive connections; 3 round(s), each:", text)
        self.assertIn('(replicas = 1, reserve_cpus = 1, 3s measured after 1s warm-up), run at send_precision = '
                      'default, "100us" (`default`', text)


class TlsPointTest(unittest.TestCase):
    def test_point_9_is_point_1_over_tls_judged_on_cpu_per_request(self):
        p = generator.params(FULL, "9")
        self.assertTrue(p.tls)
        self.assertEqual((p.connections, p.rounds), (50, 4))
        section = generator.render(p, [Run(**r) for r in rows("1")])
        self.assertIn("## 9. Load generator vs wrk over TLS", section.markdown)
        self.assertIn("`tls = true` and `insecure_skip_verify = true`", section.markdown)
        summary = summary_of(section)
        self.assertEqual([(r[0], r[2]) for r in summary], [("9", "—"), ("9", "≤ 1.0")])
        self.assertIn("over https", summary[1][1])
        self.assertEqual(generator.params(QUICK, "9").rounds, 1)


class LoadCpusTest(unittest.TestCase):
    def test_recorded_runs(self):
        history = loadcpus.read_history(str(FIXTURES / "loadcpus-history.jsonl"), 8)
        s = loadcpus.render(history)
        self.assertEqual(s.markdown, fixture("expected/7.md"))
        self.assertEqual(summary_of(s), [("7", "two load CPUs / one, highest kept open-loop rate in the 4-node guest "
                                               "(median of runs)", "≥ 1.6 on a host with ≥ 10 CPUs", "0.31",
                                          "— (2-CPU host: not asserted)")])

    def test_asserted_runs_are_judged(self):
        run = json.loads(fixture("loadcpus-history.jsonl"))
        good = dict(run, ratio=1.7, asserted_min_ratio=1.6)
        self.assertEqual(loadcpus.render([good]).summary[0].met, "yes")
        self.assertEqual(loadcpus.render([good, dict(good, ratio=1.2)]).summary[0].met, "**no**")
        self.assertNotIn("kept less than one", loadcpus.render([good]).markdown)

    def test_no_history(self):
        self.assertEqual(loadcpus.read_history(str(FIXTURES / "no-such-file"), 8), [])
        s = loadcpus.render([])
        self.assertTrue(s.markdown.endswith("\n\nNo run recorded yet (run `tests/numa-vm/run.sh`).\n"))
        self.assertEqual(s.summary, ())


GEN_ROWS = [  # round slot gen rps worker p50 p99 proc
    (1, 1, "n", 100000, 6.0, 400, 600, 9.0), (1, 2, "e", 98000, 6.5, 400, 600, 9.5),
    (1, 3, "w", 100000, 8.0, 400, 900, 10.0), (1, 4, "w", 100000, 8.0, 400, 900, 10.0),
    (1, 5, "e", 98000, 6.5, 400, 600, 9.5), (1, 6, "n", 102000, 6.0, 400, 600, 9.0),
    # the machine sped up by 20% between the two wrk runs at the ends: marked and not judged
    (2, 1, "w", 90000, 8.0, 400, 900, 10.0), (2, 2, "e", 98000, 6.5, 400, 600, 9.5),
    (2, 3, "n", 140000, 6.0, 400, 600, 9.0), (2, 4, "n", 140000, 6.0, 400, 600, 9.0),
    (2, 5, "e", 98000, 6.5, 400, 600, 9.5), (2, 6, "w", 108000, 8.0, 400, 900, 10.0)]


class GeneratorTest(unittest.TestCase):
    def test_steady_rounds_are_judged_and_unsteady_ones_marked(self):
        runs = [Run(*r) for r in GEN_ROWS]
        text, summary = generator.tables_and_summary(runs)
        self.assertIn("| 1 | A C B B C A | 100,000, 102,000 | 100,000, 100,000 | 1.010 |", text)
        self.assertIn("| 2 † | B C A A C B |", text)
        self.assertIn("- steady rounds: 1 of 2\n", text)
        self.assertIn("closed-loop maximum used by the open-loop steps: 120,500 req/s", text)
        got = {r.what: r for r in summary}
        req = got["closed-loop req/s, numaload/wrk (median of steady rounds)"]
        self.assertEqual((req.measured, req.met), ("1.010 (1.010–1.010; 1/2 rounds steady)", "yes"))
        cpu = got["CPU per request, whole numaload run process / wrk (median of steady rounds)"]
        self.assertEqual((cpu.measured, cpu.met), ("0.900 (0.900–0.900; 1/2 rounds steady)", "yes"))

    def test_no_steady_round_decides_nothing(self):
        runs = [Run(*r) for r in GEN_ROWS if r[0] == 2]
        text, summary = generator.tables_and_summary(runs)
        self.assertIn("- steady rounds: 0 of 1 — **none: the figures below are every round's", text)
        self.assertEqual([r.met for r in summary], ["undecided (machine unsteady)"] * 2 + ["—"])

    def test_few_connections_have_no_goal(self):
        runs = [Run(*r) for r in GEN_ROWS]
        text, summary = generator.tables_and_summary(runs, "1b", "spin = false")
        self.assertEqual([(r.point, r.goal, r.met) for r in summary], [("1b", "—", "—")] * 2)
        self.assertIn("(median; spin = false: 0.980)", summary[0].what)
        self.assertNotIn("closed-loop maximum", text)


def open_step(pct, target_rps, achieved, behind="", late=3):
    return {"target_rps": target_rps, "achieved_rps": achieved, "requests": 10000, "errors": 0, "late_sends": late,
            "lag_p50_ns": 8000, "lag_p99_ns": 16000, "corrected_p50_ns": 100000, "corrected_p99_ns": 200000,
            "uncorrected_p50_ns": 90000, "uncorrected_p99_ns": 180000, "busy": 0.2, "behind": behind,
            "pct": pct, "max_rps": 10000, "round": 1}


class OpenLoopTest(unittest.TestCase):
    def test_accuracy_within_one_percent_up_to_ninety(self):
        steps = [open_step(10, 1000, 1000), open_step(90, 9000, 8950),
                 open_step(150, 15000, 10000, "x fell behind")]
        text, summary = openloop.render_accuracy(steps)
        self.assertIn("| 90% | 10,000 | 9,000 | 8,950 | 0.9944 | yes | 8.0 µs | 16.0 µs | 0.03% | 200 µs | 20% | — |", text)
        self.assertIn("| 150% | 10,000 | 15,000 | 10,000 | 0.6667 | **no** |", text)
        self.assertIn("- 150%: numaload flagged it: “x fell behind”; 3 late sends, send lag p99 0.0 ms", text)
        self.assertEqual([(r.measured, r.met) for r in summary], [("2/2 (worst 0.56%)", "yes"), ("1/1", "yes")])
        _, summary = openloop.render_accuracy([open_step(50, 5000, 4000), open_step(110, 11000, 9000)])
        self.assertEqual([(r.measured, r.met) for r in summary], [("0/1 (worst 20.00%)", "**no**"), ("0/1", "**no**")])
        _, summary = openloop.render_accuracy([open_step(10, 1000, 1000), open_step(20, 2000, 1970)])
        self.assertEqual((summary[0].measured, summary[0].met), ("1/2 (worst 1.50%)", "**no**"))
        self.assertEqual(len(summary), 1)  # no step past the maximum: no row for it

    def test_precision_is_judged_on_the_worst_round(self):
        rounds = [dict(open_step(0, 2000, 2000), round=1), dict(open_step(0, 2000, 2000), round=2,
                                                                 corrected_p50_ns=151000)]
        text, summary = openloop.render_precision(rounds)
        self.assertIn("| 1 | 2,000 | 100.0 µs | 90.0 µs | 10.0 µs | 8.0 µs | 16.0 µs | 3 | 20% |", text)
        self.assertEqual((summary[0].measured, summary[0].met), ("61.0 µs", "**no**"))


class TargetOverheadStartupTest(unittest.TestCase):
    def test_target_median_ratio(self):
        s = target.render(target.params(QUICK), [target.Round(1, "bare", 95000.0, 100000.0), target.Round(2, "target", 97000.0, 100000.0)])
        self.assertIn("| 1 | bare | 95,000 | 100,000 | 0.950 |", s.markdown)
        self.assertEqual(summary_of(s), [("4", "async target (work 0) / bare hyper req/s (median)", "≥ 0.95", "0.960", "yes")])

    def test_overhead_goals(self):
        crit = {n: parse.Estimate(v, v * 0.9, v * 1.1) for n, v in [
            ("record/one_latency", 8.0), ("record/open_loop_request", 16.0), ("merge/1000_encoded", 120e6),
            ("merge/1000_decode_only", 60e6)]}
        sampler = parse.sampler_cost("sampler_cost seconds=10.0 samples=100 sampler_pct=0.3 replica_sampled_cpu_ns=20000000 "
                                     "replica_idle_cpu_ns=0 replica_extra_pct=0.2 per_sample_us=300")
        s = overhead.render(overhead.params(FULL), overhead.Measured(crit, sampler))
        self.assertIn("| merge 1,000 encoded histograms (`merge_encoded`) | 120.0 ms | 108.0–132.0 ms | < 100 ms |", s.markdown)
        self.assertEqual([r.met for r in s.summary], ["yes", "**no**", "yes"])
        self.assertEqual(s.summary[2].measured, "0.50%")

    def test_startup_with_a_first_request_never_seen(self):
        first = [startup.FirstRequest(1, 1_000_000_000, 1_045_000_000, 1_040_000_000),
                 startup.FirstRequest(2, 1_000_000_000, 0, 0)]
        memory = [startup.Memory(5, 20480, 500000), startup.Memory(30, 20992, 3000000)]
        s = startup.render(startup.params(FULL), first, memory)
        self.assertIn("| 1 | 45 ms | 40 ms |\n| 2 | nan ms | nan ms |\n", s.markdown)
        self.assertIn("| 30 s | 3,000,000 | 20.5 MiB |", s.markdown)
        self.assertEqual([(r.measured, r.met) for r in s.summary], [("45 ms", "**no**"), ("1.025", "yes")])
        s = startup.render(startup.params(FULL), first[1:], memory)
        self.assertEqual(s.summary[0].measured, "not seen")
        self.assertIn("| 2 | nan ms | nan ms |\n\n\n| run length |", s.markdown)


class OpenCostTest(unittest.TestCase):
    ROWS = [
        {"round": 1, "gen": "wrk", "rate": 0, "rps": 200000.0, "cpu_us": 4.5},
        {"round": 1, "gen": "numaload", "rate": 20000, "precision": "default", "cpu_us": 8.0, "rps": 20000.0,
         "p50_us": 80.0, "uncorrected_p50_us": 40.0, "lag_p50_us": 30.0, "lag_p99_us": 60.0, "busy": 0.3,
         "paced": 0.02, "wakeups_per_request": 0.5, "suspect": []},
        {"round": 1, "gen": "numaload", "rate": 20000, "precision": "100us", "cpu_us": 5.4, "rps": 20000.0,
         "p50_us": 150.0, "uncorrected_p50_us": 40.0, "lag_p50_us": 50.0, "lag_p99_us": 120.0, "busy": 0.2,
         "paced": 0.0, "wakeups_per_request": 0.25,
         "suspect": ["load worker 0 on CPU 1 was 97% busy: the generator may have limited the measurement"]},
        {"round": 1, "gen": "oha", "rate": 20000, "cpu_us": 9.5, "rps": 19990.0, "p50_us": 900.0,
         "handling_p50_le_us": 50.0, "handling_mean_us": 2.0, "handled": 1100},
    ]

    def test_rows_in_run_order_and_one_pair_of_summary_rows_per_precision(self):
        text, summary = opencost.table_and_summary(self.ROWS)
        lines = [
            "| 20,000 | numaload (send_precision = default) | 20,000 | 8.00 | 1.78 | 80 | 30 / 60 | 30% (2%) | 0.50 | ≤ 50 (2.00) |",
            '| 20,000 | numaload (send_precision = "100us") | 20,000 | 5.40 | 1.20 | 150 | 50 / 120 | 20% (0%) | 0.25 | ≤ 50 (2.00) |',
            "| 20,000 | oha | 19,990 | 9.50 | 2.11 | 900 | — | — | — | ≤ 50 (2.00) |"]
        self.assertEqual([text.index(l) for l in lines], sorted(text.index(l) for l in lines))
        self.assertIn('flag: at send_precision = "100us": load worker 0 on CPU 1 was 97% busy', text)
        got = [(r.point, r.goal, r.measured, r.met) for r in summary]
        self.assertEqual(got, [("8", "≤ 2.0", "1.78", "yes"), ("8", "≤ 100 µs; < 100 µs", "78 µs; 60 µs", "yes"),
                               ("8", "≤ 2.0", "1.20", "yes"), ("8", "≤ 100 µs; < 100 µs", "148 µs; 120 µs", "**no**")])
        self.assertIn("(oha: 2.11)", summary[0].what)
        self.assertIn('send_precision = "100us"', summary[2].what)

    def test_a_rate_without_a_goal_and_no_flag(self):
        rows = [dict(r, rate=5000) if r["gen"] != "wrk" else r for r in self.ROWS[:2]]
        text, summary = opencost.table_and_summary(rows)
        self.assertIn("flag: never raised", text)
        self.assertEqual((summary[0].goal, summary[0].met), ("—", "—"))
        self.assertIn("(oha: —)", summary[0].what)


def shaped(rnd, rate, arrivals, cpu_us, suspect=()):
    return {"round": rnd, "gen": "numaload", "rate": rate, "precision": "default", "cpu_us": cpu_us, "rps": rate,
            "p50_us": 90.0, "uncorrected_p50_us": 60.0, "lag_p50_us": 30.0, "lag_p99_us": 95.0, "busy": 0.6,
            "paced": 0.0, "wakeups_per_request": 0.4, "suspect": list(suspect), "arrivals": arrivals}


class ShapesTest(unittest.TestCase):
    def test_the_ratio_is_taken_within_each_round_and_judged_on_its_median(self):
        rows = [shaped(1, 20000, "uniform", 30.0), shaped(1, 20000, "poisson", 28.5),
                shaped(2, 20000, "poisson", 33.0), shaped(2, 20000, "uniform", 30.0),
                shaped(3, 20000, "uniform", 20.0), shaped(3, 20000, "poisson", 19.0),
                shaped(1, 50000, "uniform", 15.0), shaped(1, 50000, "poisson", 16.5, ["worker 0 90% busy"])]
        behind = dict(shaped(4, 20000, "poisson", 9.0), rps=15000)
        rows += [shaped(4, 20000, "uniform", 20.0), behind]
        self.assertEqual(shapes.ratios(rows, 20000), [0.95, 1.1, 0.95], "round 4 fell behind: not compared")
        text, summary = shapes.table_and_summary(rows)
        self.assertIn("| 20,000 | uniform | 20,000 (20,000–20,000) | 25.00 (20.00–30.00) | — |", text)
        self.assertIn("| 20,000 | poisson | 20,000 (15,000–20,000) | 23.75 (9.00–33.00) | 0.950 (0.950–1.100) |",
                      text)
        self.assertIn("| 50,000 | poisson | 50,000 | 16.50 | 1.100 | 90 | 30 / 95 | 60% | 0.40 |", text)
        self.assertIn("poisson at 50,000 req/s: worker 0 90% busy", text)
        self.assertEqual([(r.point, r.goal, r.measured, r.met) for r in summary],
                         [("10", "≤ 1.0", "0.950 (0.950–1.100)", "yes"), ("10", "≤ 1.0", "1.100", "**no**")])
        self.assertIn("3/4 rounds kept the rate", summary[0].what)
        _, summary = shapes.table_and_summary([shaped(1, 50000, "uniform", 15.0), behind | {"rate": 50000}])
        self.assertEqual((summary[0].measured, summary[0].met), ("—", "undecided (no round kept the rate)"))

    def test_rounds_alternate_which_runs_first(self):
        self.assertEqual(shapes.order(1), ("uniform", "poisson"))
        self.assertEqual(shapes.order(2), ("poisson", "uniform"))


class FleetTest(unittest.TestCase):
    def test_the_fleet_point_judges_memory_time_and_the_merge(self):
        from bench.points import fleet
        p = fleet.params(FULL)
        self.assertEqual(p.agents, 10000)
        self.assertEqual(fleet.time_fields("Command exited with non-zero status 4\n12.34 700000 4.5 2.5\n"),
                         (12.34, 700000, 7.0))
        good = fleet.Row(10000, 12.3, 700000, 7.0, 3000000, 3000000, 10000)
        section = fleet.render(p, [good])
        self.assertIn("| 10,000 | 12.3 s | 8.8 s | 684 MiB | 70 KiB | 7.0 s | 0.70 ms | yes (3,000,000 and "
                      "3,000,000 over 10,000 agents) |", section.markdown)
        self.assertEqual([r.met for r in section.summary], ["yes", "yes", "yes"])
        slow = fleet.Row(10000, 20.0, 1100000, 7.0, 3000000, 2999999, 10000)
        self.assertEqual([r.met for r in fleet.render(p, [slow]).summary], ["**no**", "**no**", "**no**"])


class RealFleetTest(unittest.TestCase):
    def test_the_status_and_exit_code_must_follow_delivery(self):
        from bench.points import realfleet
        p = realfleet.params(FULL)
        self.assertEqual(p.agents, 512)
        short = realfleet.Row(512, 4, "incomplete", 153600, 47616, 512, 512, 13.3, 60000)
        section = realfleet.render(p, [short])
        self.assertIn("| 512 | 153,600 | 47,616 | 31.0% | incomplete | 512 of 512 | 4 | 13.3 s | 59 MiB |",
                      section.markdown)
        self.assertEqual([r.met for r in section.summary], ["yes"])
        # The defect this point exists for: undelivered load said to be ok, exit 0.
        lied = realfleet.Row(512, 0, "ok", 153600, 47616, 0, 512, 13.3, 60000)
        self.assertEqual([r.met for r in realfleet.render(p, [lied]).summary], ["**no**"])
        # Delivered and ok is the truth too.
        delivered = realfleet.Row(512, 0, "ok", 153600, 153600, 0, 512, 5.0, 60000)
        self.assertEqual([r.met for r in realfleet.render(p, [delivered]).summary], ["yes"])
        # Delivered yet suspect (a saturated load core) is true with exit 4, not with exit 0.
        suspect = realfleet.Row(512, 4, "suspect", 153600, 153600, 0, 512, 5.0, 60000)
        self.assertEqual([r.met for r in realfleet.render(p, [suspect]).summary], ["yes"])
        silent = realfleet.Row(512, 0, "suspect", 153600, 153600, 0, 512, 5.0, 60000)
        self.assertEqual([r.met for r in realfleet.render(p, [silent]).summary], ["**no**"])
