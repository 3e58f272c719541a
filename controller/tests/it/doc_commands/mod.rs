//! Every command README.md, `docs/*.md` and the examples' headers tell a reader to type, typed
//! as written into a shell, in the order the document gives them, and judged by what it did
//! (`numaload_test_support::doc_commands` reads them from the files; `setup.rs` says what each
//! document's reader has in front of them; `session.rs` is the shell).
//!
//! - A command ends with exit code 0, except `run` and `compare`, which end with a verdict of
//!   the exit-code table (not 2, bad input, and no `numaload: error:` line: 4 is also a store
//!   or an agent that failed), and a `run` shows every layout measured (none `failed` or
//!   `degraded`).
//! - A command that serves until Ctrl-C (`numaload agent`, `numaload target`, `numaload watch`
//!   without `--once` or `--count`) is left running until it is up (its address answers, or it
//!   printed), then gets SIGINT, and must end by it. One started with `&` is waited for the
//!   same way before the next line, and ended with SIGTERM after the document's last.
//! - After each document no process it started is left: every job and everything it started
//!   (replicas, their workers) is gone within a grace of SIGTERM.
//! - The commands that cannot run in one test on one machine are in [`ELSEWHERE`], each with
//!   why, and [`HOST_DEPENDENT`] holds the ones whose outcome depends on the host's size; both
//!   lists are checked to name commands that are written, and their length is bounded.
//!
//! Each document takes the machine to itself (`turns::alone`): its servers use the documented
//! fixed ports 7070 and 8080, and its runs, one after the other, keep both CPUs of a small
//! machine busy enough to starve the load tests beside it into `suspect` results.

mod session;
mod setup;

use std::time::Duration;

use numaload_test_support::doc_commands::{self, Document};

use session::{Ready, Session, Typed};

/// Commands that cannot run here: (document, command as written, why).
const ELSEWHERE: &[(&str, &str, &str)] = &[
    ("README.md", "make demo", RELEASE_BUILD),
    ("README.md", "make test", "the whole suite, of which this test is a part"),
    (
        "README.md",
        "numaload agent --listen 10.0.0.5:7000 --tls-dir tls --config sut.toml",
        FLEET,
    ),
    (
        "README.md",
        "numaload run plan.toml --agent 10.0.0.5:7000 --load-agent 10.0.0.21:7000 --load-agent 10.0.0.22:7000 --tls-dir tls",
        FLEET,
    ),
    (
        "README.md",
        "make deb && sudo apt install ./target/debian/numaload_*.deb",
        PACKAGE,
    ),
    ("README.md", "cargo build --release --locked -p numaload", RELEASE_BUILD),
    (
        "docs/ci.md",
        "numaload run plan.toml --out result.json --store postgres://ci@db.internal/numaload",
        "a team's PostgreSQL server; the store's tests run the same store on a throw-away cluster (history.rs)",
    ),
    (
        "docs/cli.md",
        "numaload run plan.toml --agent host1:7070 --agent host2:7070 --tls-dir tls/",
        FLEET,
    ),
    (
        "docs/cli.md",
        "numaload agent --config /etc/numaload/agent.toml --listen 0.0.0.0:7070 --tls-dir /etc/numaload/tls",
        "the installed package's files under /etc/numaload on an agent host: tests/package/run.sh starts the installed agent",
    ),
    (
        "docs/cli.md",
        "numaload completions bash | sudo tee /usr/share/bash-completion/completions/numaload >/dev/null",
        SYSTEM_FILES,
    ),
    (
        "docs/fleet.md",
        "numaload agent --listen 0.0.0.0:7070 --tls-dir /etc/numaload/tls --metrics-listen 0.0.0.0:9464",
        FLEET,
    ),
    (
        "docs/fleet.md",
        "numaload run plan.toml --agent 10.0.0.11:7070 --agent 10.0.0.12:7070 --tls-dir fleet-tls --out r.json",
        FLEET,
    ),
    (
        "docs/fleet.md",
        "numaload agent --listen 10.0.0.5:7070 --tls-dir /etc/numaload/tls --config /etc/numaload/agent.toml",
        FLEET,
    ),
    (
        "docs/fleet.md",
        "numaload run plan.toml --agent 10.0.0.5:7070 --load-agent 10.0.0.21:7070 --load-agent 10.0.0.22:7070 --tls-dir load-tls",
        FLEET,
    ),
    ("docs/installing.md", "make deb", PACKAGE),
    (
        "docs/installing.md",
        "sudo apt install ./target/debian/numaload_0.1.0-1_amd64.deb",
        PACKAGE,
    ),
    ("docs/installing.md", "make image", CONTAINER),
    (
        "docs/installing.md",
        "make image IMAGE=registry.example.com/numaload:0.1.0 && podman push registry.example.com/numaload:0.1.0",
        CONTAINER,
    ),
    ("docs/installing.md", "sudo scripts/setup-system.sh", SYSTEM_FILES),
    (
        "docs/installing.md",
        "cargo build --release --locked -p numaload",
        RELEASE_BUILD,
    ),
    (
        "docs/installing.md",
        "sudo install -m 0755 target/release/numaload /usr/local/bin/numaload",
        SYSTEM_FILES,
    ),
    (
        "docs/installing.md",
        "numaload completions bash | sudo tee /usr/share/bash-completion/completions/numaload >/dev/null",
        SYSTEM_FILES,
    ),
];

const FLEET: &str = "agents on other hosts (their addresses): tests/netns/run.sh runs a fleet and load agents in network namespaces";
const PACKAGE: &str =
    "builds and installs the Debian package system-wide: tests/package/run.sh does, as root";
const RELEASE_BUILD: &str = "a release build of the workspace (minutes; the running cargo holds the build directory): tests/package/run.sh builds it, and the demo's plan is examples/quickstart.toml, run here from its header";
const CONTAINER: &str = "a container engine and a registry; tests/package/run.sh checks the image's file system in a chroot";
const SYSTEM_FILES: &str =
    "installs into the system's directories with sudo: what a person does once, not a test";

/// Commands whose outcome depends on the host's size: (document, command, what is expected).
/// Each ends with exit code 0 on a host that has what its layouts ask for, and else with exit
/// code 2 and one line naming the layout and what this host lacks, as the example's header says.
const HOST_DEPENDENT: &[(&str, &str)] = &[
    (
        "examples/layouts.toml",
        "numaload plan examples/layouts.toml",
    ),
    (
        "examples/layouts.toml",
        "numaload run examples/layouts.toml",
    ),
    ("docs/cli.md", "numaload plan examples/layouts.toml"),
    ("docs/cli.md", "numaload plan examples/layouts.toml --json"),
];

/// How long one command may take (the Go build on a cold cache is the longest).
const LIMIT: Duration = Duration::from_secs(300);

fn documents() -> Vec<Document> {
    let root = doc_commands::repository_root(env!("CARGO_MANIFEST_DIR"));
    doc_commands::documents(&root)
}

/// A command without its trailing comment, as it is compared with the lists.
fn bare(command: &str) -> &str {
    command.split(" #").next().unwrap_or(command).trim()
}

fn elsewhere(document: &str, command: &str) -> Option<&'static str> {
    ELSEWHERE
        .iter()
        .find(|(d, c, _)| *d == document && *c == bare(command))
        .map(|(_, _, why)| *why)
}

fn host_dependent(document: &str, command: &str) -> bool {
    HOST_DEPENDENT
        .iter()
        .any(|(d, c)| *d == document && *c == bare(command))
}

/// The words of a command up to a comment, a pipe or `&`.
fn words(command: &str) -> Vec<&str> {
    bare(command)
        .split_whitespace()
        .take_while(|w| !matches!(*w, "|" | "&" | "&&" | ";"))
        .collect()
}

fn flag<'a>(words: &[&'a str], name: &str) -> Option<&'a str> {
    words
        .iter()
        .position(|w| *w == name)
        .and_then(|i| words.get(i + 1).copied())
}

/// When a command that serves is up; `None` for one that ends by itself.
fn serves(command: &str) -> Option<Ready> {
    let words = words(command);
    let listening = |default: &str| {
        let address = flag(&words, "--listen").unwrap_or(default);
        Ready::Listening(address.parse().expect("a listen address"))
    };
    match words.as_slice() {
        ["numaload", "agent", ..] => Some(listening("127.0.0.1:7070")),
        ["numaload", "target", ..] => Some(listening("127.0.0.1:8080")),
        ["numaload", "watch", rest @ ..]
            if !rest.iter().any(|w| *w == "--once" || *w == "--count") =>
        {
            Some(match flag(&words, "--metrics-listen") {
                Some(address) => Ready::Listening(address.parse().expect("an address")),
                None => Ready::Printed,
            })
        }
        _ => None,
    }
}

fn in_background(command: &str) -> bool {
    bare(command).ends_with('&') && !bare(command).ends_with("&&")
}

/// The status of each `── layout "NAME" [STATUS] ──` line of a report.
fn layout_statuses(output: &str) -> Vec<&str> {
    output
        .lines()
        .filter(|l| l.contains("── layout \""))
        .filter_map(|l| l.split_once("\" [")?.1.split_once(']'))
        .map(|(status, _)| status)
        .collect()
}

/// What is wrong with what `command` did, if anything.
fn judge(document: &str, command: &str, typed: &Typed) -> Option<String> {
    let words = words(command);
    let status = typed.status;
    if host_dependent(document, command) {
        let refused = status == 2
            && typed.output.contains(": layouts.")
            && typed.output.contains("this host");
        return (status != 0 && !refused).then(|| {
            format!("exit {status}: neither placed nor refused naming the layout and this host")
        });
    }
    let verdict = matches!(status, 0 | 1 | 3 | 4)
        && !typed
            .output
            .lines()
            .any(|l| l.starts_with("numaload: error:"));
    match words.as_slice() {
        ["numaload", "run", ..] => {
            if !verdict {
                return Some(format!("exit {status}: not a verdict"));
            }
            let statuses = layout_statuses(&typed.output);
            if statuses.is_empty() {
                return Some(format!("exit {status}: no layout measured"));
            }
            statuses
                .iter()
                .any(|s| s.eq_ignore_ascii_case("failed") || s.eq_ignore_ascii_case("degraded"))
                .then(|| format!("exit {status}: layouts {statuses:?}"))
        }
        ["numaload", "compare", ..] => (!verdict).then(|| format!("exit {status}: not a verdict")),
        _ => (status != 0).then(|| format!("exit {status}")),
    }
}

/// `text` with each `(written, typed)` of `substitutions` put in; which of them applied.
fn substitute(text: &str, substitutions: &[(String, String)], used: &mut [bool]) -> String {
    let mut out = text.to_owned();
    for (i, (written, typed)) in substitutions.iter().enumerate() {
        if out.contains(written.as_str()) {
            out = out.replace(written.as_str(), typed);
            used[i] = true;
        }
    }
    out
}

/// The last lines of an output, for a failure message.
fn tail(output: &str) -> String {
    let lines: Vec<&str> = output.lines().collect();
    lines[lines.len().saturating_sub(25)..].join("\n")
}

/// Types every command of the document at `path` and fails the test with every problem.
fn type_document(path: &str) {
    let document = documents()
        .into_iter()
        .find(|d| d.path == path)
        .unwrap_or_else(|| panic!("{path} holds no command any more: drop its test"));
    let mut place = setup::place(path);
    let mut session = Session::start(&place.dir, &place.env);
    for before in &place.before {
        let typed = session.run(&before.command, LIMIT);
        if let Some(problem) = judge(path, &before.command, &typed) {
            panic!(
                "{path}: setting up with `{}`: {problem}\n{}",
                before.command,
                tail(&typed.output)
            );
        }
        if let Some(ready) = &before.serves {
            let pid = session.await_background(&before.command, ready);
            if let Some(example) = before.pid_for {
                place
                    .substitutions
                    .push((example.to_owned(), pid.to_string()));
            }
        }
    }
    let mut used = vec![false; place.substitutions.len()];
    let mut problems = Vec::new();
    let mut ran = 0;
    for command in document.commands() {
        if elsewhere(path, &command.text).is_some() {
            continue;
        }
        let text = substitute(&command.text, &place.substitutions, &mut used);
        let typed = match serves(&text) {
            Some(ready) if !in_background(&text) => {
                let typed = session.serve_then_interrupt(&text, &ready, LIMIT);
                let ended = matches!(typed.status, 0 | 130);
                (!ended)
                    .then(|| format!("exit {} on Ctrl-C", typed.status))
                    .map(|problem| (problem, typed))
            }
            ready => {
                let typed = session.run(&text, LIMIT);
                if let (Some(ready), true) = (ready, typed.status == 0) {
                    session.await_background(&text, &ready);
                }
                judge(path, &text, &typed).map(|problem| (problem, typed))
            }
        };
        ran += 1;
        if let Some((problem, typed)) = typed {
            problems.push(format!(
                "{path}:{}: `{text}`: {problem}\n{}",
                command.line,
                tail(&typed.output)
            ));
        }
    }
    let left = session.end_jobs(Duration::from_secs(20));
    drop(session);
    for ((written, _), used) in place.substitutions.iter().zip(&used) {
        assert!(
            used,
            "{path}: no command writes {written:?} any more: drop its substitution"
        );
    }
    assert!(
        problems.is_empty(),
        "{path}: {} of {ran} command(s) did not do what the text says:\n\n{}",
        problems.len(),
        problems.join("\n\n")
    );
    assert!(
        left.is_empty(),
        "{path}: still running 20 s after SIGTERM to the jobs:\n{}",
        left.join("\n")
    );
}

/// One test per document that holds commands, and the list of them.
macro_rules! documents {
    ($($test:ident => $path:literal,)*) => {
        const TESTED: &[&str] = &[$($path),*];
        $(
            #[test]
            fn $test() {
                let _turn = crate::turns::alone();
                type_document($path);
            }
        )*
    };
}

documents! {
    readme => "README.md",
    docs_ci => "docs/ci.md",
    docs_cli => "docs/cli.md",
    docs_fleet => "docs/fleet.md",
    docs_installing => "docs/installing.md",
    docs_servers => "docs/servers.md",
    example_ffi_storm => "examples/ffi-storm.toml",
    example_layouts => "examples/layouts.toml",
    example_quickstart => "examples/quickstart.toml",
    example_replay => "examples/replay.toml",
    example_your_service => "examples/your-service.toml",
    example_go_server_agent => "examples/go-server/agent.toml",
    example_go_server_plan => "examples/go-server/plan.toml",
    example_nginx_agent => "examples/nginx/agent.toml",
    example_nginx_plan => "examples/nginx/plan.toml",
}

#[test]
fn every_document_with_commands_has_its_test_and_the_lists_name_written_commands() {
    let documents = documents();
    let paths: std::collections::BTreeSet<&str> =
        documents.iter().map(|d| d.path.as_str()).collect();
    let tested = TESTED.iter().copied().collect();
    assert_eq!(
        paths, tested,
        "the documents holding commands, each with a test above"
    );
    let written = |document: &str, command: &str| {
        documents
            .iter()
            .filter(|d| d.path == document)
            .flat_map(Document::commands)
            .any(|c| bare(&c.text) == command)
    };
    for (document, command, why) in ELSEWHERE {
        assert!(
            written(document, command),
            "ELSEWHERE: {document} no longer writes `{command}`"
        );
        assert!(
            !why.is_empty() && !why.contains('\n'),
            "one line of why: {command}"
        );
    }
    for (document, command) in HOST_DEPENDENT {
        assert!(
            written(document, command),
            "HOST_DEPENDENT: {document} no longer writes `{command}`"
        );
    }
    let all: usize = documents.iter().map(|d| d.commands().count()).sum();
    // A new command that cannot run here goes into ELSEWHERE with why, and this bound up with
    // it; better, it is written so that it runs.
    assert!(
        ELSEWHERE.len() <= 22 && ELSEWHERE.len() * 2 < all,
        "{} of {all} commands are not run",
        ELSEWHERE.len()
    );
    assert!(HOST_DEPENDENT.len() <= 4);
}

#[test]
fn serving_commands_and_verdicts_are_told_apart() {
    assert!(matches!(
        serves("numaload agent --config a.toml --insecure &"),
        Some(Ready::Listening(a)) if a.port() == 7070
    ));
    assert!(matches!(
        serves("numaload target --listen 127.0.0.1:9 &"),
        Some(Ready::Listening(a)) if a.port() == 9
    ));
    assert!(matches!(
        serves("numaload watch 1 # forever"),
        Some(Ready::Printed)
    ));
    assert!(serves("numaload watch 1 --once --json").is_none());
    assert!(serves("numaload run p.toml").is_none());
    assert!(in_background("numaload agent --insecure &   # note"));
    assert!(!in_background("make deb && sudo apt install x"));
    let report = "── layout \"a\" [ok] ───\nx\n── layout \"b/c=1\" [FAILED] ──";
    assert_eq!(layout_statuses(report), ["ok", "FAILED"]);
}
