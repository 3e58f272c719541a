//! The tokio runtime the server runs on, and a count of its blocking-pool threads.
//!
//! tokio 1.54 has `RuntimeMetrics::num_blocking_threads`, but only under
//! `--cfg tokio_unstable`, which this workspace does not build with. [`build`] counts the same
//! thing itself: the runtime's threads (its `on_thread_start`/`on_thread_stop` hooks run on
//! every worker and blocking-pool thread) minus its workers — tokio's own arithmetic. `/metrics`
//! finds the count of the runtime it runs on through a registry keyed by runtime id; a runtime
//! built elsewhere (e.g. by `#[tokio::test]`) has none, and the metric is left out.

use std::collections::HashMap;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};

use tokio::runtime::{Builder, Handle, Id, Runtime};

/// Threads of one runtime started and stopped so far.
#[derive(Debug, Default)]
struct ThreadCount {
    started: AtomicU64,
    stopped: AtomicU64,
}

impl ThreadCount {
    fn alive(&self) -> u64 {
        // Read `stopped` first: a thread that stops between the two loads is then still
        // counted, never counted negative.
        let stopped = self.stopped.load(Ordering::Acquire);
        self.started.load(Ordering::Acquire).saturating_sub(stopped)
    }
}

/// Runtimes built by [`build`] that are still alive, by id.
static REGISTRY: Mutex<Option<HashMap<Id, Weak<ThreadCount>>>> = Mutex::new(None);

/// Builds the multi-thread runtime `run` uses: `worker_threads` workers named
/// `numaload-worker`, every driver enabled, the blocking pool capped at
/// `max_blocking_threads` (tokio's default of 512 when `None`) and its threads counted for
/// `/metrics` (`tokio_blocking_threads`).
pub fn build(worker_threads: usize, max_blocking_threads: Option<usize>) -> io::Result<Runtime> {
    let count = Arc::new(ThreadCount::default());
    let mut builder = Builder::new_multi_thread();
    builder
        .worker_threads(worker_threads)
        .thread_name("numaload-worker")
        .enable_all();
    if let Some(max) = max_blocking_threads {
        builder.max_blocking_threads(max);
    }
    let on_start = Arc::clone(&count);
    let on_stop = Arc::clone(&count);
    builder
        .on_thread_start(move || {
            on_start.started.fetch_add(1, Ordering::AcqRel);
        })
        .on_thread_stop(move || {
            on_stop.stopped.fetch_add(1, Ordering::AcqRel);
        });
    let runtime = builder.build()?;
    let mut registry = REGISTRY.lock().unwrap_or_else(PoisonError::into_inner);
    let map = registry.get_or_insert_with(HashMap::new);
    // The hooks hold the only strong references: entries of dropped runtimes go dead.
    map.retain(|_, count| count.strong_count() > 0);
    map.insert(runtime.handle().id(), Arc::downgrade(&count));
    Ok(runtime)
}

/// Threads of `runtime`'s blocking pool (busy or idle), when it was built by [`build`].
pub(crate) fn blocking_threads(runtime: &Handle) -> Option<u64> {
    let count = {
        let registry = REGISTRY.lock().unwrap_or_else(PoisonError::into_inner);
        registry.as_ref()?.get(&runtime.id())?.upgrade()?
    };
    let workers = runtime.metrics().num_workers() as u64;
    Some(count.alive().saturating_sub(workers))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn counts_blocking_threads_apart_from_workers() {
        let runtime = build(2, Some(4)).expect("runtime");
        let handle = runtime.handle().clone();
        assert_eq!(blocking_threads(&handle), Some(0));
        runtime.block_on(async {
            let calls: Vec<_> = (0..4)
                .map(|_| {
                    tokio::task::spawn_blocking(|| std::thread::sleep(Duration::from_millis(30)))
                })
                .collect();
            tokio::time::sleep(Duration::from_millis(10)).await;
            assert_eq!(blocking_threads(&handle), Some(4), "capped at 4");
            for call in calls {
                call.await.expect("blocking call");
            }
        });

        let other = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        assert_eq!(blocking_threads(other.handle()), None, "not built here");
    }
}
