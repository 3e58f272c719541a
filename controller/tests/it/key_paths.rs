//! One style for key paths in every message of the agent and the controller: dotted as the file
//! nests the key and as `--set KEY=VALUE` takes it (`load.rate`, `layouts.per-node.threads`,
//! `target.knobs.work_us`, `targets.api.program`), never a table header before a key
//! (`[load] rate`) or an index in brackets (`layouts["x"].pin`, `layouts[1] ("x")`). Checked two
//! ways: the sources hold no message in another style, and errors of both sides (the plan's
//! checks, the agent's placement and its checks of the target, the agent's configuration) name
//! exactly the key a `--set` set, and end with that `--set`.

use std::path::{Path, PathBuf};

use crate::common::{self, numaload, refusal, OpenPlan, BIN, LAYOUT_PER_NODE, LAYOUT_SINGLE};

/// Tables a plan or an agent configuration has.
const TABLES: &[&str] = &[
    "load",
    "target",
    "search",
    "thresholds",
    "fleet",
    "limits",
    "layouts",
    "load.requests",
    "load.stages",
];

/// Words after a `[table]` that speak of the table as TOML writes it, not of a key in it
/// ("add a [load] table", "a [search] line followed by its keys").
const TABLE_WORDS: &[&str] = &["table", "tables", "line"];

/// The non-test code of a source file, without its comment lines, a string continued on the
/// next line (`\` at a line's end) read as one line, as Rust reads it.
fn code_of(file: &Path) -> String {
    let text = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    let code = text.split("\n#[cfg(test)]").next().unwrap_or_default();
    let mut joined = String::new();
    let mut continued = false;
    for line in code.lines().filter(|l| !l.trim_start().starts_with("//")) {
        let line = if continued { line.trim_start() } else { line };
        continued = line.ends_with('\\');
        match line.strip_suffix('\\') {
            Some(head) => joined.push_str(head),
            None => {
                joined.push_str(line);
                joined.push('\n');
            }
        }
    }
    joined
}

fn sources(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("entry").path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if path.is_dir() {
            out.extend(sources(&path));
        } else if name.ends_with(".rs") && name != "tests.rs" && !name.ends_with("_tests.rs") {
            out.push(path);
        }
    }
    out.sort();
    out
}

/// Each place in `code` where a key is named in another style than the dotted one.
fn other_styles(code: &str) -> Vec<String> {
    let mut found = Vec::new();
    for (n, line) in code.lines().enumerate() {
        for old in ["layouts[{", "layouts[\\\"", "layouts[\""] {
            if line.contains(old) {
                found.push(format!("line {}: {old}: {}", n + 1, line.trim()));
            }
        }
        for table in TABLES {
            for header in [format!("[{table}]"), format!("[[{table}]]")] {
                for (at, _) in line.match_indices(&header) {
                    let after = &line[at + header.len()..];
                    let word: String = after
                        .strip_prefix(' ')
                        .unwrap_or_default()
                        .chars()
                        .take_while(|c| {
                            !c.is_whitespace() && !matches!(c, ',' | ')' | '\\' | '"' | ';' | '.')
                        })
                        .collect();
                    let names_a_key = after.starts_with(':')
                        || (!word.is_empty() && !TABLE_WORDS.contains(&word.as_str()));
                    if names_a_key && !line[..at].ends_with('[') {
                        found.push(format!("line {}: {header}: {}", n + 1, line.trim()));
                    }
                }
            }
        }
        if line.contains("[targets.") && line.contains("] ") {
            found.push(format!("line {}: [targets.NAME]: {}", n + 1, line.trim()));
        }
    }
    found
}

#[test]
fn no_message_of_the_agent_or_the_controller_names_a_key_in_another_style() {
    let root = common::manifest("..");
    let mut found = Vec::new();
    let mut files = 0;
    for krate in ["agent/src", "controller/src"] {
        for file in sources(&root.join(krate)) {
            files += 1;
            for place in other_styles(&code_of(&file)) {
                let shown = file.strip_prefix(&root).unwrap_or(&file).display();
                found.push(format!("{shown}: {place}"));
            }
        }
    }
    assert!(files > 100, "only {files} source files read");
    assert!(
        found.is_empty(),
        "key paths in another style than `load.rate`, `layouts.NAME.pin` (as --set takes \
         them):\n{}",
        found.join("\n")
    );
}

#[test]
fn the_scan_finds_each_other_style() {
    let old = [
        r#"#[error("layouts[{layout:?}].{field}: unspecified")]"#,
        r#""layouts[\"x\"].pin: no""#,
        r#"#[error("[load] rate = {0}: must be positive")]"#,
        r#"#[error("[target]: missing from the plan")]"#,
        r#"#[error("[[load.requests]] {number} (name {name:?}) {fault}")]"#,
        r#"#[error("[targets.{target}] program = {program:?}")]"#,
    ];
    for line in old {
        assert!(!other_styles(line).is_empty(), "not caught: {line}");
    }
    let fine = [
        r#"#[error("load.rate = {0}: must be positive")]"#,
        r#""must be a table: a [search] line followed by its keys""#,
        r#""add a [load] table with at least mode""#,
        r#""must be one or more [[layouts]] tables (double brackets)""#,
        "let first = &plan.layouts[0];",
        r#"format!("[{layout}] {agent}: {phase}")"#,
    ];
    for line in fine {
        assert!(other_styles(line).is_empty(), "caught: {line}");
    }
}

fn scratch(name: &str) -> PathBuf {
    common::scratch("key-paths", name)
}

#[test]
fn errors_of_both_sides_name_the_key_as_set_spells_it_and_the_set() {
    let _turn = crate::turns::beside_others();
    let dir = scratch("both-sides");
    let plan = OpenPlan {
        name: "key-paths",
        target: "svc",
        layouts: &[LAYOUT_SINGLE, LAYOUT_PER_NODE],
        ..OpenPlan::default()
    }
    .toml()
    .replace("work_us = 10\n", "[target.knobs]\nwork_us = 20\n");
    let plan = common::write_plan(&dir, &plan);
    let plan = plan.to_str().expect("utf-8");
    let config = dir.join("agent.toml");
    std::fs::write(
        &config,
        format!(
            "[targets.svc]\nprogram = {BIN:?}\nargs = [\"target\", \"--listen\", \"{{listen}}\", \
             \"--work-us\", \"{{knob.work_us}}\"]\n\
             [targets.svc.knobs]\nwork_us = {{ range = [0, 1000], default = 10 }}\n"
        ),
    )
    .expect("agent.toml");
    let config = config.to_str().expect("utf-8");
    let host = common::manifest("../agent/tests/fixtures/topologies/64amd64-4s2n4ca2co.xml");
    let host = host.to_str().expect("utf-8");
    // (the --set, the key the message must start with, who refuses it)
    let cases = [
        ("load.rate=-5", "load.rate", "the plan's checks"),
        (
            "layouts.per-node.threads=0",
            "layouts.per-node.threads",
            "the plan's checks",
        ),
        (
            "layouts.single.replicas=99",
            "layouts.single.replicas",
            "the agent's placement",
        ),
        (
            "layouts.single.cpus=70-71",
            "layouts.single.cpus",
            "the agent's placement",
        ),
        (
            "target.knobs.work_us=5000",
            "target.knobs.work_us",
            "the agent's target",
        ),
        (
            "target.knobs.nope=1",
            "target.knobs.nope",
            "the agent's target",
        ),
        ("target.name=other", "target.name", "the agent's target"),
    ];
    for (set, key, who) in cases {
        let line = refusal(&numaload(&[
            "plan",
            plan,
            "--topology",
            host,
            "--agent-config",
            config,
            "--set",
            set,
        ]));
        let after = line
            .split_once(" refuses it: ")
            .map_or_else(|| line.split_once(": ").map(|(_, a)| a), |(_, a)| Some(a))
            .unwrap_or_else(|| panic!("{who}: no key in {line}"));
        assert!(
            after.starts_with(&format!("{key} = ")) || after.starts_with(&format!("{key}: ")),
            "{who}: names {key} first: {line}"
        );
        assert!(line.ends_with(&format!("(--set {set})")), "{who}: {line}");
    }

    // The agent's own configuration names its keys the same way, with the line.
    let bad = dir.join("bad.toml");
    for (text, says) in [
        (
            "[targets.svc]\nprogram = \"svc\"\nargs = [\"{listen}\"]\n",
            "targets.svc.program = \"svc\": give an absolute path",
        ),
        (
            "[limits]\nmax_replicas = -1\n",
            "line 2: limits.max_replicas = -1: ",
        ),
        (
            "[targets.svc]\nprogram = \"/bin/true\"\nredy = \"tcp\"\n",
            "line 3: targets.svc: unknown key \"redy\"",
        ),
    ] {
        std::fs::write(&bad, text).expect("bad.toml");
        let line = refusal(&numaload(&[
            "plan",
            plan,
            "--agent-config",
            bad.to_str().expect("utf-8"),
        ]));
        assert!(line.contains(says), "{text}: {line}");
    }
}
