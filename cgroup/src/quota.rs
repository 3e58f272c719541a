//! The CPU bandwidth quota: v2 `cpu.max`, v1 `cpu.cfs_quota_us` / `cpu.cfs_period_us`.

use std::fmt;

use crate::error::CgroupError;

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

/// The over-subscription rule, shared by the target's start-up knobs and `numaload watch`: a
/// `warning: ...` line when `threads` are 2x or more the `quota_cpus` CPUs a cgroup quota grants,
/// since they will be throttled and latency will show it; `None` below that.
pub fn oversubscription_warning(threads: usize, quota_cpus: f64) -> Option<String> {
    (threads as f64 >= 2.0 * quota_cpus).then(|| {
        format!(
            "warning: {threads} worker threads on a cgroup CPU quota of {quota_cpus:.2} CPUs \
             (2x or more): the workers will be throttled"
        )
    })
}

/// Parses a v2 `cpu.max`: `max 100000` or `150000 100000`.
pub fn parse_cpu_max(content: &str) -> Result<CpuQuota, CgroupError> {
    let bad = || CgroupError::malformed("cpu.max", content);
    let mut fields = content.split_whitespace();
    let quota = fields.next().ok_or_else(bad)?;
    let period_us: u64 = fields.next().ok_or_else(bad)?.parse().map_err(|_| bad())?;
    if fields.next().is_some() || period_us == 0 {
        return Err(bad());
    }
    if quota == "max" {
        return Ok(CpuQuota::Unlimited);
    }
    let quota_us = quota.parse().map_err(|_| bad())?;
    Ok(CpuQuota::Limited {
        quota_us,
        period_us,
    })
}

/// Parses v1 `cpu.cfs_quota_us` and `cpu.cfs_period_us`; a negative quota (`-1`) means no limit.
pub fn parse_cfs(quota: &str, period: &str) -> Result<CpuQuota, CgroupError> {
    let quota_us: i64 = quota
        .trim()
        .parse()
        .map_err(|_| CgroupError::malformed("cpu.cfs_quota_us", quota))?;
    let period_us: u64 = match period.trim().parse() {
        Ok(p) if p > 0 => p,
        _ => return Err(CgroupError::malformed("cpu.cfs_period_us", period)),
    };
    Ok(match u64::try_from(quota_us) {
        Ok(quota_us) => CpuQuota::Limited {
            quota_us,
            period_us,
        },
        Err(_) => CpuQuota::Unlimited,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limited(quota_us: u64, period_us: u64) -> CpuQuota {
        CpuQuota::Limited {
            quota_us,
            period_us,
        }
    }

    #[test]
    fn cpu_max_values() {
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
        let err = parse_cpu_max("lots").expect_err("malformed");
        assert_eq!(err.to_string(), "unexpected content in cpu.max: \"lots\"");
    }

    #[test]
    fn oversubscription_starts_at_twice_the_quota() {
        for (threads, cpus, warns) in [
            (2, 1.0, true),
            (1, 1.0, false),
            (3, 1.5, true),
            (2, 1.5, false),
            (1, 0.5, true),
            (0, 0.0, true),
        ] {
            let w = oversubscription_warning(threads, cpus);
            assert_eq!(w.is_some(), warns, "{threads} threads, {cpus} CPUs");
        }
        assert_eq!(
            oversubscription_warning(4, 1.0).as_deref(),
            Some(
                "warning: 4 worker threads on a cgroup CPU quota of 1.00 CPUs (2x or more): \
                 the workers will be throttled"
            )
        );
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
        let one_and_half = limited(150000, 100000);
        let half = limited(50000, 100000);
        assert_eq!(CpuQuota::Unlimited.to_string(), "none");
        assert_eq!(
            one_and_half.to_string(),
            "1.50 CPUs (150000 us per 100000 us)"
        );
        assert_eq!(one_and_half.cpus(), Some(1.5));
        assert_eq!(one_and_half.tightest(half), half);
        assert_eq!(half.tightest(one_and_half), half);
        assert_eq!(CpuQuota::Unlimited.tightest(half), half);
        assert_eq!(half.tightest(CpuQuota::Unlimited), half);
        assert_eq!(
            CpuQuota::Unlimited.tightest(CpuQuota::Unlimited),
            CpuQuota::Unlimited
        );
    }
}
