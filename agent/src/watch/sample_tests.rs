//! The parsers on real files, copied from this machine (kernel 6.18, 2 CPUs, one node): a Python
//! process with a thread spinning (`running_*`) and one sleeping (`sleeping_*`), and a shell's
//! `sched` (`shell_sched.txt`) with migrations.

use super::*;

const RUNNING_STATUS: &str = include_str!("testdata/running_status.txt");
const RUNNING_STAT: &str = include_str!("testdata/running_stat.txt");
const RUNNING_SCHEDSTAT: &str = include_str!("testdata/running_schedstat.txt");
const RUNNING_SCHED: &str = include_str!("testdata/running_sched.txt");
const SLEEPING_STATUS: &str = include_str!("testdata/sleeping_status.txt");
const SLEEPING_STAT: &str = include_str!("testdata/sleeping_stat.txt");
const SLEEPING_SCHEDSTAT: &str = include_str!("testdata/sleeping_schedstat.txt");
const SHELL_SCHED: &str = include_str!("testdata/shell_sched.txt");
const NUMA_MAPS: &str = include_str!("testdata/numa_maps.txt");

#[test]
fn state_letters() {
    for (stat, want) in [
        (RUNNING_STAT, Some('R')),
        (SLEEPING_STAT, Some('S')),
        ("7 (a) b) (c) D 1 7 7", Some('D')),
        ("8 (zombie) Z 1", Some('Z')),
        ("garbage", None),
        ("9 (x)", None),
    ] {
        assert_eq!(parse_stat_state(stat), want, "{stat:?}");
    }
}

#[test]
fn context_switches_from_status() {
    assert_eq!(parse_ctxt_switches(RUNNING_STATUS), (1, 168));
    assert_eq!(parse_ctxt_switches(SLEEPING_STATUS), (1, 3));
    assert_eq!(parse_ctxt_switches("Name:\tx\n"), (0, 0));
}

#[test]
fn schedstat_gives_cpu_time_and_run_queue_wait() {
    for (text, want) in [
        (RUNNING_SCHEDSTAT, Some((612_237_659, 1_181_194_838))),
        (SLEEPING_SCHEDSTAT, parse_schedstat(SLEEPING_SCHEDSTAT)),
        ("32590394 7494666 116\n", Some((32_590_394, 7_494_666))),
        ("12", None),
        ("", None),
        ("a b c", None),
    ] {
        assert_eq!(parse_schedstat(text), want, "{text:?}");
    }
    assert!(parse_schedstat(SLEEPING_SCHEDSTAT).is_some());
}

#[test]
fn migrations_from_sched() {
    assert_eq!(parse_migrations(RUNNING_SCHED), Some(0));
    assert_eq!(parse_migrations(SHELL_SCHED), Some(26));
    assert_eq!(parse_migrations("se.exec_start : 12.5\n"), None);
    assert_eq!(parse_migrations(""), None);
    assert_eq!(parse_sched_switches(SHELL_SCHED), Some((175, 53)));
    assert_eq!(parse_sched_switches(RUNNING_SCHED), Some((1, 170)));
    assert_eq!(parse_sched_switches("nr_voluntary_switches : 3\n"), None);
}

#[test]
fn a_real_running_thread() {
    let t = parse_thread(
        25585,
        RUNNING_STATUS,
        RUNNING_STAT,
        Some(RUNNING_SCHEDSTAT),
        Some(RUNNING_SCHED),
    )
    .expect("parses");
    assert_eq!(
        t,
        ThreadSample {
            tid: 25585,
            comm: "python3".into(),
            state: 'R',
            cpus_allowed: vec![0, 1],
            last_cpu: Some(0),
            voluntary_ctxt_switches: 1,
            nonvoluntary_ctxt_switches: 168,
            run_delay_ns: 1_181_194_838,
            cpu_time_ns: 612_237_659,
            migrations: Some(0),
        }
    );
    // A kernel without schedstat or sched: the rest still reads.
    let bare = parse_thread(25585, RUNNING_STATUS, RUNNING_STAT, None, None).expect("parses");
    assert_eq!((bare.run_delay_ns, bare.migrations), (0, None));
    assert_eq!(
        parse_thread(1, "Name:\tx\n", RUNNING_STAT, None, None),
        None
    );
}

#[test]
fn cmdline_joins_arguments() {
    assert_eq!(
        parse_cmdline(b"/usr/bin/python3\0/tmp/spin.py\0"),
        "/usr/bin/python3 /tmp/spin.py"
    );
    assert_eq!(parse_cmdline(b""), "");
}

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
    let running = parse_thread(
        25585,
        RUNNING_STATUS,
        RUNNING_STAT,
        Some(RUNNING_SCHEDSTAT),
        Some(RUNNING_SCHED),
    );
    let sleeping = parse_thread(
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
