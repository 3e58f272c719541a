//! `numaload report` in every format, driven through the binary on a real result (checked in
//! as `fixtures/quickstart-result.json`, from `numaload run examples/quickstart.toml --out`) and
//! on variants of it edited here: a placement mismatch, a suspect layout, too few samples, a
//! failed layout, names full of markup. The HTML page is opened in headless Chromium.
//!
//! Snapshots: `fixtures/quickstart.report.{txt,md}` are the text and Markdown reports of the
//! fixture. After an intended change, `UPDATE_SNAPSHOTS=1 cargo test -p numaload --test
//! report_formats` rewrites them; review the diff before committing.
//!
//! When the result format changes, regenerate the fixture (the tests read figures from it
//! rather than hard-coding them) and then the snapshots:
//! `cargo run -p numaload -- run examples/quickstart.toml --out
//! controller/tests/fixtures/quickstart-result.json`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{json, Value};

const FIXTURE: &str = "tests/fixtures/quickstart-result.json";
/// A user's service: a weighted request mix, a 503 among the statuses, reconnects, replica
/// process trees, a thread off its CPUs at the end of a layout, a scraped series. Made from
/// FIXTURE with those fields added, then normalised by `numaload report --format json`.
const SERVICE_FIXTURE: &str = "tests/fixtures/service-result.json";

use crate::common;
use crate::common::{manifest, numaload};

fn scratch(name: &str) -> PathBuf {
    common::scratch("report", name)
}

fn fixture() -> Value {
    common::read_json(&manifest(FIXTURE))
}

/// Writes `result` to `dir/name.json`.
fn write(dir: &Path, name: &str, result: &Value) -> PathBuf {
    let path = dir.join(format!("{name}.json"));
    std::fs::write(&path, serde_json::to_string_pretty(result).expect("json")).expect("write");
    path
}

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

/// The fixture with every reason for caution: layout 0's replica ran elsewhere than intended,
/// layout 1 is suspect with too few samples for p99.9, and a third layout failed.
fn untrustworthy() -> Value {
    let mut r = fixture();
    let layouts = r["layouts"].as_array_mut().expect("layouts");
    let replica = &mut layouts[0]["replicas"][0];
    replica["placement_ok"] = json!(false);
    replica["intended_cpus"] = json!([0]);
    replica["actual_cpus"] = json!([0, 1]);
    layouts[1]["suspect"] = json!([
        "load worker 0 on CPU 1 was 97% busy: the generator may have limited the measurement"
    ]);
    layouts[1]["latency_ns"]["count"] = json!(500);
    layouts[1]["latency_uncorrected_ns"]["count"] = json!(500);
    let mut failed = layouts[1].clone();
    failed["name"] = json!("per-l3");
    failed["status"] = json!("failed");
    failed["error"] = json!("agent 10.0.0.7:7070 lost: connection reset");
    layouts.push(failed);
    let mut plan_layout = r["plan"]["layouts"][1].clone();
    plan_layout["name"] = json!("per-l3");
    r["plan"]["layouts"]
        .as_array_mut()
        .expect("plan layouts")
        .push(plan_layout);
    r
}

/// A line diff (longest common subsequence), `-` expected, `+` actual.
fn diff(expected: &str, actual: &str) -> String {
    let (a, b): (Vec<&str>, Vec<&str>) = (expected.lines().collect(), actual.lines().collect());
    let mut lcs = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j, mut out) = (0, 0, String::new());
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            i += 1;
            j += 1;
        } else if j < b.len() && (i == a.len() || lcs[i][j + 1] >= lcs[i + 1][j]) {
            out.push_str(&format!("+{}\n", b[j]));
            j += 1;
        } else {
            out.push_str(&format!("-{}\n", a[i]));
            i += 1;
        }
    }
    out
}

fn check_snapshot(format: &str, snapshot: &str) {
    check_snapshot_of(FIXTURE, format, snapshot);
}

fn check_snapshot_of(fixture: &str, format: &str, snapshot: &str) {
    let actual = report(&manifest(fixture), format);
    let path = manifest(snapshot);
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&path, &actual).expect("write snapshot");
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        expected == actual,
        "the {format} report of {fixture} differs from {snapshot} (- expected, + actual):\n{}\n\
         If the change is intended, run\n  UPDATE_SNAPSHOTS=1 cargo test -p numaload --test it report_formats::\n\
         and review the snapshot diff before committing.",
        diff(&expected, &actual)
    );
}

#[test]
fn the_text_report_matches_its_snapshot() {
    let _turn = crate::turns::beside_others();
    check_snapshot("text", "tests/fixtures/quickstart.report.txt");
}

#[test]
fn the_markdown_report_matches_its_snapshot() {
    let _turn = crate::turns::beside_others();
    check_snapshot("markdown", "tests/fixtures/quickstart.report.md");
}

#[test]
fn every_report_leads_with_the_verdict() {
    let _turn = crate::turns::beside_others();
    let file = manifest(FIXTURE);
    let verdict = "Verdict: ";
    for (format, first_layout) in [
        ("text", "── layout"),
        ("markdown", "| layout |"),
        ("html", "id=\"summary\""),
    ] {
        let text = report(&file, format);
        let at = text
            .find(verdict)
            .unwrap_or_else(|| panic!("{format}: no verdict in\n{text}"));
        let layouts = text.find(first_layout).expect("layouts");
        assert!(
            at < layouts,
            "{format}: the verdict comes after the layouts"
        );
    }
    // The default format is text, to standard output.
    let out = numaload(&["report", file.to_str().expect("utf8")]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), report(&file, "text"));
}

#[test]
fn json_is_the_result_normalised() {
    let _turn = crate::turns::beside_others();
    let dir = scratch("json");
    let mut messy = fixture();
    messy["a_field_from_the_future"] = json!(1);
    let file = write(&dir, "messy", &messy);
    let normalised = report(&file, "json");
    let value: Value = serde_json::from_str(&normalised).expect("json report parses");
    assert!(
        value.get("a_field_from_the_future").is_none(),
        "unknown field kept"
    );
    // Fields this version knows keep their values (a field the fixture predates would appear
    // with its default, so compare what every result has).
    let original = fixture();
    for key in ["run_id", "started_at", "cancelled"] {
        assert_eq!(value[key], original[key], "{key} changed in normalising");
    }
    for (normal, original) in value["layouts"]
        .as_array()
        .expect("layouts")
        .iter()
        .zip(original["layouts"].as_array().expect("layouts"))
    {
        for key in ["name", "status", "requests", "throughput_rps", "suspect"] {
            assert_eq!(normal[key], original[key], "{key}");
        }
        assert_eq!(normal["histograms"], original["histograms"]);
        assert_eq!(normal["latency_ns"], original["latency_ns"]);
    }
    let again = dir.join("normalised.json");
    std::fs::write(&again, &normalised).expect("write");
    assert_eq!(
        report(&again, "json"),
        normalised,
        "normalising is idempotent"
    );
}

#[test]
fn csv_has_one_row_per_layout_with_the_documented_columns() {
    let _turn = crate::turns::beside_others();
    let dir = scratch("csv");
    let file = write(&dir, "untrustworthy", &untrustworthy());
    let csv = report(&file, "csv");
    let rows: Vec<&str> = csv.lines().collect();
    // The first columns keep their places (columns are only added at the end); every column
    // is documented (report_reference.rs).
    assert!(
        rows[0].starts_with(
            "layout,status,mode,target_rate_rps,throughput_rps,requests,errors,error_rate,\
             late_sends,p50_ns,p90_ns,p99_ns,p999_ns,max_ns,p50_uncorrected_ns,\
             p99_uncorrected_ns,p999_uncorrected_ns,max_uncorrected_ns,threads_max,replicas,\
             placement_ok,load_cpus,load_shares_cpus,suspect,reconnects,status_codes,\
             request_mix,p50_lower_bound,p90_lower_bound,p99_lower_bound,p999_lower_bound,\
             max_lower_bound,intended,answered,min_delivered,warmup_dropped,stages,\
             connect_count,"
        ),
        "{}",
        rows[0]
    );
    assert_eq!(rows[0], numaload::report::csv::columns().join(","));
    assert_eq!(rows.len(), 4, "a header and three layouts:\n{csv}");
    let cells = |row: &str| -> Vec<String> { row.split(',').map(str::to_owned).collect() };
    let header = cells(rows[0]);
    let column = |row: &str, name: &str| {
        let i = header.iter().position(|h| h == name).expect("column");
        cells(row)[i].clone()
    };
    assert_eq!(column(rows[1], "status"), "SUSPECT");
    assert_eq!(column(rows[1], "placement_ok"), "false");
    let measured = fixture();
    let p999 = &measured["layouts"][0]["latency_ns"]["p999"];
    assert_eq!(column(rows[1], "p999_ns"), p999.to_string());
    // 500 samples: p99.9 (needs 1000) is empty, never a number that reads as measured.
    let p99 = &measured["layouts"][1]["latency_ns"]["p99"];
    assert_eq!(column(rows[2], "p99_ns"), p99.to_string());
    assert_eq!(column(rows[2], "p999_ns"), "");
    assert!(
        rows[3].starts_with("per-l3,FAILED,open,5000,,,"),
        "{}",
        rows[3]
    );
}

/// A CSV consumer reads every field back as written: a layout named with a comma, quotes and a
/// line break stays one field, and the columns after it do not shift.
#[test]
fn csv_reads_back_in_pythons_csv_module() {
    let dir = scratch("csv-python");
    let name = "per-node, \"fast\" one\nsecond line";
    let mut result = untrustworthy();
    result["layouts"][1]["name"] = json!(name);
    let file = write(&dir, "named", &result);
    let csv = report(&file, "csv");
    let rows = common::read_csv_with_python(&csv);
    assert_eq!(rows.len(), 4, "a header and three layouts:\n{csv}");
    let width = numaload::report::csv::columns().len();
    assert_eq!(rows[0].len(), width, "{:?}", rows[0]);
    assert!(rows.iter().all(|r| r.len() == width), "{rows:?}");
    let column = |name: &str| rows[0].iter().position(|h| h == name).expect("column");
    assert_eq!(rows[2][column("layout")], name);
    assert_eq!(rows[2][column("status")], "SUSPECT");
    let p99 = &fixture()["layouts"][1]["latency_ns"]["p99"];
    assert_eq!(rows[2][column("p99_ns")], p99.to_string());
    assert_eq!(rows[1][column("layout")], "one-process");
    // The reasons for caution hold commas of their own.
    let reasons = &rows[1][column("suspect")];
    assert!(
        reasons.contains("placement MISMATCH: CPUs 0-1 (intended 0)") && reasons.contains(", "),
        "{reasons}"
    );
}

#[test]
fn untrustworthy_numbers_are_flagged_in_every_readable_format() {
    let _turn = crate::turns::beside_others();
    let dir = scratch("flags");
    let file = write(&dir, "untrustworthy", &untrustworthy());
    for (format, first_layout) in [
        ("text", "── layout"),
        ("markdown", "| layout |"),
        ("html", "id=\"summary\""),
    ] {
        let text = report(&file, format);
        for needle in [
            "placement MISMATCH: CPUs 0-1 (intended 0)",
            "was 97% busy",
            "n/a (too few)",
            "FAILED",
            "agent 10.0.0.7:7070 lost",
            "1 layout(s) failed and are not compared",
        ] {
            assert!(text.contains(needle), "{format}: no {needle:?} in\n{text}");
        }
        // The flags come before the figures.
        let flag = text.find("was 97% busy").expect("flag");
        let figures = text.find(first_layout).expect("figures");
        assert!(flag < figures, "{format}: flags after the figures");
    }
}

#[test]
fn names_from_plan_files_are_escaped() {
    let _turn = crate::turns::beside_others();
    let dir = scratch("escape");
    let mut r = fixture();
    let evil = "<script>alert(1)</script> & \"x\" | *y*";
    r["layouts"][0]["name"] = json!(evil);
    r["plan"]["layouts"][0]["name"] = json!(evil);
    r["plan"]["name"] = json!("<img src=x onerror=alert(2)>");
    let file = write(&dir, "evil", &r);
    let html = report(&file, "html");
    assert!(
        !html.contains("<script>alert"),
        "unescaped name in the HTML"
    );
    assert!(!html.contains("<img"), "unescaped plan name in the HTML");
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;x&quot;"));
    let markdown = report(&file, "markdown");
    assert!(
        !markdown.contains("<img"),
        "unescaped plan name in the Markdown"
    );
    assert!(
        markdown.contains("`<script>alert(1)</script> & \"x\" \\| *y*`"),
        "{markdown}"
    );
}

#[test]
fn the_html_page_needs_no_network() {
    let _turn = crate::turns::beside_others();
    let html = report(&manifest(FIXTURE), "html");
    let without_svg_namespace = html.replace("xmlns=\"http://www.w3.org/2000/svg\"", "");
    for needle in ["http://", "https://", "<link", " src=", "url(", "@import"] {
        assert!(
            !without_svg_namespace.contains(needle),
            "the page refers to something outside itself: {needle}"
        );
    }
    assert!(
        html.contains("default-src 'none'"),
        "no content security policy"
    );
}

#[test]
fn out_writes_a_file_and_bad_input_exits_2() {
    let _turn = crate::turns::beside_others();
    let dir = scratch("out");
    let out_file = dir.join("report.md");
    let fixture = manifest(FIXTURE);
    let out = numaload(&[
        "report",
        fixture.to_str().expect("utf8"),
        "--format",
        "md",
        "--out",
        out_file.to_str().expect("utf8"),
    ]);
    assert!(out.status.success());
    assert!(out.stdout.is_empty());
    assert!(std::fs::read_to_string(&out_file)
        .expect("report file")
        .starts_with("### numaload"));

    let not_result = dir.join("not-a-result.json");
    std::fs::write(&not_result, "{\"hello\": 1}").expect("write");
    let fixture = fixture.to_str().expect("utf8");
    for (args, message) in [
        (
            vec!["report", "/nonexistent/r.json"],
            "cannot read result file",
        ),
        (
            vec!["report", not_result.to_str().expect("utf8")],
            "is not a numaload result",
        ),
        (
            vec!["report", fixture, "--format", "pdf"],
            "--format pdf: must be one of",
        ),
    ] {
        let out = numaload(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(message), "{args:?}: {stderr}");
    }
}

const CHROMIUM: &str = "/usr/bin/chromium";

/// Runs headless Chromium on `page` with `extra` arguments; its output.
pub(crate) fn chromium(page: &Path, profile: &Path, extra: &[&str]) -> Output {
    assert!(
        Path::new(CHROMIUM).exists(),
        "{CHROMIUM} is missing: the HTML report test needs headless Chromium \
         (Debian: apt-get install chromium; scripts/setup-system.sh should install it)"
    );
    Command::new(CHROMIUM)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--enable-logging=stderr",
            "--v=0",
            &format!("--user-data-dir={}", profile.display()),
        ])
        .args(extra)
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("run chromium")
}

/// Share of pixels that differ from the top-left one: a blank page has none.
pub(crate) fn non_background_share(png_path: &Path) -> (u32, u32, f64) {
    let decoder = png::Decoder::new(std::io::BufReader::new(
        std::fs::File::open(png_path).expect("open screenshot"),
    ));
    let mut reader = decoder.read_info().expect("png header");
    let mut buf = vec![0; reader.output_buffer_size().expect("buffer size")];
    let info = reader.next_frame(&mut buf).expect("png frame");
    let bytes = &buf[..info.buffer_size()];
    let channels = info.color_type.samples();
    let background = &bytes[..channels];
    let pixels = bytes.chunks(channels);
    let total = pixels.len();
    let different = bytes.chunks(channels).filter(|p| *p != background).count();
    (info.width, info.height, different as f64 / total as f64)
}

#[test]
fn the_html_report_renders_in_headless_chromium_without_console_errors() {
    let _turn = crate::turns::beside_others();
    let dir = scratch("chromium");
    let cases = [
        ("quickstart", fixture()),
        ("untrustworthy", untrustworthy()),
        ("service", common::read_json(&manifest(SERVICE_FIXTURE))),
    ];
    for (name, result) in cases {
        let file = write(&dir, name, &result);
        let page = dir.join(format!("{name}.html"));
        let out = numaload(&[
            "report",
            file.to_str().expect("utf8"),
            "--format",
            "html",
            "--out",
            page.to_str().expect("utf8"),
        ]);
        assert!(out.status.success());

        let png = dir.join(format!("{name}.png"));
        let shot = chromium(
            &page,
            &dir.join(format!("profile-{name}-shot")),
            &[
                &format!("--screenshot={}", png.display()),
                "--window-size=1280,2000",
            ],
        );
        let log = String::from_utf8_lossy(&shot.stderr);
        assert!(shot.status.success(), "chromium failed: {log}");
        let console_errors: Vec<&str> = log
            .lines()
            .filter(|l| l.contains("CONSOLE") || l.contains("Uncaught"))
            .filter(|l| l.contains("rror") || l.contains("Uncaught") || l.contains("Refused"))
            .collect();
        assert!(
            console_errors.is_empty(),
            "console errors: {console_errors:#?}"
        );

        let size = std::fs::metadata(&png).expect("screenshot written").len();
        assert!(size > 30_000, "the screenshot is only {size} bytes");
        let (width, height, share) = non_background_share(&png);
        assert_eq!((width, height), (1280, 2000));
        assert!(
            share > 0.05,
            "the page looks blank: {:.1}% drawn",
            share * 100.0
        );
        eprintln!("screenshot: {}", png.display());

        // The inline script ran to its end.
        let dom = chromium(
            &page,
            &dir.join(format!("profile-{name}-dom")),
            &["--dump-dom"],
        );
        let dom_text = String::from_utf8_lossy(&dom.stdout);
        assert!(
            dom_text.contains("data-numaload-js=\"ready\""),
            "the page's script did not run: {}",
            String::from_utf8_lossy(&dom.stderr)
        );
        assert!(dom_text.contains("<svg"), "no chart in the DOM");
    }
}

#[test]
fn the_service_reports_match_their_snapshots() {
    let _turn = crate::turns::beside_others();
    check_snapshot_of(SERVICE_FIXTURE, "text", "tests/fixtures/service.report.txt");
    check_snapshot_of(
        SERVICE_FIXTURE,
        "markdown",
        "tests/fixtures/service.report.md",
    );
}

#[test]
fn the_service_fixture_matches_the_schema_and_normalises_to_itself() {
    let _turn = crate::turns::beside_others();
    let file = manifest(SERVICE_FIXTURE);
    common::assert_matches_schema(&common::read_json(&file));
    let text = std::fs::read_to_string(&file).expect("fixture");
    assert_eq!(report(&file, "json"), text, "the fixture is normalised");
}

#[test]
fn results_written_before_the_request_mix_still_load_with_empty_figures() {
    let _turn = crate::turns::beside_others();
    let normalised: Value =
        serde_json::from_str(&report(&manifest(FIXTURE), "json")).expect("json");
    let layout = &normalised["layouts"][0];
    assert_eq!(layout["request_mix"], json!([]));
    assert_eq!(layout["status_codes"], json!({}));
    assert_eq!(layout["reconnects"], 0);
    assert_eq!(layout["replicas"][0]["tree"], json!([]));
    assert_eq!(layout["thread_samples"][0]["scraped"], json!({}));
    assert_eq!(normalised["plan"]["load"]["requests"][0]["name"], "GET /");
}

#[test]
fn every_format_shows_the_request_mix_statuses_trees_and_mismatches() {
    let _turn = crate::turns::beside_others();
    let file = manifest(SERVICE_FIXTURE);
    let lines = [
        "200 ×49,988, 503 ×12",
        "31 (the server closed connections after a response)",
        "75%",
        "25,012",
        "pid 17539 tid 17540 (helper): ran on CPUs 0-3, intended 1",
        "2 process(es), 3 thread(s) when ready",
        "go_goroutines max 250",
    ];
    for format in ["text", "markdown", "html"] {
        let text = report(&file, format);
        // Markdown escapes the underscore.
        let text = text.replace("go\\_goroutines", "go_goroutines");
        for line in lines {
            assert!(text.contains(line), "{format}: no {line:?} in\n{text}");
        }
        for name in ["read", "write"] {
            assert!(text.contains(name), "{format}: request {name} missing");
        }
    }
    let html = report(&file, "html");
    assert!(
        html.contains("go_goroutines over time, layout per-node"),
        "the scraped series is charted"
    );
    assert!(html.contains("<h3>Request mix</h3>"));
    // The second layout answered 200 only, with no reconnect: neither is worth a line.
    let text = report(&file, "text");
    let per_node = &text[text.find("── layout \"per-node\"").expect("per-node")..];
    assert!(!per_node.contains("statuses"), "{per_node}");
    assert!(!per_node.contains("reconnects"), "{per_node}");

    let csv = report(&file, "csv");
    let rows: Vec<&str> = csv.lines().collect();
    assert!(
        rows[1].contains(
            ",31,200=49988;503=12,read weight=3 requests=25000 errors=0 calls=25000 \
             p50_ns=275455 p99_ns=1647615 p999_ns=4423679 max_ns=5664767;write weight=1 \
             requests=25012 errors=12 calls=25024 p50_ns=189439 p99_ns=936447 p999_ns=2951167 \
             max_ns=5160959,"
        ),
        "{}",
        rows[1]
    );
    assert!(
        rows[2].contains("MISMATCH at the end: pid 17539 tid 17540"),
        "{}",
        rows[2]
    );
    assert!(rows[2].starts_with("per-node,SUSPECT,"), "{}", rows[2]);

    let json: Value = serde_json::from_str(&report(&file, "json")).expect("json");
    let mix = &json["layouts"][0]["request_mix"];
    assert_eq!(mix[1]["name"], "write");
    assert_eq!(mix[1]["latency_ns"]["p99"], 936447);
    assert_eq!(
        json["layouts"][1]["replicas"][0]["mismatches_at_end"][0]["tid"],
        17540
    );
}
