#!/usr/bin/env python3
"""The chaos schedule over a fleet of network-namespace hosts (tests/chaos/run.sh sets them up).

ctl runs the controller; sut1 and sut2 run the replicas (agents whose `replica_address` is their
bridge address); load1 and load2 are load agents driving them. Every run is the same plan
(plan.toml) with one fault drawn from the seed, at a moment drawn from it too:

  none        nothing
  kill        SIGKILL an agent while it measures (restarted after the run)
  stop        SIGSTOP an agent for 1-5 s while it measures, then SIGCONT
  cut         pull a host's cable for 3-5 s while it measures, then plug it back
  slow        a host's link limited to 16 kbit/s (tbf) for 3-5 s while it measures
  replica     SIGKILL a replica of a host under test while it measures
  controller  SIGKILL the controller at any moment of the run
  clock       before the run, an agent restarted in a time namespace whose monotonic clock is
              days to months off (nothing else happens in the run)

The fault types are spread evenly over the runs, shuffled by the seed; hosts, moments and lengths
are drawn from it as well, so CHAOS_SEED replays a schedule. After each run the invariants are
checked, and the schedule stops at the first violation, printing the seed, the run and the fault:

  (a) no replica process is left on any host within 30 s of the run's end or the controller's death
  (b) the result is honest: a fault inside the measured window leaves no layout `ok` and names the
      faulted agent (lost, failed, short or suspect); a run without one has every layout `ok`
  (c) every layout's merged counts equal the sum over its agents (requests, latency samples,
      delivery)
  (d) the exit code is the one the statuses call for: 0 when every layout is ok, else 4
  (e) the store (every run is stored) never takes a faulted run as a baseline: the gate's
      baseline holds exactly the runs stored without a fault, and each faulted one is stored not ok
  (f) every agent's threads, open descriptors and resident memory stay flat over the runs
"""

import argparse
import json
import math
import os
import random
import re
import signal
import subprocess
import sys
import time

FAULTS = ("none", "kill", "stop", "cut", "slow", "replica", "controller", "clock")
IN_WINDOW = ("kill", "stop", "cut", "slow", "replica")
SUTS = ("sut1", "sut2")
LOADS = ("load1", "load2")
PORT = 7070
# The plan's warm-up and measured seconds (plan.toml).
WARMUP_S, WINDOW_S = 2.0, 3.0
# (a): how long replicas may outlive a run.
REPLICA_BOUND_S = 30.0
# (f): how far an agent's resources may move from where they settled (after its first runs).
SETTLE_RUNS = 3
MAX_MORE_THREADS, MAX_MORE_FDS, MAX_RSS_GROWTH = 16, 8, 1.5


class Violation(Exception):
    pass


def say(line):
    print(line, flush=True)


class Fleet:
    """The four agents: started in their namespaces (one of them perhaps in a time namespace),
    their pids, restarted after a kill or for a clock fault."""

    def __init__(self, args):
        self.args = args
        self.ip = {h: subprocess.check_output([args.netns, "ip-of", h], text=True).strip()
                   for h in ("ctl",) + SUTS + LOADS}
        self.tls = os.path.join(args.work, "tls")
        subprocess.run([args.numaload, "certs", "--dir", self.tls]
                       + sum((["--host", self.ip[h]] for h in SUTS + LOADS), []),
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.pid = {}
        self.procs = {}
        self.incarnation = {}
        for host in SUTS + LOADS:
            self.start(host)

    def address(self, host):
        return f"{self.ip[host]}:{PORT}"

    def start(self, host, offset=None):
        cmd = [self.args.netns, "exec", host]
        if offset is not None:
            cmd += ["unshare", "--fork", "--time", "--monotonic", str(offset)]
        cmd += [self.args.numaload, "agent", "--listen", self.address(host), "--tls-dir", self.tls]
        if host in SUTS:
            config = os.path.join(self.args.work, f"{host}.toml")
            with open(config, "w") as f:
                f.write(f'replica_address = "{self.ip[host]}"\n')
            cmd += ["--config", config]
        log = open(os.path.join(self.args.work, f"{host}.log"), "a")
        proc = subprocess.Popen(cmd, stdout=log, stderr=log)
        self.procs[host] = proc
        pid = proc.pid
        if offset is not None:
            # unshare --fork waits for its child, the agent. Until the host script has exec'd into
            # unshare and the fork has exec'd the agent, the children are others (the script's
            # own subshells, the fork still running unshare): only the agent's command line counts.
            def agent():
                return [c for c in children(proc.pid) if cmdline(c).startswith(self.args.numaload + " agent")]
            pid = wait_for(agent, 10, f"{host}: the agent under unshare")[0]
        self.pid[host] = pid
        self.incarnation[host] = self.incarnation.get(host, 0) + 1
        wait_for(lambda: self.listens(host), 15, f"{host}: the agent listens on {self.address(host)}")

    def listens(self, host):
        probe = [self.args.netns, "exec", "ctl", "bash", "-c", f"exec 3<>/dev/tcp/{self.ip[host]}/{PORT}"]
        return subprocess.run(probe, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              timeout=5).returncode == 0

    def stop_all(self):
        """Ends every host's processes whatever state the schedule left them in: the wrapper each
        agent was started under (`netns exec`, perhaps `unshare`), everything below it, and any
        process left in the host's namespace (replicas, a stopped agent). No pid is trusted alone:
        a wrapper that outlives what it waits for is killed too, so this never hangs."""
        for host, proc in self.procs.items():
            doomed = set(descendants(proc.pid)) | {proc.pid, self.pid[host]}
            pids = subprocess.run([self.args.netns, "pids", host], capture_output=True, text=True).stdout
            doomed |= {int(p) for p in pids.split()}
            for pid in doomed:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                say(f"chaos: {host}: its wrapper (pid {proc.pid}) outlived SIGKILL by 15 s")

    def restart(self, host, offset=None):
        try:
            os.kill(self.pid[host], signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.procs[host].wait()
        self.start(host, offset)


def wait_for(probe, seconds, what):
    deadline = time.monotonic() + seconds
    while True:
        got = probe()
        if got:
            return got
        if time.monotonic() > deadline:
            raise Violation(f"{what}: not within {seconds} s")
        time.sleep(0.05)


def children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(p) for p in f.read().split()]
    except OSError:
        out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
        return [int(p) for p in out.split()]


def descendants(pid):
    """Every process below pid, children before grandchildren."""
    found, todo = [], [pid]
    while todo:
        kids = children(todo.pop())
        found += kids
        todo += kids
    return found


def cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def replicas_on(netns, hosts):
    """Replica processes (`numaload target`) in the hosts' network namespaces: whatever an agent
    started there, its watchdog's orphans included (other processes of the machine are not ours)."""
    found = []
    for host in hosts:
        pids = subprocess.run([netns, "pids", host], capture_output=True, text=True).stdout.split()
        found += [int(p) for p in pids if "numaload target" in cmdline(int(p))]
    return found


def resources(pid):
    """Threads, open descriptors and resident KiB of a process."""
    with open(f"/proc/{pid}/status") as f:
        status = f.read()
    threads = int(re.search(r"^Threads:\s+(\d+)", status, re.M).group(1))
    rss = int(re.search(r"^VmRSS:\s+(\d+)", status, re.M).group(1))
    return threads, len(os.listdir(f"/proc/{pid}/fd")), rss


def schedule(seed, runs):
    rng = random.Random(seed)
    kinds = [FAULTS[i % len(FAULTS)] for i in range(runs)]
    rng.shuffle(kinds)
    out = []
    for kind in kinds:
        fault = {"kind": kind}
        if kind in ("kill", "stop", "cut", "slow", "clock"):
            fault["host"] = rng.choice(SUTS + LOADS)
        if kind == "replica":
            fault["host"] = rng.choice(SUTS)
        if kind in IN_WINDOW:
            fault["at"] = round(rng.uniform(0.3, 1.5), 2)  # seconds into the window
        if kind == "stop":
            fault["for"] = round(rng.uniform(1.0, 5.0), 2)
        if kind in ("cut", "slow"):
            fault["for"] = round(rng.uniform(3.0, 5.0), 2)
        if kind == "controller":
            fault["at"] = round(rng.uniform(-WARMUP_S, WINDOW_S + 1.0), 2)
        if kind == "clock":
            # Ahead only: a monotonic clock cannot be set before its own start.
            fault["offset"] = rng.randint(86_400, 10_000_000)
        out.append(fault)
    return out


def describe(fault):
    words = [fault["kind"]] + [f"{k}={fault[k]}" for k in ("host", "at", "for", "offset") if k in fault]
    return " ".join(words)


class Chaos:
    def __init__(self, args):
        self.args = args
        self.fleet = Fleet(args)
        self.store = os.path.join(args.work, "history.db")
        self.clean_runs = 0  # stored runs without a fault, every layout ok
        self.faulted_ids = []
        self.samples = {}  # (host, incarnation) -> [(threads, fds, rss)]

    def controller(self, n):
        out = os.path.join(self.args.work, f"run{n}.json")
        cmd = [self.args.netns, "exec", "ctl", self.args.numaload, "run", self.args.plan,
               "--tls-dir", self.fleet.tls, "--out", out, "--store", self.store]
        for h in SUTS:
            cmd += ["--agent", self.fleet.address(h)]
        for h in LOADS:
            cmd += ["--load-agent", self.fleet.address(h)]
        err = open(os.path.join(self.args.work, f"run{n}.err"), "w")
        report = open(os.path.join(self.args.work, f"run{n}.out"), "w")
        # `ip netns exec` execs the controller itself: this pid is the controller's.
        return subprocess.Popen(cmd, stdout=report, stderr=err), out, err.name

    def measuring_since(self, err_path, proc):
        """When every agent has said it measures (progress lines), on our clock."""
        def seen():
            with open(err_path) as f:
                text = f.read()
            agents = {a for a in (self.fleet.address(h) for h in SUTS + LOADS)
                      if re.search(rf"{re.escape(a)}: measuring", text)}
            return len(agents) == len(SUTS + LOADS) or proc.poll() is not None
        wait_for(seen, 60, "every agent reaches its measuring phase")
        return time.monotonic()

    def inject(self, fault, proc, since):
        kind = fault["kind"]
        if kind == "controller":
            delay = max(0.0, WARMUP_S + fault["at"])
            time.sleep(delay)
            proc.send_signal(signal.SIGKILL)
            return
        if kind not in IN_WINDOW:
            return
        time.sleep(max(0.0, since + fault["at"] - time.monotonic()))
        host = fault["host"]
        netns = self.args.netns
        if kind == "kill":
            os.kill(self.fleet.pid[host], signal.SIGKILL)
        elif kind == "stop":
            os.kill(self.fleet.pid[host], signal.SIGSTOP)
            time.sleep(fault["for"])
            os.kill(self.fleet.pid[host], signal.SIGCONT)
        elif kind == "cut":
            subprocess.run([netns, "partition", host], check=True)
            time.sleep(fault["for"])
            subprocess.run([netns, "heal", host], check=True)
        elif kind == "slow":
            subprocess.run([netns, "slow", host, "16kbit"], check=True)
            time.sleep(fault["for"])
            subprocess.run([netns, "fast", host], check=True)
        elif kind == "replica":
            reps = replicas_on(netns, [host])
            if not reps:
                raise Violation(f"{host} runs no replica to kill while it measures")
            os.kill(reps[0], signal.SIGKILL)

    def run(self, n, fault):
        if fault["kind"] == "clock":
            self.fleet.restart(fault["host"], fault["offset"])
        proc, out, err = self.controller(n)
        try:
            since = time.monotonic() if fault["kind"] == "controller" else self.measuring_since(err, proc)
            self.inject(fault, proc, since)
            rc = proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise Violation("the controller did not finish within 120 s")
        if fault["kind"] == "kill":
            self.fleet.restart(fault["host"])
        self.check(n, fault, rc, out, err)

    def check(self, n, fault, rc, out, err):
        # (a)
        left = []
        deadline = time.monotonic() + REPLICA_BOUND_S
        while time.monotonic() < deadline:
            left = replicas_on(self.args.netns, SUTS + LOADS)
            if not left:
                break
            time.sleep(0.2)
        if left:
            raise Violation(f"(a) replicas {left} still run {REPLICA_BOUND_S:.0f} s after the run")
        self.check_resources(n)
        if fault["kind"] == "controller":
            return  # killed: no result, no exit status, nothing stored
        if not os.path.exists(out):
            raise Violation(f"no result written (exit {rc}): {tail(err)}")
        with open(out) as f:
            result = json.load(f)
        layouts = result["layouts"]
        all_ok = all(l["status"] == "ok" for l in layouts) and not result["cancelled"] and not result["degraded"]
        # (b)
        if fault["kind"] in IN_WINDOW:
            address = self.fleet.address(fault["host"])
            for l in layouts:
                if l["status"] == "ok":
                    raise Violation(f"(b) layout {l['name']} is ok though {describe(fault)} hit it")
                if not named(result, l, address):
                    raise Violation(f"(b) layout {l['name']} ({l['status']}) does not name {address}: "
                                    f"{l.get('error')} {l.get('suspect')}")
        elif not all_ok:
            raise Violation("(b) a run without a fault is not ok: " + "; ".join(
                f"{l['name']} {l['status']}: {l.get('error') or l.get('suspect')}" for l in layouts))
        # (c)
        for l in layouts:
            if l["status"] == "failed":
                continue
            agents = l["agents"]
            total = sum(a["requests"] for a in agents)
            if l["requests"] != total or l["latency_ns"]["count"] != total:
                raise Violation(f"(c) {l['name']}: merged {l['requests']} requests, "
                                f"{l['latency_ns']['count']} samples, agents' sum {total}")
            deliveries = [a["delivery"] for a in agents if a.get("delivery")]
            if deliveries and l.get("delivery"):
                for key in ("intended", "answered"):
                    if l["delivery"][key] != sum(d[key] for d in deliveries):
                        raise Violation(f"(c) {l['name']}: delivery {key} is not the agents' sum")
        # (d)
        want = 0 if all_ok else 4
        if rc != want:
            raise Violation(f"(d) exit {rc}, the statuses call for {want}")
        # (e)
        if fault["kind"] in IN_WINDOW:
            self.faulted_ids.append(result["run_id"])
        elif all_ok:
            self.clean_runs += 1
        # The gate never takes the run it judges as its own baseline.
        self.check_store(out, self.clean_runs - (1 if all_ok else 0))

    def check_store(self, out, baseline_runs):
        history = subprocess.run([self.args.numaload, "history", "--store", self.store, "--format", "json"],
                                 capture_output=True, text=True, check=True).stdout
        stored = {r["run_id"]: r for r in json.loads(history)}
        for run_id in self.faulted_ids:
            run = stored.get(run_id)
            if run is None:
                raise Violation(f"(e) faulted run {run_id} is not in the store")
            if any(l["status"] == "ok" for l in run["layouts"]):
                raise Violation(f"(e) faulted run {run_id} is stored ok")
        gate = subprocess.run([self.args.numaload, "compare", "--store", self.store, "--baseline", "last:100000",
                               "--min-runs", "1", out], capture_output=True, text=True)
        runs = [int(m.group(1)) for m in re.finditer(r"^\s+p99 corrected\s+(\d+)\s", gate.stdout, re.M)]
        if any(r != baseline_runs for r in runs):
            raise Violation(f"(e) the gate's baseline holds {sorted(set(runs))} runs, {baseline_runs} "
                            f"were stored without a fault:\n{gate.stdout}")

    def check_resources(self, n):
        for host in SUTS + LOADS:
            key = (host, self.fleet.incarnation[host])
            try:
                sample = resources(self.fleet.pid[host])
            except (OSError, AttributeError):
                raise Violation(f"(f) agent {host} (pid {self.fleet.pid[host]}) is gone")
            series = self.samples.setdefault(key, [])
            series.append(sample)
            if len(series) <= SETTLE_RUNS:
                continue
            threads, fds, rss = series[SETTLE_RUNS - 1]
            t, d, r = sample
            if t > threads + MAX_MORE_THREADS or d > fds + MAX_MORE_FDS or r > rss * MAX_RSS_GROWTH + 16 * 1024:
                raise Violation(f"(f) agent {host} grew from {threads} threads, {fds} fds, {rss} KiB "
                                f"(after its first runs) to {t}, {d}, {r} KiB over {len(series)} runs")


def named(result, layout, address):
    """Whether a result names `address` as what went wrong in `layout`: lost, failed, short or
    suspect."""
    lost = any(a["agent"] == address and a["status"] == "lost" for a in result.get("agents", []))
    not_ok = any(a["agent"] == address and a["status"] != "ok" for a in layout.get("agents", []))
    said = address in json.dumps([layout.get("error"), layout.get("suspect")])
    return lost or not_ok or said


def tail(path, lines=5):
    try:
        with open(path) as f:
            return " | ".join(f.read().strip().splitlines()[-lines:])
    except OSError:
        return ""


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--numaload", required=True)
    p.add_argument("--netns", required=True)
    p.add_argument("--work", required=True)
    p.add_argument("--plan", required=True)
    p.add_argument("--runs", type=int, default=20)
    p.add_argument("--seed", type=int, default=None)
    args = p.parse_args()
    seed = args.seed if args.seed is not None else int(os.environ.get("CHAOS_DEFAULT_SEED", random.randrange(2**31)))
    plan = schedule(seed, args.runs)
    say(f"chaos: seed {seed}, {args.runs} runs (replay with CHAOS_SEED={seed})")
    chaos = None
    began = time.monotonic()
    try:
        chaos = Chaos(args)
        for n, fault in enumerate(plan, 1):
            t = time.monotonic()
            chaos.run(n, fault)
            say(f"chaos: run {n}/{args.runs}: {describe(fault)}: invariants hold ({time.monotonic() - t:.1f} s)")
    except Violation as v:
        n = locals().get("n", 0)
        fault = plan[n - 1] if n else {"kind": "setup"}
        say(f"CHAOS VIOLATION at run {n} ({describe(fault)}), seed {seed}: {v}")
        say(f"replay: CHAOS_SEED={seed} CHAOS_RUNS={args.runs} tests/chaos/run.sh")
        return 1
    finally:
        if chaos is not None:
            chaos.fleet.stop_all()
    say(f"chaos: {args.runs} runs, every invariant held ({time.monotonic() - began:.0f} s; seed {seed})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
