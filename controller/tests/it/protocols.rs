//! The protocols a plan can speak, end to end through `numaload run` against the built-in
//! target: TLS (the target serves it on its port beside clear text, with a certificate it
//! generates), its setup times in the result and the report, and a certificate that does not
//! verify failing the layout with one clear line.

use crate::common::{self, assert_matches_schema, layout, numaload, run_plan, write_plan};

fn plan(load_keys: &str) -> String {
    format!(
        r#"name = "tls"
[target]
name = "async"
work_us = 10
[load]
mode = "open"
rate = 400
connections = 4
duration = "2s"
warmup = "300ms"
reserve_cpus = 1
{load_keys}
[[layouts]]
name = "single"
replicas = 1
"#
    )
}

#[test]
fn tls_to_the_built_in_target_measures_and_reports_each_connection_s_setup() {
    let _turn = crate::turns::beside_others();
    let dir = common::scratch("protocols", "tls");
    let path = write_plan(&dir, &plan("tls = true\ninsecure_skip_verify = true"));
    let run = run_plan(&path, &["--quiet"]);
    assert_matches_schema(&run.result);
    let single = layout(&run.result, "single");
    // On a shared 2-CPU machine a stall may leave a few requests unsent; none failed TLS.
    assert_eq!(single["errors_by_kind"].get("tls"), None, "no tls error");
    assert!(single["requests"].as_u64().expect("requests") > 400);
    let setup = &single["connection_setup"];
    assert_eq!(setup["connections"], 4, "{setup}");
    assert_eq!(
        setup["tls_resumed"],
        serde_json::Value::Null,
        "first connects resume nothing"
    );
    assert_eq!(setup["tls_handshake_ns"]["count"], 4, "{setup}");
    assert_eq!(setup["first_byte_ns"]["count"], 4, "{setup}");
    assert!(
        setup["first_byte_ns"]["min"].as_u64() > setup["tls_handshake_ns"]["min"].as_u64(),
        "{setup}"
    );
    assert!(!single["histograms"]["tls_handshake_v2_base64"]
        .as_str()
        .expect("histogram")
        .is_empty());
    assert_eq!(
        run.result["plan"]["load"]["tls"]["insecure_skip_verify"],
        true
    );
    for row in [
        "  connect ",
        "  handshake ",
        "  first byte ",
        "  connections  4 opened",
    ] {
        assert!(run.stdout.contains(row), "no {row:?} in:\n{}", run.stdout);
    }
    assert!(run.stdout.contains("tls 0"), "{}", run.stdout);
    // Rendered again from the file: the same lines, and rows in the other formats.
    let out = run.out.to_str().expect("path");
    let text = String::from_utf8_lossy(&numaload(&["report", out]).stdout).into_owned();
    assert!(text.contains("  handshake "), "{text}");
    let markdown = numaload(&["report", out, "--format", "markdown"]);
    let markdown = String::from_utf8_lossy(&markdown.stdout);
    assert!(markdown.contains("| | | | handshake | "), "{markdown}");
    let html = numaload(&["report", out, "--format", "html"]);
    let html = String::from_utf8_lossy(&html.stdout);
    assert!(
        html.contains("<tr><td>first byte</td>"),
        "no first byte row in the HTML"
    );
}

#[test]
fn a_certificate_that_does_not_verify_fails_the_layout_with_one_line_and_measures_nothing() {
    let _turn = crate::turns::beside_others();
    let dir = common::scratch("protocols", "unverified");
    // The target's generated certificate is self-signed: the system's roots do not hold it.
    let path = write_plan(&dir, &plan("tls = true"));
    let out = dir.join("result.json");
    let run = std::process::Command::new(common::BIN)
        .args(["run", path.to_str().expect("path"), "--quiet", "--out"])
        .arg(&out)
        .output()
        .expect("run");
    assert_eq!(run.status.code(), Some(4), "{run:?}");
    let result = common::read_json(&out);
    let single = layout(&result, "single");
    assert_eq!(single["status"], "failed", "{single}");
    assert_eq!(single["requests"], 0);
    let error = single["error"].as_str().expect("error");
    assert!(error.contains("certificate"), "{error}");
    assert!(error.contains("insecure_skip_verify"), "{error}");
    assert!(!error.contains('\n'));
    // Said where every failed layout is: the list of cautions and the layout's block.
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert_eq!(stdout.matches("UnknownIssuer").count(), 2, "{stdout}");
}
