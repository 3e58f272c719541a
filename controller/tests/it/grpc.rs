//! gRPC end to end: `numaload run` with a plan of gRPC calls (the built-in target's
//! `numaload.bench.v1.Bench/Work`, its checked-in protoset, JSON requests) over h2c, which gRPC
//! implies when the plan names no protocol: the calls
//! counted per `grpc-status`, a code a call does not expect an error of its own kind, one it
//! expects not, and the report's line.

use std::path::Path;

use crate::common::{self, assert_matches_schema, layout, run_plan, write_plan};

const PLAN: &str = r#"name = "grpc"
[target]
name = "async"
work_us = 10
[load]
mode = "open"
rate = 400
connections = 2
duration = "2s"
warmup = "300ms"
reserve_cpus = 1
[[load.requests]]
name = "ok"
weight = 2
grpc = { method = "numaload.bench.v1.Bench/Work", request = "ok.json", descriptors = "bench.protoset" }
[[load.requests]]
name = "not-found"
grpc = { method = "numaload.bench.v1.Bench/Work", request = "not-found.json", descriptors = "bench.protoset" }
[[load.requests]]
name = "expected-loss"
grpc = { method = "numaload.bench.v1.Bench/Work", request = "data-loss.json", descriptors = "bench.protoset", expect_status = [0, 15] }
[[layouts]]
name = "single"
replicas = 1
"#;

#[test]
fn grpc_calls_are_counted_per_status_and_an_unexpected_one_is_an_error() {
    let _turn = crate::turns::beside_others();
    let dir = common::scratch("grpc", "mix");
    let protoset =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../target-server/proto/bench.protoset");
    std::fs::copy(protoset, dir.join("bench.protoset")).expect("protoset");
    for (file, json) in [
        ("ok.json", r#"{"payload": "aGk="}"#),
        ("not-found.json", r#"{"replyStatus": 5}"#),
        ("data-loss.json", r#"{"replyStatus": 15}"#),
    ] {
        std::fs::write(dir.join(file), json).expect("request");
    }
    let path = write_plan(&dir, PLAN);
    let run = run_plan(&path, &["--quiet"]);
    assert_matches_schema(&run.result);
    let single = layout(&run.result, "single");
    let codes = &single["grpc_status_codes"];
    let count = |code: &str| codes[code].as_u64().unwrap_or(0);
    // Weights 2:1:1 over every answered call.
    let (ok, not_found, loss) = (count("0"), count("5"), count("15"));
    assert!(ok > 200 && not_found > 100 && loss > 100, "{codes}");
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
    let mix = single["request_mix"].as_array().expect("mix");
    let errors_of = |name: &str| {
        mix.iter()
            .find(|m| m["name"] == name)
            .map(|m| m["errors"].as_u64().unwrap_or(0))
            .expect(name)
    };
    assert_eq!(errors_of("not-found"), not_found);
    assert_eq!(errors_of("expected-loss"), 0, "15 is expected there");
    assert!(run.stdout.contains("  grpc-status  0 ×"), "{}", run.stdout);
    assert!(run.stdout.contains("grpc status "), "{}", run.stdout);
    assert_eq!(
        run.result["plan"]["load"]["protocol"], "h2c",
        "implied by gRPC"
    );
    // Every HTTP response was a 200: the status is in the trailers.
    assert_eq!(single["status_codes"].as_object().expect("codes").len(), 1);
}
