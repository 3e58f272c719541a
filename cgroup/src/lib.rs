//! Where a process's cgroup is and what CPU bandwidth quota binds it, on cgroup v1, v2 and hybrid
//! hosts. Shared by the agent (its own and each replica's limits, with cpusets) and the target
//! server (its start-up knobs); it knows neither of them, nor the wire.
//!
//! Parsing is pure ([`parse_proc_cgroup`], [`parse_mountinfo`], [`parse_cpu_max`], [`parse_cfs`],
//! [`cgroup_dir`], [`locate`]) and unit-tested on sample file contents; [`CgroupFs`] does the reads
//! under a filesystem root (`/` in production, a fixture tree in tests).
//!
//! - A controller lives in the v1 hierarchy that carries it if one is mounted (on a hybrid host
//!   the unified hierarchy then exists but does not carry it), else in the unified one.
//! - The quota is the tightest one on the path from the process's cgroup up to its hierarchy's
//!   mount point: a limit on a parent (a container, a systemd slice) binds every child.

mod error;
mod fs;
mod parse;
mod quota;

pub use error::CgroupError;
pub use fs::{CgroupFs, Membership, Process};
pub use parse::{
    cgroup_dir, locate, parse_mountinfo, parse_proc_cgroup, CgroupEntry, CgroupMount, Hierarchy,
    Located,
};
pub use quota::{oversubscription_warning, parse_cfs, parse_cpu_max, CpuQuota};
