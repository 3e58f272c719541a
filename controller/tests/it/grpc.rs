//! gRPC end to end: `numaload run` with plans of gRPC calls (the built-in target's
//! `numaload.bench.v1.Bench` service, its checked-in protoset, JSON requests): over h2c, which
//! gRPC implies when the plan names no protocol, the calls counted per `grpc-status`, a code a
//! call does not expect an error of its own kind, one it expects not, and the report's line;
//! each entry of the mix with its calls beside its successes and errors, and the agent's errors
//! by kind (in the result and the per-agent CSV); a mix over both of the service's methods, each
//! call served by its own (the server's calls per method scraped from its /metrics); over h2
//! with TLS, the handshakes measured beside the calls.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::common::{self, assert_matches_schema, layout, run_plan, write_plan};

/// A scratch directory holding the built-in target's protoset and the `(file, JSON)` requests.
pub(crate) fn scratch_with_requests(name: &str, requests: &[(&str, &str)]) -> PathBuf {
    let dir = common::scratch("grpc", name);
    let protoset =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../target-server/proto/bench.protoset");
    std::fs::copy(protoset, dir.join("bench.protoset")).expect("protoset");
    for (file, json) in requests {
        std::fs::write(dir.join(file), json).expect("request");
    }
    dir
}

/// The entry of `name` in a layout's `request_mix`.
pub(crate) fn mix_entry<'a>(layout: &'a Value, name: &str) -> &'a Value {
    layout["request_mix"]
        .as_array()
        .expect("mix")
        .iter()
        .find(|m| m["name"] == name)
        .unwrap_or_else(|| panic!("no {name} in the mix"))
}

/// A count in a result, 0 where absent.
pub(crate) fn count(value: &Value) -> u64 {
    value.as_u64().unwrap_or(0)
}

/// A layout's calls never sent (a loaded machine may leave a few at the window's end): each
/// is an error of its request's besides those of its `grpc-status`.
pub(crate) fn unsent(layout: &Value) -> u64 {
    count(&layout["errors_by_kind"]["unsent"])
}

/// Fails unless a layout's errors are its calls' `grpc-status` errors and unsent calls only.
pub(crate) fn assert_errors_are_grpc_status_and_unsent(layout: &Value) {
    let kinds = &layout["errors_by_kind"];
    let grpc = count(&kinds["grpc_status"]);
    assert_eq!(count(&layout["errors"]), grpc + unsent(layout), "{kinds}");
}

/// A `[[load.requests]]` table: the call `name` of the built-in target's service's `method`
/// (`Work`, `Echo`) with `weight`, its request in the JSON file `request`, and `more` keys of its
/// `grpc` table (`expect_status = [5]`).
pub(crate) fn call(name: &str, weight: u32, method: &str, request: &str, more: &str) -> String {
    format!(
        "[[load.requests]]\nname = \"{name}\"\nweight = {weight}\n\
         grpc = {{ method = \"numaload.bench.v1.Bench/{method}\", request = \"{request}\", \
         descriptors = \"bench.protoset\"{more} }}\n"
    )
}

/// A plan named `name` of the target `target` (and `target_keys`), loaded open loop at `rate`
/// over two connections for 2 s (and `load_keys`) with `calls`, on the layout `single`: one
/// replica (and `layout_keys`).
pub(crate) struct GrpcPlan<'a> {
    pub name: &'a str,
    pub target: &'a str,
    pub target_keys: &'a str,
    pub rate: u32,
    pub load_keys: &'a str,
    pub calls: &'a [String],
    pub layout_keys: &'a str,
}

impl GrpcPlan<'_> {
    pub(crate) fn toml(&self) -> String {
        let GrpcPlan {
            name,
            target,
            target_keys,
            rate,
            load_keys,
            calls,
            layout_keys,
        } = self;
        let calls = calls.concat();
        format!(
            "name = \"{name}\"\n[target]\nname = \"{target}\"\n{target_keys}\n\
             [load]\nmode = \"open\"\nrate = {rate}\nconnections = 2\nduration = \"2s\"\n\
             warmup = \"300ms\"\nreserve_cpus = 1\n{load_keys}\n{calls}\
             [[layouts]]\nname = \"single\"\nreplicas = 1\n{layout_keys}\n"
        )
    }
}

/// [`GrpcPlan`] of the built-in `async` target with `work_us`, no more keys.
fn builtin_plan(name: &str, work_us: u64, rate: u32, load_keys: &str, calls: &[String]) -> String {
    GrpcPlan {
        name,
        target: "async",
        target_keys: &format!("work_us = {work_us}"),
        rate,
        load_keys,
        calls,
        layout_keys: "",
    }
    .toml()
}

#[test]
fn grpc_calls_are_counted_per_status_and_an_unexpected_one_is_an_error() {
    let _turn = crate::turns::beside_others();
    let dir = scratch_with_requests(
        "mix",
        &[
            ("ok.json", r#"{"payload": "aGk="}"#),
            ("not-found.json", r#"{"replyStatus": 5}"#),
            ("data-loss.json", r#"{"replyStatus": 15}"#),
        ],
    );
    let calls = [
        call("ok", 2, "Work", "ok.json", ""),
        call("not-found", 1, "Work", "not-found.json", ""),
        call(
            "expected-loss",
            1,
            "Work",
            "data-loss.json",
            ", expect_status = [0, 15]",
        ),
    ];
    let path = write_plan(&dir, &builtin_plan("grpc", 10, 400, "", &calls));
    let run = run_plan(&path, &["--quiet"]);
    assert_matches_schema(&run.result);
    let single = layout(&run.result, "single");
    let codes = &single["grpc_status_codes"];
    // Weights 2:1:1 over every answered call.
    let (ok, not_found, loss) = (count(&codes["0"]), count(&codes["5"]), count(&codes["15"]));
    assert!(ok > 100 && not_found > 50 && loss > 50, "{codes}");
    assert_eq!(codes.as_object().expect("codes").len(), 3, "{codes}");
    // A call answered with a status it does not expect was answered all the same.
    assert_eq!(
        single["delivery"]["answered"],
        ok + not_found + loss,
        "{}",
        single["delivery"]
    );
    let errors = &single["errors_by_kind"];
    assert_eq!(errors["grpc_status"], not_found, "{errors}");
    assert_errors_are_grpc_status_and_unsent(single);
    let errors_of = |name: &str| count(&mix_entry(single, name)["errors"]);
    let not_found_errors = errors_of("not-found");
    assert!(
        (not_found..=not_found + unsent(single)).contains(&not_found_errors),
        "{not_found_errors}"
    );
    assert!(
        errors_of("expected-loss") <= unsent(single),
        "15 is expected there"
    );
    // Every call of the mix is counted, its successes and errors beside: a not-found call
    // never succeeds, yet each is a call.
    let not_found_entry = mix_entry(single, "not-found");
    assert_eq!(count(&not_found_entry["requests"]), 0, "{not_found_entry}");
    assert_eq!(
        count(&not_found_entry["calls"]),
        not_found_errors,
        "{not_found_entry}"
    );
    let mut calls = 0;
    for entry in single["request_mix"].as_array().expect("mix") {
        let (ok, failed) = (count(&entry["requests"]), count(&entry["errors"]));
        assert_eq!(count(&entry["calls"]), ok + failed, "{entry}");
        calls += count(&entry["calls"]);
    }
    assert_eq!(
        calls,
        count(&single["requests"]) + count(&single["errors"]),
        "the mix's calls are the window's"
    );
    assert_agent_errors_by_kind(&run.out, single);
    assert!(run.stdout.contains("  grpc-status  0 ×"), "{}", run.stdout);
    assert!(run.stdout.contains("grpc status "), "{}", run.stdout);
    assert_eq!(
        run.result["plan"]["load"]["protocol"], "h2c",
        "implied by gRPC"
    );
    // Every HTTP response was a 200: the status is in the trailers.
    assert_eq!(single["status_codes"].as_object().expect("codes").len(), 1);
}

/// Fails unless the one agent's errors by kind are the layout's and add up to its errors, in the
/// result and in `report --format csv --per-agent` of the result file `out`.
fn assert_agent_errors_by_kind(out: &Path, single: &Value) {
    let agent = &single["agents"][0];
    let kinds = &agent["errors_by_kind"];
    assert_eq!(kinds, &single["errors_by_kind"], "one agent: the layout's");
    let total: u64 = kinds
        .as_object()
        .expect("errors by kind")
        .values()
        .map(count)
        .sum();
    assert!(count(&kinds["grpc_status"]) > 0, "{kinds}");
    assert_eq!(total, count(&agent["errors"]), "{agent}");
    let csv = common::numaload(&[
        "report",
        "--format",
        "csv",
        "--per-agent",
        out.to_str().expect("path"),
    ]);
    assert!(csv.status.success(), "{csv:?}");
    let rows = common::read_csv_with_python(&String::from_utf8_lossy(&csv.stdout));
    let [header, row] = &rows[..] else {
        panic!("a header and one agent's row: {rows:?}")
    };
    let cell = |name: &str| -> u64 {
        let i = header.iter().position(|h| h == name).expect(name);
        row[i]
            .parse()
            .unwrap_or_else(|_| panic!("{name}: {:?}", row[i]))
    };
    // The layout's CSV's error-kind columns, by the same names.
    let kind_columns: Vec<String> = numaload::report::csv::columns()
        .into_iter()
        .filter(|c| c.starts_with("errors_"))
        .collect();
    let sum: u64 = kind_columns.iter().map(|c| cell(c)).sum();
    assert_eq!(sum, cell("errors"), "{row:?}");
    assert_eq!(cell("errors_grpc_status"), count(&kinds["grpc_status"]));
}

/// The `Work` calls' work: long enough that no call of it is answered sooner, short enough for
/// a shared two-CPU machine at this rate.
const WORK_US: u64 = 3000;

#[test]
fn a_mix_over_two_methods_has_each_call_served_by_its_own_method() {
    let _turn = crate::turns::beside_others();
    // Only Work answers the status its request asks for (5); Echo knows no such field and
    // answers 0, at once, where Work first does its work.
    let dir = scratch_with_requests(
        "methods",
        &[
            ("echo.json", r#"{"payload": "ZWNobw=="}"#),
            ("work.json", r#"{"payload": "d29yaw==", "replyStatus": 5}"#),
        ],
    );
    let calls = [
        call("echo", 2, "Echo", "echo.json", ""),
        call("work", 1, "Work", "work.json", ", expect_status = [5]"),
    ];
    // The built-in target as an entry of an agent configuration that scrapes its calls per
    // method and status from its /metrics.
    let agent_config = dir.join("agent.toml");
    std::fs::write(&agent_config, scraping_config()).expect("agent config");
    let plan = GrpcPlan {
        name: "grpc-methods",
        target: "bench",
        target_keys: &format!("[target.knobs]\nwork_us = {WORK_US}"),
        rate: 240,
        load_keys: "",
        calls: &calls,
        layout_keys: "",
    }
    .toml();
    let agent_config = agent_config.to_str().expect("utf8");
    let run = run_plan(
        &write_plan(&dir, &plan),
        &["--quiet", "--agent-config", agent_config],
    );
    assert_matches_schema(&run.result);
    let single = layout(&run.result, "single");
    let codes = &single["grpc_status_codes"];
    assert_eq!(codes.as_object().expect("codes").len(), 2, "{codes}");
    let (echo, work) = (mix_entry(single, "echo"), mix_entry(single, "work"));
    // Every Work call ended with the status only Work answers, every Echo call with 0.
    assert_eq!(
        count(&codes["5"]),
        count(&work["requests"]),
        "{codes} {work}"
    );
    assert_eq!(
        count(&codes["0"]),
        count(&echo["requests"]),
        "{codes} {echo}"
    );
    // Weights 2:1.
    assert!(count(&work["requests"]) > 50, "{work}");
    assert!(
        count(&echo["requests"]) > count(&work["requests"]),
        "{echo}"
    );
    // No Work call came back before its work was done (the histogram's precision, 0.1%,
    // aside). That the server routes each path to its own method is target-server's test
    // (`http2.rs`, counted per method); here each call went out on its own method's path.
    let work_ns = WORK_US * 1000;
    assert!(
        count(&work["latency_ns"]["min"]) >= work_ns * 999 / 1000,
        "{work}"
    );
    for line in [
        "echo (POST /numaload.bench.v1.Bench/Echo) weight 2",
        "work (POST /numaload.bench.v1.Bench/Work) weight 1",
    ] {
        assert!(run.stdout.contains(line), "no {line:?} in:\n{}", run.stdout);
    }
    // 5 is what Work's calls expect: no grpc-status errors, and the totals add up.
    assert_eq!(count(&single["errors_by_kind"]["grpc_status"]), 0);
    assert_errors_are_grpc_status_and_unsent(single);
    assert_eq!(
        count(&echo["errors"]) + count(&work["errors"]),
        unsent(single)
    );
    let calls = count(&echo["requests"]) + count(&work["requests"]);
    assert_eq!(count(&single["requests"]), calls, "{single}");
    assert_eq!(count(&single["delivery"]["answered"]), calls);
    assert!(
        run.stdout.contains("  echo ") && run.stdout.contains("  work "),
        "each call has its line:\n{}",
        run.stdout
    );
    // The server's side, per method: each method served calls (warm-up included, so at least
    // the window's), and Work never answered 0, Echo never 5.
    let scraped = |series: &str| {
        single["replicas"][0]["scraped"]
            .as_array()
            .expect("scraped")
            .iter()
            .find(|s| s["name"] == series)
            .and_then(|s| s["last"].as_f64())
            .unwrap_or_else(|| panic!("{series} not scraped: {}", single["replicas"][0]))
    };
    let served = |labels: &str| scraped(&format!("numaload_grpc_requests_total{{{labels}}}"));
    assert!(served(r#"method="Work""#) >= count(&work["requests"]) as f64);
    assert!(served(r#"method="Echo""#) >= count(&echo["requests"]) as f64);
    assert_eq!(
        served(r#"method="Work",grpc_status="5""#),
        served(r#"method="Work""#)
    );
    assert_eq!(served(r#"method="Work",grpc_status="0""#), 0.0);
    assert_eq!(
        served(r#"grpc_status="0",method="Echo""#),
        served(r#"method="Echo""#)
    );
}

/// An agent configuration offering the built-in async target as `bench`, its calls scraped
/// per method and `grpc-status`.
fn scraping_config() -> String {
    let series = [
        r#"method="Work""#,
        r#"method="Echo""#,
        r#"method="Work",grpc_status="5""#,
        r#"method="Work",grpc_status="0""#,
        r#"grpc_status="0",method="Echo""#,
    ]
    .map(|labels| format!("'numaload_grpc_requests_total{{{labels}}}'"))
    .join(", ");
    format!(
        r#"
[targets.bench]
program = "{bin}"
args = ["target", "--variant", "async", "--listen", "{{listen}}", "--threads", "{{threads}}",
        "--work-us={{knob.work_us}}"]
ready = "line:^numaload-target listening on "
metrics = "/metrics"
requests_counter = "numaload_requests_total"
scrape = [{series}]
[targets.bench.knobs]
work_us = {{ range = [0, 1000000], default = 0 }}
"#,
        bin = crate::common::BIN
    )
}

#[test]
fn grpc_over_h2_with_tls_measures_the_handshakes_beside_the_calls() {
    let _turn = crate::turns::beside_others();
    let dir = scratch_with_requests(
        "tls",
        &[
            ("ok.json", r#"{"payload": "aGk="}"#),
            ("unavailable.json", r#"{"replyStatus": 14}"#),
        ],
    );
    let calls = [
        call("ok", 1, "Work", "ok.json", ""),
        call("unavailable", 1, "Work", "unavailable.json", ""),
    ];
    let tls = "tls = true\ninsecure_skip_verify = true\nprotocol = \"h2\"\nstreams = 4";
    let plan = builtin_plan("grpc-tls", 10, 300, tls, &calls);
    let run = run_plan(&write_plan(&dir, &plan), &["--quiet"]);
    assert_matches_schema(&run.result);
    assert_eq!(run.result["plan"]["load"]["protocol"], "h2");
    let single = layout(&run.result, "single");
    assert_eq!(single["errors_by_kind"].get("tls"), None, "no tls error");
    // Each connection's handshake, once: the connections stay open under h2.
    let setup = &single["connection_setup"];
    assert_eq!(setup["connections"], 2, "{setup}");
    assert_eq!(setup["tls_handshake_ns"]["count"], 2, "{setup}");
    assert!(count(&setup["tls_handshake_ns"]["min"]) > 0, "{setup}");
    assert!(!single["histograms"]["tls_handshake_v2_base64"]
        .as_str()
        .expect("histogram")
        .is_empty());
    let codes = &single["grpc_status_codes"];
    let (ok, unavailable) = (count(&codes["0"]), count(&codes["14"]));
    assert!(ok > 50 && unavailable > 50, "{codes}");
    assert_eq!(count(&single["delivery"]["answered"]), ok + unavailable);
    assert_eq!(single["errors_by_kind"]["grpc_status"], unavailable);
    for row in ["  handshake ", "  grpc-status  0 ×", "grpc status "] {
        assert!(run.stdout.contains(row), "no {row:?} in:\n{}", run.stdout);
    }
}

/// The fenced TOML block of `docs/plan.md` holding `marker`.
fn doc_plan(marker: &str) -> String {
    let text = std::fs::read_to_string(common::manifest("../docs/plan.md")).expect("plan.md");
    text.split("```toml\n")
        .skip(1)
        .filter_map(|rest| rest.split_once("\n```").map(|(block, _)| block))
        .find(|block| block.contains(marker))
        .unwrap_or_else(|| panic!("docs/plan.md has no TOML block with {marker}"))
        .to_owned()
}

#[test]
fn the_documented_mix_across_methods_runs_as_the_page_says() {
    let _turn = crate::turns::beside_others();
    // The files as docs/plan.md describes them.
    let dir = scratch_with_requests(
        "doc-mix",
        &[
            ("work.json", r#"{"payload": "aGk="}"#),
            ("echo.json", r#"{"payload": "aGk="}"#),
        ],
    );
    std::fs::write(dir.join("not-found.bin"), [0x10, 0x05]).expect("request_bin");
    let plan = write_plan(&dir, &doc_plan(r#"name = "grpc-mix""#));
    let short = [
        "--quiet",
        "--set",
        "load.duration=1s",
        "--set",
        "load.warmup=200ms",
    ];
    let run = run_plan(&plan, &short);
    let one = layout(&run.result, "one");
    let codes = &one["grpc_status_codes"];
    let not_found = count(&mix_entry(one, "not-found")["requests"]);
    assert!(not_found > 0, "{one}");
    assert_eq!(count(&codes["5"]), not_found, "{codes}");
    for name in ["work", "echo"] {
        assert!(count(&mix_entry(one, name)["requests"]) > 0, "{name}");
    }
    assert_eq!(count(&one["errors_by_kind"]["grpc_status"]), 0);
    assert_errors_are_grpc_status_and_unsent(one);
}
