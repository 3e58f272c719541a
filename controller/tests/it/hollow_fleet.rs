//! A thousand hollow agents (`numaload agent --hollow 1000`, one process) run by the real
//! controller over the real protocol: the merge is exact (every count and percentile equals what
//! the agents' made-up histograms, computed here again, give when added up), the run says it is
//! simulated everywhere, refuses hollow agents unless told, and stays within bounds of time and
//! memory per agent.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use numaload_agent::hollow::synth;
use numaload_proto::histogram;

use crate::common;
use crate::common::BIN;

/// Hollow agents in one `numaload agent --hollow` process, killed when dropped.
struct Hollow {
    child: Child,
    addresses: Vec<String>,
}

impl Hollow {
    fn start(count: usize) -> Hollow {
        let mut child = Command::new(BIN)
            .args(["agent", "--hollow", &count.to_string()])
            .args(["--listen", "127.0.0.1:0", "--insecure"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start hollow agents");
        let stdout = child.stdout.take().expect("stdout");
        let addresses: Vec<String> = BufReader::new(stdout)
            .lines()
            .take(count)
            .map(|l| l.expect("an address a line"))
            .collect();
        assert_eq!(addresses.len(), count, "every hollow agent's address");
        Hollow { child, addresses }
    }
}

impl Drop for Hollow {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const AGENTS: usize = 1_000;

const PLAN: &str = r#"name = "hollow-fleet"
[target]
name = "async"
[load]
mode = "open"
rate = 150
connections = 2
duration = "2s"
warmup = "200ms"
[[layouts]]
name = "one"
replicas = 1
[[layouts]]
name = "two"
replicas = 2
"#;

/// The controller's peak resident memory (its high-water mark, read every 20 ms while it runs)
/// and how long it ran; its exit code.
fn run_watched(run: &mut Command) -> (Option<i32>, u64, Duration) {
    let started = Instant::now();
    let mut child = run.spawn().expect("controller");
    let status = format!("/proc/{}/status", child.id());
    let mut peak_kb = 0;
    let code = loop {
        if let Some(kb) = std::fs::read_to_string(&status).ok().and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse::<u64>().ok())
        }) {
            peak_kb = peak_kb.max(kb);
        }
        if let Some(exit) = child.try_wait().expect("controller status") {
            break exit.code();
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    (code, peak_kb, started.elapsed())
}

#[test]
fn a_thousand_hollow_agents_merge_exactly_and_say_they_are_simulated() {
    let _turn = crate::turns::alone();
    let hollow = Hollow::start(AGENTS);
    let dir = common::scratch("hollow", "thousand");
    let plan_path = common::write_plan(&dir, PLAN);
    let agents: Vec<String> = hollow
        .addresses
        .iter()
        .flat_map(|a| ["--agent".to_owned(), a.clone()])
        .collect();

    // Without --simulated a hollow agent is refused before anything runs.
    let refused = Command::new(BIN)
        .arg("run")
        .arg(&plan_path)
        .args(&agents[..2])
        .arg("--quiet")
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("is a hollow agent") && stderr.contains("--simulated"),
        "{stderr}"
    );

    let out = dir.join("result.json");
    let report = dir.join("report.txt");
    let mut run = Command::new(BIN);
    run.arg("run")
        .arg(&plan_path)
        .args(&agents)
        .args(["--simulated", "--quiet", "--out"])
        .arg(&out)
        .stdout(std::fs::File::create(&report).expect("report file"))
        .stderr(Stdio::null());
    let (code, peak_kb, took) = run_watched(&mut run);
    // Simulated figures are never to be trusted.
    assert_eq!(code, Some(4));
    let text = std::fs::read_to_string(&report).expect("report");
    assert!(
        text.lines()
            .nth(1)
            .is_some_and(|l| l.starts_with("SIMULATED: 1000 of 1000 agents are hollow")),
        "{text}"
    );
    assert!(
        text.lines().count() < 120,
        "a fleet's report is a summary: {text}"
    );

    let result = common::read_json(&out);
    common::assert_matches_schema(&result);
    assert!(result["hosts"]
        .as_array()
        .expect("hosts")
        .iter()
        .all(|h| h["simulated"] == true));
    exact_merge(&result, &hollow.addresses);

    // Bounds far above what was measured (BENCHMARKS.md has the figures), so that only a change
    // of scale fails: memory per agent, and the time beyond the plan's own (two layouts of
    // 2.2 s).
    let per_agent_kb = peak_kb / AGENTS as u64;
    assert!(
        per_agent_kb < 300,
        "controller peak RSS {peak_kb} kB: {per_agent_kb} kB per agent"
    );
    let beyond = took.saturating_sub(Duration::from_millis(4_400));
    assert!(
        beyond < Duration::from_secs(120),
        "controller took {took:?}"
    );
    eprintln!(
        "{AGENTS} hollow agents: controller peak RSS {peak_kb} kB ({per_agent_kb} kB per agent), \
         {took:?} for a plan of 4.4 s"
    );
}

/// Every layout of `result` is simulated and merges exactly what the hollow agents at
/// `addresses` (agent `i` the `i`-th) made up: their histograms, made again here and added up.
fn exact_merge(result: &serde_json::Value, addresses: &[String]) {
    let wire = numaload::plan::parse(PLAN, "plan.toml")
        .expect("plan")
        .to_run_plan("check");
    for spec in &wire.layouts {
        let layout = common::layout(result, &spec.name);
        assert_eq!(layout["status"], "suspect", "{}", spec.name);
        assert!(layout["suspect"][0]
            .as_str()
            .is_some_and(|s| s.starts_with("SIMULATED: 1000 of 1000")));
        // Every agent's made-up histograms, made again here and added up.
        let mut merged = histogram::new_latency();
        let mut requests = 0;
        let per_agent = layout["agents"].as_array().expect("agents");
        assert_eq!(per_agent.len(), AGENTS);
        for (index, address) in addresses.iter().enumerate() {
            let made = synth::summary(index as u32, &wire, spec, 0).expect("synthetic");
            let mut mine = histogram::new_latency();
            for w in &made.workers {
                let h = histogram::decode(&w.latency_corrected).expect("decodes");
                histogram::merge_into(&mut mine, &h).expect("adds");
                requests += w.requests;
            }
            let agent = &per_agent[index];
            assert_eq!(agent["agent"], address.as_str());
            assert_eq!(agent["requests"].as_u64(), Some(mine.len()), "{address}");
            assert_eq!(
                agent["latency_ns"]["p99"].as_u64(),
                Some(mine.value_at_quantile(0.99))
            );
            histogram::merge_into(&mut merged, &mine).expect("adds");
        }
        assert_eq!(layout["requests"].as_u64(), Some(requests), "{}", spec.name);
        let latency = &layout["latency_ns"];
        assert_eq!(latency["count"].as_u64(), Some(merged.len()));
        for (field, quantile) in [("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("p999", 0.999)] {
            assert_eq!(
                latency[field].as_u64(),
                Some(merged.value_at_quantile(quantile)),
                "{} {field}",
                spec.name
            );
        }
        assert_eq!(latency["max"].as_u64(), Some(merged.max()));
        assert_eq!(layout["delivery"]["answered"].as_u64(), Some(requests));
    }
}
