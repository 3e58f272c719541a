//! What a process's cgroup allows it: cpuset CPUs and memory nodes, and the CPU bandwidth quota,
//! for cgroup v1, v2 and hybrid hosts, read for any pid (the agent's own, each replica's).
//!
//! Parsing is pure ([`parse_proc_cgroup`], [`parse_mountinfo`], [`parse_cpu_max`],
//! [`parse_cfs`], [`cgroup_dir`]) and unit-tested on sample file contents; [`CgroupFs`] does the
//! reads under a filesystem root (`/` in production, a fixture tree in tests).
//!
//! - The quota is the tightest one on the path from the process's cgroup up to its hierarchy's
//!   mount point: a limit on a parent (a container, a slice) binds every child.
//! - The cpuset is the effective one (v1 `cpuset.effective_cpus`, else `cpuset.cpus`; v2
//!   `cpuset.cpus.effective`), from the nearest cgroup on that path that has the file (in v2 a
//!   cgroup without the cpuset controller enabled uses its parent's). It is reported only when it
//!   is narrower than the host (online CPUs, nodes with memory): empty means "not limited".
//!
//! The target server has its own quota reader (`target-server/src/cgroup.rs`): the crates may not
//! depend on each other, and this one also reads cpusets and other processes.

use std::io;
use std::path::{Path, PathBuf};

use numaload_proto::{cpulist, v1};

/// Which cgroup hierarchy a `/proc/<pid>/cgroup` entry or a mount belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hierarchy {
    /// The unified (v2) hierarchy.
    V2,
    /// A v1 hierarchy carrying these controllers (`cpu`, `cpuacct`, `cpuset`, `name=systemd`).
    V1(Vec<String>),
}

impl Hierarchy {
    fn has_v1_controller(&self, name: &str) -> bool {
        matches!(self, Hierarchy::V1(c) if c.iter().any(|c| c == name))
    }

    fn version(&self) -> &'static str {
        match self {
            Hierarchy::V2 => "v2",
            Hierarchy::V1(_) => "v1",
        }
    }
}

/// One line of `/proc/<pid>/cgroup`: `hierarchy-id:controllers:path`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CgroupEntry {
    pub hierarchy: Hierarchy,
    pub path: String,
}

/// One cgroup filesystem from `/proc/<pid>/mountinfo`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CgroupMount {
    pub hierarchy: Hierarchy,
    /// The cgroup path shown at the mount point (`/` unless a sub-tree is mounted).
    pub root: String,
    pub mount_point: PathBuf,
}

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

/// A cgroup file that could not be read or does not hold what the kernel writes.
#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    #[error("unexpected content in {file}: {content:?}")]
    Malformed { file: String, content: String },
    #[error("reading {path}: {source}")]
    Read { path: PathBuf, source: io::Error },
}

/// Parses `/proc/<pid>/cgroup`. Lines without three fields are skipped.
pub fn parse_proc_cgroup(content: &str) -> Vec<CgroupEntry> {
    content
        .lines()
        .filter_map(|line| {
            let mut fields = line.splitn(3, ':');
            let id = fields.next()?;
            let controllers = fields.next()?;
            let path = fields.next()?;
            let hierarchy = if id == "0" && controllers.is_empty() {
                Hierarchy::V2
            } else {
                Hierarchy::V1(controllers.split(',').map(str::to_owned).collect())
            };
            Some(CgroupEntry {
                hierarchy,
                path: path.to_owned(),
            })
        })
        .collect()
}

/// The `cgroup` and `cgroup2` mounts of `/proc/<pid>/mountinfo`.
///
/// A line is `id parent major:minor root mount-point options [optional...] - fstype source
/// super-options`; v1 controllers are named in the super options.
pub fn parse_mountinfo(content: &str) -> Vec<CgroupMount> {
    content
        .lines()
        .filter_map(|line| {
            let (before, after) = line.split_once(" - ")?;
            let before: Vec<&str> = before.split(' ').collect();
            let root = *before.get(3)?;
            let mount_point = *before.get(4)?;
            let mut after = after.split(' ');
            let fstype = after.next()?;
            let _source = after.next()?;
            let super_options = after.next().unwrap_or("");
            let hierarchy = match fstype {
                "cgroup2" => Hierarchy::V2,
                "cgroup" => Hierarchy::V1(
                    super_options
                        .split(',')
                        .filter(|o| *o != "rw" && *o != "ro")
                        .map(str::to_owned)
                        .collect(),
                ),
                _ => return None,
            };
            Some(CgroupMount {
                hierarchy,
                root: unescape_mountinfo(root),
                mount_point: PathBuf::from(unescape_mountinfo(mount_point)),
            })
        })
        .collect()
}

/// mountinfo escapes space, tab, newline and backslash as `\ooo` octal.
fn unescape_mountinfo(field: &str) -> String {
    field
        .replace("\\040", " ")
        .replace("\\011", "\t")
        .replace("\\012", "\n")
        .replace("\\134", "\\")
}

fn malformed(file: &str, content: &str) -> CgroupError {
    CgroupError::Malformed {
        file: file.to_owned(),
        content: content.to_owned(),
    }
}

/// Parses a v2 `cpu.max` (`max 100000` or `50000 100000`) into CPUs; `None` for `max`.
pub fn parse_cpu_max(content: &str) -> Result<Option<f64>, CgroupError> {
    let bad = || malformed("cpu.max", content);
    let mut fields = content.split_whitespace();
    let quota = fields.next().ok_or_else(bad)?;
    let period: u64 = fields.next().ok_or_else(bad)?.parse().map_err(|_| bad())?;
    if fields.next().is_some() || period == 0 {
        return Err(bad());
    }
    if quota == "max" {
        return Ok(None);
    }
    let quota: u64 = quota.parse().map_err(|_| bad())?;
    Ok(Some(quota as f64 / period as f64))
}

/// Parses v1 `cpu.cfs_quota_us` and `cpu.cfs_period_us` into CPUs; a negative quota (`-1`) is
/// no limit (`None`).
pub fn parse_cfs(quota: &str, period: &str) -> Result<Option<f64>, CgroupError> {
    let quota_us: i64 = quota
        .trim()
        .parse()
        .map_err(|_| malformed("cpu.cfs_quota_us", quota))?;
    let period_us: u64 = match period.trim().parse() {
        Ok(p) if p > 0 => p,
        _ => return Err(malformed("cpu.cfs_period_us", period)),
    };
    Ok(u64::try_from(quota_us)
        .ok()
        .map(|q| q as f64 / period_us as f64))
}

/// The tighter of two quotas (`None` = unlimited).
pub fn tightest(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, None) => a,
        (None, b) => b,
    }
}

/// The directory of `cgroup_path` under `mount`, or `None` if the mount does not show it.
pub fn cgroup_dir(mount: &CgroupMount, cgroup_path: &str) -> Option<PathBuf> {
    let relative = if mount.root == "/" {
        cgroup_path
    } else {
        let rest = cgroup_path.strip_prefix(mount.root.as_str())?;
        if !(rest.is_empty() || rest.starts_with('/')) {
            return None;
        }
        rest
    };
    Some(mount.mount_point.join(relative.trim_start_matches('/')))
}

/// A controller's cgroup: which hierarchy, its path there, and its directory under the mount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    pub hierarchy: Hierarchy,
    pub path: String,
    pub mount_point: PathBuf,
    pub dir: PathBuf,
}

/// Where `controller` (`cpu` or `cpuset`) is for this process: the v1 hierarchy carrying it if
/// one is mounted (on a hybrid host the unified hierarchy then exists but does not carry it),
/// else the unified one.
pub fn locate(
    entries: &[CgroupEntry],
    mounts: &[CgroupMount],
    controller: &str,
) -> Option<Located> {
    let v1 = entries
        .iter()
        .find(|e| e.hierarchy.has_v1_controller(controller))
        .and_then(|e| {
            let m = mounts
                .iter()
                .find(|m| m.hierarchy.has_v1_controller(controller))?;
            Some((e, m))
        });
    let v2 = || {
        let e = entries.iter().find(|e| e.hierarchy == Hierarchy::V2)?;
        let m = mounts.iter().find(|m| m.hierarchy == Hierarchy::V2)?;
        Some((e, m))
    };
    let (entry, mount) = v1.or_else(v2)?;
    let dir = cgroup_dir(mount, &entry.path).unwrap_or_else(|| mount.mount_point.clone());
    Some(Located {
        hierarchy: entry.hierarchy.clone(),
        path: entry.path.clone(),
        mount_point: mount.mount_point.clone(),
        dir,
    })
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

/// Reads cgroup and proc files under a filesystem root.
#[derive(Debug, Clone)]
pub struct CgroupFs {
    root: PathBuf,
}

impl Default for CgroupFs {
    fn default() -> Self {
        CgroupFs::new("/")
    }
}

impl CgroupFs {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        CgroupFs { root: root.into() }
    }

    fn path(&self, absolute: &Path) -> PathBuf {
        self.root
            .join(absolute.strip_prefix("/").unwrap_or(absolute))
    }

    /// The file's content, `None` when it does not exist.
    fn read(&self, absolute: &Path) -> Result<Option<String>, CgroupError> {
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

    /// The cgroup limits of process `pid`.
    pub fn limits(&self, pid: u32) -> Result<CgroupLimits, CgroupError> {
        let proc = PathBuf::from(format!("/proc/{pid}"));
        let entries = parse_proc_cgroup(&self.read_required(&proc.join("cgroup"))?);
        let mounts = parse_mountinfo(&self.read_required(&proc.join("mountinfo"))?);
        let cpu = locate(&entries, &mounts, "cpu");
        let cpuset = locate(&entries, &mounts, "cpuset");
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
            limits.cpu_quota_cpus = self.quota(cpu)?;
        }
        if let Some(cpuset) = &cpuset {
            let (cpus_file, mems_files): (&[&str], &[&str]) = match cpuset.hierarchy {
                Hierarchy::V2 => (&["cpuset.cpus.effective"], &["cpuset.mems.effective"]),
                Hierarchy::V1(_) => (
                    &["cpuset.effective_cpus", "cpuset.cpus"],
                    &["cpuset.effective_mems", "cpuset.mems"],
                ),
            };
            let cpus = self.nearest_list(cpuset, cpus_file)?;
            let mems = self.nearest_list(cpuset, mems_files)?;
            let online = self.host_list(&["/sys/devices/system/cpu/online"])?;
            let memory_nodes = self.host_list(&[
                "/sys/devices/system/node/has_memory",
                "/sys/devices/system/node/online",
            ])?;
            limits.cpuset_cpus = narrower_than(cpus.unwrap_or_default(), &online);
            limits.cpuset_mems = narrower_than(mems.unwrap_or_default(), &memory_nodes);
        }
        Ok(limits)
    }

    /// Directories from the cgroup's up to its mount point.
    fn up_to_mount(located: &Located) -> Vec<PathBuf> {
        let mut dirs = vec![located.dir.clone()];
        let mut dir = located.dir.as_path();
        while dir != located.mount_point {
            match dir.parent() {
                Some(parent) if parent.starts_with(&located.mount_point) => {
                    dirs.push(parent.to_path_buf());
                    dir = parent;
                }
                _ => break,
            }
        }
        dirs
    }

    /// The tightest quota from the cgroup up to its mount point; missing files (a v2 root, a
    /// cgroup without the cpu controller) set no limit.
    fn quota(&self, cpu: &Located) -> Result<Option<f64>, CgroupError> {
        let mut quota = None;
        for dir in Self::up_to_mount(cpu) {
            let here = match cpu.hierarchy {
                Hierarchy::V2 => match self.read(&dir.join("cpu.max"))? {
                    Some(content) => parse_cpu_max(&content)?,
                    None => None,
                },
                Hierarchy::V1(_) => {
                    let q = self.read(&dir.join("cpu.cfs_quota_us"))?;
                    let p = self.read(&dir.join("cpu.cfs_period_us"))?;
                    match (q, p) {
                        (Some(q), Some(p)) => parse_cfs(&q, &p)?,
                        _ => None,
                    }
                }
            };
            quota = tightest(quota, here);
        }
        Ok(quota)
    }

    /// The first of `files` found in the nearest cgroup (self, then parents) that has one.
    fn nearest_list(
        &self,
        located: &Located,
        files: &[&str],
    ) -> Result<Option<Vec<u32>>, CgroupError> {
        for dir in Self::up_to_mount(located) {
            for file in files {
                if let Some(content) = self.read(&dir.join(file))? {
                    return cpulist::parse(&content)
                        .map(Some)
                        .map_err(|_| malformed(file, &content));
                }
            }
        }
        Ok(None)
    }

    /// A host-wide list (online CPUs, memory nodes); empty when none of the files exists.
    fn host_list(&self, files: &[&str]) -> Result<Vec<u32>, CgroupError> {
        for file in files {
            if let Some(content) = self.read(Path::new(file))? {
                return cpulist::parse(&content).map_err(|_| malformed(file, &content));
            }
        }
        Ok(Vec::new())
    }
}

/// The cgroup limits of process `pid` on this host.
pub fn limits_of(pid: u32) -> Result<CgroupLimits, CgroupError> {
    CgroupFs::default().limits(pid)
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
    fn proc_cgroup_lines() {
        let entries = parse_proc_cgroup(HYBRID_CGROUP);
        assert_eq!(entries.len(), 7);
        assert_eq!(
            entries[5],
            CgroupEntry {
                hierarchy: Hierarchy::V1(vec!["cpu".into()]),
                path: "/numaload-test-42".into()
            }
        );
        assert_eq!(entries[6].hierarchy, Hierarchy::V2);
        // Paths may contain ':'.
        assert_eq!(parse_proc_cgroup("0::/a:b\n")[0].path, "/a:b");
        assert!(parse_proc_cgroup("garbage\n\n").is_empty());
    }

    #[test]
    fn mountinfo_cgroup_mounts_only() {
        let mounts = parse_mountinfo(HYBRID_MOUNTINFO);
        assert_eq!(mounts.len(), 4);
        assert_eq!(mounts[0].hierarchy, Hierarchy::V1(vec!["cpu".into()]));
        assert_eq!(mounts[0].mount_point, Path::new("/sys/fs/cgroup/cpu"));
        assert_eq!(mounts[3].hierarchy, Hierarchy::V2);
        let escaped = "1 2 0:3 /a\\040b /mnt/c\\040d rw - cgroup2 none rw\n";
        assert_eq!(parse_mountinfo(escaped)[0].root, "/a b");
        assert_eq!(
            parse_mountinfo(escaped)[0].mount_point,
            Path::new("/mnt/c d")
        );
        assert!(parse_mountinfo("not a mountinfo line").is_empty());
    }

    #[test]
    fn hybrid_finds_each_controller_in_its_v1_hierarchy() {
        let (entries, mounts) = (
            parse_proc_cgroup(HYBRID_CGROUP),
            parse_mountinfo(HYBRID_MOUNTINFO),
        );
        let cpu = locate(&entries, &mounts, "cpu").expect("cpu");
        assert_eq!(cpu.hierarchy, Hierarchy::V1(vec!["cpu".into()]));
        assert_eq!(cpu.dir, Path::new("/sys/fs/cgroup/cpu/numaload-test-42"));
        let cpuset = locate(&entries, &mounts, "cpuset").expect("cpuset");
        assert_eq!(cpuset.dir, Path::new("/sys/fs/cgroup/cpuset/pinned"));
        assert_eq!(cpuset.mount_point, Path::new("/sys/fs/cgroup/cpuset"));
    }

    #[test]
    fn pure_v2_uses_the_unified_hierarchy() {
        let (entries, mounts) = (parse_proc_cgroup(V2_CGROUP), parse_mountinfo(V2_MOUNTINFO));
        for controller in ["cpu", "cpuset"] {
            let l = locate(&entries, &mounts, controller).expect("v2");
            assert_eq!(l.hierarchy, Hierarchy::V2);
            assert_eq!(
                l.dir,
                Path::new("/sys/fs/cgroup/system.slice/numaload.service")
            );
        }
    }

    #[test]
    fn no_cgroup_mounts_locate_nothing() {
        assert!(locate(&parse_proc_cgroup(V2_CGROUP), &[], "cpu").is_none());
    }

    #[test]
    fn sub_tree_mounts() {
        let mount = CgroupMount {
            hierarchy: Hierarchy::V2,
            root: "/kubepods/pod1".into(),
            mount_point: "/sys/fs/cgroup".into(),
        };
        assert_eq!(
            cgroup_dir(&mount, "/kubepods/pod1/c1"),
            Some(PathBuf::from("/sys/fs/cgroup/c1"))
        );
        assert_eq!(
            cgroup_dir(&mount, "/kubepods/pod1"),
            Some(PathBuf::from("/sys/fs/cgroup/"))
        );
        assert_eq!(cgroup_dir(&mount, "/kubepods/pod10"), None);
        assert_eq!(cgroup_dir(&mount, "/other"), None);
    }

    #[test]
    fn quota_files() {
        assert_eq!(parse_cpu_max("max 100000\n").expect("max"), None);
        assert_eq!(parse_cpu_max("50000 100000\n").expect("half"), Some(0.5));
        assert_eq!(parse_cpu_max("250000 100000").expect("2.5"), Some(2.5));
        for bad in ["", "max", "x 100000", "1 0", "1 2 3"] {
            assert!(parse_cpu_max(bad).is_err(), "{bad:?}");
        }
        assert_eq!(parse_cfs("-1\n", "100000\n").expect("unlimited"), None);
        assert_eq!(parse_cfs("50000\n", "100000\n").expect("half"), Some(0.5));
        assert!(parse_cfs("abc", "100000").is_err());
        assert!(parse_cfs("50000", "0").is_err());
        assert_eq!(tightest(None, Some(2.0)), Some(2.0));
        assert_eq!(tightest(Some(0.5), Some(2.0)), Some(0.5));
        assert_eq!(tightest(Some(3.0), None), Some(3.0));
        assert_eq!(tightest(None, None), None);
    }

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

        fn fs(&self) -> CgroupFs {
            CgroupFs::new(&self.0)
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
        let limits = t.fs().limits(7).expect("limits");
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
        assert_eq!(t.fs().limits(7).expect("limits").cpu_quota_cpus, Some(0.2));
        let wire: v1::CgroupLimits = t.fs().limits(7).expect("limits").into();
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
        let limits = t.fs().limits(9).expect("limits");
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
        let limits = t.fs().limits(5).expect("limits");
        assert_eq!(limits.version, "v2");
        assert_eq!(limits.cpu_quota_cpus, None);
        assert!(limits.cpuset_cpus.is_empty() && limits.cpuset_mems.is_empty());
        // No cgroup mounts at all.
        t.file("/proc/6/cgroup", V2_CGROUP).file(
            "/proc/6/mountinfo",
            "25 30 0:22 / /sys rw - sysfs sysfs rw\n",
        );
        assert_eq!(t.fs().limits(6).expect("none").version, "none");
        // A process that does not exist.
        let err = t.fs().limits(4).expect_err("no such pid");
        assert!(err.to_string().contains("proc/4/cgroup"), "{err}");
        // A file the kernel would never write.
        t.file("/sys/fs/cgroup/system.slice/cpu.max", "lots\n");
        assert!(t.fs().limits(5).is_err());
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
