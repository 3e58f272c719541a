//! numaload's controller: plan files in, measured layout comparisons out.
//!
//! [`plan`] reads and validates a plan file into a `numaload.v1.RunPlan`.

pub mod plan;
