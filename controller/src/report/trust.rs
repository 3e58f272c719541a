//! What makes a result's numbers untrustworthy, gathered once for every format.
//!
//! A percentile read from fewer samples than it needs is an extrapolation: with 500 requests the
//! "p99.9" is simply the maximum. [`Pct::min_samples`] is the smallest count for which the
//! percentile is backed by at least one sample beyond it (`1 / (1 - q)`: 100 for p99, 1000 for
//! p99.9); below it, reports print [`TOO_FEW`] instead of a number.

use numaload_proto::cpulist;

use crate::result::{
    AgentStatus, LayoutResult, LayoutStatus, Percentiles, ReplicaResult, RunResult,
};

/// Placement mismatches listed per replica before the rest are only counted (a replica that
/// forked a hundred workers off their CPUs would otherwise bury every other flag).
const MISMATCHES_SHOWN: usize = 5;

/// What reports print for a percentile read from too few samples.
pub const TOO_FEW: &str = "n/a (too few)";

/// The percentiles reports show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pct {
    P50,
    P90,
    P99,
    P999,
    Max,
}

impl Pct {
    pub fn label(self) -> &'static str {
        match self {
            Pct::P50 => "p50",
            Pct::P90 => "p90",
            Pct::P99 => "p99",
            Pct::P999 => "p99.9",
            Pct::Max => "max",
        }
    }

    /// Its field in [`Percentiles`], as [`Percentiles::lower_bounds`] names it.
    pub fn field(self) -> &'static str {
        match self {
            Pct::P50 => "p50",
            Pct::P90 => "p90",
            Pct::P99 => "p99",
            Pct::P999 => "p999",
            Pct::Max => "max",
        }
    }

    /// The quantile, 1.0 for the maximum.
    pub fn quantile(self) -> f64 {
        match self {
            Pct::P50 => 0.5,
            Pct::P90 => 0.9,
            Pct::P99 => 0.99,
            Pct::P999 => 0.999,
            Pct::Max => 1.0,
        }
    }

    /// Samples needed before this percentile means anything (the maximum needs one).
    pub fn min_samples(self) -> u64 {
        min_samples(self.quantile())
    }

    pub fn value(self, p: &Percentiles) -> u64 {
        match self {
            Pct::P50 => p.p50,
            Pct::P90 => p.p90,
            Pct::P99 => p.p99,
            Pct::P999 => p.p999,
            Pct::Max => p.max,
        }
    }

    /// The value, or `None` when `p` has too few samples for it.
    pub fn shown(self, p: &Percentiles) -> Option<u64> {
        (p.count > 0 && p.count >= self.min_samples()).then(|| self.value(p))
    }
}

pub use crate::trust::min_samples;

/// Why a reader should be careful with a number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlagKind {
    /// The run stopped before every layout ran.
    Cancelled,
    /// The layout was not measured (launch, placement or agent failure).
    Failed,
    /// Some agents did not measure the layout (or were lost): its figures cover the others.
    Degraded,
    /// Fewer than the plan's `min_delivered` of the window's requests were answered: the
    /// throughput fell short and the latency is partly lower bounds.
    Incomplete,
    /// A replica did not run where the layout asked.
    PlacementMismatch,
    /// The agent or the controller marked the layout suspect (load generator saturated or
    /// sharing CPUs, rate not reached, ...).
    Suspect,
    /// Some percentiles rest on too few samples and are not shown.
    TooFewSamples,
    /// A replica ran 2× or more worker threads than its cgroup CPU quota grants: its latency
    /// measures CFS throttling as much as the layout.
    QuotaOversubscribed,
}

/// One reason for caution, about one layout or the whole run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flag {
    pub kind: FlagKind,
    pub layout: Option<String>,
    pub message: String,
}

impl Flag {
    /// `layout "x": message`, or the message alone for the whole run.
    pub fn line(&self) -> String {
        match &self.layout {
            Some(layout) => format!("layout \"{layout}\": {}", self.message),
            None => self.message.clone(),
        }
    }
}

/// Every reason for caution in `result`, run-wide ones first, then per layout in plan order.
pub fn flags(result: &RunResult) -> Vec<Flag> {
    let mut out = Vec::new();
    if result.cancelled {
        out.push(Flag {
            kind: FlagKind::Cancelled,
            layout: None,
            message: "the run was cancelled: layouts not measured are marked failed".to_owned(),
        });
    }
    for agent in result
        .agents
        .iter()
        .filter(|a| a.status == AgentStatus::Lost)
    {
        out.push(Flag {
            kind: FlagKind::Degraded,
            layout: None,
            message: format!(
                "agent {} was lost: {}; figures cover the agents that finished",
                agent.agent,
                agent.error.as_deref().unwrap_or("no reason given")
            ),
        });
    }
    if result.degraded && !result.agents.iter().any(|a| a.status == AgentStatus::Lost) {
        out.push(Flag {
            kind: FlagKind::Degraded,
            layout: None,
            message: "the run is degraded: figures cover the agents that finished".to_owned(),
        });
    }
    for layout in &result.layouts {
        out.extend(layout_flags(layout));
    }
    out
}

/// The reasons for caution about one layout.
pub fn layout_flags(layout: &LayoutResult) -> Vec<Flag> {
    let flag = |kind, message: String| Flag {
        kind,
        layout: Some(layout.name.clone()),
        message,
    };
    let mut out = Vec::new();
    // Each status worse than suspect leads with its word; a suspect layout's reasons follow
    // below, as every layout's do.
    match layout.status {
        LayoutStatus::Failed => {
            let error = layout.error.as_deref().unwrap_or("no reason given");
            out.push(flag(
                FlagKind::Failed,
                format!("FAILED, not measured: {error}"),
            ));
        }
        LayoutStatus::Degraded => {
            let error = layout.error.as_deref().unwrap_or("no reason given");
            out.push(flag(
                FlagKind::Degraded,
                format!("DEGRADED, measured by some agents only: {error}"),
            ));
        }
        LayoutStatus::Incomplete => {
            let delivered = crate::report::summary::delivery(layout)
                .unwrap_or_else(|| "the result does not say how much".to_owned());
            out.push(flag(
                FlagKind::Incomplete,
                format!("INCOMPLETE, its load was not delivered: {delivered}"),
            ));
        }
        LayoutStatus::Suspect | LayoutStatus::Ok => {}
    }
    for r in layout.replicas.iter().filter(|r| !r.placement_ok) {
        out.push(flag(
            FlagKind::PlacementMismatch,
            format!(
                "replica {} placement MISMATCH: CPUs {} (intended {}), memory {} (intended {})",
                r.index,
                cpulist_or(&r.actual_cpus, "none"),
                cpulist_or(&r.intended_cpus, "any"),
                r.memory_policy,
                if !r.intended_memory_policy.is_empty() {
                    r.intended_memory_policy.clone()
                } else if r.intended_memory_nodes.is_empty() {
                    "default".to_owned()
                } else {
                    format!("bind:{}", cpulist::format(&r.intended_memory_nodes))
                }
            ),
        ));
    }
    for r in &layout.replicas {
        let lines = crate::report::service::mismatches(r);
        let shown = lines.len().min(MISMATCHES_SHOWN);
        for line in &lines[..shown] {
            out.push(flag(
                FlagKind::PlacementMismatch,
                format!("replica {} placement MISMATCH {line}", r.index),
            ));
        }
        if lines.len() > shown {
            out.push(flag(
                FlagKind::PlacementMismatch,
                format!(
                    "replica {}: {} more placement mismatch(es) in the result file",
                    r.index,
                    lines.len() - shown
                ),
            ));
        }
    }
    for reason in &layout.suspect {
        out.push(flag(FlagKind::Suspect, format!("suspect: {reason}")));
    }
    for r in &layout.replicas {
        if let Some(quota) = oversubscribed_quota(r) {
            out.push(flag(
                FlagKind::QuotaOversubscribed,
                format!(
                    "replica {} runs {} worker threads on a cgroup CPU quota of {quota:.2} CPUs \
                     (2× or more): CFS throttling shapes its latency",
                    r.index, r.worker_threads
                ),
            ));
        }
    }
    let samples = layout.latency_ns.count;
    // The aggregator already says when p99.9 lacks samples; do not say it twice.
    let already_said = layout.suspect.iter().any(|s| s.contains("p99.9"));
    if layout.status.measured() && !already_said {
        let hidden: Vec<&str> = [Pct::P50, Pct::P90, Pct::P99, Pct::P999]
            .into_iter()
            .filter(|p| p.shown(&layout.latency_ns).is_none())
            .map(Pct::label)
            .collect();
        if !hidden.is_empty() {
            out.push(flag(
                FlagKind::TooFewSamples,
                format!(
                    "only {samples} latency samples: {} not shown (p99.9 needs {})",
                    hidden.join(", "),
                    Pct::P999.min_samples()
                ),
            ));
        }
    }
    out
}

/// The replica's CPU quota when its worker threads are 2× or more of it (the rule the target
/// server warns by), else `None`.
pub fn oversubscribed_quota(r: &ReplicaResult) -> Option<f64> {
    let quota = r.cgroup.as_ref()?.cpu_quota_cpus?;
    (r.worker_threads > 0 && f64::from(r.worker_threads) >= 2.0 * quota).then_some(quota)
}

fn cpulist_or(cpus: &[u32], empty: &str) -> String {
    if cpus.is_empty() {
        empty.to_owned()
    } else {
        cpulist::format(cpus)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::MIN_REQUESTS_FOR_P999;

    #[test]
    fn worker_threads_at_twice_the_cgroup_quota_are_a_reason_to_doubt() {
        use crate::result::CgroupSummary;
        let mut result: RunResult =
            serde_json::from_str(include_str!("../../tests/fixtures/quickstart-result.json"))
                .expect("fixture");
        let quota_flags = |result: &RunResult| {
            flags(result)
                .into_iter()
                .filter(|f| f.kind == FlagKind::QuotaOversubscribed)
                .map(|f| f.line())
                .collect::<Vec<_>>()
        };
        // Older results carry no cgroup: nothing to say.
        assert!(quota_flags(&result).is_empty());
        let cases = [
            (4, Some(0.5), true),
            (2, Some(1.0), true),
            (1, Some(0.5), true),
            (3, Some(2.0), false),
            (4, None, false),
            (0, Some(0.5), false),
        ];
        for (workers, quota, flagged) in cases {
            let replica = &mut result.layouts[0].replicas[0];
            replica.worker_threads = workers;
            replica.cgroup = Some(CgroupSummary {
                version: "v1".into(),
                path: "/numaload-test".into(),
                cpu_quota_cpus: quota,
                ..CgroupSummary::default()
            });
            let lines = quota_flags(&result);
            assert_eq!(
                !lines.is_empty(),
                flagged,
                "{workers} on {quota:?}: {lines:?}"
            );
            if flagged {
                assert!(
                    lines[0].contains(&format!("{workers} worker threads")),
                    "{lines:?}"
                );
            }
        }
    }

    #[test]
    fn samples_needed_per_percentile() {
        let cases = [
            (0.5, 2),
            (0.9, 10),
            (0.99, 100),
            (0.999, 1000),
            (0.9999, 10_000),
            (1.0, 1),
        ];
        for (q, expected) in cases {
            assert_eq!(min_samples(q), expected, "q = {q}");
        }
        assert_eq!(Pct::P999.min_samples(), MIN_REQUESTS_FOR_P999);
    }

    #[test]
    fn a_percentile_with_too_few_samples_is_not_shown() {
        let p = |count| Percentiles {
            count,
            p99: 7,
            p999: 9,
            max: 10,
            ..Default::default()
        };
        let cases = [
            (0, Pct::Max, None),
            (1, Pct::Max, Some(10)),
            (99, Pct::P99, None),
            (100, Pct::P99, Some(7)),
            (999, Pct::P999, None),
            (1000, Pct::P999, Some(9)),
        ];
        for (count, pct, expected) in cases {
            assert_eq!(pct.shown(&p(count)), expected, "{count} {pct:?}");
        }
    }
}
