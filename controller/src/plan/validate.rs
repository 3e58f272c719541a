//! Raw plan → [`Plan`]: defaults applied, ranges checked, one [`Problem`] for the first thing
//! wrong. Pure: no I/O, nothing about the host (the agent checks what needs its topology).

use std::collections::HashSet;
use std::time::Duration;

use super::error::{KeyPath, Problem};
use super::raw::{RawLayout, RawLoad, RawLoadMode, RawPlan, RawTarget};
use super::{Layout, Load, LoadMode, Memory, Pin, Plan, Replicas, Target};

const MAX_WORK_US: u64 = 1_000_000;
const CONNECTIONS: std::ops::RangeInclusive<u32> = 1..=10_000;
const MAX_DURATION: Duration = Duration::from_secs(3600);
const DEFAULT_CONNECTIONS: u32 = 16;
const DEFAULT_WARMUP: Duration = Duration::from_secs(1);
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);

const PLAN_NAME: &str = "must be a non-empty string, e.g. name = \"quickstart\"";
const TARGET_NAME: &str = "must be lowercase letters, digits and '-', e.g. \"async\"";
const WORK_US: &str = "must be a whole number of microseconds from 0 to 1000000";
const MODE: &str = "must be \"open\" (a fixed request rate) or \"closed\" (fixed connections)";
const RATE: &str = "must be a positive number of requests per second";
const CONNECTIONS_FIX: &str = "must be a whole number from 1 to 10000";
const DURATION: &str = "must be a duration with a unit, e.g. \"10s\" or \"500ms\"";
const RESERVE_CPUS: &str = "must be a whole number of CPUs, 0 or more";
const LAYOUTS: &str = "must be one or more [[layouts]] tables (double brackets)";
const LAYOUT_NAME: &str = "must be a non-empty string, e.g. name = \"per-node\"";
const REPLICAS: &str = "use a positive count or \"per-node\"";
const PIN: &str = "must be \"none\" or \"node\"";
const MEMORY: &str = "must be \"local\" or \"none\"";

/// What a key must hold, by its schema path (`layouts.pin`): the fix shown when the file has a
/// value of the wrong type or an unknown word there.
pub(super) fn expectation(schema: &str) -> Option<&'static str> {
    Some(match schema {
        "name" => PLAN_NAME,
        "target" => "must be a table: a [target] line followed by its keys",
        "target.name" => TARGET_NAME,
        "target.work_us" => WORK_US,
        "load" => "must be a table: a [load] line followed by its keys",
        "load.mode" => MODE,
        "load.rate" => RATE,
        "load.connections" => CONNECTIONS_FIX,
        "load.duration" | "load.warmup" | "load.timeout" => DURATION,
        "load.reserve_cpus" => RESERVE_CPUS,
        "layouts" => LAYOUTS,
        "layouts.name" => LAYOUT_NAME,
        "layouts.replicas" => REPLICAS,
        "layouts.pin" => PIN,
        "layouts.memory" => MEMORY,
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
    Ok(Plan {
        name,
        target: target(raw.target, &root.key("target"))?,
        load: load(raw.load, &root.key("load"))?,
        layouts: layouts(raw.layouts, &root.key("layouts"))?,
    })
}

fn target(raw: Option<RawTarget>, at: &KeyPath) -> Result<Target, Problem> {
    let raw = raw.ok_or_else(|| {
        let fix = "add a [target] table naming what each replica runs, e.g. name = \"async\"";
        Problem::missing(at.clone(), fix)
    })?;
    let name = raw.name.ok_or_else(|| {
        let fix = "name a target the agent knows, e.g. name = \"async\"";
        Problem::missing(at.key("name"), fix)
    })?;
    let well_formed = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !well_formed {
        return Err(Problem::value(at.key("name"), quoted(&name), TARGET_NAME));
    }
    let work_us = raw.work_us.unwrap_or(0);
    if work_us > MAX_WORK_US {
        return Err(Problem::value(at.key("work_us"), work_us, WORK_US));
    }
    Ok(Target { name, work_us })
}

fn load(raw: Option<RawLoad>, at: &KeyPath) -> Result<Load, Problem> {
    let raw = raw.ok_or_else(|| {
        let fix = "add a [load] table with at least mode, rate (for open loop) and duration";
        Problem::missing(at.clone(), fix)
    })?;
    let mode = mode(raw.mode, raw.rate, at)?;
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
    })
}

/// Open loop needs a rate, closed loop refuses one.
fn mode(mode: Option<RawLoadMode>, rate: Option<f64>, at: &KeyPath) -> Result<LoadMode, Problem> {
    match (mode, rate) {
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
        (Some(RawLoadMode::Closed), None) => Ok(LoadMode::Closed),
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

fn layouts(raw: Option<Vec<RawLayout>>, at: &KeyPath) -> Result<Vec<Layout>, Problem> {
    let raw = raw.unwrap_or_default();
    if raw.is_empty() {
        let fix = "add at least one [[layouts]] table with a name and replicas";
        return Err(Problem::about(at.clone(), fix));
    }
    let mut names = HashSet::new();
    let mut layouts = Vec::with_capacity(raw.len());
    for (index, raw) in raw.into_iter().enumerate() {
        let layout = layout(raw, at, index)?;
        if !names.insert(layout.name.clone()) {
            let text = format!(
                "two layouts are named {:?}; names must be unique",
                layout.name
            );
            return Err(Problem::about(at.clone(), &text));
        }
        layouts.push(layout);
    }
    Ok(layouts)
}

/// The `index`th of `layouts`; once its name is known, paths show it: `layouts[1] ("split")`.
fn layout(raw: RawLayout, layouts: &KeyPath, index: usize) -> Result<Layout, Problem> {
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
    let pin = raw.pin.unwrap_or(match replicas {
        Replicas::PerNode => Pin::Node,
        Replicas::Count(_) => Pin::None,
    });
    let memory = raw.memory.unwrap_or(match pin {
        Pin::Node => Memory::Local,
        Pin::None => Memory::None,
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
    Ok(Layout {
        name,
        replicas,
        pin,
        memory,
    })
}

fn replicas(value: &toml::Value) -> Option<Replicas> {
    match value {
        toml::Value::Integer(count) if *count > 0 => {
            u32::try_from(*count).ok().map(Replicas::Count)
        }
        toml::Value::String(word) if word == "per-node" => Some(Replicas::PerNode),
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
            ("layouts.", "[[layouts]]\nzz = 1"),
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
            (Value::String("per-socket".into()), None),
            (Value::Float(2.0), None),
        ];
        for (value, expected) in cases {
            assert_eq!(replicas(&value), expected, "{value}");
        }
    }

    #[test]
    fn numbers_print_as_toml_writes_them() {
        assert_eq!(number(-5.0), "-5");
        assert_eq!(number(2.5), "2.5");
        assert_eq!(number(f64::NAN), "nan");
        assert_eq!(number(f64::NEG_INFINITY), "-inf");
    }
}
