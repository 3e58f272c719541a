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
//! The controller's `tests/it/seams.rs` reads the same file (`#[path]`), so both crates' checks
//! see imports alike.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

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

/// A source file split into code and prose, each as long as the file (in bytes) with the other
/// blanked, so positions agree.
struct Lexed {
    code: String,
    prose: String,
}

/// Blanks comments and literals out of the code (keeping line breaks), and everything but
/// comments out of the prose.
fn lex(source: &str) -> Lexed {
    let bytes = source.as_bytes();
    let mut code = bytes.to_vec();
    let mut prose = vec![b' '; bytes.len()];
    let blank = |v: &mut Vec<u8>, from: usize, to: usize| {
        for b in &mut v[from..to] {
            if *b != b'\n' {
                *b = b' ';
            }
        }
    };
    let mut i = 0;
    while i < bytes.len() {
        let rest = &bytes[i..];
        if rest.starts_with(b"//") {
            let end = rest
                .iter()
                .position(|&b| b == b'\n')
                .map_or(bytes.len(), |n| i + n);
            prose[i..end].copy_from_slice(&bytes[i..end]);
            blank(&mut code, i, end);
            i = end;
        } else if rest.starts_with(b"/*") {
            let mut depth = 0;
            let mut j = i;
            while j < bytes.len() {
                if bytes[j..].starts_with(b"/*") {
                    depth += 1;
                    j += 2;
                } else if bytes[j..].starts_with(b"*/") {
                    depth -= 1;
                    j += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    j += 1;
                }
            }
            prose[i..j].copy_from_slice(&bytes[i..j]);
            blank(&mut code, i, j);
            i = j;
        } else if let Some(end) = raw_string_end(bytes, i) {
            blank(&mut code, i, end);
            i = end;
        } else if rest[0] == b'"' {
            let mut j = i + 1;
            while j < bytes.len() && bytes[j] != b'"' {
                j += if bytes[j] == b'\\' { 2 } else { 1 };
            }
            let end = (j + 1).min(bytes.len());
            blank(&mut code, i, end);
            i = end;
        } else if rest[0] == b'\'' {
            // A character literal ('x', '\n', '\u{7f}', '{'); a lifetime ('a) is left alone.
            let end = if rest.get(1) == Some(&b'\\') {
                rest.iter()
                    .skip(2)
                    .position(|&b| b == b'\'')
                    .map(|n| i + 2 + n + 1)
            } else {
                let width = source
                    .get(i + 1..)
                    .and_then(|s| s.chars().next())
                    .map_or(1, char::len_utf8);
                (rest.get(1 + width) == Some(&b'\'')).then_some(i + 2 + width)
            };
            match end {
                Some(end) => {
                    blank(&mut code, i, end);
                    i = end;
                }
                None => i += 1,
            }
        } else {
            i += 1;
        }
    }
    Lexed {
        code: String::from_utf8_lossy(&code).into_owned(),
        prose: String::from_utf8_lossy(&prose).into_owned(),
    }
}

/// Where a raw string literal starting at `at` (`r"…"`, `r#"…"#`, `br"…"`) ends, if one does.
fn raw_string_end(bytes: &[u8], at: usize) -> Option<usize> {
    let before_is_ident =
        at > 0 && (bytes[at - 1].is_ascii_alphanumeric() || bytes[at - 1] == b'_');
    if before_is_ident {
        return None;
    }
    let mut j = at;
    if bytes.get(j) == Some(&b'b') {
        j += 1;
    }
    if bytes.get(j) != Some(&b'r') {
        return None;
    }
    j += 1;
    let hashes = bytes[j..].iter().take_while(|&&b| b == b'#').count();
    j += hashes;
    if bytes.get(j) != Some(&b'"') {
        return None;
    }
    let closing: Vec<u8> = std::iter::once(b'"')
        .chain(std::iter::repeat_n(b'#', hashes))
        .collect();
    let from = j + 1;
    let end = bytes[from..]
        .windows(closing.len())
        .position(|w| w == closing.as_slice())
        .map_or(bytes.len(), |n| from + n + closing.len());
    Some(end)
}

/// Blanks every `#[cfg(test)]` item (with the attributes after it) out of lexed code, and the
/// same spans out of the prose.
fn drop_test_items(lexed: &mut Lexed) {
    let mut spans = Vec::new();
    let code = lexed.code.as_bytes();
    let mut from = 0;
    while let Some(at) = lexed.code[from..].find("#[cfg(test)]").map(|n| from + n) {
        let mut j = at + "#[cfg(test)]".len();
        // Further attributes, then the item up to its `;` or its closing brace.
        let mut depth = 0usize;
        let mut end = code.len();
        let mut in_attr = 0usize;
        while j < code.len() {
            match code[j] {
                b'[' if in_attr > 0 || (j > 0 && code[j - 1] == b'#') => in_attr += 1,
                b']' if in_attr > 0 => in_attr -= 1,
                b'{' if in_attr == 0 => depth += 1,
                b'}' if in_attr == 0 => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        end = j + 1;
                        break;
                    }
                }
                b';' if in_attr == 0 && depth == 0 => {
                    end = j + 1;
                    break;
                }
                _ => {}
            }
            j += 1;
        }
        spans.push((at, end));
        from = end;
    }
    let blank = |text: &mut String, spans: &[(usize, usize)]| {
        let mut bytes = std::mem::take(text).into_bytes();
        for &(from, to) in spans {
            for b in &mut bytes[from..to] {
                if *b != b'\n' {
                    *b = b' ';
                }
            }
        }
        *text = String::from_utf8_lossy(&bytes).into_owned();
    };
    blank(&mut lexed.code, &spans);
    blank(&mut lexed.prose, &spans);
}

/// A test-only source file, included under `#[cfg(test)]`.
pub fn test_only(file: &Path) -> bool {
    file.file_stem()
        .is_some_and(|s| s == "tests" || s.to_string_lossy().ends_with("_tests"))
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// The `mod x;` items of lexed code (inline `mod x { … }` bodies belong to their file).
fn declared_modules(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (at, _) in code.match_indices("mod ") {
        if code[..at].chars().next_back().is_some_and(is_ident) {
            continue;
        }
        let name: String = code[at + 4..]
            .trim_start()
            .chars()
            .take_while(|&c| is_ident(c))
            .collect();
        let after = code[at + 4..].trim_start()[name.len()..].trim_start();
        if !name.is_empty() && after.starts_with(';') {
            out.push(name);
        }
    }
    out
}

/// One binding of a `use` item: the path it names and the name it binds (`None` for a glob).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UseBinding {
    pub path: Vec<String>,
    pub name: Option<String>,
}

/// The `use` items of lexed code, each group expanded: `use a::{b, c::{d as e, self}, f::*};`
/// gives `a::b` as `b`, `a::c::d` as `e`, `a::c` as `c` and the glob `a::f::*`.
pub fn use_bindings(code: &str) -> Vec<UseBinding> {
    let mut out = Vec::new();
    for (at, _) in code.match_indices("use ") {
        if code[..at].chars().next_back().is_some_and(is_ident) {
            continue;
        }
        let Some(len) = code[at..].find(';') else {
            continue;
        };
        let tokens = use_tokens(&code[at + 4..at + len]);
        let mut at = 0;
        use_tree(&tokens, &mut at, &[], &mut out);
    }
    out
}

/// The tokens of a use tree: names, `::`, `{`, `}`, `,`, `*` (`as` is a name here).
fn use_tokens(tree: &str) -> Vec<String> {
    let mut tokens = Vec::new();
    let chars: Vec<char> = tree.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if is_ident(c) {
            let start = i;
            while i < chars.len() && is_ident(chars[i]) {
                i += 1;
            }
            tokens.push(chars[start..i].iter().collect());
        } else if c == ':' && chars.get(i + 1) == Some(&':') {
            tokens.push("::".to_owned());
            i += 2;
        } else if "{},*".contains(c) {
            tokens.push(c.to_string());
            i += 1;
        } else {
            i += 1;
        }
    }
    tokens
}

/// One use tree from `tokens[*at..]`: a path, then a group, a glob or an alias.
fn use_tree(tokens: &[String], at: &mut usize, prefix: &[String], out: &mut Vec<UseBinding>) {
    let mut path = prefix.to_vec();
    if tokens.get(*at).map(String::as_str) == Some("::") {
        *at += 1;
    }
    loop {
        match tokens.get(*at).map(String::as_str) {
            Some("{") => {
                *at += 1;
                while let Some(token) = tokens.get(*at) {
                    match token.as_str() {
                        "}" => {
                            *at += 1;
                            return;
                        }
                        "," => *at += 1,
                        _ => use_tree(tokens, at, &path, out),
                    }
                }
                return;
            }
            Some("*") => {
                *at += 1;
                out.push(UseBinding { path, name: None });
                return;
            }
            Some(name) if name != "," && name != "}" && name != "::" => {
                path.push(name.to_owned());
                *at += 1;
                if tokens.get(*at).map(String::as_str) == Some("::") {
                    *at += 1;
                    continue;
                }
                let alias = if tokens.get(*at).map(String::as_str) == Some("as") {
                    *at += 2;
                    tokens.get(*at - 1).cloned()
                } else {
                    None
                };
                if path.last().map(String::as_str) == Some("self") {
                    path.pop();
                }
                let name = alias.or_else(|| path.last().cloned());
                out.push(UseBinding { path, name });
                return;
            }
            _ => return,
        }
    }
}

/// Paths of two or more segments in lexed code (`a::b`, `super::super::x::y`), outside `use`
/// items and visibilities, as written.
fn code_paths(code: &str) -> Vec<Vec<String>> {
    let mut without_uses = code.to_owned();
    for (at, _) in code.match_indices("use ") {
        if code[..at].chars().next_back().is_some_and(is_ident) {
            continue;
        }
        if let Some(len) = code[at..].find(';') {
            without_uses.replace_range(at..at + len, &" ".repeat(len));
        }
    }
    // A visibility, `pub(in super::super)`, names where an item may be seen, not what it uses.
    for (at, _) in code.match_indices("pub(in ") {
        if let Some(len) = code[at..].find(')') {
            without_uses.replace_range(at..at + len, &" ".repeat(len));
        }
    }
    let chars: Vec<char> = without_uses.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if !is_ident(chars[i]) || (i > 0 && (is_ident(chars[i - 1]) || chars[i - 1] == ':')) {
            i += 1;
            continue;
        }
        let mut path = Vec::new();
        let mut j = i;
        loop {
            let start = j;
            while j < chars.len() && is_ident(chars[j]) {
                j += 1;
            }
            path.push(chars[start..j].iter().collect::<String>());
            if chars.get(j) == Some(&':')
                && chars.get(j + 1) == Some(&':')
                && chars.get(j + 2).is_some_and(|&c| is_ident(c))
            {
                j += 2;
            } else {
                break;
            }
        }
        if path.len() > 1 {
            out.push(path);
        }
        i = j.max(i + 1);
    }
    out
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

/// The groups of nodes that reach each other (strongly connected components) with more than
/// one node: each holds at least one cycle.
pub fn circles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<BTreeSet<String>> {
    let reach = |from: &str| {
        let mut seen = BTreeSet::new();
        let mut stack = vec![from.to_owned()];
        while let Some(node) = stack.pop() {
            for next in graph.get(&node).into_iter().flatten() {
                if seen.insert(next.clone()) {
                    stack.push(next.clone());
                }
            }
        }
        seen
    };
    let reaches: BTreeMap<&String, BTreeSet<String>> =
        graph.keys().map(|n| (n, reach(n))).collect();
    let mut out: Vec<BTreeSet<String>> = Vec::new();
    for (node, reached) in &reaches {
        if out.iter().any(|c| c.contains(*node)) || !reached.contains(*node) {
            continue;
        }
        let group: BTreeSet<String> = reached
            .iter()
            .filter(|other| reaches.get(other).is_some_and(|r| r.contains(*node)))
            .cloned()
            .collect();
        if group.len() > 1 {
            out.push(group);
        }
    }
    out
}

/// A cycle in `graph`, if any, as the nodes along it (the first repeated last).
pub fn a_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
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

/// One cycle through the circle `group` of `graph`, drawn `a → b → a`.
pub fn draw_cycle(graph: &BTreeMap<String, BTreeSet<String>>, group: &BTreeSet<String>) -> String {
    let within: BTreeMap<String, BTreeSet<String>> = group
        .iter()
        .map(|n| {
            let next = graph[n].intersection(group).cloned().collect();
            (n.clone(), next)
        })
        .collect();
    a_cycle(&within)
        .expect("a circle holds a cycle")
        .join(" → ")
}

/// The layer table of ARCHITECTURE.md's "Module layers" section that follows the first line
/// naming `marker` (such as `` `agent/src/` ``): per layer, lowest first, the module names in
/// backticks, leaving out what is said of them in parentheses.
pub fn layer_table(architecture: &str, marker: &str) -> Vec<Vec<String>> {
    let section = architecture
        .split_once("## Module layers")
        .expect("ARCHITECTURE.md has a \"## Module layers\" section")
        .1;
    let section = section.split("\n## ").next().unwrap_or_default();
    let after = section
        .split_once(marker)
        .unwrap_or_else(|| panic!("the Module layers section names {marker}"))
        .1;
    let mut drawn = Vec::new();
    for line in after.lines().skip_while(|l| !l.starts_with("| layer")) {
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
        drawn.push(
            bare.split('`')
                .skip(1)
                .step_by(2)
                .map(str::to_owned)
                .collect(),
        );
    }
    drawn
}
