//! The terminal view: one header with the totals of every watched tree, then per tree one line
//! per process (and, asked for, one line per thread), its cgroup quota and warning. Pure: trackers
//! in, text out; the caller clears the screen or separates blocks.

use std::fmt::Write as _;
use std::time::Duration;

use numaload_proto::cpulist;

use super::delta::Tracker;
use super::sample::{ProcessSample, ThreadsByState};
use crate::procfs::sched::Rates;
use crate::procfs::thread::ThreadSample;

/// The whole view for one refresh.
pub fn render(trackers: &[&Tracker], interval: Duration, show_threads: bool) -> String {
    let mut out = header(trackers, interval);
    for tracker in trackers {
        tree(&mut out, tracker, show_threads);
    }
    out
}

fn header(trackers: &[&Tracker], interval: Duration) -> String {
    let mut by_state = ThreadsByState::default();
    let mut processes = 0;
    let mut threads = 0;
    for t in trackers {
        by_state.add(&t.last.threads_by_state);
        processes += t.last.processes.len();
        threads += t.last.threads;
    }
    let rates: Vec<Rates> = trackers.iter().filter_map(|t| t.rates).collect();
    let mut line = format!(
        "numaload watch: {} watched, {processes} processes, {threads} threads \
         (R {} S {} D {} other {}), every {}",
        trackers.len(),
        by_state.running,
        by_state.sleeping,
        by_state.uninterruptible,
        by_state.other,
        humantime::format_duration(interval),
    );
    if rates.len() == trackers.len() && !rates.is_empty() {
        let sum = |f: fn(&Rates) -> f64| rates.iter().map(f).sum::<f64>();
        let _ = write!(
            line,
            "\n  {:.2} CPUs used, {:.0} ctx switches/s, run-queue wait {:.1} ms/s",
            sum(|r| r.cpus_used),
            sum(|r| r.ctxt_switches_per_s),
            sum(|r| r.run_delay_ms_per_s),
        );
        if rates.iter().all(|r| r.migrations_per_s.is_some()) {
            let _ = write!(
                line,
                ", {:.1} migrations/s",
                sum(|r| r.migrations_per_s.unwrap_or(0.0))
            );
        }
    }
    line.push('\n');
    line
}

fn tree(out: &mut String, tracker: &Tracker, show_threads: bool) {
    let s = &tracker.last;
    let quota = s
        .cpu_quota_cpus
        .map_or("none".to_owned(), |q| format!("{q:.2} CPUs"));
    let _ = writeln!(
        out,
        "\n{} ({}): cgroup {}, CPU quota {quota}",
        s.pid, s.comm, s.cgroup
    );
    if let Some(warning) = &s.warning {
        let _ = writeln!(out, "{warning}");
    }
    let _ = writeln!(
        out,
        "{:>8} {:<16} {:>4} {:>9} {:<9} {:>6} {:>9} {:>9} {:>8} {:>7}  PAGES BY NODE",
        "PID", "COMM", "THR", "R/S/D/O", "CPUS", "CPUS%", "RSS MiB", "WAIT ms/s", "CTX/s", "MIGR/s"
    );
    for p in &s.processes {
        process(out, p, tracker.process_rates.get(&p.pid));
        if show_threads {
            let _ = writeln!(
                out,
                "{:>12} {:<16} {:>5} {:<9} {:>4} {:>9} {:>8} {:>10} {:>10}",
                "TID",
                "COMM",
                "STATE",
                "ALLOWED",
                "LAST",
                "WAIT ms/s",
                "CTX/s",
                "VOLUNTARY",
                "INVOLUNT."
            );
            for t in &p.thread_details {
                thread(out, t, tracker.thread_rates.get(&(p.pid, t.tid)));
            }
        }
    }
}

fn or_dash(value: Option<f64>, decimals: usize) -> String {
    value.map_or("-".to_owned(), |v| format!("{v:.decimals$}"))
}

fn process(out: &mut String, p: &ProcessSample, rates: Option<&Rates>) {
    let b = &p.threads_by_state;
    let pages = p
        .pages_by_node
        .iter()
        .map(|(node, pages)| format!("N{node}={pages}"))
        .collect::<Vec<_>>()
        .join(" ");
    let _ = writeln!(
        out,
        "{:>8} {:<16} {:>4} {:>9} {:<9} {:>6} {:>9.1} {:>9} {:>8} {:>7}  {}",
        p.pid,
        p.comm,
        p.threads,
        format!(
            "{}/{}/{}/{}",
            b.running, b.sleeping, b.uninterruptible, b.other
        ),
        cpulist::format(&p.cpus_allowed),
        or_dash(rates.map(|r| 100.0 * r.cpus_used), 0),
        p.rss_bytes as f64 / (1024.0 * 1024.0),
        or_dash(rates.map(|r| r.run_delay_ms_per_s), 1),
        or_dash(rates.map(|r| r.ctxt_switches_per_s), 0),
        or_dash(rates.and_then(|r| r.migrations_per_s), 1),
        if pages.is_empty() { "-" } else { &pages },
    );
}

fn thread(out: &mut String, t: &ThreadSample, rates: Option<&Rates>) {
    let _ = writeln!(
        out,
        "{:>12} {:<16} {:>5} {:<9} {:>4} {:>9} {:>8} {:>10} {:>10}",
        t.tid,
        t.comm,
        t.state,
        cpulist::format(&t.cpus_allowed),
        t.last_cpu.map_or("-".to_owned(), |c| c.to_string()),
        or_dash(rates.map(|r| r.run_delay_ms_per_s), 1),
        or_dash(rates.map(|r| r.ctxt_switches_per_s), 0),
        t.voluntary_ctxt_switches,
        t.nonvoluntary_ctxt_switches,
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::procfs::tree::ProcEntry;
    use crate::watch::sample::TreeSample;

    fn sample(switches: u64) -> TreeSample {
        let thread = ThreadSample {
            tid: 7,
            comm: "worker".into(),
            state: 'R',
            cpus_allowed: vec![0, 1],
            last_cpu: Some(1),
            voluntary_ctxt_switches: switches,
            nonvoluntary_ctxt_switches: 2,
            run_delay_ns: switches * 1_000_000,
            cpu_time_ns: switches * 10_000_000,
            migrations: Some(switches),
        };
        let entry = ProcEntry {
            pid: 7,
            ppid: 1,
            pgrp: 7,
            comm: "server".into(),
            start_ticks: 1,
            zombie: false,
        };
        let mut p = ProcessSample::new(&entry, "server --x".into(), vec![thread], None, None);
        p.pages_by_node = [(0, 10), (1, 5)].into();
        TreeSample::new(vec![p], Ok(("/box".into(), Some(0.5)))).expect("tree")
    }

    #[test]
    fn the_view_shows_totals_processes_threads_and_the_warning() {
        let mut tracker = Tracker::new(sample(10));
        let first = render(&[&tracker], Duration::from_secs(1), false);
        assert!(first.starts_with("numaload watch: 1 watched, 1 processes, 1 threads (R 1 S 0 D 0 other 0), every 1s\n"), "{first}");
        assert!(!first.contains("CPUs used"), "no rates yet: {first}");
        tracker.update(sample(30), Duration::from_secs(2));
        let text = render(&[&tracker], Duration::from_secs(1), true);
        assert!(
            text.contains("  0.10 CPUs used, 10 ctx switches/s, run-queue wait 10.0 ms/s, 10.0 migrations/s\n"),
            "{text}"
        );
        assert!(
            text.contains("7 (server): cgroup /box, CPU quota 0.50 CPUs\n"),
            "{text}"
        );
        assert!(
            text.contains("\nwarning: 1 worker threads on a cgroup CPU quota of 0.50 CPUs"),
            "{text}"
        );
        let process_line = text
            .lines()
            .find(|l| l.trim_start().starts_with("7 server"))
            .expect("process line");
        assert!(process_line.ends_with("  N0=10 N1=5"), "{process_line}");
        assert!(process_line.contains(" 1/0/0/0 "), "{process_line}");
        let thread_line = text
            .lines()
            .find(|l| l.trim_start().starts_with("7 worker"))
            .expect("thread line");
        let fields: Vec<&str> = thread_line.split_whitespace().collect();
        assert_eq!(
            fields,
            ["7", "worker", "R", "0-1", "1", "10.0", "10", "30", "2"]
        );
    }
}
