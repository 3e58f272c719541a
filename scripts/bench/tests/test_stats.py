import math
import unittest

from bench.parse import Window
from bench.stats import cpu_at, cpu_us_per_request, median_min_max, median_range, min_median_max

NAN = float("nan")


class SpreadTest(unittest.TestCase):
    def test_point_one_style(self):
        self.assertEqual(median_min_max([1.016, 0.763, 0.995, 1.004]), "median 1.000 (min–max 0.763–1.016)")
        self.assertEqual(median_min_max([143750.4], "{:,.0f}"), "median 143,750 (min–max 143,750–143,750)")

    def test_points_two_to_six_style(self):
        self.assertEqual(min_median_max([0.988, 1.002, 1.231, 0.999, 0.983]), "min 0.983 / median 0.999 / max 1.231")
        self.assertEqual(min_median_max([137.2, 109, 108], "{:.0f}"), "min 108 / median 109 / max 137")

    def test_point_eight_style_drops_nans_and_shortens(self):
        self.assertEqual(median_range([]), "—")
        self.assertEqual(median_range([NAN, NAN]), "—")
        self.assertEqual(median_range([2.0, NAN]), "2.00")
        self.assertEqual(median_range([5.38, 5.12, 5.86]), "5.38 (5.12–5.86)")
        self.assertEqual(median_range([19984.0, 19987.2, 19984.4], "{:,.0f}"), "19,984 (19,984–19,987)")


class CpuWindowTest(unittest.TestCase):
    SAMPLES = [(0, 0.0), (1_000_000_000, 0.5), (3_000_000_000, 2.5), (4_000_000_000, 2.6)]

    def test_interpolates_between_samples_and_holds_outside(self):
        self.assertEqual(cpu_at(self.SAMPLES, 2_000_000_000), 1.5)
        self.assertEqual(cpu_at(self.SAMPLES, 1_000_000_000), 0.5)
        self.assertEqual(cpu_at(self.SAMPLES, 5_000_000_000), 2.6)
        self.assertEqual(cpu_at(self.SAMPLES, -1), 0.0)

    def test_cpu_per_request_over_the_window(self):
        # 1 s .. 3 s: 2 CPU seconds over 1,000 requests.
        window = Window(1_000_000_000, 3_000_000_000, 1000)
        self.assertTrue(math.isclose(cpu_us_per_request(self.SAMPLES, window), 2000.0))
        self.assertTrue(math.isclose(cpu_us_per_request(self.SAMPLES, Window(0, 0, 0)), 0.0))
