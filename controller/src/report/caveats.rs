//! What a reader should be careful about in a result: every reason for caution ([`Flag`]) found
//! in it — suspect, incomplete, degraded and failed layouts, placement mismatches, a cancelled
//! run, a replica's over-subscribed CPU quota, percentiles read from too few samples — phrased
//! once for every format. Whether a figure is to be trusted is decided by the rules of
//! [`crate::trust`] (and by aggregation, which writes a layout's status and its `suspect`
//! reasons); this module only gathers and words what a result says.

use numaload_proto::cpulist;

use crate::report::fleet;
use crate::report::pct::Pct;
use crate::report::service;
use crate::report::summary;
use crate::result::{AgentStatus, LayoutResult, LayoutStatus, ReplicaResult, RunResult};
use crate::trust;

/// Placement mismatches listed per replica before the rest are only counted (a replica that
/// forked a hundred workers off their CPUs would otherwise bury every other flag).
const MISMATCHES_SHOWN: usize = 5;

/// Placement mismatch (and quota) lines of a layout listed before the rest are only counted.
const MISPLACED_SHOWN: usize = 10;

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
    if let Some(line) = simulated(result) {
        out.push(Flag {
            kind: FlagKind::Suspect,
            layout: None,
            message: line,
        });
    }
    if let Some(why) = &result.aborted {
        out.push(Flag {
            kind: FlagKind::Cancelled,
            layout: None,
            message: format!("the run was aborted: {why}; layouts not measured are marked failed"),
        });
    } else if result.cancelled {
        out.push(Flag {
            kind: FlagKind::Cancelled,
            layout: None,
            message: "the run was cancelled: layouts not measured are marked failed".to_owned(),
        });
    }
    let lost: Vec<String> = result
        .agents
        .iter()
        .filter(|a| a.status == AgentStatus::Lost)
        .map(|a| {
            format!(
                "{} was lost: {}",
                a.agent,
                a.error.as_deref().unwrap_or("no reason given")
            )
        })
        .collect();
    if lost.len() > fleet::WORST_SHOWN {
        out.push(Flag {
            kind: FlagKind::Degraded,
            layout: None,
            message: format!(
                "{} agents were lost: {}; figures cover the agents that finished",
                lost.len(),
                fleet::capped(&lost, fleet::WORST_SHOWN)
            ),
        });
    } else {
        out.extend(lost.into_iter().map(|lost| Flag {
            kind: FlagKind::Degraded,
            layout: None,
            message: format!("agent {lost}; figures cover the agents that finished"),
        }));
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

/// `SIMULATED: ...` when hollow agents took part: every figure of theirs is made up.
pub fn simulated(result: &RunResult) -> Option<String> {
    let hollow = result.hosts.iter().filter(|h| h.simulated).count();
    (hollow > 0).then(|| {
        format!(
            "SIMULATED: {hollow} of {} agents are hollow (numaload agent --hollow): nothing ran \
             there and their figures are made up; this is a scale test, not a measurement",
            result.hosts.len()
        )
    })
}

/// The reasons for caution about one layout.
#[allow(
    clippy::too_many_lines,
    reason = "every reason for caution a layout can carry, one after the other in the order the report lists them"
)]
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
            let delivered = summary::delivery(layout)
                .unwrap_or_else(|| "the result does not say how much".to_owned());
            out.push(flag(
                FlagKind::Incomplete,
                format!("INCOMPLETE, its load was not delivered: {delivered}"),
            ));
        }
        LayoutStatus::Suspect | LayoutStatus::Ok => {}
    }
    // With replicas on several agents a replica is named with its agent.
    let several = layout
        .replicas
        .iter()
        .any(|r| r.agent != layout.replicas[0].agent);
    let name = |r: &ReplicaResult| {
        if several {
            format!("replica {} of {}", r.index, r.agent)
        } else {
            format!("replica {}", r.index)
        }
    };
    let mut misplaced = Vec::new();
    for r in layout.replicas.iter().filter(|r| !r.placement_ok) {
        misplaced.push(flag(
            FlagKind::PlacementMismatch,
            format!(
                "{} placement MISMATCH: CPUs {} (intended {}), memory {} (intended {})",
                name(r),
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
        let lines = service::mismatches(r);
        let shown = lines.len().min(MISMATCHES_SHOWN);
        for line in &lines[..shown] {
            misplaced.push(flag(
                FlagKind::PlacementMismatch,
                format!("{} placement MISMATCH {line}", name(r)),
            ));
        }
        if lines.len() > shown {
            misplaced.push(flag(
                FlagKind::PlacementMismatch,
                format!(
                    "{}: {} more placement mismatch(es) in the result file",
                    name(r),
                    lines.len() - shown
                ),
            ));
        }
    }
    // A fleet's every replica off its CPUs would bury every other flag.
    let more = misplaced.len().saturating_sub(MISPLACED_SHOWN);
    misplaced.truncate(MISPLACED_SHOWN);
    out.extend(misplaced);
    if more > 0 {
        out.push(flag(
            FlagKind::PlacementMismatch,
            format!("{more} more placement MISMATCH line(s) in the result file"),
        ));
    }
    for reason in &layout.suspect {
        out.push(flag(FlagKind::Suspect, format!("suspect: {reason}")));
    }
    let throttled: Vec<Flag> = layout
        .replicas
        .iter()
        .filter_map(|r| {
            let quota = oversubscribed_quota(r)?;
            Some(flag(
                FlagKind::QuotaOversubscribed,
                format!(
                    "{} runs {} worker threads on a cgroup CPU quota of {quota:.2} CPUs \
                     (2× or more): CFS throttling shapes its latency",
                    name(r),
                    r.worker_threads
                ),
            ))
        })
        .collect();
    let more = throttled.len().saturating_sub(MISPLACED_SHOWN);
    out.extend(throttled.into_iter().take(MISPLACED_SHOWN));
    if more > 0 {
        out.push(flag(
            FlagKind::QuotaOversubscribed,
            format!("{more} more replica(s) over their cgroup CPU quota in the result file"),
        ));
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

/// The replica's CPU quota when its worker threads over-subscribe it
/// ([`crate::trust::quota_oversubscribed`]), else `None`.
pub fn oversubscribed_quota(r: &ReplicaResult) -> Option<f64> {
    let quota = r.cgroup.as_ref()?.cpu_quota_cpus?;
    trust::quota_oversubscribed(r.worker_threads, quota).then_some(quota)
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
}
