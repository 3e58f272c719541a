//! Trees summed from threads read from the real files of `crate::procfs`'s test data: a Python
//! process with a thread spinning and one sleeping.

use super::*;
use crate::procfs::testdata::*;
use crate::procfs::thread::parse_sample;

fn entry(pid: u32, ppid: u32) -> ProcEntry {
    ProcEntry {
        pid,
        ppid,
        pgrp: 1,
        comm: "python3".into(),
        start_ticks: 1,
        zombie: false,
    }
}

fn threads() -> Vec<ThreadSample> {
    let running = parse_sample(
        25585,
        RUNNING_STATUS,
        RUNNING_STAT,
        Some(RUNNING_SCHEDSTAT),
        Some(RUNNING_SCHED),
    );
    let sleeping = parse_sample(
        25586,
        SLEEPING_STATUS,
        SLEEPING_STAT,
        Some(SLEEPING_SCHEDSTAT),
        None,
    );
    running.into_iter().chain(sleeping).collect()
}

#[test]
fn a_tree_sums_its_processes_and_warns_over_twice_the_quota() {
    let numa = crate::procfs::parse_numa_maps(NUMA_MAPS);
    let usage = Usage {
        cpu_time_ns: 600_000_000,
        rss_bytes: 13_000_000,
        threads: 2,
    };
    let root = ProcessSample::new(
        &entry(25541, 1),
        "python3 /tmp/spin.py".into(),
        threads(),
        Some(usage),
        Some(numa),
    );
    assert_eq!(root.pages_by_node, BTreeMap::from([(0, 1364)]));
    assert_eq!(root.numa_policy.as_deref(), Some("default"));
    assert_eq!(root.migrations, Some(0), "one thread had no sched file");
    let child = ProcessSample::new(&entry(25600, 25541), String::new(), threads(), None, None);
    let tree = TreeSample::new(vec![root, child], Ok(("/".into(), Some(1.5)))).expect("a tree");
    assert_eq!(tree.pid, 25541);
    assert_eq!(tree.threads, 4);
    let by_state = ThreadsByState {
        running: 2,
        sleeping: 2,
        ..ThreadsByState::default()
    };
    assert_eq!(tree.threads_by_state, by_state);
    assert_eq!(tree.cpus_allowed, [0, 1]);
    assert_eq!(tree.pages_by_node, BTreeMap::from([(0, 1364)]));
    assert_eq!(tree.nonvoluntary_ctxt_switches, 2 * (168 + 3));
    assert_eq!(tree.rss_bytes, 13_000_000);
    assert_eq!(
        tree.warning.as_deref(),
        numaload_cgroup::oversubscription_warning(4, 1.5).as_deref()
    );
    assert!(tree.warning.is_some());
    let calm = TreeSample::new(tree.processes[..1].to_vec(), Ok(("/".into(), Some(1.5))));
    assert_eq!(calm.and_then(|t| t.warning), None, "2 threads on 1.5 CPUs");
    let unknown = TreeSample::new(tree.processes.clone(), Err("no cgroup".into()));
    let unknown = unknown.expect("a tree");
    assert_eq!(
        (unknown.cgroup.as_str(), unknown.warning),
        ("unknown (no cgroup)", None)
    );
    assert_eq!(TreeSample::new(Vec::new(), Err(String::new())), None);
}

#[test]
fn zombies_count_as_exited() {
    let mut process = ProcessSample::new(&entry(1, 0), String::new(), threads(), None, None);
    assert!(!process.exited());
    process.thread_details[0].state = 'Z';
    assert!(!process.exited(), "a zombie leader with a live thread");
    process.thread_details[1].state = 'Z';
    assert!(process.exited());
    process.thread_details.clear();
    assert!(process.exited());
}
