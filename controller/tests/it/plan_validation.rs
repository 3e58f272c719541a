//! Plan files: the quickstart parses, defaults apply, every mistake is one line naming the
//! file, the key and the fix, and the wire plan carries every field.

use std::path::{Path, PathBuf};
use std::time::Duration;

use numaload::plan::{
    self, Layout, Load, LoadMode, Memory, Pin, Plan, PlanError, PlanErrorKind, Replicas, Request,
    Smt, Target, Threads,
};
use numaload_proto::v1;

/// The smallest valid plan; cases edit one line of it.
const BASE: &str = r#"
name = "t"

[target]
name = "async"

[load]
mode = "open"
rate = 1000
duration = "10s"

[[layouts]]
name = "a"
replicas = 1
"#;

/// BASE with the line `from` replaced by `to` (which may be several lines, or nothing).
fn edited(from: &str, to: &str) -> String {
    let lines: Vec<&str> = BASE.lines().collect();
    assert!(lines.contains(&from), "BASE has no line {from:?}");
    lines
        .iter()
        .map(|line| if *line == from { to } else { line })
        .collect::<Vec<_>>()
        .join("\n")
}

/// BASE with `extra` appended (another layout, usually).
fn with(extra: &str) -> String {
    format!("{BASE}{extra}\n")
}

/// BASE with its [[layouts]] tables replaced by `layouts`, a top-level line.
fn inline_layouts(layouts: &str) -> String {
    let without = BASE.replace("[[layouts]]\nname = \"a\"\nreplicas = 1\n", "");
    without.replace("name = \"t\"\n", &format!("name = \"t\"\n{layouts}\n"))
}

fn parse(text: &str) -> Result<Plan, PlanError> {
    plan::parse(text, "plan.toml")
}

/// The error `text` gives, checked to be one line naming the file.
fn error_line(text: &str) -> String {
    let error = match parse(text) {
        Ok(plan) => panic!("expected an error, got {plan:?} from:\n{text}"),
        Err(error) => error,
    };
    let line = error.to_string();
    assert!(!line.contains('\n'), "not one line: {line:?}");
    assert!(
        line.starts_with("plan.toml"),
        "does not name the file: {line}"
    );
    line
}

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples")
}

#[test]
fn the_quickstart_parses_to_the_plan_its_comments_describe() {
    let plan = plan::load(&examples().join("quickstart.toml")).expect("quickstart is valid");
    let expected = Plan {
        name: "quickstart".into(),
        repeat: 1,
        search: None,
        target: Target::new("async", 20),
        load: Load {
            mode: LoadMode::Open { rate: 5000.0 },
            connections: 32,
            duration: Duration::from_secs(5),
            warmup: Duration::from_secs(1),
            reserve_cpus: 1,
            timeout: Duration::from_secs(2),
            send_precision: numaload::plan::DEFAULT_SEND_PRECISION,
            min_delivered: numaload::plan::DEFAULT_MIN_DELIVERED,
            requests: vec![Request::default_get()],
            expect_status: Vec::new(),
            interface: String::new(),
            arrivals: numaload::plan::Arrivals::Uniform,
            seed: None,
            stages: Vec::new(),
            trace: None,
            tls: None,
            protocol: Default::default(),
            streams: 1,
        },
        layouts: vec![
            Layout::new("one-process", Replicas::Count(1), Pin::None, Memory::None),
            Layout::new("per-node", Replicas::PerNode, Pin::Node, Memory::Local),
        ],
        thresholds: numaload::plan::Thresholds::default(),
        fleet: numaload::plan::FleetPolicy::default(),
    };
    assert_eq!(plan, expected);
}

/// (what is wrong, the plan text, the exact error line).
#[test]
fn the_errors_of_the_brief_read_exactly_so() {
    let cases: &[(&str, String, &str)] = &[
        (
            "misspelt key",
            edited("rate = 1000", "rat = 1000"),
            "plan.toml: load: unknown key \"rat\"; expected one of mode, rate, connections, \
             duration, warmup, reserve_cpus, timeout, coalesce, spin, send_precision, min_delivered, \
             interface, method, path, headers, body, requests, grpc, expect_status, arrivals, seed, \
             stages, trace, speed, tls, sni, ca, insecure_skip_verify, alpn, resume, protocol, streams",
        ),
        (
            "negative rate",
            edited("rate = 1000", "rate = -5"),
            "plan.toml: load.rate = -5: must be a positive number of requests per second",
        ),
        (
            "zero duration",
            edited("duration = \"10s\"", "duration = \"0s\""),
            "plan.toml: load.duration = \"0s\": must be longer than zero, e.g. \"10s\"",
        ),
        (
            "min_delivered above 100%",
            edited("rate = 1000", "rate = 1000\nmin_delivered = \"120%\""),
            "plan.toml: load.min_delivered = \"120%\": must be a percentage from \"0%\" to \
             \"100%\" of the window's requests, e.g. \"99%\"",
        ),
        (
            "min_delivered as a fraction",
            edited("rate = 1000", "rate = 1000\nmin_delivered = \"0.99\""),
            "plan.toml: load.min_delivered = \"0.99\": must be a percentage from \"0%\" to \
             \"100%\" of the window's requests, e.g. \"99%\"",
        ),
        (
            "zero replicas",
            with("[[layouts]]\nname = \"split\"\nreplicas = 0"),
            "plan.toml: layouts.split.replicas = 0: use a positive count, \"per-node\", \
             \"per-package\", \"per-l3\" or \"nic-local\"",
        ),
        (
            "duplicate layout names",
            with("[[layouts]]\nname = \"a\"\nreplicas = 2"),
            "plan.toml: layouts: two layouts are named \"a\"; names must be unique",
        ),
    ];
    for (what, text, expected) in cases {
        assert_eq!(error_line(text), *expected, "{what}");
    }
}

/// (what is wrong, the plan text, what the one error line must contain: the key path first).
/// One row per line reads best as a table; rustfmt would give up on the long rows anyway.
#[allow(clippy::too_many_lines, reason = "a table of plan mistakes and their messages: its length is the cases")]
#[rustfmt::skip]
fn mistakes() -> Vec<(&'static str, String, &'static [&'static str])> {
    vec![
        // Missing required keys.
        ("no plan name", edited("name = \"t\"", ""), &["name is missing", "e.g. name ="]),
        ("no [target]", edited("[target]", "").replace("name = \"async\"", ""), &["target is missing", "[target]"]),
        ("no target name", edited("name = \"async\"", ""), &["target.name is missing", "\"async\""]),
        ("no [load]", BASE.replace("[load]\nmode = \"open\"\nrate = 1000\nduration = \"10s\"\n", ""), &["load is missing"]),
        ("no mode", edited("mode = \"open\"", ""), &["load.mode is missing: add mode = \"open\"", "mode = \"closed\""]),
        ("open without rate", edited("rate = 1000", ""), &["load.rate is missing", "mode = \"open\""]),
        ("no duration", edited("duration = \"10s\"", ""), &["load.duration is missing", "\"10s\""]),
        ("interface not a name", edited("rate = 1000", "rate = 1000\ninterface = \"eth 0\""), &["load.interface = \"eth 0\": must be a network interface name"]),
        ("no layouts", inline_layouts(""), &["layouts: add at least one [[layouts]]"]),
        ("empty layouts", inline_layouts("layouts = []"), &["layouts: add at least one"]),
        ("unnamed layout", edited("name = \"a\"", ""), &["layouts.0.name is missing"]),
        ("layout without replicas", edited("replicas = 1", ""), &["layouts.a.replicas is missing", "\"per-node\""]),
        // Wrong types, mapped from the toml crate's spans to the key.
        ("plan name not a string", edited("name = \"t\"", "name = 5"), &["name = 5: must be a non-empty string"]),
        ("work_us a string", edited("name = \"async\"", "name = \"async\"\nwork_us = \"x\""), &["target.work_us = \"x\": must be a whole number of microseconds"]),
        ("rate a string", edited("rate = 1000", "rate = \"fast\""), &["load.rate = \"fast\": must be a positive number"]),
        ("connections a string", edited("rate = 1000", "rate = 1000\nconnections = \"many\""), &["load.connections = \"many\": must be a whole number from 1 to 10000"]),
        ("negative connections", edited("rate = 1000", "rate = 1000\nconnections = -1"), &["load.connections = -1:"]),
        ("duration a number", edited("duration = \"10s\"", "duration = 10"), &["load.duration = 10: must be a duration with a unit"]),
        ("timeout a number", edited("duration = \"10s\"", "duration = \"10s\"\ntimeout = 2"), &["load.timeout = 2:"]),
        ("coalesce a string", edited("duration = \"10s\"", "duration = \"10s\"\ncoalesce = \"no\""), &["load.coalesce = \"no\": must be true or false"]),
        ("coalesce in open loop", edited("duration = \"10s\"", "duration = \"10s\"\ncoalesce = false"), &["load.coalesce = false: used with mode = \"closed\" only", "remove coalesce"]),
        ("spin a number", edited("duration = \"10s\"", "duration = \"10s\"\nspin = 1"), &["load.spin = 1: must be true or false"]),
        ("spin in open loop", edited("duration = \"10s\"", "duration = \"10s\"\nspin = false"), &["load.spin = false: used with mode = \"closed\" only", "remove spin"]),
        ("negative reserve_cpus", edited("duration = \"10s\"", "duration = \"10s\"\nreserve_cpus = -1"), &["load.reserve_cpus = -1: must be a whole number of CPUs"]),
        ("fractional replicas", edited("replicas = 1", "replicas = 1.5"), &["layouts.a.replicas = 1.5: use a positive count, \"per-node\", \"per-package\", \"per-l3\" or \"nic-local\""]),
        ("boolean replicas", edited("replicas = 1", "replicas = true"), &["layouts.a.replicas = true:"]),
        ("target as a string", edited("[target]", "target = \"async\"").replace("name = \"async\"\n", ""), &["target = \"async\": must be a table"]),
        ("layouts as a single table", edited("[[layouts]]", "[layouts]"), &["plan.toml: layouts: must be one or more [[layouts]] tables"]),
        ("layout pin a number", edited("replicas = 1", "replicas = 1\npin = 1"), &["layouts.a.pin = 1: must be \"none\", \"node\", \"package\", \"l3\" or \"core\""]),
        // Words that are not one of the choices.
        ("unknown mode", edited("mode = \"open\"", "mode = \"opne\""), &["load.mode = \"opne\": must be \"open\""]),
        ("unknown pin", edited("replicas = 1", "replicas = 1\npin = \"nod\""), &["layouts.a.pin = \"nod\": must be \"none\", \"node\""]),
        ("unknown memory", edited("replicas = 1", "replicas = 1\nmemory = \"remote\""), &["layouts.a.memory = \"remote\": must be \"local\", \"interleave\", \"none\" or a list of NUMA nodes"]),
        ("unknown replicas word", edited("replicas = 1", "replicas = \"per-nod\""), &["layouts.a.replicas = \"per-nod\": use a positive count"]),
        // Durations humantime cannot read, or the wire cannot carry.
        ("duration without unit", edited("duration = \"10s\"", "duration = \"10\""), &["load.duration = \"10\": not a duration", "e.g. \"10s\""]),
        ("duration in words", edited("duration = \"10s\"", "duration = \"ten seconds\""), &["load.duration = \"ten seconds\": not a duration"]),
        ("warm-up with a bad unit", edited("duration = \"10s\"", "duration = \"10s\"\nwarmup = \"1x\""), &["load.warmup = \"1x\": not a duration"]),
        ("sub-millisecond timeout", edited("duration = \"10s\"", "duration = \"10s\"\ntimeout = \"1500us\""), &["load.timeout = \"1500us\": must be a whole number of milliseconds"]),
        // Out of range.
        ("duration over an hour", edited("duration = \"10s\"", "duration = \"2h\""), &["load.duration = \"2h\": must be at most 1h"]),
        ("zero timeout", edited("duration = \"10s\"", "duration = \"10s\"\ntimeout = \"0s\""), &["load.timeout = \"0s\": must be longer than zero"]),
        ("zero rate", edited("rate = 1000", "rate = 0"), &["load.rate = 0: must be a positive number"]),
        ("nan rate", edited("rate = 1000", "rate = nan"), &["load.rate = nan: must be a positive number"]),
        ("infinite rate", edited("rate = 1000", "rate = inf"), &["load.rate = inf: must be a positive number"]),
        ("closed loop with a rate", edited("mode = \"open\"", "mode = \"closed\""), &["load.rate = 1000: not used with mode = \"closed\"", "remove rate"]),
        ("zero connections", edited("rate = 1000", "rate = 1000\nconnections = 0"), &["load.connections = 0: must be a whole number from 1 to 10000"]),
        ("too many connections", edited("rate = 1000", "rate = 1000\nconnections = 10001"), &["load.connections = 10001:"]),
        ("too much work", edited("name = \"async\"", "name = \"async\"\nwork_us = 1000001"), &["target.work_us = 1000001: must be a whole number of microseconds from 0 to 1000000"]),
        ("target name with capitals", edited("name = \"async\"", "name = \"Async\""), &["target.name = \"Async\": must be lowercase letters, digits and '-'"]),
        ("target name a path", edited("name = \"async\"", "name = \"/bin/sh\""), &["target.name = \"/bin/sh\":"]),
        ("empty target name", edited("name = \"async\"", "name = \"\""), &["target.name = \"\":"]),
        ("empty plan name", edited("name = \"t\"", "name = \"\""), &["name = \"\": must be a non-empty string"]),
        ("empty layout name", edited("name = \"a\"", "name = \"  \""), &["layouts.0.name = \"  \": must be a non-empty string"]),
        ("negative replicas", edited("replicas = 1", "replicas = -2"), &["layouts.a.replicas = -2:"]),
        ("replicas beyond u32", edited("replicas = 1", "replicas = 5000000000"), &["layouts.a.replicas = 5000000000:"]),
        ("local memory, explicitly unpinned", edited("replicas = 1", "replicas = 1\npin = \"none\"\nmemory = \"local\""), &["layouts.a.memory = \"local\": local memory needs a node to be local to, and pin is \"none\"; set pin = \"node\" or memory = \"none\""]),
        ("local memory, unpinned by default", edited("replicas = 1", "replicas = 1\nmemory = \"local\""), &["layouts.a.memory = \"local\": local memory needs a node to be local to, and pin is \"none\" (the default for a replica count)"]),
        ("per-node but unpinned with local memory", edited("replicas = 1", "replicas = \"per-node\"\npin = \"none\"\nmemory = \"local\""), &["layouts.a.memory = \"local\": local memory needs a node to be local to, and pin is \"none\";"]),
        // Unknown keys at every level.
        ("unknown top-level key", edited("name = \"t\"", "name = \"t\"\nrun = 1"), &["plan.toml: unknown key \"run\"; expected one of name, repeat, search, target, load, layouts, thresholds"]),
        ("unknown table", with("[laod]\nmode = \"open\""), &["unknown key \"laod\""]),
        ("unknown target key", edited("name = \"async\"", "name = \"async\"\ncommand = \"/bin/sh\""), &["target: unknown key \"command\"; expected one of name, work_us, work_mode, dispatch, limit, pool_threads"]),
        ("unknown layout key", edited("replicas = 1", "replicas = 1\npinned = true"), &["layouts.a: unknown key \"pinned\"; expected one of name, replicas, pin, memory"]),
        ("unknown dotted key", edited("name = \"async\"", "name = \"async\"\nenv.PATH = \"/bin\""), &["target: unknown key \"env\"; expected one of name, work_us, work_mode, dispatch, limit, pool_threads"]),
        ("unknown key in an inline layout", inline_layouts("layouts = [{ name = \"b\", replicas = 1, pinn = 1 }]"), &["layouts.b: unknown key \"pinn\""]),
        ("wrong type in an inline layout", inline_layouts("layouts = [{ name = \"b\", replicas = 1, pin = 2 }]"), &["layouts.b.pin = 2: must be"]),
        ("unknown key in an unnamed layout", edited("name = \"a\"", "nmae = \"a\""), &["layouts.0: unknown key \"nmae\""]),
        // The placement policies.
        ("unknown smt", edited("replicas = 1", "replicas = 1\nsmt = \"two\""), &["layouts.a.smt = \"two\": must be \"all\" or \"one-per-core\""]),
        ("zero threads", edited("replicas = 1", "replicas = 1\nthreads = 0"), &["layouts.a.threads = 0: must be a positive number of worker threads or \"auto\""]),
        ("threads a word", edited("replicas = 1", "replicas = 1\nthreads = \"many\""), &["layouts.a.threads = \"many\":"]),
        ("empty memory list", edited("replicas = 1", "replicas = 1\nmemory = []"), &["layouts.a.memory = []: must be"]),
        ("negative memory node", edited("replicas = 1", "replicas = 1\nmemory = [-1]"), &["layouts.a.memory = [-1]: must be"]),
        ("bad cpulist", edited("replicas = 1", "replicas = 1\ncpus = \"0-\""), &["layouts.a.cpus = \"0-\": must be a non-empty CPU list such as \"0-7,16-23\""]),
        ("cpus a number", edited("replicas = 1", "replicas = 1\ncpus = 3"), &["layouts.a.cpus = 3: must be a non-empty CPU list"]),
        ("cpus with a pin", edited("replicas = 1", "replicas = 1\ncpus = \"0-3\"\npin = \"node\""), &["layouts.a.pin = \"node\": not used with cpus (the cpus are the pinning); remove pin"]),
        ("cpus per node", edited("replicas = 1", "replicas = \"per-node\"\ncpus = \"0-3\""), &["layouts.a.replicas = \"per-node\": cpus run every replica on the same CPUs"]),
        ("memory_nodes without cpus", edited("replicas = 1", "replicas = 1\nmemory_nodes = [0]"), &["layouts.a.memory_nodes: only used with cpus; without cpus write memory = [0]"]),
        ("memory_nodes and memory", edited("replicas = 1", "replicas = 1\ncpus = \"0\"\nmemory = \"local\"\nmemory_nodes = [0]"), &["layouts.a.memory_nodes: memory is also set; keep one of them"]),
        ("empty memory_nodes", edited("replicas = 1", "replicas = 1\ncpus = \"0\"\nmemory_nodes = []"), &["layouts.a.memory_nodes = []: must be a non-empty list of NUMA node numbers"]),
        ("per-package pinned to nodes", edited("replicas = 1", "replicas = \"per-package\"\npin = \"node\""), &["layouts.a.pin = \"node\": does not go with replicas = \"per-package\"; use pin = \"package\" or pin = \"none\""]),
        // Sweeps.
        ("sweep and the key", edited("replicas = 1", "replicas = 1\nsweep.replicas = [1, 2]"), &["layouts.a.sweep.replicas: replicas is also set directly; remove one of them"]),
        ("empty sweep", edited("replicas = 1", "replicas = 1\nsweep.pin = []"), &["layouts.a.sweep.pin = []: must list one or more values"]),
        ("bad swept value", edited("replicas = 1", "sweep.replicas = [1, 0]"), &["layouts.a.sweep.replicas[1] = 0: use a positive count"]),
        ("bad swept pin", edited("replicas = 1", "replicas = 2\nsweep.pin = [\"node\", \"nod\"]"), &["layouts.a.sweep.pin[1] = \"nod\": must be \"none\", \"node\""]),
        ("sweep not a list", edited("replicas = 1", "replicas = 1\nsweep.smt = \"all\""), &["layouts.a.sweep.smt = \"all\": must be a list of the values to sweep over"]),
        ("unknown sweep key", edited("replicas = 1", "replicas = 1\nsweep.cpus = [\"0\"]"), &["unknown key \"cpus\"; expected one of replicas, pin, memory, smt, threads"]),
        ("swept combination refused", edited("replicas = 1", "replicas = 1\nsweep.memory = [\"none\", \"local\"]"), &["layouts.\"a/memory=local\".memory = \"local\": local memory needs a node"]),
        ("swept name clashes", with("[[layouts]]\nname = \"a/replicas=2\"\nreplicas = 2\n[[layouts]]\nname = \"a\"\nsweep.replicas = [2]").replace("[[layouts]]\nname = \"a\"\nreplicas = 1\n", ""), &["layouts: two layouts are named \"a/replicas=2\""]),
        // Requests (one line per key, naming it).
        ("method not a token", edited("duration = \"10s\"", "duration = \"10s\"\nmethod = \"GET /\""), &["load.method = \"GET /\": must be an HTTP method, a token"]),
        ("empty method", edited("duration = \"10s\"", "duration = \"10s\"\nmethod = \"\""), &["load.method = \"\": must be an HTTP method"]),
        ("method with CRLF", edited("duration = \"10s\"", "duration = \"10s\"\nmethod = \"GET\\r\\nX: y\""), &["load.method = \"GET\\r\\nX: y\": must be an HTTP method"]),
        ("method a number", edited("duration = \"10s\"", "duration = \"10s\"\nmethod = 1"), &["load.method = 1: must be an HTTP method"]),
        ("relative path", edited("duration = \"10s\"", "duration = \"10s\"\npath = \"api\""), &["load.path = \"api\": must start with \"/\" (or be \"*\")"]),
        ("path with a space", edited("duration = \"10s\"", "duration = \"10s\"\npath = \"/a b\""), &["load.path = \"/a b\": must start with", "%20"]),
        ("path with LF", edited("duration = \"10s\"", "duration = \"10s\"\npath = \"/a\\nb\""), &["load.path = \"/a\\nb\":"]),
        ("header name not a token", edited("duration = \"10s\"", "duration = \"10s\"\nheaders = { \"X Y\" = \"1\" }"), &["load.headers.\"X Y\": not a header name"]),
        ("header value with CRLF", edited("duration = \"10s\"", "duration = \"10s\"\nheaders = { X-A = \"1\\r\\nEvil: 1\" }"), &["load.headers.X-A = \"1\\r\\nEvil: 1\": must be a one-line string"]),
        ("header value a number", edited("duration = \"10s\"", "duration = \"10s\"\nheaders = { X-A = 1 }"), &["load.headers.X-A = 1: must be a one-line string"]),
        ("Host by hand", edited("duration = \"10s\"", "duration = \"10s\"\nheaders = { Host = \"x\" }"), &["load.headers.Host: the load generator writes Host itself", "remove it"]),
        ("content-length by hand", edited("duration = \"10s\"", "duration = \"10s\"\nheaders = { content-length = \"3\" }"), &["load.headers.content-length: the load generator writes content-length itself"]),
        ("transfer-encoding by hand", edited("duration = \"10s\"", "duration = \"10s\"\nheaders = { Transfer-Encoding = \"chunked\" }"), &["load.headers.Transfer-Encoding: the load generator writes"]),
        ("header twice", edited("duration = \"10s\"", "duration = \"10s\"\nheaders = { Accept = \"a\", accept = \"b\" }"), &["is given twice (header names ignore case)"]),
        ("headers not a table", edited("duration = \"10s\"", "duration = \"10s\"\nheaders = \"Accept: x\""), &["load.headers = \"Accept: x\": must be a table of header name"]),
        ("body a number", edited("duration = \"10s\"", "duration = \"10s\"\nbody = 5"), &["load.body = 5: must be a string"]),
        ("single keys and a mix", with("[[load.requests]]\npath = \"/a\"").replace("duration = \"10s\"", "duration = \"10s\"\npath = \"/b\""), &["load.path: not used with load.requests"]),
        ("empty mix", edited("duration = \"10s\"", "duration = \"10s\"\nrequests = []"), &["load.requests = []: must be one or more [[load.requests]] tables"]),
        ("mix names clash", with("[[load.requests]]\nname = \"r\"\n[[load.requests]]\nname = \"r\"\npath = \"/b\""), &["load.requests: two requests are named \"r\""]),
        ("mix default names clash", with("[[load.requests]]\n[[load.requests]]\nweight = 2"), &["two requests are named \"GET /\""]),
        ("zero weight", with("[[load.requests]]\nname = \"r\"\nweight = 0"), &["load.requests.r.weight = 0: must be a positive whole number"]),
        ("negative weight", with("[[load.requests]]\nname = \"r\"\nweight = -1"), &["load.requests.r.weight = -1: must be a positive whole number"]),
        ("mix path", with("[[load.requests]]\nname = \"r\"\npath = \"x\""), &["load.requests.r.path = \"x\": must start with"]),
        ("mix method", with("[[load.requests]]\nmethod = \"G(T\""), &["load.requests.0.method = \"G(T\": must be an HTTP method"]),
        ("mix Host", with("[[load.requests]]\nname = \"r\"\nheaders = { HOST = \"x\" }"), &["load.requests.r.headers.HOST: the load generator writes HOST itself"]),
        ("mix empty name", with("[[load.requests]]\nname = \"\""), &["load.requests.0.name = \"\": must be a non-empty one-line string"]),
        ("unknown request key", with("[[load.requests]]\nname = \"r\"\nurl = \"/\""), &["unknown key \"url\"; expected one of name, method, path, headers, body, weight"]),
        ("status too low", edited("duration = \"10s\"", "duration = \"10s\"\nexpect_status = [200, 99]"), &["load.expect_status[1] = 99: must be a list of HTTP status codes from 100 to 599"]),
        ("status too high", edited("duration = \"10s\"", "duration = \"10s\"\nexpect_status = [600]"), &["load.expect_status[0] = 600:"]),
        ("status a string", edited("duration = \"10s\"", "duration = \"10s\"\nexpect_status = [\"200\"]"), &["expect_status", "must be a list of HTTP status codes"]),
        ("empty expect_status", edited("duration = \"10s\"", "duration = \"10s\"\nexpect_status = []"), &["load.expect_status = []: must list one or more status codes"]),
        // Knobs.
        ("knob name with capitals", edited("name = \"async\"", "name = \"async\"\nknobs = { GOMAXPROCS = 2 }"), &["target.knobs.GOMAXPROCS: knob names are lowercase letters, digits and '_'"]),
        ("knob value a list", edited("name = \"async\"", "name = \"async\"\nknobs = { gomaxprocs = [2] }"), &["target.knobs.gomaxprocs = [2]: must be an integer, a finite float, true or false"]),
        ("knob value nan", edited("name = \"async\"", "name = \"async\"\nknobs = { ratio = nan }"), &["target.knobs.ratio = nan: must be an integer"]),
        ("knobs not a table", edited("name = \"async\"", "name = \"async\"\nknobs = 3"), &["target.knobs = 3: must be a table of knob values"]),
        ("layout knob bad value", edited("replicas = 1", "replicas = 1\nknobs = { gomaxprocs = { a = 1 } }"), &["layouts.a.knobs.gomaxprocs = { a = 1 }: must be an integer"]),
        ("layout knob set twice", edited("replicas = 1", "replicas = 1\nknobs = { gomaxprocs = 1 }\ntarget = { knobs = { gomaxprocs = 2 } }"), &["layouts.a.knobs.gomaxprocs: also set in target.knobs"]),
        ("knob swept and set", edited("replicas = 1", "replicas = 1\nknobs = { gomaxprocs = 1 }\nsweep.\"knobs.gomaxprocs\" = [1, 2]"), &["layouts.a.sweep.\"knobs.gomaxprocs\": gomaxprocs is also set directly"]),
        ("bad swept knob value", edited("replicas = 1", "replicas = 1\nsweep.\"knobs.gomaxprocs\" = [1, [2]]"), &["layouts.a.sweep.\"knobs.gomaxprocs\"[1] = [2]: must be an integer"]),
        ("bad swept knob name", edited("replicas = 1", "replicas = 1\nsweep.\"knobs.Go\" = [1]"), &["layouts.a.sweep.\"knobs.Go\": knob names are lowercase"]),
        ("swept knob not a list", edited("replicas = 1", "replicas = 1\nsweep.knobs.gomaxprocs = 2"), &["layouts.a.sweep.knobs.gomaxprocs = 2: must be a list of the values to sweep over"]),
    ]
}

#[test]
fn every_mistake_is_one_line_naming_the_key() {
    let mut failures = Vec::new();
    for (what, text, needles) in mistakes() {
        let line = error_line(&text);
        for needle in needles {
            if !line.contains(needle) {
                failures.push(format!("{what}: {line:?} lacks {needle:?}"));
            }
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn syntax_errors_give_file_line_and_column_on_one_line() {
    let line = error_line(&edited("rate = 1000", "rate = "));
    assert!(line.starts_with("plan.toml:9:"), "{line}");
    let error = parse(&edited("rate = 1000", "rate = ")).expect_err("syntax error");
    assert_eq!(error.kind(), PlanErrorKind::Syntax);
    assert_eq!(error.line_column().map(|(line, _)| line), Some(9));

    let line = error_line(&edited("mode = \"open\"", "mode = \"open"));
    assert!(line.starts_with("plan.toml:8:"), "{line}");
    let line = error_line(&edited("rate = 1000", "rate = 1000\nrate = 2000"));
    assert!(line.starts_with("plan.toml:10:"), "duplicate key: {line}");
}

#[test]
fn validation_errors_carry_their_key_and_kind() {
    let error = parse(&edited("rate = 1000", "rate = -5")).expect_err("negative rate");
    assert_eq!(error.kind(), PlanErrorKind::Invalid);
    assert_eq!(error.key(), Some("load.rate"));
    assert_eq!(error.origin(), "plan.toml");
    assert_eq!(error.line_column(), None);

    let error = parse(&edited("rate = 1000", "rat = 1")).expect_err("unknown key");
    assert_eq!(error.key(), Some("load.rat"));
}

#[test]
fn defaults_fill_every_optional_key() {
    let plan = parse(BASE).expect("BASE is valid");
    assert_eq!(plan.target.work_us, 0);
    assert_eq!(plan.load.mode, LoadMode::Open { rate: 1000.0 });
    assert_eq!(plan.load.connections, 16);
    assert_eq!(plan.load.warmup, Duration::from_secs(1));
    assert_eq!(plan.load.reserve_cpus, 0);
    assert_eq!(plan.load.timeout, Duration::from_secs(2));
    let layout = &plan.layouts[0];
    assert_eq!((layout.pin, &layout.memory), (Pin::None, &Memory::None));
    assert_eq!(
        (layout.smt, layout.threads, &layout.cpus),
        (Smt::All, Threads::Auto, &None)
    );

    // pin follows replicas, memory follows pin.
    let cases: &[(&str, Pin, Memory)] = &[
        ("replicas = 1", Pin::None, Memory::None),
        ("replicas = \"per-node\"", Pin::Node, Memory::Local),
        ("replicas = 2\npin = \"node\"", Pin::Node, Memory::Local),
        (
            "replicas = \"per-node\"\npin = \"none\"",
            Pin::None,
            Memory::None,
        ),
        (
            "replicas = \"per-node\"\nmemory = \"none\"",
            Pin::Node,
            Memory::None,
        ),
    ];
    for (lines, pin, memory) in cases {
        let plan = parse(&edited("replicas = 1", lines)).expect(lines);
        let layout = &plan.layouts[0];
        assert_eq!((layout.pin, &layout.memory), (*pin, memory), "{lines}");
    }
}

#[test]
fn accepted_values_at_the_edges() {
    let cases: &[(&str, &str)] = &[
        ("rate = 1000", "rate = 0.5"),
        ("rate = 1000", "rate = 1000\nconnections = 1"),
        ("rate = 1000", "rate = 1000\nconnections = 10000"),
        ("duration = \"10s\"", "duration = \"1h\""),
        ("duration = \"10s\"", "duration = \"1m 30s\""),
        ("duration = \"10s\"", "duration = \"10s\"\nwarmup = \"0s\""),
        (
            "duration = \"10s\"",
            "duration = \"10s\"\ntimeout = \"1ms\"",
        ),
        ("name = \"async\"", "name = \"ffi-2\"\nwork_us = 1000000"),
        ("replicas = 1", "replicas = 64\npin = \"node\""),
    ];
    for (from, to) in cases {
        if let Err(error) = parse(&edited(from, to)) {
            panic!("{to:?} should be accepted: {error}");
        }
    }
}

#[test]
fn closed_loop_has_no_rate() {
    let text = edited("mode = \"open\"", "mode = \"closed\"").replace("rate = 1000\n", "");
    let plan = parse(&text).expect("closed loop without rate is valid");
    assert_eq!(
        plan.load.mode,
        LoadMode::Closed {
            coalesce: true,
            spin: true
        }
    );
    assert_eq!(plan.load.rate(), None);
    let spec = plan.to_run_plan("run-1").load.expect("load is set");
    assert_eq!(spec.mode, v1::LoadMode::Closed as i32);
    assert_eq!(spec.rate, 0.0);
    assert!(
        !spec.no_coalesce,
        "closed loop coalesces unless told not to"
    );

    let eager = parse(&text.replace("duration = \"10s\"", "duration = \"10s\"\ncoalesce = false"))
        .expect("coalesce = false is valid in closed loop");
    assert_eq!(
        eager.load.mode,
        LoadMode::Closed {
            coalesce: false,
            spin: true
        }
    );
    let spec = eager.to_run_plan("run-1").load.expect("load is set");
    assert!(spec.no_coalesce);
    assert!(!spec.no_spin, "closed loop spins unless told not to");

    let blocking = parse(&text.replace("duration = \"10s\"", "duration = \"10s\"\nspin = false"))
        .expect("spin = false is valid in closed loop");
    assert_eq!(
        blocking.load.mode,
        LoadMode::Closed {
            coalesce: true,
            spin: false
        }
    );
    let spec = blocking.to_run_plan("run-1").load.expect("load is set");
    assert!(spec.no_spin && !spec.no_coalesce);
}

#[allow(
    clippy::too_many_lines,
    reason = "every field of the run plan checked against the plan it came from"
)]
#[test]
fn the_run_plan_carries_every_field() {
    let text = r#"
name = "every-field"
[target]
name = "async"
work_us = 20
[target.knobs]
gomaxprocs = 8
gc = "off"
[load]
mode = "open"
rate = 2500.5
connections = 8
duration = "1m 30s"
warmup = "250ms"
reserve_cpus = 2
timeout = "1s"
method = "POST"
path = "/api/items?x=1"
headers = { Accept = "application/json", X-Trace = "on" }
body = '{"id": 1}'
expect_status = [201, 200, 201]
[[layouts]]
name = "three"
replicas = 3
[[layouts]]
name = "numa"
replicas = "per-node"
[layouts.knobs]
gomaxprocs = 2
ratio = 0.5
[[layouts]]
name = "pinned-four"
replicas = 4
pin = "node"
memory = "none"
"#;
    let plan = parse(text).expect("valid");
    use v1::layout_spec::Replicas as Wire;
    let knobs = |pairs: &[(&str, &str)]| {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    let target = |knob_pairs: &[(&str, &str)]| v1::TargetSpec {
        name: "async".into(),
        work_us: 20,
        work_mode: v1::WorkMode::Spin as i32,
        dispatch: v1::FfiDispatch::Unspecified as i32,
        limit: 0,
        pool_threads: 0,
        knobs: knobs(knob_pairs),
    };
    let expected = v1::RunPlan {
        run_id: "run-7".into(),
        name: "every-field".into(),
        target: Some(target(&[("gomaxprocs", "8"), ("gc", "off")])),
        load: Some(v1::LoadSpec {
            mode: v1::LoadMode::Open as i32,
            rate: 2500.5,
            connections: 8,
            duration_ms: 90_000,
            warmup_ms: 250,
            reserve_cpus: 2,
            timeout_ms: 1000,
            no_coalesce: false,
            no_spin: false,
            send_precision_ns: 50_000,
            interface: String::new(),
            tls: None,
            protocol: v1::HttpProtocol::H1 as i32,
            streams: 1,
            requests: vec![v1::HttpRequest {
                name: "POST /api/items?x=1".into(),
                method: "POST".into(),
                path: "/api/items?x=1".into(),
                headers: vec![
                    v1::Header {
                        name: "Accept".into(),
                        value: "application/json".into(),
                    },
                    v1::Header {
                        name: "X-Trace".into(),
                        value: "on".into(),
                    },
                ],
                body: br#"{"id": 1}"#.to_vec(),
                weight: 1,
                grpc: None,
            }],
            expect_status: vec![200, 201],
            arrivals: v1::Arrivals::Uniform as i32,
            seed: 0,
            stream: 0,
            stages: Vec::new(),
            trace: None,
        }),
        layouts: vec![
            v1::LayoutSpec {
                name: "three".into(),
                replicas: Some(Wire::Count(3)),
                pin: v1::Pin::None as i32,
                memory: v1::MemoryPolicy::None as i32,
                memory_nodes: vec![],
                smt: v1::Smt::All as i32,
                threads: 0,
                cpus: String::new(),
                target: None,
            },
            v1::LayoutSpec {
                name: "numa".into(),
                replicas: Some(Wire::PerNode(true)),
                pin: v1::Pin::Node as i32,
                memory: v1::MemoryPolicy::Local as i32,
                memory_nodes: vec![],
                smt: v1::Smt::All as i32,
                threads: 0,
                cpus: String::new(),
                target: Some(target(&[
                    ("gomaxprocs", "2"),
                    ("gc", "off"),
                    ("ratio", "0.5"),
                ])),
            },
            v1::LayoutSpec {
                name: "pinned-four".into(),
                replicas: Some(Wire::Count(4)),
                pin: v1::Pin::Node as i32,
                memory: v1::MemoryPolicy::None as i32,
                memory_nodes: vec![],
                smt: v1::Smt::All as i32,
                threads: 0,
                cpus: String::new(),
                target: None,
            },
        ],
        wait_for_start: false,
        start_timeout_ms: 0,
        skip_calibration: false,
        role: 0,
    };
    assert_eq!(plan.to_run_plan("run-7"), expected);
    // The echo in the result reads back to the same plan.
    let json = serde_json::to_value(&plan).expect("serializes");
    assert_eq!(json["load"]["requests"][0]["headers"]["X-Trace"], "on");
    assert_eq!(json["load"]["expect_status"], serde_json::json!([200, 201]));
    assert_eq!(json["target"]["knobs"]["gomaxprocs"], "8");
    let back: Plan = serde_json::from_value(json).expect("reads back");
    assert_eq!(back, plan);
}

#[test]
fn a_weighted_mix_reaches_the_wire_in_file_order() {
    let text = with(
        r#"[[load.requests]]
name = "read"
path = "/items/1"
weight = 9
[[load.requests]]
method = "PUT"
path = "/items/1"
headers = { Content-Type = "application/json" }
body = """
{"name": "x"}
"""
[[load.requests]]
name = "options"
method = "OPTIONS"
path = "*""#,
    );
    let plan = parse(&text).expect("valid");
    let names: Vec<&str> = plan.load.requests.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["read", "PUT /items/1", "options"]);
    let weights: Vec<u32> = plan.load.requests.iter().map(|r| r.weight).collect();
    assert_eq!(weights, [9, 1, 1]);
    let spec = plan.to_run_plan("r").load.expect("load");
    assert_eq!(spec.requests.len(), 3);
    assert_eq!(spec.requests[0].method, "GET", "the method defaults to GET");
    assert_eq!(
        spec.requests[1].body, b"{\"name\": \"x\"}\n",
        "bodies may span lines"
    );
    assert_eq!(spec.requests[1].headers[0].name, "Content-Type");
    assert!(spec.expect_status.is_empty(), "any 2xx by default");
    // Nothing said: one GET /.
    let plain = parse(BASE)
        .expect("valid")
        .to_run_plan("r")
        .load
        .expect("load");
    assert_eq!(plain.requests.len(), 1);
    assert_eq!(
        (
            plain.requests[0].name.as_str(),
            plain.requests[0].method.as_str()
        ),
        ("GET /", "GET")
    );
}

#[test]
fn knobs_sweep_into_one_layout_per_value() {
    let text = inline_layouts("").replace(
        "[target]\nname = \"async\"\n",
        "[target]\nname = \"async\"\nknobs = { gomaxprocs = 8, gc = 100 }\n",
    ) + r#"
[[layouts]]
name = "r"
replicas = 1
sweep."knobs.gomaxprocs" = [1, 2, 4]
[[layouts]]
name = "n"
replicas = 1
sweep.knobs.gc = [50, "off"]
sweep.threads = [2]
"#;
    let plan = parse(&text).expect("valid");
    let names: Vec<&str> = plan.layouts.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "r/gomaxprocs=1",
            "r/gomaxprocs=2",
            "r/gomaxprocs=4",
            "n/threads=2/gc=50",
            "n/threads=2/gc=off"
        ]
    );
    let knob = |i: usize, name: &str| {
        plan.layouts[i]
            .target
            .as_ref()
            .and_then(|t| t.knobs.get(name))
            .cloned()
    };
    assert_eq!(knob(1, "gomaxprocs").as_deref(), Some("2"));
    assert_eq!(
        knob(1, "gc").as_deref(),
        Some("100"),
        "the plan's other knobs stay"
    );
    assert_eq!(knob(4, "gc").as_deref(), Some("off"));
    assert_eq!(knob(4, "gomaxprocs").as_deref(), Some("8"));
    assert_eq!(plan.target.knobs["gomaxprocs"], "8");
    let wire = plan.to_run_plan("r");
    let spec = wire.layouts[2].target.as_ref().expect("own target");
    assert_eq!(spec.knobs["gomaxprocs"], "4");
}

#[test]
fn the_result_echo_round_trips_through_json() {
    let plan = plan::load(&examples().join("quickstart.toml")).expect("quickstart is valid");
    let json = serde_json::to_string(&plan).expect("serializes");
    let back: Plan = serde_json::from_str(&json).expect("reads back");
    assert_eq!(back, plan);
}

#[test]
fn load_names_the_file_it_could_not_read_or_accept() {
    let missing = Path::new("no/such/plan.toml");
    let error = plan::load(missing).expect_err("no such file");
    assert_eq!(error.kind(), PlanErrorKind::Read);
    let line = error.to_string();
    assert!(
        line.starts_with("no/such/plan.toml: cannot read the plan:"),
        "{line}"
    );
    assert!(!line.contains('\n'));

    let path = std::env::temp_dir().join(format!("numaload-plan-{}.toml", std::process::id()));
    std::fs::write(&path, edited("rate = 1000", "rate = -5")).expect("temp file");
    let error = plan::load(&path).expect_err("negative rate");
    std::fs::remove_file(&path).expect("temp file removed");
    let line = error.to_string();
    assert!(
        line.starts_with(&format!("{}: load.rate = -5", path.display())),
        "{line}"
    );
}

#[test]
fn the_new_keys_reach_the_plan_and_the_wire() {
    let text = edited(
        "replicas = 1",
        "replicas = \"per-package\"\nmemory = \"interleave\"\nsmt = \"one-per-core\"\nthreads = 4\n\
         [[layouts]]\nname = \"l3\"\nreplicas = \"per-l3\"\n\
         [[layouts]]\nname = \"cores\"\nreplicas = 8\npin = \"core\"\nmemory = [1, 0]\n\
         [[layouts]]\nname = \"by-hand\"\nreplicas = 2\ncpus = \"16-23,0-7\"\nmemory_nodes = [0]\n\
         [[layouts]]\nname = \"explicit-local\"\nreplicas = 1\ncpus = \"1\"",
    );
    let plan = parse(&text).expect("valid");
    let expected = vec![
        Layout {
            smt: Smt::OnePerCore,
            threads: Threads::Count(4),
            ..Layout::new("a", Replicas::PerPackage, Pin::Package, Memory::Interleave)
        },
        Layout::new("l3", Replicas::PerL3, Pin::L3, Memory::Local),
        Layout::new(
            "cores",
            Replicas::Count(8),
            Pin::Core,
            Memory::Nodes(vec![0, 1]),
        ),
        Layout {
            cpus: Some("0-7,16-23".into()),
            ..Layout::new(
                "by-hand",
                Replicas::Count(2),
                Pin::None,
                Memory::Nodes(vec![0]),
            )
        },
        Layout {
            cpus: Some("1".into()),
            ..Layout::new(
                "explicit-local",
                Replicas::Count(1),
                Pin::None,
                Memory::Local,
            )
        },
    ];
    assert_eq!(plan.layouts, expected);

    let wire = plan.to_run_plan("r").layouts;
    use v1::layout_spec::Replicas as Wire;
    assert_eq!(wire[0].replicas, Some(Wire::PerPackage(true)));
    assert_eq!(wire[0].pin, v1::Pin::Package as i32);
    assert_eq!(wire[0].memory, v1::MemoryPolicy::Interleave as i32);
    assert_eq!(wire[0].smt, v1::Smt::OnePerCore as i32);
    assert_eq!(wire[0].threads, 4);
    assert_eq!(wire[1].replicas, Some(Wire::PerL3(true)));
    assert_eq!(wire[1].threads, 0, "auto travels as 0");
    assert_eq!(wire[2].memory, v1::MemoryPolicy::Nodes as i32);
    assert_eq!(wire[2].memory_nodes, vec![0, 1]);
    assert_eq!(wire[3].cpus, "0-7,16-23");
    assert_eq!(
        wire[3].pin,
        v1::Pin::Unspecified as i32,
        "cpus are the pinning"
    );
    assert_eq!(wire[3].memory_nodes, vec![0]);
    assert_eq!(wire[4].memory, v1::MemoryPolicy::Local as i32);

    // The echo reads back to the same plan.
    let json = serde_json::to_string(&plan).expect("serializes");
    let back: Plan = serde_json::from_str(&json).expect("reads back");
    assert_eq!(back, plan);
}

#[test]
fn a_sweep_expands_into_one_layout_per_value_and_combination() {
    let plan = parse(&edited(
        "replicas = 1",
        "sweep.replicas = [1, 2, \"per-node\"]",
    ))
    .expect("valid");
    let names: Vec<&str> = plan.layouts.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(
        names,
        ["a/replicas=1", "a/replicas=2", "a/replicas=per-node"]
    );
    let pins: Vec<Pin> = plan.layouts.iter().map(|l| l.pin).collect();
    assert_eq!(
        pins,
        [Pin::None, Pin::None, Pin::Node],
        "defaults follow each value"
    );

    let plan = parse(&edited(
        "replicas = 1",
        "replicas = 2\npin = \"node\"\nsweep.memory = [\"local\", \"interleave\", [0]]\nsweep.smt = [\"all\", \"one-per-core\"]",
    ))
    .expect("valid");
    let names: Vec<&str> = plan.layouts.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "a/memory=local/smt=all",
            "a/memory=local/smt=one-per-core",
            "a/memory=interleave/smt=all",
            "a/memory=interleave/smt=one-per-core",
            "a/memory=[0]/smt=all",
            "a/memory=[0]/smt=one-per-core",
        ]
    );
    assert_eq!(plan.layouts[4].memory, Memory::Nodes(vec![0]));
    assert_eq!(plan.layouts[5].smt, Smt::OnePerCore);

    let plan = parse(&edited(
        "replicas = 1",
        "replicas = 1\nsweep.threads = [1, \"auto\"]",
    ))
    .expect("valid");
    assert_eq!(plan.layouts[0].threads, Threads::Count(1));
    assert_eq!(plan.layouts[1].name, "a/threads=auto");
}

#[test]
fn the_your_service_example_parses() {
    let plan = plan::load(&examples().join("your-service.toml")).expect("your-service.toml");
    let names: Vec<&str> = plan.layouts.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "one/gomaxprocs=1",
            "one/gomaxprocs=2",
            "one/gomaxprocs=4",
            "per-node"
        ]
    );
    assert_eq!(plan.load.requests.len(), 2);
    assert_eq!(plan.load.expect_status, [200, 201]);
    let knobs = &plan.layouts[3].target.as_ref().expect("own knobs").knobs;
    assert_eq!(knobs["gomaxprocs"], "0");
}

#[test]
fn the_layouts_example_parses() {
    let plan = plan::load(&examples().join("layouts.toml")).expect("layouts.toml is valid");
    assert!(plan.layouts.len() >= 8, "{:?}", plan.layouts);
    assert!(plan.layouts.iter().any(|l| l.name.contains("/replicas=")));
    assert!(plan.layouts.iter().any(|l| l.cpus.is_some()));
    assert!(plan.layouts.iter().any(|l| l.memory == Memory::Interleave));
}

#[test]
fn ffi_target_knobs_and_per_layout_overrides_reach_the_wire() {
    let text = r#"
name = "storm"
[target]
name = "ffi"
work_us = 2000
work_mode = "sleep"
dispatch = "spawn-blocking"
[load]
mode = "open"
rate = 1000
duration = "2s"
[[layouts]]
name = "spawn-blocking"
replicas = 1
[[layouts]]
name = "bounded"
replicas = 1
target = { dispatch = "bounded", limit = 8 }
[[layouts]]
name = "inline"
replicas = 1
target = { dispatch = "inline" }
"#;
    let plan = plan::parse(text, "storm.toml").expect("valid");
    let wire = plan.to_run_plan("r");
    let target = wire.target.expect("target");
    assert_eq!(target.work_mode, v1::WorkMode::Sleep as i32);
    assert_eq!(target.dispatch, v1::FfiDispatch::SpawnBlocking as i32);
    assert!(
        wire.layouts[0].target.is_none(),
        "no override: the plan's target"
    );
    let bounded = wire.layouts[1].target.clone().expect("override");
    assert_eq!(
        (bounded.dispatch, bounded.limit),
        (v1::FfiDispatch::Bounded as i32, 8)
    );
    assert_eq!(
        (bounded.name.as_str(), bounded.work_us, bounded.work_mode),
        ("ffi", 2000, v1::WorkMode::Sleep as i32)
    );
    let inline = wire.layouts[2].target.clone().expect("override");
    assert_eq!(
        (inline.dispatch, inline.limit),
        (v1::FfiDispatch::Inline as i32, 0)
    );

    let mistakes = [
        (
            "dispatch = \"spawn-blocking\"",
            "dispatch = \"bounded\"",
            "target.limit",
        ),
        (
            "dispatch = \"spawn-blocking\"",
            "dispatch = \"spawn-blocking\"\nlimit = 8",
            "target.limit = 8",
        ),
        ("name = \"ffi\"", "name = \"async\"", "target.work_mode"),
        (
            "dispatch = \"spawn-blocking\"",
            "dispatch = \"sideways\"",
            "dispatch",
        ),
        (
            "{ dispatch = \"inline\" }",
            "{ pool_threads = 0 }",
            "pool_threads",
        ),
    ];
    for (from, to, key) in mistakes {
        let bad = text.replacen(from, to, 1);
        let err = plan::parse(&bad, "storm.toml").expect_err(to).to_string();
        assert!(err.contains(key) && !err.contains('\n'), "{to}: {err}");
    }
}

#[test]
fn repeat_and_search_mistakes_name_their_key() {
    let base = std::fs::read_to_string(examples().join("quickstart.toml")).expect("quickstart");
    let cases = [
        (
            "name = \"quickstart\"",
            "name = \"quickstart\"\nrepeat = 0",
            "repeat = 0",
        ),
        (
            "name = \"quickstart\"",
            "name = \"quickstart\"\n[search]\nmax_steps = 3",
            "search.slo_p99",
        ),
        (
            "name = \"quickstart\"",
            "name = \"quickstart\"\n[search]\nslo_p99 = \"5ms\"\nprecision = 0",
            "precision",
        ),
        (
            "name = \"quickstart\"",
            "name = \"quickstart\"\n[search]\nslo_p99 = \"soon\"",
            "slo_p99",
        ),
    ];
    for (from, to, key) in cases {
        let text = base.replacen(from, to, 1);
        let err = plan::parse(&text, "plan.toml").expect_err(to).to_string();
        assert!(err.contains(key) && !err.contains('\n'), "{to}: {err}");
    }
    let ok = base.replacen(
        "name = \"quickstart\"",
        "name = \"quickstart\"\nrepeat = 3\n[search]\nslo_p99 = \"5ms\"",
        1,
    );
    let plan = plan::parse(&ok, "plan.toml").expect("valid");
    assert_eq!(plan.repeat, 3);
    let search = plan.search.clone().expect("search");
    assert_eq!(
        (search.start_rate, search.max_steps),
        (5000.0, 12),
        "defaults: the load's rate, 12 steps"
    );
    let wire = plan.to_run_plan("r");
    let names: Vec<&str> = wire.layouts.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "one-process#1",
            "per-node#1",
            "one-process#2",
            "per-node#2",
            "one-process#3",
            "per-node#3"
        ]
    );
}

#[test]
fn fleet_policies_reach_the_plan_and_their_mistakes_name_the_key() {
    use numaload::plan::{AgentLoss, FleetPolicy};
    assert_eq!(
        parse(BASE).expect("no [fleet]").fleet,
        FleetPolicy::default()
    );
    let abort = parse(&with("[fleet]\non_agent_loss = \"abort\"")).expect("abort");
    assert_eq!(abort.fleet.on_agent_loss, AgentLoss::Abort);
    let limited = parse(&with("[fleet]\nmax_lost_agents = 3")).expect("a limit");
    assert_eq!(
        limited.fleet,
        FleetPolicy {
            on_agent_loss: AgentLoss::Degrade,
            max_lost_agents: Some(3)
        }
    );
    let cases = [
        (
            "[fleet]\non_agent_loss = \"retry\"",
            "fleet.on_agent_loss = \"retry\": must be \"degrade\"",
        ),
        (
            "[fleet]\nmax_lost_agents = -1",
            "fleet.max_lost_agents = -1: must be a whole number of agents",
        ),
        (
            "[fleet]\non_agent_loss = \"abort\"\nmax_lost_agents = 2",
            "fleet.max_lost_agents: applies with on_agent_loss = \"degrade\" only",
        ),
        (
            "[fleet]\nlost = 1",
            "fleet: unknown key \"lost\"; expected on_agent_loss or max_lost_agents",
        ),
    ];
    for (table, needle) in cases {
        let line = error_line(&with(table));
        assert!(line.contains(needle), "{table}: {line}");
    }
}
