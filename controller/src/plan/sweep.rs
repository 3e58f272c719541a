//! Sweeps: `sweep.<key> = [values]` in a `[[layouts]]` table runs the layout once per value.
//!
//! `name = "r"` with `sweep.replicas = [1, 2, "per-node"]` becomes three layouts named
//! `r/replicas=1`, `r/replicas=2` and `r/replicas=per-node`, each validated like a layout
//! written by hand. Several sweep keys give every combination, in the order replicas, pin,
//! memory, smt, threads (`r/replicas=1/pin=node`). A key may be swept or set, not both; each
//! value is checked on its own so that an error points at it (`sweep.replicas[2]`).

use super::error::{KeyPath, Problem};
use super::raw::{RawLayout, RawSweep};
use super::validate::{memory, replicas, threads, MEMORY, PIN, REPLICAS, SMT, THREADS};
use super::{Pin, Smt};

/// More layouts than anyone means to measure in one run: a typo, most likely.
const MAX_LAYOUTS: usize = 256;

/// The layouts `raw` stands for: itself without a sweep, else one per combination of values.
/// `at` is the layout's own path (`layouts[0] ("r")`).
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
    } = sweep;
    let keys: [(&str, Option<Vec<toml::Value>>, bool); 5] = [
        ("replicas", swept_replicas, raw.replicas.is_some()),
        ("pin", pin, raw.pin.is_some()),
        ("memory", swept_memory, raw.memory.is_some()),
        ("smt", smt, raw.smt.is_some()),
        ("threads", swept_threads, raw.threads.is_some()),
    ];
    let mut variants = vec![raw];
    for (key, values, also_set) in keys {
        let Some(values) = values else { continue };
        let here = at.key("sweep").key(key);
        if also_set {
            let text = format!("{key} is also set directly; remove one of them");
            return Err(Problem::about(here, &text));
        }
        if values.is_empty() {
            let fix = "must list one or more values to sweep over";
            return Err(Problem::value(here, "[]", fix));
        }
        for (i, value) in values.iter().enumerate() {
            if let Err(fix) = check(key, value) {
                return Err(Problem::value(here.item(i, None), value, fix));
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
                    .map(move |value| with_value(variant.clone(), key, value))
            })
            .collect();
    }
    Ok(variants)
}

/// Whether `value` is valid for `key`, with the fix when not.
fn check(key: &str, value: &toml::Value) -> Result<(), &'static str> {
    let ok = match key {
        "replicas" => replicas(value).is_some(),
        "pin" => value.clone().try_into::<Pin>().is_ok(),
        "memory" => memory(value).is_some(),
        "smt" => value.clone().try_into::<Smt>().is_ok(),
        _ => threads(value).is_some(),
    };
    if ok {
        return Ok(());
    }
    Err(match key {
        "replicas" => REPLICAS,
        "pin" => PIN,
        "memory" => MEMORY,
        "smt" => SMT,
        _ => THREADS,
    })
}

/// `raw` with `key` set to `value` (already checked) and its name suffixed `/key=value`.
fn with_value(mut raw: RawLayout, key: &str, value: &toml::Value) -> RawLayout {
    match key {
        "replicas" => raw.replicas = Some(value.clone()),
        "pin" => raw.pin = value.clone().try_into().ok(),
        "memory" => raw.memory = Some(value.clone()),
        "smt" => raw.smt = value.clone().try_into().ok(),
        _ => raw.threads = Some(value.clone()),
    }
    if let Some(name) = &mut raw.name {
        name.push_str(&format!("/{key}={}", text(value)));
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
