//! What happens before serving: arguments, the readiness line, bind errors, cgroup reads.

use std::net::{SocketAddr, TcpListener};
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};

use clap::Parser;
use numaload_target::cgroup::{CgroupFs, CpuQuota};
use numaload_target::{
    run, write_ready_line, Dispatch, ServerConfig, TargetArgs, Variant, WorkMode,
};

#[derive(Parser, Debug)]
struct Cli {
    #[command(flatten)]
    target: TargetArgs,
}

fn parse(args: &[&str]) -> Result<TargetArgs, clap::Error> {
    Cli::try_parse_from(std::iter::once("numaload-target").chain(args.iter().copied()))
        .map(|cli| cli.target)
}

#[test]
fn the_agents_command_line_parses() {
    let args = parse(&[
        "--variant",
        "async",
        "--listen",
        "127.0.0.1:0",
        "--work-us",
        "50",
        "--threads",
        "2",
    ])
    .expect("valid arguments");
    assert_eq!(args.variant, Variant::Async);
    assert_eq!(
        args.listen,
        "127.0.0.1:0".parse::<SocketAddr>().expect("addr")
    );
    assert_eq!((args.work_us, args.threads), (50, Some(2)));

    let defaults = parse(&[]).expect("defaults");
    assert_eq!(defaults.listen.to_string(), "127.0.0.1:8080");
    assert_eq!((defaults.work_us, defaults.threads), (0, None));
}

#[test]
fn the_ffi_command_line_parses_and_resolves() {
    let args = parse(&[
        "--variant",
        "ffi",
        "--work-us",
        "2000",
        "--work-mode",
        "sleep",
        "--dispatch",
        "bounded",
        "--limit",
        "8",
        "--max-blocking-threads",
        "64",
        "--threads",
        "2",
    ])
    .expect("valid arguments");
    assert_eq!(args.variant, Variant::Ffi);
    let config = args.resolve().expect("resolves");
    assert_eq!(
        config.server,
        ServerConfig::ffi(
            WorkMode::Sleep,
            2000,
            Dispatch::Bounded {
                limit: NonZeroUsize::new(8).expect("8")
            }
        )
    );
    assert_eq!(config.max_blocking_threads, Some(64));
    let pool = parse(&[
        "--variant",
        "ffi",
        "--dispatch",
        "pinned-pool",
        "--pool-threads",
        "4",
    ])
    .expect("valid")
    .resolve()
    .expect("resolves");
    assert_eq!(
        pool.server.dispatch,
        Dispatch::PinnedPool {
            threads: NonZeroUsize::new(4).expect("4")
        }
    );
    let error = parse(&["--dispatch", "nope"]).expect_err("unknown dispatch");
    assert!(error.to_string().contains("--dispatch"), "{error}");
}

#[test]
fn the_async_variant_refuses_to_sleep_before_listening() {
    let args = parse(&["--work-mode", "sleep", "--listen", "127.0.0.1:0"]).expect("parses");
    let error = format!("{:#}", run(args).expect_err("async never blocks"));
    assert!(error.starts_with("--work-mode sleep"), "{error}");
}

#[test]
fn a_bad_address_names_listen() {
    let error = parse(&["--listen", "localhost:http"]).expect_err("not a socket address");
    let text = error.to_string();
    assert!(
        text.contains("--listen") && text.contains("localhost:http"),
        "{text}"
    );
}

#[test]
fn a_port_in_use_names_listen_and_the_address() {
    let taken = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("addr");
    let args = parse(&["--listen", &addr.to_string(), "--threads", "1"]).expect("valid");
    let error = run(args).expect_err("address in use");
    let text = format!("{error:#}");
    assert!(
        text.contains("--listen") && text.contains(&addr.to_string()),
        "{text}"
    );
}

#[test]
fn the_readiness_line_is_exact_and_flushed() {
    /// A writer that records what reached it only when flushed.
    #[derive(Default)]
    struct Flushed {
        pending: Vec<u8>,
        flushed: Vec<u8>,
    }
    impl std::io::Write for Flushed {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.pending.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            self.flushed.append(&mut self.pending);
            Ok(())
        }
    }
    let mut out = Flushed::default();
    write_ready_line(&mut out, "127.0.0.1:43210".parse().expect("addr")).expect("write");
    assert_eq!(
        String::from_utf8(out.flushed).expect("utf-8"),
        "numaload-target listening on 127.0.0.1:43210\n"
    );
    let mut v6 = Vec::new();
    write_ready_line(&mut v6, "[::1]:80".parse().expect("addr")).expect("write");
    assert_eq!(v6, b"numaload-target listening on [::1]:80\n");
}

/// A fake filesystem root with `proc/self/{cgroup,mountinfo}` and cgroup files.
struct FakeRoot(PathBuf);

impl FakeRoot {
    fn new(name: &str) -> Self {
        let dir =
            std::env::temp_dir().join(format!("numaload-target-{name}-{}", std::process::id()));
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

#[test]
fn this_hosts_cgroup_quota_is_readable() {
    // Whatever the host, reading must not fail where procfs and cgroups exist.
    if Path::new("/proc/self/cgroup").exists() {
        CgroupFs::default()
            .cpu_quota()
            .expect("cgroup quota of this host");
    }
}
