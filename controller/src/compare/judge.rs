//! One figure judged: two [`Side`]s and the threshold in, a [`FigureComparison`] with its
//! change, interval and [`Verdict`] out. The rule is in the parent module's doc.

use super::figure::{Figure, Side};
use crate::stats;

/// Confidence of the interval on a change, when there are trials to compute it from.
pub const CONFIDENCE: f64 = 0.95;
/// An error rate rising by more than this (0.1 percentage points) is a regression.
pub const ERROR_RATE_TOLERANCE: f64 = 0.001;

/// better / worse / no significant change / too noisy to decide, or not judged (and why).
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    Better,
    Worse,
    NoSignificantChange,
    /// The change is within the threshold but its interval reaches past it: about
    /// `trials_needed` trials per side would decide it.
    Inconclusive {
        trials_needed: u32,
    },
    NotJudged(String),
}

/// Which value of each side a comparison shows and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Statistic {
    /// The pooled value (merged histograms; total requests over total time).
    Pooled,
    /// The mean of the per-trial values (two or more trials on both sides).
    TrialMean,
}

impl Verdict {
    pub fn label(&self) -> &str {
        match self {
            Verdict::Better => "better",
            Verdict::Worse => "worse",
            Verdict::NoSignificantChange => "no significant change",
            Verdict::Inconclusive { .. } => "inconclusive",
            Verdict::NotJudged(_) => "not judged",
        }
    }
}

/// One figure of one layout, judged.
#[derive(Debug, Clone, PartialEq)]
pub struct FigureComparison {
    pub figure: Figure,
    pub base: Option<Side>,
    pub new: Option<Side>,
    /// Percent of the base for relative figures, percentage points for the error rate;
    /// infinite when the base is zero and the new value is not.
    pub change: Option<f64>,
    /// The 95% interval of the change, in the same unit, when both sides have ≥ 2 trials.
    pub interval: Option<stats::Interval>,
    pub verdict: Verdict,
    /// Worse beyond the threshold (and significant, when there is an interval): fails CI.
    pub regression: bool,
    /// No interval: one trial on at least one side.
    pub unreplicated: bool,
    /// What `base`, `new`, `change` and `interval` are about.
    pub statistic: Statistic,
}

impl FigureComparison {
    /// The value of `side` this comparison shows and tests.
    pub fn shown(&self, side: &Side) -> f64 {
        match self.statistic {
            Statistic::Pooled => side.pooled,
            Statistic::TrialMean => stats::mean(&side.trials),
        }
    }

    /// `+20.0%`, `-3.1%`, `+0.120 pp`, `+∞%`.
    pub fn change_text(&self) -> String {
        match self.change {
            None => "-".to_owned(),
            Some(c) if c.is_infinite() => "+∞%".to_owned(),
            Some(c) if self.figure.relative() => format!("{c:+.1}%"),
            Some(c) => format!("{c:+.3} pp"),
        }
    }

    /// For an inconclusive verdict: `about 62 trials a side would decide it (repeat = 62; now
    /// 3)`, the trials now being the fewer of the two sides'.
    pub fn trials_to_decide(&self) -> Option<String> {
        let Verdict::Inconclusive { trials_needed } = self.verdict else {
            return None;
        };
        let now = [&self.base, &self.new]
            .into_iter()
            .flatten()
            .map(|s| s.trials.len())
            .min()
            .unwrap_or(0);
        Some(format!(
            "about {trials_needed} trials a side would decide it (repeat = {trials_needed}; now \
             {now})"
        ))
    }

    /// `[+12.0%, +28.0%]` when there is an interval.
    pub fn interval_text(&self) -> Option<String> {
        let i = self.interval?;
        Some(if self.figure.relative() {
            format!("[{:+.1}%, {:+.1}%]", i.low, i.high)
        } else {
            format!("[{:+.3}, {:+.3}] pp", i.low, i.high)
        })
    }
}

/// Most trials per side an inconclusive verdict suggests (beyond, the change is too close to the
/// threshold for trials to settle it).
pub const MAX_TRIALS_SUGGESTED: u32 = 1000;

/// Judges one figure: `threshold_pct` is `--max-regression` in percent. See the module doc for
/// the rule.
pub fn judge(figure: Figure, base: Side, new: Side, threshold_pct: f64) -> FigureComparison {
    let limit = if figure.relative() {
        threshold_pct
    } else {
        100.0 * ERROR_RATE_TOLERANCE
    };
    // Positive = worse, in the figure's unit (percent of the base, or percentage points).
    let worse_sign = if figure.higher_is_better() { -1.0 } else { 1.0 };
    let welch = stats::welch_interval(&base.trials, &new.trials, CONFIDENCE);
    let statistic = if welch.is_some() {
        Statistic::TrialMean
    } else {
        Statistic::Pooled
    };
    let (base_value, new_value) = match statistic {
        Statistic::Pooled => (base.pooled, new.pooled),
        Statistic::TrialMean => (stats::mean(&base.trials), stats::mean(&new.trials)),
    };
    let to_unit = |delta: f64| {
        if !figure.relative() {
            100.0 * delta
        } else if base_value != 0.0 {
            100.0 * delta / base_value.abs()
        } else if delta == 0.0 {
            0.0
        } else {
            f64::INFINITY.copysign(delta)
        }
    };
    let change = to_unit(new_value - base_value);
    let interval = welch.map(|w| stats::Interval {
        low: to_unit(w.interval.low),
        high: to_unit(w.interval.high),
    });
    let worse_change = worse_sign * change;
    let (verdict, regression) = match interval {
        None if worse_change > limit => (Verdict::Worse, true),
        None if change.abs() <= limit => (Verdict::NoSignificantChange, false),
        None => (Verdict::Better, false),
        Some(i) => {
            let (low, high) = if worse_sign > 0.0 {
                (i.low, i.high)
            } else {
                (-i.high, -i.low)
            };
            if worse_change > limit || low > limit {
                (Verdict::Worse, true)
            } else if high <= limit {
                let verdict = if !i.excludes_zero() {
                    Verdict::NoSignificantChange
                } else if worse_change > 0.0 {
                    Verdict::Worse
                } else {
                    Verdict::Better
                };
                (verdict, false)
            } else {
                let trials = base.trials.len().min(new.trials.len());
                let needed = trials_needed(trials, (high - low) / 2.0, limit - worse_change);
                (
                    Verdict::Inconclusive {
                        trials_needed: needed,
                    },
                    false,
                )
            }
        }
    };
    FigureComparison {
        figure,
        base: Some(base),
        new: Some(new),
        change: Some(change),
        interval,
        verdict,
        regression,
        unreplicated: interval.is_none(),
        statistic,
    }
}

/// Trials per side that would shrink an interval of half-width `half_width` (from `trials` per
/// side) to `margin`, the distance from the change to the threshold: the width falls as 1/√n.
pub(super) fn trials_needed(trials: usize, half_width: f64, margin: f64) -> u32 {
    if margin <= 0.0 || !half_width.is_finite() {
        return MAX_TRIALS_SUGGESTED;
    }
    let n = trials as f64 * (half_width / margin).powi(2);
    (n.ceil() as u32).clamp(trials as u32 + 1, MAX_TRIALS_SUGGESTED)
}

pub(super) fn not_judged(
    figure: Figure,
    base: Option<Side>,
    new: Option<Side>,
    why: String,
) -> FigureComparison {
    FigureComparison {
        figure,
        base,
        new,
        change: None,
        interval: None,
        verdict: Verdict::NotJudged(why),
        regression: false,
        unreplicated: true,
        statistic: Statistic::Pooled,
    }
}
