//! A validated layout and its wire form: the values a `[[layouts]]` table may hold.

use numaload_proto::{cpulist, v1};
use serde::{Deserialize, Serialize};

/// One way of running the target, measured and reported on its own.
///
/// Serialized as the file writes it (`replicas = "per-node"`, `memory = [0]`, `threads = "auto"`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Layout {
    pub name: String,
    pub replicas: Replicas,
    /// [`Pin::None`] with explicit `cpus` (the CPUs are the pinning).
    pub pin: Pin,
    /// Never [`Memory::Local`] with `pin = "none"` unless `cpus` are given.
    pub memory: Memory,
    #[serde(default = "Smt::all")]
    pub smt: Smt,
    #[serde(default)]
    pub threads: Threads,
    /// Explicit form: every replica runs on exactly these CPUs (a normalized cpulist).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpus: Option<String>,
    /// This layout's own target (the plan's with the keys the layout set replaced).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<super::Target>,
}

impl Layout {
    /// A layout with default `smt`, `threads` and no explicit CPUs.
    pub fn new(name: &str, replicas: Replicas, pin: Pin, memory: Memory) -> Self {
        Self {
            name: name.to_owned(),
            replicas,
            pin,
            memory,
            smt: Smt::All,
            threads: Threads::Auto,
            cpus: None,
            target: None,
        }
    }
}

/// How many replicas a layout runs. Serialized as the file writes it: `4` or `"per-node"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    into = "CountOrWord<ReplicasWord>",
    try_from = "CountOrWord<ReplicasWord>"
)]
pub enum Replicas {
    /// This many replicas (at least one).
    Count(u32),
    /// One replica per NUMA domain of the host, as the agent finds them.
    PerNode,
    /// One replica per package (socket).
    PerPackage,
    /// One replica per last-level-cache (L3) domain.
    PerL3,
    /// One replica per NUMA domain holding the node of the network interface the load arrives
    /// on (`load.interface`, else the one with the agent's replica_address).
    NicLocal,
}

/// Where a layout's replicas may run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Pin {
    /// Anywhere the agent allows; the kernel schedules.
    None,
    /// Each replica on the CPUs of one NUMA domain.
    Node,
    /// Each replica on the CPUs of one package.
    Package,
    /// Each replica on the CPUs of one L3 domain.
    L3,
    /// Each replica on the hardware threads of one core.
    Core,
}

/// Where a layout's replicas allocate memory. Serialized as a word or a node list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "MemoryText", try_from = "MemoryText")]
pub enum Memory {
    /// The kernel's default policy.
    None,
    /// Bound to the DRAM near the replica's CPUs (its domain's default DRAM node).
    Local,
    /// Interleaved over the DRAM nodes near the replica's CPUs.
    Interleave,
    /// Bound to exactly these NUMA nodes (sorted, not empty).
    Nodes(Vec<u32>),
}

/// Which hardware threads of each core a replica uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Smt {
    /// Every hardware thread.
    All,
    /// One hardware thread per core.
    OnePerCore,
}

impl Smt {
    fn all() -> Self {
        Smt::All
    }
}

/// Worker threads per replica. Serialized as `"auto"` or a count.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "CountOrWord<AutoWord>", try_from = "CountOrWord<AutoWord>")]
pub enum Threads {
    /// As many as CPUs in the replica's set.
    #[default]
    Auto,
    /// This many (at least one).
    Count(u32),
}

impl Layout {
    pub(super) fn to_spec(&self) -> v1::LayoutSpec {
        use v1::layout_spec::Replicas as Wire;
        let replicas = match self.replicas {
            Replicas::Count(count) => Wire::Count(count),
            Replicas::PerNode => Wire::PerNode(true),
            Replicas::PerPackage => Wire::PerPackage(true),
            Replicas::PerL3 => Wire::PerL3(true),
            Replicas::NicLocal => Wire::NicLocal(true),
        };
        let pin = match (&self.cpus, self.pin) {
            // Explicit CPUs are their own pinning.
            (Some(_), _) => v1::Pin::Unspecified,
            (None, Pin::None) => v1::Pin::None,
            (None, Pin::Node) => v1::Pin::Node,
            (None, Pin::Package) => v1::Pin::Package,
            (None, Pin::L3) => v1::Pin::L3,
            (None, Pin::Core) => v1::Pin::Core,
        };
        let (memory, memory_nodes) = match &self.memory {
            Memory::None => (v1::MemoryPolicy::None, Vec::new()),
            Memory::Local => (v1::MemoryPolicy::Local, Vec::new()),
            Memory::Interleave => (v1::MemoryPolicy::Interleave, Vec::new()),
            Memory::Nodes(nodes) => (v1::MemoryPolicy::Nodes, nodes.clone()),
        };
        let smt = match self.smt {
            Smt::All => v1::Smt::All,
            Smt::OnePerCore => v1::Smt::OnePerCore,
        };
        v1::LayoutSpec {
            name: self.name.clone(),
            replicas: Some(replicas),
            pin: pin as i32,
            memory: memory as i32,
            memory_nodes,
            smt: smt as i32,
            threads: match self.threads {
                Threads::Auto => 0,
                Threads::Count(n) => n,
            },
            cpus: self.cpus.clone().unwrap_or_default(),
            target: self.target.as_ref().map(super::Target::to_spec),
        }
    }
}

/// A count or one of a few words, as TOML and JSON write them.
#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum CountOrWord<W> {
    Count(u32),
    Word(W),
}

#[derive(Serialize, Deserialize)]
enum ReplicasWord {
    #[serde(rename = "per-node")]
    PerNode,
    #[serde(rename = "per-package")]
    PerPackage,
    #[serde(rename = "per-l3")]
    PerL3,
    #[serde(rename = "nic-local")]
    NicLocal,
}

#[derive(Serialize, Deserialize)]
enum AutoWord {
    #[serde(rename = "auto")]
    Auto,
}

impl From<Replicas> for CountOrWord<ReplicasWord> {
    fn from(replicas: Replicas) -> Self {
        match replicas {
            Replicas::Count(count) => CountOrWord::Count(count),
            Replicas::PerNode => CountOrWord::Word(ReplicasWord::PerNode),
            Replicas::PerPackage => CountOrWord::Word(ReplicasWord::PerPackage),
            Replicas::PerL3 => CountOrWord::Word(ReplicasWord::PerL3),
            Replicas::NicLocal => CountOrWord::Word(ReplicasWord::NicLocal),
        }
    }
}

impl TryFrom<CountOrWord<ReplicasWord>> for Replicas {
    type Error = &'static str;

    fn try_from(text: CountOrWord<ReplicasWord>) -> Result<Self, Self::Error> {
        Ok(match text {
            CountOrWord::Count(0) => return Err("replicas must be at least 1"),
            CountOrWord::Count(count) => Replicas::Count(count),
            CountOrWord::Word(ReplicasWord::PerNode) => Replicas::PerNode,
            CountOrWord::Word(ReplicasWord::PerPackage) => Replicas::PerPackage,
            CountOrWord::Word(ReplicasWord::PerL3) => Replicas::PerL3,
            CountOrWord::Word(ReplicasWord::NicLocal) => Replicas::NicLocal,
        })
    }
}

impl From<Threads> for CountOrWord<AutoWord> {
    fn from(threads: Threads) -> Self {
        match threads {
            Threads::Auto => CountOrWord::Word(AutoWord::Auto),
            Threads::Count(count) => CountOrWord::Count(count),
        }
    }
}

impl TryFrom<CountOrWord<AutoWord>> for Threads {
    type Error = &'static str;

    fn try_from(text: CountOrWord<AutoWord>) -> Result<Self, Self::Error> {
        Ok(match text {
            CountOrWord::Count(0) => return Err("threads must be at least 1"),
            CountOrWord::Count(count) => Threads::Count(count),
            CountOrWord::Word(AutoWord::Auto) => Threads::Auto,
        })
    }
}

/// The serialized form of [`Memory`]: a word or a node list.
#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum MemoryText {
    Nodes(Vec<u32>),
    Word(MemoryWord),
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum MemoryWord {
    None,
    Local,
    Interleave,
}

impl From<Memory> for MemoryText {
    fn from(memory: Memory) -> Self {
        match memory {
            Memory::None => MemoryText::Word(MemoryWord::None),
            Memory::Local => MemoryText::Word(MemoryWord::Local),
            Memory::Interleave => MemoryText::Word(MemoryWord::Interleave),
            Memory::Nodes(nodes) => MemoryText::Nodes(nodes),
        }
    }
}

impl TryFrom<MemoryText> for Memory {
    type Error = &'static str;

    fn try_from(text: MemoryText) -> Result<Self, Self::Error> {
        Ok(match text {
            MemoryText::Nodes(nodes) if nodes.is_empty() => {
                return Err("a memory node list must not be empty")
            }
            MemoryText::Nodes(nodes) => Memory::Nodes(sorted(nodes)),
            MemoryText::Word(MemoryWord::None) => Memory::None,
            MemoryText::Word(MemoryWord::Local) => Memory::Local,
            MemoryText::Word(MemoryWord::Interleave) => Memory::Interleave,
        })
    }
}

pub(super) fn sorted(mut nodes: Vec<u32>) -> Vec<u32> {
    nodes.sort_unstable();
    nodes.dedup();
    nodes
}

/// A cpulist as the agent reads it, normalized (`"0-3,8"`); `None` when it is not one.
pub(super) fn normalized_cpus(text: &str) -> Option<String> {
    let cpus = cpulist::parse(text).ok()?;
    (!cpus.is_empty()).then(|| cpulist::format(&cpus))
}

/// `replicas` as the file writes it: a positive count or `"per-node"`, `"per-package"`,
/// `"per-l3"`.
pub(super) fn replicas(value: &toml::Value) -> Option<Replicas> {
    match value {
        toml::Value::Integer(count) if *count > 0 => {
            u32::try_from(*count).ok().map(Replicas::Count)
        }
        toml::Value::String(word) => match word.as_str() {
            "per-node" => Some(Replicas::PerNode),
            "per-package" => Some(Replicas::PerPackage),
            "per-l3" => Some(Replicas::PerL3),
            "nic-local" => Some(Replicas::NicLocal),
            _ => None,
        },
        _ => None,
    }
}

/// `threads` as the file writes it: a positive count or `"auto"`.
pub(super) fn threads(value: &toml::Value) -> Option<Threads> {
    match value {
        toml::Value::Integer(count) if *count > 0 => u32::try_from(*count).ok().map(Threads::Count),
        toml::Value::String(word) if word == "auto" => Some(Threads::Auto),
        _ => None,
    }
}

/// `memory` as the file writes it: `"none"`, `"local"`, `"interleave"` or a non-empty list
/// of NUMA nodes (sorted, without repeats).
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
