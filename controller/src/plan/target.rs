//! `[target]`, and a layout's own `target = { ... }`, validated: what each replica runs and how
//! its request handler spends its time, and its wire form (`validate/target.rs` checks it).
//!
//! Its keys, their defaults and examples are in `docs/plan.md`, section `[target]`.
//!
//! A layout's `target = { dispatch = "inline" }` overrides only the keys it names, so one plan
//! can compare dispatch modes under the same load; its knobs (`target.knobs` or the layout's
//! own `[layouts.knobs]`) override or extend the plan's, name by name.

use std::collections::BTreeMap;

use numaload_proto::v1;
use serde::{Deserialize, Serialize};

/// What the agent runs in each replica.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Target {
    /// A name from the agent's own target table (`[a-z0-9-]+`), never a path or command.
    pub name: String,
    /// Work per request, microseconds (at most one second).
    pub work_us: u64,
    #[serde(default)]
    pub work_mode: WorkMode,
    /// The ffi variant's dispatch of the blocking C call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dispatch: Option<Dispatch>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pool_threads: Option<u32>,
    /// Knob name → value as text, for the knobs the agent's target entry declares.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub knobs: BTreeMap<String, String>,
}

impl Target {
    /// A target with the default knobs.
    pub fn new(name: &str, work_us: u64) -> Self {
        Target {
            name: name.to_owned(),
            work_us,
            work_mode: WorkMode::Spin,
            dispatch: None,
            limit: None,
            pool_threads: None,
            knobs: BTreeMap::new(),
        }
    }

    pub(super) fn to_spec(&self) -> v1::TargetSpec {
        v1::TargetSpec {
            name: self.name.clone(),
            work_us: self.work_us,
            work_mode: match self.work_mode {
                WorkMode::Spin => v1::WorkMode::Spin,
                WorkMode::Sleep => v1::WorkMode::Sleep,
            } as i32,
            dispatch: match self.dispatch {
                None => v1::FfiDispatch::Unspecified,
                Some(Dispatch::SpawnBlocking) => v1::FfiDispatch::SpawnBlocking,
                Some(Dispatch::Bounded) => v1::FfiDispatch::Bounded,
                Some(Dispatch::Inline) => v1::FfiDispatch::Inline,
                Some(Dispatch::PinnedPool) => v1::FfiDispatch::PinnedPool,
            } as i32,
            limit: self.limit.unwrap_or(0),
            pool_threads: self.pool_threads.unwrap_or(0),
            knobs: self
                .knobs
                .iter()
                .map(|(name, value)| (name.clone(), value.clone()))
                .collect(),
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WorkMode {
    #[default]
    Spin,
    Sleep,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Dispatch {
    SpawnBlocking,
    Bounded,
    Inline,
    PinnedPool,
}
