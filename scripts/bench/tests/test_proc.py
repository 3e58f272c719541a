"""The /proc readers, on files captured from this machine's /proc."""

import json
import unittest

from bench import parse
from bench.tests import fixture


class ProcTest(unittest.TestCase):
    def test_stat_cpu_is_utime_plus_stime_past_a_command_with_parentheses(self):
        # comm "x) (y z": the fields are counted from the last ")"; cutime (6) is not added.
        self.assertEqual(parse.proc_stat_ticks(fixture("raw/proc-pid-stat.txt")), 10 + 29)

    def test_stat_too_short_is_an_error(self):
        with self.assertRaises(parse.ParseError):
            parse.proc_stat_ticks("1 (x) R 0 0 0")

    def test_listening_port_of_a_process_socket(self):
        links = json.loads(fixture("raw/proc-fd-links.json"))
        inodes = parse.socket_inodes(links["fd_links"])
        self.assertEqual(inodes, {"280288"})
        self.assertEqual(parse.listening_ports(fixture("raw/proc-net-tcp.txt"), inodes), [links["port"]])
        # Inode 0 belongs to the TIME_WAIT rows: never a listener.
        self.assertEqual(parse.listening_ports(fixture("raw/proc-net-tcp.txt"), {"0"}), [])
        self.assertEqual(parse.listening_ports(fixture("raw/proc-net-tcp.txt"), {"183"}), [2024])

    def test_server_address_line(self):
        self.assertIsNone(parse.listening_addr(""))
        self.assertEqual(parse.listening_addr("numaload target (async): listening on 127.0.0.1:40123\n"),
                         "127.0.0.1:40123")
