//! Sampling each replica's OS thread count every 100 ms while a layout is measured.
//!
//! One task samples all replicas of the layout; every [`BATCH_EVERY`] samples it hands a
//! [`SampleBatch`] to the event stream, and when stopped it returns min/max/last per replica.
//! Reading `/proc/<pid>/status` costs a few microseconds: far below 1% of a core at 10 Hz.

use std::time::Duration;

use numaload_proto::v1::{ReplicaStats, SampleBatch, ThreadSample};
use tokio::sync::{mpsc, oneshot};
use tokio::time::{Instant, MissedTickBehavior};

use crate::procfs;

pub const INTERVAL: Duration = Duration::from_millis(100);
/// Ticks between two batches sent to the controller (1 s at 100 ms).
pub const BATCH_EVERY: usize = 10;

/// A running sampler; [`Sampler::stop`] ends it and returns the per-replica statistics.
#[derive(Debug)]
pub struct Sampler {
    stop: oneshot::Sender<()>,
    done: tokio::task::JoinHandle<Vec<ReplicaStats>>,
}

impl Sampler {
    /// Samples `(replica index, pid)` pairs; batches go to `batches` (dropped when it is full:
    /// the live view may miss a batch, the final statistics never do).
    pub fn start(
        layout: String,
        replicas: Vec<(u32, u32)>,
        batches: mpsc::Sender<SampleBatch>,
    ) -> Sampler {
        let (stop, stopped) = oneshot::channel();
        let done = tokio::spawn(sample(layout, replicas, batches, stopped));
        Sampler { stop, done }
    }

    pub async fn stop(self) -> Vec<ReplicaStats> {
        let _ = self.stop.send(());
        self.done.await.unwrap_or_default()
    }
}

async fn sample(
    layout: String,
    replicas: Vec<(u32, u32)>,
    batches: mpsc::Sender<SampleBatch>,
    mut stopped: oneshot::Receiver<()>,
) -> Vec<ReplicaStats> {
    let mut stats: Vec<ReplicaStats> = replicas
        .iter()
        .map(|&(replica, _)| ReplicaStats {
            replica,
            threads_min: u32::MAX,
            ..Default::default()
        })
        .collect();
    let start = Instant::now();
    let mut ticks = tokio::time::interval(INTERVAL);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut pending = Vec::new();
    loop {
        tokio::select! {
            _ = &mut stopped => break,
            _ = ticks.tick() => {}
        }
        let t_ms = start.elapsed().as_millis() as u64;
        for (&(replica, pid), stat) in replicas.iter().zip(stats.iter_mut()) {
            // A replica that died has no /proc entry: its absence shows as missing samples.
            let Ok(os_threads) = procfs::read_threads(pid) else {
                continue;
            };
            stat.threads_min = stat.threads_min.min(os_threads);
            stat.threads_max = stat.threads_max.max(os_threads);
            stat.threads_last = os_threads;
            stat.samples += 1;
            pending.push(ThreadSample {
                replica,
                t_ms,
                os_threads,
                alive_tasks: -1,
                global_queue_depth: -1,
                blocking_threads: -1,
                inflight_calls: -1,
                ..Default::default()
            });
        }
        if pending.len() >= BATCH_EVERY * replicas.len().max(1) {
            let samples = std::mem::take(&mut pending);
            let _ = batches.try_send(SampleBatch {
                layout: layout.clone(),
                samples,
            });
        }
    }
    if !pending.is_empty() {
        let _ = batches.try_send(SampleBatch {
            layout,
            samples: pending,
        });
    }
    for stat in &mut stats {
        if stat.samples == 0 {
            stat.threads_min = 0;
        }
    }
    stats
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn samples_this_process_about_every_100ms() {
        let (tx, mut rx) = mpsc::channel(16);
        let sampler = Sampler::start("l".into(), vec![(0, std::process::id()), (1, u32::MAX)], tx);
        tokio::time::sleep(Duration::from_millis(1_050)).await;
        let stats = sampler.stop().await;
        assert_eq!(stats.len(), 2);
        assert!(
            (8..=13).contains(&stats[0].samples),
            "{} samples in ~1 s",
            stats[0].samples
        );
        assert!(stats[0].threads_min >= 1 && stats[0].threads_max >= stats[0].threads_min);
        assert_eq!(stats[1].samples, 0, "a missing process yields no samples");
        let mut seen = 0;
        while let Ok(batch) = rx.try_recv() {
            assert!(batch.samples.iter().all(|s| s.replica == 0));
            seen += batch.samples.len() as u64;
        }
        assert_eq!(seen, stats[0].samples, "every sample reaches the stream");
    }
}
