//! `numaload completions SHELL` and the hidden `numaload manpages DIR`: shell completions and
//! man pages generated from the clap definitions themselves, so they cannot drift from the CLI.
//! `make deb` writes both at package time; nothing generated is checked in. Every man page ends
//! with a SEE ALSO section pointing to the reference pages and examples the package installs
//! under [`DOC_DIR`] (`docs/` and `examples/` of the source tree).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap_complete::Shell;

#[derive(clap::Args, Debug)]
pub struct CompletionsArgs {
    /// The shell to complete for; the script goes to stdout (e.g. `numaload completions bash >
    /// /usr/share/bash-completion/completions/numaload`).
    #[arg(value_enum)]
    pub shell: Shell,
}

#[derive(clap::Args, Debug)]
pub struct ManpagesArgs {
    /// Directory to write `numaload.1` and one `numaload-SUBCOMMAND.1` per subcommand into.
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
}

/// Writes `shell`'s completion script for `cli` to stdout.
pub fn completions(args: CompletionsArgs, mut cli: clap::Command) -> anyhow::Result<ExitCode> {
    let name = cli.get_name().to_owned();
    clap_complete::generate(args.shell, &mut cli, name, &mut std::io::stdout());
    Ok(ExitCode::SUCCESS)
}

/// Where the Debian package installs `README.md`, `docs/` and `examples/`
/// (`[package.metadata.deb]` in controller/Cargo.toml).
pub const DOC_DIR: &str = "/usr/share/doc/numaload";

/// The SEE ALSO section every man page ends with, in roff.
fn see_also() -> String {
    let doc = DOC_DIR;
    format!(
        r#".SH "SEE ALSO"
The reference, one page per subject, in Markdown:
.TP
.I {doc}/docs/cli.md
every subcommand and flag, the live display, the exit codes
.TP
.I {doc}/docs/plan.md
every key of a plan file, with its default and an example
.TP
.I {doc}/docs/agent\-config.md
every key of the agent's configuration and the placeholders of a target
.TP
.I {doc}/docs/report.md
every line of the report, the other formats, the result file
.TP
.I {doc}/docs/
also how\-it\-measures.md, servers.md, ci.md, fleet.md, installing.md
.TP
.I {doc}/examples/
plans to start from, and the go\-server and nginx pairs (agent.toml and plan.toml)
.PP
.I {doc}/README.md
starts with your own service in three files. In numaload's source tree the same pages are
.I docs/
and
.IR examples/ .
"#
    )
}

/// Writes the man pages of `cli` and every visible subcommand into `args.dir`, each ending with
/// [`see_also`].
pub fn manpages(args: ManpagesArgs, cli: clap::Command) -> anyhow::Result<ExitCode> {
    let dir = &args.dir;
    std::fs::create_dir_all(dir).with_context(|| format!("{}: cannot create", dir.display()))?;
    clap_mangen::generate_to(cli, dir)
        .with_context(|| format!("{}: cannot write the man pages", dir.display()))?;
    let section = see_also();
    for entry in
        std::fs::read_dir(dir).with_context(|| format!("{}: cannot list", dir.display()))?
    {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "1") {
            let mut page = std::fs::OpenOptions::new()
                .append(true)
                .open(&path)
                .with_context(|| format!("{}: cannot open", path.display()))?;
            std::io::Write::write_all(&mut page, section.as_bytes())
                .with_context(|| format!("{}: cannot write", path.display()))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
