//! The plan file as written: every key optional, unknown keys refused, nothing checked beyond
//! TOML types. Required keys are `Option`s here so that their absence is reported by
//! `validate` with a fix, not by serde as "missing field".

use serde::Deserialize;

use super::target::{Dispatch, WorkMode};
use super::{Pin, Smt};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a plan")]
pub(super) struct RawPlan {
    pub name: Option<String>,
    pub repeat: Option<u32>,
    pub search: Option<RawSearch>,
    pub target: Option<RawTarget>,
    pub load: Option<RawLoad>,
    pub layouts: Option<Vec<RawLayout>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a [search] table")]
pub(super) struct RawSearch {
    pub slo_p99: Option<String>,
    pub max_error_rate: Option<f64>,
    pub start_rate: Option<f64>,
    pub max_rate: Option<f64>,
    pub precision: Option<f64>,
    pub max_steps: Option<u32>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a [target] table")]
pub(super) struct RawTarget {
    pub name: Option<String>,
    pub work_us: Option<u64>,
    pub work_mode: Option<WorkMode>,
    pub dispatch: Option<Dispatch>,
    pub limit: Option<u32>,
    pub pool_threads: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a [load] table")]
pub(super) struct RawLoad {
    pub mode: Option<RawLoadMode>,
    pub rate: Option<f64>,
    pub connections: Option<u32>,
    /// Durations stay text until `validate`, which reports humantime's reason with the key.
    pub duration: Option<String>,
    pub warmup: Option<String>,
    pub reserve_cpus: Option<u32>,
    pub timeout: Option<String>,
    pub coalesce: Option<bool>,
    pub spin: Option<bool>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(super) enum RawLoadMode {
    Open,
    Closed,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a [[layouts]] table")]
pub(super) struct RawLayout {
    pub name: Option<String>,
    /// An integer or a word: kept as TOML so `validate` can say what was wrong with it.
    pub replicas: Option<toml::Value>,
    pub pin: Option<Pin>,
    /// A word or a node list, kept as TOML like `replicas`.
    pub memory: Option<toml::Value>,
    pub smt: Option<Smt>,
    /// A count or "auto", kept as TOML like `replicas`.
    pub threads: Option<toml::Value>,
    pub cpus: Option<String>,
    pub memory_nodes: Option<Vec<u32>>,
    pub sweep: Option<RawSweep>,
    /// This layout's own target knobs, over the plan's `[target]`.
    pub target: Option<RawTarget>,
}

/// `sweep.<key> = [values]`: the layout once per value. Values stay TOML until checked one by
/// one, so an error can point at the one that is wrong.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a sweep table")]
pub(super) struct RawSweep {
    pub replicas: Option<Vec<toml::Value>>,
    pub pin: Option<Vec<toml::Value>>,
    pub memory: Option<Vec<toml::Value>>,
    pub smt: Option<Vec<toml::Value>>,
    pub threads: Option<Vec<toml::Value>>,
}
