//! The end of the HTML report: the host (and a fleet's hosts by kind) and the plan, key by
//! key, as the result echoes them.

use std::fmt::Write as _;

use numaload_proto::cpulist;
use serde_json::Value;

use super::svg::esc;
use crate::report::lines;
use crate::result::RunResult;

/// The host and the plan tables.
pub fn details(out: &mut String, r: &RunResult) {
    let h = &r.host;
    let _ = writeln!(out, "<h2>Host</h2><table id=\"host\"><tbody>");
    let mut rows: Vec<(&str, String)> = vec![
        ("hostname", h.hostname.clone()),
        (
            "agent",
            format!("{} (version {})", h.agent, h.agent_version),
        ),
        ("CPU model", h.cpu_model.clone()),
        ("kernel", h.kernel.clone()),
        ("packages", h.packages.to_string()),
        (
            "NUMA nodes / domains",
            format!("{} / {}", h.numa_nodes, h.numa_domains),
        ),
        ("cores / PUs", format!("{} / {}", h.cores, h.pus)),
        ("allowed CPUs", cpulist::format(&h.allowed_cpus)),
        ("cancelled", r.cancelled.to_string()),
    ];
    if let Some(line) = h.cgroup.as_ref().and_then(lines::cgroup_line) {
        rows.push(("agent cgroup", line));
    }
    let fleet = crate::report::fleet::is_fleet(r);
    if fleet {
        for (kind, agents) in crate::report::fleet::host_kinds(r) {
            rows.push(("hosts", format!("{agents} agents on {kind}")));
        }
    }
    for l in r.layouts.iter().filter(|_| !fleet) {
        for rep in &l.replicas {
            if let Some(line) = lines::replica_quota_line(rep) {
                rows.push((
                    "replica cgroup",
                    format!("{} replica {}: {line}", l.name, rep.index),
                ));
            }
        }
    }
    for (key, value) in rows {
        let _ = writeln!(
            out,
            "<tr><th>{}</th><td>{}</td></tr>",
            esc(key),
            esc(&value)
        );
    }
    let _ = writeln!(out, "</tbody></table>");
    // The plan as the result echoes it, key by key: whatever keys plans gain show up here.
    let plan = serde_json::to_value(&r.plan).unwrap_or(Value::Null);
    let _ = writeln!(
        out,
        "<h2>Plan “{}”</h2><table id=\"plan\"><tbody>",
        esc(&r.plan.name)
    );
    for section in ["target", "load"] {
        if let Some(Value::Object(map)) = plan.get(section) {
            for (key, value) in map {
                let _ = writeln!(
                    out,
                    "<tr><th>[{section}] {}</th><td>{}</td></tr>",
                    esc(key),
                    esc(&scalar(value))
                );
            }
        }
    }
    let _ = writeln!(out, "</tbody></table>");
    if let Some(Value::Array(layouts)) = plan.get("layouts") {
        let mut keys: Vec<String> = Vec::new();
        for layout in layouts {
            if let Value::Object(map) = layout {
                for key in map.keys() {
                    if !keys.contains(key) {
                        keys.push(key.clone());
                    }
                }
            }
        }
        let head: String = keys
            .iter()
            .map(|k| format!("<th>{}</th>", esc(k)))
            .collect();
        let _ = writeln!(
            out,
            "<h3>[[layouts]]</h3><table id=\"plan-layouts\"><thead><tr>{head}</tr></thead><tbody>"
        );
        for layout in layouts {
            let cells: String = keys
                .iter()
                .map(|k| {
                    format!(
                        "<td>{}</td>",
                        esc(&layout.get(k).map(scalar).unwrap_or_default())
                    )
                })
                .collect();
            let _ = writeln!(out, "<tr>{cells}</tr>");
        }
        let _ = writeln!(out, "</tbody></table>");
    }
}

/// A JSON value as a plan file would write it, strings unquoted.
fn scalar(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}
