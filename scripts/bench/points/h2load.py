"""Point 13: HTTP/2 closed loop, numaload vs h2load (Debian's nghttp2-client) at the same
connections (-c) and streams per connection (-m: 1, 10 and 100), against the same h2c server:
nginx 1.22 with `http2` on a clear-text listener (prior knowledge), one process pinned to CPU 0,
`return 200`. numaload runs through `numaload run` (the nginx replica launched from an agent
configuration, pinned to CPU 0, the load on CPU 1), its whole process's CPU sampled from outside
over the measured window; h2load through `taskset -c 1 h2load -t1` after a 1 s warm-up run of its
own, its user + system time over its requests. Rounds alternate which goes first."""

import socket
import subprocess
import time
from dataclasses import dataclass
from typing import List, Sequence

from .. import parse, tools
from ..section import Section, SummaryRow, lines, met
from ..stats import cpu_us_per_request, median, median_min_max

# One nginx process (no master) serving h2c on LISTEN; {workdir} is where it keeps its files.
NGINX_CONF = """daemon off;
master_process off;
worker_processes 1;
pid {workdir}/nginx.pid;
lock_file {workdir}/nginx.lock;
error_log stderr error;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {workdir}/cb;
    proxy_temp_path {workdir}/px;
    fastcgi_temp_path {workdir}/fc;
    uwsgi_temp_path {workdir}/uw;
    scgi_temp_path {workdir}/sc;
    keepalive_requests 1000000000;
    http2_max_concurrent_streams 1000;
    server {{
        listen {listen} http2;
        location / {{ return 200 "ok\\n"; }}
    }}
}}
"""


@dataclass(frozen=True)
class Params:
    connections: int
    streams: Sequence[int]
    rounds: int
    seconds: int


@dataclass(frozen=True)
class Row:
    streams: int
    round: int
    gen: str  # "numaload" or "h2load"
    rps: float
    cpu_us: float  # whole process CPU per request


def params(settings) -> Params:
    if settings.quick:
        return Params(settings.h2_connections, settings.h2_streams, 1, 2)
    return Params(settings.h2_connections, settings.h2_streams, settings.h2_rounds, settings.seconds_per_round)


def agent_config() -> str:
    """The agent's target table: the same nginx, its configuration written per replica."""
    conf = NGINX_CONF.replace("{{", "{").replace("}}", "}").replace("\\", "\\\\")
    return ('[targets.nginx-h2c]\nprogram = "/usr/sbin/nginx"\n'
            'args = ["-p", "{workdir}", "-c", "{workdir}/nginx.conf", "-e", "stderr"]\n'
            'ready = "tcp"\nstop_signal = "SIGTERM"\n[targets.nginx-h2c.files]\n'
            f'"nginx.conf" = """\n{conf}"""\n')


def plan_text(p: Params, streams: int) -> str:
    return "\n".join([
        'name = "bench-h2"', "[target]", 'name = "nginx-h2c"', "[load]", 'mode = "closed"',
        'protocol = "h2c"', f"streams = {streams}", f"connections = {p.connections}",
        f'duration = "{p.seconds}s"', 'warmup = "1s"', "reserve_cpus = 1", "[[layouts]]", 'name = "bench"',
        "replicas = 1", "threads = 1"]) + "\n"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Nginx:
    """`with Nginx(ctx) as addr:` nginx serving h2c, pinned to CPU 0; stopped on leaving."""

    def __init__(self, ctx: tools.Context):
        self.ctx = ctx
        self.proc = None

    def __enter__(self) -> str:
        work = self.ctx.path("nginx")
        work.mkdir(exist_ok=True)
        port = free_port()
        conf = NGINX_CONF.format(workdir=work, listen=f"127.0.0.1:{port}")
        (work / "nginx.conf").write_text(conf)
        self.proc = subprocess.Popen(["taskset", "-c", tools.SERVER_CPU, "/usr/sbin/nginx", "-p", str(work), "-c",
                                      "nginx.conf", "-e", "stderr"], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
                return f"127.0.0.1:{port}"
            except OSError:
                if self.proc.poll() is not None:
                    break
                time.sleep(0.025)
        self.__exit__()
        raise tools.BenchError("nginx (h2c) did not start")

    def __exit__(self, *_exc: object) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait()
            self.proc = None


def h2load_run(ctx: tools.Context, addr: str, p: Params, streams: int) -> Row:
    base = ["taskset", "-c", tools.LOAD_CPU, "h2load", "-t1", f"-c{p.connections}", f"-m{streams}"]
    url = f"http://{addr}/"
    subprocess.run([*base, "-D1", url], stdout=subprocess.DEVNULL, check=True)
    out, cpu = ctx.path("h2load.out"), ctx.path("h2load.time")
    with open(out, "w") as f:
        rc = tools.timed("%U %S", cpu, [*base, f"-D{p.seconds}", url], stdout=f)
    if rc != 0:
        raise tools.BenchError(f"h2load exited {rc}")
    h = parse.h2load(out.read_text())
    return Row(streams, 0, "h2load", h.rps, parse.cpu_seconds(cpu.read_text()) * 1e6 / max(h.succeeded, 1))


def numaload_run(ctx: tools.Context, plan, config, streams: int) -> Row:
    out, err = ctx.path("h2.json"), ctx.path("run.err")
    cmd = [*tools.run_cmd(ctx, plan, out), "--agent-config", str(config)]
    with open(err, "w") as e:
        rc, samples = tools.proc_cpu(cmd, stderr=e)
    result = tools.run_result(f"numaload run {plan}", rc, out, err)
    window = parse.measured_window(result)
    seconds = (window.end_ns - window.start_ns) / 1e9
    return Row(streams, 0, "numaload", window.requests / max(seconds, 1e-9),
               cpu_us_per_request(samples, window))


def measure(ctx: tools.Context, p: Params) -> List[Row]:
    config = ctx.write("agent-h2.toml", agent_config())
    rows: List[Row] = []
    for streams in p.streams:
        plan = ctx.write(f"h2-{streams}.toml", plan_text(p, streams))
        for r in range(1, p.rounds + 1):
            order = ("numaload", "h2load") if r % 2 else ("h2load", "numaload")
            for gen in order:
                if gen == "h2load":
                    with Nginx(ctx) as addr:
                        row = h2load_run(ctx, addr, p, streams)
                else:
                    row = numaload_run(ctx, plan, config, streams)
                rows.append(Row(streams, r, gen, row.rps, row.cpu_us))
            shown = "  ".join(f"{x.gen} {x.rps:.0f} req/s {x.cpu_us:.2f} µs" for x in rows[-2:])
            tools.say(f"  h2 round {r} ({p.connections} connections × {streams} streams): {shown}")
    ctx.keep_rows("13", rows)
    return rows


def ratios(rows: Sequence[Row], streams: int, key: str) -> List[float]:
    """Per round, numaload's figure over h2load's."""
    by_round = {}
    for x in rows:
        if x.streams == streams:
            by_round.setdefault(x.round, {})[x.gen] = getattr(x, key)
    return [v["numaload"] / v["h2load"] for v in by_round.values() if v.get("h2load")]


def render(p: Params, rows: Sequence[Row]) -> Section:
    head = [
        "## 13. HTTP/2 closed loop vs h2load, same h2c server",
        "",
        f"- server: nginx 1.22, one process pinned to CPU 0, `listen ... http2` in clear text (h2c, prior knowledge), "
        f"`return 200`; {p.connections} connections × 1, 10 and 100 streams; {p.seconds}s measured; {p.rounds} "
        "round(s) per stream count, which generator goes first alternating",
        "- numaload: `numaload run`, `protocol = \"h2c\"`, `streams = M`, closed loop, the nginx replica launched "
        "from an agent configuration on CPU 0, the load on CPU 1, after a 1s warm-up; CPU per request: the whole "
        "`numaload run` process (utime + stime sampled from /proc every 10 ms) over the measured window",
        f"- h2load: `taskset -c 1 h2load -t1 -c{p.connections} -mM -D{p.seconds}` after a 1 s run of its own; CPU per "
        "request: its user + system time (/usr/bin/time) over its succeeded requests",
        "",
        "| streams | round | numaload req/s | h2load req/s | numaload CPU µs/req | h2load CPU µs/req | CPU ratio |",
        "|---|---|---|---|---|---|---|",
    ]
    for streams in p.streams:
        for r in range(1, p.rounds + 1):
            pick = {x.gen: x for x in rows if x.streams == streams and x.round == r}
            n, h = pick.get("numaload"), pick.get("h2load")
            if n and h:
                head.append(f"| {streams} | {r} | {n.rps:,.0f} | {h.rps:,.0f} | {n.cpu_us:.2f} | {h.cpu_us:.2f} "
                            f"| {n.cpu_us / h.cpu_us:.3f} |")
    summary = []
    head.append("")
    for streams in p.streams:
        cpu, rps = ratios(rows, streams, "cpu_us"), ratios(rows, streams, "rps")
        if not cpu:
            continue
        head.append(f"- {streams} stream(s): CPU per request numaload/h2load {median_min_max(cpu)}; "
                    f"req/s {median_min_max(rps)}")
        summary.append(SummaryRow("13", f"HTTP/2, {streams} stream(s) per connection: CPU per request, whole numaload "
                                  "run process / h2load (median of rounds)", "≤ 1.0", median_min_max(cpu),
                                  met(median(cpu) <= 1.0)))
    return Section(lines(*head), tuple(summary))
