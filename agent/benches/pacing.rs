//! How the load generator paces and what it costs on this machine: open loop at 2,000, 10,000
//! and 20,000 req/s, then closed loop, each with 10 connections, 300 ms of warm-up and a 2 s
//! window, against a hyper HTTP/1.1 server that answers `200 ok` at once. The server runs on the
//! first CPU this process may use, the load worker on the last. Prints one line per mode: the
//! rate served, the worker's CPU per request and its core's busy share, the send lag, late
//! sends, corrected and uncorrected latency, and the errors.
//!
//! `cargo bench -p numaload-agent --bench pacing`
//!
//! Run as a test (`cargo test --benches`, no `--bench` argument) it runs each mode for 100 ms,
//! to show that it runs.

use std::convert::Infallible;
use std::net::{SocketAddr, TcpListener};
use std::time::Duration;

use anyhow::Context;
use http_body_util::Full;
use hyper::body::Bytes;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use nix::sched::{sched_getaffinity, sched_setaffinity, CpuSet};
use nix::unistd::Pid;
use numaload_agent::loadgen::{self, Cancel, LoadConfig, Mode};

/// CPUs this process may use, ascending.
fn allowed_cpus() -> anyhow::Result<Vec<usize>> {
    let set = sched_getaffinity(Pid::from_raw(0)).context("sched_getaffinity")?;
    Ok((0..CpuSet::count())
        .filter(|&c| set.is_set(c).unwrap_or(false))
        .collect())
}

/// A keep-alive hyper server answering `200 ok`, on a thread of its own pinned to `cpu`; it
/// lives as long as the process.
fn serve(cpu: usize) -> anyhow::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0").context("bind")?;
    listener.set_nonblocking(true).context("nonblocking")?;
    let addr = listener.local_addr().context("address")?;
    let mut set = CpuSet::new();
    set.set(cpu).context("server CPU")?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("server runtime")?;
    std::thread::spawn(move || {
        if let Err(e) = sched_setaffinity(Pid::from_raw(0), &set) {
            eprintln!("pacing: the server runs unpinned: {e}");
        }
        runtime.block_on(async move {
            let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                return;
            };
            while let Ok((stream, _)) = listener.accept().await {
                let service = service_fn(|_: Request<hyper::body::Incoming>| async {
                    Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"ok"))))
                });
                tokio::spawn(async move {
                    let _ = http1::Builder::new()
                        .keep_alive(true)
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
    });
    Ok(addr)
}

fn us(ns: u64) -> f64 {
    ns as f64 / 1_000.0
}

fn main() -> anyhow::Result<()> {
    let benchmarking = std::env::args().any(|arg| arg == "--bench");
    let cpus = allowed_cpus()?;
    let (Some(&first), Some(&last)) = (cpus.first(), cpus.last()) else {
        anyhow::bail!("no CPU allowed");
    };
    let server = serve(first)?;
    let (warmup, duration) = if benchmarking {
        (Duration::from_millis(300), Duration::from_secs(2))
    } else {
        (Duration::ZERO, Duration::from_millis(100))
    };
    let modes = [
        Mode::Open {
            rate_per_sec: 2_000.0,
        },
        Mode::Open {
            rate_per_sec: 10_000.0,
        },
        Mode::Open {
            rate_per_sec: 20_000.0,
        },
        Mode::Closed,
    ];
    for mode in modes {
        let config = LoadConfig {
            mode,
            targets: vec![server],
            connections: 10,
            cpus: vec![u32::try_from(last).context("CPU number")?],
            warmup,
            duration,
            timeout: Duration::from_secs(1),
            coalesce: true,
            spin: true,
            send_precision: Duration::ZERO,
            shape: Default::default(),
            live: None,
            requests: Vec::new(),
            expect_status: Vec::new(),
            tls: None,
            protocol: Default::default(),
            streams: 1,
        };
        let report = loadgen::run(&config, &Cancel::new()).context("load")?;
        let r = &report.per_replica()[0];
        let cpu = report.workers[0].counts.cpu_time;
        println!(
            "{mode:?}: {:.0} req/s, {:.1} us CPU/req, core busy {:.0}%, send lag p50 {:.0} us \
             p99 {:.0} us, late {}, corrected p50/p99 {:.0}/{:.0} us, uncorrected p50/p99 \
             {:.0}/{:.0} us, errors {:?}",
            r.requests as f64 / report.elapsed.as_secs_f64(),
            cpu.as_secs_f64() * 1e6 / r.requests.max(1) as f64,
            100.0 * cpu.as_secs_f64() / report.elapsed.as_secs_f64(),
            us(r.send_lag.value_at_quantile(0.5)),
            us(r.send_lag.value_at_quantile(0.99)),
            r.counts.late_sends,
            us(r.corrected.value_at_quantile(0.5)),
            us(r.corrected.value_at_quantile(0.99)),
            us(r.uncorrected.value_at_quantile(0.5)),
            us(r.uncorrected.value_at_quantile(0.99)),
            r.errors,
        );
    }
    Ok(())
}
