//! The levels of a host's topology a layout pins replicas to or spreads them over, and the
//! words a plan and its errors use for each.

use serde::Serialize;

use crate::topology::HostTopology;

/// A level of the topology replicas can be pinned to or spread over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Level {
    /// NUMA domains.
    Node,
    /// Packages.
    Package,
    /// Last-level-cache domains.
    L3,
    /// Cores.
    Core,
}

impl Level {
    pub(super) fn units(self, topology: &HostTopology) -> Vec<&[u32]> {
        match self {
            Level::Node => topology.domains.iter().map(|d| d.cpus.as_slice()).collect(),
            Level::Package => topology
                .packages_cpus
                .iter()
                .map(|d| d.cpus.as_slice())
                .collect(),
            Level::L3 => topology
                .l3_domains
                .iter()
                .map(|d| d.cpus.as_slice())
                .collect(),
            Level::Core => topology.core_cpus.iter().map(Vec::as_slice).collect(),
        }
    }

    /// `"NUMA domain"`, `"package"`, ...
    pub fn noun(self) -> &'static str {
        match self {
            Level::Node => "NUMA domain",
            Level::Package => "package",
            Level::L3 => "L3 domain",
            Level::Core => "core",
        }
    }

    /// The word `pin` takes for this level.
    pub fn pin_word(self) -> &'static str {
        match self {
            Level::Node => "node",
            Level::Package => "package",
            Level::L3 => "l3",
            Level::Core => "core",
        }
    }

    /// How to ask for "at most `n`" replicas at this level.
    pub(super) fn at_most(self, n: usize) -> String {
        match self {
            Level::Node => format!("use replicas = \"per-node\" or at most {n}"),
            Level::Package => format!("use replicas = \"per-package\" or at most {n}"),
            Level::L3 => format!("use replicas = \"per-l3\" or at most {n}"),
            Level::Core => format!("use at most {n}"),
        }
    }
}
