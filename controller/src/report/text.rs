//! The terminal report: a header (plan, load, host), the verdict, what to be careful about, one
//! block per layout, and the verdict again last (a reader who looks at one line should see the
//! answer, at the top or at the bottom of a long scroll).

use std::fmt::Write as _;

use numaload_proto::cpulist;

use crate::report::caveats;
use crate::report::fleet;
use crate::report::lines;
use crate::report::pct::Pct;
use crate::report::service;
use crate::report::stages;
use crate::report::summary;
use crate::report::{duration_ns, thousands};
use crate::result::{LayoutResult, ReplicaResult, RunResult};

/// Renders the whole report.
mod latency;

pub fn render(result: &RunResult) -> String {
    let mut out = String::new();
    let verdict = crate::report::verdict::run_verdict(result);
    header(&mut out, result);
    let _ = writeln!(out, "{verdict}\n");
    let flags = caveats::flags(result);
    if !flags.is_empty() {
        let _ = writeln!(out, "Check before trusting these numbers:");
        for flag in &flags {
            let _ = writeln!(out, "  ! {}", flag.line());
        }
        out.push('\n');
    }
    out.push_str(&crate::report::thresholds::text(result));
    if let Some(search) = &result.search {
        search_block(&mut out, search);
    }
    let fleet = fleet::is_fleet(result);
    for layout in &result.layouts {
        layout_block(&mut out, layout, fleet);
    }
    if let Some(why) = &result.aborted {
        let _ = writeln!(
            out,
            "The run was aborted: {why}; layouts not measured are marked failed."
        );
    } else if result.cancelled {
        let _ = writeln!(
            out,
            "The run was cancelled: layouts not measured are marked failed."
        );
    }
    let _ = writeln!(out, "{verdict}");
    out
}

fn header(out: &mut String, r: &RunResult) {
    let h = &r.host;
    let load = &r.plan.load;
    let mode = stages::load_words(load);
    let _ = writeln!(
        out,
        "numaload {} — plan \"{}\", run {}",
        r.numaload_version, r.plan.name, r.run_id
    );
    if let Some(line) = caveats::simulated(r) {
        let _ = writeln!(out, "{line}");
    }
    // Older single-agent results list no `hosts`; `host` is the first agent's.
    let hosts = if r.hosts.is_empty() {
        std::slice::from_ref(h)
    } else {
        r.hosts.as_slice()
    };
    if fleet::is_fleet(r) {
        fleet_hosts(out, r);
    }
    for h in hosts.iter().filter(|_| !fleet::is_fleet(r)) {
        let agent = if hosts.len() > 1 {
            format!(" (agent {})", h.agent)
        } else {
            String::new()
        };
        let _ = writeln!(out, "host {}{agent}: {}", h.hostname, fleet::host_kind(h));
        if let Some(line) = h.cgroup.as_ref().and_then(lines::cgroup_line) {
            let _ = writeln!(out, "  agent {line}");
        }
    }
    let _ = writeln!(
        out,
        "target {}{}; load {mode}, {} connections, {} measured after {} warm-up",
        r.plan.target.name,
        // The built-in targets' work per request; a server of the user's has none to show.
        match r.plan.target.work_us {
            0 => String::new(),
            us => format!(" (work {us} µs per request)"),
        },
        load.connections,
        humantime::format_duration(load.duration),
        humantime::format_duration(load.warmup)
    );
    if let Some(line) = service::requests_line(&r.plan) {
        let _ = writeln!(out, "{line}");
    }
}

/// A fleet's hosts by kind, the most common first (at most [`fleet::WORST_SHOWN`] kinds).
fn fleet_hosts(out: &mut String, r: &RunResult) {
    let kinds = fleet::host_kinds(r);
    for (kind, agents) in kinds.iter().take(fleet::WORST_SHOWN) {
        let _ = writeln!(out, "hosts {} agents on {kind}", thousands(*agents as f64));
    }
    if kinds.len() > fleet::WORST_SHOWN {
        let _ = writeln!(
            out,
            "hosts of {} more kinds: each host is in the result",
            kinds.len() - fleet::WORST_SHOWN
        );
    }
}

/// A fleet's layout over its agents: how many fared how, the spread of their figures, the
/// worst by name, the replicas and load workers counted.
fn fleet_lines(out: &mut String, l: &LayoutResult) {
    for (label, text) in fleet::rows(l) {
        let _ = writeln!(out, "  {label:<12} {text}");
    }
}

fn layout_block(out: &mut String, l: &LayoutResult, fleet: bool) {
    let status = summary::status(l);
    let _ = writeln!(
        out,
        "── layout \"{}\" [{status}] {}",
        l.name,
        "─".repeat(40usize.saturating_sub(l.name.len()))
    );
    if let Some(error) = &l.error {
        let _ = writeln!(out, "  error        {error}");
    }
    if l.status.measured() {
        let asked = summary::asked(l)
            .map(|asked| format!("; asked {asked}"))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "  throughput   {} req/s ({} requests in {:.2} s{asked})",
            thousands(l.throughput_rps),
            thousands(l.requests as f64),
            l.elapsed_s
        );
        if let Some(delivered) = summary::delivery(l) {
            let _ = writeln!(out, "  delivered    {delivered}");
        }
        latency::table(out, l);
        trials_lines(out, l);
        let kinds = lines::error_kinds(l);
        let _ = write!(out, "  errors       {} ({kinds})", l.errors);
        match &l.send_lag_ns {
            Some(lag) => {
                let _ = writeln!(
                    out,
                    "; late sends {} ({:.2}%), send lag p99 {}",
                    l.counts.late_sends,
                    100.0 * l.counts.late_sends as f64 / l.requests.max(1) as f64,
                    duration_ns(lag.p99)
                );
            }
            None => out.push('\n'),
        }
        let _ = writeln!(
            out,
            "  OS threads   max {} over {} replica(s)",
            summary::threads_max(l),
            l.replicas.len()
        );
        service_lines(out, l);
        out.push_str(&stages::text_table(l));
    }
    if fleet {
        fleet_lines(out, l);
    } else {
        for replica in &l.replicas {
            replica_line(out, replica);
        }
        load_line(out, l);
    }
    receive_lines(out, l);
    for reason in &l.suspect {
        let _ = writeln!(out, "  suspect      {reason}");
    }
    for note in &l.notes {
        let _ = writeln!(out, "  note         {note}");
    }
    out.push('\n');
}

fn replica_line(out: &mut String, r: &ReplicaResult) {
    let mark = if r.placement_ok { "ok" } else { "MISMATCH" };
    let memory_intended = if !r.intended_memory_policy.is_empty() {
        r.intended_memory_policy.clone()
    } else if r.intended_memory_nodes.is_empty() {
        "default".to_owned()
    } else {
        format!("bind:{}", cpulist::format(&r.intended_memory_nodes))
    };
    let pages: Vec<String> = r
        .pages_by_node
        .iter()
        .map(|(node, pages)| format!("N{node}={pages}"))
        .collect();
    let _ = writeln!(
        out,
        "  replica {}    pid {} CPUs {} (intended {}), memory {} (intended {}), {} workers, threads max {}, pages {} [{mark}]",
        r.index,
        r.pid,
        cpulist::format(&r.actual_cpus),
        if r.intended_cpus.is_empty() { "any".to_owned() } else { cpulist::format(&r.intended_cpus) },
        r.memory_policy,
        memory_intended,
        r.worker_threads,
        r.threads_max,
        if pages.is_empty() { "-".to_owned() } else { pages.join(" ") }
    );
    if let Some(line) = lines::replica_quota_line(r) {
        let _ = writeln!(out, "               {line}");
    }
    if let Some(line) = service::tree(r) {
        let _ = writeln!(out, "               tree: {line}");
    }
    for line in service::mismatches(r) {
        let _ = writeln!(out, "               MISMATCH {line}");
    }
    if let Some(line) = service::scraped(r) {
        let _ = writeln!(out, "               scraped: {line}");
    }
}

/// The request mix as a small table, then status codes and reconnects when worth a line.
fn service_lines(out: &mut String, l: &LayoutResult) {
    for (label, line) in [
        ("statuses   ", service::status_codes(l)),
        ("grpc-status", service::grpc_status_codes(l)),
        ("reconnects ", service::reconnects(l)),
        ("http/2     ", service::http2(l)),
    ] {
        if let Some(line) = line {
            let _ = writeln!(out, "  {label}  {line}");
        }
    }
    let rows = service::mix_rows(l);
    if rows.is_empty() {
        return;
    }
    let width = rows
        .iter()
        .map(|r| r.name.chars().count())
        .max()
        .unwrap_or(0)
        .max(7);
    let _ = writeln!(
        out,
        "  requests     {:<width$} {:>6} {:>5} {:>10} {:>10} {:>8} {:>10} {:>10} {:>10} {:>10}",
        "request", "weight", "share", "calls", "requests", "errors", "p50", "p99", "p99.9", "max"
    );
    for r in rows {
        let [p50, p99, p999, max] = &r.latency;
        let _ = writeln!(
            out,
            "               {:<width$} {:>6} {:>5} {:>10} {:>10} {:>8} {p50:>10} {p99:>10} {p999:>10} {max:>10}",
            r.name, r.weight, r.share, r.calls, r.requests, r.errors
        );
    }
}

/// Per host under test with more than one NUMA node: where its receive work ran.
fn receive_lines(out: &mut String, l: &LayoutResult) {
    let hosts: Vec<_> = l.net_receive.iter().filter(|h| h.nodes.len() > 1).collect();
    if hosts.len() > fleet::FLEET_AGENTS {
        let _ = writeln!(
            out,
            "  receive      {} hosts under test with several NUMA nodes: each one's receive \
             work per node is in the result",
            hosts.len()
        );
        return;
    }
    for host in hosts {
        let total = host.net_rx().max(1) as f64;
        let nodes: Vec<String> = host
            .nodes
            .iter()
            .map(|n| format!("node {} {:.0}%", n.node, n.net_rx as f64 * 100.0 / total))
            .collect();
        let nic = match (&host.interface[..], host.interface_node) {
            ("", _) => "no interface found".to_owned(),
            (name, Some(node)) => format!("{name} on node {node}"),
            (name, None) => format!("{name}, no NUMA node"),
        };
        let share = host.on_replica_nodes.map_or(String::new(), |s| {
            format!("; {:.0}% on the replicas' nodes", s * 100.0)
        });
        let trial = if l.trials.len() > 1 {
            format!(" (trial {})", host.trial)
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "  receive      {}{trial}: {nic}; NET_RX {}{share}",
            host.agent,
            nodes.join(", ")
        );
    }
}

fn load_line(out: &mut String, l: &LayoutResult) {
    let skew = fleet::start_skew_text(l);
    let local = |w: &&crate::result::LoadWorker| l.replicas.iter().any(|r| r.agent == w.agent);
    if !l.load.workers.is_empty() && !l.load.workers.iter().any(|w| local(&w)) {
        // Load agents on other hosts: each one's CPUs, none of the hosts under test's.
        let mut agents: Vec<&str> = l.load.workers.iter().map(|w| w.agent.as_str()).collect();
        agents.sort_unstable();
        agents.dedup();
        let per_agent: Vec<String> = agents
            .iter()
            .map(|agent| {
                let busy: Vec<String> = l
                    .load
                    .workers
                    .iter()
                    .filter(|w| w.agent == *agent)
                    .map(lines::load_worker)
                    .collect();
                format!("{agent}: {}", busy.join(", "))
            })
            .collect();
        let _ = writeln!(
            out,
            "  load from    {} load agent{} ({}){skew}",
            agents.len(),
            if agents.len() == 1 { "" } else { "s" },
            per_agent.join("; ")
        );
        return;
    }
    if l.load.cpus.is_empty() {
        return;
    }
    let busy: Vec<String> = l.load.workers.iter().map(lines::load_worker).collect();
    let shares = if l.load.shares_cpus_with_replicas {
        ", shared with replicas"
    } else {
        ", apart from replicas"
    };
    let _ = writeln!(
        out,
        "  load gen     CPUs {}{shares}{}{}{skew}",
        cpulist::format(&l.load.cpus),
        if busy.is_empty() { "" } else { ": " },
        busy.join(", ")
    );
}

/// The capacity search: the headline per layout, then every step.
fn search_block(out: &mut String, search: &crate::result::SearchResult) {
    let slo = duration_ns(search.slo_p99_ns);
    let _ = writeln!(
        out,
        "Max sustainable rate at p99 ≤ {slo} (errors ≤ {:.2}%, rate kept within 1%):",
        search.max_error_rate * 100.0
    );
    for layout in &search.layouts {
        let found = match (layout.max_rate_rps, layout.first_failing_rps) {
            (Some(pass), Some(fail)) => {
                format!("{} req/s (fails at {})", thousands(pass), thousands(fail))
            }
            (Some(pass), None) => format!(
                "{} req/s (no failure up to the highest rate tried)",
                thousands(pass)
            ),
            (None, _) => "none: the lowest rate tried already failed".to_owned(),
        };
        let _ = writeln!(out, "  {:<24} {found}", layout.name);
    }
    for layout in &search.layouts {
        let _ = writeln!(out, "  steps of \"{}\":", layout.name);
        let _ = writeln!(
            out,
            "    {:>12} {:>12} {:>10} {:>8}  result",
            "asked", "achieved", "p99", "errors"
        );
        for step in &layout.steps {
            let _ = writeln!(
                out,
                "    {:>12} {:>12} {:>10} {:>7.2}%  {}",
                thousands(step.rate_rps),
                thousands(step.achieved_rps),
                duration_ns(step.p99_ns),
                step.error_rate * 100.0,
                if step.passed {
                    "pass".to_owned()
                } else {
                    format!("FAIL: {}", step.reason)
                }
            );
        }
    }
    out.push('\n');
}

/// With `repeat = N`: each trial's throughput and p99, and the 95% intervals of their means.
fn trials_lines(out: &mut String, l: &LayoutResult) {
    if l.trials.len() < 2 {
        return;
    }
    let each: Vec<String> = l
        .trials
        .iter()
        .map(|t| {
            // A trial's own status shows when it is not ok (the layout's is the worst trial's).
            let status = match t.status {
                crate::result::LayoutStatus::Ok => String::new(),
                other => format!(" {}", other.as_str().to_uppercase()),
            };
            format!(
                "#{} {} req/s p99 {}{status}",
                t.trial,
                thousands(t.throughput_rps),
                summary::figure(&t.latency_ns, Pct::P99)
            )
        })
        .collect();
    let _ = writeln!(out, "  trials       {}", each.join(", "));
    if let Some(c) = &l.confidence {
        // The interval is about the mean of the trials' figures, not about the headline p99
        // (the merged histogram's, which it need not contain): both are named so, and the mean
        // it is centred on is shown beside it.
        let mid = |i: &crate::result::Interval| (i.low + i.high) / 2.0;
        let _ = writeln!(
            out,
            "  95% CI       of the mean over {} trials: throughput {} req/s [{}..{}], trials' p99 \
             {} [{}..{}] (the p99 above is the merged histogram's, a different statistic)",
            c.trials,
            thousands(mid(&c.throughput_rps)),
            thousands(c.throughput_rps.low),
            thousands(c.throughput_rps.high),
            duration_ns(mid(&c.p99_ns).max(0.0) as u64),
            duration_ns(c.p99_ns.low.max(0.0) as u64),
            duration_ns(c.p99_ns.high.max(0.0) as u64),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::result::CgroupSummary;

    #[test]
    fn cgroup_limits_show_in_the_host_header_and_per_replica_in_every_human_format() {
        let mut result: RunResult =
            serde_json::from_str(include_str!("../../tests/fixtures/quickstart-result.json"))
                .expect("fixture");
        let unlimited = render(&result);
        assert!(!unlimited.contains("cgroup"), "{unlimited}");
        for format in [super::super::Format::Markdown, super::super::Format::Html] {
            let shown = super::super::render(&result, format);
            assert!(!shown.contains("cgroup"), "{format:?}: {shown}");
        }
        let limited = CgroupSummary {
            version: "v1".into(),
            path: "/numaload-test-1".into(),
            cpuset_cpus: vec![0, 1],
            cpuset_mems: vec![],
            cpu_quota_cpus: Some(0.5),
        };
        result.host.cgroup = Some(limited.clone());
        result.hosts = vec![result.host.clone()];
        result.layouts[0].replicas[0].cgroup = Some(limited);
        result.layouts[0].replicas[0].worker_threads = 4;
        let text = render(&result);
        assert!(
            text.contains(
                "  agent cgroup v1 /numaload-test-1: CPU quota 0.50 CPUs, cpuset CPUs 0-1\n"
            ),
            "{text}"
        );
        assert!(
            text.contains("cgroup CPU quota 0.50 CPUs for 4 workers (2× or more: throttled)"),
            "{text}"
        );
        assert!(text.contains("! layout"), "{text}");
        // Markdown and HTML show the same lines.
        for format in [super::super::Format::Markdown, super::super::Format::Html] {
            let shown = super::super::render(&result, format);
            for line in [
                "cgroup v1 /numaload-test-1: CPU quota 0.50 CPUs, cpuset CPUs 0-1",
                "cgroup CPU quota 0.50 CPUs for 4 workers (2× or more: throttled)",
            ] {
                assert!(shown.contains(line), "{format:?} lacks {line:?}: {shown}");
            }
        }
        // A cgroup that limits nothing is not shown.
        result.host.cgroup = Some(CgroupSummary {
            version: "v1".into(),
            path: "/".into(),
            ..CgroupSummary::default()
        });
        result.hosts = vec![result.host.clone()];
        assert!(!render(&result).contains("agent cgroup"));
    }
}
