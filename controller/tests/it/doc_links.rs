//! No dead relative link in the documents a user reads: README.md, ARCHITECTURE.md, deploy's
//! README, every page of docs/ and the files of examples/. A Markdown link `[text](path#anchor)`
//! names a file relative to the page, and its anchor a heading of that file (GitHub's slug of
//! it); a repository path written in code quotes (`` `docs/plan.md` ``) or in an example's
//! comment (`docs/agent-config.md`, `examples/nginx/agent.toml`) names a file from the root.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The documents checked, relative to the root.
fn documents() -> Vec<PathBuf> {
    let root = root();
    let mut files: Vec<PathBuf> = ["README.md", "ARCHITECTURE.md", "deploy/README.md"]
        .iter()
        .map(PathBuf::from)
        .collect();
    for dir in ["docs", "examples"] {
        collect(&root, Path::new(dir), &mut files);
    }
    files
}

fn collect(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) {
    let entries =
        std::fs::read_dir(root.join(dir)).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries {
        let name = entry.expect("a directory entry").file_name();
        let path = dir.join(name);
        if root.join(&path).is_dir() {
            collect(root, &path, out);
        } else {
            out.push(path);
        }
    }
}

/// The text outside fenced code blocks.
fn prose(markdown: &str) -> String {
    let mut fenced = false;
    let mut out = String::new();
    for line in markdown.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if !fenced {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// The targets of the Markdown links `[text](target)` of a text.
fn link_targets(text: &str) -> Vec<String> {
    let mut targets = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("](") {
        let after = &rest[at + 2..];
        let Some(end) = after.find(')') else { break };
        targets.push(after[..end].trim().to_owned());
        rest = &after[end..];
    }
    targets
}

/// GitHub's anchor of a heading: lower case, punctuation dropped, spaces made hyphens.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-' || *c == '_')
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// The anchors of a Markdown file's headings (a repeated heading's second is `slug-1`).
fn anchors(markdown: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for line in prose(markdown).lines() {
        let Some(title) = line.strip_prefix('#') else {
            continue;
        };
        let base = slug(title.trim_start_matches('#'));
        let mut anchor = base.clone();
        let mut n = 0;
        while found.contains(&anchor) {
            n += 1;
            anchor = format!("{base}-{n}");
        }
        found.insert(anchor);
    }
    found
}

/// Repository paths a text names from the root: words starting `docs/` or `examples/`.
fn root_paths(text: &str) -> Vec<String> {
    text.split(|c: char| c.is_whitespace() || "`'\"(),;<>[]".contains(c))
        .filter(|word| word.starts_with("docs/") || word.starts_with("examples/"))
        .map(|word| word.split('#').next().unwrap_or(word))
        .map(|word| word.trim_end_matches(['.', ':']).to_owned())
        .filter(|word| !word.contains(['{', '*', '$']) && !word.ends_with("..."))
        .collect()
}

#[test]
fn no_relative_link_is_dead() {
    let root = root();
    let mut dead = Vec::new();
    let mut checked = 0;
    for doc in documents() {
        let text = std::fs::read_to_string(root.join(&doc))
            .unwrap_or_else(|e| panic!("{}: {e}", doc.display()));
        let is_markdown = doc.extension().is_some_and(|e| e == "md");
        if is_markdown {
            let dir = doc.parent().unwrap_or(Path::new(""));
            for target in link_targets(&prose(&text)) {
                if target.contains("://") || target.starts_with("mailto:") {
                    continue;
                }
                checked += 1;
                let (file, anchor) = match target.split_once('#') {
                    Some((file, anchor)) => (file, Some(anchor)),
                    None => (target.as_str(), None),
                };
                let linked = if file.is_empty() {
                    doc.clone()
                } else {
                    dir.join(file)
                };
                let Ok(linked_text) = std::fs::read_to_string(root.join(&linked)) else {
                    if !root.join(&linked).is_dir() {
                        dead.push(format!("{}: ({target}): no such file", doc.display()));
                    }
                    continue;
                };
                if let Some(anchor) = anchor {
                    if !anchors(&linked_text).contains(anchor) {
                        dead.push(format!(
                            "{}: ({target}): {} has no heading #{anchor}",
                            doc.display(),
                            linked.display()
                        ));
                    }
                }
            }
        }
        for path in root_paths(&text) {
            checked += 1;
            if !root.join(&path).exists() {
                dead.push(format!("{}: {path}: no such file", doc.display()));
            }
        }
    }
    assert!(checked > 20, "only {checked} links checked");
    assert!(dead.is_empty(), "dead links:\n{}", dead.join("\n"));
}

#[test]
fn slugs_are_githubs() {
    assert_eq!(slug(" Statuses and exit codes"), "statuses-and-exit-codes");
    assert_eq!(slug(" numaload run"), "numaload-run");
    assert_eq!(slug(" `[targets.NAME]`"), "targetsname");
    assert_eq!(
        slug(" Past capacity: waits as lower bounds, and the warm-up's backlog"),
        "past-capacity-waits-as-lower-bounds-and-the-warm-ups-backlog"
    );
    assert_eq!(
        link_targets("see [a](b.md#c) and [d](e/)"),
        ["b.md#c", "e/"]
    );
}

/// README.md is the page a newcomer reads first, task first: at most 200 lines, the reference
/// in docs/.
#[test]
fn the_readme_is_at_most_200_lines() {
    let readme = std::fs::read_to_string(root().join("README.md")).expect("README.md");
    let lines = readme.lines().count();
    assert!(
        (50..=200).contains(&lines),
        "README.md has {lines} lines: keep it at most 200, what is reference goes to docs/"
    );
}
