//! The agent's one reader of `/proc`: what the kernel says about a process and its threads.
//! Placement is verified from here, never assumed, and every figure the agent takes from a
//! process's `/proc` files (the sampler's, the scheduler view's, `numaload watch`'s, the agent's
//! own `/metrics`') is read here. Facts about the host (`/proc/cpuinfo`, `/proc/sys/…`) are
//! `host.rs`'s and `replica/port.rs`'s.
//!
//! - This file: a process's own files. `status` (allowed CPUs, threads, context switches),
//!   `stat` (CPU time, state), `numa_maps` (memory policy, pages per node), `cmdline`, the
//!   thread ids under `task/`, and the agent's own open file descriptors.
//! - [`thread`]: one thread's files (`task/TID/status`, `stat`, `schedstat`, `sched`).
//! - [`sched`]: the scheduler's counters of a thread (`schedstat`, `sched`) and rates from two
//!   readings of them.
//! - [`tree`]: the process table (`/proc/*/stat`) and a replica's whole tree in it.
//!
//! Parsing is pure (functions of the file text, unit-tested on real samples in `testdata/`); the
//! `read_*` functions only add the file read. Nothing here knows what the figures are for: the
//! layers above (placement verification, the sampler, the scheduler view, `numaload watch`)
//! take plain values.

pub mod sched;
pub mod thread;
pub mod tree;

use std::collections::BTreeMap;
use std::io;

use numaload_proto::cpulist;

/// What `/proc/<pid>/status` tells about placement and threads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    pub cpus_allowed: Vec<u32>,
    pub threads: u32,
}

/// What `/proc/<pid>/numa_maps` tells: the process's memory policy and its pages per node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NumaMaps {
    /// As the kernel prints it: `default`, `bind:0`, `interleave:0-3`, `prefer:1`, ...
    pub policy: String,
    /// Resident pages per NUMA node of the process's anonymous memory (heap, stacks, anonymous
    /// mappings): what the process itself allocated, which its memory policy governs. File-backed
    /// pages (the executable, libraries) are left out: they sit in the page cache wherever the
    /// first reader of the file put them, whatever this process's policy.
    pub pages_by_node: BTreeMap<u32, u64>,
}

/// A `/proc` file that could not be read or understood.
#[derive(Debug, thiserror::Error)]
pub enum ProcError {
    #[error("cannot read {path}: {source}")]
    Read { path: String, source: io::Error },
    #[error("{path} has no usable `{field}` line")]
    Missing { path: String, field: &'static str },
}

pub fn read_status(pid: u32) -> Result<Status, ProcError> {
    let path = format!("/proc/{pid}/status");
    let text = read(&path)?;
    parse_status(&text).map_err(|field| ProcError::Missing { path, field })
}

pub fn read_numa_maps(pid: u32) -> Result<NumaMaps, ProcError> {
    let path = format!("/proc/{pid}/numa_maps");
    Ok(parse_numa_maps(&read(&path)?))
}

/// Just the thread count: the sampler's hot path, every 100 ms per replica.
pub fn read_threads(pid: u32) -> Result<u32, ProcError> {
    read_status(pid).map(|s| s.threads)
}

fn read(path: &str) -> Result<String, ProcError> {
    std::fs::read_to_string(path).map_err(|source| ProcError::Read {
        path: path.to_owned(),
        source,
    })
}

/// Parses `/proc/<pid>/status`; the error is the name of the missing field.
pub fn parse_status(text: &str) -> Result<Status, &'static str> {
    let field = |name: &str| {
        text.lines()
            .find_map(|line| {
                line.strip_prefix(name)
                    .and_then(|rest| rest.strip_prefix(':'))
            })
            .map(str::trim)
    };
    let cpus_allowed = field("Cpus_allowed_list")
        .and_then(|v| cpulist::parse(v).ok())
        .ok_or("Cpus_allowed_list")?;
    let threads = field("Threads")
        .and_then(|v| v.parse().ok())
        .ok_or("Threads")?;
    Ok(Status {
        cpus_allowed,
        threads,
    })
}

/// Parses `/proc/<pid>/numa_maps`. The process policy is the one printed on most mappings
/// (mappings with their own `mbind` policy are the exception); page counts are summed per node.
pub fn parse_numa_maps(text: &str) -> NumaMaps {
    let mut policies: BTreeMap<String, usize> = BTreeMap::new();
    let mut pages_by_node = BTreeMap::new();
    for line in text.lines() {
        let mut fields = line.split_whitespace();
        let (Some(_address), Some(policy)) = (fields.next(), fields.next()) else {
            continue;
        };
        // The kernel prints `prefer (many):0,2` with a space inside the policy.
        let mut rest = fields.peekable();
        let policy = match rest.next_if(|f| f.starts_with('(')) {
            Some(suffix) => format!("{policy} {suffix}"),
            None => policy.to_owned(),
        };
        *policies.entry(policy).or_default() += 1;
        let fields: Vec<&str> = rest.collect();
        if fields.iter().any(|f| f.starts_with("file=")) {
            continue;
        }
        for field in fields {
            let Some((node, pages)) = field.strip_prefix('N').and_then(|f| f.split_once('='))
            else {
                continue;
            };
            if let (Ok(node), Ok(pages)) = (node.parse::<u32>(), pages.parse::<u64>()) {
                *pages_by_node.entry(node).or_default() += pages;
            }
        }
    }
    let policy = policies
        .iter()
        .max_by_key(|(_, count)| **count)
        .map(|(policy, _)| policy.clone())
        .unwrap_or_else(|| "unknown".to_owned());
    NumaMaps {
        policy,
        pages_by_node,
    }
}

/// The nodes a numa_maps policy names: `bind:0-1` → `[0, 1]`, `default` → `[]`.
pub fn policy_nodes(policy: &str) -> Vec<u32> {
    policy
        .split_once(':')
        .and_then(|(_, nodes)| {
            cpulist::parse(nodes.trim_end_matches(|c: char| !c.is_ascii_digit())).ok()
        })
        .unwrap_or_default()
}

/// CPU time and memory of a whole process, from `/proc/<pid>/stat` and `status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    /// User plus system time of every thread so far.
    pub cpu_time_ns: u64,
    pub rss_bytes: u64,
    /// `Threads:` of the same `status` read (the sampler needs both every 100 ms).
    pub threads: u32,
}

/// Clock ticks per second of `/proc/<pid>/stat` times (`USER_HZ`: 100 on every Linux
/// architecture numaload runs on; the kernel fixes it for user space whatever `HZ` is).
const USER_HZ: u64 = 100;

pub fn read_usage(pid: u32) -> Result<Usage, ProcError> {
    let stat_path = format!("/proc/{pid}/stat");
    let stat = read(&stat_path)?;
    let status_path = format!("/proc/{pid}/status");
    let status = read(&status_path)?;
    let cpu_ticks = parse_stat_cpu_ticks(&stat).ok_or(ProcError::Missing {
        path: stat_path,
        field: "utime/stime",
    })?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .map(|v| v.trim().trim_end_matches("kB").trim())
    };
    let rss_kb = field("VmRSS:")
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0);
    Ok(Usage {
        cpu_time_ns: cpu_ticks * (1_000_000_000 / USER_HZ),
        rss_bytes: rss_kb * 1024,
        threads: field("Threads:").and_then(|v| v.parse().ok()).unwrap_or(0),
    })
}

/// utime + stime (fields 14 and 15) of `/proc/<pid>/stat`; the command name in parentheses
/// may hold spaces, so fields are counted after its closing parenthesis.
pub fn parse_stat_cpu_ticks(stat: &str) -> Option<u64> {
    let after_name = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // after ')': field 3 (state) is index 0, so field N is index N - 3.
    let utime: u64 = fields.get(14 - 3)?.parse().ok()?;
    let stime: u64 = fields.get(15 - 3)?.parse().ok()?;
    Some(utime + stime)
}

/// The state letter, `stat` field 3 (after the command name, which may hold parentheses).
pub fn parse_stat_state(stat: &str) -> Option<char> {
    stat.rsplit_once(')')?
        .1
        .split_whitespace()
        .next()?
        .chars()
        .next()
}

/// `voluntary_ctxt_switches` and `nonvoluntary_ctxt_switches` of a `status` file (0 when absent).
pub fn parse_ctxt_switches(status: &str) -> (u64, u64) {
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0)
    };
    (
        field("voluntary_ctxt_switches"),
        field("nonvoluntary_ctxt_switches"),
    )
}

/// `/proc/PID/cmdline`: NUL-separated arguments, joined with spaces.
pub fn parse_cmdline(raw: &[u8]) -> String {
    String::from_utf8_lossy(raw)
        .split('\0')
        .filter(|a| !a.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The command line of `pid`, arguments joined with spaces; `None` when it cannot be read.
pub fn read_cmdline(pid: u32) -> Option<String> {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .ok()
        .map(|raw| parse_cmdline(&raw))
}

/// The thread ids of `pid` (`/proc/PID/task/`), in directory order; `None` when the process is
/// gone.
pub fn tids(pid: u32) -> Option<impl Iterator<Item = u32>> {
    let dir = std::fs::read_dir(format!("/proc/{pid}/task")).ok()?;
    Some(
        dir.filter_map(Result::ok)
            .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok()),
    )
}

/// How many file descriptors this process has open (`/proc/self/fd`); `None` when unreadable.
pub fn own_open_fds() -> Option<u64> {
    let fds = std::fs::read_dir("/proc/self/fd").ok()?;
    // One entry is the directory handle read_dir itself holds open.
    Some(fds.count().saturating_sub(1) as u64)
}

/// Real files for the parsers' tests, copied from a machine with kernel 6.18, 2 CPUs and one
/// node: a Python process with a thread spinning (`running_*`) and one sleeping (`sleeping_*`),
/// a shell's `sched` (`shell_sched.txt`) with migrations, and a `numa_maps`.
#[cfg(test)]
pub(crate) mod testdata {
    pub const RUNNING_STATUS: &str = include_str!("testdata/running_status.txt");
    pub const RUNNING_STAT: &str = include_str!("testdata/running_stat.txt");
    pub const RUNNING_SCHEDSTAT: &str = include_str!("testdata/running_schedstat.txt");
    pub const RUNNING_SCHED: &str = include_str!("testdata/running_sched.txt");
    pub const SLEEPING_STATUS: &str = include_str!("testdata/sleeping_status.txt");
    pub const SLEEPING_STAT: &str = include_str!("testdata/sleeping_stat.txt");
    pub const SLEEPING_SCHEDSTAT: &str = include_str!("testdata/sleeping_schedstat.txt");
    pub const SHELL_SCHED: &str = include_str!("testdata/shell_sched.txt");
    pub const NUMA_MAPS: &str = include_str!("testdata/numa_maps.txt");
}

#[cfg(test)]
mod tests {

    #[test]
    fn stat_cpu_ticks_survive_a_name_with_spaces() {
        let stat = "4242 (tokio rt (worker)) S 1 4242 4242 0 -1 4194560 300 0 0 0 170 30 0 0 20 0 9 0 123 1000 50";
        assert_eq!(parse_stat_cpu_ticks(stat), Some(200));
        assert_eq!(parse_stat_cpu_ticks("garbage"), None);
        let own = read_usage(std::process::id()).expect("own usage");
        assert!(own.rss_bytes > 0);
    }
    use super::*;

    const STATUS: &str = "Name:\tnumaload\nUmask:\t0022\nState:\tS (sleeping)\nThreads:\t7\n\
        Cpus_allowed:\t3\nCpus_allowed_list:\t0-1\nMems_allowed_list:\t0\n";

    // Captured inside the 4-node guest after `numactl --membind=2`, trimmed.
    const NUMA_MAPS_BIND: &str = "\
55d0c0a00000 bind:2 file=/bin/busybox mapped=20 N2=20 kernelpagesize_kB=4
55d0c0c4e000 bind:2 heap anon=3 dirty=3 N2=3 kernelpagesize_kB=4
7f3e1c000000 bind:2 anon=257 dirty=257 N2=250 N0=7 kernelpagesize_kB=4
7ffd4c1e1000 bind:2 stack anon=4 dirty=4 N2=4 kernelpagesize_kB=4
7f3e1d000000 prefer (many):0,2 anon=1 N0=1 kernelpagesize_kB=4
7f3e1e000000 interleave:0-3 anon=8 dirty=8 N0=2 N1=2 N2=2 N3=2 kernelpagesize_kB=4
";

    #[test]
    fn status_gives_cpus_and_threads() {
        let status = parse_status(STATUS).expect("parse");
        assert_eq!(
            status,
            Status {
                cpus_allowed: vec![0, 1],
                threads: 7
            }
        );
        assert_eq!(parse_status("Name:\tx\n"), Err("Cpus_allowed_list"));
    }

    #[test]
    fn numa_maps_gives_the_dominant_policy_and_pages_per_node() {
        let maps = parse_numa_maps(NUMA_MAPS_BIND);
        assert_eq!(maps.policy, "bind:2");
        assert_eq!(
            maps.pages_by_node,
            BTreeMap::from([(0, 10), (1, 2), (2, 259), (3, 2)]),
            "file pages are left out"
        );
        assert_eq!(parse_numa_maps("").policy, "unknown");
    }

    #[test]
    fn policy_nodes_reads_the_node_list() {
        assert_eq!(policy_nodes("bind:2"), vec![2]);
        assert_eq!(policy_nodes("interleave:0-3"), vec![0, 1, 2, 3]);
        assert_eq!(policy_nodes("prefer (many):0,2"), vec![0, 2]);
        assert_eq!(policy_nodes("default"), Vec::<u32>::new());
    }

    #[test]
    fn this_process_can_be_read_back() {
        let status = read_status(std::process::id()).expect("own status");
        assert!(status.threads >= 1);
        assert!(!status.cpus_allowed.is_empty());
        assert!(read_status(u32::MAX).is_err());
    }

    #[test]
    fn state_letters() {
        for (stat, want) in [
            (testdata::RUNNING_STAT, Some('R')),
            (testdata::SLEEPING_STAT, Some('S')),
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
        assert_eq!(parse_ctxt_switches(testdata::RUNNING_STATUS), (1, 168));
        assert_eq!(parse_ctxt_switches(testdata::SLEEPING_STATUS), (1, 3));
        assert_eq!(parse_ctxt_switches("Name:\tx\n"), (0, 0));
    }

    #[test]
    fn cmdline_joins_arguments() {
        assert_eq!(
            parse_cmdline(b"/usr/bin/python3\0/tmp/spin.py\0"),
            "/usr/bin/python3 /tmp/spin.py"
        );
        assert_eq!(parse_cmdline(b""), "");
    }
}
