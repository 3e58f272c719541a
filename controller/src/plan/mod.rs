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
//! Where each table is read: `search.rs` (`[search]`), `target.rs` (`[target]` and a layout's
//! own `target`), `knobs.rs` (`[target.knobs]`, `[layouts.knobs]`), `request.rs` (the request
//! or the `[[load.requests]]` mix, `expect_status`), `layout.rs` and `validate/layout.rs`
//! (`[[layouts]]`), `sweep.rs` (`sweep.KEY`), `validate/mod.rs` (the rest of `[load]`), and
//! `error.rs` (the one-line errors).
//!
//! Durations are humantime strings ("10s", "500ms", "1m 30s") in whole milliseconds, as the wire
//! carries them. What only a host can tell (whether the agent knows the target, whether there
//! are as many NUMA domains as replicas) is the agent's to check before it launches anything.

mod error;
mod knobs;
mod layout;
mod raw;
mod request;
mod search;
mod sweep;
mod target;
mod validate;

pub use search::Search;

use std::path::Path;
use std::time::Duration;

use numaload_proto::v1;
use serde::{Deserialize, Serialize};

pub use error::{PlanError, PlanErrorKind};
pub use layout::{Layout, Memory, Pin, Replicas, Smt, Threads};
pub use request::Request;
pub use target::{Dispatch, Target, WorkMode};
pub use validate::{DEFAULT_MIN_DELIVERED, DEFAULT_SEND_PRECISION};

/// Reads and validates the plan file at `path`; errors name the file as given.
pub fn load(path: &Path) -> Result<Plan, PlanError> {
    let origin = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| PlanError::read(&origin, &e))?;
    parse(&text, &origin)
}

/// Parses and validates plan text; `origin` names it in errors (usually the file name).
pub fn parse(text: &str, origin: &str) -> Result<Plan, PlanError> {
    let raw = error::deserialize(text, origin)?;
    validate::validate(raw).map_err(|problem| PlanError::invalid(origin, problem))
}

/// A validated plan: every default applied, every value in range.
///
/// Serialized (the result JSON echoes it) with the file's own key names and values, durations
/// as humantime strings, so an echoed plan reads like the file that produced it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub name: String,
    /// Trials per layout, run interleaved (A B A B, not A A B B); 1 by default.
    #[serde(default = "one")]
    pub repeat: u32,
    /// A capacity search instead of a fixed rate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub search: Option<Search>,
    pub target: Target,
    pub load: Load,
    /// At least one, names unique, in file order.
    pub layouts: Vec<Layout>,
}

/// The load applied to every layout, one after the other.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Load {
    /// Open loop carries its rate; closed loop has none.
    #[serde(flatten)]
    pub mode: LoadMode,
    /// Connections over all replicas, 1..=10000.
    pub connections: u32,
    /// Measured time per layout, more than zero and at most an hour.
    #[serde(with = "duration_text")]
    pub duration: Duration,
    /// Load before measuring starts (may be zero).
    #[serde(with = "duration_text")]
    pub warmup: Duration,
    /// CPUs taken out of replica placement and given to the load generator (0: spare CPUs only).
    pub reserve_cpus: u32,
    /// Requests slower than this count as timeout errors (more than zero).
    #[serde(with = "duration_text")]
    pub timeout: Duration,
    /// Open loop: how late a send may be (0..=1 ms). A result written before the key existed
    /// reads as 0, the tightest pacing, which is how those runs paced.
    #[serde(
        default,
        with = "duration_text",
        skip_serializing_if = "Duration::is_zero"
    )]
    pub send_precision: Duration,
    /// The share of the window's requests (open loop: intended; closed loop: sent) that must be
    /// answered for the layout to be `ok` rather than `incomplete`, 0..=1. A result written
    /// before the key existed reads as the default.
    #[serde(default = "default_min_delivered")]
    pub min_delivered: f64,
    /// What is sent: at least one request, names unique; each connection draws its next one
    /// by weight. `GET /` when the plan says nothing.
    #[serde(default = "request::default_requests")]
    pub requests: Vec<Request>,
    /// Response statuses that count as success, sorted; empty means any 2xx.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expect_status: Vec<u16>,
}

/// How requests are sent.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "lowercase")]
pub enum LoadMode {
    /// A constant rate over all connections; latency is timed from the intended send time.
    Open {
        /// Requests per second, finite and positive.
        rate: f64,
    },
    /// Each connection sends its next request when the previous response arrives.
    Closed {
        /// Whether a worker with nothing to read naps before blocking while the server has a
        /// backlog, so responses are read in bursts (the agent's `loadgen::coalesce`).
        #[serde(default = "yes")]
        coalesce: bool,
        /// Whether a worker with nothing to read and no nap due busy-polls an adaptive window
        /// (at most 25 µs) before blocking (the agent's `loadgen::spin`).
        #[serde(default = "yes")]
        spin: bool,
    },
}

fn yes() -> bool {
    true
}

fn default_min_delivered() -> f64 {
    validate::DEFAULT_MIN_DELIVERED
}

impl Plan {
    /// The wire form of this plan for one run. Durations travel in whole milliseconds (the
    /// validator refuses finer ones, so nothing is rounded away).
    pub fn to_run_plan(&self, run_id: &str) -> v1::RunPlan {
        v1::RunPlan {
            run_id: run_id.to_owned(),
            name: self.name.clone(),
            target: Some(self.target.to_spec()),
            load: Some(self.load.to_spec()),
            layouts: self.wire_layouts(),
            ..Default::default()
        }
    }
}

impl Plan {
    /// The name a layout's trial travels under: the layout's own name with one trial,
    /// `name#2` for the second of several.
    pub fn trial_name(&self, layout: &str, trial: u32) -> String {
        if self.repeat > 1 {
            format!("{layout}#{trial}")
        } else {
            layout.to_owned()
        }
    }

    /// Every layout once per trial, interleaved: A#1 B#1 A#2 B#2 ..., so that slow drift of the
    /// machine (thermal, other tenants) spreads over the layouts instead of favouring one.
    fn wire_layouts(&self) -> Vec<v1::LayoutSpec> {
        (1..=self.repeat)
            .flat_map(|trial| {
                self.layouts.iter().map(move |layout| {
                    let mut spec = layout.to_spec();
                    spec.name = self.trial_name(&layout.name, trial);
                    spec
                })
            })
            .collect()
    }
}

fn one() -> u32 {
    1
}

impl Load {
    /// Requests per second for open loop, `None` for closed loop.
    pub fn rate(&self) -> Option<f64> {
        match self.mode {
            LoadMode::Open { rate } => Some(rate),
            LoadMode::Closed { .. } => None,
        }
    }

    fn to_spec(&self) -> v1::LoadSpec {
        let (mode, rate, coalesce, spin) = match self.mode {
            LoadMode::Open { rate } => (v1::LoadMode::Open, rate, true, true),
            LoadMode::Closed { coalesce, spin } => (v1::LoadMode::Closed, 0.0, coalesce, spin),
        };
        v1::LoadSpec {
            mode: mode as i32,
            rate,
            connections: self.connections,
            duration_ms: millis(self.duration),
            warmup_ms: millis(self.warmup),
            reserve_cpus: self.reserve_cpus,
            timeout_ms: millis(self.timeout),
            no_coalesce: !coalesce,
            no_spin: !spin,
            send_precision_ns: u64::try_from(self.send_precision.as_nanos()).unwrap_or(u64::MAX),
            requests: self.requests.iter().map(Request::to_wire).collect(),
            expect_status: self.expect_status.iter().map(|&c| u32::from(c)).collect(),
        }
    }
}

/// Saturates rather than wraps: only `timeout` has no upper bound, and "forever" is what a
/// timeout of 584 million years means anyway.
fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// Durations as humantime text ("5s", "1s 500ms"), the way plan files write them.
mod duration_text {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(duration: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&humantime::format_duration(*duration))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(d)?;
        humantime::parse_duration(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> Plan {
        Plan {
            name: "p".into(),
            repeat: 1,
            search: None,
            target: Target::new("async", 20),
            load: Load {
                mode: LoadMode::Open { rate: 5000.0 },
                connections: 32,
                duration: Duration::from_millis(1500),
                warmup: Duration::ZERO,
                reserve_cpus: 1,
                timeout: Duration::from_secs(2),
                send_precision: Duration::from_micros(25),
                min_delivered: validate::DEFAULT_MIN_DELIVERED,
                requests: vec![Request::default_get()],
                expect_status: Vec::new(),
            },
            layouts: vec![
                Layout::new("one", Replicas::Count(1), Pin::None, Memory::None),
                Layout::new("per-node", Replicas::PerNode, Pin::Node, Memory::Local),
                Layout {
                    smt: Smt::OnePerCore,
                    threads: Threads::Count(3),
                    cpus: Some("0-1,4".into()),
                    ..Layout::new(
                        "explicit",
                        Replicas::Count(2),
                        Pin::None,
                        Memory::Nodes(vec![0, 2]),
                    )
                },
            ],
        }
    }

    #[test]
    fn json_echo_reads_like_the_file_and_round_trips() {
        let plan = plan();
        let json = serde_json::to_value(&plan).expect("serializes");
        assert_eq!(json["load"]["mode"], "open");
        assert_eq!(json["load"]["rate"], 5000.0);
        assert_eq!(json["load"]["duration"], "1s 500ms");
        assert_eq!(json["load"]["warmup"], "0s");
        assert_eq!(json["layouts"][0]["replicas"], 1);
        assert_eq!(json["layouts"][1]["replicas"], "per-node");
        assert_eq!(json["layouts"][1]["memory"], "local");
        assert_eq!(json["layouts"][1]["smt"], "all");
        assert_eq!(json["layouts"][1]["threads"], "auto");
        assert!(json["layouts"][1].get("cpus").is_none());
        assert_eq!(json["layouts"][2]["memory"], serde_json::json!([0, 2]));
        assert_eq!(json["layouts"][2]["smt"], "one-per-core");
        assert_eq!(json["layouts"][2]["threads"], 3);
        assert_eq!(json["layouts"][2]["cpus"], "0-1,4");
        let back: Plan = serde_json::from_value(json).expect("reads back");
        assert_eq!(back, plan);
    }

    #[test]
    fn closed_loop_echo_has_no_rate_and_round_trips() {
        let mut plan = plan();
        plan.load.mode = LoadMode::Closed {
            coalesce: true,
            spin: true,
        };
        let json = serde_json::to_value(&plan).expect("serializes");
        assert_eq!(json["load"]["mode"], "closed");
        assert!(json["load"].get("rate").is_none());
        let back: Plan = serde_json::from_value(json).expect("reads back");
        assert_eq!(back, plan);
        assert_eq!(back.load.rate(), None);
    }

    #[test]
    fn wire_durations_are_milliseconds_and_saturate() {
        assert_eq!(millis(Duration::from_millis(1500)), 1500);
        assert_eq!(millis(Duration::MAX), u64::MAX);
        let spec = plan().to_run_plan("r").load.expect("load is set");
        assert_eq!(spec.duration_ms, 1500);
    }
}
