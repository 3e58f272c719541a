//! The lines every human format prints alike about what a layout ran on: a load worker's CPU
//! use and waits, a cgroup's limits, a replica's CPU quota; and of what it measured: errors by
//! kind, the connections opened.

use numaload_proto::cpulist;

use crate::report::caveats;
use crate::result::{CgroupSummary, LayoutResult, LoadWorker, ReplicaResult};
use crate::units::thousands;

/// `CPU 1 62% busy`, and in closed loop `CPU 1 62% busy (30% in 41,204 naps)` (asleep by
/// choice while the server had a backlog) or `CPU 1 97% busy (21% spinning for responses)`
/// (busy-polling, waiting on a server without a backlog), or both; in open loop `CPU 1 40% busy
/// (6% pacing sends), 0.49 wake-ups per request, 100% of responses timed at arrival by the
/// kernel` (busy-polling for a send time, see the plan's `send_precision`; the waits that could
/// sleep; the responses read late and timed by their kernel receive timestamp).
pub fn load_worker(w: &LoadWorker) -> String {
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
pub fn cgroup_line(c: &CgroupSummary) -> Option<String> {
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
        limits.push(format!("cpuset CPUs {}", cpulist::format(&c.cpuset_cpus)));
    }
    if !c.cpuset_mems.is_empty() {
        limits.push(format!("cpuset mems {}", cpulist::format(&c.cpuset_mems)));
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
pub fn replica_quota_line(r: &ReplicaResult) -> Option<String> {
    let quota = r.cgroup.as_ref()?.cpu_quota_cpus?;
    Some(format!(
        "cgroup CPU quota {quota:.2} CPUs for {} workers{}",
        r.worker_threads,
        if caveats::oversubscribed_quota(r).is_some() {
            " (2× or more: throttled)"
        } else {
            ""
        }
    ))
}

/// `connect 0, tls 0, io 0, ...`: a layout's errors by kind; `tls` only where TLS was spoken
/// (or failed), `stream reset` (HTTP/2 only) when there were some.
pub fn error_kinds(l: &LayoutResult) -> String {
    let tls = l
        .connection_setup
        .as_ref()
        .is_some_and(|s| s.tls_handshake_ns.is_some());
    let kinds: Vec<String> = l
        .errors_by_kind
        .by_kind()
        .iter()
        .filter(|(kind, n)| *n > 0 || (*kind != "tls" || tls) && *kind != "stream reset")
        .filter(|(kind, n)| *kind != "grpc status" || !l.grpc_status_codes.is_empty() || *n > 0)
        .map(|(kind, n)| format!("{kind} {n}"))
        .collect();
    kinds.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_load_worker_shows_its_naps_and_spins_only_when_it_took_some() {
        let mut w = LoadWorker {
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
}
