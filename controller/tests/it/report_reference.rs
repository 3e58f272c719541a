//! `docs/report.md` explains every line the text report prints: the report of the checked-in
//! results (a plain run, a request mix with process trees and scraped series, and one with
//! every reason for caution, a failed layout and a cancelled run) is rendered by the
//! controller's own renderer, and each line's label must have a row in the page: the header's
//! lines in "The header", a layout block's lines (`throughput`, `replica 0`, the indented
//! `tree:` under a replica) in "A layout's block".

use std::collections::BTreeSet;

use serde_json::{json, Value};

use crate::common::{manifest, read_json};

fn reference() -> String {
    std::fs::read_to_string(manifest("../docs/report.md")).expect("docs/report.md")
}

/// The first cells of the table rows under the `### ` heading `title`, in order, without
/// their backticks (`` `a`, `b` `` is `a`, `b`).
fn first_cells(markdown: &str, title: &str) -> Vec<String> {
    let mut lines = markdown.lines();
    lines
        .by_ref()
        .find(|l| l.strip_prefix("### ") == Some(title))
        .unwrap_or_else(|| panic!("docs/report.md has no \"### {title}\""));
    lines
        .take_while(|l| !l.starts_with('#'))
        .filter_map(|line| {
            let (cell, _) = line.strip_prefix("| `")?.split_once("` |")?;
            Some(cell.to_owned())
        })
        .collect()
}

/// The first cells of the tables under the `### ` heading `title`, trimmed, each also by its
/// first word (`replica N` and `replica`).
fn rows(markdown: &str, title: &str) -> BTreeSet<String> {
    let mut cells = BTreeSet::new();
    for cell in first_cells(markdown, title) {
        let cell = cell.trim();
        cells.insert(cell.to_owned());
        if let Some(word) = cell.split_whitespace().next() {
            cells.insert(word.to_owned());
        }
    }
    cells
}

/// The results rendered: the two checked-in ones, and the first with a replica off its CPUs, a
/// suspect layout, a failed one and the run cancelled.
fn results() -> Vec<Value> {
    let plain = read_json(&manifest("tests/fixtures/quickstart-result.json"));
    let mix = read_json(&manifest("tests/fixtures/service-result.json"));
    let mut troubled = plain.clone();
    let layouts = troubled["layouts"].as_array_mut().expect("layouts");
    layouts[0]["replicas"][0]["placement_ok"] = json!(false);
    layouts[0]["replicas"][0]["actual_cpus"] = json!([0, 1]);
    layouts[1]["suspect"] = json!(["the load generator shared CPUs with the replicas"]);
    let mut failed = layouts[1].clone();
    failed["name"] = json!("per-l3");
    failed["status"] = json!("failed");
    failed["error"] = json!("agent 10.0.0.7:7070 lost: connection reset");
    layouts.push(failed);
    troubled["cancelled"] = json!(true);
    vec![fleet(&plain), plain.clone(), mix, troubled, staged(plain)]
}

/// The plain result as if run on twelve agents (a fleet: the reports summarize it), one of them
/// short of its load.
fn fleet(plain: &Value) -> Value {
    let mut fleet = plain.clone();
    let name = |i: usize| json!(format!("10.0.0.{i}:7070"));
    let copies = |value: &Value| -> Vec<Value> {
        (0..12)
            .map(|i| {
                let mut copy = value.clone();
                copy["agent"] = name(i);
                copy
            })
            .collect()
    };
    fleet["hosts"] = json!(copies(&plain["hosts"][0]));
    fleet["agents"] = json!(copies(&plain["agents"][0]));
    for layout in fleet["layouts"].as_array_mut().expect("layouts") {
        for key in ["agents", "replicas"] {
            layout[key] = json!(copies(&layout[key][0]));
        }
        layout["load"]["workers"] = json!(copies(&layout["load"]["workers"][0]));
        layout["agents"][5]["status"] = json!("incomplete");
        layout["agents"][5]["delivery"] =
            json!({"intended": 25000, "answered": 12000, "min_share": 0.99, "asked": 25000});
    }
    fleet
}

/// `plain` as a run of two stages with Poisson arrivals would have it.
fn staged(mut result: Value) -> Value {
    let load = &mut result["plan"]["load"];
    load["arrivals"] = json!("poisson");
    load["seed"] = json!(42);
    load["stages"] = json!([
        {"from": 0.0, "to": 5000.0, "duration": "2s"},
        {"from": 5000.0, "to": 5000.0, "duration": "3s"}
    ]);
    let layout = &mut result["layouts"][0];
    let latency = layout["latency_ns"].clone();
    let errors = layout["errors_by_kind"].clone();
    let stage = |n: u32, from: f64, to: f64, start: f64, duration: f64| {
        json!({
            "stage": n, "from_rps": from, "to_rps": to, "start_s": start,
            "duration_s": duration, "measured_s": duration, "requests": 5000,
            "errors": 0, "errors_by_kind": errors, "late_sends": 0, "throughput_rps": 2500.0,
            "latency_ns": latency, "latency_uncorrected_ns": latency,
            "latency_v2_base64": ""
        })
    };
    layout["stages"] = json!([
        stage(1, 0.0, 5000.0, 0.0, 2.0),
        stage(2, 5000.0, 5000.0, 2.0, 3.0)
    ]);
    result
}

/// The names of a result's requests, which label the rows of a mix's table.
fn request_names(result: &Value) -> BTreeSet<String> {
    result["plan"]["load"]["requests"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["name"].as_str().map(str::to_owned))
        .collect()
}

#[test]
fn every_line_of_the_text_report_has_a_row() {
    let reference = reference();
    let header_rows = rows(&reference, "The header");
    let block_rows = rows(&reference, "A layout's block");
    let mut missing = BTreeSet::new();
    let mut checked = 0;
    let mut fleet_lines = 0;
    for value in results() {
        let requests = request_names(&value);
        let result: numaload::result::RunResult =
            serde_json::from_value(value).expect("a result file");
        let text = numaload::report::text::render(&result);
        fleet_lines += text.matches("\n  worst agent  ").count();
        let mut in_header = true;
        for line in text.lines() {
            if line.is_empty() {
                in_header = false;
                continue;
            }
            if in_header {
                let first = line.split_whitespace().next().unwrap_or_default();
                checked += 1;
                if !header_rows.contains(first) {
                    missing.insert(format!("header: {line}"));
                }
                continue;
            }
            let indent = line.len() - line.trim_start().len();
            let trimmed = line.trim_start();
            let label = match indent {
                2 if !trimmed.starts_with('!') => trimmed
                    .split("  ")
                    .next()
                    .unwrap_or_default()
                    .chars()
                    .map(|c| if c.is_ascii_digit() { 'N' } else { c })
                    .collect::<String>(),
                15 => trimmed
                    .split_whitespace()
                    .next()
                    .unwrap_or_default()
                    .to_owned(),
                _ => continue,
            };
            // A mix's rows are labelled by request, a stage table's by stage number.
            if requests.contains(&label) || label.chars().all(|c| c.is_ascii_digit()) {
                continue;
            }
            checked += 1;
            if !block_rows.contains(&label) {
                missing.insert(format!("{label:?} in: {line}"));
            }
        }
    }
    assert!(checked > 30, "only {checked} lines checked");
    assert!(
        fleet_lines > 0,
        "the fleet's lines were rendered and checked"
    );
    assert!(
        missing.is_empty(),
        "docs/report.md has no row for these lines of the text report:\n{}",
        missing.into_iter().collect::<Vec<_>>().join("\n")
    );
}

/// The column names of the table under the `### ` heading `title`, in order: every backticked
/// name in the first cell of each row.
fn columns(markdown: &str, title: &str) -> Vec<String> {
    first_cells(markdown, title)
        .iter()
        .flat_map(|cell| cell.split("`, `").map(str::to_owned))
        .collect()
}

#[test]
fn the_csv_columns_are_the_documented_ones_in_order() {
    let reference = reference();
    assert_eq!(
        columns(&reference, "The CSV columns"),
        numaload::report::csv::columns(),
        "docs/report.md's \"The CSV columns\" table, row by row, against the header of \
         `report --format csv`"
    );
    assert_eq!(
        columns(&reference, "The per-agent CSV columns"),
        numaload::report::csv::agent_columns(),
        "docs/report.md's \"The per-agent CSV columns\" table against `--per-agent`'s header"
    );
}
