//! The watch as Prometheus text (`numaload watch --metrics-listen`): one series per watched tree,
//! labelled `pid` (the watched process) and `comm` (its name).
//!
//! `process_threads` is the series the shipped alert rule `NumaloadManyOsThreads`
//! (`deploy/prometheus/numaload-rules.yml`) reads, with the same meaning as the target's and the
//! agent's (all OS threads, here of the whole tree), so the rule works on a watched process
//! unchanged. Counters (`_total`) are the [`Tracker`]'s running totals: they never go backwards
//! while threads come and go.
//!
//! The families are gathered from the trackers first (`Family`, plain data), then written by
//! the Prometheus project's `prometheus-client` encoder, as the agent's own `/metrics` is.

use std::fmt;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

use super::delta::Tracker;
use crate::metrics::{counter_base, Value};

/// The exposition text for every tracker.
#[allow(
    clippy::too_many_lines,
    reason = "one exposition page, metric after metric"
)]
pub fn render(trackers: &[&Tracker]) -> String {
    let mut out = Families::default();
    let gauge = |f: fn(&Tracker) -> Option<f64>| {
        move |t: &Tracker| f(t).map(|v| (None, v)).into_iter().collect()
    };
    family(
        &mut out,
        trackers,
        "process_threads",
        "gauge",
        "OS threads of the watched process and its whole tree.",
        gauge(|t| Some(f64::from(t.last.threads))),
    );
    family(
        &mut out,
        trackers,
        "numaload_watch_threads",
        "gauge",
        "Threads of the tree by state (running: R, runnable or on a CPU).",
        |t: &Tracker| {
            let b = &t.last.threads_by_state;
            [
                ("running", b.running),
                ("sleeping", b.sleeping),
                ("uninterruptible", b.uninterruptible),
                ("other", b.other),
            ]
            .into_iter()
            .map(|(state, n)| (Some(("state", state.to_owned())), f64::from(n)))
            .collect()
        },
    );
    family(
        &mut out,
        trackers,
        "numaload_watch_processes",
        "gauge",
        "Processes in the tree.",
        gauge(|t| Some(t.last.processes.len() as f64)),
    );
    family(
        &mut out,
        trackers,
        "numaload_watch_cpus_allowed",
        "gauge",
        "CPUs some thread of the tree may run on.",
        gauge(|t| Some(t.last.cpus_allowed.len() as f64)),
    );
    family(
        &mut out,
        trackers,
        "numaload_watch_cpu_seconds_total",
        "counter",
        "CPU time of the tree's threads (schedstat), since the watch began.",
        gauge(|t| Some(t.totals.cpu_time_ns as f64 / 1e9)),
    );
    family(
        &mut out,
        trackers,
        "numaload_watch_run_delay_seconds_total",
        "counter",
        "Time the tree's threads spent runnable, waiting for a CPU (schedstat).",
        gauge(|t| Some(t.totals.run_delay_ns as f64 / 1e9)),
    );
    family(
        &mut out,
        trackers,
        "numaload_watch_context_switches_total",
        "counter",
        "Context switches of the tree's threads, by kind.",
        |t: &Tracker| {
            vec![
                (
                    Some(("kind", "voluntary".to_owned())),
                    t.totals.voluntary_ctxt_switches as f64,
                ),
                (
                    Some(("kind", "nonvoluntary".to_owned())),
                    t.totals.nonvoluntary_ctxt_switches as f64,
                ),
            ]
        },
    );
    family(&mut out, trackers, "numaload_watch_migrations_total", "counter",
        "Moves of the tree's threads to another CPU (sched se.nr_migrations; absent when the kernel does not show it).",
        gauge(|t| t.totals.migrations.map(|m| m as f64)));
    family(
        &mut out,
        trackers,
        "numaload_watch_resident_memory_bytes",
        "gauge",
        "Resident memory of the tree's processes (VmRSS summed).",
        gauge(|t| Some(t.last.rss_bytes as f64)),
    );
    family(
        &mut out,
        trackers,
        "numaload_watch_anon_pages",
        "gauge",
        "Resident anonymous pages of the tree per NUMA node (numa_maps).",
        |t: &Tracker| {
            t.last
                .pages_by_node
                .iter()
                .map(|(node, pages)| (Some(("node", node.to_string())), *pages as f64))
                .collect()
        },
    );
    family(
        &mut out,
        trackers,
        "numaload_watch_cpu_quota_cpus",
        "gauge",
        "The tightest cgroup CPU quota of the watched process, in CPUs (absent when unlimited).",
        gauge(|t| t.last.cpu_quota_cpus),
    );
    family(
        &mut out,
        trackers,
        "numaload_watch_oversubscribed",
        "gauge",
        "1 when the tree's threads are 2x or more its cgroup CPU quota (the target's warning).",
        gauge(|t| Some(if t.last.warning.is_some() { 1.0 } else { 0.0 })),
    );
    let mut registry = Registry::default();
    registry.register_collector(Box::new(out));
    crate::metrics::encode(&registry)
}

/// A label beyond `pid` and `comm`: its name and value.
type Extra = Option<(&'static str, String)>;

/// One metric family, gathered: its name, help, type and labelled samples.
#[derive(Debug)]
struct Family {
    name: &'static str,
    help: &'static str,
    kind: MetricType,
    /// The labels (`pid`, `comm`, then any extra) and the value of each sample.
    samples: Vec<(Vec<(&'static str, String)>, f64)>,
}

/// Every family of one page, in order; the collector that writes them.
#[derive(Debug, Default)]
struct Families(Vec<Family>);

/// Gathers one metric family: each tracker's samples, labelled with its pid and comm.
fn family(
    out: &mut Families,
    trackers: &[&Tracker],
    name: &'static str,
    kind: &str,
    help: &'static str,
    samples: impl Fn(&Tracker) -> Vec<(Extra, f64)>,
) {
    let kind = match kind {
        "counter" => MetricType::Counter,
        _ => MetricType::Gauge,
    };
    let mut gathered = Vec::new();
    for t in trackers {
        for (extra, value) in samples(t) {
            let mut labels = vec![
                ("pid", t.last.pid.to_string()),
                ("comm", t.last.comm.clone()),
            ];
            labels.extend(extra);
            gathered.push((labels, value));
        }
    }
    out.0.push(Family {
        name,
        help,
        kind,
        samples: gathered,
    });
}

impl Collector for Families {
    fn encode(&self, mut out: DescriptorEncoder<'_>) -> fmt::Result {
        for f in &self.0 {
            let name = match f.kind {
                MetricType::Counter => counter_base(f.name),
                _ => f.name,
            };
            let mut encoder = out.encode_descriptor(name, f.help, None, f.kind)?;
            for (labels, value) in &f.samples {
                let sample = encoder.encode_family(labels)?;
                match f.kind {
                    MetricType::Counter => ConstCounter::new(Value(*value)).encode(sample)?,
                    _ => ConstGauge::new(Value(*value)).encode(sample)?,
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::procfs::thread::ThreadSample;
    use crate::procfs::tree::ProcEntry;
    use crate::watch::sample::{ProcessSample, TreeSample};

    fn tracker(comm: &str, migrations: Option<u64>) -> Tracker {
        let thread = ThreadSample {
            tid: 9,
            comm: comm.into(),
            state: 'D',
            cpus_allowed: vec![0, 1],
            last_cpu: None,
            voluntary_ctxt_switches: 5,
            nonvoluntary_ctxt_switches: 6,
            run_delay_ns: 1_500_000_000,
            cpu_time_ns: 2_000_000_000,
            migrations,
        };
        let entry = ProcEntry {
            pid: 9,
            ppid: 1,
            pgrp: 9,
            comm: comm.into(),
            start_ticks: 1,
            zombie: false,
        };
        let mut p = ProcessSample::new(&entry, String::new(), vec![thread], None, None);
        p.pages_by_node = [(1, 42)].into();
        Tracker::new(TreeSample::new(vec![p], Ok(("/".into(), None))).expect("tree"))
    }

    #[test]
    fn series_carry_pid_and_comm_and_units() {
        let text = render(&[&tracker("a \"b\"\\", Some(3))]);
        let l = "pid=\"9\",comm=\"a \\\"b\\\"\\\\\"";
        for line in [
            "# TYPE process_threads gauge\n".to_owned(),
            format!("process_threads{{{l}}} 1\n"),
            format!("numaload_watch_threads{{{l},state=\"uninterruptible\"}} 1\n"),
            format!("numaload_watch_run_delay_seconds_total{{{l}}} 1.5\n"),
            format!("numaload_watch_cpu_seconds_total{{{l}}} 2\n"),
            format!("numaload_watch_context_switches_total{{{l},kind=\"nonvoluntary\"}} 6\n"),
            format!("numaload_watch_migrations_total{{{l}}} 3\n"),
            format!("numaload_watch_anon_pages{{{l},node=\"1\"}} 42\n"),
            format!("numaload_watch_oversubscribed{{{l}}} 0\n"),
        ] {
            assert!(text.contains(&line), "{line} not in\n{text}");
        }
        assert!(
            !text.contains("numaload_watch_cpu_quota_cpus{"),
            "unlimited: no sample"
        );
        let without = render(&[&tracker("x", None)]);
        assert!(
            !without.contains("numaload_watch_migrations_total{"),
            "{without}"
        );
    }
}
