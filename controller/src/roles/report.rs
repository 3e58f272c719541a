//! `numaload report`: render a result file.

use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct ReportArgs {
    pub result: PathBuf,
}

pub fn main(args: ReportArgs) -> anyhow::Result<ExitCode> {
    let text = std::fs::read_to_string(&args.result).map_err(|e| {
        super::BadInput(format!(
            "cannot read result file {}: {e}",
            args.result.display()
        ))
    })?;
    let result: numaload::result::RunResult = serde_json::from_str(&text).map_err(|e| {
        super::BadInput(format!(
            "{} is not a numaload result: {e}",
            args.result.display()
        ))
    })?;
    print!("{}", numaload::report::text::render(&result));
    Ok(ExitCode::SUCCESS)
}
