//! One thread's files under `/proc/PID/task/TID/`.
//!
//! Two reads of a thread, for two readers: [`ThreadSeen`] is what placement verification needs
//! (`status` and `stat`: allowed CPUs, the CPU it last ran on), [`ThreadSample`] everything a
//! look at a thread shows (those plus its state, context switches, and the scheduler's
//! `schedstat` and `sched`).

use serde::Serialize;

use numaload_proto::cpulist;

use super::sched::{self, Counts};
use super::ProcError;

/// A thread as read back for placement verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreadSeen {
    pub tid: u32,
    pub comm: String,
    pub cpus_allowed: Vec<u32>,
    /// The CPU it last ran on (`stat` field 39), when readable.
    pub last_cpu: Option<u32>,
}

/// Every thread of `pid` that could be read, by tid; empty when the process is gone.
pub fn threads_of(pid: u32) -> Vec<ThreadSeen> {
    let Some(tids) = super::tids(pid) else {
        return Vec::new();
    };
    let mut threads: Vec<ThreadSeen> = tids
        .filter_map(|tid| {
            let status = std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/status")).ok()?;
            let stat = std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/stat")).ok();
            parse_thread(tid, &status, stat.as_deref())
        })
        .collect();
    threads.sort_by_key(|t| t.tid);
    threads
}

/// A thread from its `status` (Name, Cpus_allowed_list) and `stat` (last CPU).
pub fn parse_thread(tid: u32, status: &str, stat: Option<&str>) -> Option<ThreadSeen> {
    let field = |name: &str| {
        status.lines().find_map(|line| {
            line.strip_prefix(name)
                .and_then(|rest| rest.strip_prefix(':'))
                .map(str::trim)
        })
    };
    let cpus_allowed = cpulist::parse(field("Cpus_allowed_list")?).ok()?;
    let last_cpu = stat.and_then(|s| {
        let after = s.rsplit_once(')')?.1;
        // Field 39 overall; after the comm, fields start at 3 (state).
        after.split_whitespace().nth(39 - 3)?.parse().ok()
    });
    Some(ThreadSeen {
        tid,
        comm: field("Name").unwrap_or_default().to_owned(),
        cpus_allowed,
        last_cpu,
    })
}

/// Whether the main thread of `pid` can be read (`task/PID/status`): another user's process may
/// list in the table and still refuse its threads.
pub fn threads_readable(pid: u32) -> Result<(), ProcError> {
    super::read(&format!("/proc/{pid}/task/{pid}/status")).map(|_| ())
}

/// A thread, from its `status`, `stat`, `schedstat` and `sched` files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ThreadSample {
    pub tid: u32,
    pub comm: String,
    /// The state letter (`R`, `S`, `D`, ...).
    pub state: char,
    pub cpus_allowed: Vec<u32>,
    /// The CPU it last ran on.
    pub last_cpu: Option<u32>,
    pub voluntary_ctxt_switches: u64,
    pub nonvoluntary_ctxt_switches: u64,
    /// Time spent runnable but waiting for a CPU (`schedstat` field 2).
    pub run_delay_ns: u64,
    /// Time spent on a CPU (`schedstat` field 1).
    pub cpu_time_ns: u64,
    /// `se.nr_migrations` of `sched`; `None` when the kernel has no such file
    /// (built without `CONFIG_SCHED_DEBUG`).
    pub migrations: Option<u64>,
}

impl ThreadSample {
    /// Its scheduler counters.
    pub fn counts(&self) -> Counts {
        Counts {
            voluntary_ctxt_switches: self.voluntary_ctxt_switches,
            nonvoluntary_ctxt_switches: self.nonvoluntary_ctxt_switches,
            run_delay_ns: self.run_delay_ns,
            cpu_time_ns: self.cpu_time_ns,
            migrations: self.migrations,
        }
    }
}

/// Thread `tid` of `pid`; `None` when it exited while being read.
pub fn read_sample(pid: u32, tid: u32) -> Option<ThreadSample> {
    let file = |name: &str| std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/{name}")).ok();
    parse_sample(
        tid,
        &file("status")?,
        &file("stat")?,
        file("schedstat").as_deref(),
        file("sched").as_deref(),
    )
}

/// A thread from the text of its files; `None` when `status` or `stat` is not usable (the thread
/// exited while being read). `schedstat` and `sched` are optional: a kernel may lack them.
pub fn parse_sample(
    tid: u32,
    status: &str,
    stat: &str,
    schedstat: Option<&str>,
    sched: Option<&str>,
) -> Option<ThreadSample> {
    let seen = parse_thread(tid, status, Some(stat))?;
    let (voluntary, nonvoluntary) = super::parse_ctxt_switches(status);
    let (cpu_time_ns, run_delay_ns) = schedstat.and_then(sched::parse_schedstat).unwrap_or((0, 0));
    Some(ThreadSample {
        tid,
        comm: seen.comm,
        state: super::parse_stat_state(stat)?,
        cpus_allowed: seen.cpus_allowed,
        last_cpu: seen.last_cpu,
        voluntary_ctxt_switches: voluntary,
        nonvoluntary_ctxt_switches: nonvoluntary,
        run_delay_ns,
        cpu_time_ns,
        migrations: sched.and_then(sched::parse_migrations),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::procfs::testdata::*;

    #[test]
    fn a_thread_reads_its_cpus_and_last_cpu() {
        let status = "Name:\tgo-worker\nCpus_allowed_list:\t0-1,4\n";
        let mut stat = String::from("77 (go worker) R");
        for field in 4..=39 {
            stat.push_str(&format!(" {}", if field == 39 { 4 } else { 0 }));
        }
        let thread = parse_thread(77, status, Some(&stat)).expect("parses");
        assert_eq!(thread.cpus_allowed, [0, 1, 4]);
        assert_eq!(thread.last_cpu, Some(4));
        assert_eq!(thread.comm, "go-worker");
        assert_eq!(parse_thread(77, "Name:\tx\n", None), None);
    }

    #[test]
    fn a_real_running_thread() {
        let t = parse_sample(
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
        let bare = parse_sample(25585, RUNNING_STATUS, RUNNING_STAT, None, None).expect("parses");
        assert_eq!((bare.run_delay_ns, bare.migrations), (0, None));
        assert_eq!(
            parse_sample(1, "Name:\tx\n", RUNNING_STAT, None, None),
            None
        );
    }
}
