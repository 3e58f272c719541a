//! Invariant 4, placement verified: a pure verdict from what `/proc` said about a replica's whole
//! tree to what the layout intended.
//!
//! Every thread of every process must be allowed only CPUs of the replica's set (a subset: a
//! server may narrow a thread, as the ffi target's pinned pool does, but never widen or move it
//! elsewhere), and every process must carry the intended memory policy (a child that dropped
//! it, with `set_mempolicy(MPOL_DEFAULT)` or a reset after fork, is a mismatch). Pages of a bound
//! or interleaved tree that sit on other nodes are counted; beyond [`OFF_NODE_FAIL_SHARE`] of its
//! pages (and at least [`OFF_NODE_FAIL_PAGES`]) they are a mismatch too. Each mismatch names the
//! pid, the tid and what it ran on.

use std::collections::BTreeMap;

use numaload_proto::cpulist;

use crate::placement::NodePolicy;
use crate::procfs;
use crate::procfs::tree::{pages_by_node, ProcessSeen};

/// Pages outside the intended nodes fail the layout above this share of the tree's pages...
pub const OFF_NODE_FAIL_SHARE: f64 = 0.01;
/// ...and above this many pages (1 MiB of 4 KiB pages), so a handful of stray pages never does.
pub const OFF_NODE_FAIL_PAGES: u64 = 256;

/// Where a replica was meant to run.
#[derive(Debug, Clone, Copy)]
pub struct Intended<'a> {
    /// Empty: anywhere.
    pub cpus: &'a [u32],
    pub memory_nodes: &'a [u32],
    pub policy: NodePolicy,
}

/// One thread or process off its placement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    pub pid: u32,
    /// 0 for a process-level mismatch (memory).
    pub tid: u32,
    pub comm: String,
    pub what: String,
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.tid == 0 {
            write!(f, "pid {} ({}): {}", self.pid, self.comm, self.what)
        } else {
            write!(
                f,
                "pid {} tid {} ({}): {}",
                self.pid, self.tid, self.comm, self.what
            )
        }
    }
}

/// The verdict on one replica's tree.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Verdict {
    pub processes: u32,
    pub threads: u32,
    /// Every CPU any thread of the tree may run on.
    pub actual_cpus: Vec<u32>,
    /// The root process's memory policy as numa_maps prints it.
    pub memory_policy: String,
    pub pages_by_node: BTreeMap<u32, u64>,
    pub pages_off_node: u64,
    pub mismatches: Vec<Mismatch>,
}

impl Verdict {
    pub fn ok(&self) -> bool {
        self.mismatches.is_empty() && self.processes > 0
    }
}

/// Judges a tree as read by [`crate::procfs::tree::observe`] (root first).
pub fn verify(intended: Intended<'_>, tree: &[ProcessSeen]) -> Verdict {
    let mut verdict = Verdict {
        processes: tree.len() as u32,
        threads: tree.iter().map(|p| p.threads.len() as u32).sum(),
        memory_policy: tree
            .first()
            .and_then(|p| p.numa.as_ref())
            .map_or_else(|| "unreadable".to_owned(), |m| m.policy.clone()),
        pages_by_node: pages_by_node(tree),
        ..Verdict::default()
    };
    let mut all_cpus = std::collections::BTreeSet::new();
    for process in tree {
        for thread in &process.threads {
            all_cpus.extend(thread.cpus_allowed.iter().copied());
            let outside: Vec<u32> = thread
                .cpus_allowed
                .iter()
                .copied()
                .filter(|c| !intended.cpus.contains(c))
                .collect();
            if !intended.cpus.is_empty() && !outside.is_empty() {
                let last = thread
                    .last_cpu
                    .map_or_else(String::new, |c| format!(", last ran on CPU {c}"));
                verdict.mismatches.push(Mismatch {
                    pid: process.pid,
                    tid: thread.tid,
                    comm: thread.comm.clone(),
                    what: format!(
                        "may run on CPUs {}{last}; intended {} (outside: {})",
                        cpulist::format(&thread.cpus_allowed),
                        cpulist::format(intended.cpus),
                        cpulist::format(&outside)
                    ),
                });
            }
        }
        let Some(numa) = &process.numa else {
            verdict.mismatches.push(Mismatch {
                pid: process.pid,
                tid: 0,
                comm: process.comm.clone(),
                what: "memory policy unreadable (numa_maps)".to_owned(),
            });
            continue;
        };
        if !memory_matches(intended, &numa.policy) {
            verdict.mismatches.push(Mismatch {
                pid: process.pid,
                tid: 0,
                comm: process.comm.clone(),
                what: format!(
                    "memory policy {}; intended {}",
                    numa.policy,
                    intended.policy.describe(intended.memory_nodes)
                ),
            });
        }
    }
    verdict.actual_cpus = all_cpus.into_iter().collect();
    if intended.policy != NodePolicy::Default && !intended.memory_nodes.is_empty() {
        let total: u64 = verdict.pages_by_node.values().sum();
        let off: BTreeMap<u32, u64> = verdict
            .pages_by_node
            .iter()
            .filter(|(node, _)| !intended.memory_nodes.contains(node))
            .map(|(n, p)| (*n, *p))
            .collect();
        verdict.pages_off_node = off.values().sum();
        let share = verdict.pages_off_node as f64 / total.max(1) as f64;
        if verdict.pages_off_node >= OFF_NODE_FAIL_PAGES && share > OFF_NODE_FAIL_SHARE {
            let nodes: Vec<u32> = off.keys().copied().collect();
            let root = tree.first();
            verdict.mismatches.push(Mismatch {
                pid: root.map_or(0, |p| p.pid),
                tid: 0,
                comm: root.map_or_else(String::new, |p| p.comm.clone()),
                what: format!(
                    "{} of the tree's {total} pages ({:.1}%) sit on node(s) {}, outside the \
                     intended {}",
                    verdict.pages_off_node,
                    share * 100.0,
                    cpulist::format(&nodes),
                    cpulist::format(intended.memory_nodes)
                ),
            });
        }
    }
    verdict
}

/// Whether a numa_maps policy is the intended one: `default` for none, else the same mode
/// (`bind`, `interleave`) over exactly the same nodes.
pub fn memory_matches(intended: Intended<'_>, actual: &str) -> bool {
    if intended.memory_nodes.is_empty() || intended.policy == NodePolicy::Default {
        return actual == "default";
    }
    policy_mode(actual) == Some(intended.policy)
        && procfs::policy_nodes(actual) == intended.memory_nodes
}

/// The mode of a numa_maps policy: `default`, `bind:…` and `interleave:…` are the ones numaload
/// sets; anything else (`prefer:1`, `local`, `weighted interleave`, …) is `None`.
pub fn policy_mode(policy: &str) -> Option<NodePolicy> {
    let mode = policy.split_once(':').map_or(policy, |(mode, _)| mode);
    match mode {
        "default" => Some(NodePolicy::Default),
        "bind" => Some(NodePolicy::Bind),
        "interleave" => Some(NodePolicy::Interleave),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::procfs::thread::ThreadSeen;
    use crate::procfs::{parse_numa_maps, policy_nodes, NumaMaps};

    fn thread(tid: u32, cpus: &[u32]) -> ThreadSeen {
        ThreadSeen {
            tid,
            comm: format!("t{tid}"),
            cpus_allowed: cpus.to_vec(),
            last_cpu: cpus.first().copied(),
        }
    }

    fn process(
        pid: u32,
        policy: &str,
        pages: &[(u32, u64)],
        threads: Vec<ThreadSeen>,
    ) -> ProcessSeen {
        ProcessSeen {
            pid,
            ppid: 1,
            comm: format!("p{pid}"),
            threads,
            numa: Some(NumaMaps {
                policy: policy.to_owned(),
                pages_by_node: pages.iter().copied().collect(),
            }),
        }
    }

    const BOUND: Intended<'static> = Intended {
        cpus: &[0, 1],
        memory_nodes: &[0],
        policy: NodePolicy::Bind,
    };

    #[test]
    fn verdicts() {
        struct Case {
            name: &'static str,
            intended: Intended<'static>,
            tree: Vec<ProcessSeen>,
            want: &'static [&'static str],
        }
        let cases = [
            Case {
                name: "a master and two workers, all in place",
                intended: BOUND,
                tree: vec![
                    process(10, "bind:0", &[(0, 500)], vec![thread(10, &[0, 1])]),
                    process(11, "bind:0", &[(0, 100)], vec![thread(11, &[0, 1]), thread(12, &[1])]),
                    process(13, "bind:0", &[(0, 100)], vec![thread(13, &[0, 1])]),
                ],
                want: &[],
            },
            Case {
                name: "a worker thread that moved itself off its CPUs",
                intended: BOUND,
                tree: vec![
                    process(10, "bind:0", &[], vec![thread(10, &[0, 1])]),
                    process(11, "bind:0", &[], vec![thread(11, &[0, 1]), thread(12, &[2, 3])]),
                ],
                want: &["pid 11 tid 12 (t12): may run on CPUs 2-3, last ran on CPU 2; intended 0-1 (outside: 2-3)"],
            },
            Case {
                name: "a child that dropped the memory policy",
                intended: BOUND,
                tree: vec![
                    process(10, "bind:0", &[], vec![thread(10, &[0, 1])]),
                    process(11, "default", &[], vec![thread(11, &[0, 1])]),
                ],
                want: &["pid 11 (p11): memory policy default; intended bind:0"],
            },
            Case {
                name: "pages on another node beyond the threshold",
                intended: BOUND,
                tree: vec![process(10, "bind:0", &[(0, 1000), (1, 300)], vec![thread(10, &[0])])],
                want: &["pid 10 (p10): 300 of the tree's 1300 pages (23.1%) sit on node(s) 1, outside the intended 0"],
            },
            Case {
                name: "a few stray pages are counted, not failed",
                intended: BOUND,
                tree: vec![process(10, "bind:0", &[(0, 100_000), (1, 300)], vec![thread(10, &[0])])],
                want: &[],
            },
            Case {
                name: "unpinned: anything goes but the default policy",
                intended: Intended { cpus: &[], memory_nodes: &[], policy: NodePolicy::Default },
                tree: vec![process(10, "default", &[(0, 5), (1, 5)], vec![thread(10, &[0, 1, 2, 3])])],
                want: &[],
            },
            Case {
                name: "interleave over the wrong nodes",
                intended: Intended { cpus: &[], memory_nodes: &[0, 1], policy: NodePolicy::Interleave },
                tree: vec![process(10, "interleave:0", &[], vec![thread(10, &[0])])],
                want: &["pid 10 (p10): memory policy interleave:0; intended interleave:0-1"],
            },
        ];
        for case in cases {
            let verdict = verify(case.intended, &case.tree);
            let got: Vec<String> = verdict.mismatches.iter().map(ToString::to_string).collect();
            assert_eq!(got, case.want, "{}", case.name);
            assert_eq!(verdict.ok(), case.want.is_empty(), "{}", case.name);
        }
    }

    #[test]
    fn counts_and_figures_cover_the_whole_tree() {
        let tree = vec![
            process(10, "bind:0", &[(0, 10), (1, 2)], vec![thread(10, &[0])]),
            process(
                11,
                "bind:0",
                &[(0, 5)],
                vec![thread(11, &[1]), thread(12, &[1])],
            ),
        ];
        let verdict = verify(BOUND, &tree);
        assert_eq!((verdict.processes, verdict.threads), (2, 3));
        assert_eq!(verdict.actual_cpus, [0, 1]);
        assert_eq!(verdict.pages_by_node, BTreeMap::from([(0, 15), (1, 2)]));
        assert_eq!(verdict.pages_off_node, 2);
        assert_eq!(verdict.memory_policy, "bind:0");
        assert!(
            !verify(BOUND, &[]).ok(),
            "an empty tree (the replica is gone) is not ok"
        );
    }

    #[test]
    fn policy_mode_reads_the_kind() {
        assert_eq!(policy_mode("bind:2"), Some(NodePolicy::Bind));
        assert_eq!(policy_mode("interleave:0-3"), Some(NodePolicy::Interleave));
        assert_eq!(policy_mode("default"), Some(NodePolicy::Default));
        assert_eq!(policy_mode("prefer (many):0,2"), None);
        assert_eq!(policy_mode("prefer:1"), None);
        assert_eq!(policy_mode("weighted interleave:0-1"), None);
        let maps = parse_numa_maps(
            "7f0000000000 interleave:0-3 heap anon=8 N0=2 N1=2 N2=2 N3=2\n\
             7f0000100000 interleave:0-3 anon=4 N0=1 N1=1 N2=1 N3=1\n",
        );
        assert_eq!(maps.policy, "interleave:0-3");
        assert_eq!(policy_mode(&maps.policy), Some(NodePolicy::Interleave));
        assert_eq!(policy_nodes(&maps.policy), vec![0, 1, 2, 3]);
    }
}
