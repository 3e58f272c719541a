//! The runtime knobs printed on stderr at start-up, and the over-subscription warning.

use std::fmt;
use std::io::{self, Write};

use crate::cgroup::{CgroupFs, CpuQuota};
use crate::config::{Dispatch, RunConfig, Variant, WorkMode};
use crate::proc_status;

/// What a reader of the logs needs to interpret a measurement of this process.
#[derive(Debug, Clone)]
pub struct RuntimeKnobs {
    pub version: &'static str,
    pub variant: Variant,
    pub pid: u32,
    /// `Cpus_allowed_list` of `/proc/self/status`, e.g. `0-3,8`.
    pub cpus_allowed: Option<String>,
    pub worker_threads: usize,
    pub work_us: u64,
    pub work_mode: WorkMode,
    /// How C calls are dispatched; `None` for a variant without them.
    pub dispatch: Option<Dispatch>,
    /// tokio's blocking-pool cap; `None`: tokio's default.
    pub max_blocking_threads: Option<usize>,
    /// The cgroup CPU quota, or why it could not be read.
    pub cpu_quota: Result<CpuQuota, String>,
}

impl RuntimeKnobs {
    /// Reads the knobs of this process as `config` will run it.
    pub fn collect(config: &RunConfig) -> Self {
        RuntimeKnobs {
            version: env!("CARGO_PKG_VERSION"),
            variant: config.server.variant,
            pid: std::process::id(),
            cpus_allowed: proc_status::read_self()
                .and_then(|s| proc_status::field(&s, "Cpus_allowed_list").map(str::to_owned)),
            worker_threads: config.worker_threads,
            work_us: config.server.work_us,
            work_mode: config.server.work_mode,
            dispatch: (config.server.variant == Variant::Ffi).then_some(config.server.dispatch),
            max_blocking_threads: config.max_blocking_threads,
            cpu_quota: CgroupFs::default().cpu_quota().map_err(|e| e.to_string()),
        }
    }

    /// A `warning: ...` line when the workers are 2× or more the CPUs the quota grants: they
    /// will be throttled and latency will show it (the rule lives in `numaload-cgroup`, shared
    /// with `numaload watch`).
    pub fn oversubscription_warning(&self) -> Option<String> {
        let cpus = self.cpu_quota.as_ref().ok()?.cpus()?;
        crate::cgroup::oversubscription_warning(self.worker_threads, cpus)
    }

    /// Writes the block (and the warning, if any).
    pub fn write_to(&self, out: &mut impl Write) -> io::Result<()> {
        write!(out, "{self}")?;
        if let Some(warning) = self.oversubscription_warning() {
            writeln!(out, "{warning}")?;
        }
        out.flush()
    }
}

impl fmt::Display for RuntimeKnobs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "numaload-target {}", self.version)?;
        writeln!(f, "  variant:          {}", self.variant)?;
        writeln!(f, "  pid:              {}", self.pid)?;
        let cpus = self.cpus_allowed.as_deref().unwrap_or("unknown");
        writeln!(f, "  cpus allowed:     {cpus}")?;
        writeln!(f, "  worker threads:   {}", self.worker_threads)?;
        match &self.cpu_quota {
            Ok(quota) => writeln!(f, "  cgroup cpu quota: {quota}")?,
            Err(why) => writeln!(f, "  cgroup cpu quota: unknown ({why})")?,
        }
        writeln!(f, "  work per request: {} us", self.work_us)?;
        writeln!(f, "  work mode:        {}", self.work_mode)?;
        if let Some(dispatch) = &self.dispatch {
            writeln!(f, "  ffi dispatch:     {dispatch}")?;
        }
        match self.max_blocking_threads {
            Some(max) => writeln!(f, "  blocking pool:    at most {max} threads"),
            None => writeln!(f, "  blocking pool:    at most 512 threads (tokio default)"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn knobs(worker_threads: usize, cpu_quota: Result<CpuQuota, String>) -> RuntimeKnobs {
        RuntimeKnobs {
            version: "9.9.9",
            variant: Variant::Async,
            pid: 42,
            cpus_allowed: Some("0-1".into()),
            worker_threads,
            work_us: 50,
            work_mode: WorkMode::Spin,
            dispatch: None,
            max_blocking_threads: None,
            cpu_quota,
        }
    }

    fn quota(quota_us: u64) -> Result<CpuQuota, String> {
        Ok(CpuQuota::Limited {
            quota_us,
            period_us: 100_000,
        })
    }

    #[test]
    fn warns_at_twice_the_quota() {
        for (workers, q, warns) in [
            (2, quota(100_000), true),
            (1, quota(100_000), false),
            (3, quota(150_000), true),
            (2, quota(150_000), false),
            (1, quota(50_000), true),
            (64, Ok(CpuQuota::Unlimited), false),
            (64, Err("no cgroup".into()), false),
        ] {
            let w = knobs(workers, q.clone()).oversubscription_warning();
            assert_eq!(w.is_some(), warns, "{workers} workers, {q:?}");
            assert!(w.is_none_or(|w| w.starts_with("warning: ")));
        }
    }

    #[test]
    fn block_format() {
        let mut out = Vec::new();
        knobs(4, quota(100_000))
            .write_to(&mut out)
            .expect("write to Vec");
        let text = String::from_utf8(out).expect("utf-8");
        assert_eq!(
            text,
            "numaload-target 9.9.9\n  variant:          async\n  pid:              42\n  \
             cpus allowed:     0-1\n  worker threads:   4\n  \
             cgroup cpu quota: 1.00 CPUs (100000 us per 100000 us)\n  \
             work per request: 50 us\n  work mode:        spin\n  \
             blocking pool:    at most 512 threads (tokio default)\nwarning: 4 worker threads on a cgroup CPU quota of \
             1.00 CPUs (2x or more): the workers will be throttled\n"
        );
        let text = knobs(1, Err("boom".into())).to_string();
        assert!(
            text.contains("cgroup cpu quota: unknown (boom)\n"),
            "{text}"
        );
    }

    #[test]
    fn ffi_block_shows_the_dispatch() {
        let ffi = RuntimeKnobs {
            variant: Variant::Ffi,
            work_mode: WorkMode::Sleep,
            dispatch: Some(Dispatch::Bounded {
                limit: std::num::NonZeroUsize::new(8).expect("8"),
            }),
            max_blocking_threads: Some(64),
            ..knobs(1, Ok(CpuQuota::Unlimited))
        };
        let text = ffi.to_string();
        assert!(
            text.ends_with(
                "  work per request: 50 us\n  work mode:        sleep\n  \
                 ffi dispatch:     bounded (limit 8)\n  blocking pool:    at most 64 threads\n"
            ),
            "{text}"
        );
        assert!(text.contains("  variant:          ffi\n"), "{text}");
    }
}
