import unittest

from bench.config import ConfigError, precisions, settings


class SettingsTest(unittest.TestCase):
    def test_defaults(self):
        s = settings({})
        self.assertFalse(s.quick)
        self.assertEqual((s.connections, s.rounds, s.seconds_per_round), (50, 8, 3))
        self.assertEqual((s.few_connections, s.few_rounds, s.target_rounds), (4, 4, 5))
        self.assertEqual(s.open_steps, (10, 20, 30, 40, 50, 60, 70, 80, 90, 110, 150))
        self.assertEqual((s.cost_rounds, s.cost_rates, s.cost_seconds), (3, (5000, 20000, 50000, 100000), 3))
        self.assertEqual(s.cost_precisions, ("default", "100us"))
        self.assertEqual((s.shape_rounds, s.shape_rates), (3, (20000, 50000)))
        self.assertEqual((s.only, s.out, s.keep), (None, "BENCHMARKS.md", None))
        self.assertEqual((s.history, s.history_last), ("target/numa-vm/loadcpus-history.jsonl", 8))

    def test_environment_overrides(self):
        s = settings({"QUICK": "1", "CONNECTIONS": "10", "COST_RATES": "1000 2000", "ONLY": "1 4",
                      "OUT": "/tmp/b.md", "PRECISION": "50us"})
        self.assertTrue(s.quick)
        self.assertEqual((s.connections, s.cost_rates, s.out), (10, (1000, 2000), "/tmp/b.md"))
        self.assertEqual(s.cost_precisions, ("50us",))
        self.assertEqual(settings({"PRECISION": "50us", "COST_PRECISIONS": "default"}).cost_precisions, ("default",))
        self.assertTrue(s.runs("1") and s.runs("4"))
        self.assertFalse(s.runs("1b") or s.runs("2"))

    def test_only_three_runs_the_open_loop_point(self):
        s = settings({"ONLY": "3"})
        self.assertTrue(s.runs("2"))
        self.assertFalse(s.runs("1"))
        self.assertTrue(all(settings({}).runs(p) for p in ("1", "1b", "2", "4", "5", "6", "7", "8", "9", "10")))

    def test_bad_values_name_the_variable(self):
        with self.assertRaisesRegex(ConfigError, "CONNECTIONS"):
            settings({"CONNECTIONS": "fifty"})
        with self.assertRaisesRegex(ConfigError, "OPEN_STEPS"):
            settings({"OPEN_STEPS": "10 x"})

    def test_precisions_are_checked_up_front(self):
        self.assertEqual(precisions("default 100us 1.5ms"), ("default", "100us", "1.5ms"))
        for bad, says in [("  ", "empty"), ("100", "neither"), ("fast", "neither"), ("100us 100us", "twice")]:
            with self.subTest(bad=bad), self.assertRaisesRegex(ConfigError, says):
                precisions(bad)
