//! The CPU quota of this process's cgroup, cgroup v1 or v2.
//!
//! Parsing is pure ([`parse_proc_cgroup`], [`parse_mountinfo`], [`parse_cpu_max`],
//! [`parse_cfs`]) and unit-tested on sample file contents; [`CgroupFs`] does the reads.
//!
//! The effective quota is the tightest one on the path from the process's cgroup up to the
//! mount point: a limit set on a parent (a container, a systemd slice) binds every child.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

/// A CFS bandwidth limit, or its absence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CpuQuota {
    /// No limit (v2 `max`, v1 `-1`, or no cpu controller file at all).
    Unlimited,
    /// `quota_us` of CPU time per `period_us` of wall time.
    Limited { quota_us: u64, period_us: u64 },
}

impl CpuQuota {
    /// The limit as a number of CPUs (`1.5` for 150000/100000), `None` when unlimited.
    pub fn cpus(&self) -> Option<f64> {
        match *self {
            CpuQuota::Unlimited => None,
            CpuQuota::Limited {
                quota_us,
                period_us,
            } => Some(quota_us as f64 / period_us as f64),
        }
    }

    /// The tighter of two limits (the one with fewer CPUs).
    pub fn tightest(self, other: CpuQuota) -> CpuQuota {
        match (self.cpus(), other.cpus()) {
            (None, _) => other,
            (_, None) => self,
            (Some(a), Some(b)) if b < a => other,
            _ => self,
        }
    }
}

impl fmt::Display for CpuQuota {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            CpuQuota::Unlimited => f.write_str("none"),
            CpuQuota::Limited {
                quota_us,
                period_us,
            } => write!(
                f,
                "{:.2} CPUs ({quota_us} us per {period_us} us)",
                quota_us as f64 / period_us as f64
            ),
        }
    }
}

/// A cgroup file whose content is not what the kernel writes.
#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    #[error("unexpected content in {file}: {content:?}")]
    Malformed { file: &'static str, content: String },
    #[error("reading {path}: {source}")]
    Read { path: PathBuf, source: io::Error },
    #[error("no cgroup with a cpu controller found for this process")]
    NoCpuController,
}

/// Which hierarchy a cgroup entry or mount belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hierarchy {
    /// The unified (v2) hierarchy.
    V2,
    /// A v1 hierarchy carrying these controllers (`cpu`, `cpuacct`, `name=systemd`, ...).
    V1(Vec<String>),
}

impl Hierarchy {
    fn has_v1_controller(&self, name: &str) -> bool {
        matches!(self, Hierarchy::V1(c) if c.iter().any(|c| c == name))
    }
}

/// One line of `/proc/self/cgroup`: `hierarchy-id:controllers:path`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CgroupEntry {
    pub hierarchy: Hierarchy,
    pub path: String,
}

/// One cgroup filesystem from `/proc/self/mountinfo`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CgroupMount {
    pub hierarchy: Hierarchy,
    /// The cgroup path shown at the mount point (`/` unless the mount is of a sub-tree).
    pub root: String,
    pub mount_point: PathBuf,
}

/// Parses `/proc/self/cgroup`. Lines that do not have three fields are skipped.
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

/// Parses the cgroup and cgroup2 mounts out of `/proc/self/mountinfo`.
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

/// Parses a v2 `cpu.max`: `max 100000` or `150000 100000`.
pub fn parse_cpu_max(content: &str) -> Result<CpuQuota, CgroupError> {
    let malformed = || CgroupError::Malformed {
        file: "cpu.max",
        content: content.to_owned(),
    };
    let mut fields = content.split_whitespace();
    let quota = fields.next().ok_or_else(malformed)?;
    let period: u64 = fields
        .next()
        .ok_or_else(malformed)?
        .parse()
        .map_err(|_| malformed())?;
    if fields.next().is_some() || period == 0 {
        return Err(malformed());
    }
    if quota == "max" {
        return Ok(CpuQuota::Unlimited);
    }
    let quota_us = quota.parse().map_err(|_| malformed())?;
    Ok(CpuQuota::Limited {
        quota_us,
        period_us: period,
    })
}

/// Parses v1 `cpu.cfs_quota_us` and `cpu.cfs_period_us`; a negative quota means no limit.
pub fn parse_cfs(quota: &str, period: &str) -> Result<CpuQuota, CgroupError> {
    let quota_us: i64 = quota.trim().parse().map_err(|_| CgroupError::Malformed {
        file: "cpu.cfs_quota_us",
        content: quota.to_owned(),
    })?;
    let period_us: u64 = match period.trim().parse() {
        Ok(p) if p > 0 => p,
        _ => {
            return Err(CgroupError::Malformed {
                file: "cpu.cfs_period_us",
                content: period.to_owned(),
            })
        }
    };
    Ok(match u64::try_from(quota_us) {
        Ok(quota_us) => CpuQuota::Limited {
            quota_us,
            period_us,
        },
        Err(_) => CpuQuota::Unlimited,
    })
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

/// The cgroup (v1 `cpu` controller if mounted, else v2) of this process, with its mount.
pub fn cpu_cgroup(
    entries: &[CgroupEntry],
    mounts: &[CgroupMount],
) -> Option<(Hierarchy, CgroupMount, PathBuf)> {
    // On a hybrid host the cpu controller lives in exactly one place; try v1 first because the
    // unified hierarchy then exists but carries no cpu controller.
    let v1 = entries
        .iter()
        .find(|e| e.hierarchy.has_v1_controller("cpu"))
        .and_then(|e| {
            let m = mounts
                .iter()
                .find(|m| m.hierarchy.has_v1_controller("cpu"))?;
            Some((e, m))
        });
    let v2 = || {
        let e = entries.iter().find(|e| e.hierarchy == Hierarchy::V2)?;
        let m = mounts.iter().find(|m| m.hierarchy == Hierarchy::V2)?;
        Some((e, m))
    };
    let (entry, mount) = v1.or_else(v2)?;
    let dir = cgroup_dir(mount, &entry.path).unwrap_or_else(|| mount.mount_point.clone());
    Some((entry.hierarchy.clone(), mount.clone(), dir))
}

/// Reads cgroup files from a filesystem root (`/` in production, a fixture in tests).
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
    /// Reads `proc/self/...` and the cgroup mounts under `root`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        CgroupFs { root: root.into() }
    }

    fn path(&self, absolute: &Path) -> PathBuf {
        self.root
            .join(absolute.strip_prefix("/").unwrap_or(absolute))
    }

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

    /// The tightest CPU quota between this process's cgroup and its hierarchy's mount point.
    pub fn cpu_quota(&self) -> Result<CpuQuota, CgroupError> {
        let entries = parse_proc_cgroup(&self.read_required(Path::new("/proc/self/cgroup"))?);
        let mounts = parse_mountinfo(&self.read_required(Path::new("/proc/self/mountinfo"))?);
        let (hierarchy, mount, dir) =
            cpu_cgroup(&entries, &mounts).ok_or(CgroupError::NoCpuController)?;
        let mut quota = CpuQuota::Unlimited;
        let mut dir = dir.as_path();
        loop {
            quota = quota.tightest(self.quota_in(&hierarchy, dir)?);
            if dir == mount.mount_point {
                break;
            }
            match dir.parent() {
                Some(parent) if parent.starts_with(&mount.mount_point) => dir = parent,
                _ => break,
            }
        }
        Ok(quota)
    }

    /// The quota set in one cgroup directory; a missing file (v2 root) means no limit.
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

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID_CGROUP: &str = "9:name=systemd:/\n8:pids:/\n4:memory:/process_api/e85f\n\
        3:cpuset:/\n2:cpu,cpuacct:/user.slice/app\n0::/user.slice/app\n";
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
                path: "/user.slice/app".into()
            }
        );
        assert_eq!(entries[5].hierarchy, Hierarchy::V2);
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
        assert!(parse_mountinfo("not a mountinfo line").is_empty());
    }

    #[test]
    fn hybrid_prefers_v1_cpu_controller() {
        let (h, _, dir) = cpu_cgroup(
            &parse_proc_cgroup(HYBRID_CGROUP),
            &parse_mountinfo(HYBRID_MOUNTINFO),
        )
        .expect("cpu cgroup");
        assert!(matches!(h, Hierarchy::V1(_)));
        assert_eq!(dir, Path::new("/sys/fs/cgroup/cpu,cpuacct/user.slice/app"));
    }

    #[test]
    fn pure_v2() {
        let (h, _, dir) = cpu_cgroup(
            &parse_proc_cgroup(V2_CGROUP),
            &parse_mountinfo(V2_MOUNTINFO),
        )
        .expect("cpu cgroup");
        assert_eq!(h, Hierarchy::V2);
        assert_eq!(
            dir,
            Path::new("/sys/fs/cgroup/system.slice/numaload.service")
        );
    }

    #[test]
    fn mount_of_a_subtree_strips_its_root() {
        let mount = CgroupMount {
            hierarchy: Hierarchy::V2,
            root: "/docker/abc".into(),
            mount_point: "/sys/fs/cgroup".into(),
        };
        let dir = |p| cgroup_dir(&mount, p);
        assert_eq!(dir("/docker/abc"), Some("/sys/fs/cgroup/".into()));
        assert_eq!(dir("/docker/abc/x"), Some("/sys/fs/cgroup/x".into()));
        assert_eq!(dir("/docker/abcd"), None);
        assert_eq!(dir("/other"), None);
    }

    #[test]
    fn cpu_max_values() {
        let limited = |q, p| CpuQuota::Limited {
            quota_us: q,
            period_us: p,
        };
        for (content, want) in [
            ("max 100000\n", Some(CpuQuota::Unlimited)),
            ("150000 100000\n", Some(limited(150000, 100000))),
            ("50000 100000", Some(limited(50000, 100000))),
            ("", None),
            ("max", None),
            ("abc 100000", None),
            ("100 0", None),
            ("1 2 3", None),
        ] {
            assert_eq!(parse_cpu_max(content).ok(), want, "{content:?}");
        }
    }

    #[test]
    fn cfs_values() {
        assert_eq!(
            parse_cfs("-1\n", "100000\n").ok(),
            Some(CpuQuota::Unlimited)
        );
        assert_eq!(
            parse_cfs("200000\n", "100000\n")
                .ok()
                .and_then(|q| q.cpus()),
            Some(2.0)
        );
        assert!(parse_cfs("x", "100000").is_err());
        assert!(parse_cfs("1000", "0").is_err());
    }

    #[test]
    fn display_and_tightest() {
        let one_and_half = CpuQuota::Limited {
            quota_us: 150000,
            period_us: 100000,
        };
        assert_eq!(CpuQuota::Unlimited.to_string(), "none");
        assert_eq!(
            one_and_half.to_string(),
            "1.50 CPUs (150000 us per 100000 us)"
        );
        let half = CpuQuota::Limited {
            quota_us: 50000,
            period_us: 100000,
        };
        assert_eq!(one_and_half.tightest(half), half);
        assert_eq!(half.tightest(one_and_half), half);
        assert_eq!(CpuQuota::Unlimited.tightest(half), half);
        assert_eq!(half.tightest(CpuQuota::Unlimited), half);
    }
}
