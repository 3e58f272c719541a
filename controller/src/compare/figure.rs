//! What is compared: each [`Figure`] of a layout, and one [`Side`] of it read from a result (the
//! pooled value from the merged data, and one value per measured trial).

use crate::report::duration_ns;
use crate::report::pct::Pct;
use crate::report::summary;
use crate::result::LayoutResult;

/// What is compared for each layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Figure {
    Throughput,
    P50,
    P99,
    P999,
    ErrorRate,
}

impl Figure {
    pub const ALL: [Figure; 5] = [
        Figure::Throughput,
        Figure::P50,
        Figure::P99,
        Figure::P999,
        Figure::ErrorRate,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Figure::Throughput => "throughput",
            Figure::P50 => "p50 corrected",
            Figure::P99 => "p99 corrected",
            Figure::P999 => "p99.9 corrected",
            Figure::ErrorRate => "error rate",
        }
    }

    pub fn higher_is_better(self) -> bool {
        self == Figure::Throughput
    }

    /// Changes are relative (percent of the base), except the error rate's (points).
    pub fn relative(self) -> bool {
        self != Figure::ErrorRate
    }

    fn pct(self) -> Option<Pct> {
        match self {
            Figure::P50 => Some(Pct::P50),
            Figure::P99 => Some(Pct::P99),
            Figure::P999 => Some(Pct::P999),
            Figure::Throughput | Figure::ErrorRate => None,
        }
    }

    /// A value of this figure for people.
    pub fn show(self, value: f64) -> String {
        match self {
            Figure::Throughput => format!("{} req/s", crate::report::thousands(value)),
            Figure::P50 | Figure::P99 | Figure::P999 => duration_ns(value.max(0.0).round() as u64),
            Figure::ErrorRate => format!("{:.3}%", value * 100.0),
        }
    }
}

/// One side of one figure of one layout.
#[derive(Debug, Clone, PartialEq)]
pub struct Side {
    /// From the pooled data: the merged histogram's percentile, total requests over total time.
    pub pooled: f64,
    /// One value per trial (one, equal to `pooled`, for an unreplicated result).
    pub trials: Vec<f64>,
}

impl Side {
    /// A result with one trial.
    pub fn single(value: f64) -> Side {
        Side {
            pooled: value,
            trials: vec![value],
        }
    }
}

/// A figure of a measured layout, or why there is none (too few samples for the percentile).
/// The pooled value comes from the merged data; with `repeat = N` the per-trial values come
/// from each measured trial (a trial too small for the percentile is left out of the list).
pub fn side(l: &LayoutResult, figure: Figure) -> Result<Side, String> {
    let pooled = match figure.pct() {
        Some(pct) => match pct.shown(&l.latency_ns) {
            Some(ns) => ns as f64,
            None => {
                return Err(format!(
                    "too few samples ({}; {} needs {})",
                    l.latency_ns.count,
                    pct.label(),
                    pct.min_samples()
                ))
            }
        },
        None if figure == Figure::Throughput => l.throughput_rps,
        None => summary::error_rate(l),
    };
    let measured = || l.trials.iter().filter(|t| t.status.measured());
    let trials: Vec<f64> = match figure.pct() {
        Some(pct) => measured()
            .filter_map(|t| pct.shown(&t.latency_ns))
            .map(|ns| ns as f64)
            .collect(),
        None if figure == Figure::Throughput => measured().map(|t| t.throughput_rps).collect(),
        None => measured()
            .map(|t| crate::trust::error_rate(t.requests, t.errors))
            .collect(),
    };
    if trials.len() >= 2 {
        Ok(Side { pooled, trials })
    } else {
        Ok(Side::single(pooled))
    }
}
