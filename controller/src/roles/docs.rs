//! `numaload completions SHELL` and the hidden `numaload manpages DIR`: shell completions and
//! man pages generated from the clap definitions themselves, so they cannot drift from the CLI.
//! `make deb` writes both at package time; nothing generated is checked in.

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

/// Writes the man pages of `cli` and every visible subcommand into `args.dir`.
pub fn manpages(args: ManpagesArgs, cli: clap::Command) -> anyhow::Result<ExitCode> {
    std::fs::create_dir_all(&args.dir)
        .with_context(|| format!("{}: cannot create", args.dir.display()))?;
    clap_mangen::generate_to(cli, &args.dir)
        .with_context(|| format!("{}: cannot write the man pages", args.dir.display()))?;
    Ok(ExitCode::SUCCESS)
}
