//! `docs/agent-config.md`, the one reference of the agent's configuration, is a tested example:
//! every TOML block in it is a configuration the agent's parser accepts, its tables have one row
//! for every key the parser accepts and none for a key it refuses, and its placeholder table
//! lists the placeholders templates may use. The accepted keys are read from the parser itself:
//! a configuration with an unknown key in a table is refused with the list of that table's keys
//! (serde's, from the `deny_unknown_fields` file structs), so a new key fails here until it is
//! documented.

use std::collections::BTreeSet;
use std::path::Path;

use numaload_agent::config::ConfigFile;

fn reference() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/agent-config.md");
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

/// The entries in the first column of the tables under the heading (any level) that is exactly
/// `heading`, up to the next heading.
fn documented_keys(markdown: &str, heading: &str) -> BTreeSet<String> {
    let mut lines = markdown.lines();
    lines
        .by_ref()
        .find(|l| l.starts_with('#') && l.trim_start_matches('#').trim() == heading)
        .unwrap_or_else(|| panic!("docs/agent-config.md has no section \"{heading}\""));
    lines
        .take_while(|l| !l.starts_with('#'))
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|rest| rest.split_once("` |").map(|(key, _)| key.to_owned()))
        .collect()
}

/// The keys the parser accepts in the table `probe` puts the key `zz_unknown` in, read from
/// its refusal: `... unknown key "zz_unknown"; expected one of a, b`.
fn accepted_keys(probe: &str) -> BTreeSet<String> {
    let error = ConfigFile::parse(probe)
        .expect_err("a configuration with an unknown key is refused")
        .to_string();
    let (_, after) = error
        .split_once("zz_unknown")
        .unwrap_or_else(|| panic!("the refusal does not name the unknown key: {error}"));
    let list = after
        .split_once("expected one of ")
        .or_else(|| after.split_once("expected "))
        .map(|(_, list)| list)
        .unwrap_or_else(|| panic!("no list of accepted keys in: {error}"));
    list.split(", ")
        .map(|k| k.trim().trim_matches(['`', '"']).to_owned())
        .collect()
}

/// Each table of a configuration: the reference's section and a configuration with an unknown
/// key in that table.
const TABLES: &[(&str, &str)] = &[
    ("Top level", "zz_unknown = 1\n"),
    ("`[targets.NAME]`", "[targets.t]\nzz_unknown = 1\n"),
    (
        "`knobs.NAME` in `[targets.NAME]`",
        "[targets.t]\nprogram = \"/x\"\nknobs.k = { zz_unknown = 1 }\n",
    ),
    ("`[limits]`", "[limits]\nzz_unknown = 1\n"),
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
            "docs/agent-config.md, section {heading}: keys the parser accepts but the table \
             lacks: {missing:?}; rows for keys the parser refuses: {stale:?}"
        );
    }
}

#[test]
fn every_placeholder_is_documented_and_no_other() {
    let documented = documented_keys(&reference(), "Placeholders");
    let mut known: BTreeSet<String> = numaload_agent::target::template::PLACEHOLDERS
        .iter()
        .map(|p| format!("{{{p}}}"))
        .collect();
    known.insert("{knob.NAME}".to_owned());
    assert_eq!(documented, known, "docs/agent-config.md, Placeholders");
}

#[test]
fn every_toml_block_of_the_reference_is_a_valid_configuration() {
    let reference = reference();
    let blocks = toml_blocks(&reference);
    assert!(blocks.len() >= 2, "found {} TOML blocks", blocks.len());
    let mut keys_used = BTreeSet::new();
    for block in &blocks {
        ConfigFile::parse(block).unwrap_or_else(|e| panic!("{e}\n{block}"));
        collect_keys(&toml::from_str(block).expect("TOML"), "", &mut keys_used);
    }
    // Together the examples use every key of every table.
    for (heading, probe) in TABLES {
        let prefix = match *heading {
            "Top level" => "",
            "`[targets.NAME]`" => "targets.*.",
            "`knobs.NAME` in `[targets.NAME]`" => "targets.*.knobs.*.",
            _ => "limits.",
        };
        for key in accepted_keys(probe) {
            let key = format!("{prefix}{key}");
            assert!(
                keys_used.contains(&key),
                "no TOML block of docs/agent-config.md uses {heading} {key}"
            );
        }
    }
}

/// Every key path of a TOML table, names chosen by the user (targets, knobs) written `*`.
fn collect_keys(table: &toml::Table, prefix: &str, out: &mut BTreeSet<String>) {
    for (key, value) in table {
        let named_by_user = prefix.ends_with("targets.") || prefix.ends_with("knobs.");
        let key = if named_by_user { "*" } else { key.as_str() };
        let path = format!("{prefix}{key}");
        out.insert(path.clone());
        if let toml::Value::Table(t) = value {
            collect_keys(t, &format!("{path}."), out);
        }
    }
}

#[test]
fn the_shipped_configurations_parse() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    for file in [
        "examples/go-server/agent.toml",
        "examples/nginx/agent.toml",
        "deploy/debian/agent.toml",
    ] {
        let text = std::fs::read_to_string(root.join(file)).expect(file);
        ConfigFile::parse(&text).unwrap_or_else(|e| panic!("{file}: {e}"));
    }
}

#[test]
fn the_configuration_links_to_its_reference() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    for file in ["examples/go-server/agent.toml", "examples/nginx/agent.toml"] {
        let text = std::fs::read_to_string(root.join(file)).expect(file);
        assert!(
            text.contains("docs/agent-config.md"),
            "{file} does not link to docs/agent-config.md"
        );
    }
}
