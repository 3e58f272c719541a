//! `docs/cli.md`, the one reference of the command line, against the binary's own clap
//! definition ([`crate::Cli`]): every visible subcommand has a `## numaload SUB` section, every
//! visible argument of it a row (`--flag VALUE` or a positional's `NAME`), and no row names an
//! argument the subcommand does not have. Its exit-code table is the one `numaload --help`
//! prints (`numaload::compare::exit::TABLE`), code for code, in the same order. And every
//! `numaload ...` command README.md, docs/ and the examples' headers tell a reader to type is
//! one this definition accepts (its flags exist, its values parse).

use std::collections::BTreeSet;
use std::path::Path;

use clap::CommandFactory as _;
use numaload_test_support::doc_commands;

fn reference() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/cli.md");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The lines of the `## ` section whose title is exactly `title`, up to the next `## `.
fn section<'a>(markdown: &'a str, title: &str) -> Option<Vec<&'a str>> {
    let mut lines = markdown.lines();
    lines
        .by_ref()
        .find(|l| l.strip_prefix("## ") == Some(title))?;
    Some(lines.take_while(|l| !l.starts_with("## ")).collect())
}

/// The first word of each table row's first cell: `--agent` of `` | `--agent ADDR` | ``.
fn rows(lines: &[&str]) -> BTreeSet<String> {
    lines
        .iter()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|rest| rest.split_once('`').map(|(cell, _)| cell))
        .filter_map(|cell| cell.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}

/// How the reference names an argument: `--long`, else its value name (`PLAN`).
fn documented_name(arg: &clap::Arg) -> String {
    match arg.get_long() {
        Some(long) => format!("--{long}"),
        None => arg
            .get_value_names()
            .and_then(|names| names.first())
            .map_or_else(|| arg.get_id().as_str().to_uppercase(), ToString::to_string),
    }
}

#[test]
fn every_subcommand_and_argument_has_a_row_and_no_other() {
    let reference = reference();
    let cli = crate::Cli::command();
    let mut problems = Vec::new();
    let mut seen = 0;
    for sub in cli.get_subcommands().filter(|s| !s.is_hide_set()) {
        let title = format!("numaload {}", sub.get_name());
        let Some(lines) = section(&reference, &title) else {
            problems.push(format!("no section \"## {title}\""));
            continue;
        };
        seen += 1;
        let documented = rows(&lines);
        let defined: BTreeSet<String> = sub
            .get_arguments()
            .filter(|a| !a.is_hide_set())
            .map(documented_name)
            .filter(|name| name != "--help" && name != "--version")
            .collect();
        for missing in defined.difference(&documented) {
            problems.push(format!("{title}: no row for {missing}"));
        }
        for stale in documented.difference(&defined) {
            problems.push(format!(
                "{title}: a row for {stale}, which it does not take"
            ));
        }
    }
    assert!(seen >= 10, "only {seen} subcommands found");
    assert!(
        problems.is_empty(),
        "docs/cli.md against the clap definition:\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_exit_code_table_is_the_one_help_prints() {
    let table: Vec<String> = numaload::compare::exit::TABLE
        .lines()
        .filter_map(|l| {
            let l = l.strip_prefix("  ")?;
            let (code, _) = l.split_once("  ")?;
            (code.len() == 1 && code.chars().all(|c| c.is_ascii_digit())).then(|| code.to_owned())
        })
        .collect();
    assert_eq!(table, ["2", "4", "1", "3", "0"], "TABLE as parsed");
    let reference = reference();
    let lines = section(&reference, "Exit codes").expect("docs/cli.md has \"## Exit codes\"");
    let documented: Vec<String> = lines
        .iter()
        .filter_map(|l| l.strip_prefix("| "))
        .filter_map(|rest| {
            rest.split_once(" |")
                .map(|(code, _)| code.trim().to_owned())
        })
        .filter(|code| code.len() == 1 && code.chars().all(|c| c.is_ascii_digit()))
        .collect();
    assert_eq!(documented, table, "docs/cli.md's exit codes, in order");
}

/// The `numaload ...` commands a reader is told to type (README.md, docs/, the examples'
/// headers), each with where it is written.
fn written_commands() -> Vec<(String, String)> {
    let root = doc_commands::repository_root(env!("CARGO_MANIFEST_DIR"));
    doc_commands::documents(&root)
        .iter()
        .flat_map(|doc| {
            doc.commands()
                .filter(|c| c.text.starts_with("numaload "))
                .map(|c| {
                    (
                        format!("{}:{}", doc.path, c.line),
                        c.text.replace("\\\n", " "),
                    )
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

/// A command line as the shell would split it, up to a comment, a pipe, a redirection or `&`;
/// a `$(...)` or `$VAR` expansion stands for a plain value.
fn shell_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut chars = line.chars().peekable();
    let mut depth = 0;
    while let Some(c) = chars.next() {
        match c {
            '$' if depth == 0 => {
                word.push('1');
                match chars.peek() {
                    Some('(') => {}
                    _ => {
                        chars.next();
                    }
                }
            }
            '(' if word.ends_with('1') || depth > 0 => depth += 1,
            ')' if depth > 0 => depth -= 1,
            _ if depth > 0 => {}
            ' ' | '\t' => {
                if !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
            }
            '#' | '|' | '>' | '&' | ';' if word.is_empty() => break,
            _ => word.push(c),
        }
    }
    if !word.is_empty() {
        words.push(word);
    }
    words
}

#[test]
fn every_command_written_in_the_docs_parses() {
    let commands = written_commands();
    assert!(commands.len() > 30, "found {} commands", commands.len());
    let mut refused = Vec::new();
    for (at, line) in &commands {
        let words = shell_words(line);
        if let Err(e) = <crate::Cli as clap::Parser>::try_parse_from(&words) {
            let first = e.to_string().lines().next().unwrap_or_default().to_owned();
            refused.push(format!("{at}: {line}\n    {first}"));
        }
    }
    assert!(
        refused.is_empty(),
        "commands written in the docs that numaload refuses:\n{}",
        refused.join("\n")
    );
}

#[test]
fn shell_words_split_as_the_shell_does() {
    assert_eq!(
        shell_words("numaload run p.toml --label commit=$(git rev-parse HEAD) --out r.json # x"),
        ["numaload", "run", "p.toml", "--label", "commit=1", "--out", "r.json"]
    );
    assert_eq!(
        shell_words("numaload watch $! --once | jq ."),
        ["numaload", "watch", "1", "--once"]
    );
    assert_eq!(
        shell_words("numaload agent --insecure &"),
        ["numaload", "agent", "--insecure"]
    );
}
