//! What each key must hold, in the words a problem shows as its fix: one text per key, and
//! [`expectation`], the text for a key by its schema path, which the TOML errors use too.

use super::super::fleet::{MAX_LOST_AGENTS, ON_AGENT_LOSS};
use super::super::grpc;
use super::super::knobs::KNOBS;
use super::super::protocol;
use super::super::request::{
    BODY, EXPECT_STATUS, HEADERS, HEADER_VALUE, METHOD, PATH, REQUESTS, REQUEST_NAME, WEIGHT,
};
use super::super::thresholds::{CONDITION, LAYOUTS_TABLE};
use super::shape::{ARRIVALS, SEED, SPEED, STAGES, STAGE_RATE, TRACE};
use super::target::{DISPATCH, LIMIT, POOL_THREADS, TARGET_NAME, WORK_MODE, WORK_US};

pub(super) const MIN_DELIVERED: &str =
    "must be a percentage from \"0%\" to \"100%\" of the window's requests, e.g. \"99%\"";
pub(super) const SEND_PRECISION: &str =
    "must be a duration from \"0us\" to \"1ms\", e.g. \"50us\" (open loop only)";

pub(super) const REPEAT: &str = "must be a whole number of trials from 1 to 50";
pub(super) const PLAN_NAME: &str = "must be a non-empty string, e.g. name = \"quickstart\"";
const MODE: &str = "must be \"open\" (a fixed request rate) or \"closed\" (fixed connections)";
pub(super) const RATE: &str = "must be a positive number of requests per second";
pub(super) const CONNECTIONS_FIX: &str = "must be a whole number from 1 to 10000";
const DURATION: &str = "must be a duration with a unit, e.g. \"10s\" or \"500ms\"";
const RESERVE_CPUS: &str = "must be a whole number of CPUs, 0 or more";
const LAYOUTS: &str = "must be one or more [[layouts]] tables (double brackets)";
pub(super) const LAYOUT_NAME: &str = "must be a non-empty string, e.g. name = \"per-node\"";
pub(in crate::plan) const REPLICAS: &str =
    "use a positive count, \"per-node\", \"per-package\", \"per-l3\" or \"nic-local\"";
pub(in crate::plan) const PIN: &str = "must be \"none\", \"node\", \"package\", \"l3\" or \"core\"";
pub(in crate::plan) const MEMORY: &str =
    "must be \"local\", \"interleave\", \"none\" or a list of NUMA nodes such as [0, 1]";
pub(in crate::plan) const SMT: &str = "must be \"all\" or \"one-per-core\"";
pub(in crate::plan) const INTERFACE: &str =
    "must be a network interface name, e.g. \"eth0\" (numaload topology lists them)";
pub(in crate::plan) const THREADS: &str = "must be a positive number of worker threads or \"auto\"";
pub(super) const CPUS: &str = "must be a non-empty CPU list such as \"0-7,16-23\"";
pub(super) const MEMORY_NODES: &str = "must be a non-empty list of NUMA node numbers such as [0]";
const SWEEP: &str = "must be a table of lists, e.g. sweep.replicas = [1, 2, \"per-node\"]";
const SWEEP_LIST: &str = "must be a list of the values to sweep over, e.g. [1, 2, \"per-node\"]";

/// What a key must hold, by its schema path (`layouts.pin`): the fix shown when the file has a
/// value of the wrong type or an unknown word there.
pub(in crate::plan) fn expectation(schema: &str) -> Option<&'static str> {
    if let Some(fix) = grpc::expectation(schema).or_else(|| protocol::expectation(schema)) {
        return Some(fix);
    }
    Some(match schema {
        "name" => PLAN_NAME,
        "repeat" => REPEAT,
        "search" => "must be a table: a [search] line followed by its keys",
        "search.slo_p99" => DURATION,
        "search.max_error_rate" => "must be a fraction from 0 to 1, e.g. 0.001",
        "search.start_rate" | "search.max_rate" => RATE,
        "search.precision" => "must be a fraction between 0 and 1, e.g. 0.05",
        "search.max_steps" => "must be a whole number of steps from 1 to 50",
        "target" => "must be a table: a [target] line followed by its keys",
        "target.name" | "layouts.target.name" => TARGET_NAME,
        "target.work_us" | "layouts.target.work_us" => WORK_US,
        "target.work_mode" | "layouts.target.work_mode" => WORK_MODE,
        "target.dispatch" | "layouts.target.dispatch" => DISPATCH,
        "target.limit" | "layouts.target.limit" => LIMIT,
        "target.pool_threads" | "layouts.target.pool_threads" => POOL_THREADS,
        "layouts.target" => {
            "must be a table of target keys, e.g. target = { dispatch = \"inline\" }"
        }
        "load" => "must be a table: a [load] line followed by its keys",
        "load.mode" => MODE,
        "load.rate" => RATE,
        "load.connections" => CONNECTIONS_FIX,
        "load.duration" | "load.warmup" | "load.timeout" => DURATION,
        "load.reserve_cpus" => RESERVE_CPUS,
        "load.coalesce" | "load.spin" => "must be true or false (closed loop only)",
        "load.send_precision" => SEND_PRECISION,
        "load.min_delivered" => MIN_DELIVERED,
        "load.interface" => INTERFACE,
        "load.method" | "load.requests.method" => METHOD,
        "load.path" | "load.requests.path" => PATH,
        "load.headers" | "load.requests.headers" => HEADERS,
        "load.body" | "load.requests.body" => BODY,
        "load.requests" => REQUESTS,
        "load.requests.name" => REQUEST_NAME,
        "load.requests.weight" => WEIGHT,
        "load.expect_status" => EXPECT_STATUS,
        "load.arrivals" => ARRIVALS,
        "load.seed" => SEED,
        "load.stages" => STAGES,
        "load.stages.rate" | "load.stages.from" | "load.stages.to" => STAGE_RATE,
        "load.stages.duration" => DURATION,
        "load.trace" => TRACE,
        "load.speed" => SPEED,
        "target.knobs" | "layouts.target.knobs" | "layouts.knobs" => KNOBS,
        "layouts.sweep.knobs" => {
            "must be a table of knob lists, e.g. sweep.knobs.gomaxprocs = [1, 2]"
        }
        headers
            if headers.starts_with("load.headers.")
                || headers.starts_with("load.requests.headers.") =>
        {
            HEADER_VALUE
        }
        knob if knob.starts_with("layouts.sweep.knobs.") => SWEEP_LIST,
        "thresholds" => "must be a table: a [thresholds] line followed by conditions",
        "thresholds.layouts" => LAYOUTS_TABLE,
        "thresholds.p50"
        | "thresholds.p99"
        | "thresholds.p999"
        | "thresholds.max"
        | "thresholds.error_rate"
        | "thresholds.throughput"
        | "thresholds.late_sends" => CONDITION,
        layout if layout.starts_with("thresholds.layouts.") => {
            if layout.matches('.').count() == 2 {
                "must be a table of conditions, e.g. p99 = \"< 2ms\""
            } else {
                CONDITION
            }
        }
        "fleet" => "must be a table: a [fleet] line followed by its keys",
        "fleet.on_agent_loss" => ON_AGENT_LOSS,
        "fleet.max_lost_agents" => MAX_LOST_AGENTS,
        "layouts" => LAYOUTS,
        "layouts.name" => LAYOUT_NAME,
        "layouts.replicas" => REPLICAS,
        "layouts.pin" => PIN,
        "layouts.memory" => MEMORY,
        "layouts.smt" => SMT,
        "layouts.threads" => THREADS,
        "layouts.cpus" => CPUS,
        "layouts.memory_nodes" => MEMORY_NODES,
        "layouts.sweep" => SWEEP,
        "layouts.sweep.replicas"
        | "layouts.sweep.pin"
        | "layouts.sweep.memory"
        | "layouts.sweep.smt"
        | "layouts.sweep.threads" => SWEEP_LIST,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::super::super::raw::RawPlan;
    use super::*;

    /// The fixes shown for type errors cover every key the raw structs accept: serde lists them
    /// in its unknown-field message.
    #[test]
    fn every_key_has_an_expectation() {
        let tables = [
            ("", "zz = 1"),
            ("target.", "[target]\nzz = 1"),
            ("load.", "[load]\nzz = 1"),
            ("load.requests.", "[[load.requests]]\nzz = 1"),
            ("load.grpc.", "[load]\ngrpc = { zz = 1 }"),
            (
                "load.requests.grpc.",
                "[[load.requests]]\ngrpc = { zz = 1 }",
            ),
            ("load.stages.", "[[load.stages]]\nzz = 1"),
            ("layouts.", "[[layouts]]\nzz = 1"),
            ("layouts.sweep.", "[[layouts]]\nsweep.zz = 1"),
            ("layouts.target.", "[[layouts]]\ntarget.zz = 1"),
            ("search.", "[search]\nzz = 1"),
            ("thresholds.", "[thresholds]\nzz = 1"),
            ("thresholds.layouts.a.", "[thresholds.layouts.a]\nzz = 1"),
            ("fleet.", "[fleet]\nzz = 1"),
        ];
        for (prefix, doc) in tables {
            let error = toml::from_str::<RawPlan>(doc).expect_err("zz is unknown");
            let keys: Vec<&str> = error.message().split('`').skip(3).step_by(2).collect();
            assert!(keys.len() >= 2, "{}", error.message());
            for key in keys {
                let schema = format!("{prefix}{key}");
                assert!(
                    expectation(&schema).is_some(),
                    "no expectation for {schema}"
                );
            }
        }
    }
}
