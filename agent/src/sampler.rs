//! Sampling each replica every 100 ms while a layout is measured: its whole process tree's
//! processes, OS threads, CPU time and RSS from `/proc` (summed over the tree: nginx's workers
//! count, not only its master), tokio tasks, queue depth, blocking threads and in-flight C calls
//! from the replica's metrics, and the series its target names (`scrape`).
//!
//! The process table is scanned at most once a second ([`TABLE_EVERY`]) for all replicas: this
//! kernel has no `/proc/PID/task/TID/children`, so finding a tree means reading every process's
//! `stat`, which would cost more than all the rest of a sample if done every 100 ms. A
//! process that joins a tree is counted from the next scan on (within a second); one that exits
//! drops out of the sums at once, its reads failing. Placement is verified from a fresh scan.
//!
//! One task per replica (a slow `/metrics` on one cannot delay the others' samples) pushes its
//! samples to one batcher, which hands a [`SampleBatch`] to the event stream about once a
//! second. Stopping returns min/max/last per replica. What sampling a replica costs, the
//! sampler's CPU and the replica's, is `make bench`'s point 5 (BENCHMARKS.md, measured by
//! `benches/sampler_cost.rs`).
//!
//! Each sample also reads the scheduler's counters of every thread of the tree ([`crate::sched`]:
//! `schedstat` and `sched`, two small files per thread) for run-queue wait, context switches and
//! migrations per second, and takes the Go runtime's `SCHED` lines its output reader parsed
//! (`schedtrace = "go"`). That part grows with the tree's threads, two file reads each: small
//! for a replica of a few threads, and the larger share of a sample for one with a hundred-odd
//! (`benches/sampler_cost.rs` reports it as `sched_us`).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use numaload_proto::v1::{ReplicaStats, SampleBatch, ScrapedSeries, ScrapedValue, ThreadSample};
use tokio::sync::{mpsc, watch};
use tokio::time::{Instant, MissedTickBehavior};

use crate::procfs;
use crate::procfs::tree::{self, ProcEntry};
use crate::replica::Output;
use crate::sched::{SchedTracker, TokioTracker};
use crate::scrape::Scraper;

pub const INTERVAL: Duration = Duration::from_millis(100);
/// How old a process-table scan may be before the sampler reads the table again.
pub const TABLE_EVERY: Duration = Duration::from_secs(1);
/// A scrape slower than this counts as missing (and its probe as "at least this long") rather
/// than delaying the next sample.
const SCRAPE_TIMEOUT: Duration = Duration::from_millis(90);
/// Samples per replica between two batches sent to the controller (1 s at 100 ms).
pub const BATCH_EVERY: usize = 10;

/// A replica to sample.
#[derive(Debug, Clone)]
pub struct Sampled {
    pub replica: u32,
    pub pid: u32,
    /// Where its metrics are served (address and path); `None` samples `/proc` only.
    pub metrics: Option<(SocketAddr, String)>,
    /// Series of its metrics to keep.
    pub scrape: Vec<String>,
    /// Its output, when the runtime's `SCHED` lines are parsed there (`schedtrace = "go"`).
    pub schedtrace: Option<Output>,
}

/// One process-table scan shared by the replicas' sampling tasks of a tick.
#[derive(Debug, Clone, Default)]
struct SharedTable(Arc<Mutex<Option<Scanned>>>);

/// A process table and when it was read.
type Scanned = (Instant, Arc<Vec<ProcEntry>>);

impl SharedTable {
    /// The table, scanned again when the last scan is older than [`TABLE_EVERY`].
    fn get(&self) -> Arc<Vec<ProcEntry>> {
        let Ok(mut cached) = self.0.lock() else {
            return Arc::new(tree::scan());
        };
        match &*cached {
            Some((at, table)) if at.elapsed() < TABLE_EVERY => Arc::clone(table),
            _ => {
                let table = Arc::new(tree::scan());
                *cached = Some((Instant::now(), Arc::clone(&table)));
                table
            }
        }
    }
}

/// A running sampler; [`Sampler::stop`] ends it and returns the per-replica statistics.
#[derive(Debug)]
pub struct Sampler {
    stop: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<ReplicaStats>>,
    batcher: tokio::task::JoinHandle<()>,
}

impl Sampler {
    /// Starts sampling; batches go to `batches` (dropped when it is full: the live view may miss
    /// a batch, the final statistics never do).
    pub fn start(
        layout: String,
        replicas: Vec<Sampled>,
        batches: mpsc::Sender<SampleBatch>,
    ) -> Sampler {
        let (stop, stopped) = watch::channel(false);
        let (samples_tx, samples_rx) = mpsc::channel(1024);
        let start = Instant::now();
        let table = SharedTable::default();
        let tasks = replicas
            .iter()
            .map(|r| {
                tokio::spawn(sample_one(
                    r.clone(),
                    table.clone(),
                    start,
                    samples_tx.clone(),
                    stopped.clone(),
                ))
            })
            .collect();
        let per_batch = BATCH_EVERY * replicas.len().max(1);
        let batcher = tokio::spawn(batch(layout, samples_rx, batches, per_batch));
        Sampler {
            stop,
            tasks,
            batcher,
        }
    }

    pub async fn stop(self) -> Vec<ReplicaStats> {
        let _ = self.stop.send(true);
        let mut stats = Vec::with_capacity(self.tasks.len());
        for task in self.tasks {
            stats.push(task.await.unwrap_or_default());
        }
        // Every sender is gone once the tasks ended: the batcher flushes and ends.
        let _ = self.batcher.await;
        stats
    }
}

#[allow(
    clippy::too_many_lines,
    reason = "one sample of a replica's tree, every figure read in one pass over its /proc files"
)]
async fn sample_one(
    replica: Sampled,
    table: SharedTable,
    start: Instant,
    samples: mpsc::Sender<ThreadSample>,
    mut stopped: watch::Receiver<bool>,
) -> ReplicaStats {
    let mut stats = ReplicaStats {
        replica: replica.replica,
        threads_min: u32::MAX,
        ..Default::default()
    };
    let (mut alive_max, mut blocking_max) = (-1i64, -1i64);
    let mut scraper = replica
        .metrics
        .as_ref()
        .map(|(address, path)| Scraper::new(*address, path));
    let mut scraped: Vec<Option<ScrapedSeries>> = vec![None; replica.scrape.len()];
    let mut first_cpu: Option<u64> = None;
    // Handler-time buckets at the last server-p99 computation (about once a second).
    let mut p99_since: Option<crate::scrape::Buckets> = None;
    let mut sched = SchedTracker::default();
    let mut tokio_rates = TokioTracker::default();
    // Lines printed before the measurement (warm-up) are not part of it.
    let _ = replica.schedtrace.as_ref().and_then(Output::take_go_sched);
    let mut ticks = tokio::time::interval(INTERVAL);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stopped.changed() => break,
            _ = ticks.tick() => {}
        }
        let t_ms = start.elapsed().as_millis() as u64;
        // A replica that died has no /proc entry: its absence shows as missing samples.
        let tree = tree::tree_of(replica.pid, &table.get());
        let Some(TreeFigures {
            processes,
            os_threads,
            usage,
        }) = tree_figures(&tree)
        else {
            continue;
        };
        let usage = Some(usage);
        let sched_rates = sched.sample(&tree);
        let scrape = match scraper.as_mut() {
            Some(s) => Some(s.scrape(SCRAPE_TIMEOUT).await),
            None => None,
        };
        let gauges = scrape
            .as_ref()
            .map_or(crate::scrape::RuntimeGauges::MISSING, |s| s.gauges);
        let mut server_p99_ns = -1;
        if let Some(buckets) = scrape
            .as_ref()
            .map(|s| &s.buckets)
            .filter(|b| !b.is_empty())
        {
            match &p99_since {
                Some(before) if stats.samples.is_multiple_of(BATCH_EVERY as u64) => {
                    server_p99_ns = crate::scrape::interval_p99_ns(before, buckets)
                        .map_or(-1, |ns| ns.min(i64::MAX as u64) as i64);
                    p99_since = Some(buckets.clone());
                }
                Some(_) => {}
                None => p99_since = Some(buckets.clone()),
            }
        }
        stats.threads_min = stats.threads_min.min(os_threads);
        stats.threads_max = stats.threads_max.max(os_threads);
        stats.threads_last = os_threads;
        stats.processes_max = stats.processes_max.max(processes);
        stats.samples += 1;
        let values = scrape
            .as_ref()
            .map(|s| crate::scrape::parse_series(&s.text, &replica.scrape))
            .unwrap_or_else(|| vec![None; replica.scrape.len()]);
        let mut scraped_now = Vec::new();
        for ((name, value), kept) in replica.scrape.iter().zip(values).zip(&mut scraped) {
            let Some(value) = value else { continue };
            scraped_now.push(ScrapedValue {
                name: name.clone(),
                value,
            });
            let kept = kept.get_or_insert_with(|| ScrapedSeries {
                name: name.clone(),
                min: value,
                max: value,
                last: value,
            });
            kept.min = kept.min.min(value);
            kept.max = kept.max.max(value);
            kept.last = value;
        }
        if let Some(usage) = usage {
            let first = *first_cpu.get_or_insert(usage.cpu_time_ns);
            stats.cpu_time_ns = usage.cpu_time_ns.saturating_sub(first);
            stats.rss_bytes_max = stats.rss_bytes_max.max(usage.rss_bytes);
        }
        let go_sched: Vec<_> = replica
            .schedtrace
            .as_ref()
            .and_then(Output::take_go_sched)
            .unwrap_or_default()
            .into_iter()
            .map(|trace| numaload_proto::v1::GoSchedTrace { t_ms, ..trace })
            .collect();
        for trace in &go_sched {
            stats.go_threads_max = stats.go_threads_max.max(trace.threads);
        }
        alive_max = alive_max.max(gauges.alive_tasks);
        blocking_max = blocking_max.max(gauges.blocking_threads);
        let sample = ThreadSample {
            replica: replica.replica,
            t_ms,
            os_threads,
            cpu_time_ns: usage.map_or(0, |u| u.cpu_time_ns),
            rss_bytes: usage.map_or(0, |u| u.rss_bytes),
            alive_tasks: gauges.alive_tasks,
            global_queue_depth: gauges.global_queue_depth,
            blocking_threads: gauges.blocking_threads,
            inflight_calls: gauges.inflight_calls,
            metrics_probe_ns: scrape
                .as_ref()
                .and_then(|s| s.probe)
                .map_or(-1, |p| p.as_nanos() as i64),
            metrics_probe_timed_out: scrape.as_ref().is_some_and(|s| s.timed_out),
            requests_total: gauges.requests_total,
            server_p99_ns,
            processes,
            scraped: scraped_now,
            sched: sched_rates,
            go_sched,
            tokio: tokio_rates.sample(&gauges),
        };
        let _ = samples.try_send(sample);
    }
    if stats.samples == 0 {
        stats.threads_min = 0;
    }
    stats.alive_tasks_max = alive_max;
    stats.blocking_threads_max = blocking_max;
    stats.scraped = scraped.into_iter().flatten().collect();
    stats.sched_max = sched.max();
    stats
}

/// What one sample reads of a tree.
struct TreeFigures {
    processes: u32,
    os_threads: u32,
    usage: procfs::Usage,
}

/// Processes, threads, CPU time and RSS summed over a tree; `None` when its root is gone.
fn tree_figures(tree: &[ProcEntry]) -> Option<TreeFigures> {
    let root = tree.first()?;
    // One `stat` and one `status` read per process: threads, CPU time and RSS together.
    let usage = procfs::read_usage(root.pid).ok()?;
    let mut figures = TreeFigures {
        processes: 1,
        os_threads: usage.threads,
        usage,
    };
    for process in &tree[1..] {
        // A process that exited between the scan and the read is simply not counted.
        if let Ok(usage) = procfs::read_usage(process.pid) {
            figures.processes += 1;
            figures.os_threads += usage.threads;
            figures.usage.cpu_time_ns += usage.cpu_time_ns;
            figures.usage.rss_bytes += usage.rss_bytes;
        }
    }
    Some(figures)
}

async fn batch(
    layout: String,
    mut samples: mpsc::Receiver<ThreadSample>,
    batches: mpsc::Sender<SampleBatch>,
    per_batch: usize,
) {
    let mut pending = Vec::new();
    while let Some(sample) = samples.recv().await {
        pending.push(sample);
        if pending.len() >= per_batch {
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn samples_this_process_about_every_100ms() {
        let (tx, mut rx) = mpsc::channel(16);
        let replicas = vec![
            Sampled {
                replica: 0,
                pid: std::process::id(),
                metrics: None,
                scrape: Vec::new(),
                schedtrace: None,
            },
            Sampled {
                replica: 1,
                pid: u32::MAX,
                metrics: None,
                scrape: Vec::new(),
                schedtrace: None,
            },
        ];
        let sampler = Sampler::start("l".into(), replicas, tx);
        tokio::time::sleep(Duration::from_millis(1_050)).await;
        let stats = sampler.stop().await;
        assert_eq!(stats.len(), 2);
        assert!(
            (5..=13).contains(&stats[0].samples),
            "{} samples in ~1 s",
            stats[0].samples
        );
        assert!(stats[0].threads_min >= 1 && stats[0].threads_max >= stats[0].threads_min);
        assert!(stats[0].rss_bytes_max > 0, "RSS read from /proc");
        assert_eq!(
            stats[0].alive_tasks_max, -1,
            "no /metrics: missing, not zero"
        );
        assert_eq!(stats[1].samples, 0, "a missing process yields no samples");
        assert!(
            stats[0].sched_max.is_some(),
            "scheduler rates from the second sample on"
        );
        let mut seen = 0;
        while let Ok(batch) = rx.try_recv() {
            assert!(batch.samples.iter().all(|s| s.replica == 0));
            seen += batch.samples.len() as u64;
        }
        assert_eq!(seen, stats[0].samples, "every sample reaches the stream");
    }
}
