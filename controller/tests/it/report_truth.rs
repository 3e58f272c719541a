//! What every report says of a layout that is not plainly fine: its status word (`suspect`,
//! `incomplete`, `degraded`, `failed`) wherever a status is shown, never "ok"; how much of its
//! load was delivered; and each latency figure that is only a lower bound (requests never
//! answered, which waited at least that long) marked "≥", in every human format, with a marker
//! column in the CSV. Driven through the binary on the checked-in quickstart result, edited here
//! into what an overloaded run writes.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde_json::{json, Value};

use crate::common;
use crate::common::{manifest, numaload};

const FIXTURE: &str = "tests/fixtures/quickstart-result.json";
const SERVICE_FIXTURE: &str = "tests/fixtures/service-result.json";

/// The layout edited into each case (the fixture's second); the first stays ok.
const EDITED: &str = "per-node";

/// `numaload report FILE --format FORMAT`, which must succeed; its standard output.
fn report(file: &Path, format: &str) -> String {
    let out = numaload(&["report", file.to_str().expect("utf8"), "--format", format]);
    assert!(
        out.status.success(),
        "report --format {format} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf8 report")
}

fn write(name: &str, result: &Value) -> PathBuf {
    let dir = common::scratch("report-truth", name);
    let path = dir.join("result.json");
    std::fs::write(&path, serde_json::to_string_pretty(result).expect("json")).expect("write");
    path
}

/// A histogram of `n` waits of `ns` each, as a result file carries it.
fn waits(ns: u64, n: u64) -> String {
    let mut h = numaload_proto::histogram::new_latency();
    h.record_n(ns, n).expect("record");
    let bytes = numaload_proto::histogram::encode(&h).expect("encode");
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// The quickstart result with its second layout overloaded: about half its window's requests
/// answered, the rest waiting at least 3.9 s, so its p99, p99.9 and max (and mean) are lower
/// bounds and its p50 and p90 exact; a warm-up backlog dropped; every new field of the result
/// filled in, so the same file checks the schema.
fn overloaded() -> Value {
    let mut r = common::read_json(&manifest(FIXTURE));
    r["plan"]["load"]["min_delivered"] = json!(0.99);
    let l = &mut r["layouts"][1];
    assert_eq!(l["name"], EDITED);
    l["status"] = json!("incomplete");
    l["requests"] = json!(12_474);
    l["throughput_rps"] = json!(2_494.8);
    l["errors"] = json!(11_526);
    l["errors_by_kind"]["unsent"] = json!(11_526);
    l["delivery"] = json!({"intended": 24_000, "answered": 12_474, "min_share": 0.99});
    l["warmup_dropped"] = json!(1_200);
    l["suspect"] = json!([
        "only 12,474 of the window's 24,000 requests were answered (51.9%, below min_delivered \
         99%): 11,526 never sent or never answered (their waits count in the latency as lower \
         bounds)"
    ]);
    l["latency_ns"] = json!({
        "count": 24_000, "min": 200_000, "mean": 1_900_000_000.0,
        "p50": 1_500_000, "p90": 2_000_000, "p99": 3_900_000_000_u64,
        "p999": 4_000_000_000_u64, "max": 4_100_000_000_u64,
        "lower_bounds": ["mean", "p99", "p999", "max"]
    });
    l["histograms"]["waited_v2_base64"] = json!(waits(3_900_000_000, 11_526));
    l["trials"] = json!([{
        "trial": 1, "status": "incomplete", "requests": 12_474, "throughput_rps": 2_494.8,
        "errors": 11_526, "latency_ns": l["latency_ns"].clone()
    }]);
    let delivery = l["delivery"].clone();
    for agent in l["agents"].as_array_mut().expect("agents") {
        agent["status"] = json!("incomplete");
        agent["delivery"] = delivery.clone();
    }
    l["load"]["workers"][0]["warmup_dropped"] = json!(1_200);
    r
}

/// The text block of layout `name`, from its header to the next blank line.
fn text_block<'a>(text: &'a str, name: &str) -> &'a str {
    let at = text
        .find(&format!("── layout \"{name}\""))
        .unwrap_or_else(|| panic!("no block of {name} in\n{text}"));
    let block = &text[at..];
    &block[..block.find("\n\n").unwrap_or(block.len())]
}

/// The CSV's rows as maps of column to cell (read back by Python's csv module).
fn csv_rows(csv: &str) -> Vec<std::collections::BTreeMap<String, String>> {
    let rows = common::read_csv_with_python(csv);
    let header = rows[0].clone();
    rows[1..]
        .iter()
        .map(|row| header.iter().cloned().zip(row.iter().cloned()).collect())
        .collect()
}

#[test]
fn a_lower_bound_reads_at_least_in_every_format_and_nothing_else_does() {
    let _turn = crate::turns::beside_others();
    let file = write("bounds", &overloaded());

    let text = report(&file, "text");
    let block = text_block(&text, EDITED);
    let corrected = format!(
        "  {:<12} {:>10} {:>10} {:>10} {:>10}",
        "corrected", "1.50 ms", "≥ 3.90 s", "≥ 4.00 s", "≥ 4.10 s"
    );
    assert!(block.contains(&format!("{corrected}\n")), "{block}");
    assert_eq!(
        block.matches('≥').count(),
        4,
        "three figures and the legend:\n{block}"
    );
    assert!(block.contains("≥ marks a lower bound"), "{block}");
    let untouched = text_block(&text, "one-process");
    assert!(!untouched.contains('≥'), "{untouched}");

    let markdown = report(&file, "markdown");
    assert!(
        markdown.contains("| corrected | 1.50 ms | ≥ 3.90 s | ≥ 4.00 s | ≥ 4.10 s |"),
        "{markdown}"
    );
    let table = &markdown[markdown.find("| layout | status").expect("table")..];
    let table = &table[..table.find("\n\n").expect("table end")];
    assert_eq!(table.matches('≥').count(), 3, "{table}");
    assert!(markdown.contains("≥ marks a lower bound"), "{markdown}");

    let html = report(&file, "html");
    let summary = &html[html.find("id=\"summary\"").expect("summary")..];
    let summary = &summary[..summary.find("</table>").expect("summary end")];
    assert_eq!(summary.matches(">≥ ").count(), 3, "{summary}");
    assert!(
        summary.contains(r#"<td class="num">1.50 ms</td>"#),
        "{summary}"
    );
    assert!(summary.contains(">≥ 3.90 s</td>"), "{summary}");
    assert!(html.contains("≥ marks a lower bound"));

    let rows = csv_rows(&report(&file, "csv"));
    let (ok, bounded) = (&rows[0], &rows[1]);
    for (figure, is_bound) in [
        ("p50", "false"),
        ("p90", "false"),
        ("p99", "true"),
        ("p999", "true"),
        ("max", "true"),
    ] {
        let column = format!("{figure}_lower_bound");
        assert_eq!(bounded[&column], is_bound, "{column}");
        assert_eq!(ok[&column], "false", "{column} of the untouched layout");
    }
    assert_eq!(bounded["p99_ns"], "3900000000");
    assert_eq!(bounded["intended"], "24000");
    assert_eq!(bounded["answered"], "12474");
    assert_eq!(bounded["min_delivered"], "0.99");
    assert_eq!(bounded["warmup_dropped"], "1200");
    assert_eq!(ok["intended"], "", "the fixture predates delivery");
}

#[test]
fn a_layout_that_answered_nothing_reads_its_waits_not_a_blank() {
    let _turn = crate::turns::beside_others();
    let mut r = overloaded();
    let l = &mut r["layouts"][1];
    l["requests"] = json!(0);
    l["throughput_rps"] = json!(0.0);
    l["delivery"]["answered"] = json!(0);
    l["latency_ns"] = json!({
        "count": 24_000, "min": 3_900_000_000_u64, "mean": 4_000_000_000.0,
        "p50": 3_900_000_000_u64, "p90": 3_900_000_000_u64, "p99": 3_900_000_000_u64,
        "p999": 3_900_000_000_u64, "max": 3_900_000_000_u64,
        "lower_bounds": ["min", "mean", "p50", "p90", "p99", "p999", "max"]
    });
    l["histograms"]["corrected_v2_base64"] = json!(waits(1, 0));
    l["histograms"]["waited_v2_base64"] = json!(waits(3_900_000_000, 24_000));
    let file = write("nothing-answered", &r);
    let text = report(&file, "text");
    let block = text_block(&text, EDITED);
    let bound = "≥ 3.90 s";
    let corrected = format!(
        "  {:<12} {bound:>10} {bound:>10} {bound:>10} {bound:>10}\n",
        "corrected"
    );
    assert!(block.contains(&corrected), "{block}");
    assert!(
        block.contains("  delivered    0 of 24,000 answered (0.0%, min 99%)"),
        "{block}"
    );
    let html = report(&file, "html");
    assert!(
        !html.contains("no latency samples"),
        "the chart shows the waits"
    );
    let rows = csv_rows(&report(&file, "csv"));
    assert_eq!(rows[1]["p99_ns"], "3900000000");
    assert_eq!(rows[1]["p99_lower_bound"], "true");
}

#[test]
fn the_request_mix_marks_its_lower_bounds_too() {
    let _turn = crate::turns::beside_others();
    let mut r = common::read_json(&manifest(SERVICE_FIXTURE));
    let write_request = &mut r["layouts"][0]["request_mix"][1];
    assert_eq!(write_request["name"], "write");
    write_request["latency_ns"]["lower_bounds"] = json!(["p99", "max"]);
    let file = write("mix", &r);
    let text = report(&file, "text");
    let mix_row = text
        .lines()
        .find(|line| line.trim_start().starts_with("write "))
        .expect("the write row");
    assert_eq!(mix_row.matches('≥').count(), 2, "{mix_row}");
    for format in ["markdown", "html"] {
        let shown = report(&file, format);
        assert!(shown.contains("≥ 936.4 µs"), "{format}: {shown}");
        assert!(shown.contains("≥ marks a lower bound"), "{format}");
    }
    let rows = csv_rows(&report(&file, "csv"));
    assert!(
        rows[0]["request_mix"].ends_with("max_ns=5160959 lower_bounds=p99,max"),
        "{}",
        rows[0]["request_mix"]
    );
}

/// Each status but ok, in the second layout: the word shows wherever a status does, in every
/// format, and the layout's status never reads "ok".
#[test]
fn every_status_that_is_not_ok_shows_as_itself_never_as_ok() {
    let _turn = crate::turns::beside_others();
    for (status, word) in [
        ("suspect", "SUSPECT"),
        ("incomplete", "INCOMPLETE"),
        ("degraded", "DEGRADED"),
        ("failed", "FAILED"),
    ] {
        let mut r = overloaded();
        let l = &mut r["layouts"][1];
        l["status"] = json!(status);
        match status {
            "suspect" => {
                l["delivery"]["answered"] = json!(24_000);
                l["suspect"] = json!(["the load generator shared CPU(s) 1 with the replicas"]);
            }
            "degraded" | "failed" => l["error"] = json!("agent 10.0.0.7:7070 lost"),
            _ => {}
        }
        let file = write(status, &r);

        let text = report(&file, "text");
        assert!(
            text.contains(&format!("── layout \"{EDITED}\" [{word}]")),
            "{status}: {text}"
        );
        assert!(!text.contains(&format!("── layout \"{EDITED}\" [ok]")));

        let markdown = report(&file, "markdown");
        let row = markdown
            .lines()
            .find(|line| line.starts_with(&format!("| `{EDITED}` |")))
            .expect("the layout's row");
        assert!(
            row.starts_with(&format!("| `{EDITED}` | **{word}** |")),
            "{status}: {row}"
        );

        let html = report(&file, "html");
        assert!(
            html.contains(&format!(r#"class="status-{word}">{word}</td>"#)),
            "{status}: summary cell"
        );
        assert!(
            html.contains(&format!(r#"<span class="status-{word}">[{word}]</span>"#)),
            "{status}: section heading"
        );

        let rows = csv_rows(&report(&file, "csv"));
        assert_eq!(rows[1]["status"], word, "{status}");
        assert_eq!(rows[0]["status"], "ok", "the untouched layout");

        // Whatever the verdict says, it never makes the edited layout a silent winner.
        for shown in [&text, &markdown, &html] {
            let verdict = shown
                .lines()
                .find(|l| l.contains("Verdict: "))
                .expect("verdict");
            assert!(
                !verdict.contains(&format!("{EDITED} wins")) || verdict.contains(word),
                "{status}: {verdict}"
            );
        }
    }
}

#[test]
fn an_incomplete_layout_says_how_much_of_its_load_was_delivered() {
    let _turn = crate::turns::beside_others();
    let file = write("delivery", &overloaded());
    let delivered = "12,474 of 24,000 answered (51.9%, min 99%); 1,200 warm-up requests \
                     dropped when the window opened";
    let text = report(&file, "text");
    assert!(
        text_block(&text, EDITED).contains(&format!("  delivered    {delivered}\n")),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "! layout \"{EDITED}\": INCOMPLETE, its load was not delivered: {delivered}"
        )),
        "{text}"
    );
    assert!(
        text.contains("(1 layout(s) incomplete (their load was not delivered) and cannot win.)"),
        "{text}"
    );
    let markdown = report(&file, "markdown");
    assert!(
        markdown.contains(&format!(
            "- `{EDITED}` **INCOMPLETE**: delivered {delivered}"
        )),
        "{markdown}"
    );
    let html = report(&file, "html");
    assert!(
        html.contains(&format!(
            r#"<p class="bad">⚠ INCOMPLETE, its load was not delivered: {delivered}</p>"#
        )),
        "{html}"
    );
}

#[test]
fn a_result_with_every_new_field_matches_the_schema() {
    let _turn = crate::turns::beside_others();
    let mut r = overloaded();
    r["layouts"][1]["request_mix"] = json!([{
        "name": "GET /", "weight": 1, "requests": 12_474, "errors": 11_526,
        "latency_ns": r["layouts"][1]["latency_ns"].clone(),
        "latency_v2_base64": r["layouts"][1]["histograms"]["corrected_v2_base64"].clone(),
        "waited_v2_base64": waits(3_900_000_000, 11_526)
    }]);
    // The fixture predates trials; the schema asks every layout for one.
    let first = r["layouts"][0].clone();
    r["layouts"][0]["trials"] = json!([{
        "trial": 1, "status": "ok", "requests": first["requests"],
        "throughput_rps": first["throughput_rps"], "errors": first["errors"],
        "latency_ns": first["latency_ns"]
    }]);
    r["layouts"][1]["agents"][0]["role"] = json!("both");
    let file = write("schema", &r);
    // Normalised by this version: every field it writes, as it writes them.
    let normalised: Value = serde_json::from_str(&report(&file, "json")).expect("json");
    let l = &normalised["layouts"][1];
    for (field, value) in [
        (&l["status"], json!("incomplete")),
        (&l["delivery"]["intended"], json!(24_000)),
        (&l["warmup_dropped"], json!(1_200)),
        (
            &l["latency_ns"]["lower_bounds"],
            json!(["mean", "p99", "p999", "max"]),
        ),
        (&l["agents"][0]["delivery"]["answered"], json!(12_474)),
        (&l["agents"][0]["role"], json!("both")),
        (&l["load"]["workers"][0]["warmup_dropped"], json!(1_200)),
        (&normalised["plan"]["load"]["min_delivered"], json!(0.99)),
    ] {
        assert_eq!(*field, value);
    }
    assert!(l["histograms"]["waited_v2_base64"].is_string());
    assert!(l["request_mix"][0]["waited_v2_base64"].is_string());
    common::assert_matches_schema(&normalised);
    // A status word the schema does not know is refused.
    let mut wrong = normalised.clone();
    wrong["layouts"][1]["status"] = json!("fine");
    let refused = std::panic::catch_unwind(|| common::assert_matches_schema(&wrong));
    assert!(refused.is_err(), "the schema took status \"fine\"");
}
