//! Raw plan → [`Plan`]: defaults applied, ranges checked, one [`Problem`] for the first thing
//! wrong. Pure: no I/O, nothing about the host (the agent checks what needs its topology).

use std::collections::HashSet;
use std::time::Duration;

use super::error::{KeyPath, Problem};
use super::knobs::{self, KNOBS};
use super::layout::{normalized_cpus, sorted};
use super::raw::{RawLayout, RawLoad, RawLoadMode, RawPlan};
use super::request::{
    self, BODY, EXPECT_STATUS, HEADERS, HEADER_VALUE, METHOD, PATH, REQUESTS, REQUEST_NAME, WEIGHT,
};
use super::target::{self, DISPATCH, LIMIT, POOL_THREADS, TARGET_NAME, WORK_MODE, WORK_US};
use super::{sweep, Layout, Load, LoadMode, Memory, Pin, Plan, Replicas, Smt, Target, Threads};

const CONNECTIONS: std::ops::RangeInclusive<u32> = 1..=10_000;
const MAX_DURATION: Duration = Duration::from_secs(3600);
const DEFAULT_CONNECTIONS: u32 = 16;
const DEFAULT_WARMUP: Duration = Duration::from_secs(1);
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);

const REPEAT: &str = "must be a whole number of trials from 1 to 50";
const MAX_REPEAT: u32 = 50;
const PLAN_NAME: &str = "must be a non-empty string, e.g. name = \"quickstart\"";
const MODE: &str = "must be \"open\" (a fixed request rate) or \"closed\" (fixed connections)";
const RATE: &str = "must be a positive number of requests per second";
const CONNECTIONS_FIX: &str = "must be a whole number from 1 to 10000";
const DURATION: &str = "must be a duration with a unit, e.g. \"10s\" or \"500ms\"";
const RESERVE_CPUS: &str = "must be a whole number of CPUs, 0 or more";
const LAYOUTS: &str = "must be one or more [[layouts]] tables (double brackets)";
const LAYOUT_NAME: &str = "must be a non-empty string, e.g. name = \"per-node\"";
pub(super) const REPLICAS: &str =
    "use a positive count, \"per-node\", \"per-package\" or \"per-l3\"";
pub(super) const PIN: &str = "must be \"none\", \"node\", \"package\", \"l3\" or \"core\"";
pub(super) const MEMORY: &str =
    "must be \"local\", \"interleave\", \"none\" or a list of NUMA nodes such as [0, 1]";
pub(super) const SMT: &str = "must be \"all\" or \"one-per-core\"";
pub(super) const THREADS: &str = "must be a positive number of worker threads or \"auto\"";
const CPUS: &str = "must be a non-empty CPU list such as \"0-7,16-23\"";
const MEMORY_NODES: &str = "must be a non-empty list of NUMA node numbers such as [0]";
const SWEEP: &str = "must be a table of lists, e.g. sweep.replicas = [1, 2, \"per-node\"]";
const SWEEP_LIST: &str = "must be a list of the values to sweep over, e.g. [1, 2, \"per-node\"]";

/// What a key must hold, by its schema path (`layouts.pin`): the fix shown when the file has a
/// value of the wrong type or an unknown word there.
pub(super) fn expectation(schema: &str) -> Option<&'static str> {
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
        "load.method" | "load.requests.method" => METHOD,
        "load.path" | "load.requests.path" => PATH,
        "load.headers" | "load.requests.headers" => HEADERS,
        "load.body" | "load.requests.body" => BODY,
        "load.requests" => REQUESTS,
        "load.requests.name" => REQUEST_NAME,
        "load.requests.weight" => WEIGHT,
        "load.expect_status" => EXPECT_STATUS,
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

pub(super) fn validate(raw: RawPlan) -> Result<Plan, Problem> {
    let root = KeyPath::root();
    let name = match raw.name {
        None => {
            let fix = "name the plan at the top of the file, before any [table], \
                       e.g. name = \"quickstart\"";
            return Err(Problem::missing(root.key("name"), fix));
        }
        Some(name) => non_empty(name, root.key("name"), PLAN_NAME)?,
    };
    let repeat = raw.repeat.unwrap_or(1);
    if !(1..=MAX_REPEAT).contains(&repeat) {
        return Err(Problem::value(root.key("repeat"), repeat, REPEAT));
    }
    let target = target::target(raw.target, &root.key("target"))?;
    let load = load(raw.load, &root.key("load"))?;
    let search = match raw.search {
        Some(raw) => Some(search(raw, &load, &root.key("search"))?),
        None => None,
    };
    Ok(Plan {
        name,
        repeat,
        search,
        load,
        layouts: layouts(raw.layouts, &target, &root.key("layouts"))?,
        target,
    })
}

fn search(
    raw: super::raw::RawSearch,
    load: &Load,
    at: &KeyPath,
) -> Result<crate::search::Search, Problem> {
    let slo = raw.slo_p99.ok_or_else(|| {
        Problem::missing(
            at.key("slo_p99"),
            "give the p99 objective, e.g. slo_p99 = \"5ms\"",
        )
    })?;
    let slo_p99 = duration(&slo, at.key("slo_p99"), "\"5ms\"")?;
    let Some(load_rate) = load.rate() else {
        let fix = "a search sets open-loop rates: use [load] mode = \"open\"";
        return Err(Problem::about(at.clone(), fix));
    };
    let fraction = |key: &str, value: Option<f64>, default: f64, fix: &str, open_low: bool| {
        let value = value.unwrap_or(default);
        let ok =
            value.is_finite() && value <= 1.0 && if open_low { value > 0.0 } else { value >= 0.0 };
        if ok {
            Ok(value)
        } else {
            Err(Problem::value(at.key(key), value, fix))
        }
    };
    let max_error_rate = fraction(
        "max_error_rate",
        raw.max_error_rate,
        0.001,
        "must be a fraction from 0 to 1, e.g. 0.001",
        false,
    )?;
    let precision = fraction(
        "precision",
        raw.precision,
        0.05,
        "must be a fraction between 0 and 1, e.g. 0.05",
        true,
    )?;
    let start_rate = raw.start_rate.unwrap_or(load_rate);
    if !(start_rate.is_finite() && start_rate >= 1.0) {
        return Err(Problem::value(
            at.key("start_rate"),
            start_rate,
            "must be at least 1 request per second",
        ));
    }
    let max_rate = raw.max_rate.unwrap_or(1_000_000.0);
    if !(max_rate.is_finite() && max_rate >= start_rate) {
        return Err(Problem::value(
            at.key("max_rate"),
            max_rate,
            "must be at least start_rate",
        ));
    }
    let max_steps = raw.max_steps.unwrap_or(12);
    if !(1..=50).contains(&max_steps) {
        return Err(Problem::value(
            at.key("max_steps"),
            max_steps,
            "must be a whole number of steps from 1 to 50",
        ));
    }
    Ok(crate::search::Search {
        slo_p99,
        max_error_rate,
        start_rate,
        max_rate,
        precision,
        max_steps,
    })
}

fn load(raw: Option<RawLoad>, at: &KeyPath) -> Result<Load, Problem> {
    let mut raw = raw.ok_or_else(|| {
        let fix = "add a [load] table with at least mode, rate (for open loop) and duration";
        Problem::missing(at.clone(), fix)
    })?;
    let mode = mode(&raw, at)?;
    let requests = request::requests(&mut raw, at)?;
    let expect_status = request::expect_status(raw.expect_status.take(), &at.key("expect_status"))?;
    let connections = raw.connections.unwrap_or(DEFAULT_CONNECTIONS);
    if !CONNECTIONS.contains(&connections) {
        let key = at.key("connections");
        return Err(Problem::value(key, connections, CONNECTIONS_FIX));
    }
    let duration = raw.duration.ok_or_else(|| {
        let fix = "add how long to measure each layout, e.g. duration = \"10s\"";
        Problem::missing(at.key("duration"), fix)
    })?;
    let duration = match self::duration(&duration, at.key("duration"), "\"10s\"")? {
        zero if zero.is_zero() => {
            let fix = "must be longer than zero, e.g. \"10s\"";
            return Err(Problem::value(at.key("duration"), quoted(&duration), fix));
        }
        long if long > MAX_DURATION => {
            let fix = "must be at most 1h, e.g. \"10m\"";
            return Err(Problem::value(at.key("duration"), quoted(&duration), fix));
        }
        ok => ok,
    };
    let warmup = match raw.warmup {
        Some(text) => self::duration(&text, at.key("warmup"), "\"1s\" or \"0s\"")?,
        None => DEFAULT_WARMUP,
    };
    let timeout = match raw.timeout {
        None => DEFAULT_TIMEOUT,
        Some(text) => match self::duration(&text, at.key("timeout"), "\"2s\"")? {
            zero if zero.is_zero() => {
                let fix = "must be longer than zero, e.g. \"2s\"";
                return Err(Problem::value(at.key("timeout"), quoted(&text), fix));
            }
            ok => ok,
        },
    };
    Ok(Load {
        mode,
        connections,
        duration,
        warmup,
        reserve_cpus: raw.reserve_cpus.unwrap_or(0),
        timeout,
        requests,
        expect_status,
    })
}

/// Open loop needs a rate, closed loop refuses one; `coalesce` and `spin` are closed loop's alone.
fn mode(raw: &RawLoad, at: &KeyPath) -> Result<LoadMode, Problem> {
    if raw.mode == Some(RawLoadMode::Open) {
        for (key, value) in [("coalesce", raw.coalesce), ("spin", raw.spin)] {
            if let Some(value) = value {
                let fix = format!(
                    "used with mode = \"closed\" only (open loop sends at its scheduled times \
                     and reads every response at once); remove {key}"
                );
                return Err(Problem::value(at.key(key), value, &fix));
            }
        }
    }
    match (raw.mode, raw.rate) {
        (None, _) => {
            let fix = "add mode = \"open\" (a fixed request rate) or mode = \"closed\" (fixed \
                       connections)";
            Err(Problem::missing(at.key("mode"), fix))
        }
        (Some(RawLoadMode::Open), None) => {
            let fix = "mode = \"open\" needs requests per second, e.g. rate = 1000";
            Err(Problem::missing(at.key("rate"), fix))
        }
        (Some(RawLoadMode::Open), Some(rate)) if rate.is_finite() && rate > 0.0 => {
            Ok(LoadMode::Open { rate })
        }
        (Some(RawLoadMode::Open), Some(rate)) => {
            Err(Problem::value(at.key("rate"), number(rate), RATE))
        }
        (Some(RawLoadMode::Closed), None) => Ok(LoadMode::Closed {
            coalesce: raw.coalesce.unwrap_or(true),
            spin: raw.spin.unwrap_or(true),
        }),
        (Some(RawLoadMode::Closed), Some(rate)) => {
            let fix = "not used with mode = \"closed\" (each connection sends when its previous \
                       response arrives); remove rate or use mode = \"open\"";
            Err(Problem::value(at.key("rate"), number(rate), fix))
        }
    }
}

/// A humantime duration in whole milliseconds, the unit the wire carries.
fn duration(text: &str, key: KeyPath, example: &str) -> Result<Duration, Problem> {
    let parsed = humantime::parse_duration(text).map_err(|e| {
        let fix = format!("not a duration ({e}); write a number and a unit, e.g. {example}");
        Problem::value(key.clone(), quoted(text), &fix)
    })?;
    if parsed.subsec_nanos() % 1_000_000 != 0 {
        let fix = "must be a whole number of milliseconds (the agent counts in ms), e.g. \"1ms\"";
        return Err(Problem::value(key, quoted(text), fix));
    }
    Ok(parsed)
}

fn layouts(
    raw: Option<Vec<RawLayout>>,
    target: &Target,
    at: &KeyPath,
) -> Result<Vec<Layout>, Problem> {
    let raw = raw.unwrap_or_default();
    if raw.is_empty() {
        let fix = "add at least one [[layouts]] table with a name and replicas";
        return Err(Problem::about(at.clone(), fix));
    }
    let mut names = HashSet::new();
    let mut layouts = Vec::with_capacity(raw.len());
    for (index, raw) in raw.into_iter().enumerate() {
        let shown = raw.name.clone().filter(|name| !name.trim().is_empty());
        let swept = sweep::expand(raw, &at.item(index, shown.as_deref()))?;
        for raw in swept {
            let layout = layout(raw, target, at, index)?;
            if !names.insert(layout.name.clone()) {
                let text = format!(
                    "two layouts are named {:?}; names must be unique",
                    layout.name
                );
                return Err(Problem::about(at.clone(), &text));
            }
            layouts.push(layout);
        }
    }
    Ok(layouts)
}

/// The `index`th of `layouts`; once its name is known, paths show it: `layouts[1] ("split")`.
fn layout(
    raw: RawLayout,
    plan_target: &Target,
    layouts: &KeyPath,
    index: usize,
) -> Result<Layout, Problem> {
    let name = raw.name.ok_or_else(|| {
        let fix = "give each layout a unique name, e.g. name = \"per-node\"";
        Problem::missing(layouts.item(index, None).key("name"), fix)
    })?;
    let shown = Some(name.as_str()).filter(|name| !name.trim().is_empty());
    let at = layouts.item(index, shown);
    let name = non_empty(name, at.key("name"), LAYOUT_NAME)?;
    let replicas = match raw.replicas {
        None => return Err(Problem::missing(at.key("replicas"), REPLICAS)),
        Some(value) => {
            replicas(&value).ok_or_else(|| Problem::value(at.key("replicas"), &value, REPLICAS))?
        }
    };
    let threads = match raw.threads {
        None => Threads::Auto,
        Some(value) => {
            threads(&value).ok_or_else(|| Problem::value(at.key("threads"), &value, THREADS))?
        }
    };
    let memory = match &raw.memory {
        None => None,
        Some(value) => {
            Some(memory(value).ok_or_else(|| Problem::value(at.key("memory"), value, MEMORY))?)
        }
    };
    let smt = raw.smt.unwrap_or(Smt::All);
    let in_target = |name: &str| {
        raw.target
            .as_ref()
            .and_then(|t| t.knobs.as_ref())
            .is_some_and(|k| k.contains_key(name))
    };
    if let Some(name) = raw
        .knobs
        .iter()
        .flat_map(|k| k.keys())
        .find(|n| in_target(n))
    {
        let text = format!("also set in target.knobs; set {name} once");
        return Err(Problem::about(at.key("knobs").key(name), &text));
    }
    let target = match raw.target {
        Some(raw) => Some(target::layout_target(raw, plan_target, &at.key("target"))?),
        None => None,
    };
    // `[layouts.knobs]`: the layout's target (the plan's when it has none) with these knobs.
    let target = match &raw.knobs {
        None => target,
        Some(table) => {
            let own = knobs::knobs(table, &at.key("knobs"))?;
            let mut target = target.unwrap_or_else(|| plan_target.clone());
            target.knobs.extend(own);
            Some(target)
        }
    };
    let layout = |pin, memory, cpus| Layout {
        name: name.clone(),
        replicas,
        pin,
        memory,
        smt,
        threads,
        cpus,
        target: target.clone(),
    };

    if let Some(text) = raw.cpus {
        let cpus = normalized_cpus(&text)
            .ok_or_else(|| Problem::value(at.key("cpus"), quoted(&text), CPUS))?;
        if let Some(pin) = raw.pin {
            let fix = "not used with cpus (the cpus are the pinning); remove pin";
            return Err(Problem::value(at.key("pin"), quoted(pin_word(pin)), fix));
        }
        if replicas.level().is_some() {
            let fix = "cpus run every replica on the same CPUs: use a count, e.g. replicas = 1";
            return Err(Problem::value(
                at.key("replicas"),
                replicas_text(replicas),
                fix,
            ));
        }
        let memory = match (memory, raw.memory_nodes) {
            (Some(_), Some(_)) => {
                let fix = "memory is also set; keep one of them";
                return Err(Problem::about(at.key("memory_nodes"), fix));
            }
            (None, Some(nodes)) if nodes.is_empty() => {
                return Err(Problem::value(at.key("memory_nodes"), "[]", MEMORY_NODES))
            }
            (None, Some(nodes)) => Memory::Nodes(sorted(nodes)),
            (Some(memory), None) => memory,
            (None, None) => Memory::Local,
        };
        return Ok(layout(Pin::None, memory, Some(cpus)));
    }
    if let Some(nodes) = raw.memory_nodes {
        let fix = format!(
            "only used with cpus; without cpus write memory = {}",
            toml::Value::from(nodes.iter().map(|&n| i64::from(n)).collect::<Vec<_>>())
        );
        return Err(Problem::about(at.key("memory_nodes"), &fix));
    }

    let level_pin = replicas.level();
    let pin = raw.pin.or(level_pin).unwrap_or(Pin::None);
    if let (Some(level), Some(pin)) = (level_pin, raw.pin) {
        if pin != Pin::None && pin != level {
            let fix = format!(
                "does not go with replicas = {}; use pin = \"{}\" or pin = \"none\"",
                replicas_text(replicas),
                pin_word(level)
            );
            return Err(Problem::value(at.key("pin"), quoted(pin_word(pin)), &fix));
        }
    }
    let memory = memory.unwrap_or(match pin {
        Pin::None => Memory::None,
        _ => Memory::Local,
    });
    if memory == Memory::Local && pin == Pin::None {
        let pin_is = match raw.pin {
            Some(_) => "pin is \"none\"",
            None => "pin is \"none\" (the default for a replica count)",
        };
        let fix = format!(
            "local memory needs a node to be local to, and {pin_is}; \
             set pin = \"node\" or memory = \"none\""
        );
        return Err(Problem::value(at.key("memory"), "\"local\"", &fix));
    }
    Ok(layout(pin, memory, None))
}

impl Replicas {
    /// The pin level a per-unit count spreads over.
    fn level(self) -> Option<Pin> {
        match self {
            Replicas::Count(_) => None,
            Replicas::PerNode => Some(Pin::Node),
            Replicas::PerPackage => Some(Pin::Package),
            Replicas::PerL3 => Some(Pin::L3),
        }
    }
}

fn pin_word(pin: Pin) -> &'static str {
    match pin {
        Pin::None => "none",
        Pin::Node => "node",
        Pin::Package => "package",
        Pin::L3 => "l3",
        Pin::Core => "core",
    }
}

fn replicas_text(replicas: Replicas) -> String {
    match replicas {
        Replicas::Count(n) => n.to_string(),
        Replicas::PerNode => "\"per-node\"".to_owned(),
        Replicas::PerPackage => "\"per-package\"".to_owned(),
        Replicas::PerL3 => "\"per-l3\"".to_owned(),
    }
}

pub(super) fn replicas(value: &toml::Value) -> Option<Replicas> {
    match value {
        toml::Value::Integer(count) if *count > 0 => {
            u32::try_from(*count).ok().map(Replicas::Count)
        }
        toml::Value::String(word) => match word.as_str() {
            "per-node" => Some(Replicas::PerNode),
            "per-package" => Some(Replicas::PerPackage),
            "per-l3" => Some(Replicas::PerL3),
            _ => None,
        },
        _ => None,
    }
}

pub(super) fn threads(value: &toml::Value) -> Option<Threads> {
    match value {
        toml::Value::Integer(count) if *count > 0 => u32::try_from(*count).ok().map(Threads::Count),
        toml::Value::String(word) if word == "auto" => Some(Threads::Auto),
        _ => None,
    }
}

pub(super) fn memory(value: &toml::Value) -> Option<Memory> {
    match value {
        toml::Value::String(word) => match word.as_str() {
            "none" => Some(Memory::None),
            "local" => Some(Memory::Local),
            "interleave" => Some(Memory::Interleave),
            _ => None,
        },
        toml::Value::Array(items) if !items.is_empty() => {
            let nodes: Option<Vec<u32>> = items
                .iter()
                .map(|item| item.as_integer().and_then(|n| u32::try_from(n).ok()))
                .collect();
            nodes.map(|nodes| Memory::Nodes(sorted(nodes)))
        }
        _ => None,
    }
}

fn non_empty(text: String, key: KeyPath, fix: &str) -> Result<String, Problem> {
    if text.trim().is_empty() {
        return Err(Problem::value(key, quoted(&text), fix));
    }
    Ok(text)
}

/// A string as TOML would write it (close enough: Rust's escapes for the odd character).
fn quoted(text: &str) -> String {
    format!("{text:?}")
}

/// A float as TOML writes it: `5000`, `-5`, `2.5`, `nan`, `inf`.
fn number(value: f64) -> String {
    if value.is_nan() {
        "nan".to_owned()
    } else if value.is_infinite() {
        if value > 0.0 { "inf" } else { "-inf" }.to_owned()
    } else {
        value.to_string()
    }
}

#[cfg(test)]
mod tests {
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
            ("layouts.", "[[layouts]]\nzz = 1"),
            ("layouts.sweep.", "[[layouts]]\nsweep.zz = 1"),
            ("layouts.target.", "[[layouts]]\ntarget.zz = 1"),
            ("search.", "[search]\nzz = 1"),
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

    #[test]
    fn replicas_are_a_positive_u32_or_per_node() {
        use toml::Value;
        let cases = [
            (Value::Integer(1), Some(Replicas::Count(1))),
            (
                Value::Integer(i64::from(u32::MAX)),
                Some(Replicas::Count(u32::MAX)),
            ),
            (Value::Integer(i64::from(u32::MAX) + 1), None),
            (Value::Integer(0), None),
            (Value::Integer(-1), None),
            (Value::String("per-node".into()), Some(Replicas::PerNode)),
            (
                Value::String("per-package".into()),
                Some(Replicas::PerPackage),
            ),
            (Value::String("per-l3".into()), Some(Replicas::PerL3)),
            (Value::String("per-socket".into()), None),
            (Value::Float(2.0), None),
        ];
        for (value, expected) in cases {
            assert_eq!(replicas(&value), expected, "{value}");
        }
    }

    #[test]
    fn threads_and_memory_values() {
        use toml::Value;
        assert_eq!(threads(&Value::Integer(4)), Some(Threads::Count(4)));
        assert_eq!(threads(&Value::String("auto".into())), Some(Threads::Auto));
        assert_eq!(threads(&Value::Integer(0)), None);
        assert_eq!(threads(&Value::String("all".into())), None);
        let list = |v: &[i64]| Value::from(v.to_vec());
        assert_eq!(memory(&list(&[2, 0, 2])), Some(Memory::Nodes(vec![0, 2])));
        assert_eq!(memory(&list(&[])), None);
        assert_eq!(memory(&list(&[-1])), None);
        assert_eq!(
            memory(&Value::String("interleave".into())),
            Some(Memory::Interleave)
        );
        assert_eq!(memory(&Value::String("remote".into())), None);
    }

    #[test]
    fn numbers_print_as_toml_writes_them() {
        assert_eq!(number(-5.0), "-5");
        assert_eq!(number(2.5), "2.5");
        assert_eq!(number(f64::NAN), "nan");
        assert_eq!(number(f64::NEG_INFINITY), "-inf");
    }
}
