//! The layout policy as the agent understands it, and its reading from the wire.

use numaload_proto::{cpulist, v1};
use serde::Serialize;

use super::level::Level;
use super::PlacementError;

/// How many replicas a layout runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Replicas {
    /// Exactly this many.
    Count(u32),
    /// One per NUMA domain.
    PerNode,
    /// One per package (socket).
    PerPackage,
    /// One per last-level-cache domain.
    PerL3,
    /// One per NUMA domain holding a node of the network interface the load arrives on
    /// ([`Layout::nic_nodes`]).
    NicLocal,
}

/// Where replicas may run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Pin {
    /// On any CPU of the replica pool.
    None,
    /// Each on the CPUs of its own NUMA domain.
    Node,
    /// Each on the CPUs of its own package.
    Package,
    /// Each on the CPUs of its own last-level-cache domain.
    L3,
    /// Each on the PUs of its own core.
    Core,
}

/// Where replicas allocate memory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Memory {
    /// Wherever the kernel likes: no memory policy is set.
    None,
    /// Bound to the DRAM near the replica's CPUs.
    Local,
    /// Interleaved over the DRAM nodes near the replica's CPUs.
    Interleave,
    /// Bound to exactly these nodes (sorted, not empty).
    Nodes(Vec<u32>),
}

/// Which hardware threads of each core a replica uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Smt {
    /// Every allowed PU.
    All,
    /// The lowest allowed PU of each core.
    OnePerCore,
}

/// A validated layout policy: the plan's `[[layouts]]` table without its unknowns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Layout {
    /// The layout's name in the plan, used in errors and reports.
    pub name: String,
    /// How many replicas.
    pub replicas: Replicas,
    /// CPU pinning (`Pin::None` with explicit `cpus`).
    pub pin: Pin,
    /// Memory policy.
    pub memory: Memory,
    /// Hardware threads per core.
    pub smt: Smt,
    /// Worker threads per replica; `None` = as many as CPUs in its set.
    pub threads: Option<u32>,
    /// Explicit form: every replica runs on exactly these CPUs (sorted, not empty).
    pub cpus: Option<Vec<u32>>,
    /// `nic-local`: the NUMA nodes of the network interface the load arrives on, sorted; set by
    /// the agent from its host (the wire does not carry them).
    pub nic_nodes: Vec<u32>,
}

impl Layout {
    /// A layout with the defaults of everything but its replica count, pinning and memory.
    pub fn new(name: &str, replicas: Replicas, pin: Pin, memory: Memory) -> Self {
        Self {
            name: name.to_owned(),
            replicas,
            pin,
            memory,
            smt: Smt::All,
            threads: None,
            cpus: None,
            nic_nodes: Vec::new(),
        }
    }
}

impl Pin {
    pub(super) fn level(self) -> Option<Level> {
        match self {
            Pin::None => None,
            Pin::Node => Some(Level::Node),
            Pin::Package => Some(Level::Package),
            Pin::L3 => Some(Level::L3),
            Pin::Core => Some(Level::Core),
        }
    }
}

impl Replicas {
    pub(super) fn level(self) -> Option<Level> {
        match self {
            Replicas::Count(_) => None,
            Replicas::PerNode => Some(Level::Node),
            Replicas::PerPackage => Some(Level::Package),
            Replicas::PerL3 => Some(Level::L3),
            Replicas::NicLocal => Some(Level::Node),
        }
    }

    pub(super) fn word(self) -> String {
        match self {
            Replicas::Count(n) => n.to_string(),
            Replicas::PerNode => "\"per-node\"".to_owned(),
            Replicas::PerPackage => "\"per-package\"".to_owned(),
            Replicas::PerL3 => "\"per-l3\"".to_owned(),
            Replicas::NicLocal => "\"nic-local\"".to_owned(),
        }
    }
}

const PIN_CHOICES: &str = "\"none\", \"node\", \"package\", \"l3\" or \"core\"";
const MEMORY_CHOICES: &str = "\"none\", \"local\", \"interleave\" or a node list";
const REPLICAS_CHOICES: &str =
    "a count, \"per-node\", \"per-package\", \"per-l3\" or \"nic-local\"";
const SMT_CHOICES: &str = "\"all\" or \"one-per-core\"";

impl TryFrom<&v1::LayoutSpec> for Layout {
    type Error = PlacementError;

    fn try_from(spec: &v1::LayoutSpec) -> Result<Self, Self::Error> {
        use v1::layout_spec::Replicas as WireReplicas;
        let layout = || spec.name.clone();
        let unknown = |field, value, choices| PlacementError::UnknownValue {
            layout: layout(),
            field,
            value,
            choices,
        };
        let unspecified = |field, choices| PlacementError::Unspecified {
            layout: layout(),
            field,
            choices,
        };
        let explicit_cpus = !spec.cpus.trim().is_empty();

        let replicas = match spec.replicas {
            Some(WireReplicas::Count(0)) => {
                return Err(PlacementError::ZeroReplicas { layout: layout() })
            }
            Some(WireReplicas::Count(n)) => Replicas::Count(n),
            Some(WireReplicas::PerNode(true)) => Replicas::PerNode,
            Some(WireReplicas::PerPackage(true)) => Replicas::PerPackage,
            Some(WireReplicas::PerL3(true)) => Replicas::PerL3,
            Some(WireReplicas::NicLocal(true)) => Replicas::NicLocal,
            // `per_node = false` says what the layout is not, not what it is.
            Some(WireReplicas::PerNode(false))
            | Some(WireReplicas::PerPackage(false))
            | Some(WireReplicas::PerL3(false))
            | Some(WireReplicas::NicLocal(false))
            | None => return Err(unspecified("replicas", REPLICAS_CHOICES)),
        };
        let pin = match v1::Pin::try_from(spec.pin) {
            Ok(v1::Pin::None) => Pin::None,
            Ok(v1::Pin::Node) => Pin::Node,
            Ok(v1::Pin::Package) => Pin::Package,
            Ok(v1::Pin::L3) => Pin::L3,
            Ok(v1::Pin::Core) => Pin::Core,
            // Explicit CPUs are their own pinning.
            Ok(v1::Pin::Unspecified) if explicit_cpus => Pin::None,
            Ok(v1::Pin::Unspecified) => return Err(unspecified("pin", PIN_CHOICES)),
            Err(_) => return Err(unknown("pin", spec.pin, PIN_CHOICES)),
        };
        let mut nodes = spec.memory_nodes.clone();
        nodes.sort_unstable();
        nodes.dedup();
        let memory = match v1::MemoryPolicy::try_from(spec.memory) {
            Ok(v1::MemoryPolicy::None) => Memory::None,
            Ok(v1::MemoryPolicy::Local) => Memory::Local,
            Ok(v1::MemoryPolicy::Interleave) => Memory::Interleave,
            Ok(v1::MemoryPolicy::Nodes) if !nodes.is_empty() => Memory::Nodes(nodes),
            Ok(v1::MemoryPolicy::Nodes) => {
                return Err(unspecified("memory_nodes", "one or more NUMA node numbers"))
            }
            Ok(v1::MemoryPolicy::Unspecified) => return Err(unspecified("memory", MEMORY_CHOICES)),
            Err(_) => return Err(unknown("memory", spec.memory, MEMORY_CHOICES)),
        };
        let smt = match v1::Smt::try_from(spec.smt) {
            // Older controllers do not send it: every PU, as before.
            Ok(v1::Smt::All) | Ok(v1::Smt::Unspecified) => Smt::All,
            Ok(v1::Smt::OnePerCore) => Smt::OnePerCore,
            Err(_) => return Err(unknown("smt", spec.smt, SMT_CHOICES)),
        };
        let cpus = if explicit_cpus {
            let cpus = cpulist::parse(&spec.cpus).map_err(|_| PlacementError::Unspecified {
                layout: layout(),
                field: "cpus",
                choices: "a CPU list such as \"0-7,16-23\"",
            })?;
            Some(cpus)
        } else {
            None
        };
        Ok(Layout {
            name: spec.name.clone(),
            replicas,
            pin,
            memory,
            smt,
            threads: (spec.threads > 0).then_some(spec.threads),
            cpus,
            nic_nodes: Vec::new(),
        })
    }
}
