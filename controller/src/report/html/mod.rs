//! One self-contained HTML page: no network, no external script, stylesheet or font. The charts
//! are inline SVG drawn here ([`charts`], [`placement`]); a few lines of inline script show a
//! tooltip on hover and mark the page (`data-numaload-js="ready"` on `<html>`) so a test can tell
//! that it ran. Every piece of text from the result is escaped ([`svg::esc`]): layout and plan
//! names come from plan files.
//!
//! Order: the verdict, what to be careful about, the summary table, throughput and p99 across
//! layouts, then per layout its request mix, status codes and process trees ([`service`]), its
//! figures stage by stage ([`stages`]), its
//! latency distribution, OS threads and scraped series over time and placement, and last the
//! host and the plan as the result echoes them.

pub mod charts;
pub mod details;
pub mod placement;
pub mod sched;
pub mod service;
pub mod stages;
pub mod svg;
pub mod thresholds;
pub mod trend;

use std::fmt::Write as _;

use numaload_proto::cpulist;

use crate::report::caveats::{self, FlagKind};
use crate::report::lines;
use crate::report::pct::Pct;
use crate::report::summary::{self, percentile_cell};
use crate::report::thousands;
use crate::result::{LayoutResult, LayoutStatus, RunResult};
use svg::esc;

const STYLE: &str = r#"
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;margin:0;background:#f6f7f9;color:#1d232a}
main{max-width:1200px;margin:0 auto;padding:16px 20px 40px}
h1{font-size:22px;margin:8px 0 12px}h2{font-size:18px;margin:28px 0 10px;border-bottom:1px solid #d0d6dd;padding-bottom:4px}
h3{font-size:15px;margin:14px 0 6px}
.verdict{font-size:17px;font-weight:600;background:#e7f4ea;border-left:6px solid #2e8540;padding:12px 14px;border-radius:4px}
.verdict.none{background:#fdecea;border-color:#c0392b}.verdict.caution{background:#fff6e0;border-color:#e69f00}
.flags{background:#fff6e0;border-left:6px solid #e69f00;padding:8px 14px 8px 14px;border-radius:4px;margin-top:12px}
.flags h2{border:0;margin:4px 0;font-size:15px}.flags ul{margin:4px 0 4px 18px;padding:0}.flags li.failed,.flags li.placement{color:#a61b0f;font-weight:600}
table{border-collapse:collapse;background:#fff;font-size:13px;margin:6px 0}
th,td{border:1px solid #d0d6dd;padding:4px 8px;text-align:left;vertical-align:top}td.num{text-align:right;font-variant-numeric:tabular-nums}
th{background:#eef1f4}.status-FAILED,.status-DEGRADED,.status-INCOMPLETE,.status-SUSPECT,.bad{color:#a61b0f;font-weight:600}.na{color:#7b8794;font-style:italic}
.row{display:flex;flex-wrap:wrap;gap:16px}.panel{background:#fff;border:1px solid #d0d6dd;border-radius:4px;padding:6px}
.layout{background:#fff;border:1px solid #d0d6dd;border-radius:6px;padding:4px 14px 12px;margin:16px 0}
.layout h2{border:0;margin:10px 0 4px}.layout .sub{color:#52606d;font-size:13px;margin:0 0 8px}
svg text{font-family:inherit}.tick{font-size:11px;fill:#52606d}.axis-label,.legend{font-size:12px;fill:#1d232a}.note{font-size:11px;fill:#7b8794;font-style:italic}
.value{font-size:12px;fill:#1d232a}.value.warn{fill:#a61b0f;font-weight:600}
.grid{stroke:#e3e7eb;stroke-width:1}.axis{stroke:#7b8794;stroke-width:1}
.corr{stroke:#0072B2;stroke-width:2.2;fill:none}.uncorr{stroke:#E69F00;stroke-width:2;fill:none;stroke-dasharray:6 3}
.dot{fill:#fff;stroke-width:1.5;stroke:#1d232a}.dot.corr{stroke:#0072B2}.dot.uncorr{stroke:#E69F00}
.key{stroke-width:3}.threads{fill:none;stroke-width:2}.sparse{fill:#eef1f4}
.bar{stroke:none}.node{fill:#f6f7f9;stroke:#7b8794;stroke-width:1;rx:6}.cell{stroke:#52606d;stroke-width:1}
.cell.mismatch{stroke:#a61b0f;stroke-width:3}.cell.clash{stroke:#7a1a00;stroke-width:2}.intended{fill:none;stroke:#a61b0f;stroke-width:2;stroke-dasharray:4 2}
.cpu{font-size:11px;fill:#fff;font-weight:600}.cpu.dark{fill:#52606d}
p.key{font-size:12px;color:#52606d}.swatch{display:inline-block;width:12px;height:12px;border:1px solid #52606d;margin:0 4px 0 10px;vertical-align:-2px}.swatch.mismatch{border:3px solid #a61b0f;width:8px;height:8px}
.placeholder{color:#7b8794;font-style:italic;padding:20px}
#tip{position:absolute;background:#1d232a;color:#fff;font-size:12px;padding:4px 8px;border-radius:4px;pointer-events:none;white-space:nowrap}
footer{color:#7b8794;font-size:12px;margin-top:30px}
"#;

/// Shows a tooltip for every element with `data-tip`, then marks the page as scripted.
const SCRIPT: &str = r#"
(function () {
  var tip = document.getElementById('tip');
  var targets = document.querySelectorAll('[data-tip]');
  for (var i = 0; i < targets.length; i++) {
    (function (el) {
      el.addEventListener('mousemove', function (ev) {
        tip.textContent = el.getAttribute('data-tip');
        tip.style.left = (ev.pageX + 12) + 'px';
        tip.style.top = (ev.pageY + 12) + 'px';
        tip.hidden = false;
      });
      el.addEventListener('mouseleave', function () { tip.hidden = true; });
    })(targets[i]);
  }
  document.documentElement.setAttribute('data-numaload-js', 'ready');
})();
"#;

/// Renders the whole page.
pub fn render(result: &RunResult) -> String {
    let mut out = String::new();
    let title = format!(
        "numaload: plan \"{}\" on {}",
        result.plan.name, result.host.hostname
    );
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{}</title><style>{STYLE}</style></head><body><main>\n",
        esc(&title)
    );
    let _ = writeln!(out, "<h1>{}</h1>", esc(&title));
    let _ = writeln!(
        out,
        r#"<p id="load">load: {}</p>"#,
        esc(&crate::report::stages::load_words(&result.plan.load))
    );
    let line = crate::report::verdict::run_verdict(result);
    let class = if line.contains("no layout") {
        " none"
    } else if crate::report::verdict::cautions(&line) {
        " caution"
    } else {
        ""
    };
    let _ = writeln!(
        out,
        r#"<div class="verdict{class}" id="verdict">{}</div>"#,
        esc(&line)
    );
    flags(&mut out, result);
    if let Some(search) = &result.search {
        search_table(&mut out, search);
    }
    summary_table(&mut out, result);
    thresholds::table(&mut out, result);
    let (throughput, p99) = charts::bars(&result.layouts);
    let _ = writeln!(
        out,
        r#"<h2>Across layouts</h2><div class="row"><div class="panel">{throughput}</div><div class="panel">{p99}</div></div>"#
    );
    for layout in &result.layouts {
        layout_section(&mut out, result, layout);
    }
    details::details(&mut out, result);
    let _ = writeln!(
        out,
        "<footer>numaload {} · run {} · started {} · rendered from the result file alone</footer>",
        esc(&result.numaload_version),
        esc(&result.run_id),
        esc(&result.started_at)
    );
    let _ = writeln!(
        out,
        "</main><div id=\"tip\" hidden></div><script>{SCRIPT}</script></body></html>"
    );
    out
}

fn flags(out: &mut String, result: &RunResult) {
    let flags = caveats::flags(result);
    if flags.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        r#"<div class="flags" id="flags"><h2>Check before trusting these numbers</h2><ul>"#
    );
    for flag in flags {
        let class = match flag.kind {
            FlagKind::Failed | FlagKind::Cancelled | FlagKind::Degraded | FlagKind::Incomplete => {
                "failed"
            }
            FlagKind::PlacementMismatch => "placement",
            FlagKind::Suspect | FlagKind::TooFewSamples | FlagKind::QuotaOversubscribed => {
                "suspect"
            }
        };
        let _ = writeln!(out, r#"<li class="{class}">{}</li>"#, esc(&flag.line()));
    }
    let _ = writeln!(out, "</ul></div>");
}

fn summary_table(out: &mut String, result: &RunResult) {
    let _ = writeln!(
        out,
        "<h2>Summary</h2><table id=\"summary\"><thead><tr><th>layout</th><th>status</th><th>throughput</th>\
         <th>latency</th><th>p50</th><th>p99</th><th>p99.9</th><th>max</th><th>errors</th>\
         <th>threads max</th><th>placement</th></tr></thead><tbody>"
    );
    for l in &result.layouts {
        let status = summary::status(l);
        let placement = if summary::placement_ok(l) {
            "ok".to_owned()
        } else {
            r#"<span class="bad">MISMATCH</span>"#.to_owned()
        };
        let open = l.mode == "open" && l.status.measured();
        let setup = if l.status.measured() {
            summary::setup_rows(l)
        } else {
            Vec::new()
        };
        let rows = 1 + usize::from(open) + setup.len();
        let _ = write!(
            out,
            r#"<tr><td rowspan="{rows}">{}</td><td rowspan="{rows}" class="status-{status}">{status}</td>"#,
            esc(&l.name)
        );
        if !l.status.measured() {
            let _ = writeln!(
                out,
                r#"<td colspan="8" class="bad">not measured: {}</td><td>{placement}</td></tr>"#,
                esc(l.error.as_deref().unwrap_or("no reason given"))
            );
            continue;
        }
        let _ = writeln!(
            out,
            r#"<td rowspan="{rows}" class="num">{} req/s</td><td>{}</td>{}<td rowspan="{rows}" class="num">{}</td><td rowspan="{rows}" class="num">{}</td><td rowspan="{rows}">{placement}</td></tr>"#,
            thousands(l.throughput_rps),
            summary::corrected_label(l),
            percentile_cells(&l.latency_ns),
            thousands(l.errors as f64),
            summary::threads_max(l)
        );
        if open {
            let _ = writeln!(
                out,
                "<tr><td>uncorrected</td>{}</tr>",
                percentile_cells(&l.latency_uncorrected_ns)
            );
        }
        for (label, p) in setup {
            let _ = writeln!(out, "<tr><td>{label}</td>{}</tr>", percentile_cells(p));
        }
    }
    let _ = writeln!(out, "</tbody></table>");
}

/// The cells of p50, p99, p99.9 and max; a lower bound reads "≥ 3.90 s" and says why on hover.
fn percentile_cells(p: &crate::result::Percentiles) -> String {
    [Pct::P50, Pct::P99, Pct::P999, Pct::Max]
        .map(|pct| {
            let text = percentile_cell(p, pct);
            let class = if pct.shown(p).is_some() {
                "num"
            } else {
                "num na"
            };
            let tip = if pct.shown(p).is_some() && p.is_lower_bound(pct.field()) {
                format!(r#" data-tip="{}""#, esc(summary::AT_LEAST_MEANS))
            } else {
                String::new()
            };
            format!(r#"<td class="{class}"{tip}>{}</td>"#, esc(&text))
        })
        .concat()
}

/// Whether a figure of the layout's section (its own, its mix's or a stage's) is a lower bound,
/// so the section explains the mark.
fn shows_a_lower_bound(l: &LayoutResult) -> bool {
    let shown = [Pct::P50, Pct::P99, Pct::P999, Pct::Max];
    l.status.measured()
        && (summary::shows_a_lower_bound(&l.latency_ns, &shown)
            || crate::report::service::mix_shows_a_lower_bound(l)
            || crate::report::stages::stages_show_a_lower_bound(l))
}

fn layout_section(out: &mut String, result: &RunResult, l: &LayoutResult) {
    let status = summary::status(l);
    let _ = writeln!(
        out,
        r#"<section class="layout"><h2>Layout “{}” <span class="status-{status}">[{status}]</span></h2>"#,
        esc(&l.name)
    );
    let fleet = crate::report::fleet::is_fleet(result);
    let load = if l.load.cpus.is_empty() {
        String::new()
    } else if fleet {
        crate::report::fleet::load_text(l)
            .map(|t| format!("; load generators: {t}"))
            .unwrap_or_default()
    } else {
        let busy: Vec<String> = l.load.workers.iter().map(lines::load_worker).collect();
        format!(
            "; load generator on CPUs {}{} ({})",
            cpulist::format(&l.load.cpus),
            if l.load.shares_cpus_with_replicas {
                ", SHARED with replicas"
            } else {
                ""
            },
            busy.join(", ")
        )
    };
    let _ = writeln!(
        out,
        r#"<p class="sub">{} replica(s), {} mode{}</p>"#,
        l.replicas.len(),
        esc(&l.mode),
        esc(&load)
    );
    // An incomplete layout's flag below says the same.
    let delivery = summary::delivery(l).filter(|_| l.status != LayoutStatus::Incomplete);
    if let Some(delivered) = delivery {
        let class = if summary::delivery_notable(l) {
            "bad"
        } else {
            "sub"
        };
        let _ = writeln!(
            out,
            r#"<p class="{class}">delivered {}</p>"#,
            esc(&delivered)
        );
    }
    for flag in caveats::layout_flags(l) {
        let _ = writeln!(out, r#"<p class="bad">⚠ {}</p>"#, esc(&flag.message));
    }
    if shows_a_lower_bound(l) {
        let _ = writeln!(
            out,
            r#"<p class="sub">{}</p>"#,
            esc(summary::AT_LEAST_MEANS)
        );
    }
    out.push_str(&service::section(l));
    out.push_str(&stages::section(l));
    if fleet {
        fleet_section(out, l);
        return;
    }
    // Scraped series sit beside the thread series, one panel each.
    let scraped: String = charts::scraped_names(l)
        .into_iter()
        .map(|name| {
            format!(
                r#"<div class="panel"><h3>{} per replica</h3>{}</div>"#,
                esc(name),
                charts::scraped(l, name)
            )
        })
        .collect();
    let scheduler = sched::panels(l);
    let _ = writeln!(
        out,
        r#"<div class="row"><div class="panel"><h3>Latency by percentile</h3>{}</div><div class="panel"><h3>OS threads per replica</h3>{}</div>{scheduler}{scraped}</div>"#,
        charts::latency(l),
        charts::threads(l)
    );
    let hosts = placement::hosts(result);
    for host in &hosts {
        let nodes = placement::node_of_cpus(result, host);
        let mine = placement::on_host(l, host, hosts.len());
        let _ = writeln!(
            out,
            r#"<h3>Placement on the CPUs of {} ({} of {} PUs allowed)</h3><div class="panel">{}</div>"#,
            esc(&host.hostname),
            host.allowed_cpus.len(),
            host.pus,
            placement::drawing(host, &mine, &nodes)
        );
    }
    let _ = writeln!(out, "{}", placement::legend(l.replicas.len()));
    for note in &l.notes {
        let _ = writeln!(out, r#"<p class="sub">note: {}</p>"#, esc(note));
    }
    let _ = writeln!(out, "</section>");
}

/// A fleet's layout: its latency distribution, then how its agents fared instead of a series
/// per replica and a drawing per host (every agent's and replica's figures are in the result).
fn fleet_section(out: &mut String, l: &LayoutResult) {
    let _ = writeln!(
        out,
        r#"<div class="row"><div class="panel"><h3>Latency by percentile</h3>{}</div></div><h3>Agents</h3><table class="fleet"><tbody>"#,
        charts::latency(l)
    );
    for (label, text) in crate::report::fleet::rows(l) {
        let _ = writeln!(out, "<tr><th>{label}</th><td>{}</td></tr>", esc(&text));
    }
    let _ = writeln!(out, "</tbody></table>");
    for note in &l.notes {
        let _ = writeln!(out, r#"<p class="sub">note: {}</p>"#, esc(note));
    }
    let _ = writeln!(out, "</section>");
}

/// A capacity search: the max sustainable rate per layout and every step it took.
fn search_table(out: &mut String, search: &crate::result::SearchResult) {
    let slo = crate::report::duration_ns(search.slo_p99_ns);
    let _ = writeln!(
        out,
        "<h2>Max sustainable rate at p99 ≤ {}</h2><table><tr><th>layout</th><th>max rate</th>\
         <th>first failing</th><th>steps (asked → achieved, p99, result)</th></tr>",
        esc(&slo)
    );
    for l in &search.layouts {
        let rate = |r: Option<f64>| r.map_or("-".to_owned(), |r| format!("{} req/s", thousands(r)));
        let steps: Vec<String> = l
            .steps
            .iter()
            .map(|s| {
                format!(
                    "{} → {} req/s, p99 {}, {}",
                    thousands(s.rate_rps),
                    thousands(s.achieved_rps),
                    crate::report::duration_ns(s.p99_ns),
                    if s.passed {
                        "pass".to_owned()
                    } else {
                        format!("fail: {}", s.reason)
                    }
                )
            })
            .collect();
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&l.name),
            esc(&rate(l.max_rate_rps)),
            esc(&rate(l.first_failing_rps)),
            steps
                .iter()
                .map(|s| esc(s))
                .collect::<Vec<_>>()
                .join("<br>")
        );
    }
    let _ = writeln!(out, "</table>");
}
