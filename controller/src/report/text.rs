//! The terminal report: a header (plan, load, host), one block per layout, the verdict last
//! and first (a reader who looks at one line should see the answer).

use std::fmt::Write as _;

use numaload_proto::cpulist;

use crate::report::{duration_ns, thousands, verdict::verdict};
use crate::result::{LayoutResult, LayoutStatus, Percentiles, ReplicaResult, RunResult};

/// Renders the whole report.
pub fn render(result: &RunResult) -> String {
    let mut out = String::new();
    let verdict = verdict(&result.layouts);
    header(&mut out, result);
    let _ = writeln!(out, "{verdict}\n");
    for layout in &result.layouts {
        layout_block(&mut out, layout);
    }
    if result.cancelled {
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
    let mode = match load.rate() {
        Some(rate) => format!("open loop at {} req/s", thousands(rate)),
        None => "closed loop (as fast as each connection can go)".to_owned(),
    };
    let _ = writeln!(
        out,
        "numaload {} — plan \"{}\", run {}",
        r.numaload_version, r.plan.name, r.run_id
    );
    let _ = writeln!(
        out,
        "host {}: {}, {} package(s), {} NUMA node(s) in {} domain(s), {} cores, {} PUs (allowed {}), Linux {}",
        h.hostname,
        h.cpu_model,
        h.packages,
        h.numa_nodes,
        h.numa_domains,
        h.cores,
        h.pus,
        cpulist::format(&h.allowed_cpus),
        h.kernel
    );
    let _ = writeln!(
        out,
        "target {} (work {} µs per request); load {mode}, {} connections, {} measured after {} warm-up",
        r.plan.target.name,
        r.plan.target.work_us,
        load.connections,
        humantime::format_duration(load.duration),
        humantime::format_duration(load.warmup)
    );
}

fn layout_block(out: &mut String, l: &LayoutResult) {
    let status = match l.status {
        LayoutStatus::Ok if l.suspect.is_empty() => "ok",
        LayoutStatus::Ok => "SUSPECT",
        LayoutStatus::Failed => "FAILED",
    };
    let _ = writeln!(
        out,
        "── layout \"{}\" [{status}] {}",
        l.name,
        "─".repeat(40usize.saturating_sub(l.name.len()))
    );
    if let Some(error) = &l.error {
        let _ = writeln!(out, "  error        {error}");
    }
    if l.status == LayoutStatus::Ok {
        let asked = l
            .target_rate_rps
            .map(|r| format!("; asked {} req/s", thousands(r)))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "  throughput   {} req/s ({} requests in {:.2} s{asked})",
            thousands(l.throughput_rps),
            thousands(l.requests as f64),
            l.elapsed_s
        );
        let _ = writeln!(
            out,
            "  latency      {:>10} {:>10} {:>10} {:>10}",
            "p50", "p99", "p99.9", "max"
        );
        let corrected_label = if l.mode == "open" {
            "corrected"
        } else {
            "closed-loop"
        };
        percentile_row(out, corrected_label, &l.latency_ns);
        if l.mode == "open" {
            percentile_row(out, "uncorrected", &l.latency_uncorrected_ns);
        }
        let e = &l.errors_by_kind;
        let _ = write!(
            out,
            "  errors       {} (connect {}, io {}, timeout {}, http status {}, parse {})",
            l.errors, e.connect, e.io, e.timeout, e.http_status, e.parse
        );
        match &l.send_lag_ns {
            Some(lag) => {
                let _ = writeln!(
                    out,
                    "; late sends {} ({:.2}%), send lag p99 {}",
                    l.late_sends,
                    100.0 * l.late_sends as f64 / l.requests.max(1) as f64,
                    duration_ns(lag.p99)
                );
            }
            None => out.push('\n'),
        }
        let threads_max = l.replicas.iter().map(|r| r.threads_max).max().unwrap_or(0);
        let _ = writeln!(
            out,
            "  OS threads   max {threads_max} over {} replica(s)",
            l.replicas.len()
        );
    }
    for replica in &l.replicas {
        replica_line(out, replica);
    }
    load_line(out, l);
    for reason in &l.suspect {
        let _ = writeln!(out, "  suspect      {reason}");
    }
    for note in &l.notes {
        let _ = writeln!(out, "  note         {note}");
    }
    out.push('\n');
}

fn percentile_row(out: &mut String, label: &str, p: &Percentiles) {
    let _ = writeln!(
        out,
        "  {label:<12} {:>10} {:>10} {:>10} {:>10}",
        duration_ns(p.p50),
        duration_ns(p.p99),
        duration_ns(p.p999),
        duration_ns(p.max)
    );
}

fn replica_line(out: &mut String, r: &ReplicaResult) {
    let mark = if r.placement_ok { "ok" } else { "MISMATCH" };
    let memory_intended = if r.intended_memory_nodes.is_empty() {
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
}

fn load_line(out: &mut String, l: &LayoutResult) {
    if l.load.cpus.is_empty() {
        return;
    }
    let busy: Vec<String> = l
        .load
        .workers
        .iter()
        .map(|w| format!("CPU {} {:.0}% busy", w.cpu, w.busy * 100.0))
        .collect();
    let shares = if l.load.shares_cpus_with_replicas {
        ", shared with replicas"
    } else {
        ", apart from replicas"
    };
    let _ = writeln!(
        out,
        "  load gen     CPUs {}{shares}{}{}",
        cpulist::format(&l.load.cpus),
        if busy.is_empty() { "" } else { ": " },
        busy.join(", ")
    );
}
