//! gRPC against a server nobody here wrote: `tests/servers/python/grpc_server.py`, gRPC's own C
//! core through Debian's `python3-grpcio`, serving the built-in target's service through a
//! generic handler. An agent configuration starts it as a replica, as nginx and the Go server
//! are; `numaload run` loads both of its methods over h2c, with a status a call does not expect
//! (an error) and one it does (none), and nothing of the server is left running after the run
//! or after its parent dies.

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::common::agents::{alive, wait_until};
use crate::common::{self, assert_matches_schema, layout, run_plan, write_plan};
use crate::grpc::{
    assert_errors_are_grpc_status_and_unsent, call, count, mix_entry, scratch_with_requests,
    unsent, GrpcPlan,
};

/// Debian's interpreter, where `python3-grpcio` installs (a `python3` earlier on `PATH`, a
/// virtual environment say, may lack it).
const PYTHON: &str = "/usr/bin/python3";

fn script() -> String {
    common::manifest("../tests/servers/python/grpc_server.py")
        .to_str()
        .expect("path")
        .to_owned()
}

/// An agent configuration offering the Python server as the target `python-grpc`.
fn config() -> String {
    format!(
        r#"
[targets.python-grpc]
program = "{PYTHON}"
args = ["{script}", "--listen", "{{listen}}", "--threads", "{{threads}}"]
ready = "line:^python-grpc-server listening on "
stop_signal = "SIGTERM"
"#,
        script = script()
    )
}

/// Pids of processes running the Python server's script.
fn servers_running() -> Vec<u32> {
    let script = script();
    std::fs::read_dir("/proc")
        .expect("proc")
        .flatten()
        .filter_map(|entry| entry.file_name().to_string_lossy().parse::<u32>().ok())
        .filter(|pid| {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            String::from_utf8_lossy(&cmdline).contains(&script) && alive(*pid)
        })
        .collect()
}

#[test]
fn a_python_grpc_server_is_loaded_with_each_status_counted_and_left_stopped() {
    let _turn = crate::turns::beside_others();
    let dir = scratch_with_requests(
        "python",
        &[
            ("ok.json", r#"{"payload": "aGk="}"#),
            ("echo.json", r#"{"payload": "ZWNobw=="}"#),
            ("unavailable.json", r#"{"replyStatus": 14}"#),
            ("data-loss.json", r#"{"replyStatus": 15}"#),
        ],
    );
    let agent_config = dir.join("agent.toml");
    std::fs::write(&agent_config, config()).expect("config");
    let calls = [
        call("ok", 2, "Work", "ok.json", ""),
        call("echo", 1, "Echo", "echo.json", ""),
        call("unavailable", 1, "Work", "unavailable.json", ""),
        call(
            "expected-loss",
            1,
            "Work",
            "data-loss.json",
            ", expect_status = [0, 15]",
        ),
    ];
    let plan = GrpcPlan {
        name: "python-grpc",
        target: "python-grpc",
        target_keys: "",
        rate: 300,
        load_keys: "",
        calls: &calls,
        layout_keys: "threads = 2",
    };
    let plan = write_plan(&dir, &plan.toml());
    let agent_config = agent_config.to_str().expect("path");
    let run = run_plan(&plan, &["--quiet", "--agent-config", agent_config]);
    assert_matches_schema(&run.result);
    assert_eq!(run.result["plan"]["load"]["protocol"], "h2c");
    let one = layout(&run.result, "single");
    let codes = &one["grpc_status_codes"];
    assert_eq!(codes.as_object().expect("codes").len(), 3, "{codes}");
    // A call is counted in its `requests` when it succeeds, in its `errors` when not.
    let requests = |name: &str| count(&mix_entry(one, name)["requests"]);
    let errors = |name: &str| count(&mix_entry(one, name)["errors"]);
    let (ok, echo, loss) = (requests("ok"), requests("echo"), requests("expected-loss"));
    let unavailable = count(&codes["14"]);
    assert!(
        ok > 100 && echo > 50 && unavailable > 50 && loss > 50,
        "{codes}"
    );
    // Each call ended with the status its request asked the server for.
    assert_eq!(count(&codes["0"]), ok + echo, "{codes}");
    assert_eq!(count(&codes["15"]), loss, "{codes}");
    assert_eq!(
        count(&one["requests"]),
        ok + echo + loss,
        "the successful calls"
    );
    // 14 is expected by no call: each an error of its kind, answered all the same; 15 is
    // expected where it comes (besides, a loaded machine may leave a few calls unsent).
    assert_eq!(requests("unavailable"), 0);
    assert_eq!(count(&one["errors_by_kind"]["grpc_status"]), unavailable);
    assert_errors_are_grpc_status_and_unsent(one);
    let calls_errors = ["ok", "echo", "unavailable", "expected-loss"].map(errors);
    assert_eq!(calls_errors.iter().sum::<u64>(), unavailable + unsent(one));
    assert_eq!(
        count(&one["delivery"]["answered"]),
        ok + echo + unavailable + loss
    );
    assert!(run.stdout.contains("  grpc-status  0 ×"), "{}", run.stdout);
    assert_eq!(
        servers_running(),
        Vec::<u32>::new(),
        "stopped with its layout"
    );
}

#[test]
fn the_python_grpc_server_exits_when_its_parent_dies() {
    let _turn = crate::turns::beside_others();
    // A shell starts the server in the background and waits; the shell is then killed.
    let line = format!("{PYTHON} {} --listen 127.0.0.1:0 & echo $!; wait", script());
    let mut shell = Command::new("sh")
        .args(["-c", &line])
        .stdout(Stdio::piped())
        .spawn()
        .expect("sh");
    let mut lines = BufReader::new(shell.stdout.take().expect("stdout")).lines();
    let mut next = || lines.next().expect("a line").expect("text");
    let server: u32 = next().trim().parse().expect("the server's pid");
    assert!(
        next().starts_with("python-grpc-server listening on 127.0.0.1:"),
        "ready"
    );
    shell.kill().expect("kill the shell");
    shell.wait().expect("reaped");
    wait_until("the server exits", Duration::from_secs(10), || {
        !alive(server)
    });
}
