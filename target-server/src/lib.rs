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
//! 3. sets the variant up ([`Server::new`]: the pinned pool's threads start here), binds, then
//!    prints the readiness line on stdout ([`write_ready_line`]),
//! 4. [`Server::serve`]s HTTP/1.1 and HTTP/2 (h2c with prior knowledge) until SIGTERM or
//!    SIGINT, then drains and exits; on the same port over TLS too ([`tls`]: a generated
//!    certificate unless `--tls-cert` names one; ALPN offers h2 and http/1.1), and gRPC
//!    ([`grpc`]: `numaload.bench.v1.Bench/Work`, the same work as a plain request, and `Echo`,
//!    none).
//!
//! Variants ([`Variant`]): `async` does `--work-us` of CPU work per request on the tokio worker
//! and never blocks. `ffi` calls a C function per request ([`ffi`]) that sleeps or spins
//! ([`WorkMode`]) for `--work-us`, dispatched as [`Dispatch`] says: on tokio's blocking pool,
//! behind a semaphore, inline on the worker, or on a pool of pinned threads with per-thread C
//! state ([`pinned_pool`]). Every variant serves `/metrics` ([`metrics::ServerMetrics`]); the
//! `ffi` variant adds its C-call metrics as a [`metrics::MetricSource`].
//!
//! [`runtime::build`] makes the runtime [`run`] uses; it counts blocking-pool threads for
//! `/metrics`. Tests run [`serve`] in-process on a listener of their own with a shutdown
//! future, on a runtime of [`runtime::build`] when they look at blocking threads.

/// cgroup reading, shared with the agent (`numaload-cgroup`).
pub use numaload_cgroup as cgroup;
mod config;
mod dispatch;
pub mod ffi;
pub mod grpc;
mod histogram;
pub mod knobs;
pub mod metrics;
pub mod pinned_pool;
mod proc_status;
mod response;
pub mod runtime;
mod server;
pub mod tls;
pub mod work;

use std::future::Future;
use std::io::{self, Write};
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context as _;

pub use config::{
    Dispatch, DispatchMode, RunConfig, ServerConfig, TargetArgs, TargetError, Variant, WorkMode,
    MAX_WORK_US,
};
pub use dispatch::{STATE_TID_HEADER, TID_HEADER};
pub use server::{serve, Server};

/// The first words of the readiness line; the address follows.
pub const READY_PREFIX: &str = "numaload-target listening on ";

/// Writes `numaload-target listening on <addr>` and a newline, then flushes: the agent reads
/// the port from this line, so it must not sit in a buffer.
pub fn write_ready_line(out: &mut impl Write, addr: SocketAddr) -> io::Result<()> {
    writeln!(out, "{READY_PREFIX}{addr}")?;
    out.flush()
}

/// Runs the server on a runtime of its own with `--threads` workers until SIGTERM or SIGINT.
pub fn run(args: TargetArgs) -> anyhow::Result<()> {
    let config = args.resolve()?;
    let runtime = runtime::build(config.worker_threads, config.max_blocking_threads)
        .context("building the tokio runtime")?;

    // stderr is for humans; failing to write it must not stop the server.
    let _ = knobs::RuntimeKnobs::collect(&config).write_to(&mut io::stderr().lock());

    runtime.block_on(async {
        let server = Server::new(config.server)?;
        let listener = server::bind(config.listen).await?;
        let addr = listener.local_addr().context("reading the bound address")?;
        let server = server.with_tls(tls::acceptor(&config.tls, addr)?);
        // Install the handlers before announcing readiness, so that a SIGTERM sent right
        // after the line is read still shuts down cleanly.
        let shutdown = shutdown_signal().context("installing SIGTERM/SIGINT handlers")?;
        write_ready_line(&mut io::stdout().lock(), addr)
            .context("writing the readiness line to stdout")?;
        server.serve(listener, shutdown).await
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
