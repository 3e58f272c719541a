//! One load worker: a pinned OS thread driving its connections on its own event loop
//! (`engine.rs`), plus the pure [`plan`] that decides which connections it owns, the
//! measurement [`Window`] and the open-loop [`Schedule`]. Its counters are in `stats.rs`.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use nix::sched::{sched_setaffinity, CpuSet};
use nix::time::{clock_gettime, ClockId};
use nix::unistd::Pid;

use super::engine::Engine;
use super::stats::WorkerStats;
use super::{Cancel, LoadConfig, LoadError, WorkerReport};

/// The connections one worker owns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct WorkerPlan {
    pub(super) worker: u32,
    pub(super) cpu: u32,
    /// Replicas this worker talks to, ascending; a connection's `slot` indexes this list.
    pub(super) replicas: Vec<u32>,
    pub(super) connections: Vec<ConnectionPlan>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct ConnectionPlan {
    /// Position among all connections of the run: fixes the open-loop phase.
    pub(super) global: u32,
    pub(super) replica: u32,
    /// Index into the worker's `replicas` (and its stats).
    pub(super) slot: usize,
}

/// Splits the connections over `min(cpus, connections)` workers in contiguous blocks (sizes
/// differ by at most one) and binds connection `g` to replica `g % targets`.
pub(super) fn plan(config: &LoadConfig) -> Vec<WorkerPlan> {
    let targets = config.targets.len() as u32;
    let workers = config.cpus.len().min(config.connections as usize) as u32;
    let (base, extra) = (config.connections / workers, config.connections % workers);
    let mut next_global = 0;
    (0..workers)
        .map(|worker| {
            let count = base + u32::from(worker < extra);
            let globals = next_global..next_global + count;
            next_global += count;
            let mut replicas: Vec<u32> = globals.clone().map(|g| g % targets).collect();
            replicas.sort_unstable();
            replicas.dedup();
            let connections = globals
                .map(|global| {
                    let replica = global % targets;
                    let slot = replicas.binary_search(&replica).unwrap_or_default();
                    ConnectionPlan {
                        global,
                        replica,
                        slot,
                    }
                })
                .collect();
            WorkerPlan {
                worker,
                cpu: config.cpus[worker as usize],
                replicas,
                connections,
            }
        })
        .collect()
}

/// When the load starts and when the measured interval begins and ends; the same for every
/// worker of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Window {
    pub(super) start: Instant,
    pub(super) measure_start: Instant,
    pub(super) measure_end: Instant,
}

impl Window {
    /// `run` validated that these additions cannot overflow.
    pub(super) fn new(start: Instant, config: &LoadConfig) -> Self {
        let measure_start = start + config.warmup;
        Self {
            start,
            measure_start,
            measure_end: measure_start + config.duration,
        }
    }

    pub(super) fn measures(&self, at: Instant) -> bool {
        self.measure_start <= at && at < self.measure_end
    }
}

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
        Engine::new(&config).map_err(start_error)
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

    let mut stats = WorkerStats::new(window, &plan.replicas, &config);
    let totals = engine.run(&plan, &config, window, &cancel, &mut stats);
    Some(WorkerReport {
        worker: plan.worker,
        cpu: plan.cpu,
        cpu_time: totals.cpu_time,
        naps: totals.naps,
        napped: totals.napped,
        spins: totals.spins,
        spun: totals.spun,
        paces: totals.paces,
        paced: totals.paced,
        wakeups: totals.wakeups,
        stamped: totals.stamped,
        per_target: stats.into_per_target(),
    })
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

pub(super) fn thread_cpu_time() -> Duration {
    // CLOCK_THREAD_CPUTIME_ID cannot fail for the calling thread on Linux; zero is a safe
    // answer if it somehow does (it only lowers the reported load-core busy time).
    clock_gettime(ClockId::CLOCK_THREAD_CPUTIME_ID).map_or(Duration::ZERO, Duration::from)
}

/// The open-loop send times of one connection: `start + (global + k·connections) / rate`.
#[derive(Debug)]
pub(super) struct Schedule {
    origin: Instant,
    next_index: u64,
    step: u64,
    rate_per_sec: f64,
}

impl Schedule {
    pub(super) fn new(origin: Instant, global: u32, connections: u32, rate_per_sec: f64) -> Self {
        Self {
            origin,
            next_index: u64::from(global),
            step: u64::from(connections),
            rate_per_sec,
        }
    }

    /// The next intended send time; `None` once it no longer fits in an `Instant`.
    pub(super) fn next(&mut self) -> Option<Instant> {
        let next = self.peek();
        self.next_index += self.step;
        next
    }

    /// The send time [`Schedule::next`] will give, without moving on.
    pub(super) fn peek(&self) -> Option<Instant> {
        let offset = Duration::try_from_secs_f64(self.next_index as f64 / self.rate_per_sec);
        self.origin.checked_add(offset.ok()?)
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_config as config;
    use super::*;

    #[test]
    fn plan_spreads_connections_over_workers_and_replicas() {
        // (targets, connections, cpus, connections per worker)
        let cases: &[(usize, u32, &[u32], &[usize])] = &[
            (1, 1, &[0], &[1]),
            (1, 3, &[0, 1, 2, 3], &[1, 1, 1]), // capped at one worker per connection
            (2, 10, &[0, 1], &[5, 5]),
            (3, 10, &[4, 5, 6], &[4, 3, 3]),
            (4, 2, &[0], &[2]),
        ];
        for &(targets, connections, cpus, per_worker) in cases {
            let plans = plan(&config(targets, connections, cpus));
            let sizes: Vec<usize> = plans.iter().map(|p| p.connections.len()).collect();
            assert_eq!(sizes, per_worker, "{targets} targets, {connections} conns");
            let mut per_replica = vec![0u32; targets];
            let mut globals = Vec::new();
            for (w, p) in plans.iter().enumerate() {
                assert_eq!(p.cpu, cpus[w]);
                for c in &p.connections {
                    assert_eq!(p.replicas[c.slot], c.replica);
                    per_replica[c.replica as usize] += 1;
                    globals.push(c.global);
                }
            }
            assert_eq!(globals, (0..connections).collect::<Vec<_>>());
            let (min, max) = (per_replica.iter().min(), per_replica.iter().max());
            if connections as usize >= targets {
                assert!(
                    max.zip(min).is_some_and(|(a, b)| a - b <= 1),
                    "{per_replica:?}"
                );
            }
        }
        // Two workers, two replicas: each worker still talks to both.
        let plans = plan(&config(2, 4, &[0, 1]));
        assert!(plans.iter().all(|p| p.replicas == [0, 1]));
    }

    #[test]
    fn schedules_interleave_into_one_even_stream() {
        let origin = Instant::now();
        let mut sends: Vec<Duration> = (0..4)
            .flat_map(|g| {
                let mut s = Schedule::new(origin, g, 4, 1_000.0);
                (0..5).map(move |_| s.next().expect("fits").duration_since(origin))
            })
            .collect();
        sends.sort();
        for (i, at) in sends.iter().enumerate() {
            let want = Duration::from_millis(i as u64);
            let diff = at.abs_diff(want);
            assert!(diff < Duration::from_micros(1), "send {i} at {at:?}");
        }
    }

    #[test]
    fn peek_tells_the_next_send_without_moving_on() {
        let mut s = Schedule::new(Instant::now(), 1, 4, 1_000.0);
        for _ in 0..3 {
            let peeked = s.peek();
            assert_eq!(s.peek(), peeked);
            assert_eq!(s.next(), peeked);
        }
    }
}
