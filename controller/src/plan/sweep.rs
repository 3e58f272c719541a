//! Sweeps: `sweep.<key> = [values]` in a `[[layouts]]` table runs the layout once per value.
//!
//! `name = "r"` with `sweep.replicas = [1, 2, "per-node"]` becomes three layouts named
//! `r/replicas=1`, `r/replicas=2` and `r/replicas=per-node`, each validated like a layout
//! written by hand. Several sweep keys give every combination, in the order replicas, pin,
//! memory, smt, threads, then knobs in file order (`r/replicas=1/pin=node/gomaxprocs=2`). A
//! knob is swept as `sweep."knobs.gomaxprocs" = [1, 2, 4]` and named without its prefix
//! (`r/gomaxprocs=2`). A key may be swept or set, not both; each value is checked on its own so
//! that an error points at it (`sweep.replicas[2]`).

use super::knobs::{self, KNOB_NAME, KNOB_VALUE};
use super::layout::{memory, replicas, threads, Pin, Smt};
use super::problem::{KeyPath, Problem};
use super::raw::{RawLayout, RawSweep};
use super::validate::fixes::{MEMORY, PIN, REPLICAS, SMT, THREADS};

/// More layouts than anyone means to measure in one run: a typo, most likely.
const MAX_LAYOUTS: usize = 256;

/// The layouts `raw` stands for: itself without a sweep, else one per combination of values.
/// `at` is the layout's own path (`layouts.r`).
pub(super) fn expand(mut raw: RawLayout, at: &KeyPath) -> Result<Vec<RawLayout>, Problem> {
    let Some(sweep) = raw.sweep.take() else {
        return Ok(vec![raw]);
    };
    let RawSweep {
        replicas: swept_replicas,
        pin,
        memory: swept_memory,
        smt,
        threads: swept_threads,
        knobs: swept_knobs,
    } = sweep;
    let knob_set = |name: &str| {
        let own = raw.knobs.as_ref().is_some_and(|k| k.contains_key(name));
        let in_target = raw
            .target
            .as_ref()
            .and_then(|t| t.knobs.as_ref())
            .is_some_and(|k| k.contains_key(name));
        own || in_target
    };
    let mut keys: Vec<(Key, Option<Vec<toml::Value>>, bool)> = vec![
        (Key::Replicas, swept_replicas, raw.replicas.is_some()),
        (Key::Pin, pin, raw.pin.is_some()),
        (Key::Memory, swept_memory, raw.memory.is_some()),
        (Key::Smt, smt, raw.smt.is_some()),
        (Key::Threads, swept_threads, raw.threads.is_some()),
    ];
    for (name, values) in swept_knobs {
        let set = knob_set(&name);
        keys.push((Key::Knob(name), Some(values), set));
    }
    let mut variants = vec![raw];
    for (key, values, also_set) in keys {
        let Some(values) = values else { continue };
        let here = at.key("sweep").key(&key.path());
        if let Key::Knob(name) = &key {
            if !knobs::valid_name(name) {
                return Err(Problem::about(here, KNOB_NAME));
            }
        }
        if also_set {
            let text = format!("{} is also set directly; remove one of them", key.name());
            return Err(Problem::about(here, &text));
        }
        if values.is_empty() {
            let fix = "must list one or more values to sweep over";
            return Err(Problem::value(here, "[]", fix));
        }
        for (i, value) in values.iter().enumerate() {
            if let Err(fix) = check(&key, value) {
                return Err(Problem::value(here.element(i), value, fix));
            }
        }
        if variants.len().saturating_mul(values.len()) > MAX_LAYOUTS {
            let text =
                format!("the sweep gives more than {MAX_LAYOUTS} layouts; sweep fewer values");
            return Err(Problem::about(at.key("sweep"), &text));
        }
        variants = variants
            .into_iter()
            .flat_map(|variant| {
                values
                    .iter()
                    .map(|value| with_value(variant.clone(), &key, value))
                    .collect::<Vec<_>>()
            })
            .collect();
    }
    Ok(variants)
}

/// A sweepable key.
enum Key {
    Replicas,
    Pin,
    Memory,
    Smt,
    Threads,
    Knob(String),
}

impl Key {
    /// As the layout name shows it: `replicas`, `gomaxprocs`.
    fn name(&self) -> &str {
        match self {
            Key::Replicas => "replicas",
            Key::Pin => "pin",
            Key::Memory => "memory",
            Key::Smt => "smt",
            Key::Threads => "threads",
            Key::Knob(name) => name,
        }
    }

    /// As the sweep table writes it: `replicas`, `knobs.gomaxprocs`.
    fn path(&self) -> String {
        match self {
            Key::Knob(name) => format!("knobs.{name}"),
            other => other.name().to_owned(),
        }
    }
}

/// Whether `value` is valid for `key`, with the fix when not.
fn check(key: &Key, value: &toml::Value) -> Result<(), &'static str> {
    let (ok, fix) = match key {
        Key::Replicas => (replicas(value).is_some(), REPLICAS),
        Key::Pin => (value.clone().try_into::<Pin>().is_ok(), PIN),
        Key::Memory => (memory(value).is_some(), MEMORY),
        Key::Smt => (value.clone().try_into::<Smt>().is_ok(), SMT),
        Key::Threads => (threads(value).is_some(), THREADS),
        Key::Knob(_) => (knobs::text(value).is_some(), KNOB_VALUE),
    };
    if ok {
        Ok(())
    } else {
        Err(fix)
    }
}

/// `raw` with `key` set to `value` (already checked) and its name suffixed `/key=value`.
fn with_value(mut raw: RawLayout, key: &Key, value: &toml::Value) -> RawLayout {
    match key {
        Key::Replicas => raw.replicas = Some(value.clone()),
        Key::Pin => raw.pin = value.clone().try_into().ok(),
        Key::Memory => raw.memory = Some(value.clone()),
        Key::Smt => raw.smt = value.clone().try_into().ok(),
        Key::Threads => raw.threads = Some(value.clone()),
        Key::Knob(name) => {
            raw.knobs
                .get_or_insert_with(toml::Table::new)
                .insert(name.clone(), value.clone());
        }
    }
    if let Some(name) = &mut raw.name {
        name.push_str(&format!("/{}={}", key.name(), text(value)));
    }
    raw
}

/// A value as a layout name shows it: `1`, `per-node`, `[0,1]`.
fn text(value: &toml::Value) -> String {
    match value {
        toml::Value::String(word) => word.clone(),
        toml::Value::Array(items) => {
            let items: Vec<String> = items.iter().map(text).collect();
            format!("[{}]", items.join(","))
        }
        other => other.to_string(),
    }
}
