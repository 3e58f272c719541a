//! Plan files: TOML in, a validated [`Plan`] and a `numaload.v1.RunPlan` out.
//!
//! A plan names the target to run, the load to apply and the layouts to compare. It is read in
//! two layers: `raw` mirrors the file (every key optional, unknown keys refused), then
//! `validate` turns it into a [`Plan`] with every default applied and nothing optional left,
//! which is what the rest of the controller uses. [`Plan::to_run_plan`] makes the wire message.
//! Every problem is one [`PlanError`] line naming the file, the key and the fix.
//!
//! **Every key, with its meaning, default and an example, is in `docs/plan.md`**, the one
//! reference of the format; `controller/tests/it/plan_reference.rs` parses its examples with
//! [`parse`] and fails when a key `raw` accepts has no row there. A key added to `raw` is a row
//! added there. The smallest plan:
//!
//! ```toml
//! name = "quickstart"
//!
//! [target]
//! name = "async"
//!
//! [load]
//! mode = "open"
//! rate = 5000
//! duration = "5s"
//!
//! [[layouts]]
//! name = "per-node"
//! replicas = "per-node"
//! ```
//!
//! Where each table is read: `search.rs` (`[search]`), `target.rs` and `validate/target.rs`
//! (`[target]` and a layout's own `target`), `knobs.rs` (`[target.knobs]`, `[layouts.knobs]`),
//! `request.rs` (the request or the `[[load.requests]]` mix, `expect_status`), `grpc/` (a
//! request's `grpc` call: `mod.rs` its keys and files, `codec.rs` its encoding), `shape.rs` and
//! `validate/shape.rs` (`arrivals`, `seed`, `[[load.stages]]`, `trace`, `speed`), `trace.rs`
//! (reading a trace file; the other files read besides the plan are `[load] ca` and a gRPC
//! call's descriptors and request), `layout.rs` and
//! `validate/layout.rs` (`[[layouts]]`), `sweep.rs` (`sweep.KEY`), `thresholds.rs` (`[thresholds]`), `load.rs` and
//! `validate/mod.rs` (the rest of `[load]`), `fleet.rs` (`[fleet]`), `protocol.rs` (`tls` and its keys, and
//! reading the files they name); `validated.rs` holds the
//! whole [`Plan`];
//! `overrides.rs` puts `--set KEY=VALUE` into the TOML before any of them reads it. A
//! validator reports a `Problem` at a key path (`problem.rs`) with the fix `validate/fixes.rs`
//! words for that key; `error.rs` makes it the one-line [`PlanError`], as it does toml's own
//! errors. No file names another that names it back, even by way of others: this one only
//! re-exports the types and calls the validators.
//!
//! Durations are humantime strings ("10s", "500ms", "1m 30s") in whole milliseconds, as the wire
//! carries them. What only a host can tell (whether the agent knows the target, whether there
//! are as many NUMA domains as replicas) is the agent's to check before it launches anything.

mod durations;
mod error;
mod fleet;
mod grpc;
mod knobs;
mod layout;
mod load;
mod overrides;
mod problem;
mod protocol;
mod raw;
mod request;
mod search;
mod shape;
mod sweep;
mod target;
mod thresholds;
mod trace;
mod validate;
mod validated;

use std::path::Path;

pub use error::{PlanError, PlanErrorKind};
pub use fleet::{AgentLoss, FleetPolicy};
pub use grpc::Grpc;
pub use layout::{Layout, Memory, Pin, Replicas, Smt, Threads};
pub use load::{Load, LoadMode, DEFAULT_MIN_DELIVERED};
pub use overrides::{blame, Set, SetFrom, SET_ENV};
pub use protocol::{Protocol, Tls};
pub use request::Request;
pub use search::Search;
pub use shape::{Arrivals, Stage, Trace, TraceSend};
pub use target::{Dispatch, Target, WorkMode};
pub use thresholds::{Metric, Op, Scope, Threshold, Thresholds, Unit};
pub use trace::MAX_TRACE_ENTRIES;
pub use validate::DEFAULT_SEND_PRECISION;
pub use validated::Plan;

/// Reads and validates the plan file at `path`; errors name the file as given.
pub fn load(path: &Path) -> Result<Plan, PlanError> {
    load_with(path, &[])
}

/// [`load`] with `sets` (`--set KEY=VALUE`, `overrides.rs`) put into the file's TOML first, so
/// that they meet the file's own checks; an error a `--set` caused names it.
pub fn load_with(path: &Path, sets: &[Set]) -> Result<Plan, PlanError> {
    let origin = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| PlanError::read(&origin, &e))?;
    let applied = overrides::apply(&text, &origin, sets)?;
    let mut plan = parse(applied.text(&text), &origin).map_err(|e| applied.blame(e))?;
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    read_trace(&mut plan, dir, &origin).map_err(|e| applied.blame(e))?;
    if let Some(tls) = &mut plan.load.tls {
        protocol::read_files(tls, dir).map_err(|p| PlanError::invalid(&origin, p))?;
    }
    let calls = plan
        .load
        .requests
        .iter_mut()
        .filter_map(|r| r.grpc.as_mut());
    grpc::read_files(calls, dir).map_err(|p| PlanError::invalid(&origin, p))?;
    Ok(plan)
}

/// Reads the `[load] trace` of a plan from [`parse`] (relative to `dir`), which sets its window
/// and rate; nothing to do without one. [`load`] does this beside the plan file.
pub fn read_trace(plan: &mut Plan, dir: &Path, origin: &str) -> Result<(), PlanError> {
    trace::read(&mut plan.load, dir).map_err(|problem| PlanError::invalid(origin, problem))
}

/// Parses and validates plan text; `origin` names it in errors (usually the file name). Reads
/// no file: the PEM of `[load] ca` and the files of gRPC calls are read by [`load_with`], and a `[load] trace` is left unread (its entries, window and rate unknown) until
/// [`read_trace`], which [`load`] and [`load_with`] call beside the plan file; a run refuses a
/// trace not read.
pub fn parse(text: &str, origin: &str) -> Result<Plan, PlanError> {
    let raw = error::deserialize(text, origin)?;
    validate::validate(raw).map_err(|problem| PlanError::invalid(origin, problem))
}
