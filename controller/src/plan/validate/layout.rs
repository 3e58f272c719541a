//! `[[layouts]]` → [`Layout`]s: sweeps expanded, names unique, each layout's replicas, pinning,
//! memory, CPUs and own target checked against one another.

use std::collections::HashSet;

use super::super::knobs;
use super::super::layout::{memory, normalized_cpus, replicas, sorted, threads};
use super::super::problem::{non_empty, quoted, KeyPath, Problem};
use super::super::raw::RawLayout;
use super::super::{sweep, Layout, Memory, Pin, Replicas, Smt, Target, Threads};
use super::fixes::{CPUS, LAYOUT_NAME, MEMORY, MEMORY_NODES, REPLICAS, THREADS};
use super::target;

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

/// The `index`th of `layouts`; once its name is known, paths show it: `layouts.split`.
#[allow(
    clippy::too_many_lines,
    reason = "one layout table's keys checked in the order of the plan reference"
)]
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
            Replicas::NicLocal => Some(Pin::Node),
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
        Replicas::NicLocal => "\"nic-local\"".to_owned(),
    }
}
