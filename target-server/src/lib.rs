//! numaload's HTTP server under test.
//!
//! The agent launches it as a child process (`numaload target --variant async --listen
//! 127.0.0.1:0 --work-us 50 --threads 2`), already pinned, and measures it. The `numaload`
//! binary parses [`TargetArgs`] and calls [`run`], which
//!
//! 1. resolves the arguments into a [`RunConfig`] (no `Option`s left),
//! 2. prints the runtime knobs on stderr ([`knobs::RuntimeKnobs`]: version, CPUs allowed,
//!    worker threads, cgroup CPU quota from [`cgroup`], and a `warning:` when the workers
//!    over-subscribe the quota 2× or more),
//! 3. binds, then prints the readiness line on stdout ([`write_ready_line`]),
//! 4. [`serve`]s HTTP/1.1 until SIGTERM or SIGINT, then drains and exits.
//!
//! Variants ([`Variant`]): `async` does `--work-us` of CPU work per request on the tokio worker
//! and never blocks. Every variant serves `/metrics` ([`metrics::ServerMetrics`]); a variant
//! with metrics of its own adds a [`metrics::MetricSource`].
//!
//! Tests run [`serve`] in-process on a listener of their own with a shutdown future.

pub mod cgroup;
pub mod knobs;
pub mod metrics;
mod proc_status;
mod server;
pub mod work;

use std::fmt;
use std::future::Future;
use std::io::{self, Write};
use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::time::Duration;

use anyhow::Context as _;

pub use server::serve;

/// The first words of the readiness line; the address follows.
pub const READY_PREFIX: &str = "numaload-target listening on ";

/// The largest `--work-us` accepted (10 s): more is a typo, not an experiment.
pub const MAX_WORK_US: u64 = 10_000_000;

/// Command-line arguments of `numaload target`.
#[derive(clap::Args, Debug, Clone)]
pub struct TargetArgs {
    /// Which server to run.
    #[arg(long, value_enum, default_value_t = Variant::Async)]
    pub variant: Variant,
    /// Address to listen on; port 0 picks a free port (printed on stdout when ready).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Microseconds of CPU work per request (a spin, never a sleep).
    #[arg(long, default_value_t = 0)]
    pub work_us: u64,
    /// tokio worker threads [default: the CPUs this process may run on].
    #[arg(long)]
    pub threads: Option<usize>,
}

/// The server variants.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    /// Pure tokio + hyper; the handler spins `--work-us` on the worker and never blocks.
    Async,
}

impl fmt::Display for Variant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Variant::Async => "async",
        })
    }
}

/// What [`serve`] needs: the variant and its per-request work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerConfig {
    pub variant: Variant,
    pub work_us: u64,
}

/// [`TargetArgs`] validated and with every default resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunConfig {
    pub listen: SocketAddr,
    pub worker_threads: usize,
    pub server: ServerConfig,
}

/// Errors a caller may want to tell apart; each names the flag at fault.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    #[error("--listen {addr}: cannot listen on this address: {source}")]
    Bind { addr: SocketAddr, source: io::Error },
    #[error("--threads 0: the runtime needs at least one worker thread")]
    ZeroThreads,
    #[error("--work-us {0}: more than the maximum of {MAX_WORK_US} (10 s of CPU per request)")]
    WorkTooLong(u64),
}

impl TargetArgs {
    /// Validates the arguments; `--threads` defaults to the CPUs this process may run on
    /// (`available_parallelism`, which follows the affinity mask and a cgroup v1 quota).
    pub fn resolve(self) -> Result<RunConfig, TargetError> {
        let worker_threads = match self.threads {
            Some(0) => return Err(TargetError::ZeroThreads),
            Some(n) => n,
            None => std::thread::available_parallelism().map_or(1, NonZeroUsize::get),
        };
        if self.work_us > MAX_WORK_US {
            return Err(TargetError::WorkTooLong(self.work_us));
        }
        Ok(RunConfig {
            listen: self.listen,
            worker_threads,
            server: ServerConfig {
                variant: self.variant,
                work_us: self.work_us,
            },
        })
    }
}

/// Writes `numaload-target listening on <addr>` and a newline, then flushes: the agent reads
/// the port from this line, so it must not sit in a buffer.
pub fn write_ready_line(out: &mut impl Write, addr: SocketAddr) -> io::Result<()> {
    writeln!(out, "{READY_PREFIX}{addr}")?;
    out.flush()
}

/// Runs the server on a runtime of its own with `--threads` workers until SIGTERM or SIGINT.
pub fn run(args: TargetArgs) -> anyhow::Result<()> {
    let config = args.resolve()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(config.worker_threads)
        .thread_name("numaload-worker")
        .enable_all()
        .build()
        .context("building the tokio runtime")?;

    // stderr is for humans; failing to write it must not stop the server.
    let _ = knobs::RuntimeKnobs::collect(&config).write_to(&mut io::stderr().lock());

    runtime.block_on(async {
        let listener = server::bind(config.listen).await?;
        let addr = listener.local_addr().context("reading the bound address")?;
        // Install the handlers before announcing readiness, so that a SIGTERM sent right
        // after the line is read still shuts down cleanly.
        let shutdown = shutdown_signal().context("installing SIGTERM/SIGINT handlers")?;
        write_ready_line(&mut io::stdout().lock(), addr)
            .context("writing the readiness line to stdout")?;
        serve(listener, config.server, shutdown).await
    })?;
    // Connections still running after the drain are cut here rather than waited for.
    runtime.shutdown_timeout(Duration::from_secs(1));
    Ok(())
}

/// Completes on the first SIGTERM or SIGINT. Must be called inside the runtime.
fn shutdown_signal() -> io::Result<impl Future<Output = ()>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    Ok(async move {
        let name = tokio::select! {
            _ = terminate.recv() => "SIGTERM",
            _ = interrupt.recv() => "SIGINT",
        };
        eprintln!("numaload-target: {name} received, shutting down");
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(threads: Option<usize>, work_us: u64) -> TargetArgs {
        TargetArgs {
            variant: Variant::Async,
            listen: ([127, 0, 0, 1], 0).into(),
            work_us,
            threads,
        }
    }

    #[test]
    fn resolve_defaults_and_limits() {
        let config = args(None, 50).resolve().expect("valid");
        assert!(config.worker_threads >= 1);
        assert_eq!(config.server.work_us, 50);
        assert_eq!(args(Some(3), 0).resolve().expect("valid").worker_threads, 3);
        let zero = args(Some(0), 0).resolve().expect_err("0 threads");
        assert!(zero.to_string().starts_with("--threads"));
        let long = args(None, MAX_WORK_US + 1).resolve().expect_err("too long");
        assert!(long.to_string().starts_with("--work-us"));
    }
}
