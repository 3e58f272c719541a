//! A layout's thresholds checked: each `[thresholds]` condition of the plan that applies to it,
//! the value it was checked on and whether it passed (`compare::thresholds` decides it).

use serde::{Deserialize, Serialize};

use super::interval::Interval;
use crate::plan::{Metric, Scope};

/// One threshold of one layout, checked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThresholdResult {
    pub metric: Metric,
    /// The condition as the plan writes it: `< 2ms`.
    pub condition: String,
    /// `plan` for `[thresholds]`, `layout` for the layout's own `[thresholds.layouts.NAME]`.
    pub scope: Scope,
    /// The figure checked, in the metric's base unit (ns, a share from 0 to 1, req/s): the
    /// layout's merged value with one trial, the mean over the trials with several. `None`
    /// when there is no figure (too few samples, nothing measured).
    pub value: Option<f64>,
    /// With two or more trials: the 95% interval of the mean the outcome was decided on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<Interval>,
    /// Trials the value comes from (1: the merged figure of the only or every trial).
    pub trials: u32,
    /// The value is a lower bound: decided by requests never answered, which waited at least
    /// that long.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub lower_bound: bool,
    pub outcome: ThresholdOutcome,
    /// Why the outcome is inconclusive, and what would decide it; empty otherwise.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub why: String,
}

impl ThresholdResult {
    /// `p99 < 2ms`.
    pub fn name(&self) -> String {
        format!("{} {}", self.metric.key(), self.condition)
    }

    /// The value for people: `1ms 200us`, `≥ 3s`, `1ms 200us (95% interval 1ms 100us to 1ms
    /// 300us, 3 trials)`, or `-` without one.
    pub fn value_text(&self) -> String {
        let Some(value) = self.value else {
            return "-".to_owned();
        };
        let mark = if self.lower_bound { "≥ " } else { "" };
        let shown = format!("{mark}{}", self.metric.show(value));
        match self.interval {
            Some(i) => format!(
                "{shown} (mean of {} trials, 95% interval {} to {})",
                self.trials,
                self.metric.show(i.low),
                self.metric.show(i.high)
            ),
            None => shown,
        }
    }
}

/// Whether a threshold held.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ThresholdOutcome {
    /// The figure meets the condition (with trials: its whole interval does).
    Pass,
    /// The evidence cannot decide: the interval straddles the limit, the value is a lower
    /// bound below it, or there is no figure.
    Inconclusive,
    /// The figure crosses the limit (with trials: its whole interval does).
    Fail,
}

impl ThresholdOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            ThresholdOutcome::Pass => "pass",
            ThresholdOutcome::Inconclusive => "inconclusive",
            ThresholdOutcome::Fail => "fail",
        }
    }
}
