//! `numaload plan`: each layout's concrete placement, without launching anything.

use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct PlanArgs {
    pub plan: PathBuf,
    /// Place on this hwloc XML topology instead of this host's.
    #[arg(long, value_name = "FILE")]
    pub topology: Option<PathBuf>,
    #[arg(long)]
    pub json: bool,
}

pub fn main(_args: PlanArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`numaload plan` is not built yet")
}
