//! The crate graph the design asks for: the controller library depends on proto only. The
//! `numaload` package also carries the binary, which needs the agent and target crates, so
//! Cargo cannot enforce this: this test does. Only `main.rs` and `roles/` may name them.

use std::path::Path;

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

/// The top-level modules of a crate's `src/` (a file `x.rs` or a folder `x/`) and the files of
/// each, leaving out `lib.rs`, `main.rs`, the binary's `roles/` and test files.
fn modules(src: &Path) -> std::collections::BTreeMap<String, Vec<std::path::PathBuf>> {
    let mut out: std::collections::BTreeMap<String, Vec<std::path::PathBuf>> = Default::default();
    for entry in std::fs::read_dir(src).expect("read src") {
        let path = entry.expect("entry").path();
        let name = path
            .file_stem()
            .and_then(|n| n.to_str())
            .expect("utf8 name")
            .to_owned();
        if ["lib", "main", "roles"].contains(&name.as_str()) {
            continue;
        }
        if path.is_dir() {
            let mut files = Vec::new();
            collect(&path, &mut files);
            out.entry(name).or_default().extend(files);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.entry(name).or_default().push(path);
        }
    }
    out
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

/// The crate modules each top-level module names (`crate::x`, in code or docs), tests aside.
fn module_graph(crate_dir: &str) -> std::collections::BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(crate_dir)
        .join("src");
    let modules = modules(&src);
    let mut graph = std::collections::BTreeMap::new();
    for (name, files) in &modules {
        let mut named = BTreeSet::new();
        for file in files {
            if file
                .file_stem()
                .is_some_and(|s| s.to_string_lossy().contains("tests"))
            {
                continue;
            }
            let text = std::fs::read_to_string(file).expect("read");
            let code = text.split("#[cfg(test)]").next().unwrap_or_default();
            // Doc comments count too: an intra-doc link is a reference, and a reader follows
            // the prose's arrows as much as the imports'.
            for line in code.lines() {
                for (at, _) in line.match_indices("crate::") {
                    let rest = &line[at + "crate::".len()..];
                    let word: String = rest
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                        .collect();
                    if word != *name && modules.contains_key(&word) {
                        named.insert(word);
                    }
                }
            }
        }
        graph.insert(name.clone(), named);
    }
    graph
}

use std::collections::BTreeSet;

/// A cycle in `graph`, if any, as the modules along it.
fn a_cycle(graph: &std::collections::BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &std::collections::BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|p| p == node) {
            let mut cycle = path[at..].to_vec();
            cycle.push(node.to_owned());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|node| visit(node, graph, &mut Vec::new(), &mut done))
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

#[test]
fn the_cycle_finder_finds_cycles() {
    let graph = |edges: &[(&str, &str)]| {
        let mut g: std::collections::BTreeMap<String, BTreeSet<String>> = Default::default();
        for (a, b) in edges {
            g.entry((*a).to_owned())
                .or_default()
                .insert((*b).to_owned());
            g.entry((*b).to_owned()).or_default();
        }
        g
    };
    assert_eq!(a_cycle(&graph(&[("a", "b"), ("b", "c")])), None);
    let cycle = a_cycle(&graph(&[("a", "b"), ("b", "c"), ("c", "a")])).expect("a cycle");
    assert_eq!(cycle.first(), cycle.last());
    assert_eq!(cycle.len(), 4);
}
