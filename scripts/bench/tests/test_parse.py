"""Each tool's output parser on the output captured in a real `make bench QUICK=1` run
(fixtures/raw/), checked against figures read off those files by hand and against the rows that
run derived from them (fixtures/rows/)."""

import json
import math
import unittest

from bench import parse, stats
from bench.points import opencost
from bench.tests import FIXTURES, fixture


def raw(name):
    return fixture(f"raw/{name}")


def result(name):
    return json.loads(raw(name))


def rows(name):
    return json.loads(fixture(f"rows/rows-{name}.json"))


class H2loadTest(unittest.TestCase):
    def test_succeeded_requests_and_rate(self):
        h = parse.h2load(raw("h2load.out"))
        self.assertEqual((h.succeeded, h.rps), (18067, 9033.50))  # "18067 succeeded", "9033.50 req/s"

    def test_a_changed_output_fails(self):
        with self.assertRaises(parse.ParseError):
            parse.h2load("finished in 2.02s\n")


class WrkTest(unittest.TestCase):
    def test_requests_rate_and_latency_distribution(self):
        w = parse.wrk(raw("wrk.out"))
        self.assertEqual((w.requests, w.rps), (80654, 40092.78))
        self.assertEqual((w.p50_us, w.p99_us), (534.0, 12690.0))  # "534.00us", "12.69ms"

    def test_without_latency_distribution(self):
        out = "\n".join(l for l in raw("wrk.out").splitlines() if "%" not in l or "Stdev" in l)
        w = parse.wrk(out)
        self.assertEqual(w.rps, 40092.78)
        self.assertTrue(math.isnan(w.p50_us) and math.isnan(w.p99_us))

    def test_cpu_per_request_as_the_run_computed_it(self):
        wrk_row = rows("8")[0]
        self.assertEqual(wrk_row["gen"], "wrk")
        w = parse.wrk(raw("wrk.out"))
        self.assertEqual(parse.cpu_seconds(raw("wrk.time")), 0.13 + 0.68)
        self.assertEqual(wrk_row["rps"], w.rps)
        self.assertAlmostEqual(wrk_row["cpu_us"], (0.13 + 0.68) * 1e6 / 80654)

    def test_a_changed_output_fails(self):
        for broken in ("", raw("wrk.out").replace("Requests/sec", "Req/s"),
                       raw("wrk.out").replace("requests in", "reqs in")):
            with self.assertRaises(parse.ParseError):
                parse.wrk(broken)


class TimeTest(unittest.TestCase):
    def test_user_system_and_max_rss(self):
        self.assertEqual(parse.cpu_seconds(raw("oha.time")), 0.81 + 1.23)
        self.assertEqual(parse.max_rss_kb(raw("mem.time")), 18752)
        self.assertEqual(rows("6-memory")[-1]["max_rss_kb"], 18752)
        # GNU time prints a line of its own before the format when the command failed.
        self.assertEqual(parse.max_rss_kb("Command exited with non-zero status 4\n18752\n"), 18752)
        with self.assertRaises(parse.ParseError):
            parse.max_rss_kb("")
        with self.assertRaises(parse.ParseError):
            parse.cpu_seconds("0.5")


class ResultTest(unittest.TestCase):
    def test_closed_loop(self):
        c = parse.closed(result("result-closed.json"))
        last = rows("1b")[-1]  # the run the file is from: point 1b, round 1, slot 6, numaload
        self.assertEqual((last["gen"], last["slot"]), ("n", 6))
        self.assertEqual((c.rps, c.p50_us, c.p99_us), (last["rps"], last["p50"], last["p99"]))
        self.assertAlmostEqual(c.worker_cpu_us, last["worker"])
        self.assertEqual(c.rps, 23014.5)
        self.assertAlmostEqual(c.p50_us, 67.967)

    def test_open_loop_past_the_maximum(self):
        o = parse.open_loop(result("result-open-past-max.json"))
        step = rows("2")[-1]
        self.assertEqual(o, {k: v for k, v in step.items() if k not in ("pct", "max_rps")})
        self.assertEqual((o["target_rps"], o["achieved_rps"], o["late_sends"]), (121830.0, 105352.0, 105176))
        self.assertEqual(o["behind"], "achieved 105352 req/s of the 121830 req/s asked: the target or the "
                                      "generator fell behind")

    def test_only_fell_behind_flags_a_step(self):
        # The warm-up entry says "was already behind": not the rate's "fell behind".
        r = result("result-open-past-max.json")
        suspect = r["layouts"][0]["suspect"]
        self.assertTrue(any("already behind" in s for s in suspect))
        r["layouts"][0]["suspect"] = [s for s in suspect if "fell behind" not in s]
        self.assertEqual(parse.open_loop(r)["behind"], "")

    def test_busy_is_the_busiest_workers(self):
        r = result("result-open-past-max.json")
        workers = r["layouts"][0]["load"]["workers"]
        workers.append(dict(workers[0], busy=0.5))
        self.assertEqual(parse.open_loop(r)["busy"], 0.917511322)
        cost = parse.open_cost(r)  # point 8 adds them up: the load's CPUs in all
        self.assertAlmostEqual(cost["busy"], 0.917511322 + 0.5)

    def test_open_loop_cost_and_cpu_over_the_window(self):
        r = result("result-open-cost.json")
        samples = [tuple(s) for s in json.loads(raw("cpu-samples.json"))["samples"]]
        cpu = stats.cpu_us_per_request(samples, parse.measured_window(r))
        got = opencost.numaload_row(1, 100000, cpu, r, "100us")
        want = [x for x in rows("8") if x["gen"] == "numaload" and x["rate"] == 100000 and x["precision"] == "100us"]
        self.assertEqual(got, want[0])
        self.assertEqual(got["suspect"], [])  # "% busy" entries only: this run's reasons are others

    def test_window_and_measuring_start(self):
        r = result("result-first-request.json")
        self.assertEqual(parse.measuring_at_ns(r), rows("6-first")[-1]["measuring_at_ns"])
        w = parse.measured_window(r)
        self.assertEqual(w.end_ns - w.start_ns, int(r["layouts"][0]["elapsed_s"] * 1e9))
        self.assertEqual(w.requests, parse.requests(r))
        with self.assertRaises(parse.ParseError):
            parse.measured_window({"layouts": [{"elapsed_s": 1.0, "requests": 1, "agents": []}]})

    def test_measured_statuses_are_kept_and_the_others_stop_the_benchmark(self):
        self.assertEqual(result("result-open-past-max.json")["layouts"][0]["status"], "incomplete")
        self.assertEqual(result("result-first-request.json")["layouts"][0]["status"], "suspect")
        for status in ("failed", "degraded"):
            r = result("result-closed.json")
            r["layouts"][0].update(status=status, error="boom")
            with self.subTest(status=status), self.assertRaisesRegex(parse.LayoutFailed, f"{status}: boom"):
                parse.closed(r)


class CriterionAndSamplerTest(unittest.TestCase):
    def test_estimates(self):
        kept = rows("5")[0]["criterion"]
        for name in kept:
            got = parse.criterion(json.loads((FIXTURES / "raw/criterion" / name / "new/estimates.json").read_text()))
            self.assertEqual(vars(got), kept[name])
        one = parse.criterion(json.loads(raw("criterion/record/one_latency/new/estimates.json")))
        self.assertTrue(one.low <= one.median <= one.high)

    def test_sampler_line(self):
        s = parse.sampler_cost(raw("sampler.out"))
        self.assertEqual(s, rows("5")[0]["sampler"])
        self.assertEqual((s["seconds"], s["samples"], s["sampler_pct"]), (2.0, 21.0, 0.707))
        self.assertEqual(parse.sampler_cost("noise\nsampler_cost a=1 b=2.5 junk\n"), {"a": 1.0, "b": 2.5})
        with self.assertRaises(parse.ParseError):
            parse.sampler_cost("sampler cost a=1")


class OhaAndMetricsTest(unittest.TestCase):
    def test_oha_row_as_the_run_computed_it(self):
        o = parse.oha(json.loads(raw("oha.json")))
        got = opencost.oha_row(1, 100000, o, parse.cpu_seconds(raw("oha.time")), raw("metrics.before"),
                               raw("metrics.after"))
        self.assertEqual(got, rows("8")[-1])
        self.assertEqual(got["handled"], 95161)

    def test_handling_histogram(self):
        h = parse.histogram(raw("metrics.after"))
        self.assertEqual(h.count, max(h.buckets.values()))
        self.assertEqual(parse.handling_delta(raw("metrics.after"), raw("metrics.after"))[2], 0)
        with self.assertRaises(parse.ParseError):
            parse.histogram("# nothing here\n")

    def test_handling_between_two_pages(self):
        page = ('numaload_request_duration_seconds_bucket{le="0.00005"} %d\n'
                'numaload_request_duration_seconds_bucket{le="0.0001"} %d\n'
                'numaload_request_duration_seconds_bucket{le="+Inf"} %d\n'
                "numaload_request_duration_seconds_sum %f\nnumaload_request_duration_seconds_count %d\n")
        before, after = page % (10, 10, 10, 0.0001, 10), page % (1010, 1110, 1110, 0.0023, 1110)
        bound, mean, count = parse.handling_delta(before, after)
        self.assertEqual((count, bound), (1100, 50.0))
        self.assertAlmostEqual(mean, 2.0)
        # most of them past the first bucket: the median's bound is the second
        bound, _, _ = parse.handling_delta(before, page % (300, 1110, 1110, 0.05, 1110))
        self.assertAlmostEqual(bound, 100.0)

    def test_served_requests_and_server_address(self):
        self.assertEqual(parse.listening_addr(raw("server.out")), "127.0.0.1:33371")
        self.assertEqual(parse.served_requests(b'HTTP/1.1 200 OK\r\n\r\nnumaload_requests_total{status="200"} 17\n'), 17)
        self.assertIsNone(parse.served_requests(b"HTTP/1.1 200 OK\r\n\r\n"))
