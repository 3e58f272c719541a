//! Reports rendered from a [`RunResult`] alone: pure functions from a result to text, one module
//! per [`Format`], each with `fn render(&RunResult) -> String`.
//!
//! Every report leads with the answer ([`verdict`]) and then says what would make the numbers
//! untrustworthy ([`trust`]): suspect, incomplete, degraded and failed layouts, placement
//! mismatches, a cancelled run, percentiles read from too few samples (shown as "n/a (too
//! few)", never as a number). [`summary`] holds what every format says the same way: each
//! layout's status word (the result's `LayoutStatus`, never "ok" over a reason not to trust
//! it), how much of its load was delivered, and latency figures that are lower bounds (requests
//! never answered) shown as "≥ 3.90 s".

pub mod csv;
pub mod html;
pub mod json;
pub mod markdown;
pub mod service;
pub mod summary;
pub mod text;
pub mod trust;
pub mod verdict;

use crate::result::RunResult;

/// The output formats of `numaload report`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Markdown,
    Html,
    Json,
    Csv,
}

impl Format {
    /// Every format, with the name `--format` takes.
    pub const ALL: [(&'static str, Format); 5] = [
        ("text", Format::Text),
        ("markdown", Format::Markdown),
        ("html", Format::Html),
        ("json", Format::Json),
        ("csv", Format::Csv),
    ];

    /// `"md"` is accepted for Markdown.
    pub fn from_name(name: &str) -> Option<Format> {
        let name = name.to_ascii_lowercase();
        if name == "md" {
            return Some(Format::Markdown);
        }
        Format::ALL
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, format)| *format)
    }
}

pub use crate::units::{duration_ns, thousands};

/// Renders `result` in `format`.
pub fn render(result: &RunResult, format: Format) -> String {
    match format {
        Format::Text => text::render(result),
        Format::Markdown => markdown::render(result),
        Format::Html => html::render(result),
        Format::Json => json::render(result),
        Format::Csv => csv::render(result),
    }
}

/// `CPU 1 62% busy`, and in closed loop `CPU 1 62% busy (30% in 41,204 naps)` (asleep by
/// choice while the server had a backlog) or `CPU 1 97% busy (21% spinning for responses)`
/// (busy-polling, waiting on a server without a backlog), or both; in open loop `CPU 1 40% busy
/// (6% pacing sends), 0.49 wake-ups per request, 100% of responses timed at arrival by the
/// kernel` (busy-polling for a send time, see the plan's `send_precision`; the waits that could
/// sleep; the responses read late and timed by their kernel receive timestamp).
pub fn load_worker(w: &crate::result::LoadWorker) -> String {
    let busy = format!("CPU {} {:.0}% busy", w.cpu, w.busy * 100.0);
    let mut waits = Vec::new();
    if w.naps > 0 {
        let naps = thousands(w.naps as f64);
        waits.push(format!("{:.0}% in {naps} naps", w.napped * 100.0));
    }
    if w.spins > 0 {
        waits.push(format!("{:.0}% spinning for responses", w.spun * 100.0));
    }
    if w.paces > 0 {
        waits.push(format!("{:.0}% pacing sends", w.paced * 100.0));
    }
    let busy = if waits.is_empty() {
        busy
    } else {
        format!("{busy} ({})", waits.join(", "))
    };
    if w.wakeups == 0 || w.requests == 0 {
        return busy;
    }
    let requests = w.requests as f64;
    // Rounded down, so a few responses timed at the read never read as 100%.
    let stamped = (w.stamped as f64 / requests * 1000.0).floor().min(1000.0) / 10.0;
    format!(
        "{busy}, {:.2} wake-ups per request, {stamped}% of responses timed at arrival by the kernel",
        w.wakeups as f64 / requests,
    )
}

/// `cgroup v1 /x: CPU quota 0.50 CPUs, cpuset CPUs 0-3, cpuset mems 0` when the cgroup limits
/// anything (or could not be read), else `None`.
pub fn cgroup_line(c: &crate::result::CgroupSummary) -> Option<String> {
    if c.version == "unknown" {
        return Some(format!("cgroup unknown ({})", c.path));
    }
    if !c.is_limited() {
        return None;
    }
    let mut limits = Vec::new();
    if let Some(quota) = c.cpu_quota_cpus {
        limits.push(format!("CPU quota {quota:.2} CPUs"));
    }
    if !c.cpuset_cpus.is_empty() {
        limits.push(format!(
            "cpuset CPUs {}",
            numaload_proto::cpulist::format(&c.cpuset_cpus)
        ));
    }
    if !c.cpuset_mems.is_empty() {
        limits.push(format!(
            "cpuset mems {}",
            numaload_proto::cpulist::format(&c.cpuset_mems)
        ));
    }
    Some(format!(
        "cgroup {} {}: {}",
        c.version,
        c.path,
        limits.join(", ")
    ))
}

/// `cgroup CPU quota 0.50 CPUs for 4 workers (2× or more: throttled)` for a replica whose cgroup
/// has a CPU quota, else `None`.
pub fn replica_quota_line(r: &crate::result::ReplicaResult) -> Option<String> {
    let quota = r.cgroup.as_ref()?.cpu_quota_cpus?;
    Some(format!(
        "cgroup CPU quota {quota:.2} CPUs for {} workers{}",
        r.worker_threads,
        if trust::oversubscribed_quota(r).is_some() {
            " (2× or more: throttled)"
        } else {
            ""
        }
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_load_worker_shows_its_naps_and_spins_only_when_it_took_some() {
        let mut w = crate::result::LoadWorker {
            trial: 1,
            agent: "local".into(),
            worker: 0,
            cpu: 1,
            requests: 10,
            cpu_time_ns: 1,
            busy: 0.62,
            ..Default::default()
        };
        assert_eq!(load_worker(&w), "CPU 1 62% busy");
        (w.naps, w.napped) = (41_204, 0.3);
        assert_eq!(load_worker(&w), "CPU 1 62% busy (30% in 41,204 naps)");
        (w.spins, w.spun) = (9_000, 0.05);
        assert_eq!(
            load_worker(&w),
            "CPU 1 62% busy (30% in 41,204 naps, 5% spinning for responses)"
        );
        (w.naps, w.napped, w.busy, w.spun) = (0, 0.0, 0.97, 0.21);
        assert_eq!(
            load_worker(&w),
            "CPU 1 97% busy (21% spinning for responses)"
        );
        (w.spins, w.spun, w.busy, w.paces, w.paced) = (0, 0.0, 0.4, 20_000, 0.06);
        assert_eq!(load_worker(&w), "CPU 1 40% busy (6% pacing sends)");
        (w.requests, w.wakeups, w.stamped) = (60_000, 29_400, 60_000);
        assert_eq!(
            load_worker(&w),
            "CPU 1 40% busy (6% pacing sends), 0.49 wake-ups per request, \
             100% of responses timed at arrival by the kernel"
        );
        for (stamped, shown) in [(59_970, "99.9%"), (30_000, "50%"), (60_010, "100%")] {
            w.stamped = stamped;
            let line = load_worker(&w);
            assert!(
                line.ends_with(&format!(
                    ", {shown} of responses timed at arrival by the kernel"
                )),
                "{line}"
            );
        }
    }

    #[test]
    fn formats_numbers_for_people() {
        assert_eq!(duration_ns(850), "850 ns");
        assert_eq!(duration_ns(81_234), "81.2 µs");
        assert_eq!(duration_ns(1_234_567), "1.23 ms");
        assert_eq!(duration_ns(2_500_000_000), "2.50 s");
        assert_eq!(thousands(0.4), "0");
        assert_eq!(thousands(999.0), "999");
        assert_eq!(thousands(1_234_567.8), "1,234,568");
        assert_eq!(thousands(-1000.0), "-1,000");
    }

    #[test]
    fn format_names() {
        let cases = [
            ("text", Some(Format::Text)),
            ("markdown", Some(Format::Markdown)),
            ("md", Some(Format::Markdown)),
            ("HTML", Some(Format::Html)),
            ("json", Some(Format::Json)),
            ("csv", Some(Format::Csv)),
            ("pdf", None),
        ];
        for (name, expected) in cases {
            assert_eq!(Format::from_name(name), expected, "{name}");
        }
    }
}
