//! `numaload watch`: any running process and its whole tree, seen from `/proc` without restarting
//! or touching it.
//!
//! - [`crate::procfs`] reads every file: the process table and the tree ([`procfs::tree`]), each
//!   thread's `status`, `stat`, `schedstat` and `sched` ([`ThreadSample`]), a process's CPU
//!   time, RSS, `numa_maps` and command line.
//! - [`sample`]: the data of one look ([`TreeSample`] → [`ProcessSample`] → [`ThreadSample`]),
//!   threads counted by state and summed per process and over the tree.
//! - [`delta`]: rates from the difference of two looks, thread by thread, and running totals
//!   that never go backwards ([`Tracker`]).
//! - [`view`] (the terminal text) and [`metrics`] (Prometheus text) render trackers.
//! - This file: [`find`] a pid, [`find_by_name`], and [`look`] at a tree.
//!
//! The tree is [`tree::tree_of`]'s: the process, its descendants, and the members of its
//! process group when it leads one. A process has exited when it is gone from the process table,
//! its pid now names a later process (another start time), or only zombie threads are left.

pub mod delta;
pub mod metrics;
pub mod sample;
pub mod view;

use std::io;

pub use delta::Tracker;
pub use sample::{ProcessSample, ThreadsByState, TreeSample};

use crate::procfs::thread::{self, ThreadSample};
use crate::procfs::tree::{self, ProcEntry};
use crate::procfs::{self, ProcError};

/// At most this many processes are watched from one `--name`.
pub const MAX_MATCHES: usize = 64;

/// Why a watch cannot start.
#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    #[error("pid {0}: no such process")]
    NoSuchProcess(u32),
    #[error("pid {0}: already exited (a zombie its parent has not reaped)")]
    Zombie(u32),
    #[error("pid {pid}: cannot read {path}: {source}")]
    Unreadable {
        pid: u32,
        path: String,
        source: io::Error,
    },
    #[error("--name {pattern:?}: not a valid regular expression: {why}")]
    BadPattern { pattern: String, why: String },
    #[error("--name {0:?}: no running process matches")]
    NoMatch(String),
    #[error("--name {pattern:?}: {count} processes match, more than {MAX_MATCHES}: narrow it")]
    TooMany { pattern: String, count: usize },
}

/// The process `pid` as the table names it (with its start time, so a later process reusing
/// the pid is not mistaken for it), after checking that its threads can be read.
pub fn find(pid: u32) -> Result<ProcEntry, WatchError> {
    let unreadable = |error: ProcError| match error {
        ProcError::Read { path, source } => WatchError::Unreadable { pid, path, source },
        ProcError::Missing { path, .. } => WatchError::Unreadable {
            pid,
            path,
            source: io::Error::new(io::ErrorKind::InvalidData, "unexpected content"),
        },
    };
    let entry = tree::read_entry(pid).map_err(|error| match error {
        ProcError::Read { source, .. } if source.kind() == io::ErrorKind::NotFound => {
            WatchError::NoSuchProcess(pid)
        }
        error => unreadable(error),
    })?;
    if entry.zombie {
        return Err(WatchError::Zombie(pid));
    }
    thread::threads_readable(pid).map_err(unreadable)?;
    Ok(entry)
}

/// Whether a process's name (`comm`) or command line matches `pattern`.
pub fn name_matches(pattern: &regex::Regex, comm: &str, cmdline: &str) -> bool {
    pattern.is_match(comm) || pattern.is_match(cmdline)
}

/// Every live process whose name or command line matches the regular expression `pattern`,
/// except `exclude` (the watcher itself), by pid.
pub fn find_by_name(pattern: &str, exclude: u32) -> Result<Vec<ProcEntry>, WatchError> {
    let re = regex::Regex::new(pattern).map_err(|e| WatchError::BadPattern {
        pattern: pattern.to_owned(),
        why: e.to_string(),
    })?;
    let mut found: Vec<ProcEntry> = tree::scan()
        .into_iter()
        .filter(|p| p.pid != exclude)
        .filter(|p| name_matches(&re, &p.comm, &read_cmdline(p.pid)))
        .filter(|p| find(p.pid).is_ok())
        .collect();
    found.sort_by_key(|p| p.pid);
    match found.len() {
        0 => Err(WatchError::NoMatch(pattern.to_owned())),
        count if count > MAX_MATCHES => Err(WatchError::TooMany {
            pattern: pattern.to_owned(),
            count,
        }),
        _ => Ok(found),
    }
}

/// One look at `root`'s tree in the process table `table` ([`tree::scan`], shared by every
/// watched tree of a refresh); `None` when the root has exited.
pub fn look(root: &ProcEntry, table: &[ProcEntry]) -> Option<TreeSample> {
    let alive = table
        .iter()
        .any(|p| p.pid == root.pid && p.start_ticks == root.start_ticks);
    if !alive {
        return None;
    }
    let processes: Vec<ProcessSample> = tree::tree_of(root.pid, table)
        .iter()
        .filter_map(read_process)
        .collect();
    if processes.first().is_none_or(|p| p.pid != root.pid) {
        return None;
    }
    let cgroup = crate::cgroup::limits_of(root.pid)
        .map(|l| (l.path, l.cpu_quota_cpus))
        .map_err(|e| e.to_string());
    TreeSample::new(processes, cgroup)
}

/// A process and all its threads; `None` when it has exited (or turned zombie) meanwhile.
fn read_process(entry: &ProcEntry) -> Option<ProcessSample> {
    let pid = entry.pid;
    let mut threads: Vec<ThreadSample> = procfs::tids(pid)?
        .filter_map(|tid| thread::read_sample(pid, tid))
        .collect();
    threads.sort_by_key(|t| t.tid);
    let process = ProcessSample::new(
        entry,
        read_cmdline(pid),
        threads,
        procfs::read_usage(pid).ok(),
        procfs::read_numa_maps(pid).ok(),
    );
    (!process.exited()).then_some(process)
}

fn read_cmdline(pid: u32) -> String {
    procfs::read_cmdline(pid).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_comm_or_command_line() {
        let re = regex::Regex::new("^nginx|spin\\.py").expect("regex");
        assert!(name_matches(&re, "nginx", "nginx: master process"));
        assert!(name_matches(&re, "python3", "python3 /tmp/spin.py"));
        assert!(!name_matches(&re, "python3", "python3 /tmp/spinXpy"));
    }

    #[test]
    fn this_process_is_watched_with_every_thread() {
        let own = std::process::id();
        let root = find(own).expect("own process");
        let tree = look(&root, &tree::scan()).expect("alive");
        assert_eq!(tree.pid, own);
        let status = procfs::read_status(own).expect("status");
        assert_eq!(
            tree.processes[0].threads,
            tree.processes[0].thread_details.len() as u32
        );
        assert!(tree.processes[0].threads >= 1);
        assert_eq!(tree.cpus_allowed, status.cpus_allowed);
        assert!(tree.threads_by_state.running >= 1, "this thread runs");
        assert!(tree.rss_bytes > 0);
        let on_cpu: u64 = tree.processes[0]
            .thread_details
            .iter()
            .map(|t| t.cpu_time_ns)
            .sum();
        assert!(on_cpu > 0, "schedstat CPU time");
        let later = ProcEntry {
            start_ticks: root.start_ticks + 1,
            ..root
        };
        assert_eq!(look(&later, &tree::scan()), None, "a reused pid");
    }

    #[test]
    fn a_missing_pid_is_named() {
        let err = find(u32::MAX).expect_err("no such pid");
        assert_eq!(
            err.to_string(),
            format!("pid {}: no such process", u32::MAX)
        );
        assert!(matches!(
            find_by_name("(", 0),
            Err(WatchError::BadPattern { .. })
        ));
        assert!(matches!(
            find_by_name("^no process is called this$", 0),
            Err(WatchError::NoMatch(_))
        ));
    }
}
