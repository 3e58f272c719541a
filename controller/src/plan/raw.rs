//! The plan file as written: every key optional, unknown keys refused, nothing checked beyond
//! TOML types. Required keys are `Option`s here so that their absence is reported by
//! `validate` with a fix, not by serde as "missing field".

use serde::Deserialize;

use super::{Memory, Pin};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a plan")]
pub(super) struct RawPlan {
    pub name: Option<String>,
    pub target: Option<RawTarget>,
    pub load: Option<RawLoad>,
    pub layouts: Option<Vec<RawLayout>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a [target] table")]
pub(super) struct RawTarget {
    pub name: Option<String>,
    pub work_us: Option<u64>,
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
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(super) enum RawLoadMode {
    Open,
    Closed,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a [[layouts]] table")]
pub(super) struct RawLayout {
    pub name: Option<String>,
    /// An integer or a word: kept as TOML so `validate` can say what was wrong with it.
    pub replicas: Option<toml::Value>,
    pub pin: Option<Pin>,
    pub memory: Option<Memory>,
}
