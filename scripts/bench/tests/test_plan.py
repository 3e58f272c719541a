import unittest

from bench.plan import plan


class PlanTest(unittest.TestCase):
    def test_closed_loop_plan_has_no_rate(self):
        self.assertEqual(plan("closed", 50, "3s", "1s", 1, 1, rate=123), (
            'name = "bench"\n[target]\nname = "async"\nwork_us = 0\n[load]\nmode = "closed"\n'
            'connections = 50\nduration = "3s"\nwarmup = "1s"\nreserve_cpus = 1\n'
            '[[layouts]]\nname = "bench"\nreplicas = 1\n'))

    def test_load_lines_follow_the_mode_and_open_loop_has_its_rate(self):
        text = plan("open", 4, "1s", "0s", 0, 2, rate=1000, load_lines=['send_precision = "100us"'])
        self.assertIn('mode = "open"\nsend_precision = "100us"\nrate = 1000\nconnections = 4\n', text)
        self.assertIn('warmup = "0s"\nreserve_cpus = 0\n', text)
        self.assertTrue(text.endswith("replicas = 2\n"))
