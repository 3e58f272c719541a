//! Markdown to paste into a pull request: the verdict first, what to be careful about as a
//! list, one summary table (two rows per layout: corrected and uncorrected latency; a figure
//! that is a lower bound reads "≥ 3.90 s"), under it the delivery of each layout whose load was
//! not fully delivered, and the host and plan folded in a `<details>` block. GitHub-flavoured
//! (tables, `<details>`).

use std::fmt::Write as _;

use numaload_proto::cpulist;

use crate::report::caveats;
use crate::report::fleet;
use crate::report::lines;
use crate::report::pct::Pct;
use crate::report::service;
use crate::report::stages;
use crate::report::summary::{self, percentile_cell};
use crate::report::thousands;
use crate::result::{LayoutResult, RunResult};

/// Renders the whole report.
pub fn render(result: &RunResult) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "### numaload: plan \"{}\" on {}\n",
        escape(&result.plan.name),
        escape(&result.host.hostname)
    );
    let _ = writeln!(
        out,
        "**{}**\n",
        escape(&crate::report::verdict::run_verdict(result))
    );
    let flags = caveats::flags(result);
    if !flags.is_empty() {
        let _ = writeln!(out, "**Check before trusting these numbers:**\n");
        for flag in &flags {
            let _ = writeln!(out, "- :warning: {}", escape(&flag.line()));
        }
        out.push('\n');
    }
    if let Some(search) = &result.search {
        search_table(&mut out, search);
    }
    table(&mut out, result);
    if fleet::is_fleet(result) {
        fleet_section(&mut out, result);
    }
    thresholds_table(&mut out, result);
    service_section(&mut out, result);
    stages_section(&mut out, result);
    details(&mut out, result);
    out
}

/// A fleet: per layout, how its agents fared, the spread of their figures and the worst five.
fn fleet_section(out: &mut String, result: &RunResult) {
    for l in &result.layouts {
        let _ = writeln!(out, "{}:\n", code(&l.name));
        for (label, text) in fleet::rows(l) {
            let _ = writeln!(out, "- {label}: {}", escape(&text));
        }
        out.push('\n');
    }
}

/// Per layout with anything to say: status codes, grpc-status codes, reconnects, HTTP/2, the
/// connections opened (and TLS handshakes resumed), and the request mix table.
fn service_section(out: &mut String, result: &RunResult) {
    for l in result.layouts.iter().filter(|l| l.status.measured()) {
        let rows = service::mix_rows(l);
        let bullets: Vec<String> = service::labelled_lines(l)
            .into_iter()
            .map(|(label, line)| format!("- {label}: {}\n", escape(&line)))
            .collect();
        if rows.is_empty() && bullets.is_empty() {
            continue;
        }
        let _ = writeln!(out, "{}:\n", code(&l.name));
        if !bullets.is_empty() {
            let _ = writeln!(out, "{}", bullets.concat());
        }
        if rows.is_empty() {
            continue;
        }
        let _ = writeln!(
            out,
            "| request | weight | share | calls | requests | errors | p50 | p99 | p99.9 | max |"
        );
        let _ = writeln!(out, "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|");
        for r in rows {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} |",
                code(&r.name),
                r.weight,
                r.share,
                r.calls,
                r.requests,
                r.errors,
                r.latency.join(" | ")
            );
        }
        out.push('\n');
    }
}

/// Per layout of a run with stages: one table, a row per stage.
fn stages_section(out: &mut String, result: &RunResult) {
    for l in result.layouts.iter().filter(|l| l.status.measured()) {
        let rows = stages::stage_rows(l);
        if rows.is_empty() {
            continue;
        }
        let _ = writeln!(out, "{} by stage:\n", code(&l.name));
        let _ = writeln!(
            out,
            "| stage | asked | span | throughput | requests | errors | late sends | p50 | p99 | p99.9 | max |"
        );
        let _ = writeln!(out, "|--:|---|---|--:|--:|--:|--:|--:|--:|--:|--:|");
        for r in rows {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} | {} |",
                r.stage,
                escape(&r.asked),
                r.span,
                r.throughput,
                r.requests,
                r.errors,
                r.late_sends,
                r.latency.join(" | ")
            );
        }
        out.push('\n');
    }
}

/// A capacity search: the max sustainable rate per layout, then every step.
fn search_table(out: &mut String, search: &crate::result::SearchResult) {
    let slo = crate::report::duration_ns(search.slo_p99_ns);
    let _ = writeln!(
        out,
        "| layout | max sustainable rate at p99 ≤ {slo} | first failing rate | steps |"
    );
    let _ = writeln!(out, "|---|--:|--:|---|");
    for l in &search.layouts {
        let rate = |r: Option<f64>| r.map_or("-".to_owned(), |r| format!("{} req/s", thousands(r)));
        let steps: Vec<String> = l
            .steps
            .iter()
            .map(|s| {
                format!(
                    "{} {} (p99 {})",
                    thousands(s.rate_rps),
                    if s.passed { "✓" } else { "✗" },
                    crate::report::duration_ns(s.p99_ns)
                )
            })
            .collect();
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} |",
            code(&l.name),
            rate(l.max_rate_rps),
            rate(l.first_failing_rps),
            escape(&steps.join(", "))
        );
    }
    out.push('\n');
}

fn table(out: &mut String, result: &RunResult) {
    let _ = writeln!(
        out,
        "| layout | status | throughput | latency | p50 | p99 | p99.9 | max | errors | threads max | placement |"
    );
    let _ = writeln!(out, "|---|---|--:|---|--:|--:|--:|--:|--:|--:|---|");
    for l in &result.layouts {
        let name = code(&l.name);
        let placement = if summary::placement_ok(l) {
            "ok"
        } else {
            "**MISMATCH**"
        };
        if !l.status.measured() {
            let _ = writeln!(
                out,
                "| {name} | **FAILED** | - | - | - | - | - | - | - | - | {placement} |"
            );
            continue;
        }
        let status = bold_unless_ok(summary::status(l));
        let _ = writeln!(
            out,
            "| {name} | {status} | {} req/s | {} | {} | {} | {} | {} |",
            thousands(l.throughput_rps),
            summary::corrected_label(l),
            percentiles(l, false),
            thousands(l.errors as f64),
            summary::threads_max(l),
            placement
        );
        if l.mode == "open" {
            let _ = writeln!(
                out,
                "| | | | uncorrected | {} | | | |",
                percentiles(l, true)
            );
        }
        for (label, p) in summary::setup_rows(l) {
            let cells =
                [Pct::P50, Pct::P99, Pct::P999, Pct::Max].map(|pct| percentile_cell(p, pct));
            let _ = writeln!(out, "| | | | {label} | {} | | | |", cells.join(" | "));
        }
    }
    out.push('\n');
    delivery_notes(out, result);
}

/// Below the table: each layout whose load was not fully delivered (or whose warm-up left a
/// backlog) says how much was, and what "≥" means when a figure shows it.
fn delivery_notes(out: &mut String, result: &RunResult) {
    let mut lines: Vec<String> = result
        .layouts
        .iter()
        .filter(|l| summary::delivery_notable(l))
        .filter_map(|l| {
            let delivered = summary::delivery(l)?;
            Some(format!(
                "- {} {}: delivered {}",
                code(&l.name),
                bold_unless_ok(summary::status(l)),
                escape(&delivered)
            ))
        })
        .collect();
    let shown = [Pct::P50, Pct::P99, Pct::P999, Pct::Max];
    let bounds = result.layouts.iter().any(|l| {
        l.status.measured()
            && (summary::shows_a_lower_bound(&l.latency_ns, &shown)
                || summary::shows_a_lower_bound(&l.latency_uncorrected_ns, &shown)
                || service::mix_shows_a_lower_bound(l)
                || stages::stages_show_a_lower_bound(l))
    });
    if bounds {
        lines.push(format!("- {}", escape(summary::AT_LEAST_MEANS)));
    }
    if !lines.is_empty() {
        let _ = writeln!(out, "{}\n", lines.join("\n"));
    }
}

/// `ok` as it is, any other status in bold.
fn bold_unless_ok(status: &str) -> String {
    if status == "ok" {
        status.to_owned()
    } else {
        format!("**{status}**")
    }
}

/// `p50 | p99 | p99.9 | max` cells, without the outer pipes.
fn percentiles(l: &LayoutResult, uncorrected: bool) -> String {
    let p = if uncorrected {
        &l.latency_uncorrected_ns
    } else {
        &l.latency_ns
    };
    [Pct::P50, Pct::P99, Pct::P999, Pct::Max]
        .map(|pct| percentile_cell(p, pct))
        .join(" | ")
}

#[allow(
    clippy::too_many_lines,
    reason = "the details section, one layout's tables after another in the order they are read"
)]
fn details(out: &mut String, r: &RunResult) {
    let load = &r.plan.load;
    let _ = writeln!(
        out,
        "<details><summary>Host, plan and placement</summary>\n"
    );
    let hosts = if r.hosts.is_empty() {
        std::slice::from_ref(&r.host)
    } else {
        r.hosts.as_slice()
    };
    let fleet = fleet::is_fleet(r);
    if fleet {
        for (kind, agents) in fleet::host_kinds(r) {
            let _ = writeln!(out, "- hosts: {agents} agents on {}", escape(&kind));
        }
    }
    for h in hosts.iter().filter(|_| !fleet) {
        let _ = writeln!(
            out,
            "- host {} (agent {}): {}, {} package(s), {} NUMA node(s), {} cores, {} PUs (allowed {}), Linux {}",
            code(&h.hostname),
            code(&h.agent),
            escape(&h.cpu_model),
            h.packages,
            h.numa_nodes,
            h.cores,
            h.pus,
            cpulist::format(&h.allowed_cpus),
            escape(&h.kernel)
        );
        if let Some(line) = h.cgroup.as_ref().and_then(lines::cgroup_line) {
            let _ = writeln!(out, "  - agent {}", escape(&line));
        }
    }
    let mode = stages::load_words(load);
    let _ = writeln!(
        out,
        "- target {}{}; load {mode}, {} connections, {} measured after {} warm-up",
        code(&r.plan.target.name),
        match r.plan.target.work_us {
            0 => String::new(),
            us => format!(" (work {us} µs)"),
        },
        load.connections,
        humantime::format_duration(load.duration),
        humantime::format_duration(load.warmup)
    );
    if let Some(line) = super::service::requests_line(&r.plan) {
        let _ = writeln!(out, "- {}", escape(&line));
    }
    let _ = writeln!(
        out,
        "- numaload {}, run {}, started {}\n",
        escape(&r.numaload_version),
        code(&r.run_id),
        escape(&r.started_at)
    );
    if fleet {
        // Each replica is in the result; the flags above name any that did not run where
        // it was placed.
        let _ = writeln!(out, "\n</details>");
        return;
    }
    let _ = writeln!(
        out,
        "| layout | replica | CPUs (intended) | memory (intended) | threads max | load CPUs |"
    );
    let _ = writeln!(out, "|---|--:|---|---|--:|---|");
    for l in &r.layouts {
        let load_cpus = format!(
            "{}{}",
            cpulist::format(&l.load.cpus),
            if l.load.shares_cpus_with_replicas {
                " (shared)"
            } else {
                ""
            }
        );
        for rep in &l.replicas {
            let _ = writeln!(
                out,
                "| {} | {} | {} ({}) | {} ({}) | {} | {} |",
                code(&l.name),
                rep.index,
                cpulist::format(&rep.actual_cpus),
                if rep.intended_cpus.is_empty() {
                    "any".to_owned()
                } else {
                    cpulist::format(&rep.intended_cpus)
                },
                escape(&rep.memory_policy),
                if !rep.intended_memory_policy.is_empty() {
                    rep.intended_memory_policy.clone()
                } else if rep.intended_memory_nodes.is_empty() {
                    "default".to_owned()
                } else {
                    format!("bind:{}", cpulist::format(&rep.intended_memory_nodes))
                },
                rep.threads_max,
                load_cpus
            );
        }
    }
    let quotas: Vec<String> = r
        .layouts
        .iter()
        .flat_map(|l| {
            l.replicas.iter().filter_map(move |rep| {
                lines::replica_quota_line(rep).map(|line| {
                    format!(
                        "- {} replica {}: {}",
                        code(&l.name),
                        rep.index,
                        escape(&line)
                    )
                })
            })
        })
        .collect();
    if !quotas.is_empty() {
        let _ = writeln!(out, "\n{}", quotas.join("\n"));
    }
    let trees: Vec<String> = r
        .layouts
        .iter()
        .flat_map(|l| l.replicas.iter().map(move |rep| (l, rep)))
        .flat_map(|(l, rep)| {
            let at = format!("- {} replica {}", code(&l.name), rep.index);
            let tree = service::tree(rep).map(|t| format!("{at} tree: {}", escape(&t)));
            let mismatches = service::mismatches(rep)
                .into_iter()
                .map(|m| format!("{at} **MISMATCH** {}", escape(&m)));
            let scraped = service::scraped(rep).map(|s| format!("{at} scraped: {}", escape(&s)));
            tree.into_iter()
                .chain(mismatches)
                .chain(scraped)
                .collect::<Vec<_>>()
        })
        .collect();
    if !trees.is_empty() {
        let _ = writeln!(out, "\n{}", trees.join("\n"));
    }
    let _ = writeln!(out, "\n</details>");
}

/// Text from the result as a code span: nothing inside formats, but a backtick would end it
/// and a pipe would end a table cell (GFM honours `\\|` inside code spans in tables).
pub fn code(text: &str) -> String {
    let inner: String = text
        .chars()
        .map(|c| match c {
            '`' => '\'',
            '\n' | '\r' => ' ',
            c => c,
        })
        .collect();
    format!("`{}`", inner.replace('|', "\\|"))
}

/// Makes text from the result inert in Markdown: punctuation that would format is
/// backslash-escaped, HTML is neutralised, line breaks become spaces (they would end a table
/// row or a list item).
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\n' | '\r' => out.push(' '),
            '\\' | '`' | '*' | '_' | '[' | ']' | '|' | '#' | '~' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

/// The plan's `[thresholds]`: one row per layout and threshold, with its value and outcome.
fn thresholds_table(out: &mut String, result: &RunResult) {
    let rows = crate::report::thresholds::rows(result);
    let Some(summary) = crate::report::thresholds::summary(&rows) else {
        return;
    };
    let _ = writeln!(out, "**{}**\n", escape(&summary));
    let _ = writeln!(out, "| layout | threshold | value | outcome |");
    let _ = writeln!(out, "|---|---|---|---|");
    for r in &rows {
        let word = if r.outcome == crate::result::ThresholdOutcome::Pass {
            r.word.to_owned()
        } else {
            format!("**{}**", r.word)
        };
        let outcome = if r.why.is_empty() {
            word
        } else {
            format!("{word}: {}", escape(&r.why))
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {outcome} |",
            code(&r.layout),
            code(&r.threshold),
            escape(&r.value)
        );
    }
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_what_would_format() {
        let cases = [
            ("per-node", "per-node"),
            ("a|b", "a\\|b"),
            ("<script>", "&lt;script&gt;"),
            ("**x**", "\\*\\*x\\*\\*"),
            ("two\nlines", "two lines"),
        ];
        for (input, expected) in cases {
            assert_eq!(escape(input), expected);
        }
    }
}
