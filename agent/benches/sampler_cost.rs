//! What sampling a replica every 100 ms costs (`make bench` point 5; the aim is under 1% of a
//! core).
//!
//! Starts a real target (`$NUMALOAD_BIN target --variant async`, pinned to CPU 0 with `taskset`
//! when it exists), leaves it idle for `SAMPLER_SECONDS` (default 10) to measure its own idle CPU,
//! then runs the agent's [`Sampler`] on it for as long — `/proc/<pid>/status` and `stat` reads and
//! a `/metrics` scrape every 100 ms, on a tokio runtime like the agent's — and reports:
//!
//! - the sampler's CPU: this process's CPU time (CLOCK_PROCESS_CPUTIME_ID, user + system,
//!   runtime included) while sampling, as a share of one core;
//! - the replica's extra CPU: the target's CPU time while sampled minus while idle (serving the
//!   scrapes), as a share of one core;
//! - the scheduler counters' part of one sample (`sched_us`: every thread's `schedstat` and
//!   `sched`, [`numaload_agent::sched::cost_of_sampling`]) for the target's `threads`.
//!
//! Prints one `sampler_cost key=value ...` line (read by `make bench`: scripts/bench/points/overhead.py). Without
//! `NUMALOAD_BIN` it says so and exits 0, so `cargo bench --workspace` does not fail on it.
//!
//! `NUMALOAD_BIN=target/release/numaload cargo bench -p numaload-agent --bench sampler_cost`

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context};
use nix::time::{clock_gettime, ClockId};
use numaload_agent::procfs;
use numaload_agent::sampler::{Sampled, Sampler};

/// Kills the target on every path out.
struct Target(Child);

impl Drop for Target {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn main() -> anyhow::Result<()> {
    let Some(bin) = std::env::var_os("NUMALOAD_BIN") else {
        println!("sampler_cost: skipped (set NUMALOAD_BIN to a release numaload binary)");
        return Ok(());
    };
    let seconds: f64 = match std::env::var("SAMPLER_SECONDS") {
        Ok(s) => s.parse().context("SAMPLER_SECONDS")?,
        Err(_) => 10.0,
    };
    let window = Duration::from_secs_f64(seconds);

    let taskset = Command::new("taskset")
        .arg("-V")
        .stdout(Stdio::null())
        .status()
        .is_ok();
    let mut command = if taskset {
        let mut c = Command::new("taskset");
        c.args(["-c", "0"]).arg(&bin);
        c
    } else {
        Command::new(&bin)
    };
    command
        .args(["target", "--variant", "async", "--threads", "1"])
        .args(["--work-us", "0", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut target = Target(command.spawn().context("starting the target")?);
    let pid = target.0.id();
    let stdout = target.0.stdout.take().ok_or_else(|| anyhow!("no stdout"))?;
    let mut address: Option<SocketAddr> = None;
    for line in BufReader::new(stdout).lines() {
        if let Some(addr) = line?.strip_prefix("numaload-target listening on ") {
            address = Some(addr.trim().parse().context("target address")?);
            break;
        }
    }
    let address = address.ok_or_else(|| anyhow!("the target never said where it listens"))?;

    let target_cpu = || procfs::read_usage(pid).map(|u| u.cpu_time_ns);
    let own_cpu = || {
        clock_gettime(ClockId::CLOCK_PROCESS_CPUTIME_ID)
            .map(|t| Duration::from(t).as_nanos() as u64)
    };

    // Idle baseline of the target over the same window.
    let idle_start = target_cpu()?;
    std::thread::sleep(window);
    let target_idle_ns = target_cpu()?.saturating_sub(idle_start);

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let (samples, sampled_ns, own_ns, elapsed) = runtime.block_on(async {
        let (tx, mut rx) = tokio::sync::mpsc::channel(64);
        let drain = tokio::spawn(async move { while rx.recv().await.is_some() {} });
        let (target_start, own_start, started) = (target_cpu()?, own_cpu()?, Instant::now());
        let sampler = Sampler::start(
            "bench".into(),
            vec![Sampled {
                replica: 0,
                pid,
                metrics: Some((address, "/metrics".to_owned())),
                scrape: Vec::new(),
                schedtrace: None,
            }],
            tx,
        );
        tokio::time::sleep(window).await;
        let stats = sampler.stop().await;
        let (own_end, target_end, elapsed) = (own_cpu()?, target_cpu()?, started.elapsed());
        let _ = drain.await;
        anyhow::Ok((
            stats.first().map_or(0, |s| s.samples),
            target_end.saturating_sub(target_start),
            own_end.saturating_sub(own_start),
            elapsed,
        ))
    })?;

    // The scheduler counters' share of a sample: every thread's schedstat and sched.
    let tree = procfs::tree::tree_of(pid, &procfs::tree::scan());
    let threads = procfs::read_threads(pid)?;
    let sched_us = numaload_agent::sched::cost_of_sampling(&tree, 500).as_secs_f64() * 1e6;
    let pct = |ns: u64| 100.0 * ns as f64 / elapsed.as_nanos() as f64;
    let replica_extra_ns = sampled_ns.saturating_sub(target_idle_ns);
    println!(
        "sampler_cost seconds={:.1} samples={samples} sampler_cpu_ns={own_ns} sampler_pct={:.3} \
         replica_sampled_cpu_ns={sampled_ns} replica_idle_cpu_ns={target_idle_ns} \
         replica_extra_pct={:.3} per_sample_us={:.1} threads={threads} sched_us={sched_us:.1}",
        elapsed.as_secs_f64(),
        pct(own_ns),
        pct(replica_extra_ns),
        own_ns as f64 / 1e3 / samples.max(1) as f64,
    );
    Ok(())
}
