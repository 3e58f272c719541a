//! Why a run stops short: [`PrepareError`] when a plan is refused before anything starts (with
//! [`TargetSpecError`] for its target and [`LoadSpecError`] for its load section), and
//! [`LayoutError`] when a layout fails while it runs. Every message is one line naming the plan
//! field at fault (or what went wrong) and what to do; the service turns a refusal into a gRPC
//! status, and `run::execute` a layout's failure into its `LayoutFailed` event.

use std::time::Duration;

use numaload_proto::histogram::HistogramError;
use numaload_proto::keys;

use crate::config::UnknownTarget;
use crate::loadgen::{LoadError, RequestTemplate};
use crate::placement::PlacementError;
use crate::replica::ReplicaError;
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
    #[error("target: missing from the plan")]
    MissingTarget,
    #[error("load: missing from the plan")]
    MissingLoad,
    #[error(
        "load.interface = {name:?}: this host has no such network interface; use one of: {}",
        known.join(", ")
    )]
    UnknownInterface { name: String, known: Vec<String> },
    #[error(
        "the plan gives this agent role {0}, which this agent does not know; upgrade the agent \
         to the controller's version"
    )]
    UnknownRole(i32),
    #[error("layouts: the plan has no layout; add at least one")]
    NoLayouts,
    #[error(transparent)]
    Load(#[from] LoadSpecError),
    #[error(
        "layouts: {count} layouts exceed this agent's limit of {limit} (its config's \
         limits.max_layouts); ask for less"
    )]
    TooManyLayouts { count: usize, limit: usize },
    #[error(
        "load.warmup + load.duration = {time:?} exceeds this agent's limit of {limit:?} (its \
         config's limits.max_layout_time); ask for less"
    )]
    LayoutTooLong { time: Duration, limit: Duration },
    #[error(
        "load.connections = {connections} exceeds this agent's limit of {limit} (its config's \
         limits.max_connections); ask for less"
    )]
    TooManyConnections { connections: u32, limit: u32 },
    /// The target a layout runs is refused: `table` is where the plan gives it, `target` or,
    /// for a layout with its own, `layouts.NAME.target`.
    #[error("{table}.{source}")]
    Target {
        table: String,
        source: Box<TargetSpecError>,
    },
    /// A replica count over the limit, refused before placement builds one entry per replica.
    #[error(
        "{}.replicas = {requested}: exceeds this agent's limit of {limit} (its config's \
         limits.max_replicas)",
        keys::layout(layout)
    )]
    ReplicasOverLimit {
        layout: String,
        requested: u32,
        limit: usize,
    },
    /// A per-unit layout that places more replicas than the limit on this host.
    #[error(
        "{}: {placed} replicas exceed this agent's limit of {limit} (its config's \
         limits.max_replicas)",
        keys::layout(layout)
    )]
    PlacedOverLimit {
        layout: String,
        placed: usize,
        limit: usize,
    },
    #[error(transparent)]
    Placement(#[from] PlacementError),
}

/// A `target` table this agent refuses, its keys named within the table (the caller adds
/// which table: `target.` or `layouts.NAME.target.`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetSpecError {
    #[error(transparent)]
    Unknown(#[from] UnknownTarget),
    #[error(
        "work_us = {work_us} exceeds this agent's limit of {limit} (its config's \
         limits.max_work_us); ask for less"
    )]
    WorkUsOverLimit { work_us: u64, limit: u64 },
    #[error("work_mode = {0}: unknown; use \"spin\" or \"sleep\"")]
    UnknownWorkMode(i32),
    #[error("dispatch = {0}: unknown")]
    UnknownDispatch(i32),
    /// A typed field (`work_us`, `dispatch`, ...) also set under `knobs`.
    #[error("{knob}: given both as a field and in knobs; keep one")]
    GivenTwice { knob: &'static str },
    /// A knob value the target does not declare or does not take.
    #[error("{0}")]
    Knob(#[source] KnobError),
}

/// A `load` table this agent refuses.
#[derive(Debug, thiserror::Error)]
pub enum LoadSpecError {
    /// A TLS setting the generator cannot use (the text names the key within the load table).
    #[error("load.{0}")]
    Tls(String),
    #[error(
        "load.protocol: {0} is not a protocol this agent knows (h1, h2, h2c); upgrade the agent"
    )]
    Protocol(i32),
    #[error("load.mode: unspecified; use \"open\" or \"closed\"")]
    ModeUnspecified,
    #[error("load.rate = {0}: must be a positive number of requests per second")]
    Rate(f64),
    #[error("load.connections = 0: use at least 1")]
    NoConnections,
    #[error("load.duration: must be longer than zero, e.g. \"10s\"")]
    ZeroDuration,
    #[error("load.send_precision = {given:?}: at most {max:?} (a later send counts as late)")]
    SendPrecision { given: Duration, max: Duration },
    #[error("load.requests: {count} requests, at most {max}")]
    TooManyRequests { count: usize, max: usize },
    /// One request of the mix, by its name (or its index, from 0, when it has none).
    #[error("load.requests.{}.{fault}", request_key(*index, name))]
    Request {
        index: usize,
        name: String,
        fault: RequestFault,
    },
    #[error("load.requests: every weight is 0; give at least one a weight")]
    NoWeight,
    /// The generator's own rules (a `Transfer-Encoding` or a wrong `Content-Length` by hand).
    #[error("load.{0}")]
    Generator(LoadError),
    #[error("load.expect_status: {0} is not an HTTP status (100-599)")]
    ExpectStatus(u32),
    #[error("load.arrivals = {0}: unknown; use \"uniform\" or \"poisson\"")]
    UnknownArrivals(i32),
    #[error(
        "load.mode = \"closed\": stages, Poisson arrivals and a trace are for mode = \"open\""
    )]
    ShapeInClosedLoop,
    /// A stage (by its index from 0, as `--set load.stages.0.rate=...` takes it) whose rates
    /// are no numbers of requests.
    #[error(
        "load.stages.{index}: its rates must be finite numbers of requests per second, 0 or more"
    )]
    StageRates { index: usize },
    #[error("load.stages.{index}.duration: must be longer than zero")]
    StageDuration { index: usize },
    #[error(
        "load.stages: they last {stages:?} in all, the measured window {duration:?}; the \
         window is the stages"
    )]
    StagesDuration {
        stages: Duration,
        duration: Duration,
    },
    #[error("load.trace: {0}")]
    Trace(String),
}

impl LoadSpecError {
    /// The generator's refusal of `requests`, a request's field named by the request.
    pub(super) fn generator(error: LoadError, requests: &[RequestTemplate]) -> Self {
        match error {
            LoadError::InvalidRequest {
                index,
                field,
                reason,
            } => LoadSpecError::Request {
                index,
                name: requests
                    .get(index)
                    .map(|r| r.name.clone())
                    .unwrap_or_default(),
                fault: RequestFault::Generator { field, reason },
            },
            other => LoadSpecError::Generator(other),
        }
    }
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
    #[error("headers.{}: a header name is a token and its value printable text", keys::part(.0))]
    Header(String),
    #[error("body: {size} bytes, at most {max}")]
    BodyTooLarge { size: usize, max: usize },
    #[error("grpc.expect_status: {0} is not a gRPC status code (0 to 16)")]
    GrpcStatus(u32),
    /// The load generator's own rule for a field of the request.
    #[error("{field}: {reason}")]
    Generator { field: &'static str, reason: String },
}

/// A request of the mix as `--set` names it: by its name, else by its index.
fn request_key(index: usize, name: &str) -> String {
    if name.is_empty() {
        index.to_string()
    } else {
        keys::part(name)
    }
}

/// Why a layout failed while it ran; its replicas are stopped all the same.
#[derive(Debug, thiserror::Error)]
pub enum LayoutError {
    #[error("launching target \"{target}\": {source}")]
    Launch {
        target: String,
        source: Box<ReplicaError>,
    },
    /// Threads or memory of a replica found where the layout did not put them.
    #[error("placement does not match the plan {when}: {}", replicas.join("; "))]
    Misplaced {
        /// When it was read back: "when the replicas were ready" or "when the measurement ended".
        when: &'static str,
        /// One line per misplaced replica, naming pid, tid and what it ran on.
        replicas: Vec<String>,
    },
    #[error("no start signal from the controller within {waited:?} (or the run was cancelled)")]
    NoStart { waited: Duration },
    #[error("load generator crashed: {0}")]
    GeneratorCrashed(tokio::task::JoinError),
    #[error("load generator: {0}")]
    Generator(LoadError),
    /// Replicas that exited while measured, each with its exit and last output.
    #[error("during the measurement: {}", deaths.join("; "))]
    Died { deaths: Vec<String> },
    #[error(transparent)]
    Histogram(#[from] HistogramError),
    /// A load agent's start named no replica (every agent under test failed the layout).
    #[error("no replica to drive: no agent under test placed this layout")]
    NoTargets,
    /// A load agent's start named a replica address it cannot use.
    #[error("replica {replica} of agent {agent}: address {address:?} is not host:port")]
    BadTarget {
        agent: String,
        replica: u32,
        address: String,
    },
    /// A load agent cannot connect to a replica before the load begins.
    #[error(
        "this load agent cannot connect to replica {replica} of agent {agent} at {address}: \
         {source}; check that the agent's replica_address is reachable from this host and the \
         port is open"
    )]
    Unreachable {
        agent: String,
        replica: u32,
        address: std::net::SocketAddr,
        source: std::io::Error,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The texts of the run-time failures built here (launch and placement failures come from
    /// `replica` and `placed`, and are checked through a real run in `tests/it/targets.rs`).
    #[tokio::test]
    async fn layout_failures_read_as_one_line() {
        let crashed = tokio::spawn(std::future::pending::<()>());
        crashed.abort();
        let join = crashed.await.expect_err("aborted");
        let join_text = join.to_string();
        let cases = [
            (
                LayoutError::Misplaced {
                    when: "when the measurement ended",
                    replicas: vec!["replica 0 (1 processes, 2 threads): a".into(), "b".into()],
                },
                "placement does not match the plan when the measurement ended: replica 0 (1 \
                 processes, 2 threads): a; b"
                    .to_owned(),
            ),
            (
                LayoutError::NoStart {
                    waited: Duration::from_secs(60),
                },
                "no start signal from the controller within 60s (or the run was cancelled)"
                    .to_owned(),
            ),
            (
                LayoutError::GeneratorCrashed(join),
                format!("load generator crashed: {join_text}"),
            ),
            (
                LayoutError::Generator(LoadError::NoTargets),
                "load generator: targets: at least one target address is required".to_owned(),
            ),
            (
                LayoutError::Died {
                    deaths: vec!["replica 0 (pid 7) exited with status 4".into(), "x".into()],
                },
                "during the measurement: replica 0 (pid 7) exited with status 4; x".to_owned(),
            ),
            (
                LayoutError::Histogram(HistogramError::Encode("full".into())),
                "histogram could not be encoded: full".to_owned(),
            ),
        ];
        for (error, want) in cases {
            assert_eq!(error.to_string(), want);
        }
    }
}
