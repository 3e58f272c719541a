//! `/proc/<pid>/cgroup` and `/proc/<pid>/mountinfo`, and where a controller's cgroup directory is.

use std::path::PathBuf;

/// Which cgroup hierarchy a `/proc/<pid>/cgroup` entry or a mount belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hierarchy {
    /// The unified (v2) hierarchy.
    V2,
    /// A v1 hierarchy carrying these controllers (`cpu`, `cpuacct`, `cpuset`, `name=systemd`).
    V1(Vec<String>),
}

impl Hierarchy {
    /// Whether this is a v1 hierarchy carrying controller `name`.
    pub fn has_v1_controller(&self, name: &str) -> bool {
        matches!(self, Hierarchy::V1(c) if c.iter().any(|c| c == name))
    }

    /// `v1` or `v2`.
    pub fn version(&self) -> &'static str {
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

impl Located {
    /// The directories from this cgroup's up to its hierarchy's mount point, nearest first.
    pub fn up_to_mount(&self) -> Vec<PathBuf> {
        let mut dirs = vec![self.dir.clone()];
        let mut dir = self.dir.as_path();
        while dir != self.mount_point {
            match dir.parent() {
                Some(parent) if parent.starts_with(&self.mount_point) => {
                    dirs.push(parent.to_path_buf());
                    dir = parent;
                }
                _ => break,
            }
        }
        dirs
    }
}

/// Where `controller` (`cpu` or `cpuset`) is for a process: the v1 hierarchy carrying it if one
/// is mounted (on a hybrid host the unified hierarchy then exists but does not carry it), else
/// the unified one. `None` when neither is mounted.
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    /// A hybrid host: cpu and cpuacct co-mounted, cpuset apart, the unified hierarchy beside.
    const HYBRID_CGROUP: &str = "9:name=systemd:/\n8:pids:/\n4:memory:/process_api/e85f\n\
        3:cpuset:/pinned\n2:cpu,cpuacct:/numaload-test-42\n0::/\n";
    const HYBRID_MOUNTINFO: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime shared:9 - cgroup cgroup rw,cpu,cpuacct
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
        assert_eq!(entries.len(), 6);
        assert_eq!(
            entries[4],
            CgroupEntry {
                hierarchy: Hierarchy::V1(vec!["cpu".into(), "cpuacct".into()]),
                path: "/numaload-test-42".into()
            }
        );
        assert_eq!(entries[5].hierarchy, Hierarchy::V2);
        // Paths may contain ':'.
        assert_eq!(parse_proc_cgroup("0::/a:b\n")[0].path, "/a:b");
        assert!(parse_proc_cgroup("garbage\n\n").is_empty());
    }

    #[test]
    fn mountinfo_cgroup_mounts_only() {
        let mounts = parse_mountinfo(HYBRID_MOUNTINFO);
        assert_eq!(mounts.len(), 3);
        assert_eq!(
            mounts[0].hierarchy,
            Hierarchy::V1(vec!["cpu".into(), "cpuacct".into()])
        );
        assert_eq!(
            mounts[0].mount_point,
            Path::new("/sys/fs/cgroup/cpu,cpuacct")
        );
        assert_eq!(mounts[2].hierarchy, Hierarchy::V2);
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
        assert_eq!(
            cpu.hierarchy,
            Hierarchy::V1(vec!["cpu".into(), "cpuacct".into()])
        );
        assert_eq!(cpu.hierarchy.version(), "v1");
        assert_eq!(
            cpu.dir,
            Path::new("/sys/fs/cgroup/cpu,cpuacct/numaload-test-42")
        );
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
            assert_eq!(
                l.up_to_mount(),
                [
                    "/sys/fs/cgroup/system.slice/numaload.service",
                    "/sys/fs/cgroup/system.slice",
                    "/sys/fs/cgroup"
                ]
                .map(PathBuf::from)
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
        let dir = |p| cgroup_dir(&mount, p);
        assert_eq!(dir("/kubepods/pod1/c1"), Some("/sys/fs/cgroup/c1".into()));
        assert_eq!(dir("/kubepods/pod1"), Some("/sys/fs/cgroup/".into()));
        assert_eq!(dir("/kubepods/pod10"), None);
        assert_eq!(dir("/other"), None);
    }
}
