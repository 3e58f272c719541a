//! What a process's cgroup allows it: cpuset CPUs and memory nodes, and the CPU bandwidth quota,
//! for cgroup v1, v2 and hybrid hosts, read for any pid (the agent's own, each replica's).
//!
//! Where the cgroups are and the quota come from `numaload-cgroup` (shared with the target
//! server); this module adds the cpusets and the wire form.
//!
//! - The quota is the tightest one on the path from the process's cgroup up to its hierarchy's
//!   mount point: a limit on a parent (a container, a slice) binds every child.
//! - The cpuset is the effective one (v1 `cpuset.effective_cpus`, else `cpuset.cpus`; v2
//!   `cpuset.cpus.effective`), from the nearest cgroup on that path that has the file (in v2 a
//!   cgroup without the cpuset controller enabled uses its parent's). It is reported only when it
//!   is narrower than the host (online CPUs, nodes with memory): empty means "not limited".

use std::path::Path;

pub use numaload_cgroup::{CgroupError, CgroupFs};
use numaload_cgroup::{Hierarchy, Located, Process};
use numaload_proto::{cpulist, v1};

/// What a process's cgroup allows it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CgroupLimits {
    /// `v1`, `v2`, or `none` when no cgroup hierarchy with a cpu or cpuset controller is found.
    pub version: String,
    /// The cgroup's path in the hierarchy holding the cpu controller (the cpuset one is added
    /// when it differs, on v1).
    pub path: String,
    /// Effective cpuset CPUs, empty when not narrower than the host's online CPUs.
    pub cpuset_cpus: Vec<u32>,
    /// Effective cpuset memory nodes, empty when not narrower than the host's memory nodes.
    pub cpuset_mems: Vec<u32>,
    /// The tightest CPU bandwidth quota in CPUs; `None` when unlimited.
    pub cpu_quota_cpus: Option<f64>,
}

impl From<CgroupLimits> for v1::CgroupLimits {
    fn from(c: CgroupLimits) -> Self {
        v1::CgroupLimits {
            version: c.version,
            path: c.path,
            cpuset_cpus: c.cpuset_cpus,
            cpuset_mems: c.cpuset_mems,
            cpu_quota_cpus: c.cpu_quota_cpus.unwrap_or(0.0),
        }
    }
}

/// `set` when it leaves out something of `all` (a real limit), else empty. An unknown `all`
/// (empty) keeps `set`.
pub fn narrower_than(set: Vec<u32>, all: &[u32]) -> Vec<u32> {
    if !all.is_empty() && all.iter().all(|x| set.contains(x)) {
        Vec::new()
    } else {
        set
    }
}

/// The cgroup limits of process `pid`, read through `fs`.
pub fn limits(fs: &CgroupFs, pid: u32) -> Result<CgroupLimits, CgroupError> {
    let membership = fs.membership(Process::Id(pid))?;
    let cpu = membership.locate("cpu");
    let cpuset = membership.locate("cpuset");
    let Some(main) = cpu.as_ref().or(cpuset.as_ref()) else {
        return Ok(CgroupLimits {
            version: "none".into(),
            ..CgroupLimits::default()
        });
    };
    let mut path = main.path.clone();
    if let (Some(cpu), Some(cpuset)) = (&cpu, &cpuset) {
        if cpu.path != cpuset.path {
            path = format!("{} (cpuset {})", cpu.path, cpuset.path);
        }
    }
    let mut limits = CgroupLimits {
        version: main.hierarchy.version().into(),
        path,
        ..CgroupLimits::default()
    };
    if let Some(cpu) = &cpu {
        limits.cpu_quota_cpus = fs.quota(cpu)?.cpus();
    }
    if let Some(cpuset) = &cpuset {
        let (cpus_files, mems_files): (&[&str], &[&str]) = match cpuset.hierarchy {
            Hierarchy::V2 => (&["cpuset.cpus.effective"], &["cpuset.mems.effective"]),
            Hierarchy::V1(_) => (
                &["cpuset.effective_cpus", "cpuset.cpus"],
                &["cpuset.effective_mems", "cpuset.mems"],
            ),
        };
        let cpus = nearest_list(fs, cpuset, cpus_files)?;
        let mems = nearest_list(fs, cpuset, mems_files)?;
        let online = host_list(fs, &["/sys/devices/system/cpu/online"])?;
        let memory_nodes = host_list(
            fs,
            &[
                "/sys/devices/system/node/has_memory",
                "/sys/devices/system/node/online",
            ],
        )?;
        limits.cpuset_cpus = narrower_than(cpus.unwrap_or_default(), &online);
        limits.cpuset_mems = narrower_than(mems.unwrap_or_default(), &memory_nodes);
    }
    Ok(limits)
}

/// The first of `files` found in the nearest cgroup (self, then parents) that has one.
fn nearest_list(
    fs: &CgroupFs,
    located: &Located,
    files: &[&str],
) -> Result<Option<Vec<u32>>, CgroupError> {
    for dir in located.up_to_mount() {
        for file in files {
            if let Some(content) = fs.read(&dir.join(file))? {
                return parse_list(file, &content).map(Some);
            }
        }
    }
    Ok(None)
}

/// A host-wide list (online CPUs, memory nodes); empty when none of the files exists.
fn host_list(fs: &CgroupFs, files: &[&str]) -> Result<Vec<u32>, CgroupError> {
    for file in files {
        if let Some(content) = fs.read(Path::new(file))? {
            return parse_list(file, &content);
        }
    }
    Ok(Vec::new())
}

fn parse_list(file: &str, content: &str) -> Result<Vec<u32>, CgroupError> {
    cpulist::parse(content).map_err(|_| CgroupError::malformed(file, content))
}

/// The cgroup limits of process `pid` on this host.
pub fn limits_of(pid: u32) -> Result<CgroupLimits, CgroupError> {
    limits(&CgroupFs::default(), pid)
}

/// The cgroup limits of process `pid` for the wire; a read failure becomes `version` `unknown`
/// with the reason in `path`, so reports say why instead of showing "unlimited".
pub fn wire_limits_of(pid: u32) -> v1::CgroupLimits {
    match limits_of(pid) {
        Ok(limits) => limits.into(),
        Err(e) => v1::CgroupLimits {
            version: "unknown".into(),
            path: e.to_string(),
            ..v1::CgroupLimits::default()
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    const HYBRID_CGROUP: &str = "9:name=systemd:/\n8:pids:/\n4:memory:/process_api/e85f\n\
        3:cpuset:/pinned\n2:cpuacct:/\n1:cpu:/numaload-test-42\n0::/\n";
    const HYBRID_MOUNTINFO: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";
    const V2_CGROUP: &str = "0::/system.slice/numaload.service\n";
    const V2_MOUNTINFO: &str = "\
25 30 0:22 / /sys rw,nosuid - sysfs sysfs rw
29 25 0:26 / /sys/fs/cgroup rw,nosuid,nodev shared:4 - cgroup2 cgroup2 rw,nsdelegate
";

    #[test]
    fn a_cpuset_is_a_limit_only_when_narrower_than_the_host() {
        assert_eq!(narrower_than(vec![0, 1], &[0, 1]), Vec::<u32>::new());
        assert_eq!(narrower_than(vec![1], &[0, 1]), vec![1]);
        assert_eq!(narrower_than(vec![0, 1], &[]), vec![0, 1]);
    }

    /// A throw-away filesystem tree: `/proc/<pid>/...`, cgroup files, `/sys/devices/...`.
    struct Tree(PathBuf);

    impl Tree {
        fn new(name: &str) -> Tree {
            let dir =
                std::env::temp_dir().join(format!("numaload-cgroup-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).expect("tree");
            Tree(dir)
        }

        fn file(&self, path: &str, content: &str) -> &Tree {
            let path = self.0.join(path.trim_start_matches('/'));
            std::fs::create_dir_all(path.parent().expect("parent")).expect("dirs");
            std::fs::write(path, content).expect("write");
            self
        }

        fn limits(&self, pid: u32) -> Result<CgroupLimits, CgroupError> {
            limits(&CgroupFs::new(&self.0), pid)
        }
    }

    impl Drop for Tree {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn v1_nested_quota_takes_the_tightest_up_to_the_mount() {
        let t = Tree::new("v1");
        t.file("/proc/7/cgroup", HYBRID_CGROUP)
            .file("/proc/7/mountinfo", HYBRID_MOUNTINFO)
            .file("/sys/devices/system/cpu/online", "0-7\n")
            .file("/sys/devices/system/node/has_memory", "0-1\n")
            // The root and the group: the group's 0.5 CPU binds.
            .file("/sys/fs/cgroup/cpu/cpu.cfs_quota_us", "-1\n")
            .file("/sys/fs/cgroup/cpu/cpu.cfs_period_us", "100000\n")
            .file(
                "/sys/fs/cgroup/cpu/numaload-test-42/cpu.cfs_quota_us",
                "50000\n",
            )
            .file(
                "/sys/fs/cgroup/cpu/numaload-test-42/cpu.cfs_period_us",
                "100000\n",
            )
            .file(
                "/sys/fs/cgroup/cpuset/pinned/cpuset.effective_cpus",
                "2-3\n",
            )
            .file("/sys/fs/cgroup/cpuset/pinned/cpuset.cpus", "2-5\n")
            .file(
                "/sys/fs/cgroup/cpuset/pinned/cpuset.effective_mems",
                "0-1\n",
            );
        let limits = t.limits(7).expect("limits");
        assert_eq!(
            limits,
            CgroupLimits {
                version: "v1".into(),
                path: "/numaload-test-42 (cpuset /pinned)".into(),
                cpuset_cpus: vec![2, 3],
                // Every memory node: not a limit.
                cpuset_mems: vec![],
                cpu_quota_cpus: Some(0.5),
            }
        );
        // A parent tighter than the child wins.
        t.file("/sys/fs/cgroup/cpu/cpu.cfs_quota_us", "20000\n");
        assert_eq!(t.limits(7).expect("limits").cpu_quota_cpus, Some(0.2));
        let wire: v1::CgroupLimits = t.limits(7).expect("limits").into();
        assert_eq!(wire.cpu_quota_cpus, 0.2);
    }

    #[test]
    fn v2_walks_up_for_cpu_max_and_the_effective_cpuset() {
        let t = Tree::new("v2");
        t.file("/proc/9/cgroup", V2_CGROUP)
            .file("/proc/9/mountinfo", V2_MOUNTINFO)
            .file("/sys/devices/system/cpu/online", "0-7\n")
            .file("/sys/devices/system/node/has_memory", "0-3\n")
            // Root: no cpu.max (a v2 root has none). The slice limits 1.5 CPUs; the service
            // says max; it has no cpuset files (controller not enabled), the slice does.
            .file("/sys/fs/cgroup/cpuset.cpus.effective", "0-7\n")
            .file("/sys/fs/cgroup/system.slice/cpu.max", "150000 100000\n")
            .file("/sys/fs/cgroup/system.slice/cpuset.cpus.effective", "0-3\n")
            .file("/sys/fs/cgroup/system.slice/cpuset.mems.effective", "0\n")
            .file(
                "/sys/fs/cgroup/system.slice/numaload.service/cpu.max",
                "max 100000\n",
            );
        let limits = t.limits(9).expect("limits");
        assert_eq!(
            limits,
            CgroupLimits {
                version: "v2".into(),
                path: "/system.slice/numaload.service".into(),
                cpuset_cpus: vec![0, 1, 2, 3],
                cpuset_mems: vec![0],
                cpu_quota_cpus: Some(1.5),
            }
        );
    }

    #[test]
    fn missing_files_mean_no_limit_and_missing_proc_is_an_error() {
        let t = Tree::new("missing");
        t.file("/proc/5/cgroup", V2_CGROUP)
            .file("/proc/5/mountinfo", V2_MOUNTINFO);
        let limits = t.limits(5).expect("limits");
        assert_eq!(limits.version, "v2");
        assert_eq!(limits.cpu_quota_cpus, None);
        assert!(limits.cpuset_cpus.is_empty() && limits.cpuset_mems.is_empty());
        // No cgroup mounts at all.
        t.file("/proc/6/cgroup", V2_CGROUP).file(
            "/proc/6/mountinfo",
            "25 30 0:22 / /sys rw - sysfs sysfs rw\n",
        );
        assert_eq!(t.limits(6).expect("none").version, "none");
        // A process that does not exist.
        let err = t.limits(4).expect_err("no such pid");
        assert!(err.to_string().contains("proc/4/cgroup"), "{err}");
        // A file the kernel would never write.
        t.file("/sys/fs/cgroup/system.slice/cpu.max", "lots\n");
        assert!(t.limits(5).is_err());
    }

    #[test]
    fn this_process_on_this_host() {
        // Whatever the host, reading our own cgroup works and yields a known version.
        let limits = limits_of(std::process::id()).expect("own cgroup");
        assert!(
            ["v1", "v2", "none"].contains(&limits.version.as_str()),
            "{limits:?}"
        );
        assert!(limits.cpu_quota_cpus.is_none_or(|q| q > 0.0));
    }
}
