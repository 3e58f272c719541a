//! A crate's source as a graph: which file names which, and which top-level module names which.
//!
//! The module tree is followed from each crate root (`lib.rs`, `main.rs`) through its `mod x;`
//! items. A file names another by:
//!
//! - a `use` item, grouped and nested ones included (`use crate::{a, b::{c, d}}`), relative to
//!   the crate (`crate::`), a parent (`super::`, repeated), the module itself (`self::`) or a
//!   child module (`use child::x`);
//! - a path in code through any of those, or through a name a `use` item bound
//!   (`use crate::procfs;` then `procfs::tree::scan()` names `procfs/tree.rs`).
//!
//! A path is followed to the file that defines what it names: through the module tree, then
//! through that module's `use` items (a re-export, or an import a child module sees), so
//! `super::Layout` from `placement/seats.rs`, re-exported by `placement/mod.rs` from
//! `placement/layout.rs`, names `layout.rs`. Test code (`#[cfg(test)]`
//! items, `tests.rs` and `*_tests.rs` files) is left out, and so are comments and string
//! literals, except that the top-level graph also reads `crate::x` in comments: an intra-doc
//! link is a reference, and a reader follows the prose's arrows as much as the imports'.
//! A declaration `mod x;` is not a reference. Paths into other crates are not followed.
//!
//! The files: `lex.rs` splits a file into code and prose, `paths.rs` reads `mod`, `use` and
//! paths out of the code, this file follows them through the module tree, `cycles.rs` finds
//! circles in the graphs and `layer_table.rs` reads the layers ARCHITECTURE.md draws. The agent's
//! `tests/it/layers.rs` and the controller's `tests/it/seams.rs` both read with it, so both
//! crates' checks see imports alike.

mod cycles;
mod layer_table;
mod lex;
mod paths;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

pub use cycles::{a_cycle, circles, draw_cycle};
pub use layer_table::layer_table;
pub use paths::{use_bindings, UseBinding};

use lex::{drop_test_items, lex, Lexed};
use paths::{code_paths, declared_modules, is_ident};

/// One crate's files and the references between them.
#[derive(Debug, Default)]
pub struct SourceGraph {
    /// Each file by its module path (`[]` for a crate root), per crate root.
    modules: BTreeMap<(usize, Vec<String>), PathBuf>,
    /// What each file names: other files (by path) and, from its comments, top-level modules.
    files: BTreeMap<PathBuf, FileRefs>,
}

#[derive(Debug, Default)]
struct FileRefs {
    root: usize,
    module: Vec<String>,
    /// Files named in code.
    names: BTreeSet<PathBuf>,
    /// First path segments after `crate::` in comments.
    prose: BTreeSet<String>,
}

/// A test-only source file, included under `#[cfg(test)]`.
pub fn test_only(file: &Path) -> bool {
    file.file_stem()
        .is_some_and(|s| s == "tests" || s.to_string_lossy().ends_with("_tests"))
}

impl SourceGraph {
    /// Reads the crate in `crate_dir` (its `src/`, from each root through its `mod` items).
    pub fn read(crate_dir: &Path) -> SourceGraph {
        let src = crate_dir.join("src");
        let mut graph = SourceGraph::default();
        let mut lexed: BTreeMap<PathBuf, Lexed> = BTreeMap::new();
        for (root, root_file) in ["lib.rs", "main.rs"].iter().enumerate() {
            let file = src.join(root_file);
            if file.exists() {
                graph.walk(root, Vec::new(), file, &mut lexed);
            }
        }
        let files: Vec<(PathBuf, usize, Vec<String>)> = graph
            .files
            .iter()
            .map(|(f, r)| (f.clone(), r.root, r.module.clone()))
            .collect();
        for (file, root, module) in files {
            let text = &lexed[&file];
            let mut names = BTreeSet::new();
            let bindings = use_bindings(&text.code);
            for binding in &bindings {
                if let Some(path) = graph.absolute(root, &module, &binding.path, &bindings) {
                    if let Some(target) = graph.resolve(root, &path, &lexed, 0) {
                        names.insert(target);
                    }
                }
            }
            for path in code_paths(&text.code) {
                if let Some(path) = graph.absolute(root, &module, &path, &bindings) {
                    if let Some(target) = graph.resolve(root, &path, &lexed, 0) {
                        names.insert(target);
                    }
                }
            }
            names.remove(&file);
            let prose = text
                .prose
                .match_indices("crate::")
                .map(|(at, _)| {
                    text.prose[at + "crate::".len()..]
                        .chars()
                        .take_while(|&c| is_ident(c))
                        .collect::<String>()
                })
                .collect();
            let refs = graph.files.get_mut(&file).expect("walked");
            refs.names = names;
            refs.prose = prose;
        }
        graph
    }

    fn walk(
        &mut self,
        root: usize,
        module: Vec<String>,
        file: PathBuf,
        lexed: &mut BTreeMap<PathBuf, Lexed>,
    ) {
        let text = std::fs::read_to_string(&file)
            .unwrap_or_else(|e| panic!("read {}: {e}", file.display()));
        let mut lex = lex(&text);
        drop_test_items(&mut lex);
        let children = declared_modules(&lex.code);
        lexed.insert(file.clone(), lex);
        self.modules.insert((root, module.clone()), file.clone());
        self.files.insert(
            file.clone(),
            FileRefs {
                root,
                module: module.clone(),
                ..FileRefs::default()
            },
        );
        let dir = match file.file_stem().and_then(|s| s.to_str()) {
            Some("lib" | "main" | "mod") => file.parent().expect("a parent").to_path_buf(),
            _ => file.with_extension(""),
        };
        for child in children {
            let candidates = [
                dir.join(format!("{child}.rs")),
                dir.join(&child).join("mod.rs"),
            ];
            let Some(found) = candidates.into_iter().find(|p| p.exists()) else {
                continue;
            };
            if test_only(&found) {
                continue;
            }
            let mut path = module.clone();
            path.push(child);
            self.walk(root, path, found, lexed);
        }
    }

    fn is_module(&self, root: usize, path: &[String]) -> bool {
        self.modules.contains_key(&(root, path.to_vec()))
    }

    /// `path` as written in the module `module`, from the crate root; `None` when it leaves the
    /// crate (`std::…`, another crate).
    fn absolute(
        &self,
        root: usize,
        module: &[String],
        path: &[String],
        bindings: &[UseBinding],
    ) -> Option<Vec<String>> {
        let first = path.first()?;
        let mut base: Vec<String>;
        let mut rest = path;
        match first.as_str() {
            "crate" => {
                base = Vec::new();
                rest = &path[1..];
            }
            "self" => {
                base = module.to_vec();
                rest = &path[1..];
            }
            "super" => {
                base = module.to_vec();
                while rest.first().map(String::as_str) == Some("super") {
                    base.pop()?;
                    rest = &rest[1..];
                }
            }
            name => {
                let mut child = module.to_vec();
                child.push(name.to_owned());
                if self.is_module(root, &child) {
                    base = module.to_vec();
                } else if let Some(bound) =
                    bindings.iter().find(|b| b.name.as_deref() == Some(name))
                {
                    let mut whole = self.absolute(root, module, &bound.path, &[])?;
                    whole.extend(path[1..].iter().cloned());
                    return Some(whole);
                } else {
                    return None;
                }
            }
        }
        base.extend(rest.iter().cloned());
        Some(base)
    }

    /// The file that defines what the absolute `path` names: the deepest module on it, then
    /// through that module's re-exports.
    fn resolve(
        &self,
        root: usize,
        path: &[String],
        lexed: &BTreeMap<PathBuf, Lexed>,
        depth: usize,
    ) -> Option<PathBuf> {
        let deepest = (0..=path.len())
            .rev()
            .find(|&n| self.is_module(root, &path[..n]))?;
        let module = &path[..deepest];
        let file = self.modules.get(&(root, module.to_vec()))?.clone();
        let Some(name) = path.get(deepest) else {
            return Some(file);
        };
        if depth > 8 {
            return Some(file);
        }
        let bindings = use_bindings(&lexed[&file].code);
        // A child sees its parent's private imports too, so every binding is followed.
        let export = bindings
            .iter()
            .find(|b| b.name.as_deref() == Some(name.as_str()));
        if let Some(export) = export {
            let mut target = self.absolute(root, module, &export.path, &bindings)?;
            target.extend(path[deepest + 1..].iter().cloned());
            return self.resolve(root, &target, lexed, depth + 1).or(Some(file));
        }
        Some(file)
    }

    /// Every file and the files it names, as paths relative to `relative_to`.
    pub fn file_graph(&self, relative_to: &Path) -> BTreeMap<String, BTreeSet<String>> {
        let show = |p: &Path| {
            p.strip_prefix(relative_to)
                .unwrap_or(p)
                .to_string_lossy()
                .into_owned()
        };
        self.files
            .iter()
            .map(|(file, refs)| (show(file), refs.names.iter().map(|n| show(n)).collect()))
            .collect()
    }

    /// The library's top-level modules (a file `x.rs` or a folder `x/`) and the others each
    /// names, in code or in comments.
    pub fn module_graph(&self) -> BTreeMap<String, BTreeSet<String>> {
        let top = |refs: &FileRefs| {
            (refs.root == 0)
                .then(|| refs.module.first().cloned())
                .flatten()
        };
        let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for refs in self.files.values() {
            let Some(from) = top(refs) else { continue };
            let named = graph.entry(from.clone()).or_default();
            for target in &refs.names {
                if let Some(to) = self.files.get(target).and_then(top) {
                    if to != from {
                        named.insert(to);
                    }
                }
            }
            for word in &refs.prose {
                if *word != from && self.is_module(0, std::slice::from_ref(word)) {
                    named.insert(word.clone());
                }
            }
        }
        graph
    }
}
