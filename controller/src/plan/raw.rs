//! The plan file as written: every key optional, unknown keys refused, nothing checked beyond
//! TOML types. Required keys are `Option`s here so that their absence is reported by
//! `validate` with a fix, not by serde as "missing field".

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;

use super::shape::Arrivals;
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
    pub thresholds: Option<RawThresholds>,
    pub fleet: Option<RawFleet>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a [fleet] table")]
pub(super) struct RawFleet {
    pub on_agent_loss: Option<String>,
    /// Kept as any integer so that a negative count is reported with its key.
    pub max_lost_agents: Option<i64>,
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
    /// `[target.knobs]`: values for the knobs the agent's target entry declares, kept as TOML
    /// until checked one by one.
    pub knobs: Option<toml::Table>,
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
    /// Open loop: how late a send may be, humantime text ("50us").
    pub send_precision: Option<String>,
    /// The share of the window's requests that must be answered, percent text ("99%").
    pub min_delivered: Option<String>,
    /// The network interface the load arrives on at the hosts under test.
    pub interface: Option<String>,
    /// The single request (refused together with `requests`).
    pub method: Option<String>,
    pub path: Option<String>,
    /// Header name → value; values stay TOML so a number is reported with its key.
    pub headers: Option<toml::Table>,
    pub body: Option<String>,
    /// `[[load.requests]]`: a weighted mix.
    pub requests: Option<Vec<RawRequest>>,
    /// The single request as a gRPC call (`grpc.rs`).
    pub grpc: Option<RawGrpc>,
    /// Kept as integers of any size so that 99 and 600 are reported with the range.
    pub expect_status: Option<Vec<i64>>,
    /// Open loop: `"uniform"` or `"poisson"`.
    pub arrivals: Option<Arrivals>,
    /// Poisson arrivals: kept signed so that a negative one is reported with its key.
    pub seed: Option<i64>,
    /// `[[load.stages]]`: the rate stage by stage.
    pub stages: Option<Vec<RawStage>>,
    /// A trace file to replay, relative to the plan file.
    pub trace: Option<String>,
    pub speed: Option<f64>,
    /// TLS to the targets, and its keys.
    pub tls: Option<bool>,
    pub sni: Option<String>,
    pub ca: Option<String>,
    pub insecure_skip_verify: Option<bool>,
    pub alpn: Option<Vec<String>>,
    pub resume: Option<bool>,
    /// `"h1"`, `"h2"` or `"h2c"`, and HTTP/2's streams per connection.
    pub protocol: Option<String>,
    pub streams: Option<i64>,
}

/// One `[[load.stages]]` table: `rate` (a step) or `from` and `to` (a ramp), and `duration`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a [[load.stages]] table")]
pub(super) struct RawStage {
    pub rate: Option<f64>,
    pub from: Option<f64>,
    pub to: Option<f64>,
    pub duration: Option<String>,
}

/// One `[[load.requests]]` table.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a [[load.requests]] table")]
pub(super) struct RawRequest {
    pub name: Option<String>,
    pub method: Option<String>,
    pub path: Option<String>,
    pub headers: Option<toml::Table>,
    pub body: Option<String>,
    pub weight: Option<u32>,
    pub grpc: Option<RawGrpc>,
}

/// A `grpc` table: a gRPC unary call.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a grpc table")]
pub(super) struct RawGrpc {
    pub method: Option<String>,
    pub request: Option<String>,
    pub request_bin: Option<String>,
    pub descriptors: Option<String>,
    /// Kept as integers of any size so that -1 and 17 are reported with the range.
    pub expect_status: Option<Vec<i64>>,
}

/// `[thresholds]` as written: every key optional, unknown keys refused (serde refuses unknown
/// keys only without `flatten`, so the keys of [`RawSet`] are spelled out again).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a [thresholds] table")]
pub(super) struct RawThresholds {
    pub p50: Option<String>,
    pub p99: Option<String>,
    pub p999: Option<String>,
    pub max: Option<String>,
    pub error_rate: Option<String>,
    pub throughput: Option<String>,
    pub late_sends: Option<String>,
    /// `[thresholds.layouts.NAME]`: the same keys, for one layout.
    pub layouts: Option<BTreeMap<String, RawSet>>,
}

/// The conditions of one table, as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table of thresholds")]
pub(super) struct RawSet {
    pub p50: Option<String>,
    pub p99: Option<String>,
    pub p999: Option<String>,
    pub max: Option<String>,
    pub error_rate: Option<String>,
    pub throughput: Option<String>,
    pub late_sends: Option<String>,
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
    /// `[layouts.knobs]`: this layout's knob values, over the plan's `[target.knobs]`.
    pub knobs: Option<toml::Table>,
}

/// `sweep.<key> = [values]`: the layout once per value. Values stay TOML until checked one by
/// one, so an error can point at the one that is wrong. A knob is swept as
/// `sweep."knobs.NAME"` (or `sweep.knobs.NAME`, a nested table), in file order.
#[derive(Debug, Clone, Default)]
pub(super) struct RawSweep {
    pub replicas: Option<Vec<toml::Value>>,
    pub pin: Option<Vec<toml::Value>>,
    pub memory: Option<Vec<toml::Value>>,
    pub smt: Option<Vec<toml::Value>>,
    pub threads: Option<Vec<toml::Value>>,
    pub knobs: Vec<(String, Vec<toml::Value>)>,
}

/// The keys a sweep table takes, as serde's unknown-key message lists them.
const SWEEP_KEYS: &[&str] = &["replicas", "pin", "memory", "smt", "threads", "knobs.NAME"];

/// A sweep key, read as a map key so that an unknown one is reported at its own span.
enum SweepKey {
    Replicas,
    Pin,
    Memory,
    Smt,
    Threads,
    /// `knobs = { NAME = [..] }` (`sweep.knobs.NAME`).
    Knobs,
    /// `"knobs.NAME"`.
    Knob(String),
}

impl<'de> Deserialize<'de> for SweepKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = SweepKey;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a sweep key")
            }

            fn visit_str<E: de::Error>(self, key: &str) -> Result<SweepKey, E> {
                Ok(match key {
                    "replicas" => SweepKey::Replicas,
                    "pin" => SweepKey::Pin,
                    "memory" => SweepKey::Memory,
                    "smt" => SweepKey::Smt,
                    "threads" => SweepKey::Threads,
                    "knobs" => SweepKey::Knobs,
                    _ => match key.strip_prefix("knobs.") {
                        Some(name) => SweepKey::Knob(name.to_owned()),
                        None => return Err(E::unknown_field(key, SWEEP_KEYS)),
                    },
                })
            }
        }
        d.deserialize_identifier(KeyVisitor)
    }
}

impl<'de> Deserialize<'de> for RawSweep {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct SweepVisitor;
        impl<'de> Visitor<'de> for SweepVisitor {
            type Value = RawSweep;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a sweep table")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawSweep, A::Error> {
                let mut sweep = RawSweep::default();
                while let Some(key) = map.next_key::<SweepKey>()? {
                    match key {
                        SweepKey::Replicas => sweep.replicas = Some(map.next_value()?),
                        SweepKey::Pin => sweep.pin = Some(map.next_value()?),
                        SweepKey::Memory => sweep.memory = Some(map.next_value()?),
                        SweepKey::Smt => sweep.smt = Some(map.next_value()?),
                        SweepKey::Threads => sweep.threads = Some(map.next_value()?),
                        SweepKey::Knob(name) => sweep.knobs.push((name, map.next_value()?)),
                        SweepKey::Knobs => {
                            let nested: BTreeMap<String, Vec<toml::Value>> = map.next_value()?;
                            sweep.knobs.extend(nested);
                        }
                    }
                }
                Ok(sweep)
            }
        }
        d.deserialize_map(SweepVisitor)
    }
}
