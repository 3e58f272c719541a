//! `numaload report`: render a result file as text, Markdown, HTML, JSON or CSV.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use numaload::report::{self, Format};
use numaload::result::RunResult;

#[derive(clap::Args, Debug)]
pub struct ReportArgs {
    /// A result file written by `numaload run --out`.
    pub result: PathBuf,
    /// text, markdown (md), html, json (the result normalised) or csv (one row per layout).
    #[arg(long, default_value = "text")]
    pub format: String,
    /// Write the report here instead of standard output.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// With --format csv: one row per layout, trial and agent (each agent's own figures and
    /// delivery) instead of one per layout.
    #[arg(long)]
    pub per_agent: bool,
}

pub fn main(args: ReportArgs) -> anyhow::Result<ExitCode> {
    let format = Format::from_name(&args.format).ok_or_else(|| {
        let names: Vec<&str> = Format::ALL.iter().map(|(n, _)| *n).collect();
        super::BadInput(format!(
            "--format {}: must be one of {}",
            args.format,
            names.join(", ")
        ))
    })?;
    if args.per_agent && format != Format::Csv {
        return Err(super::BadInput(format!(
            "--per-agent: only with --format csv (the result itself, --format json, has every \
             agent's figures); got --format {}",
            args.format
        ))
        .into());
    }
    let result = read_result(&args.result)?;
    let rendered = if args.per_agent {
        report::csv::render_agents(&result)
    } else {
        report::render(&result, format)
    };
    match &args.out {
        Some(path) => std::fs::write(path, rendered)
            .with_context(|| format!("writing the report to {}", path.display()))?,
        None => super::stdout::print(&rendered)?,
    }
    Ok(ExitCode::SUCCESS)
}

/// Reads a result file; anything wrong with it is the user's input (exit code 2).
pub fn read_result(path: &Path) -> anyhow::Result<RunResult> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| super::BadInput(format!("cannot read result file {}: {e}", path.display())))?;
    let result: RunResult = serde_json::from_str(&text).map_err(|e| {
        super::BadInput(format!("{} is not a numaload result: {e}", path.display()))
    })?;
    if !(1..=numaload::result::SCHEMA_VERSION).contains(&result.schema_version) {
        return Err(super::BadInput(format!(
            "{} has result schema version {}; this numaload reads versions 1 to {} (a newer \
             numaload wrote it: use that one)",
            path.display(),
            result.schema_version,
            numaload::result::SCHEMA_VERSION
        ))
        .into());
    }
    Ok(result)
}
