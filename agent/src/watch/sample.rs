//! One look at a watched process tree: each process's threads as `/proc` gave them
//! ([`ThreadSample`]), counted by state and summed per process and over the tree. Pure: the
//! readers are [`crate::procfs`]'s, called by the watch's `look`.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::procfs::thread::ThreadSample;
use crate::procfs::tree::ProcEntry;
use crate::procfs::{NumaMaps, Usage};

/// Threads counted by the state letter of `stat` field 3.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ThreadsByState {
    /// `R`: running or runnable (waiting in a run queue).
    pub running: u32,
    /// `S`: sleeping, interruptible (waiting for I/O, a lock, a timer).
    pub sleeping: u32,
    /// `D`: uninterruptible (usually disk or a page fault).
    pub uninterruptible: u32,
    /// Anything else: stopped `T`/`t`, zombie `Z`, dead `X`, idle `I`, ...
    pub other: u32,
}

impl ThreadsByState {
    pub fn count(&mut self, state: char) {
        match state {
            'R' => self.running += 1,
            'S' => self.sleeping += 1,
            'D' => self.uninterruptible += 1,
            _ => self.other += 1,
        }
    }

    pub fn add(&mut self, other: &ThreadsByState) {
        self.running += other.running;
        self.sleeping += other.sleeping;
        self.uninterruptible += other.uninterruptible;
        self.other += other.other;
    }
}

/// A process of the tree with all its threads.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProcessSample {
    pub pid: u32,
    pub ppid: u32,
    pub comm: String,
    /// The command line, arguments separated by spaces.
    pub cmdline: String,
    pub threads: u32,
    pub threads_by_state: ThreadsByState,
    /// Every CPU some thread may run on.
    pub cpus_allowed: Vec<u32>,
    /// User plus system time of the whole process (threads that exited included).
    pub cpu_time_ns: u64,
    pub rss_bytes: u64,
    /// The dominant memory policy of `numa_maps`; `None` when it could not be read.
    pub numa_policy: Option<String>,
    /// Resident anonymous pages per NUMA node (file pages left out, as in [`NumaMaps`]).
    pub pages_by_node: BTreeMap<u32, u64>,
    pub run_delay_ns: u64,
    pub voluntary_ctxt_switches: u64,
    pub nonvoluntary_ctxt_switches: u64,
    pub migrations: Option<u64>,
    pub thread_details: Vec<ThreadSample>,
}

/// A watched process and its whole tree, summed, with its cgroup's CPU quota.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TreeSample {
    /// The watched process (the root of the tree).
    pub pid: u32,
    pub comm: String,
    pub cmdline: String,
    pub threads: u32,
    pub threads_by_state: ThreadsByState,
    pub cpus_allowed: Vec<u32>,
    pub cpu_time_ns: u64,
    pub rss_bytes: u64,
    pub pages_by_node: BTreeMap<u32, u64>,
    pub run_delay_ns: u64,
    pub voluntary_ctxt_switches: u64,
    pub nonvoluntary_ctxt_switches: u64,
    /// `None` when no thread's `sched` file was readable.
    pub migrations: Option<u64>,
    /// The root's cgroup (path in the hierarchy with the cpu controller), or why it is unknown.
    pub cgroup: String,
    /// The tightest CPU quota on the cgroup's path, in CPUs; `None` when unlimited or unknown.
    pub cpu_quota_cpus: Option<f64>,
    /// The target's over-subscription warning when the tree's threads are 2x or more the quota.
    pub warning: Option<String>,
    /// The tree, root first.
    pub processes: Vec<ProcessSample>,
}

/// A sum of optional counters: `None` only when none is known.
fn sum_known(values: impl Iterator<Item = Option<u64>>) -> Option<u64> {
    values.fold(None, |acc, v| match (acc, v) {
        (None, v) => v,
        (acc, None) => acc,
        (Some(a), Some(b)) => Some(a + b),
    })
}

impl ProcessSample {
    /// A process from its table entry, command line, threads and (when readable) usage and pages.
    pub fn new(
        entry: &ProcEntry,
        cmdline: String,
        thread_details: Vec<ThreadSample>,
        usage: Option<Usage>,
        numa: Option<NumaMaps>,
    ) -> ProcessSample {
        let mut threads_by_state = ThreadsByState::default();
        let mut cpus = BTreeSet::new();
        for t in &thread_details {
            threads_by_state.count(t.state);
            cpus.extend(t.cpus_allowed.iter().copied());
        }
        let sum = |f: fn(&ThreadSample) -> u64| thread_details.iter().map(f).sum();
        ProcessSample {
            pid: entry.pid,
            ppid: entry.ppid,
            comm: entry.comm.clone(),
            cmdline,
            threads: thread_details.len() as u32,
            threads_by_state,
            cpus_allowed: cpus.into_iter().collect(),
            cpu_time_ns: usage.map_or(0, |u| u.cpu_time_ns),
            rss_bytes: usage.map_or(0, |u| u.rss_bytes),
            numa_policy: numa.as_ref().map(|n| n.policy.clone()),
            pages_by_node: numa.map(|n| n.pages_by_node).unwrap_or_default(),
            run_delay_ns: sum(|t| t.run_delay_ns),
            voluntary_ctxt_switches: sum(|t| t.voluntary_ctxt_switches),
            nonvoluntary_ctxt_switches: sum(|t| t.nonvoluntary_ctxt_switches),
            migrations: sum_known(thread_details.iter().map(|t| t.migrations)),
            thread_details,
        }
    }

    /// Exited: no thread left, or only zombie/dead ones (a leader that called `pthread_exit` is a
    /// zombie while its other threads run, so one live thread keeps the process alive).
    pub fn exited(&self) -> bool {
        self.thread_details
            .iter()
            .all(|t| matches!(t.state, 'Z' | 'X' | 'x'))
    }
}

impl TreeSample {
    /// The tree's totals from its processes (root first) and the root's cgroup quota (`Err`: why
    /// it could not be read). `None` when `processes` is empty.
    pub fn new(
        processes: Vec<ProcessSample>,
        cgroup: Result<(String, Option<f64>), String>,
    ) -> Option<TreeSample> {
        let root = processes.first()?;
        let mut threads_by_state = ThreadsByState::default();
        let mut cpus = BTreeSet::new();
        let mut pages_by_node: BTreeMap<u32, u64> = BTreeMap::new();
        for p in &processes {
            threads_by_state.add(&p.threads_by_state);
            cpus.extend(p.cpus_allowed.iter().copied());
            for (node, pages) in &p.pages_by_node {
                *pages_by_node.entry(*node).or_default() += pages;
            }
        }
        let threads = processes.iter().map(|p| p.threads).sum::<u32>();
        let sum = |f: fn(&ProcessSample) -> u64| processes.iter().map(f).sum();
        let (cgroup, cpu_quota_cpus) = match cgroup {
            Ok((path, quota)) => (path, quota),
            Err(why) => (format!("unknown ({why})"), None),
        };
        let warning = cpu_quota_cpus
            .and_then(|cpus| numaload_cgroup::oversubscription_warning(threads as usize, cpus));
        Some(TreeSample {
            pid: root.pid,
            comm: root.comm.clone(),
            cmdline: root.cmdline.clone(),
            threads,
            threads_by_state,
            cpus_allowed: cpus.into_iter().collect(),
            cpu_time_ns: sum(|p| p.cpu_time_ns),
            rss_bytes: sum(|p| p.rss_bytes),
            pages_by_node,
            run_delay_ns: sum(|p| p.run_delay_ns),
            voluntary_ctxt_switches: sum(|p| p.voluntary_ctxt_switches),
            nonvoluntary_ctxt_switches: sum(|p| p.nonvoluntary_ctxt_switches),
            migrations: sum_known(processes.iter().map(|p| p.migrations)),
            cgroup,
            cpu_quota_cpus,
            warning,
            processes,
        })
    }
}

#[cfg(test)]
#[path = "sample_tests.rs"]
mod tests;
