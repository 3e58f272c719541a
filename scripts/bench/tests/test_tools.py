"""The one measurement that needs a real process: sampling a command's CPU time from /proc."""

import sys
import unittest

from bench import tools

BURN = "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.2: pass"


class ProcCpuTest(unittest.TestCase):
    def test_samples_a_busy_child_until_it_exits(self):
        code, samples = tools.proc_cpu([sys.executable, "-c", BURN])
        self.assertEqual(code, 0)
        self.assertGreaterEqual(len(samples), 2)
        times = [t for t, _ in samples]
        self.assertEqual(times, sorted(times))
        # read after the exit, before the reaping: the whole 0.2 s (ticks of 10 ms) and start-up.
        self.assertTrue(0.15 <= samples[-1][1] <= 1.0, samples[-1])

    def test_exit_code_is_the_commands(self):
        code, samples = tools.proc_cpu([sys.executable, "-c", "raise SystemExit(3)"])
        self.assertEqual(code, 3)
        self.assertTrue(samples)
