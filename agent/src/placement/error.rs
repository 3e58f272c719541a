//! [`PlacementError`]: why a layout cannot be placed, one line naming the plan field (its key
//! path as `--set` takes it, [`keys`]) and the fix.

use numaload_proto::{cpulist, keys};

use super::level::Level;

/// A layout that cannot be placed, naming the plan field at fault and the fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlacementError {
    /// A required enum field was left unset.
    #[error("{at}.{field}: unspecified; use {choices}", at = keys::layout(layout))]
    Unspecified {
        /// Layout name.
        layout: String,
        /// Field name.
        field: &'static str,
        /// Accepted values, quoted, for the message.
        choices: &'static str,
    },
    /// An enum field carries a value this agent does not know (a newer controller?).
    #[error("{at}.{field}: unknown value {value}; use {choices}", at = keys::layout(layout))]
    UnknownValue {
        /// Layout name.
        layout: String,
        /// Field name.
        field: &'static str,
        /// The raw wire value.
        value: i32,
        /// Accepted values, quoted, for the message.
        choices: &'static str,
    },
    /// `replicas = 0`.
    #[error(
        "{at}.replicas: 0 replicas; use at least 1 or replicas = \"per-node\"",
        at = keys::layout(layout)
    )]
    ZeroReplicas {
        /// Layout name.
        layout: String,
    },
    /// More pinned replicas than units of their level.
    #[error(
        "{at}.replicas: {requested} replicas but this host has {units} {}s; {}",
        level.noun(),
        level.at_most(*units),
        at = keys::layout(layout)
    )]
    MoreReplicasThanUnits {
        /// Layout name.
        layout: String,
        /// Replicas asked for.
        requested: u32,
        /// Units of the level on this host.
        units: usize,
        /// The pin level.
        level: Level,
    },
    /// More pinned replicas than units the load reservation leaves CPUs in.
    #[error(
        "{at}.replicas: {requested} replicas but only {usable} of this host's \
         {units} {}s keep CPUs after load.reserve_cpus = {reserved}; use at most \
         {usable} replicas or a smaller load.reserve_cpus",
        level.noun(),
        at = keys::layout(layout)
    )]
    MoreReplicasThanUsableUnits {
        /// Layout name.
        layout: String,
        /// Replicas asked for.
        requested: u32,
        /// Units with CPUs left in the pool.
        usable: usize,
        /// Units on this host.
        units: usize,
        /// `load.reserve_cpus`.
        reserved: u32,
        /// The pin level.
        level: Level,
    },
    /// More unpinned replicas than CPUs to run them on.
    #[error(
        "{at}.replicas: {requested} replicas but only {cpus} CPUs are left for \
         replicas (load.reserve_cpus = {reserved}); use at most {cpus}",
         at = keys::layout(layout)
     )]
    MoreReplicasThanCpus {
        /// Layout name.
        layout: String,
        /// Replicas asked for.
        requested: u32,
        /// CPUs in the replica pool.
        cpus: usize,
        /// `load.reserve_cpus`.
        reserved: u32,
    },
    /// Pinning asked for but the reservation empties every unit.
    #[error(
        "{at}.pin: \"{}\" but load.reserve_cpus = {reserved} leaves no {} \
         any CPU; use a smaller load.reserve_cpus or pin = \"none\"",
        level.pin_word(),
        level.noun(),
        at = keys::layout(layout)
    )]
    NoUsableUnit {
        /// Layout name.
        layout: String,
        /// `load.reserve_cpus`.
        reserved: u32,
        /// The pin level.
        level: Level,
    },
    /// `replicas = "nic-local"` on a host where the interface's node is not known.
    #[error(
        "{at}.replicas: \"nic-local\" needs the NUMA node of the network \
         interface the load arrives on, and {why}; set load.interface to a device with a NUMA \
         node (numaload topology lists them), or use \"per-node\"",
         at = keys::layout(layout)
     )]
    NicWithoutNode {
        /// Layout name.
        layout: String,
        /// What this host says of it.
        why: String,
    },
    /// `replicas = "nic-local"` unpinned: it says where, so it needs `pin = "node"`.
    #[error(
        "{at}.pin: replicas = \"nic-local\" puts each replica on a NUMA domain of \
         the network interface; use pin = \"node\"",
         at = keys::layout(layout)
     )]
    NicLocalUnpinned { layout: String },
    /// `replicas = "per-X"` with a pin of another level.
    #[error(
        "{at}.pin: \"{pin}\" does not go with replicas = {replicas}; use pin = \
         \"{}\" or pin = \"none\"",
        level.pin_word(),
        at = keys::layout(layout)
    )]
    PinDoesNotMatchReplicas {
        /// Layout name.
        layout: String,
        /// The pin word given.
        pin: &'static str,
        /// The replicas value, as the plan writes it.
        replicas: String,
        /// The level the replicas are spread over.
        level: Level,
    },
    /// Explicit `cpus` with a `pin` or a per-unit replica count.
    #[error("{at}.{field}: not used with explicit cpus; {fix}", at = keys::layout(layout))]
    NotWithCpus {
        /// Layout name.
        layout: String,
        /// `pin` or `replicas`.
        field: &'static str,
        /// What to do instead.
        fix: &'static str,
    },
    /// Explicit `cpus` outside the allowed set.
    #[error(
        "{at}.cpus: CPUs {} are not allowed on this host{}; use CPUs from {}",
        cpulist::format(outside),
        if offline.is_empty() { String::new() } else {
            format!(" ({} offline)", cpulist::format(offline))
        },
        cpulist::format(allowed),
        at = keys::layout(layout)
    )]
    CpusNotAllowed {
        /// Layout name.
        layout: String,
        /// The CPUs asked for that are not allowed.
        outside: Vec<u32>,
        /// Those of them that are offline.
        offline: Vec<u32>,
        /// The allowed CPUs.
        allowed: Vec<u32>,
    },
    /// A memory node list naming nodes the host does not have or allow.
    #[error(
        "{at}.{field}: NUMA nodes {} do not exist or are not allowed on this \
         host; use nodes from {}",
        cpulist::format(missing),
        cpulist::format(available),
        at = keys::layout(layout)
    )]
    UnknownNodes {
        /// Layout name.
        layout: String,
        /// `memory` or `memory_nodes`.
        field: &'static str,
        /// The nodes asked for that are not there.
        missing: Vec<u32>,
        /// The host's allowed nodes.
        available: Vec<u32>,
    },
    /// `threads = 0` on a hand-built layout (the wire's 0 means "auto").
    #[error(
        "{at}.threads: 0 threads; use at least 1 or threads = \"auto\"",
        at = keys::layout(layout)
    )]
    ZeroThreads {
        /// Layout name.
        layout: String,
    },
    /// The load reservation takes every allowed CPU.
    #[error(
        "load.reserve_cpus: {reserved} CPUs reserved for the load generator but this host \
         allows only {allowed}, leaving none for replicas; use at most {}",
        allowed.saturating_sub(1)
    )]
    ReserveTooLarge {
        /// `load.reserve_cpus`.
        reserved: u32,
        /// Allowed CPUs on this host.
        allowed: usize,
    },
}
