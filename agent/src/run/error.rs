//! Why a run stops short: [`PrepareError`] when a plan is refused before anything starts (with
//! [`TargetSpecError`] for its target and [`LoadSpecError`] for its load section). Every message
//! is one line naming the plan field at fault and what to do; the service turns a refusal into a
//! gRPC status.

use std::time::Duration;

use crate::config::UnknownTarget;
use crate::loadgen::LoadError;
use crate::placement::PlacementError;
use crate::target::knobs::KnobError;

/// A plan this agent refuses: nothing of it is launched.
#[derive(Debug, thiserror::Error)]
pub enum PrepareError {
    #[error(
        "the plan is {size} bytes, over this agent's limit of {limit} (limits.max_plan_bytes)"
    )]
    PlanTooLarge { size: usize, limit: usize },
    #[error("the plan is not a valid RunPlan: {0}")]
    NotARunPlan(prost::DecodeError),
    #[error("[target]: missing from the plan")]
    MissingTarget,
    #[error("[load]: missing from the plan")]
    MissingLoad,
    #[error("[[layouts]]: the plan has no layout; add at least one")]
    NoLayouts,
    #[error(transparent)]
    Load(#[from] LoadSpecError),
    #[error(
        "[[layouts]] count = {count} exceeds this agent's limit of {limit} (its config's \
         limits.max_layouts); ask for less"
    )]
    TooManyLayouts { count: usize, limit: usize },
    #[error(
        "[load] warmup + duration = {time:?} exceeds this agent's limit of {limit:?} (its \
         config's limits.max_layout_time); ask for less"
    )]
    LayoutTooLong { time: Duration, limit: Duration },
    #[error(
        "[load] connections = {connections} exceeds this agent's limit of {limit} (its config's \
         limits.max_connections); ask for less"
    )]
    TooManyConnections { connections: u32, limit: u32 },
    /// The target a layout runs (the plan's, or the layout's own) is refused.
    #[error("layouts[\"{layout}\"] {source}")]
    Target {
        layout: String,
        source: Box<TargetSpecError>,
    },
    /// A replica count over the limit, refused before placement builds one entry per replica.
    #[error(
        "layouts[\"{layout}\"] replicas = {requested}: exceeds this agent's limit of {limit} (its \
         config's limits.max_replicas)"
    )]
    ReplicasOverLimit {
        layout: String,
        requested: u32,
        limit: usize,
    },
    /// A per-unit layout that places more replicas than the limit on this host.
    #[error(
        "layouts[\"{layout}\"]: {placed} replicas exceed this agent's limit of {limit} (its \
         config's limits.max_replicas)"
    )]
    PlacedOverLimit {
        layout: String,
        placed: usize,
        limit: usize,
    },
    #[error(transparent)]
    Placement(#[from] PlacementError),
}

/// A `[target]` section this agent refuses (the caller adds which layout).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetSpecError {
    #[error(transparent)]
    Unknown(#[from] UnknownTarget),
    #[error(
        "[target] work_us = {work_us} exceeds this agent's limit of {limit} (its config's \
         limits.max_work_us); ask for less"
    )]
    WorkUsOverLimit { work_us: u64, limit: u64 },
    #[error("[target] work_mode = {0}: unknown; use \"spin\" or \"sleep\"")]
    UnknownWorkMode(i32),
    #[error("[target] dispatch = {0}: unknown")]
    UnknownDispatch(i32),
    /// A typed field (`work_us`, `dispatch`, ...) also set under `knobs`.
    #[error("[target] {knob}: given both as a field and in knobs; keep one")]
    GivenTwice { knob: &'static str },
    /// A knob value the target does not declare or does not take.
    #[error("[target] name = \"{target}\" {source}")]
    Knob { target: String, source: KnobError },
}

/// A `[load]` section this agent refuses.
#[derive(Debug, thiserror::Error)]
pub enum LoadSpecError {
    #[error("[load] mode: unspecified; use \"open\" or \"closed\"")]
    ModeUnspecified,
    #[error("[load] rate = {0}: must be a positive number of requests per second")]
    Rate(f64),
    #[error("[load] connections = 0: use at least 1")]
    NoConnections,
    #[error("[load] duration: must be longer than zero, e.g. \"10s\"")]
    ZeroDuration,
    #[error("[load] send_precision = {given:?}: at most {max:?} (a later send counts as late)")]
    SendPrecision { given: Duration, max: Duration },
    #[error("[[load.requests]]: {count} requests, at most {max}")]
    TooManyRequests { count: usize, max: usize },
    /// One request of the mix, numbered from 1 as the plan lists them.
    #[error("[[load.requests]] {number} (name {name:?}) {fault}")]
    Request {
        number: usize,
        name: String,
        fault: RequestFault,
    },
    #[error("[[load.requests]]: every weight is 0; give at least one a weight")]
    NoWeight,
    /// The generator's own rules (a `Transfer-Encoding` or a wrong `Content-Length` by hand).
    #[error("[[load.requests]] {0}")]
    Generator(LoadError),
    #[error("[load] expect_status: {0} is not an HTTP status (100-599)")]
    ExpectStatus(u32),
}

/// What is wrong with one request of the mix (the caller adds which).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestFault {
    #[error("method = {0:?}: not an HTTP method")]
    Method(String),
    #[error("path = {0:?}: give an origin-form path such as \"/api?q=1\" (no spaces)")]
    Path(String),
    /// A header name that is not a token, or a value that is not printable text (a CR or LF
    /// would smuggle a request of the plan's own into the stream).
    #[error("headers.{0:?}: a header name is a token and its value printable text")]
    Header(String),
    #[error("body: {size} bytes, at most {max}")]
    BodyTooLarge { size: usize, max: usize },
}
