import unittest

from bench import pairs
from bench.pairs import Run


def rounds_of(text):
    """'round slot gen rps worker p50 p99 proc' lines, as the previous harness kept them."""
    runs = []
    for line in text.strip().splitlines():
        r, slot, gen, *v = line.split()
        runs.append(Run(int(r), int(slot), gen, *map(float, v)))
    return pairs.rounds(runs)


# Round 1 steady (A C B B C A, outer numaload runs 2% apart); round 2 the machine sped up by 20%
# between its two wrk runs at the ends (B C A A C B): marked and not judged.
ROWS = """
1 1 n 100000 6.0 400 600 9.0
1 2 e 98000 6.5 400 600 9.5
1 3 w 100000 8.0 400 900 10.0
1 4 w 100000 8.0 400 900 10.0
1 5 e 98000 6.5 400 600 9.5
1 6 n 102000 6.0 400 600 9.0
2 1 w 90000 8.0 400 900 10.0
2 2 e 98000 6.5 400 600 9.5
2 3 n 140000 6.0 400 600 9.0
2 4 n 140000 6.0 400 600 9.0
2 5 e 98000 6.5 400 600 9.5
2 6 w 108000 8.0 400 900 10.0
"""


class PairsTest(unittest.TestCase):
    def test_order_alternates_by_round(self):
        self.assertEqual(pairs.order(1), ("n", "e", "w", "w", "e", "n"))
        self.assertEqual(pairs.order(2), ("w", "e", "n", "n", "e", "w"))

    def test_steady_and_unsteady_rounds(self):
        one, two = rounds_of(ROWS)
        self.assertEqual((one.order, two.order), ("A C B B C A", "B C A A C B"))
        self.assertTrue(one.steady)
        self.assertAlmostEqual(one.drift, abs(100000 / 102000 - 1))
        self.assertFalse(two.steady)
        self.assertAlmostEqual(two.drift, abs(90000 / 108000 - 1))
        self.assertEqual(pairs.judged([one, two]), [one])
        self.assertEqual(pairs.judged([two]), [two])  # none steady: every round

    def test_ratios_are_means_of_the_pairs(self):
        one = rounds_of(ROWS)[0]
        x = one.ratios
        self.assertAlmostEqual(x.rps, 1.01)
        self.assertAlmostEqual(x.worker_cpu, 0.6)
        self.assertAlmostEqual(x.proc_cpu, 0.9)
        self.assertAlmostEqual(x.alt_rps, 0.98)
        self.assertAlmostEqual(x.alt_proc_cpu, 0.95)
        self.assertEqual(one.rps_of("n"), [100000.0, 102000.0])

    def test_the_outer_pair_must_be_one_generator(self):
        runs = [Run(1, s, g, 100.0, 1, 1, 1, 1) for s, g in enumerate(("n", "e", "w", "w", "e", "w"), 1)]
        self.assertFalse(pairs.rounds(runs)[0].steady)  # 0% apart, but not the same generator

    def test_rounds_are_sorted_by_number_then_slot(self):
        runs = [Run(2, 1, "w", 1, 1, 1, 1, 1), Run(1, 2, "e", 1, 1, 1, 1, 1), Run(1, 1, "n", 1, 1, 1, 1, 1)]
        got = pairs.rounds(runs)
        self.assertEqual([r.number for r in got], [1, 2])
        self.assertEqual([r.slot for r in got[0].runs], [1, 2])
