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

/// Certificates for 127.0.0.1 signed by a CA of their own (`numaload certs`), in `dir/tls`:
/// `ca.pem`, and the server's `agent.pem` and `agent.key`.
fn certificates(dir: &std::path::Path) -> std::path::PathBuf {
    let tls = dir.join("tls");
    let made = numaload(&[
        "certs",
        "--dir",
        tls.to_str().expect("path"),
        "--host",
        "127.0.0.1",
    ]);
    assert!(made.status.success(), "{made:?}");
    tls
}

/// An agent configuration offering nginx over TLS (its configuration templated per replica)
/// and the Go test server over TLS, both with `tls`'s server certificate.
fn tls_servers_config(tls: &std::path::Path) -> String {
    let (cert, key) = (tls.join("agent.pem"), tls.join("agent.key"));
    let go = numaload_test_support::go_servers(env!("CARGO_TARGET_TMPDIR")).join("go-server");
    format!(
        r#"
[targets.nginx-tls]
program = "/usr/sbin/nginx"
args = ["-p", "{{workdir}}", "-c", "{{workdir}}/nginx.conf", "-e", "stderr"]
ready = "tcp"
stop_signal = "SIGTERM"
[targets.nginx-tls.files]
"nginx.conf" = """
daemon off;
master_process on;
worker_processes {{threads}};
user root;
pid {{workdir}}/nginx.pid;
lock_file {{workdir}}/nginx.lock;
error_log stderr warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {{workdir}}/client_body;
    proxy_temp_path {{workdir}}/proxy;
    fastcgi_temp_path {{workdir}}/fastcgi;
    uwsgi_temp_path {{workdir}}/uwsgi;
    scgi_temp_path {{workdir}}/scgi;
    keepalive_requests 1000000000;
    server {{
        listen {{listen}} ssl;
        ssl_certificate {cert};
        ssl_certificate_key {key};
        location / {{ return 200 "ok\\n"; }}
    }}
}}
"""

[targets.go-tls]
program = "{go}"
args = ["-listen", "{{listen}}", "-tls-cert", "{cert}", "-tls-key", "{key}"]
env = {{ GOMAXPROCS = "{{threads}}" }}
ready = "line:^go-server listening on "
stop_signal = "SIGTERM"
"#,
        cert = cert.display(),
        key = key.display(),
        go = go.display(),
    )
}

fn tls_server_plan(target: &str, load_keys: &str) -> String {
    format!(
        r#"name = "tls-{target}"
[target]
name = "{target}"
[load]
mode = "closed"
connections = 4
duration = "1s"
warmup = "300ms"
reserve_cpus = 1
tls = true
ca = "tls/ca.pem"
{load_keys}
[[layouts]]
name = "one"
replicas = 1
threads = 1
"#
    )
}

#[test]
fn nginx_and_the_go_server_over_tls_are_verified_against_their_ca_and_measured() {
    let _turn = crate::turns::beside_others();
    let dir = common::scratch("protocols", "servers");
    let tls = certificates(&dir);
    let config = dir.join("agent.toml");
    std::fs::write(&config, tls_servers_config(&tls)).expect("config");
    let config = config.to_str().expect("path");
    for target in ["nginx-tls", "go-tls"] {
        let plan = dir.join(format!("{target}.toml"));
        std::fs::write(&plan, tls_server_plan(target, "")).expect("plan");
        let run = run_plan(&plan, &["--quiet", "--agent-config", config]);
        let one = layout(&run.result, "one");
        assert!(
            one["status"] == "ok" || one["status"] == "suspect",
            "{target}: {one}"
        );
        assert!(
            one["requests"].as_u64().expect("requests") > 100,
            "{target}"
        );
        assert_eq!(one["errors_by_kind"].get("tls"), None, "{target}");
        let setup = &one["connection_setup"];
        assert_eq!(setup["tls_handshake_ns"]["count"], 4, "{target}: {setup}");
    }
}

#[test]
fn a_go_server_choosing_h2_by_alpn_is_refused_for_an_http1_load_in_one_line() {
    let _turn = crate::turns::beside_others();
    let dir = common::scratch("protocols", "alpn");
    let tls = certificates(&dir);
    let config = dir.join("agent.toml");
    std::fs::write(&config, tls_servers_config(&tls)).expect("config");
    let plan = dir.join("plan.toml");
    let offer_h2 = r#"alpn = ["h2", "http/1.1"]"#;
    std::fs::write(&plan, tls_server_plan("go-tls", offer_h2)).expect("plan");
    let out = dir.join("result.json");
    let run = std::process::Command::new(common::BIN)
        .args([
            "run",
            plan.to_str().expect("path"),
            "--quiet",
            "--agent-config",
        ])
        .arg(&config)
        .arg("--out")
        .arg(&out)
        .output()
        .expect("run");
    assert_eq!(run.status.code(), Some(4), "{run:?}");
    let result = common::read_json(&out);
    let one = layout(&result, "one");
    assert_eq!(one["status"], "failed");
    let error = one["error"].as_str().expect("error");
    assert!(error.contains(r#"chose "h2" by ALPN"#), "{error}");
}

/// nginx speaking HTTP/2 in clear text (prior knowledge), sending GOAWAY after 200 requests on
/// a connection.
const NGINX_H2C: &str = r#"
[targets.nginx-h2c]
program = "/usr/sbin/nginx"
args = ["-p", "{workdir}", "-c", "{workdir}/nginx.conf", "-e", "stderr"]
ready = "tcp"
stop_signal = "SIGTERM"
[targets.nginx-h2c.files]
"nginx.conf" = """
daemon off;
master_process on;
worker_processes {threads};
user root;
pid {workdir}/nginx.pid;
lock_file {workdir}/nginx.lock;
error_log stderr warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path {workdir}/client_body;
    proxy_temp_path {workdir}/proxy;
    fastcgi_temp_path {workdir}/fastcgi;
    uwsgi_temp_path {workdir}/uwsgi;
    scgi_temp_path {workdir}/scgi;
    keepalive_requests 200;
    server {
        listen {listen} http2;
        location / { return 200 "ok\\n"; }
    }
}
"""
"#;

#[test]
fn h2c_streams_and_goaways_go_from_the_plan_to_the_result_and_the_report() {
    let _turn = crate::turns::beside_others();
    let dir = common::scratch("protocols", "h2c");
    let config = dir.join("agent.toml");
    std::fs::write(&config, NGINX_H2C).expect("config");
    let plan = dir.join("plan.toml");
    let text = r#"name = "h2c"
[target]
name = "nginx-h2c"
[load]
mode = "closed"
connections = 2
duration = "1s"
warmup = "300ms"
reserve_cpus = 1
protocol = "h2c"
streams = 8
[[layouts]]
name = "one"
replicas = 1
threads = 1
"#;
    std::fs::write(&plan, text).expect("plan");
    let config = config.to_str().expect("path");
    let run = run_plan(&plan, &["--agent-config", config]);
    assert_matches_schema(&run.result);
    assert_eq!(run.result["plan"]["load"]["protocol"], "h2c");
    assert_eq!(run.result["plan"]["load"]["streams"], 8);
    let one = layout(&run.result, "one");
    assert!(one["status"] == "ok" || one["status"] == "suspect", "{one}");
    assert!(one["requests"].as_u64().expect("requests") > 400, "{one}");
    assert!(one["goaways"].as_u64().expect("goaways") >= 2, "{one}");
    assert_eq!(one["errors"], 0, "{one}");
    assert!(run.stdout.contains("  http/2       "), "{}", run.stdout);
    assert!(run.stdout.contains("GOAWAY"), "{}", run.stdout);
}
