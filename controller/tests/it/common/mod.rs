//! Helpers shared by the controller's integration tests: each test file says `mod common;` and
//! uses what it needs.
#![allow(dead_code)] // every test binary compiles this whole module and uses a part of it

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

/// A JSON file the test expects to be there (a result it asked for, a fixture).
pub fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: not JSON: {e}", path.display()))
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
