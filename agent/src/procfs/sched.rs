//! The scheduler's counters of one thread: time on a CPU and waiting for one (`schedstat`),
//! context switches and migrations (`sched`, else `status`), and rates from two readings.
//!
//! The kernel keeps these per thread and they vanish with the thread, so a reader that wants a
//! process's or a tree's rates takes [`Counts::since`] thread by thread (a thread new since the
//! last reading counts from zero, one that exited is left out) and [`Counts::add`]s them up before
//! [`Rates::over`] the interval. The sampler's scheduler view and `numaload watch` both do.

use std::io::Read;
use std::time::Duration;

use serde::Serialize;

/// Counters of the scheduler, summed over some threads.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub voluntary_ctxt_switches: u64,
    pub nonvoluntary_ctxt_switches: u64,
    pub run_delay_ns: u64,
    pub cpu_time_ns: u64,
    /// `None` when the kernel shows no migrations.
    pub migrations: Option<u64>,
}

impl Counts {
    /// `self - earlier`, each counter at least 0 (a reused tid may start lower).
    pub fn since(self, earlier: Counts) -> Counts {
        Counts {
            voluntary_ctxt_switches: self
                .voluntary_ctxt_switches
                .saturating_sub(earlier.voluntary_ctxt_switches),
            nonvoluntary_ctxt_switches: self
                .nonvoluntary_ctxt_switches
                .saturating_sub(earlier.nonvoluntary_ctxt_switches),
            run_delay_ns: self.run_delay_ns.saturating_sub(earlier.run_delay_ns),
            cpu_time_ns: self.cpu_time_ns.saturating_sub(earlier.cpu_time_ns),
            migrations: self
                .migrations
                .map(|m| m.saturating_sub(earlier.migrations.unwrap_or(0))),
        }
    }

    pub fn add(&mut self, other: Counts) {
        self.voluntary_ctxt_switches += other.voluntary_ctxt_switches;
        self.nonvoluntary_ctxt_switches += other.nonvoluntary_ctxt_switches;
        self.run_delay_ns += other.run_delay_ns;
        self.cpu_time_ns += other.cpu_time_ns;
        self.migrations = match (self.migrations, other.migrations) {
            (None, m) | (m, None) => m,
            (Some(a), Some(b)) => Some(a + b),
        };
    }
}

/// Counters per second over an interval.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Rates {
    /// Voluntary plus involuntary context switches per second.
    pub ctxt_switches_per_s: f64,
    pub nonvoluntary_ctxt_switches_per_s: f64,
    /// Milliseconds spent waiting for a CPU per second (summed over threads: 1000 is one thread
    /// waiting all the time).
    pub run_delay_ms_per_s: f64,
    /// CPUs busy on average (1.0 is one CPU's worth).
    pub cpus_used: f64,
    pub migrations_per_s: Option<f64>,
}

impl Rates {
    /// `counts` happened over `elapsed`.
    pub fn over(counts: Counts, elapsed: Duration) -> Rates {
        let seconds = elapsed.as_secs_f64().max(1e-3);
        let per_s = |n: u64| n as f64 / seconds;
        Rates {
            ctxt_switches_per_s: per_s(
                counts.voluntary_ctxt_switches + counts.nonvoluntary_ctxt_switches,
            ),
            nonvoluntary_ctxt_switches_per_s: per_s(counts.nonvoluntary_ctxt_switches),
            run_delay_ms_per_s: per_s(counts.run_delay_ns) / 1e6,
            cpus_used: per_s(counts.cpu_time_ns) / 1e9,
            migrations_per_s: counts.migrations.map(per_s),
        }
    }
}

/// Thread `tid` of `pid`'s counters, read into `buffer` (reused across calls: this is the
/// sampler's path, every thread of a tree every 100 ms); `None` when it exited while being read.
///
/// Two small files: `schedstat`, then `sched`, which has the context switches too, so `status`
/// is read only when `sched` is missing (a kernel without `CONFIG_SCHED_DEBUG`); migrations are
/// then unknown.
pub fn read_counts(pid: u32, tid: u32, buffer: &mut String) -> Option<Counts> {
    let dir = format!("/proc/{pid}/task/{tid}/");
    read_into(buffer, &format!("{dir}schedstat"))?;
    let (cpu_time_ns, run_delay_ns) = parse_schedstat(buffer)?;
    let mut migrations = None;
    let mut switches = None;
    if read_into(buffer, &format!("{dir}sched")).is_some() {
        migrations = parse_migrations(buffer);
        switches = parse_sched_switches(buffer);
    }
    let (voluntary, nonvoluntary) = match switches {
        Some(s) => s,
        None => {
            read_into(buffer, &format!("{dir}status"))?;
            super::parse_ctxt_switches(buffer)
        }
    };
    Some(Counts {
        voluntary_ctxt_switches: voluntary,
        nonvoluntary_ctxt_switches: nonvoluntary,
        run_delay_ns,
        cpu_time_ns,
        migrations,
    })
}

fn read_into(buffer: &mut String, path: &str) -> Option<()> {
    buffer.clear();
    std::fs::File::open(path)
        .and_then(|mut f| f.read_to_string(buffer))
        .ok()
        .map(|_| ())
}

/// `schedstat`: time on CPU (ns), time runnable waiting for a CPU (ns), timeslices.
pub fn parse_schedstat(schedstat: &str) -> Option<(u64, u64)> {
    let mut fields = schedstat.split_whitespace().map(str::parse::<u64>);
    let on_cpu = fields.next()?.ok()?;
    let waiting = fields.next()?.ok()?;
    Some((on_cpu, waiting))
}

/// `se.nr_migrations` of a `sched` file: how often the thread moved to another CPU.
pub fn parse_migrations(sched: &str) -> Option<u64> {
    sched_field(sched, "se.nr_migrations")
}

/// `nr_voluntary_switches` and `nr_involuntary_switches` of a `sched` file (the same counters
/// as `status`'s, so a reader that needs `sched` anyway can skip `status`).
pub fn parse_sched_switches(sched: &str) -> Option<(u64, u64)> {
    Some((
        sched_field(sched, "nr_voluntary_switches")?,
        sched_field(sched, "nr_involuntary_switches")?,
    ))
}

fn sched_field(sched: &str, name: &str) -> Option<u64> {
    sched.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        (key.trim() == name)
            .then(|| value.trim().parse().ok())
            .flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::procfs::testdata::*;

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
}
