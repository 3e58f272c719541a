//! Pinning a replica before it executes: CPU affinity, memory policy, process group and
//! parent-death signal, all set in the forked child between `fork` and `exec`.
//!
//! This is one of the two places in numaload allowed to use `unsafe` (the other is the target
//! server's FFI module). Everything the child runs is async-signal-safe: the CPU set and the node
//! mask are built in the parent beforehand, and the child only makes raw syscalls.
//!
//! Why set it in the child rather than on the running process: Linux has no process-wide memory
//! policy (hwloc's PROCESS memory binding is unsupported), but a thread's policy *is* inherited
//! across fork and exec, so setting it on the child's only thread before exec covers every thread
//! and every page the target will ever create.
#![allow(unsafe_code)]

use std::io;

use nix::sched::CpuSet;

use crate::placement::NodePolicy;

/// `MPOL_BIND` from `<linux/mempolicy.h>`: allocate only on the given nodes.
const MPOL_BIND: libc::c_int = 2;
/// `MPOL_INTERLEAVE` from `<linux/mempolicy.h>`: spread pages round-robin over the given nodes.
const MPOL_INTERLEAVE: libc::c_int = 3;
/// Bits in the node mask handed to `set_mempolicy` (nodes 0..1023).
const NODE_MASK_BITS: usize = 1024;
const NODE_MASK_WORDS: usize = NODE_MASK_BITS / libc::c_ulong::BITS as usize;

/// Where a replica must run, prepared in the parent so the child only makes syscalls.
#[derive(Debug, Clone)]
pub struct Pinning {
    cpus: Option<CpuSet>,
    /// The `set_mempolicy` mode and node mask, when a policy is set.
    memory: Option<(libc::c_int, [libc::c_ulong; NODE_MASK_WORDS])>,
}

/// A CPU or node number this process cannot express.
#[derive(Debug, thiserror::Error)]
pub enum PinningError {
    #[error("CPU {0} is beyond what a CPU set can hold on this system")]
    CpuOutOfRange(u32),
    #[error("NUMA node {0} is beyond the {NODE_MASK_BITS} nodes numaload can bind to")]
    NodeOutOfRange(u32),
}

impl Pinning {
    /// `cpus` empty means "leave the affinity alone"; `memory_nodes` empty (or
    /// [`NodePolicy::Default`]) means "no policy"; otherwise `policy` says bind or interleave.
    pub fn new(
        cpus: &[u32],
        memory_nodes: &[u32],
        policy: NodePolicy,
    ) -> Result<Self, PinningError> {
        let cpus = if cpus.is_empty() {
            None
        } else {
            let mut set = CpuSet::new();
            for &cpu in cpus {
                set.set(cpu as usize)
                    .map_err(|_| PinningError::CpuOutOfRange(cpu))?;
            }
            Some(set)
        };
        let mode = match policy {
            NodePolicy::Default => None,
            NodePolicy::Bind => Some(MPOL_BIND),
            NodePolicy::Interleave => Some(MPOL_INTERLEAVE),
        };
        let memory = match mode {
            Some(mode) if !memory_nodes.is_empty() => Some((mode, node_mask(memory_nodes)?)),
            _ => None,
        };
        Ok(Self { cpus, memory })
    }

    /// Arranges for the child of `command` to be pinned, to be in its own process group and to
    /// receive SIGKILL when the thread that spawned it dies (so replicas never outlive the agent).
    ///
    /// Spawn from a long-lived thread (a runtime worker, not a blocking-pool thread): the kernel
    /// sends the parent-death signal when the spawning *thread* exits.
    pub fn apply_to(&self, command: &mut tokio::process::Command) {
        let pinning = self.clone();
        let parent = std::process::id() as libc::pid_t;
        command.process_group(0);
        // SAFETY: the closure runs in the forked child before exec. It only calls prctl,
        // getppid, getrlimit/setrlimit, sched_setaffinity and set_mempolicy through raw syscalls on data prepared
        // before the fork (no allocation, no locks), all async-signal-safe.
        unsafe {
            command.pre_exec(move || pinning.in_child(parent));
        }
    }

    fn in_child(&self, parent: libc::pid_t) -> io::Result<()> {
        // SAFETY: plain syscalls on values owned by this stack frame; see `apply_to`.
        unsafe {
            if libc::prctl(
                libc::PR_SET_PDEATHSIG,
                libc::SIGKILL as libc::c_ulong,
                0,
                0,
                0,
            ) != 0
            {
                return Err(io::Error::last_os_error());
            }
            // The parent may have died between fork and prctl: then nobody will ever stop us.
            if libc::getppid() != parent {
                return Err(io::Error::other(
                    "the agent exited while starting this replica",
                ));
            }
            // Servers size their connection tables from the open-file limit (nginx warns when
            // worker_connections exceed it): give the replica the hard limit, as a service
            // manager would. Best effort; the replica still runs with the soft one otherwise.
            let mut files = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            if libc::getrlimit(libc::RLIMIT_NOFILE, &mut files) == 0
                && files.rlim_cur < files.rlim_max
            {
                files.rlim_cur = files.rlim_max;
                libc::setrlimit(libc::RLIMIT_NOFILE, &files);
            }
            if let Some(cpus) = &self.cpus {
                let size = std::mem::size_of::<CpuSet>();
                let ptr = (cpus as *const CpuSet).cast::<libc::cpu_set_t>();
                if libc::sched_setaffinity(0, size, ptr) != 0 {
                    return Err(io::Error::last_os_error());
                }
            }
            if let Some((mode, mask)) = &self.memory {
                // maxnode is one more than the bits given: the kernel reads maxnode - 1 bits.
                let rc = libc::syscall(
                    libc::SYS_set_mempolicy,
                    *mode,
                    mask.as_ptr(),
                    NODE_MASK_BITS + 1,
                );
                if rc != 0 {
                    let err = io::Error::last_os_error();
                    // Containers under Docker's default seccomp profile refuse set_mempolicy
                    // without CAP_SYS_NICE. The replica then runs with the default policy, which
                    // the placement read-back reports as a mismatch: loud, but not a crash here.
                    if err.raw_os_error() != Some(libc::EPERM) {
                        return Err(err);
                    }
                }
            }
        }
        Ok(())
    }
}

/// The `set_mempolicy` node mask with these nodes set.
fn node_mask(nodes: &[u32]) -> Result<[libc::c_ulong; NODE_MASK_WORDS], PinningError> {
    let mut mask = [0 as libc::c_ulong; NODE_MASK_WORDS];
    let word_bits = libc::c_ulong::BITS as usize;
    for &node in nodes {
        let n = node as usize;
        if n >= NODE_MASK_BITS {
            return Err(PinningError::NodeOutOfRange(node));
        }
        mask[n / word_bits] |= 1 << (n % word_bits);
    }
    Ok(mask)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_nodes_it_cannot_encode() {
        assert!(matches!(
            Pinning::new(&[], &[4096], NodePolicy::Bind),
            Err(PinningError::NodeOutOfRange(4096))
        ));
        assert!(Pinning::new(&[0], &[0, 3], NodePolicy::Interleave).is_ok());
    }

    #[test]
    fn modes_follow_the_policy_and_no_nodes_mean_no_policy() {
        let mode = |nodes: &[u32], policy| {
            Pinning::new(&[], nodes, policy)
                .expect("pinning")
                .memory
                .map(|(mode, mask)| (mode, mask[0]))
        };
        assert_eq!(mode(&[0, 2], NodePolicy::Bind), Some((MPOL_BIND, 0b101)));
        assert_eq!(
            mode(&[1, 3], NodePolicy::Interleave),
            Some((MPOL_INTERLEAVE, 0b1010))
        );
        assert_eq!(mode(&[], NodePolicy::Bind), None);
        assert_eq!(mode(&[0], NodePolicy::Default), None);
    }

    /// The policy the child had before exec, as the kernel reports it for its stack.
    async fn child_policy(nodes: &[u32], policy: NodePolicy) -> String {
        let mut command = tokio::process::Command::new("grep");
        command.args(["stack", "/proc/self/numa_maps"]);
        Pinning::new(&[], nodes, policy)
            .expect("pinning")
            .apply_to(&mut command);
        let out = command.output().await.expect("run grep");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    #[tokio::test]
    async fn interleaves_a_real_child_before_exec() {
        // Node 0 exists on every Linux host; interleaving over one node is still MPOL_INTERLEAVE.
        // The binding must really happen: a child that kept the default policy fails this test.
        // The one known cause is a seccomp profile that refuses
        // set_mempolicy without CAP_SYS_NICE (Docker's default), where the agent reports every
        // bound replica as a placement mismatch: run the tests with that capability.
        let refused = "the child kept the default memory policy: set_mempolicy was refused \
                       (a seccomp profile without CAP_SYS_NICE?)";
        let text = child_policy(&[0], NodePolicy::Interleave).await;
        assert!(!text.contains(" default "), "{refused}: {text}");
        assert!(text.contains(" interleave:0 "), "child saw: {text}");
        let text = child_policy(&[0], NodePolicy::Bind).await;
        assert!(!text.contains(" default "), "{refused}: {text}");
        assert!(text.contains(" bind:0 "), "child saw: {text}");
    }

    #[tokio::test]
    async fn pins_a_real_child_before_exec() {
        let allowed =
            nix::sched::sched_getaffinity(nix::unistd::Pid::from_raw(0)).expect("affinity");
        let first = (0..CpuSet::count())
            .find(|&c| allowed.is_set(c).unwrap_or(false))
            .expect("a CPU");
        let mut command = tokio::process::Command::new("grep");
        command.args(["Cpus_allowed_list", "/proc/self/status"]);
        Pinning::new(&[first as u32], &[0], NodePolicy::Bind)
            .expect("pinning")
            .apply_to(&mut command);
        let out = command.output().await.expect("run grep");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.trim().ends_with(&format!("\t{first}")),
            "child saw: {text}"
        );
    }
}

/// The last line of defence for invariant 6 (no orphans) when the agent itself is killed: a
/// forked watchdog process that holds the read end of a pipe and a list of replica process
/// groups. The agent registers each replica's group as it starts and releases it once the group
/// is gone. When the pipe reaches end-of-file — the agent exited, however it died, SIGKILL
/// included — the watchdog sends SIGKILL to every group still registered and exits. (A replica's
/// parent-death signal reaches only the replica's own process, not what it forked: nginx's
/// workers, a shell wrapper's server.)
///
/// The watchdog is forked from a multi-threaded process, so it only makes async-signal-safe
/// syscalls (`read`, `kill`, `close`, `sigaction` through `signal`, `prctl`, `_exit`) on memory
/// it owns on its stack.
#[derive(Debug)]
pub struct Watchdog {
    pipe: std::sync::Mutex<std::fs::File>,
}

/// Process groups and processes one watchdog can hold; more are still stopped by the agent, only
/// not after the agent's own death.
const WATCHED_GROUPS: usize = 4096;
/// Marks an entry as a single process rather than a group (pids stay below 2^22 on Linux).
const SINGLE_PROCESS: u32 = 1 << 30;

impl Watchdog {
    /// The agent's watchdog, forked on first use; `None` when it could not be started (the
    /// agent still stops its replicas on every path it survives).
    pub fn get() -> Option<&'static Watchdog> {
        static WATCHDOG: std::sync::OnceLock<Option<Watchdog>> = std::sync::OnceLock::new();
        WATCHDOG
            .get_or_init(|| match Watchdog::start() {
                Ok(watchdog) => Some(watchdog),
                Err(e) => {
                    tracing::warn!(
                        "no orphan watchdog: {e}; replicas' children could outlive a killed agent"
                    );
                    None
                }
            })
            .as_ref()
    }

    /// Registers a replica's process group (its leader's pid).
    pub fn watch(&self, group: u32) {
        self.send(group as i32);
    }

    /// The group is gone: forget it (a later process may reuse the number).
    pub fn release(&self, group: u32) {
        self.send(-(group as i32));
    }

    /// Registers one process of a replica's tree that may have left its group (`setsid`).
    pub fn watch_process(&self, pid: u32) {
        self.send((pid | SINGLE_PROCESS) as i32);
    }

    /// The process is gone: forget it.
    pub fn release_process(&self, pid: u32) {
        self.send(-((pid | SINGLE_PROCESS) as i32));
    }

    fn send(&self, value: i32) {
        use std::io::Write as _;
        if let Ok(mut pipe) = self.pipe.lock() {
            let _ = pipe.write_all(&value.to_ne_bytes());
        }
    }

    fn start() -> io::Result<Watchdog> {
        use std::os::fd::FromRawFd as _;
        let mut fds = [0 as libc::c_int; 2];
        // SAFETY: pipe2 writes two descriptors into `fds`, which we own from here on.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
            return Err(io::Error::last_os_error());
        }
        let [read_end, write_end] = fds;
        // SAFETY: fork duplicates this process; the child runs only `watch_groups`, which makes
        // async-signal-safe syscalls on its own stack and never returns.
        let pid = unsafe { libc::fork() };
        if pid < 0 {
            return Err(io::Error::last_os_error());
        }
        if pid == 0 {
            watch_groups(read_end);
        }
        // SAFETY: the parent closes its copy of the read end and owns the write end.
        unsafe { libc::close(read_end) };
        let pipe = unsafe { std::fs::File::from_raw_fd(write_end) };
        Ok(Watchdog {
            pipe: std::sync::Mutex::new(pipe),
        })
    }
}

/// The watchdog's whole life, in the forked child.
fn watch_groups(read_end: libc::c_int) -> ! {
    let mut groups = [0 as libc::pid_t; WATCHED_GROUPS];
    // SAFETY: async-signal-safe syscalls only, on the stack array above and constants.
    unsafe {
        // Close everything inherited but the pipe's read end (the write end included: else the
        // pipe never reaches end-of-file), so the watchdog holds no socket of the agent's.
        let below = libc::syscall(libc::SYS_close_range, 0u32, (read_end - 1) as u32, 0u32);
        let above = libc::syscall(libc::SYS_close_range, (read_end + 1) as u32, u32::MAX, 0u32);
        if below != 0 || above != 0 {
            // Kernels before 5.9 have no close_range.
            for fd in 0..65_536 {
                if fd != read_end {
                    libc::close(fd);
                }
            }
        }
        // Ctrl-C in a terminal signals the whole foreground group, the watchdog with it: it must
        // outlive the agent to be of any use.
        for signal in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT] {
            libc::signal(signal, libc::SIG_IGN);
        }
        let name = b"numaload-reaper\0";
        libc::prctl(libc::PR_SET_NAME, name.as_ptr() as libc::c_ulong, 0, 0, 0);
        let mut buf = [0u8; 4];
        loop {
            let n = libc::read(read_end, buf.as_mut_ptr().cast(), 4);
            if n == 4 {
                let value = i32::from_ne_bytes(buf);
                if value > 0 {
                    if let Some(slot) = groups.iter_mut().find(|g| **g == 0) {
                        *slot = value;
                    }
                } else if let Some(slot) = groups.iter_mut().find(|g| **g == -value) {
                    *slot = 0;
                }
                continue;
            }
            if n < 0 && *libc::__errno_location() == libc::EINTR {
                continue;
            }
            // End of file (the agent is gone) or a broken pipe: kill what is left.
            for &entry in groups.iter().filter(|g| **g > 0) {
                if entry & SINGLE_PROCESS as i32 != 0 {
                    libc::kill(entry & !(SINGLE_PROCESS as i32), libc::SIGKILL);
                } else {
                    libc::kill(-entry, libc::SIGKILL);
                }
            }
            libc::_exit(0);
        }
    }
}
