//! Load shapes end to end, on loopback: `numaload run` of a plan with Poisson arrivals and two
//! stages (a step and a ramp) reports each stage in the result and every format, records the
//! seed it drew, and sends the same schedule again from that seed; a recorded trace is replayed
//! entry by entry, each as the request it names; a bad trace line is refused naming the file
//! and the line. (The schedules' statistics are checked without sockets in the agent's
//! `loadgen/shape/tests.rs`; a stall across the window's close under Poisson arrivals in
//! `agent/tests/it/window.rs`.)

use std::path::Path;

use serde_json::Value;

use crate::common::{assert_matches_schema, numaload, run_plan, scratch, write_plan};

const STAGED: &str = r#"name = "shapes"

[target]
name = "async"
work_us = 0

[load]
mode = "open"
arrivals = "poisson"
connections = 8
warmup = "300ms"
reserve_cpus = 1

[[load.stages]]
rate = 400
duration = "1s"

[[load.stages]]
from = 400
to = 1200
duration = "1s"

[[layouts]]
name = "single"
replicas = 1
"#;

/// Each stage's (requests + errors): the requests the schedule intended in it.
fn intended_by_stage(layout: &Value) -> Vec<u64> {
    layout["stages"]
        .as_array()
        .expect("stages")
        .iter()
        .map(|s| s["requests"].as_u64().expect("requests") + s["errors"].as_u64().expect("errors"))
        .collect()
}

fn report(result: &Path, format: &str) -> String {
    let out = numaload(&["report", &result.to_string_lossy(), "--format", format]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_staged_poisson_run_reports_each_stage_and_replays_from_its_seed() {
    let _turn = crate::turns::beside_others();
    let dir = scratch("load-shapes", "staged");
    let plan = write_plan(&dir, STAGED);
    let run = run_plan(&plan, &["--quiet"]);
    let result = &run.result;
    assert_matches_schema(result);
    let seed = result["plan"]["load"]["seed"]
        .as_u64()
        .expect("the seed drawn is recorded");
    let layout = &result["layouts"][0];
    assert_eq!(layout["agents"][0]["arrivals"]["seed"].as_u64(), Some(seed));
    assert_eq!(layout["agents"][0]["arrivals"]["stream"].as_u64(), Some(0));
    let stages = layout["stages"].as_array().expect("stages");
    assert_eq!(stages.len(), 2);
    let field = |s: &Value, key: &str| s[key].as_u64().expect(key);
    let sum = |key: &str| stages.iter().map(|s| field(s, key)).sum::<u64>();
    assert_eq!(sum("requests"), field(layout, "requests"), "stages add up");
    assert_eq!(sum("errors"), field(layout, "errors"));
    assert_eq!(sum("late_sends"), field(layout, "late_sends"));
    // 400 asked in the step, 800 in the ramp: Poisson counts, within 5 standard deviations.
    let intended = intended_by_stage(layout);
    for (count, asked) in intended.iter().zip([400.0, 800.0]) {
        let z = (*count as f64 - asked) / f64::sqrt(asked);
        assert!(z.abs() < 5.0, "{count} intended of {asked} asked");
    }
    for stage in stages {
        assert_eq!(stage["latency_ns"]["count"], stage["requests"], "{stage}");
        assert!(stage["throughput_rps"].as_f64().expect("throughput") > 0.0);
    }
    assert_eq!(
        (stages[1]["from_rps"].as_f64(), stages[1]["to_rps"].as_f64()),
        (Some(400.0), Some(1_200.0))
    );

    let text = report(&run.out, "text");
    assert!(
        text.contains(&format!("Poisson arrivals (seed {seed})")),
        "{text}"
    );
    assert!(text.contains("open loop in 2 stage(s) (400 req/s for 1s, 400 → 1,200 req/s over 1s)"));
    assert!(
        text.contains("  stages") && text.contains("400 → 1,200 req/s"),
        "{text}"
    );
    assert!(report(&run.out, "markdown").contains("`single` by stage:"));
    assert!(report(&run.out, "html").contains("<h3>By stage</h3>"));
    assert!(report(&run.out, "csv").contains("stage=2 from_rps=400 to_rps=1200"));

    // The same seed sends the same schedule: every stage intends the same requests again.
    let again = run_plan(&plan, &["--quiet", "--set", &format!("load.seed={seed}")]);
    assert_eq!(again.result["plan"]["load"]["seed"].as_u64(), Some(seed));
    assert_eq!(intended_by_stage(&again.result["layouts"][0]), intended);
}

#[test]
fn a_trace_is_replayed_entry_by_entry_and_a_bad_line_is_named() {
    let _turn = crate::turns::beside_others();
    let dir = scratch("load-shapes", "trace");
    // 600 entries over 1.2 s (0.6 s at speed 2): every third a write.
    let mut trace = String::from("offset,name\n");
    for i in 0..600 {
        let name = if i % 3 == 2 { "write" } else { "read" };
        trace.push_str(&format!("{:.4},{name}\n", i as f64 * 0.002));
    }
    std::fs::write(dir.join("arrivals.csv"), &trace).expect("trace");
    let plan = write_plan(
        &dir,
        r#"name = "replay"

[target]
name = "async"
work_us = 0

[load]
mode = "open"
trace = "arrivals.csv"
speed = 2
connections = 4
reserve_cpus = 1

[[load.requests]]
name = "read"
path = "/items/1"

[[load.requests]]
name = "write"
method = "POST"
path = "/items"
body = "x"

[[layouts]]
name = "single"
replicas = 1
"#,
    );
    let run = run_plan(&plan, &["--quiet"]);
    let result = &run.result;
    assert_matches_schema(result);
    let echoed = &result["plan"]["load"]["trace"];
    assert_eq!(echoed["entries"], 600);
    assert_eq!(echoed["speed"], 2.0);
    assert_eq!(
        result["plan"]["load"]["duration"], "600ms",
        "to just past the last entry"
    );
    let layout = &result["layouts"][0];
    let answered = layout["requests"].as_u64().expect("requests");
    assert_eq!(
        answered + layout["errors"].as_u64().expect("errors"),
        600,
        "every entry once"
    );
    let mix: Vec<(String, u64)> = layout["request_mix"]
        .as_array()
        .expect("mix")
        .iter()
        .map(|m| {
            let sent =
                m["requests"].as_u64().expect("requests") + m["errors"].as_u64().expect("errors");
            (m["name"].as_str().expect("name").to_owned(), sent)
        })
        .collect();
    assert_eq!(mix, [("read".to_owned(), 400), ("write".to_owned(), 200)]);

    std::fs::write(dir.join("arrivals.csv"), "0.1,read\n0.2,read\n0.3;write\n").expect("bad");
    let error = numaload::plan::load(&plan)
        .expect_err("a bad line")
        .to_string();
    assert_eq!(
        error,
        format!(
            "{}: load.trace = \"arrivals.csv\": line 3 (\"0.3;write\"): write the offset in \
             seconds and a request name, e.g. 1.250,read",
            plan.display()
        )
    );
}

/// A plan with `[load]` holding `load` (and the layout every plan needs).
fn with_load(load: &str) -> String {
    format!("name = \"t\"\n[target]\nname = \"async\"\n{load}\n[[layouts]]\nname = \"a\"\nreplicas = 1\n")
}

const OPEN: &str = "[load]\nmode = \"open\"\n";
const STEP: &str = "[[load.stages]]\nrate = 100\nduration = \"1s\"\n";

#[test]
#[allow(
    clippy::too_many_lines,
    reason = "a table of every refusal and its exact message"
)]
fn contradictions_and_bad_shapes_are_one_line_naming_the_key() {
    let cases: &[(&str, String, &str)] = &[
        (
            "rate beside stages",
            with_load(&format!("{OPEN}rate = 5\n{STEP}")),
            "load.rate = 5: not with load.stages: each stage gives its rate; remove rate",
        ),
        (
            "duration beside stages",
            with_load(&format!("{OPEN}duration = \"5s\"\n{STEP}")),
            "load.duration = \"5s\": not with load.stages: the measured window is the \
             stages' durations added up; remove duration",
        ),
        (
            "stages in closed loop",
            with_load(&format!(
                "[load]\nmode = \"closed\"\nduration = \"1s\"\n{STEP}"
            )),
            "load.stages: used with mode = \"open\" only (closed loop sends each request \
             when the previous response arrives); remove stages or use mode = \"open\"",
        ),
        (
            "a stage both step and ramp",
            with_load(&format!(
                "{OPEN}[[load.stages]]\nrate = 1\nfrom = 1\nto = 2\nduration = \"1s\"\n"
            )),
            "load.stages.0.rate: a stage is a step (rate) or a ramp (from and to), not \
             both; remove rate or from and to",
        ),
        (
            "a ramp without its end",
            with_load(&format!(
                "{OPEN}[[load.stages]]\nfrom = 1\nduration = \"1s\"\n"
            )),
            "load.stages.0.to is missing: a ramp goes from one rate to another: add to = N",
        ),
        (
            "a negative rate",
            with_load(&format!(
                "{OPEN}[[load.stages]]\nrate = -1\nduration = \"1s\"\n"
            )),
            "load.stages.0.rate = -1: must be a number of requests per second, 0 or more",
        ),
        (
            "a stage of no time",
            with_load(&format!(
                "{OPEN}[[load.stages]]\nrate = 1\nduration = \"0s\"\n"
            )),
            "load.stages.0.duration = \"0s\": must be longer than zero, e.g. \"10s\"",
        ),
        (
            "nothing asked",
            with_load(&format!(
                "{OPEN}[[load.stages]]\nrate = 0\nduration = \"1s\"\n"
            )),
            "load.stages: every stage asks for 0 requests per second; give one a rate above \
             0",
        ),
        (
            "a seed without Poisson",
            with_load(&format!("{OPEN}rate = 5\nduration = \"1s\"\nseed = 4\n")),
            "load.seed: only with arrivals = \"poisson\" (evenly spaced sends draw \
             nothing); remove seed or add arrivals = \"poisson\"",
        ),
        (
            "a negative seed",
            with_load(&format!(
                "{OPEN}rate = 5\nduration = \"1s\"\narrivals = \"poisson\"\nseed = -4\n"
            )),
            "load.seed = -4: must be a whole number from 0 to 9223372036854775807 (arrivals \
             = \"poisson\" only)",
        ),
        (
            "speed without a trace",
            with_load(&format!("{OPEN}rate = 5\nduration = \"1s\"\nspeed = 2\n")),
            "load.speed = 2: only with trace (it scales a trace's offsets); remove speed",
        ),
        (
            "a trace and stages",
            with_load(&format!("{OPEN}trace = \"a.csv\"\n{STEP}")),
            "load.stages: not with trace (the trace says when each request goes); remove \
             load.stages or load.trace",
        ),
        (
            "a trace and Poisson",
            with_load(&format!(
                "{OPEN}trace = \"a.csv\"\narrivals = \"poisson\"\n"
            )),
            "load.arrivals: not with trace (the trace says when each request goes); remove \
             arrivals or the trace",
        ),
        (
            "a trace and a rate",
            with_load(&format!("{OPEN}trace = \"a.csv\"\nrate = 5\n")),
            "load.rate = 5: not with trace: the trace says when each request goes; remove \
             rate",
        ),
        (
            "a trace and weights",
            with_load(&format!(
                "{OPEN}trace = \"a.csv\"\n[[load.requests]]\nname = \"r\"\nweight = 2\n"
            )),
            "load.requests.0.weight: not with load.trace (the trace names each request it \
             sends); remove weight",
        ),
        (
            "a search over stages",
            with_load(&format!("{OPEN}{STEP}")).replace(
                "name = \"t\"\n",
                "name = \"t\"\n[search]\nslo_p99 = \"5ms\"\n",
            ),
            "search: a search steps one constant open-loop rate: not with load.stages or \
             load.trace",
        ),
    ];
    for (what, text, want) in cases {
        let error = numaload::plan::parse(text, "plan.toml").expect_err(what);
        assert_eq!(error.to_string(), format!("plan.toml: {want}"), "{what}");
    }
}

#[test]
fn a_plan_of_stages_reads_as_their_sum_and_mean_and_a_trace_has_no_warm_up_unless_given() {
    let staged = numaload::plan::parse(
        &with_load(&format!(
            "{OPEN}{STEP}[[load.stages]]\nfrom = 100\nto = 300\nduration = \"1s\"\n"
        )),
        "plan.toml",
    )
    .expect("stages");
    assert_eq!(staged.load.duration, std::time::Duration::from_secs(2));
    assert_eq!(staged.load.rate(), Some(150.0));
    assert_eq!(staged.load.warmup, std::time::Duration::from_secs(1));
    let traced = numaload::plan::parse(
        &with_load(&format!("{OPEN}trace = \"a.csv\"\n")),
        "plan.toml",
    )
    .expect("a trace");
    assert_eq!(
        traced.load.warmup,
        std::time::Duration::ZERO,
        "a trace's warm-up: none"
    );
}
