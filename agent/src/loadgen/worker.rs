//! One load worker: a pinned OS thread driving the connections its plan (`plan.rs`) gives it
//! on its own event loop (`engine.rs`). Its counters are in `stats.rs`.

use std::sync::mpsc;

use nix::sched::{sched_setaffinity, CpuSet};
use nix::unistd::Pid;

use super::config::{Cancel, LoadConfig, LoadError, Protocol};
use super::engine::Engine;
use super::h2::H2Engine;
use super::plan::WorkerPlan;
use super::report::WorkerReport;
use super::stats::WorkerStats;
use super::window::Window;

/// What a worker thread is handed by `run`.
#[derive(Debug)]
pub(super) struct Setup {
    pub(super) plan: WorkerPlan,
    pub(super) config: LoadConfig,
    pub(super) cancel: Cancel,
    /// Reports once whether the worker is pinned and ready.
    pub(super) ready: mpsc::Sender<Result<(), LoadError>>,
    /// Receives the run's window to start; disconnects to abort.
    pub(super) go: mpsc::Receiver<Window>,
}

/// The worker thread's body. `None` if it did not run (setup failed or the run was aborted).
pub(super) fn main(setup: Setup) -> Option<WorkerReport> {
    let Setup {
        plan,
        config,
        cancel,
        ready,
        go,
    } = setup;
    let prepared = pin_current_thread(plan.worker, plan.cpu).and_then(|()| {
        let start_error = |source| LoadError::WorkerStart {
            worker: plan.worker,
            cpu: plan.cpu,
            source,
        };
        match config.protocol {
            Protocol::H1 => Engine::new(&config).map(AnyEngine::H1),
            Protocol::H2 | Protocol::H2c => H2Engine::new(&config).map(AnyEngine::H2),
        }
        .map_err(start_error)
    });
    let engine = match prepared {
        Ok(engine) => {
            // `run` is waiting on this; if it is gone there is nobody to report to either.
            let _ = ready.send(Ok(()));
            engine
        }
        Err(e) => {
            let _ = ready.send(Err(e));
            return None;
        }
    };
    drop(ready);
    let window = go.recv().ok()?;

    let stats = WorkerStats::new(window, &plan.replicas, &config);
    Some(match engine {
        AnyEngine::H1(engine) => engine.run(&plan, &config, window, &cancel, stats),
        AnyEngine::H2(engine) => engine.run(&plan, &config, window, &cancel, stats),
    })
}

/// The event loop of the protocol the run speaks.
enum AnyEngine {
    H1(Engine),
    H2(H2Engine),
}

fn pin_current_thread(worker: u32, cpu: u32) -> Result<(), LoadError> {
    let mut set = CpuSet::new();
    set.set(cpu as usize)
        .and_then(|()| sched_setaffinity(Pid::from_raw(0), &set))
        .map_err(|source| LoadError::PinCpu {
            worker,
            cpu,
            source,
        })
}
