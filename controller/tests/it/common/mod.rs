//! Helpers shared by the controller's integration tests: each test file says `mod common;` and
//! uses what it needs.
#![allow(dead_code)] // every test binary compiles this whole module and uses a part of it

pub mod agents;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

pub const BIN: &str = env!("CARGO_BIN_EXE_numaload");

/// Runs the `numaload` binary to completion.
pub fn numaload(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().expect("run numaload")
}

/// A file of this package, by its path from the package root.
pub fn manifest(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// An empty scratch directory `PREFIX-NAME` under cargo's temporary directory for tests.
pub fn scratch(prefix: &str, name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{prefix}-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

/// The one line of a refusal (exit code 2), without the binary's `numaload: error: ` prefix.
pub fn refusal(out: &Output) -> String {
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{err}");
    let line = err.trim_end();
    assert_eq!(line.lines().count(), 1, "one line: {line}");
    line.strip_prefix("numaload: error: ")
        .unwrap_or(line)
        .to_owned()
}

/// A JSON file the test expects to be there (a result it asked for, a fixture).
pub fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: not JSON: {e}", path.display()))
}

/// Writes `toml` as `DIR/plan.toml` and returns its path.
pub fn write_plan(dir: &Path, toml: &str) -> PathBuf {
    let path = dir.join("plan.toml");
    std::fs::write(&path, toml).expect("write plan");
    path
}

/// The `[[layouts]]` table of one replica, named `single`.
pub const LAYOUT_SINGLE: &str = "[[layouts]]\nname = \"single\"\nreplicas = 1\n";

/// The `[[layouts]]` table of one replica per NUMA node, named `per-node`.
pub const LAYOUT_PER_NODE: &str = "[[layouts]]\nname = \"per-node\"\nreplicas = \"per-node\"\n";

/// An open-loop plan, one CPU reserved for the generator: the fields are what the tests vary,
/// the defaults a 2 s run of one replica of the built-in `async` target at 500 req/s.
#[derive(Clone, Copy)]
pub struct OpenPlan<'a> {
    pub name: &'a str,
    /// More top-level TOML, right after the name: `repeat = 2`, a `[search]` table.
    pub extra: &'a str,
    pub target: &'a str,
    pub work_us: u32,
    pub rate: i64,
    pub connections: u32,
    pub duration: &'a str,
    pub warmup: &'a str,
    /// The `[[layouts]]` tables, in order ([`LAYOUT_SINGLE`], [`LAYOUT_PER_NODE`], or others).
    pub layouts: &'a [&'a str],
}

impl Default for OpenPlan<'_> {
    fn default() -> Self {
        OpenPlan {
            name: "test",
            extra: "",
            target: "async",
            work_us: 10,
            rate: 500,
            connections: 4,
            duration: "2s",
            warmup: "500ms",
            layouts: &[LAYOUT_SINGLE],
        }
    }
}

impl OpenPlan<'_> {
    /// The plan file's text.
    pub fn toml(&self) -> String {
        let OpenPlan {
            name,
            extra,
            target,
            work_us,
            rate,
            connections,
            duration,
            warmup,
            layouts,
        } = self;
        let layouts = layouts.concat();
        format!(
            r#"name = "{name}"
{extra}
[target]
name = "{target}"
work_us = {work_us}
[load]
mode = "open"
rate = {rate}
connections = {connections}
duration = "{duration}"
warmup = "{warmup}"
reserve_cpus = 1
{layouts}"#
        )
    }

    /// Writes the plan as `DIR/plan.toml` and returns its path.
    pub fn write(&self, dir: &Path) -> PathBuf {
        write_plan(dir, &self.toml())
    }
}

/// A `numaload run` that succeeded: the result it wrote, where, and the report it printed.
pub struct Finished {
    pub result: Value,
    pub out: PathBuf,
    pub stdout: String,
}

/// Runs `numaload run PLAN ARGS… --out result.json` (the result beside the plan), fails the
/// test unless it finishes with the exit code its statuses call for (0 when every layout is
/// `ok`, 4 when one is not: a short test run is `suspect` for too few requests), and reads the
/// result back.
pub fn run_plan(plan: &Path, args: &[&str]) -> Finished {
    let out = plan.with_file_name("result.json");
    let run = Command::new(BIN)
        .arg("run")
        .arg(plan)
        .args(args)
        .arg("--out")
        .arg(&out)
        .output()
        .expect("run numaload");
    let stdout = String::from_utf8_lossy(&run.stdout).into_owned();
    let failed = || {
        format!(
            "numaload run failed\nstdout:\n{stdout}\nstderr:\n{}",
            String::from_utf8_lossy(&run.stderr)
        )
    };
    assert!(matches!(run.status.code(), Some(0 | 4)), "{}", failed());
    let result = read_json(&out);
    let trusted = result["cancelled"] != true
        && result["degraded"] != true
        && result["layouts"]
            .as_array()
            .is_some_and(|ls| ls.iter().all(|l| l["status"] == "ok"));
    assert_eq!(run.status.success(), trusted, "{}", failed());
    Finished {
        result,
        out,
        stdout,
    }
}

/// The layout of a result by its name; fails the test when there is none.
pub fn layout<'a>(result: &'a Value, name: &str) -> &'a Value {
    result["layouts"]
        .as_array()
        .expect("layouts")
        .iter()
        .find(|l| l["name"] == name)
        .unwrap_or_else(|| panic!("no layout {name}"))
}

/// Fails with every violation when `result` does not match `schema/result.schema.json`.
pub fn assert_matches_schema(result: &Value) {
    let schema: Value =
        serde_json::from_str(include_str!("../../../schema/result.schema.json")).expect("schema");
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(result)
        .map(|e| format!("{} at {}", e, e.instance_path))
        .collect();
    assert!(
        errors.is_empty(),
        "result does not match the schema: {errors:#?}"
    );
}

/// Fails unless the JUnit XML file at `path` is valid against the Jenkins xUnit plugin's JUnit
/// schema (`tests/fixtures/junit-10.xsd`, where it came from is at its top), checked by
/// `xmllint` (libxml2-utils, installed by scripts/setup-system.sh).
pub fn assert_valid_junit(path: &Path) {
    let xsd = manifest("tests/fixtures/junit-10.xsd");
    let out = Command::new("xmllint")
        .arg("--noout")
        .arg("--schema")
        .arg(&xsd)
        .arg(path)
        .output()
        .expect("run xmllint (libxml2-utils; scripts/setup-system.sh installs it)");
    assert!(
        out.status.success(),
        "{} is not valid JUnit XML: {}{}",
        path.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `text` read by Python's `csv` module (strict: a malformed quote is an error), record by
/// record, field by field.
pub fn read_csv_with_python(text: &str) -> Vec<Vec<String>> {
    use std::io::Write as _;
    const READ: &str = "import csv, io, json, sys\n\
        rows = list(csv.reader(io.TextIOWrapper(sys.stdin.buffer, encoding='utf-8', newline=''), strict=True))\n\
        json.dump(rows, sys.stdout)\n";
    let mut child = Command::new("python3")
        .args(["-c", READ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run python3");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("write the CSV to python3");
    let out = child.wait_with_output().expect("python3");
    assert!(
        out.status.success(),
        "python3's csv module refused it: {}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("python3 printed JSON")
}
