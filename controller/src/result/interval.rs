//! A two-sided confidence interval as a result file carries it (a leaf: the layout's
//! `confidence` and its checked thresholds both hold one).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    pub low: f64,
    pub high: f64,
}
