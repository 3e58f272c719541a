//! `[[layouts]]` → [`Layout`]s: sweeps expanded, names unique, each layout's replicas, pinning,
//! memory, CPUs and own target checked against one another.

use std::collections::HashSet;

use super::super::error::{KeyPath, Problem};
use super::super::knobs;
use super::super::layout::{normalized_cpus, sorted};
use super::super::raw::RawLayout;
use super::super::target;
use super::super::{sweep, Layout, Memory, Pin, Replicas, Smt, Target, Threads};
use super::{non_empty, quoted, CPUS, LAYOUT_NAME, MEMORY, MEMORY_NODES, REPLICAS, THREADS};

pub(super) fn layouts(
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

pub(in crate::plan) fn replicas(value: &toml::Value) -> Option<Replicas> {
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

pub(in crate::plan) fn threads(value: &toml::Value) -> Option<Threads> {
    match value {
        toml::Value::Integer(count) if *count > 0 => u32::try_from(*count).ok().map(Threads::Count),
        toml::Value::String(word) if word == "auto" => Some(Threads::Auto),
        _ => None,
    }
}

pub(in crate::plan) fn memory(value: &toml::Value) -> Option<Memory> {
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
