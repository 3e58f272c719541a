//! Rates from the difference of two samples, and counters that only grow.
//!
//! The kernel keeps context switches, run-queue wait and migrations per thread, and they vanish
//! with the thread. So differences are taken thread by thread (matched by tid within a process,
//! [`Counts::since`]): a thread new since the last sample counts from zero, one that exited is
//! left out. The [`Tracker`]'s running totals add those differences, so they never go backwards
//! while threads come and go (what a Prometheus counter needs); they start at the first sample's
//! sums.

use std::collections::BTreeMap;
use std::time::Duration;

use super::sample::TreeSample;
use crate::procfs::sched::{Counts, Rates};

/// What happened between two samples of one tree, per thread (by pid and tid), per process
/// and in all.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Delta {
    pub tree: Counts,
    pub by_process: BTreeMap<u32, Counts>,
    pub by_thread: BTreeMap<(u32, u32), Counts>,
}

/// The differences from `prev` to `next`.
pub fn between(prev: &TreeSample, next: &TreeSample) -> Delta {
    let before: BTreeMap<(u32, u32), Counts> = threads(prev).collect();
    let mut delta = Delta::default();
    for (key, now) in threads(next) {
        let d = match before.get(&key) {
            Some(then) => now.since(*then),
            None => now,
        };
        delta.tree.add(d);
        delta.by_process.entry(key.0).or_default().add(d);
        delta.by_thread.insert(key, d);
    }
    delta
}

fn rates_over<K: Ord>(counts: BTreeMap<K, Counts>, elapsed: Duration) -> BTreeMap<K, Rates> {
    counts
        .into_iter()
        .map(|(k, c)| (k, Rates::over(c, elapsed)))
        .collect()
}

fn threads(sample: &TreeSample) -> impl Iterator<Item = ((u32, u32), Counts)> + '_ {
    sample.processes.iter().flat_map(|p| {
        p.thread_details
            .iter()
            .map(move |t| ((p.pid, t.tid), t.counts()))
    })
}

/// One watched tree over time: the last sample, the rates since the one before, running totals.
#[derive(Debug, Clone)]
pub struct Tracker {
    pub last: TreeSample,
    /// `None` until a second sample.
    pub rates: Option<Rates>,
    pub process_rates: BTreeMap<u32, Rates>,
    pub thread_rates: BTreeMap<(u32, u32), Rates>,
    /// Counters since the watch began (the first sample's sums, then every difference added).
    pub totals: Counts,
}

impl Tracker {
    pub fn new(first: TreeSample) -> Tracker {
        let mut totals = Counts::default();
        threads(&first).for_each(|(_, c)| totals.add(c));
        Tracker {
            last: first,
            rates: None,
            process_rates: BTreeMap::new(),
            thread_rates: BTreeMap::new(),
            totals,
        }
    }

    /// Takes `next`, sampled `elapsed` after the last one.
    pub fn update(&mut self, next: TreeSample, elapsed: Duration) {
        let delta = between(&self.last, &next);
        self.totals.add(delta.tree);
        self.rates = Some(Rates::over(delta.tree, elapsed));
        self.process_rates = rates_over(delta.by_process, elapsed);
        self.thread_rates = rates_over(delta.by_thread, elapsed);
        self.last = next;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::procfs::thread::ThreadSample;
    use crate::procfs::tree::ProcEntry;
    use crate::watch::sample::ProcessSample;

    fn thread(tid: u32, switches: u64, run_delay_ns: u64, migrations: Option<u64>) -> ThreadSample {
        ThreadSample {
            tid,
            comm: "t".into(),
            state: 'S',
            cpus_allowed: vec![0],
            last_cpu: Some(0),
            voluntary_ctxt_switches: switches,
            nonvoluntary_ctxt_switches: 0,
            run_delay_ns,
            cpu_time_ns: run_delay_ns,
            migrations,
        }
    }

    fn tree(threads: Vec<ThreadSample>) -> TreeSample {
        let entry = ProcEntry {
            pid: 10,
            ppid: 1,
            pgrp: 10,
            comm: "p".into(),
            start_ticks: 1,
            zombie: false,
        };
        let process = ProcessSample::new(&entry, String::new(), threads, None, None);
        TreeSample::new(vec![process], Err("test".into())).expect("a tree")
    }

    #[test]
    fn differences_go_thread_by_thread() {
        let first = tree(vec![
            thread(10, 100, 5_000_000, Some(3)),
            thread(11, 50, 0, Some(1)),
        ]);
        // Thread 11 exited, 12 is new; 10 went on.
        let second = tree(vec![
            thread(10, 130, 9_000_000, Some(5)),
            thread(12, 20, 1_000_000, None),
        ]);
        let d = between(&first, &second);
        assert_eq!(d.tree.voluntary_ctxt_switches, 30 + 20);
        assert_eq!(d.tree.run_delay_ns, 4_000_000 + 1_000_000);
        assert_eq!(d.tree.migrations, Some(2));
        assert_eq!(d.by_thread[&(10, 12)].voluntary_ctxt_switches, 20);
        assert_eq!(d.by_process[&10], d.tree);

        let mut tracker = Tracker::new(first);
        assert_eq!(tracker.totals.voluntary_ctxt_switches, 150);
        assert_eq!(tracker.rates, None);
        tracker.update(second, Duration::from_millis(500));
        assert_eq!(
            tracker.totals.voluntary_ctxt_switches, 200,
            "never backwards"
        );
        let rates = tracker.rates.expect("rates after two samples");
        assert_eq!(rates.ctxt_switches_per_s, 100.0);
        assert_eq!(rates.run_delay_ms_per_s, 10.0);
        assert_eq!(rates.migrations_per_s, Some(4.0));
        assert_eq!(tracker.thread_rates[&(10, 10)].ctxt_switches_per_s, 60.0);
    }

    #[test]
    fn no_migrations_known_stays_unknown() {
        let a = tree(vec![thread(10, 1, 0, None)]);
        let b = tree(vec![thread(10, 2, 0, None)]);
        assert_eq!(between(&a, &b).tree.migrations, None);
        let rates = Rates::over(between(&a, &b).tree, Duration::from_secs(1));
        assert_eq!(rates.migrations_per_s, None);
    }
}
