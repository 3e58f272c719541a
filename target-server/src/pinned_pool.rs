//! A fixed pool of pinned OS threads for thread-affine C libraries.
//!
//! Each pool thread pins itself to one CPU of the process's allowed set (thread `i` to the
//! `i`-th allowed CPU, round-robin), initialises the C library's per-thread state
//! ([`ffi::ThreadState`]), then runs jobs from one shared channel until [`PinnedPool::shutdown`]
//! (or a drop) asks it to stop; the state is torn down on that same thread as it exits. The
//! async side [`submit`](PinnedPool::submit)s a closure and awaits its result on a oneshot,
//! so no async worker ever blocks on the pool.

use std::io;
use std::num::NonZeroUsize;
use std::panic::{self, AssertUnwindSafe};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;

use nix::sched::{sched_getaffinity, sched_setaffinity, CpuSet};
use nix::unistd::{gettid, Pid};
use tokio::sync::oneshot;

use crate::ffi;

type Job = Box<dyn FnOnce() + Send + 'static>;

enum Message {
    Run(Job),
    Stop,
}

/// Where a pool thread runs, as it reported at start-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolThread {
    /// Its kernel thread id.
    pub tid: i64,
    /// The one CPU it is pinned to.
    pub cpu: usize,
    /// The thread id the C side recorded when it initialised this thread's state.
    pub state_tid: i64,
}

/// What a pool thread did, reported when it exits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolThreadExit {
    pub thread: PoolThread,
    /// Jobs it ran.
    pub jobs: u64,
}

/// Why the pool could not start.
#[derive(Debug, thiserror::Error)]
pub enum PoolError {
    #[error("--dispatch pinned-pool: reading the CPUs this process may run on: {0}")]
    Affinity(nix::Error),
    #[error("--dispatch pinned-pool: pinning pool thread {index} to CPU {cpu}: {source}")]
    Pin {
        index: usize,
        cpu: usize,
        source: nix::Error,
    },
    #[error("--dispatch pinned-pool: pool thread {index} found C state already initialised")]
    State { index: usize },
    #[error("--dispatch pinned-pool: starting pool thread {index}: {source}")]
    Spawn { index: usize, source: io::Error },
    #[error("--dispatch pinned-pool: pool thread {index} died while starting")]
    Died { index: usize },
}

/// The pool stopped before running a job.
#[derive(Debug, thiserror::Error)]
#[error("the pinned pool is shut down")]
pub struct PoolClosed;

/// A fixed set of pinned OS threads with C state, fed by one channel.
#[derive(Debug)]
pub struct PinnedPool {
    sender: mpsc::Sender<Message>,
    threads: Vec<PoolThread>,
    /// Taken by the first shutdown.
    handles: Mutex<Vec<JoinHandle<PoolThreadExit>>>,
}

/// The CPUs this process may run on (its main thread's affinity), in ascending order.
pub fn allowed_cpus() -> nix::Result<Vec<usize>> {
    let set = sched_getaffinity(Pid::this())?;
    Ok((0..CpuSet::count())
        .filter(|&cpu| set.is_set(cpu).unwrap_or(false))
        .collect())
}

impl PinnedPool {
    /// Starts `threads` pool threads and waits until each is pinned and has its C state.
    /// Blocks for the thread start-ups (tens of microseconds each).
    pub fn start(threads: NonZeroUsize) -> Result<Self, PoolError> {
        let cpus = allowed_cpus().map_err(PoolError::Affinity)?;
        let (sender, receiver) = mpsc::channel::<Message>();
        let receiver = Arc::new(Mutex::new(receiver));
        let (started_tx, started_rx) = mpsc::channel::<(usize, Result<PoolThread, PoolError>)>();
        let mut pool = PinnedPool {
            sender,
            threads: Vec::with_capacity(threads.get()),
            handles: Mutex::new(Vec::with_capacity(threads.get())),
        };
        for index in 0..threads.get() {
            // `cpus` is empty only if the kernel reports no CPU at all; CPU 0 then fails to pin
            // with a clear error rather than panicking here.
            let cpu = cpus.get(index % cpus.len().max(1)).copied().unwrap_or(0);
            let receiver = Arc::clone(&receiver);
            let started = started_tx.clone();
            let handle = std::thread::Builder::new()
                .name(format!("numaload-ffi-{index}"))
                .spawn(move || pool_thread(index, cpu, &receiver, &started))
                .map_err(|source| PoolError::Spawn { index, source })?;
            pool.lock_handles().push(handle);
        }
        drop(started_tx);
        let mut started = vec![None; threads.get()];
        for _ in 0..threads.get() {
            // Every thread sends once before running jobs; a closed channel means one died.
            let Ok((index, result)) = started_rx.recv() else {
                let index = started.iter().position(Option::is_none).unwrap_or(0);
                return Err(PoolError::Died { index });
            };
            // On error, dropping `pool` stops the threads that did start.
            started[index] = Some(result?);
        }
        pool.threads = started.into_iter().flatten().collect();
        Ok(pool)
    }

    /// The pool threads, in index order.
    pub fn threads(&self) -> &[PoolThread] {
        &self.threads
    }

    /// Runs `job` on the first free pool thread and returns its result. `Err` when the pool
    /// is shut down, or the job panicked.
    pub async fn submit<T, F>(&self, job: F) -> Result<T, PoolClosed>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let (reply, result) = oneshot::channel();
        let job: Job = Box::new(move || {
            // The caller may have gone (a closed connection): nobody to tell.
            let _ = reply.send(job());
        });
        self.sender
            .send(Message::Run(job))
            .map_err(|_| PoolClosed)?;
        result.await.map_err(|_| PoolClosed)
    }

    /// Stops every pool thread once the jobs queued before this call have run, waits for them
    /// (each tears its C state down as it exits) and says what each did. Blocks; a second
    /// call returns nothing.
    pub fn shutdown(&self) -> Vec<PoolThreadExit> {
        let handles = std::mem::take(&mut *self.lock_handles());
        for _ in &handles {
            // Fails only once every thread is gone already.
            let _ = self.sender.send(Message::Stop);
        }
        handles
            .into_iter()
            .filter_map(|handle| handle.join().ok())
            .collect()
    }

    fn lock_handles(&self) -> std::sync::MutexGuard<'_, Vec<JoinHandle<PoolThreadExit>>> {
        self.handles.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for PinnedPool {
    /// Asks the threads still running to stop, without waiting for them (a drop may happen
    /// on an async worker); [`PinnedPool::shutdown`] is the waiting way.
    fn drop(&mut self) {
        for _ in self.lock_handles().iter() {
            let _ = self.sender.send(Message::Stop);
        }
    }
}

/// The body of pool thread `index`: pin to `cpu`, init the C state, report, run jobs until
/// `Stop`, tear the state down (by dropping it, here).
fn pool_thread(
    index: usize,
    cpu: usize,
    receiver: &Mutex<mpsc::Receiver<Message>>,
    started: &mpsc::Sender<(usize, Result<PoolThread, PoolError>)>,
) -> PoolThreadExit {
    let tid = i64::from(gettid().as_raw());
    let mut thread = PoolThread {
        tid,
        cpu,
        state_tid: 0,
    };
    let state = pin_current_thread(cpu)
        .map_err(|source| PoolError::Pin { index, cpu, source })
        .and_then(|()| ffi::ThreadState::init().map_err(|_| PoolError::State { index }));
    let state = match state {
        Ok(state) => state,
        Err(e) => {
            let _ = started.send((index, Err(e)));
            return PoolThreadExit { thread, jobs: 0 };
        }
    };
    thread.state_tid = state.init_tid();
    let _ = started.send((index, Ok(thread)));

    let mut jobs = 0;
    loop {
        // The lock is held only while waiting; the job runs with it released.
        let message = receiver
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .recv();
        match message {
            Ok(Message::Run(job)) => {
                jobs += 1;
                // A panicking job loses its reply (the caller sees `PoolClosed`); the thread
                // and its C state live on.
                let _ = panic::catch_unwind(AssertUnwindSafe(job));
            }
            Ok(Message::Stop) | Err(_) => break,
        }
    }
    drop(state);
    PoolThreadExit { thread, jobs }
}

/// Pins the calling thread to `cpu` alone.
fn pin_current_thread(cpu: usize) -> nix::Result<()> {
    let mut set = CpuSet::new();
    set.set(cpu)?;
    // Pid 0 is the calling thread.
    sched_setaffinity(Pid::from_raw(0), &set)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn jobs_run_on_pinned_threads_with_their_state() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        let pool = PinnedPool::start(NonZeroUsize::new(2).expect("2")).expect("pool");
        let cpus = allowed_cpus().expect("affinity");
        assert_eq!(pool.threads().len(), 2);
        for (i, thread) in pool.threads().iter().enumerate() {
            assert_eq!(thread.tid, thread.state_tid);
            assert_eq!(thread.cpu, cpus[i % cpus.len()]);
        }
        let reports = runtime.block_on(async {
            let mut reports = Vec::new();
            for _ in 0..6 {
                let report = pool
                    .submit(|| ffi::call(crate::WorkMode::Sleep, Duration::from_micros(100)))
                    .await
                    .expect("pool runs the job");
                reports.push(report);
            }
            reports
        });
        let tids: Vec<i64> = pool.threads().iter().map(|t| t.tid).collect();
        for report in reports {
            assert!(tids.contains(&report.tid), "{report:?} not on {tids:?}");
            assert_eq!(report.state_tid, Some(report.tid));
        }
        let exits = pool.shutdown();
        assert_eq!(exits.len(), 2);
        assert_eq!(exits.iter().map(|e| e.jobs).sum::<u64>(), 6);
        assert!(pool.shutdown().is_empty(), "second shutdown");
        let late = runtime.block_on(pool.submit(|| 1));
        assert!(late.is_err(), "no thread left to run it");
    }
}
