//! `numaload compare`: judge a new result against a baseline.

use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct CompareArgs {
    pub base: PathBuf,
    pub new: PathBuf,
}

pub fn main(_args: CompareArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`numaload compare` is not built yet")
}
