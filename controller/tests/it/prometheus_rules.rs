//! deploy/prometheus with a real Prometheus toolchain: the alert rule fires and stays quiet as
//! its unit tests say (`promtool test rules`), the scrape config is valid, and the agent's own
//! /metrics passes `promtool check metrics`. promtool comes from Debian's `prometheus` package
//! (scripts/setup-system.sh installs it).

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use numaload_test_support::promtool;

fn deploy() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/prometheus")
}

#[test]
fn the_thread_alert_fires_after_30s_above_50_and_not_otherwise() {
    let (ok, text) = promtool::run(&deploy(), &["test", "rules", "numaload-rules.test.yml"], "");
    assert!(ok, "{text}");
    // Negative control: the same tests against a rule that waits 60 s must fail.
    let dir = std::env::temp_dir().join(format!("numaload-rules-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let rules = std::fs::read_to_string(deploy().join("numaload-rules.yml")).expect("rules");
    assert!(rules.contains("for: 30s"));
    std::fs::write(
        dir.join("numaload-rules.yml"),
        rules.replace("for: 30s", "for: 60s"),
    )
    .expect("write");
    std::fs::copy(
        deploy().join("numaload-rules.test.yml"),
        dir.join("numaload-rules.test.yml"),
    )
    .expect("copy");
    let (ok, _) = promtool::run(&dir, &["test", "rules", "numaload-rules.test.yml"], "");
    assert!(
        !ok,
        "the rule tests cannot tell a 60 s rule from a 30 s one"
    );
}

#[test]
fn the_scrape_config_and_its_rules_are_valid() {
    let (ok, text) = promtool::run(&deploy(), &["check", "config", "prometheus.yml"], "");
    assert!(ok, "{text}");
    assert!(text.contains("1 rules found"), "{text}");
}

#[test]
fn the_agents_own_metrics_pass_promtool() {
    // Port 0 for both listeners: the agent prints the addresses it bound, so no port is picked
    // here and then lost to a race before the agent binds it.
    let mut agent = Command::new(env!("CARGO_BIN_EXE_numaload"))
        .args(["agent", "--insecure", "--listen", "127.0.0.1:0"])
        .args(["--metrics-listen", "127.0.0.1:0"])
        .stderr(Stdio::piped())
        .spawn()
        .expect("agent");
    let mut said = Vec::new();
    let mut metrics = None;
    // The reader lives until the agent is killed: a closed stderr would make its next line fail.
    let mut lines = BufReader::new(agent.stderr.take().expect("stderr")).lines();
    for line in lines.by_ref() {
        let Ok(line) = line else { break };
        if let Some(rest) = line.strip_prefix("agent metrics on http://") {
            metrics = rest.strip_suffix("/metrics").map(str::to_owned);
            break;
        }
        said.push(line);
    }
    let Some(metrics) = metrics else {
        let _ = agent.kill();
        let _ = agent.wait();
        panic!("the agent never said where its metrics are: {said:?}");
    };
    let mut stream = std::net::TcpStream::connect(&metrics).expect("connect");
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        .expect("write");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read");
    let _ = agent.kill();
    let _ = agent.wait();
    drop(lines);
    let body = response
        .split_once("\r\n\r\n")
        .expect("head and body")
        .1
        .to_owned();
    assert!(body.contains("numaload_agent_run_active 0"), "{body}");
    let (ok, said) = promtool::check_metrics(&body);
    assert!(ok, "{said}\n{body}");
    for standard in [
        "\nprocess_threads ",
        "\nprocess_cpu_seconds_total ",
        "\nprocess_resident_memory_bytes ",
        "\nprocess_open_fds ",
    ] {
        assert!(body.contains(standard), "{standard:?} not in\n{body}");
    }
    // The check has teeth: a counter without `_total` fails promtool's lint.
    let breach = body.replace("numaload_agent_runs_total", "numaload_agent_runs");
    let (ok, said) = promtool::check_metrics(&breach);
    assert!(!ok && said.contains("_total"), "{said}");
}
