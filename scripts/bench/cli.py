"""`python3 -m bench`: the settings, the tools it needs, the unit tests, the release build, then
each point in order, then BENCHMARKS.md (or, with ONLY, the report on stdout)."""

import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest
from pathlib import Path
from typing import List

from . import config, parse, report, tools
from .points import fleet, generator, h2load, loadcpus, opencost, openloop, overhead, realfleet, shapes, startup, target
from .section import Section

PACKAGE = Path(__file__).resolve().parent
REPO = PACKAGE.parent.parent


def ensure_tools() -> None:
    """wrk, h2load, GNU time and taskset from Debian's packages when missing."""
    missing = []
    if shutil.which("wrk") is None:
        missing.append("wrk")
    if shutil.which("h2load") is None:
        missing.append("nghttp2-client")
    if not os.access("/usr/bin/time", os.X_OK):
        missing.append("time")
    if shutil.which("taskset") is None:
        missing.append("util-linux")
    if missing:
        subprocess.run(["apt-get", "update", "-q"], check=True, stdout=subprocess.DEVNULL)
        subprocess.run(["apt-get", "install", "-y", "-q", *missing], check=True, stdout=subprocess.DEVNULL,
                       env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))


def unit_tests_pass() -> bool:
    suite = unittest.defaultTestLoader.discover(str(PACKAGE / "tests"), top_level_dir=str(PACKAGE.parent))
    return unittest.TextTestRunner(stream=sys.stderr, verbosity=0).run(suite).wasSuccessful()


def build() -> None:
    tools.say("bench: building (release, bare_hyper example, criterion benches)")
    subprocess.run(["cargo", "build", "--release", "--locked", "-q", "-p", "numaload"], check=True)
    subprocess.run(["cargo", "build", "--release", "--locked", "-q", "-p", "numaload-target", "--example",
                    "bare_hyper"], check=True)
    subprocess.run(["cargo", "bench", "--locked", "-q", "--no-run", "-p", "numaload-agent", "-p", "numaload-proto",
                    "--bench", "record", "--bench", "sampler_cost", "--bench", "merge"], check=True,
                   stderr=subprocess.DEVNULL)


def run_point(ctx: tools.Context, point: str) -> Section:
    s = ctx.settings
    if point in ("1", "1b", "9"):
        tools.say(f"bench: point {point} (generator{', over TLS' if point == '9' else ''})")
        p = generator.params(s, point)
        return generator.render(p, generator.measure(ctx, p))
    if point == "2":
        tools.say("bench: point 2 (open loop, and 3: precision)")
        p = openloop.params(s)
        return openloop.render(p, *openloop.measure(ctx, p))
    if point == "4":
        tools.say("bench: point 4 (target)")
        p = target.params(s)
        return target.render(p, target.measure(ctx, p))
    if point == "5":
        tools.say("bench: point 5 (overhead)")
        p = overhead.params(s)
        return overhead.render(p, overhead.measure(ctx, p))
    if point == "6":
        tools.say("bench: point 6 (startup)")
        p = startup.params(s)
        return startup.render(p, *startup.measure(ctx, p))
    if point == "7":
        tools.say("bench: point 7 (load CPUs, from the numa-vm record)")
        return loadcpus.render(loadcpus.read_history(s.history, s.history_last))
    if point == "8":
        tools.say("bench: point 8 (open-loop cost)")
        p = opencost.params(s)
        return opencost.render(p, opencost.measure(ctx, p))
    if point == "11":
        tools.say("bench: point 11 (the controller on a fleet of hollow agents)")
        p = fleet.params(s)
        return fleet.render(p, fleet.measure(ctx, p))
    if point == "13":
        tools.say("bench: point 13 (HTTP/2 vs h2load)")
        p = h2load.params(s)
        return h2load.render(p, h2load.measure(ctx, p))
    if point == "12":
        tools.say("bench: point 12 (a fleet of real agents asked more than it can deliver)")
        p = realfleet.params(s)
        return realfleet.render(p, realfleet.measure(ctx, p))
    tools.say("bench: point 10 (Poisson vs uniform arrivals)")
    p = shapes.params(s)
    return shapes.render(p, shapes.measure(ctx, p))


def measure_all(settings: config.Settings, work: Path, target_dir: str) -> List[Section]:
    ctx = tools.Context(settings, os.path.join(target_dir, "release", "numaload"),
                        os.path.join(target_dir, "release", "examples", "bare_hyper"), target_dir, work)
    return [run_point(ctx, point) for point in config.POINTS if settings.runs(point)]


def main() -> int:
    began = time.time()
    os.chdir(REPO)
    load_before = report.load_average()
    try:
        settings = config.settings(os.environ)
    except config.ConfigError as e:
        print(f"bench: {e}", file=sys.stderr)
        return 2
    ensure_tools()
    if len(os.sched_getaffinity(0)) < 2:
        print("bench: needs at least 2 CPUs (target and generator apart)", file=sys.stderr)
        return 2
    if not unit_tests_pass():
        print("bench: the harness's unit tests fail; nothing measured", file=sys.stderr)
        return 1
    build()
    target_dir = os.path.abspath(os.environ.get("CARGO_TARGET_DIR") or "target")
    if settings.keep:
        work = Path(settings.keep)
        work.mkdir(parents=True, exist_ok=True)
        tmp = None
    else:
        tmp = tempfile.TemporaryDirectory()
        work = Path(tmp.name)
    try:
        measure_began = time.time()
        sections = measure_all(settings, work, target_dir)
    except (tools.BenchError, parse.ParseError, parse.LayoutFailed, subprocess.CalledProcessError) as e:
        print(f"bench: {e}", file=sys.stderr)
        return 1
    finally:
        if tmp is not None:
            tmp.cleanup()
    facts = report.facts(os.path.join(target_dir, "release", "numaload"), load_before, began, measure_began)
    text = report.render(facts, settings.quick, sections)
    if settings.only:
        sys.stdout.write(text)
    else:
        Path(settings.out).write_text(text)
        tools.say(f"bench: {settings.out} written ({facts.total_s} s)")
    return 0
