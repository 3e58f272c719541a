"""Everything that runs a process or opens a socket. Servers are pinned to CPU 0, generators to
CPU 1; raw outputs go to the work directory (kept with BENCH_KEEP), then through `parse`."""

import dataclasses
import json
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

from . import parse, stats
from .config import Settings

SERVER_CPU, LOAD_CPU = "0", "1"


class BenchError(RuntimeError):
    """A measurement that could not be taken (a run failed, a server did not start)."""


def say(line: str) -> None:
    """Progress, on stderr (BENCHMARKS.md gets only the report)."""
    print(line, file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Context:
    settings: Settings
    bin: str  # target/release/numaload
    bare: str  # target/release/examples/bare_hyper
    target_dir: str
    work: Path

    def path(self, name: str) -> Path:
        return self.work / name

    def write(self, name: str, text: str) -> Path:
        p = self.path(name)
        p.write_text(text)
        return p

    def keep_rows(self, name: str, rows: Sequence[object]) -> None:
        """The rows a point collected, as JSON (read back when BENCH_KEEP keeps the directory)."""
        plain = [dataclasses.asdict(r) if dataclasses.is_dataclass(r) else r for r in rows]
        self.path(f"rows-{name}.json").write_text(json.dumps(plain, indent=1) + "\n")

    def target_cmd(self) -> List[str]:
        return [self.bin, "target", "--variant", "async", "--listen", "127.0.0.1:0", "--threads", "1",
                "--work-us", "0"]

    def bare_cmd(self) -> List[str]:
        return [self.bare, "--listen", "127.0.0.1:0", "--threads", "1"]


class Server:
    """`with Server(ctx, cmd) as addr:` a server pinned to CPU 0, up once it printed
    "... listening on ADDR"; stopped (SIGTERM, reaped) on leaving."""

    def __init__(self, ctx: Context, cmd: Sequence[str]):
        self.ctx, self.cmd = ctx, list(cmd)
        self.proc: Optional[subprocess.Popen] = None

    def __enter__(self) -> str:
        out = self.ctx.path("server.out")
        with open(out, "w") as f:
            self.proc = subprocess.Popen(["taskset", "-c", SERVER_CPU, *self.cmd], stdout=f,
                                         stderr=subprocess.DEVNULL)
        for _ in range(200):
            addr = parse.listening_addr(out.read_text())
            if addr:
                return addr
            if self.proc.poll() is not None:
                break
            time.sleep(0.025)
        self.__exit__()
        raise BenchError(f"server did not start: {' '.join(self.cmd)}")

    def __exit__(self, *_exc: object) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait()
            self.proc = None


def timed(fmt: str, time_path: Path, cmd: Sequence[str], stdout=subprocess.DEVNULL,
          stderr=subprocess.DEVNULL) -> int:
    """`/usr/bin/time -f FMT -o TIME_PATH CMD`; the command's exit code."""
    return subprocess.run(["/usr/bin/time", "-f", fmt, "-o", str(time_path), *cmd], stdout=stdout,
                          stderr=stderr).returncode


@dataclass(frozen=True)
class WrkLoad:
    rps: float
    cpu_us: float  # wrk's user + system time per request
    p50_us: float
    p99_us: float


def wrk_load(ctx: Context, addr: str, connections: int, seconds: int, https: bool = False) -> WrkLoad:
    """wrk pinned to CPU 1 against `addr` (over TLS with `https`), after a 1 s warm-up run."""
    base = ["taskset", "-c", LOAD_CPU, "wrk", "-t1", f"-c{connections}"]
    url = f"{'https' if https else 'http'}://{addr}/"
    subprocess.run([*base, "-d1s", url], stdout=subprocess.DEVNULL, check=True)
    out, cpu = ctx.path("wrk.out"), ctx.path("wrk.time")
    with open(out, "w") as f:
        rc = timed("%U %S", cpu, [*base, f"-d{seconds}s", "--latency", url], stdout=f)
    if rc != 0:
        raise BenchError(f"wrk exited {rc}")
    w = parse.wrk(out.read_text())
    return WrkLoad(w.rps, parse.cpu_seconds(cpu.read_text()) * 1e6 / max(w.requests, 1), w.p50_us, w.p99_us)


# `numaload run`'s exit code when a layout is not to be trusted: suspect, incomplete (kept, see
# parse.MEASURED), or failed, degraded, or nothing measured (the benchmark stops).
NOT_TRUSTED = 4


def run_cmd(ctx: Context, plan: Path, out: Path) -> List[str]:
    """`numaload run PLAN --out OUT --quiet`, with no result of an earlier run left at OUT."""
    out.unlink(missing_ok=True)
    return [ctx.bin, "run", str(plan), "--out", str(out), "--quiet"]


def run_result(what: str, rc: int, out: Path, err: Path) -> dict:
    """The result of a `numaload run` that measured: exit 0, or 4 with its layout measured."""
    failed = BenchError(f"{what} failed (exit {rc}):\n{err.read_text() if err.exists() else ''}")
    if rc not in (0, NOT_TRUSTED) or not out.exists():
        raise failed
    result = json.loads(out.read_text())
    try:
        parse.first_layout(result)
    except parse.LayoutFailed as e:
        raise BenchError(f"{what}: {e}") from None
    return result


def numaload_run(ctx: Context, plan: Path, out: Path) -> dict:
    """`numaload run PLAN --out OUT --quiet`; its result JSON (see `run_result`)."""
    err = ctx.path("run.err")
    with open(err, "w") as e:
        rc = subprocess.run(run_cmd(ctx, plan, out), stdout=subprocess.DEVNULL, stderr=e).returncode
    return run_result(f"numaload run {plan}", rc, out, err)


def proc_cpu(cmd: Sequence[str], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
             ) -> Tuple[int, List[stats.Sample]]:
    """Runs `cmd`, sampling its own CPU time (all its threads, children excluded) every 10 ms and
    once more after it exited but before it is reaped; its exit code and the samples."""
    child = subprocess.Popen(list(cmd), stdout=stdout, stderr=stderr)
    tick = os.sysconf("SC_CLK_TCK")
    samples: List[stats.Sample] = []
    while True:
        # WNOWAIT: an exited child stays a zombie, so its final CPU time can still be read.
        exited = os.waitid(os.P_PID, child.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        with open(f"/proc/{child.pid}/stat") as f:
            samples.append((time.time_ns(), parse.proc_stat_ticks(f.read()) / tick))
        if exited is not None:
            break
        time.sleep(0.01)
    return child.wait(), samples


def sampled_numaload_run(ctx: Context, plan: Path, out: Path) -> Tuple[dict, float]:
    """`numaload run` with its whole process's CPU sampled from outside (replicas excluded); its
    result and that CPU µs per request over the measured window."""
    err = ctx.path("run.err")
    with open(err, "w") as e:
        rc, samples = proc_cpu(run_cmd(ctx, plan, out), stderr=e)
    ctx.path("cpu.json").write_text(json.dumps({"samples": samples}))
    result = run_result(f"numaload run {plan}", rc, out, err)
    return result, stats.cpu_us_per_request(samples, parse.measured_window(result))


def http_get(addr: str, path: str, timeout: float) -> bytes:
    """One HTTP/1.1 GET with `Connection: close`; the whole response."""
    host, port = addr.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=timeout) as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    return data


def metrics(addr: str) -> str:
    """A target's /metrics page."""
    return http_get(addr, "/metrics", 2).decode(errors="replace")


def descendants(pid: int) -> List[int]:
    """Every process below `pid` (/proc/PID/task/TID/children), gone ones skipped."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        try:
            tasks = os.listdir(f"/proc/{p}/task")
        except OSError:
            continue
        for t in tasks:
            try:
                with open(f"/proc/{p}/task/{t}/children") as f:
                    kids = f.read().split()
            except OSError:
                continue
            for k in map(int, kids):
                out.append(k)
                todo.append(k)
    return out


def listening_ports(pid: int) -> List[int]:
    """TCP ports process `pid` listens on (its socket inodes matched in /proc/net/tcp{,6})."""
    links = []
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                links.append(os.readlink(f"/proc/{pid}/fd/{fd}"))
            except OSError:
                continue
    except OSError:
        return []
    inodes = parse.socket_inodes(links)
    ports = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                ports += parse.listening_ports(f.read(), inodes)
        except OSError:
            continue
    return ports


def served_requests(port: int) -> Optional[int]:
    """How many requests a replica's /metrics says it served, None if it did not answer."""
    try:
        return parse.served_requests(http_get(f"127.0.0.1:{port}", "/metrics", 0.05))
    except OSError:
        return None


def first_request(cmd: Sequence[str]) -> dict:
    """Runs `cmd` (a `numaload run`) and, from outside, notes when a replica first counts a
    served request: finds the replicas it launches (/proc) and polls their /metrics about every
    millisecond."""
    start_ns = time.time_ns()
    proc = subprocess.Popen(list(cmd), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    first_ns, replicas_seen_ns, ports = None, None, {}
    while proc.poll() is None and first_ns is None:
        for child in descendants(proc.pid):
            if child not in ports:
                found = listening_ports(child)
                if found:
                    ports[child] = found[0]
                    replicas_seen_ns = replicas_seen_ns or time.time_ns()
        for port in ports.values():
            if served_requests(port):
                first_ns = time.time_ns()
                break
        time.sleep(0.001)
    rc = proc.wait()
    return {"start_ns": start_ns, "first_served_ns": first_ns, "replica_listening_ns": replicas_seen_ns,
            "rc": rc}


def taskset_load(cmd: Sequence[str]) -> List[str]:
    """`cmd` pinned to the load CPU."""
    return ["taskset", "-c", LOAD_CPU, *cmd]
