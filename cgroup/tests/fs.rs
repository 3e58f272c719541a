//! Reading cgroup files from fixture trees laid out as the kernel does, and from this host.

use std::path::{Path, PathBuf};

use numaload_cgroup::{CgroupError, CgroupFs, CpuQuota, Process};

/// A fake filesystem root with `proc/self/{cgroup,mountinfo}` and cgroup files.
struct FakeRoot(PathBuf);

impl FakeRoot {
    fn new(name: &str) -> Self {
        let dir =
            std::env::temp_dir().join(format!("numaload-cgroup-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        FakeRoot(dir)
    }

    fn file(&self, path: &str, content: &str) -> &Self {
        let path = self.0.join(path.trim_start_matches('/'));
        std::fs::create_dir_all(path.parent().unwrap_or(Path::new("."))).expect("mkdir");
        std::fs::write(path, content).expect("write fixture");
        self
    }

    fn quota(&self) -> CpuQuota {
        CgroupFs::new(&self.0).cpu_quota().expect("quota")
    }
}

impl Drop for FakeRoot {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn cgroup_v1_quota_is_read_from_the_cpu_hierarchy() {
    let root = FakeRoot::new("v1");
    root.file(
        "/proc/self/cgroup",
        "3:memory:/x\n2:cpu,cpuacct:/app/job\n0::/\n",
    )
    .file(
        "/proc/self/mountinfo",
        "32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n\
             41 31 0:38 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n",
    )
    .file("/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us", "-1\n")
    .file("/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us", "100000\n")
    .file(
        "/sys/fs/cgroup/cpu,cpuacct/app/cpu.cfs_quota_us",
        "150000\n",
    )
    .file(
        "/sys/fs/cgroup/cpu,cpuacct/app/cpu.cfs_period_us",
        "100000\n",
    )
    .file(
        "/sys/fs/cgroup/cpu,cpuacct/app/job/cpu.cfs_quota_us",
        "-1\n",
    )
    .file(
        "/sys/fs/cgroup/cpu,cpuacct/app/job/cpu.cfs_period_us",
        "100000\n",
    );
    // The parent's limit binds the child.
    assert_eq!(root.quota().cpus(), Some(1.5));
}

#[test]
fn cgroup_v2_quota_unlimited_and_limited() {
    let root = FakeRoot::new("v2");
    root.file("/proc/self/cgroup", "0::/svc\n").file(
        "/proc/self/mountinfo",
        "29 25 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n",
    );
    // The v2 root has no cpu.max at all.
    assert_eq!(root.quota(), CpuQuota::Unlimited);
    root.file("/sys/fs/cgroup/svc/cpu.max", "max 100000\n");
    assert_eq!(root.quota(), CpuQuota::Unlimited);
    root.file("/sys/fs/cgroup/svc/cpu.max", "50000 100000\n");
    assert_eq!(root.quota().cpus(), Some(0.5));
}

/// This process on this host: its cgroups are read, the cpu controller's directory found is
/// the one that lists this process, and the quota read there is a quota. A host without
/// `/proc/self/cgroup` (a kernel without cgroups) fails the test: there is nothing here to check.
#[test]
fn this_hosts_cgroup_quota_is_readable() {
    let fs = CgroupFs::default();
    let membership = fs
        .membership(Process::Current)
        .expect("/proc/self/cgroup and /proc/self/mountinfo of this process");
    assert!(
        !membership.entries.is_empty(),
        "no entry in /proc/self/cgroup: {membership:?}"
    );
    let Some(cpu) = membership.locate("cpu") else {
        // Cgroups without a cpu controller visible here (no v1 `cpu` hierarchy, no v2 mount).
        let err = fs.cpu_quota().expect_err("no cpu controller, so no quota");
        assert!(matches!(err, CgroupError::NoCpuController), "{err}");
        println!("this host: no cpu controller mounted for this process: {membership:?}");
        return;
    };
    let procs = cpu.dir.join("cgroup.procs");
    let members = std::fs::read_to_string(&procs)
        .unwrap_or_else(|e| panic!("{} of the cpu cgroup found: {e}", procs.display()));
    let pid = std::process::id().to_string();
    assert!(
        members.lines().any(|line| line == pid),
        "this process ({pid}) is not in {}: the wrong cgroup was found ({cpu:?})",
        procs.display()
    );
    let quota = fs.cpu_quota().expect("cgroup quota of this host");
    assert_eq!(quota, fs.quota(&cpu).expect("quota of the cgroup found"));
    if let Some(cpus) = quota.cpus() {
        assert!(cpus > 0.0, "{quota:?}");
    }
    println!(
        "this host: cgroup {} {} at {}: {quota:?}",
        cpu.hierarchy.version(),
        cpu.path,
        cpu.dir.display()
    );
}

#[test]
fn another_process_is_read_from_its_own_proc_directory() {
    let root = FakeRoot::new("pid");
    root.file("/proc/7/cgroup", "0::/svc\n")
        .file(
            "/proc/7/mountinfo",
            "29 25 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n",
        )
        .file("/sys/fs/cgroup/svc/cpu.max", "25000 100000\n");
    let fs = CgroupFs::new(&root.0);
    let cpu = fs
        .membership(Process::Id(7))
        .expect("pid 7")
        .locate("cpu")
        .expect("cpu");
    assert_eq!(fs.quota(&cpu).expect("quota").cpus(), Some(0.25));
    // A process that does not exist names the file it could not read.
    let err = fs.membership(Process::Id(8)).expect_err("no pid 8");
    assert!(err.to_string().contains("proc/8/cgroup"), "{err}");
    // A host without cgroup mounts has no cpu controller for this process.
    root.file("/proc/self/cgroup", "0::/\n").file(
        "/proc/self/mountinfo",
        "25 30 0:22 / /sys rw - sysfs sysfs rw\n",
    );
    let err = fs.cpu_quota().expect_err("no controller");
    assert!(
        err.to_string().contains("no cgroup with a cpu controller"),
        "{err}"
    );
    // A file the kernel would never write.
    root.file("/sys/fs/cgroup/svc/cpu.max", "lots\n");
    assert!(fs.quota(&cpu).is_err());
}
