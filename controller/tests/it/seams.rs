//! The crate graph the design asks for: the controller library depends on proto only. The
//! `numaload` package also carries the binary, which needs the agent and target crates, so
//! Cargo cannot enforce this: this test does. Only `main.rs` and `roles/` may name them.
//! It also checks the module layering ARCHITECTURE.md draws, that no crate's modules import each
//! other in a cycle, nor its files in a circle, and that no
//! hand-written source file grows past 500 lines of non-test code.
//!
//! Imports are read by `numaload_test_support::source_graph` (grouped and nested `use` items,
//! `super::`, paths in code, re-exports followed), the reader the agent's layer test uses.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use numaload_test_support::source_graph::{
    a_cycle, circles, draw_cycle, layer_table, test_only, SourceGraph,
};

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            if path.file_name().is_some_and(|n| n != "roles") {
                rust_files(&path, out);
            }
        } else if path.extension().is_some_and(|e| e == "rs") && !path.ends_with("main.rs") {
            out.push(path);
        }
    }
}

#[test]
fn the_controller_library_never_names_the_agent_or_the_target() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    assert!(files.len() > 5, "found only {files:?}");
    for file in files {
        let text = std::fs::read_to_string(&file).expect("read");
        for forbidden in ["numaload_agent", "numaload_target"] {
            assert!(
                !text.contains(forbidden),
                "{} names {forbidden}",
                file.display()
            );
        }
    }
}

fn collect(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            collect(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn crate_path(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(name)
}

/// The library modules each top-level module names (`crate::x`, in code or docs), tests aside.
fn module_graph(crate_name: &str) -> BTreeMap<String, BTreeSet<String>> {
    SourceGraph::read(&crate_path(crate_name)).module_graph()
}

/// Folders whose files may name each other in a circle, each with its circle: empty, and a
/// folder goes here only while its circle is being taken apart. A circle whose files all sit in
/// one of them is reported, not failed; a circle anywhere else fails, and so does a
/// folder here with no circle left (its line is then deleted). A file that names its parent's
/// items while the parent names it is a circle too: what both need goes into a file of its own.
/// The agent's files are checked by its `tests/it/layers.rs`.
const KNOWN_CIRCLES: &[(&str, &str)] = &[];

#[test]
fn no_files_name_each_other_in_a_circle() {
    let root = crate_path("");
    for crate_name in ["controller", "target-server", "cgroup", "proto"] {
        let graph = SourceGraph::read(&crate_path(crate_name)).file_graph(&root);
        let known = |circle: &BTreeSet<String>| {
            KNOWN_CIRCLES
                .iter()
                .position(|(folder, _)| circle.iter().all(|file| file.starts_with(folder)))
        };
        let found = circles(&graph);
        let mut new = Vec::new();
        for circle in &found {
            match known(circle) {
                Some(at) => println!(
                    "known circle in {}: {circle:?} ({})",
                    KNOWN_CIRCLES[at].0, KNOWN_CIRCLES[at].1
                ),
                None => new.push(draw_cycle(&graph, circle)),
            }
        }
        assert!(
            new.is_empty(),
            "{crate_name}: files that name each other in a circle (move what both need into a \
             file below both):\n{}",
            new.join("\n")
        );
        for (at, (folder, _)) in KNOWN_CIRCLES.iter().enumerate() {
            if folder.starts_with(&format!("{crate_name}/")) {
                assert!(
                    found.iter().any(|circle| known(circle) == Some(at)),
                    "{folder} has no circle left: delete its line from KNOWN_CIRCLES"
                );
            }
        }
    }
}

#[test]
fn no_crate_has_a_cycle_among_its_top_level_modules() {
    for crate_dir in ["controller", "agent", "target-server", "cgroup", "proto"] {
        let graph = module_graph(crate_dir);
        assert!(
            graph.len() > 1 || crate_dir == "proto",
            "{crate_dir}: {graph:?}"
        );
        if let Some(cycle) = a_cycle(&graph) {
            panic!(
                "{crate_dir}: the modules import each other in a cycle: {}",
                cycle.join(" → ")
            );
        }
    }
}

/// The controller's layers as ARCHITECTURE.md draws them, lowest first: a module names only
/// modules of lower layers.
const CONTROLLER_LAYERS: &[&[&str]] = &[
    &[
        "units",
        "stats",
        "trust",
        "version",
        "tls",
        "topology_view",
        "client",
        "plan",
    ],
    &["result"],
    &["aggregate", "hlog"],
    &["run"],
    &["search", "report"],
    &["compare"],
    &["store"],
];

#[test]
fn controller_modules_name_only_lower_layers() {
    let graph = module_graph("controller");
    let layer = |m: &str| CONTROLLER_LAYERS.iter().position(|l| l.contains(&m));
    for (module, named) in &graph {
        let own = layer(module).unwrap_or_else(|| {
            panic!("controller module {module} is in no layer: add it to CONTROLLER_LAYERS and ARCHITECTURE.md")
        });
        for other in named {
            let theirs = layer(other).unwrap_or_else(|| {
                panic!("controller module {other} is in no layer: add it to CONTROLLER_LAYERS and ARCHITECTURE.md")
            });
            assert!(
                theirs < own,
                "controller: {module} (layer {own}) names {other} (layer {theirs}): a lower or \
                 equal layer must not depend on a higher one"
            );
        }
    }
}

/// Most lines a hand-written source file may have, not counting its test modules: past it, a
/// file is split along its seams into a folder module.
const MAX_LINES: usize = 500;

/// The workspace's member crates, from the root `Cargo.toml`.
fn workspace_members() -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).expect("read Cargo.toml");
    let members = manifest
        .lines()
        .find(|l| l.trim_start().starts_with("members"))
        .expect("a members line in the workspace Cargo.toml");
    members
        .split('"')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

/// The lines of a source file that are not test code: everything but `#[cfg(test)] mod x { … }`
/// blocks (the attribute, any attributes or comments between it and the `mod`, and the block up
/// to its closing brace at the start of a line, as rustfmt writes it) and `#[cfg(test)] mod x;`.
fn non_test_lines(text: &str) -> usize {
    let lines: Vec<&str> = text.lines().collect();
    let mut count = 0;
    let mut i = 0;
    while i < lines.len() {
        if lines[i] == "#[cfg(test)]" {
            let mut j = i + 1;
            while j < lines.len() && (lines[j].starts_with("#[") || lines[j].starts_with("//")) {
                j += 1;
            }
            let item = lines.get(j).copied().unwrap_or_default();
            let item = item.strip_prefix("pub(crate) ").unwrap_or(item);
            if item.starts_with("mod ") {
                if item.ends_with(';') {
                    i = j + 1;
                    continue;
                }
                if item.ends_with('{') {
                    let end = (j..lines.len()).find(|&k| lines[k] == "}");
                    i = end.map_or(lines.len(), |end| end + 1);
                    continue;
                }
            }
        }
        count += 1;
        i += 1;
    }
    count
}

#[test]
fn no_hand_written_source_file_is_over_500_lines() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let members = workspace_members();
    assert!(members.len() >= 5, "members: {members:?}");
    let mut checked = 0;
    let mut too_long = Vec::new();
    for member in &members {
        let mut files = Vec::new();
        collect(&root.join(member).join("src"), &mut files);
        for file in files {
            let relative = file.strip_prefix(&root).unwrap_or(&file).to_path_buf();
            // Generated code (the gRPC bindings) is regenerated, not written.
            if relative.components().any(|c| c.as_os_str() == "generated") {
                continue;
            }
            // Test-only files (`tests.rs`, `sample_tests.rs`) are included under `#[cfg(test)]`.
            if test_only(&file) {
                continue;
            }
            let text = std::fs::read_to_string(&file).expect("read");
            let lines = non_test_lines(&text);
            checked += 1;
            if lines > MAX_LINES {
                too_long.push(format!("{} has {lines} lines", relative.display()));
            }
        }
    }
    assert!(checked > 50, "checked only {checked} files");
    assert!(
        too_long.is_empty(),
        "over {MAX_LINES} lines of non-test code (comments and blank lines count; split along a \
         seam into a folder module):\n{}",
        too_long.join("\n")
    );
}

#[test]
fn test_modules_are_not_counted() {
    let text = "\
//! A module.
fn a() {}

#[cfg(test)]
fn helper() {}

#[cfg(test)]
// why
#[allow(clippy::unwrap_used)]
mod tests {
    fn t() {
    }
}

#[cfg(test)]
#[path = \"x_tests.rs\"]
mod more;
fn b() {}
";
    // The doc line, `a` and a blank, `helper` with its attribute and a blank, the blank after
    // the test module, and `b`.
    assert_eq!(non_test_lines(text), 8);
    assert_eq!(non_test_lines("fn a() {}\n"), 1);
}

fn architecture() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../ARCHITECTURE.md");
    std::fs::read_to_string(path).expect("read ARCHITECTURE.md")
}

#[test]
fn architecture_md_places_every_source_file_and_names_no_other() {
    let architecture = architecture();
    let map = architecture
        .split_once("\n## Source map\n")
        .expect("ARCHITECTURE.md has a \"## Source map\" section")
        .1;
    let map = map.split("\n## ").next().unwrap_or_default();
    // `crate/src/path` for every row, under its `### \`crate/src/\`` heading.
    let mut drawn = BTreeSet::new();
    let mut crate_src = None;
    for line in map.lines() {
        if let Some(heading) = line.strip_prefix("### `") {
            crate_src = heading.split('`').next().map(str::to_owned);
        } else if let Some(row) = line.strip_prefix("| `") {
            let path = row.split('`').next().unwrap_or_default();
            let src = crate_src
                .as_deref()
                .expect("a row before any crate heading");
            drawn.insert(format!("{src}{path}"));
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut present = BTreeSet::new();
    for member in workspace_members() {
        let mut files = Vec::new();
        collect(&root.join(&member).join("src"), &mut files);
        for file in files.iter().filter(|f| !test_only(f)) {
            let relative = file.strip_prefix(&root).expect("under the root");
            let mut path = relative.to_string_lossy().into_owned();
            // Generated code is one row, its folder.
            if let Some(at) = path.find("/generated/") {
                path.truncate(at + "/generated/".len());
            }
            present.insert(path);
        }
    }
    let unplaced: Vec<_> = present.difference(&drawn).collect();
    let gone: Vec<_> = drawn.difference(&present).collect();
    assert!(
        unplaced.is_empty() && gone.is_empty(),
        "ARCHITECTURE.md's source map is out of date: files it lacks: {unplaced:?}; rows for \
         files that do not exist: {gone:?}"
    );
}

#[test]
fn architecture_md_draws_the_controller_layers_of_this_test() {
    let drawn = layer_table(&architecture(), "`controller/src/`");
    let ours: Vec<Vec<String>> = CONTROLLER_LAYERS
        .iter()
        .map(|l| l.iter().map(|m| (*m).to_owned()).collect())
        .collect();
    assert_eq!(
        drawn, ours,
        "ARCHITECTURE.md's layer table and CONTROLLER_LAYERS differ"
    );
}
