//! The crate graph the design asks for: the controller library depends on proto only. The
//! `numaload` package also carries the binary, which needs the agent and target crates, so
//! Cargo cannot enforce this: this test does. Only `main.rs` and `roles/` may name them.
//! It also checks the module layering ARCHITECTURE.md draws, that no crate's modules import each
//! other in a cycle, and that no hand-written source file grows past 500 lines of non-test code.

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

/// Most lines a hand-written source file may have, not counting its test modules: past it, a
/// file is split along its seams into a folder module (issue 16).
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
            if file
                .file_stem()
                .is_some_and(|s| s == "tests" || s.to_string_lossy().ends_with("_tests"))
            {
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

/// A test-only source file (`tests.rs`, `sample_tests.rs`), included under `#[cfg(test)]`.
fn test_only(file: &Path) -> bool {
    file.file_stem()
        .is_some_and(|s| s == "tests" || s.to_string_lossy().ends_with("_tests"))
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
    let architecture = architecture();
    let table = architecture
        .split_once("## Module layers")
        .expect("ARCHITECTURE.md has a \"## Module layers\" section")
        .1;
    let mut drawn: Vec<Vec<String>> = Vec::new();
    for line in table.lines().skip_while(|l| !l.starts_with("| layer")) {
        if !line.starts_with('|') {
            break;
        }
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let (Some(layer), Some(modules)) = (cells.get(1), cells.get(2)) else {
            continue;
        };
        if layer.parse::<usize>().is_err() {
            continue;
        }
        // The words in backticks, leaving out what is said of them in parentheses.
        let mut bare = String::new();
        let mut depth = 0;
        for c in modules.chars() {
            match c {
                '(' => depth += 1,
                ')' => depth -= 1,
                _ if depth == 0 => bare.push(c),
                _ => {}
            }
        }
        let names = bare
            .split('`')
            .skip(1)
            .step_by(2)
            .map(str::to_owned)
            .collect();
        drawn.push(names);
    }
    let ours: Vec<Vec<String>> = CONTROLLER_LAYERS
        .iter()
        .map(|l| l.iter().map(|m| (*m).to_owned()).collect())
        .collect();
    assert_eq!(
        drawn, ours,
        "ARCHITECTURE.md's layer table and CONTROLLER_LAYERS differ"
    );
}
