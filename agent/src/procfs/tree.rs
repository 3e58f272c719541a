//! A replica's whole process tree, read from `/proc`: the replica, everything it forked (nginx's
//! master and workers, a pre-fork server, a shell wrapper's server), every thread of each.
//!
//! [`scan`] reads the process table once (`/proc/*/stat`: pid, parent, process group); the
//! sampler shares one scan among all replicas of a tick, since this kernel has no
//! `/proc/PID/task/TID/children`. [`tree_of`] is pure: the root, its descendants by parent, and
//! the members of its process group (a replica leads its own group, so a child whose parent
//! exited is still found) with their descendants. [`observe`] reads each thread's allowed CPUs
//! and the CPU it last ran on, and each process's memory policy and pages: what the placement
//! verdict judges.

use std::collections::{BTreeMap, BTreeSet};

use super::thread::{self, ThreadSeen};
use super::{NumaMaps, ProcError};

/// One line of the process table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcEntry {
    pub pid: u32,
    pub ppid: u32,
    pub pgrp: u32,
    pub comm: String,
    /// A zombie: it exited and waits for its parent to reap it (nothing of it runs any more).
    pub zombie: bool,
    /// When it started (clock ticks after boot): with the pid, names this process and no later
    /// one that reuses the number.
    pub start_ticks: u64,
}

/// Every process on the host, as `/proc` lists it now.
pub fn scan() -> Vec<ProcEntry> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            parse_stat(&stat)
        })
        .collect()
}

/// The process `pid` as the table names it, from its `stat` (with its start time, so a later
/// process reusing the pid is not mistaken for it).
pub fn read_entry(pid: u32) -> Result<ProcEntry, ProcError> {
    let path = format!("/proc/{pid}/stat");
    let stat = super::read(&path)?;
    parse_stat(&stat).ok_or(ProcError::Missing {
        path,
        field: "pid, comm, state, ppid, pgrp",
    })
}

/// `/proc/PID/stat`: pid, comm (which may hold spaces and parentheses), state, ppid, pgrp,
/// start time.
pub fn parse_stat(stat: &str) -> Option<ProcEntry> {
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let pid = stat[..open].trim().parse().ok()?;
    let comm = stat.get(open + 1..close)?.to_owned();
    let mut rest = stat[close + 1..].split_whitespace();
    let zombie = rest.next()? == "Z";
    let ppid = rest.next()?.parse().ok()?;
    let pgrp = rest.next()?.parse().ok()?;
    // Field 22; the iterator stands at field 6 now.
    let start_ticks = rest.nth(22 - 6).and_then(|v| v.parse().ok()).unwrap_or(0);
    Some(ProcEntry {
        pid,
        ppid,
        pgrp,
        comm,
        zombie,
        start_ticks,
    })
}

/// The processes of `root`'s tree in `table`, root first, then by pid; zombies are left out
/// (they have exited: no thread, no memory, nothing to verify or stop). Empty when the root is
/// not in the table or is a zombie itself (it exited).
pub fn tree_of(root: u32, table: &[ProcEntry]) -> Vec<ProcEntry> {
    if !table.iter().any(|p| p.pid == root && !p.zombie) {
        return Vec::new();
    }
    let mut members: BTreeSet<u32> = BTreeSet::from([root]);
    members.extend(table.iter().filter(|p| p.pgrp == root).map(|p| p.pid));
    // Descendants by parent, to a fixed point (a tree is at most as deep as the table is long).
    loop {
        let children: Vec<u32> = table
            .iter()
            .filter(|p| members.contains(&p.ppid) && !members.contains(&p.pid))
            .map(|p| p.pid)
            .collect();
        if children.is_empty() {
            break;
        }
        members.extend(children);
    }
    let mut tree: Vec<ProcEntry> = table
        .iter()
        .filter(|p| members.contains(&p.pid) && !p.zombie)
        .cloned()
        .collect();
    tree.sort_by_key(|p| (p.pid != root, p.pid));
    tree
}

/// A process as read back, with all its threads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessSeen {
    pub pid: u32,
    pub ppid: u32,
    pub comm: String,
    pub threads: Vec<ThreadSeen>,
    /// `None` when numa_maps could not be read (the process exited meanwhile, or no permission).
    pub numa: Option<NumaMaps>,
}

/// Reads every thread of every process in `tree`; a process that exited meanwhile is left out.
pub fn observe(tree: &[ProcEntry]) -> Vec<ProcessSeen> {
    tree.iter()
        .filter_map(|p| {
            let threads = thread::threads_of(p.pid);
            if threads.is_empty() {
                return None;
            }
            Some(ProcessSeen {
                pid: p.pid,
                ppid: p.ppid,
                comm: p.comm.clone(),
                threads,
                numa: super::read_numa_maps(p.pid).ok(),
            })
        })
        .collect()
}

/// Pages per node summed over the processes of a tree.
pub fn pages_by_node(processes: &[ProcessSeen]) -> BTreeMap<u32, u64> {
    let mut pages = BTreeMap::new();
    for numa in processes.iter().filter_map(|p| p.numa.as_ref()) {
        for (node, count) in &numa.pages_by_node {
            *pages.entry(*node).or_default() += count;
        }
    }
    pages
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(pid: u32, ppid: u32, pgrp: u32) -> ProcEntry {
        ProcEntry {
            pid,
            ppid,
            pgrp,
            comm: format!("p{pid}"),
            zombie: false,
            start_ticks: 0,
        }
    }

    #[test]
    fn the_tree_holds_descendants_and_the_group() {
        let table = [
            entry(1, 0, 1),
            entry(100, 1, 100),   // the replica, leading its group
            entry(101, 100, 100), // a worker
            entry(102, 101, 100), // a worker's child
            entry(103, 1, 100),   // in the group, its parent (the replica's child) exited
            entry(104, 103, 104), // its child, in a group of its own
            entry(200, 1, 200),   // unrelated
            entry(201, 200, 200),
            ProcEntry {
                zombie: true,
                ..entry(105, 100, 100) // exited, not reaped yet
            },
        ];
        let pids = |root| {
            tree_of(root, &table)
                .iter()
                .map(|p| p.pid)
                .collect::<Vec<_>>()
        };
        assert_eq!(pids(100), [100, 101, 102, 103, 104]);
        assert_eq!(pids(101), [101, 102], "a subtree, not the group it is in");
        assert_eq!(pids(999), Vec::<u32>::new(), "an exited root has no tree");
    }

    #[test]
    fn stat_lines_with_odd_names_parse() {
        let stat = "4242 (nginx: worker (1)) S 4240 4240 4240 0 -1 4194560 300 0 0 0 \
                    170 30 0 0 20 0 9 0 123456 1000 50";
        assert_eq!(
            parse_stat(stat),
            Some(ProcEntry {
                pid: 4242,
                ppid: 4240,
                pgrp: 4240,
                comm: "nginx: worker (1)".into(),
                zombie: false,
                start_ticks: 123456,
            })
        );
        assert_eq!(parse_stat("garbage"), None);
    }

    #[test]
    fn this_process_is_its_own_tree_with_every_thread() {
        let own = std::process::id();
        let tree = tree_of(own, &scan());
        assert_eq!(tree.first().map(|p| p.pid), Some(own));
        let seen = observe(&tree[..1]);
        let threads = &seen[0].threads;
        assert!(threads.iter().any(|t| t.tid == own), "{threads:?}");
        assert!(threads.iter().all(|t| !t.cpus_allowed.is_empty()));
    }
}
