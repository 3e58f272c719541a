//! A small host calibration, measured before every run so that results from different hosts can
//! be compared: what it costs here to spawn and join a tokio task (in batches), to spawn and join
//! an OS thread (one after the other), and to pass a message between two tasks and back.
//!
//! Each figure is the median over batches (a batch averages many operations, so the clock's
//! own cost disappears); the whole calibration is bounded to about a second.

use std::time::{Duration, Instant};

use numaload_proto::v1::Calibration;

const BATCHES: usize = 15;
const TASKS_PER_BATCH: u32 = 200;
const THREADS_PER_BATCH: u32 = 10;
const ROUND_TRIPS_PER_BATCH: u32 = 200;
/// Stop adding batches past this, whatever the machine.
const BUDGET: Duration = Duration::from_secs(1);

/// Measures the three figures on the current tokio runtime.
pub async fn calibrate() -> Calibration {
    let deadline = Instant::now() + BUDGET / 3;
    // Spawn a batch, then join it: awaiting each task in turn would measure a cross-thread
    // wake-up per task, which costs far more than a task, not the cost of a task.
    let task_spawn_ns = median_batches(deadline, TASKS_PER_BATCH, || async {
        let tasks: Vec<_> = (0..TASKS_PER_BATCH)
            .map(|_| tokio::spawn(async {}))
            .collect();
        for task in tasks {
            let _ = task.await;
        }
    })
    .await;
    let deadline = Instant::now() + BUDGET / 3;
    let thread_spawn_ns = median_batches(deadline, THREADS_PER_BATCH, || async {
        for _ in 0..THREADS_PER_BATCH {
            let _ = std::thread::spawn(|| {}).join();
        }
    })
    .await;
    let deadline = Instant::now() + BUDGET / 3;
    let channel_round_trip_ns = median_batches(deadline, ROUND_TRIPS_PER_BATCH, round_trips).await;
    Calibration {
        task_spawn_ns,
        thread_spawn_ns,
        channel_round_trip_ns,
        samples: BATCHES as u32,
    }
}

async fn round_trips() {
    let (ping_tx, mut ping_rx) = tokio::sync::mpsc::channel::<u32>(1);
    let (pong_tx, mut pong_rx) = tokio::sync::mpsc::channel::<u32>(1);
    let echo = tokio::spawn(async move {
        while let Some(n) = ping_rx.recv().await {
            if pong_tx.send(n).await.is_err() {
                break;
            }
        }
    });
    for n in 0..ROUND_TRIPS_PER_BATCH {
        if ping_tx.send(n).await.is_err() || pong_rx.recv().await.is_none() {
            break;
        }
    }
    drop(ping_tx);
    let _ = echo.await;
}

/// Runs `batch` up to [`BATCHES`] times (fewer past `deadline`) and returns the median time per
/// operation in nanoseconds.
async fn median_batches<F, Fut>(deadline: Instant, per_batch: u32, mut batch: F) -> u64
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut per_op = Vec::with_capacity(BATCHES);
    for _ in 0..BATCHES {
        let start = Instant::now();
        batch().await;
        per_op.push(start.elapsed().as_nanos() as u64 / u64::from(per_batch));
        if Instant::now() > deadline {
            break;
        }
    }
    per_op.sort_unstable();
    per_op[per_op.len() / 2]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_os_thread_costs_far_more_than_a_task_and_it_stays_bounded() {
        let start = Instant::now();
        let c = calibrate().await;
        assert!(
            start.elapsed() < Duration::from_secs(3),
            "took {:?}",
            start.elapsed()
        );
        assert!(c.task_spawn_ns > 0 && c.channel_round_trip_ns > 0);
        // An OS thread costs orders of magnitude more than a task (a stack mapped, a clone
        // call, a join); 5x leaves room for any machine's noise.
        assert!(
            c.thread_spawn_ns > 5 * c.task_spawn_ns,
            "thread {} ns vs task {} ns",
            c.thread_spawn_ns,
            c.task_spawn_ns
        );
    }
}
