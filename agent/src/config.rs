//! The agent's own configuration: which targets it may launch, and the limits it enforces.
//!
//! Plans name a target; only this table turns a name into an executable and fixed arguments,
//! so no path or command line ever crosses the wire (DESIGN invariant 5).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use crate::replica::TargetCommand;

#[derive(Debug, Clone)]
pub struct AgentConfig {
    /// Target name → how to start it. The agent adds `--listen`, `--threads` and `--work-us`.
    pub targets: BTreeMap<String, TargetCommand>,
    /// How long a replica may take to print its ready line.
    pub ready_within: Duration,
    /// Grace between SIGTERM and SIGKILL when stopping replicas.
    pub stop_grace: Duration,
    pub limits: Limits,
}

/// What a plan may ask of this agent; a plan beyond a limit is refused before anything starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Encoded `RunPlan` size.
    pub max_plan_bytes: usize,
    pub max_layouts: usize,
    /// Warm-up plus measured time, per layout.
    pub max_layout_time: Duration,
    pub max_connections: u32,
    pub max_replicas: usize,
    pub max_work_us: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_plan_bytes: 1 << 20,
            max_layouts: 64,
            max_layout_time: Duration::from_secs(3600),
            max_connections: 10_000,
            max_replicas: 1024,
            max_work_us: 1_000_000,
        }
    }
}

impl AgentConfig {
    /// The built-in table: the `numaload` executable itself serves as every target variant
    /// (`numaload target --variant async`), so one file copied to a host is enough.
    pub fn builtin(numaload_exe: &Path) -> AgentConfig {
        let variant = |name: &str| TargetCommand {
            program: numaload_exe.to_path_buf(),
            args: vec!["target".into(), "--variant".into(), name.into()],
        };
        AgentConfig {
            targets: BTreeMap::from([
                ("async".to_owned(), variant("async")),
                ("ffi".to_owned(), variant("ffi")),
            ]),
            ready_within: Duration::from_secs(10),
            stop_grace: Duration::from_secs(2),
            limits: Limits::default(),
        }
    }

    /// The target for a plan's `[target] name`, or an error listing the known names.
    pub fn target(&self, name: &str) -> Result<&TargetCommand, String> {
        self.targets.get(name).ok_or_else(|| {
            let known: Vec<&str> = self.targets.keys().map(String::as_str).collect();
            format!(
                "[target] name = \"{name}\": this agent knows no such target; use one of: {}",
                known.join(", ")
            )
        })
    }
}
