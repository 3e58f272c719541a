//! `docs/plan.md`, the one reference of the plan format, is a tested example: every TOML block
//! in it is a plan the controller's parser accepts, and its tables have one row for every key
//! the parser accepts and none for a key it refuses. The accepted keys are read from the parser
//! itself: a plan with an unknown key in a table is refused with the list of that table's keys
//! (serde's, from the `deny_unknown_fields` raw structs), so a new key fails here until it is
//! documented.

use std::collections::BTreeSet;
use std::path::Path;

fn reference() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/plan.md");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The fenced ```toml blocks of a Markdown text.
fn toml_blocks(markdown: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in markdown.lines() {
        match &mut current {
            None if line.trim() == "```toml" => current = Some(String::new()),
            Some(block) if line.trim() == "```" => {
                blocks.push(std::mem::take(block));
                current = None;
            }
            Some(block) => {
                block.push_str(line);
                block.push('\n');
            }
            None => {}
        }
    }
    assert!(current.is_none(), "an unclosed ```toml block");
    blocks
}

/// The keys in the first column of the table under the `## ` heading that starts with
/// `heading`, up to the next `## ` heading.
fn documented_keys(markdown: &str, heading: &str) -> BTreeSet<String> {
    let mut lines = markdown.lines();
    lines
        .by_ref()
        .find(|l| l.starts_with("## ") && l[3..].starts_with(heading))
        .unwrap_or_else(|| panic!("docs/plan.md has no section \"## {heading}\""));
    lines
        .take_while(|l| !l.starts_with("## "))
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|rest| rest.split_once("` |").map(|(key, _)| key.to_owned()))
        .collect()
}

/// The keys the parser accepts in the table `probe` puts the key `zz_unknown` in, read from
/// its refusal: `... unknown key "zz_unknown"; expected one of a, b, c`.
fn accepted_keys(probe: &str) -> BTreeSet<String> {
    let error = numaload::plan::parse(probe, "probe.toml")
        .expect_err("a plan with an unknown key is refused")
        .to_string();
    // serde lists three keys or more as "one of a, b, c", two as "a or b".
    let (_, list) = error
        .split_once("unknown key \"zz_unknown\"; expected ")
        .unwrap_or_else(|| panic!("no list of accepted keys in: {error}"));
    let list = list.strip_prefix("one of ").unwrap_or(list);
    list.split(", ")
        .flat_map(|k| k.split(" or "))
        .map(|k| k.trim().to_owned())
        .collect()
}

/// Each table of a plan: the reference's section and a plan with an unknown key in that table.
const TABLES: &[(&str, &str)] = &[
    ("Top level", "zz_unknown = 1\n"),
    ("`[search]`", "[search]\nzz_unknown = 1\n"),
    ("`[target]`", "[target]\nzz_unknown = 1\n"),
    ("`[load]`", "[load]\nzz_unknown = 1\n"),
    ("`[[load.requests]]`", "[[load.requests]]\nzz_unknown = 1\n"),
    (
        "`grpc` in `[load]` and `[[load.requests]]`",
        "[load]\ngrpc = { zz_unknown = 1 }\n",
    ),
    ("`[[load.stages]]`", "[[load.stages]]\nzz_unknown = 1\n"),
    ("`[[layouts]]`", "[[layouts]]\nzz_unknown = 1\n"),
    (
        "`sweep` in `[[layouts]]`",
        "[[layouts]]\nsweep.zz_unknown = [1]\n",
    ),
    ("`[thresholds]`", "[thresholds]\nzz_unknown = 1\n"),
    ("`[fleet]`", "[fleet]\nzz_unknown = 1\n"),
];

#[test]
fn every_key_the_parser_accepts_is_documented_and_no_other() {
    let reference = reference();
    for (heading, probe) in TABLES {
        let accepted = accepted_keys(probe);
        assert!(!accepted.is_empty(), "{heading}: no keys read");
        let documented = documented_keys(&reference, heading);
        let missing: Vec<_> = accepted.difference(&documented).collect();
        let stale: Vec<_> = documented.difference(&accepted).collect();
        assert!(
            missing.is_empty() && stale.is_empty(),
            "docs/plan.md, section {heading}: keys the parser accepts but the table lacks: \
             {missing:?}; rows for keys the parser refuses: {stale:?}"
        );
    }
}

#[test]
fn a_requests_grpc_call_takes_the_keys_of_the_loads() {
    // The reference documents them once, in their own section.
    assert_eq!(
        accepted_keys("[[load.requests]]\ngrpc = { zz_unknown = 1 }\n"),
        accepted_keys("[load]\ngrpc = { zz_unknown = 1 }\n")
    );
}

#[test]
fn a_layouts_own_target_takes_the_keys_of_the_plans() {
    // The reference documents them once, under `[target]`.
    assert_eq!(
        accepted_keys("[[layouts]]\ntarget = { zz_unknown = 1 }\n"),
        accepted_keys("[target]\nzz_unknown = 1\n")
    );
}

#[test]
fn a_layouts_thresholds_take_the_keys_of_the_plans() {
    // The reference documents them once, under `[thresholds]`.
    let mut plan_wide = accepted_keys("[thresholds]\nzz_unknown = 1\n");
    assert!(plan_wide.remove("layouts"));
    assert_eq!(
        accepted_keys("[thresholds.layouts.a]\nzz_unknown = 1\n"),
        plan_wide
    );
}

#[test]
fn every_toml_block_of_the_reference_is_a_valid_plan() {
    let reference = reference();
    let blocks = toml_blocks(&reference);
    assert!(blocks.len() >= 3, "found {} TOML blocks", blocks.len());
    let mut keys_used = BTreeSet::new();
    for (i, block) in blocks.iter().enumerate() {
        let plan = numaload::plan::parse(block, &format!("docs/plan.md block {}", i + 1))
            .unwrap_or_else(|e| panic!("{e}\n{block}"));
        // The wire form too, as `run` and `plan` make it.
        let wire = plan.to_run_plan("reference");
        assert!(!wire.layouts.is_empty());
        collect_keys(&toml::from_str(block).expect("TOML"), "", &mut keys_used);
    }
    // Together the examples use every key of every table (knob names are the agent's).
    for (heading, probe) in TABLES {
        // Where the table's keys are written; a layout's own `target` counts for `[target]`.
        let prefixes: &[&str] = match *heading {
            "Top level" => &[""],
            "`[search]`" => &["search."],
            "`[target]`" => &["target.", "layouts.target."],
            "`[load]`" => &["load."],
            "`[[load.requests]]`" => &["load.requests."],
            "`grpc` in `[load]` and `[[load.requests]]`" => &["load.grpc.", "load.requests.grpc."],
            "`[[load.stages]]`" => &["load.stages."],
            "`[[layouts]]`" => &["layouts."],
            "`[thresholds]`" => &["thresholds."],
            "`[fleet]`" => &["fleet."],
            _ => &["layouts.sweep."],
        };
        for key in accepted_keys(probe) {
            // `knobs.NAME` is used as `sweep."knobs.gomaxprocs"`: any key under `knobs`.
            let key = key.replace("knobs.NAME", "knobs");
            let used = prefixes.iter().any(|prefix| {
                let key = format!("{prefix}{key}");
                keys_used
                    .iter()
                    .any(|k| *k == key || k.starts_with(&format!("{key}.")))
            });
            assert!(used, "no TOML block of docs/plan.md uses {heading} {key}");
        }
    }
}

/// Every key path of a TOML table (`load.requests.weight`; arrays of tables flattened).
fn collect_keys(table: &toml::Table, prefix: &str, out: &mut BTreeSet<String>) {
    for (key, value) in table {
        let path = format!("{prefix}{key}");
        out.insert(path.clone());
        match value {
            toml::Value::Table(t) => collect_keys(t, &format!("{path}."), out),
            toml::Value::Array(items) => {
                for item in items {
                    if let toml::Value::Table(t) = item {
                        collect_keys(t, &format!("{path}."), out);
                    }
                }
            }
            _ => {}
        }
    }
}

#[test]
fn the_other_docs_link_to_the_reference() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    for file in [
        "README.md",
        "ARCHITECTURE.md",
        "controller/src/plan/mod.rs",
        "examples/layouts.toml",
    ] {
        let text = std::fs::read_to_string(root.join(file)).expect(file);
        assert!(
            text.contains("docs/plan.md"),
            "{file} does not link to docs/plan.md"
        );
    }
}
