//! The commands README.md, `docs/*.md` and the examples' headers tell a reader to type, read
//! from the files themselves: every line of a fenced ```` ```sh ```` block (a line ending in `\`
//! goes on with the next; blank lines and `# comments` are not commands), and in an example's
//! leading comment every line indented as a command, `#   ` then `numaload ...` or a script
//! (`#   tests/servers/go/build.sh ...`). Other languages (```` ```text ````, ```` ```toml ````)
//! are not commands: a synopsis with `[--flag]` placeholders is written as text.

use std::path::{Path, PathBuf};

/// A file that holds commands, by its path from the repository's root.
#[derive(Debug, Clone)]
pub struct Document {
    pub path: String,
    /// Its blocks in the order the file has them.
    pub blocks: Vec<Block>,
}

/// Commands written together: one ```` ```sh ```` block, or adjacent command lines of a header.
#[derive(Debug, Clone)]
pub struct Block {
    pub commands: Vec<Command>,
}

/// One command as written, and the line it starts on (1-based).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    pub line: usize,
    pub text: String,
}

impl Document {
    /// Every command of the document, in order.
    pub fn commands(&self) -> impl Iterator<Item = &Command> {
        self.blocks.iter().flat_map(|b| &b.commands)
    }
}

/// The repository's root, from a crate's `CARGO_MANIFEST_DIR`.
pub fn repository_root(manifest_dir: &str) -> PathBuf {
    let root = Path::new(manifest_dir).join("..");
    root.canonicalize().unwrap_or(root)
}

/// Every document under `root` that holds a command: README.md, `docs/*.md`, then the examples
/// (`examples/`, its folders too), each folder's files in name order.
pub fn documents(root: &Path) -> Vec<Document> {
    let mut files = vec![root.join("README.md")];
    files.extend(files_in(&root.join("docs"), "md"));
    files.extend(files_in(&root.join("examples"), "toml"));
    files
        .into_iter()
        .filter_map(|file| {
            let text = std::fs::read_to_string(&file)
                .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            let path = file
                .strip_prefix(root)
                .unwrap_or(&file)
                .display()
                .to_string();
            let blocks = if path.ends_with(".md") {
                markdown_blocks(&text)
            } else {
                header_blocks(&text)
            };
            (!blocks.is_empty()).then_some(Document { path, blocks })
        })
        .collect()
}

/// The files of `dir` and of its folders, recursively, ending in `.EXT`, sorted by path.
fn files_in(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            out.extend(files_in(&path, ext));
        } else if path.extension().is_some_and(|e| e == ext) {
            out.push(path);
        }
    }
    out.sort();
    out
}

/// The ```` ```sh ```` blocks of a Markdown text.
pub fn markdown_blocks(text: &str) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut current: Option<Vec<Command>> = None;
    let mut continued: Option<Command> = None;
    for (i, line) in text.lines().enumerate() {
        let fence = line.trim_start().starts_with("```");
        match (&mut current, fence) {
            (None, true) if line.trim() == "```sh" => current = Some(Vec::new()),
            (None, _) => {}
            (Some(_), true) => {
                if let Some(commands) = current.take().filter(|c| !c.is_empty()) {
                    blocks.push(Block { commands });
                }
            }
            (Some(commands), false) => {
                let command = match continued.take() {
                    Some(mut start) => {
                        start.text.push('\n');
                        start.text.push_str(line);
                        start
                    }
                    None if line.trim().is_empty() || line.trim_start().starts_with('#') => {
                        continue
                    }
                    None => Command {
                        line: i + 1,
                        text: line.to_owned(),
                    },
                };
                if line.trim_end().ends_with('\\') {
                    continued = Some(command);
                } else {
                    commands.push(command);
                }
            }
        }
    }
    blocks
}

/// The fenced blocks of a Markdown `text` in `language` (```` ```toml ````), in order, each
/// its lines.
pub fn fenced(text: &str, language: &str) -> Vec<String> {
    let opening = format!("```{language}");
    let mut out = Vec::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        match &mut current {
            None if line.trim() == opening => current = Some(String::new()),
            Some(_) if line.trim() == "```" => out.extend(current.take()),
            Some(block) => {
                block.push_str(line);
                block.push('\n');
            }
            None => {}
        }
    }
    out
}

/// The command lines of a TOML file's leading comment (`#   numaload ...`), adjacent lines one
/// block.
pub fn header_blocks(text: &str) -> Vec<Block> {
    let mut blocks: Vec<Block> = Vec::new();
    let mut previous = None;
    for (i, line) in text.lines().enumerate() {
        let Some(comment) = line.strip_prefix('#') else {
            break;
        };
        let Some(command) = comment.strip_prefix("   ").filter(|c| is_command(c)) else {
            continue;
        };
        let command = Command {
            line: i + 1,
            text: command.to_owned(),
        };
        match blocks.last_mut() {
            Some(block) if previous == Some(i) => block.commands.push(command),
            _ => blocks.push(Block {
                commands: vec![command],
            }),
        }
        previous = Some(i + 1);
    }
    blocks
}

/// A header line a reader types: `numaload ...`, or a script run by its path.
fn is_command(text: &str) -> bool {
    let first = text.split_whitespace().next().unwrap_or_default();
    !text.starts_with(' ') && (first == "numaload" || first.ends_with(".sh"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sh_blocks_give_their_commands_and_nothing_else() {
        let text =
            "intro\n```sh\n# a comment\nnumaload run p.toml   # why\n\nmake x \\\n  y\n```\n\
                    ```text\nnumaload plan [--json]\n```\n```toml\nname = \"x\"\n```\n";
        let blocks = markdown_blocks(text);
        assert_eq!(blocks.len(), 1);
        assert_eq!(
            blocks[0].commands,
            [
                Command {
                    line: 4,
                    text: "numaload run p.toml   # why".into()
                },
                Command {
                    line: 6,
                    text: "make x \\\n  y".into()
                }
            ]
        );
    }

    #[test]
    fn a_header_gives_its_indented_commands_in_blocks_of_adjacent_lines() {
        let text = "# An example.\n#\n#   tests/servers/go/build.sh /tmp/x\n#\n\
                    #   numaload agent --insecure &\n#   numaload run p.toml --agent 127.0.0.1:7070\n\
                    #\n#   [targets.mine]\n#   program = \"/x\"\n\nname = \"p\"\n#   numaload not-header\n";
        let blocks = header_blocks(text);
        let texts: Vec<Vec<&str>> = blocks
            .iter()
            .map(|b| b.commands.iter().map(|c| c.text.as_str()).collect())
            .collect();
        assert_eq!(
            texts,
            [
                vec!["tests/servers/go/build.sh /tmp/x"],
                vec![
                    "numaload agent --insecure &",
                    "numaload run p.toml --agent 127.0.0.1:7070"
                ]
            ]
        );
        assert_eq!(blocks[1].commands[1].line, 6);
    }
}
