//! Reading a process's cgroup files under a filesystem root.

use std::io;
use std::path::{Path, PathBuf};

use crate::error::CgroupError;
use crate::parse::{
    locate, parse_mountinfo, parse_proc_cgroup, CgroupEntry, CgroupMount, Hierarchy, Located,
};
use crate::quota::{parse_cfs, parse_cpu_max, CpuQuota};

/// Whose cgroup: the calling process (`/proc/self`) or another one by pid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Process {
    Current,
    Id(u32),
}

impl Process {
    fn proc_dir(self) -> PathBuf {
        match self {
            Process::Current => PathBuf::from("/proc/self"),
            Process::Id(pid) => PathBuf::from(format!("/proc/{pid}")),
        }
    }
}

/// A process's cgroups: its `/proc/<pid>/cgroup` entries and the cgroup mounts it sees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    pub entries: Vec<CgroupEntry>,
    pub mounts: Vec<CgroupMount>,
}

impl Membership {
    /// Where `controller` (`cpu`, `cpuset`) is for this process; see [`locate`].
    pub fn locate(&self, controller: &str) -> Option<Located> {
        locate(&self.entries, &self.mounts, controller)
    }
}

/// Reads cgroup and proc files under a filesystem root.
#[derive(Debug, Clone)]
pub struct CgroupFs {
    root: PathBuf,
}

impl Default for CgroupFs {
    /// The real filesystem.
    fn default() -> Self {
        CgroupFs::new("/")
    }
}

impl CgroupFs {
    /// Reads `/proc/...`, `/sys/...` and the cgroup mounts under `root`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        CgroupFs { root: root.into() }
    }

    fn path(&self, absolute: &Path) -> PathBuf {
        self.root
            .join(absolute.strip_prefix("/").unwrap_or(absolute))
    }

    /// The content of file `absolute` (under the root), `None` when it does not exist.
    pub fn read(&self, absolute: &Path) -> Result<Option<String>, CgroupError> {
        let path = self.path(absolute);
        match std::fs::read_to_string(&path) {
            Ok(s) => Ok(Some(s)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(CgroupError::Read { path, source }),
        }
    }

    fn read_required(&self, absolute: &Path) -> Result<String, CgroupError> {
        self.read(absolute)?.ok_or_else(|| CgroupError::Read {
            path: self.path(absolute),
            source: io::ErrorKind::NotFound.into(),
        })
    }

    /// The cgroups of `process`; an error when its proc files cannot be read (no such process).
    pub fn membership(&self, process: Process) -> Result<Membership, CgroupError> {
        let proc_dir = process.proc_dir();
        Ok(Membership {
            entries: parse_proc_cgroup(&self.read_required(&proc_dir.join("cgroup"))?),
            mounts: parse_mountinfo(&self.read_required(&proc_dir.join("mountinfo"))?),
        })
    }

    /// The tightest quota from the cpu controller's cgroup up to its mount point; missing files
    /// (a v2 root, a cgroup without the cpu controller enabled) set no limit.
    pub fn quota(&self, cpu: &Located) -> Result<CpuQuota, CgroupError> {
        let mut quota = CpuQuota::Unlimited;
        for dir in cpu.up_to_mount() {
            quota = quota.tightest(self.quota_in(&cpu.hierarchy, &dir)?);
        }
        Ok(quota)
    }

    /// The CPU quota that binds the calling process.
    pub fn cpu_quota(&self) -> Result<CpuQuota, CgroupError> {
        let cpu = self
            .membership(Process::Current)?
            .locate("cpu")
            .ok_or(CgroupError::NoCpuController)?;
        self.quota(&cpu)
    }

    /// The quota set in one cgroup directory.
    fn quota_in(&self, hierarchy: &Hierarchy, dir: &Path) -> Result<CpuQuota, CgroupError> {
        match hierarchy {
            Hierarchy::V2 => match self.read(&dir.join("cpu.max"))? {
                Some(content) => parse_cpu_max(&content),
                None => Ok(CpuQuota::Unlimited),
            },
            Hierarchy::V1(_) => {
                let quota = self.read(&dir.join("cpu.cfs_quota_us"))?;
                let period = self.read(&dir.join("cpu.cfs_period_us"))?;
                match (quota, period) {
                    (Some(q), Some(p)) => parse_cfs(&q, &p),
                    _ => Ok(CpuQuota::Unlimited),
                }
            }
        }
    }
}
