//! The agent's module layers, as ARCHITECTURE.md draws them ("Module layers", the table after
//! `agent/src/`): each top-level module names only modules of lower layers, in code or in its
//! comments' `crate::` paths; no module names a command module ([`COMMANDS`]: the library of a
//! `numaload` subcommand, which sits on top); and no file of the agent crate names another in a
//! circle (file by file, not only module by module).
//!
//! Imports are read by `numaload_test_support::source_graph`: grouped and nested `use` items,
//! `super::` and `self::`, paths in code, re-exports followed to the file that defines the item.
//!
//! The file-level check covers the agent crate, which has no circle left: [`KNOWN_CIRCLES`] is
//! empty, and a folder may be listed there only with the circle it has, failing when it is gone
//! so the list only shrinks. The controller's `tests/it/seams.rs` checks every crate's
//! top-level modules for cycles with the same reader, and its files likewise.

use std::collections::BTreeMap;
use std::path::Path;

use numaload_test_support::source_graph::{
    a_cycle, circles, draw_cycle, layer_table, use_bindings, SourceGraph, UseBinding,
};

/// The agent's layers, lowest first: a module names only modules of lower layers.
const AGENT_LAYERS: &[&[&str]] = &[
    &[
        "procfs",
        "topology",
        "cgroup",
        "scrape",
        "schedtrace",
        "calibrate",
        "tls",
        "loadgen",
    ],
    &[
        "placement",
        "host",
        "nic",
        "netrx",
        "target",
        "metrics",
        "sched",
    ],
    &["affinity", "verify", "config"],
    &["replica"],
    &["sampler"],
    &["run"],
    &["service", "hollow", "watch"],
];

/// The modules behind a `numaload` subcommand: `service` is `numaload agent`, `watch` is
/// `numaload watch`. Nothing else in the agent may name them.
const COMMANDS: &[&str] = &["service", "hollow", "watch"];

fn workspace() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the agent crate sits in the workspace")
}

fn agent() -> SourceGraph {
    SourceGraph::read(Path::new(env!("CARGO_MANIFEST_DIR")))
}

#[test]
fn agent_modules_name_only_lower_layers() {
    let graph = agent().module_graph();
    assert!(graph.len() > 10, "found only {graph:?}");
    let layer = |m: &str| {
        AGENT_LAYERS
            .iter()
            .position(|l| l.contains(&m))
            .unwrap_or_else(|| {
                panic!(
                    "agent module {m} is in no layer: add it to AGENT_LAYERS and ARCHITECTURE.md"
                )
            })
    };
    let mut wrong = Vec::new();
    for (module, named) in &graph {
        let own = layer(module);
        for other in named {
            let theirs = layer(other);
            if theirs >= own {
                wrong.push(format!(
                    "{module} (layer {own}) names {other} (layer {theirs})"
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "agent: a module names one of its own or a higher layer:\n{}",
        wrong.join("\n")
    );
    for module in AGENT_LAYERS.iter().flat_map(|l| l.iter()) {
        assert!(
            graph.contains_key(*module),
            "AGENT_LAYERS names {module}, which is not an agent module"
        );
    }
}

#[test]
fn no_agent_module_names_a_command_module() {
    let graph = agent().module_graph();
    for command in COMMANDS {
        assert!(
            graph.contains_key(*command),
            "{command} is not an agent module"
        );
        let importers: Vec<&String> = graph
            .iter()
            .filter(|(module, named)| module != command && named.contains(*command))
            .map(|(module, _)| module)
            .collect();
        assert!(
            importers.is_empty(),
            "{importers:?} name {command}, the library of a `numaload` subcommand: move what \
             they share below both"
        );
    }
}

/// Folders of the agent whose files name each other in a circle today, and the circle. A circle
/// whose files all sit in one of them is reported, not failed; a circle anywhere else fails, and
/// so does a folder here that has no circle left (its line is then deleted).
const KNOWN_CIRCLES: &[(&str, &str)] = &[];

#[test]
fn no_agent_file_names_another_in_a_circle() {
    let graph = agent().file_graph(workspace());
    assert!(graph.len() > 40, "found only {} files", graph.len());
    let known = |circle: &std::collections::BTreeSet<String>| {
        KNOWN_CIRCLES
            .iter()
            .position(|(folder, _)| circle.iter().all(|file| file.starts_with(folder)))
    };
    let found = circles(&graph);
    for circle in &found {
        if let Some(at) = known(circle) {
            println!(
                "known circle in {}: {circle:?} ({})",
                KNOWN_CIRCLES[at].0, KNOWN_CIRCLES[at].1
            );
        }
    }
    let new: Vec<String> = found
        .iter()
        .filter(|circle| known(circle).is_none())
        .map(|circle| draw_cycle(&graph, circle))
        .collect();
    assert!(
        new.is_empty(),
        "agent files that name each other in a circle (move what both need into a file below \
         both):\n{}",
        new.join("\n")
    );
    for (at, (folder, _)) in KNOWN_CIRCLES.iter().enumerate() {
        assert!(
            found.iter().any(|circle| known(circle) == Some(at)),
            "{folder} has no circle left: delete its line from KNOWN_CIRCLES"
        );
    }
}

#[test]
fn architecture_md_draws_the_agent_layers_of_this_test() {
    let architecture =
        std::fs::read_to_string(workspace().join("ARCHITECTURE.md")).expect("read ARCHITECTURE.md");
    let drawn = layer_table(&architecture, "`agent/src/`");
    let ours: Vec<Vec<String>> = AGENT_LAYERS
        .iter()
        .map(|l| l.iter().map(|m| (*m).to_owned()).collect())
        .collect();
    assert_eq!(
        drawn, ours,
        "ARCHITECTURE.md's agent layer table and AGENT_LAYERS differ"
    );
}

fn binding(path: &[&str], name: Option<&str>) -> UseBinding {
    UseBinding {
        path: path.iter().map(|s| (*s).to_owned()).collect(),
        name: name.map(str::to_owned),
    }
}

#[test]
fn the_reader_expands_grouped_and_nested_imports() {
    let code = "use crate::{host, run::{self, prepare::Plan as P}, watch::*};\n\
                pub(crate) use super::sample::{ThreadSample, TreeSample};\n\
                use std::io;\nfn because_of() {}\n";
    assert_eq!(
        use_bindings(code),
        [
            binding(&["crate", "host"], Some("host")),
            binding(&["crate", "run"], Some("run")),
            binding(&["crate", "run", "prepare", "Plan"], Some("P")),
            binding(&["crate", "watch"], None),
            binding(&["super", "sample", "ThreadSample"], Some("ThreadSample")),
            binding(&["super", "sample", "TreeSample"], Some("TreeSample")),
            binding(&["std", "io"], Some("io")),
        ]
    );
}

/// Writes a small crate under the test's scratch directory.
fn scratch_crate(name: &str, files: &[(&str, &str)]) -> std::path::PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("source_graph_{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    for (path, text) in files {
        let file = dir.join("src").join(path);
        std::fs::create_dir_all(file.parent().expect("a parent")).expect("mkdir");
        std::fs::write(file, text).expect("write");
    }
    dir
}

#[test]
fn the_reader_follows_paths_to_the_defining_file() {
    let dir = scratch_crate(
        "paths",
        &[
            ("lib.rs", "pub mod a;\npub mod b;\nmod c;\n"),
            // `a` re-exports its child's type; `a::inner` names its parent's.
            (
                "a/mod.rs",
                "mod inner;\npub use inner::Thing;\npub struct Shared;\n",
            ),
            ("a/inner.rs", "pub struct Thing(super::Shared);\n"),
            // A grouped import, and a path through a bound name.
            (
                "b.rs",
                "use crate::{a::{self, Thing}, c};\nfn f() { a::inner::g(); c::h(); }\n\
                 // crate::c in a comment\nconst S: &str = \"crate::nothing\";\n\
                 #[cfg(test)]\nmod tests {\n    use crate::c::Other;\n}\n",
            ),
            ("c.rs", "pub fn h() { let _ = '{'; }\n"),
        ],
    );
    let graph = SourceGraph::read(&dir).file_graph(&dir);
    let names = |file: &str| -> Vec<&str> { graph[file].iter().map(String::as_str).collect() };
    assert_eq!(names("src/a/mod.rs"), ["src/a/inner.rs"]);
    assert_eq!(names("src/a/inner.rs"), ["src/a/mod.rs"]);
    assert_eq!(
        names("src/b.rs"),
        ["src/a/inner.rs", "src/a/mod.rs", "src/c.rs"],
        "`a::Thing` is defined in a/inner.rs"
    );
    assert_eq!(names("src/c.rs"), Vec::<&str>::new());
    let modules = SourceGraph::read(&dir).module_graph();
    assert_eq!(
        modules["b"].iter().collect::<Vec<_>>(),
        ["a", "c"],
        "comments count at the module level, strings and tests do not"
    );
    let found = circles(&graph);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(
        draw_cycle(&graph, &found[0]),
        "src/a/inner.rs → src/a/mod.rs → src/a/inner.rs"
    );
}

#[test]
fn the_circle_finder_finds_circles() {
    let graph = |edges: &[(&str, &str)]| {
        let mut g: BTreeMap<String, std::collections::BTreeSet<String>> = BTreeMap::new();
        for (a, b) in edges {
            g.entry((*a).to_owned())
                .or_default()
                .insert((*b).to_owned());
            g.entry((*b).to_owned()).or_default();
        }
        g
    };
    assert_eq!(a_cycle(&graph(&[("a", "b"), ("b", "c")])), None);
    assert!(circles(&graph(&[("a", "b"), ("b", "c")])).is_empty());
    let two = graph(&[("a", "b"), ("b", "a"), ("b", "c"), ("c", "d"), ("d", "c")]);
    assert_eq!(circles(&two).len(), 2);
    let cycle = a_cycle(&graph(&[("a", "b"), ("b", "c"), ("c", "a")])).expect("a cycle");
    assert_eq!(cycle.first(), cycle.last());
    assert_eq!(cycle.len(), 4);
}
