//! The wire's open-loop shape (`arrivals`, `seed`, `stages`, `trace` of a `LoadSpec`) read into
//! the generator's [`LoadShape`] and checked: stages that fill the window with rates it can
//! send, a trace inside the window naming requests the plan has. Pure, like `prepare.rs`, which
//! calls it.

use std::time::Duration;

use numaload_proto::v1;

use super::error::LoadSpecError;
use crate::loadgen::{Arrivals, LoadShape, Stage, TraceEntry};

/// The wire's arrivals, stages and trace, as the generator takes them.
pub(super) fn shape(load: &v1::LoadSpec) -> Result<LoadShape, LoadSpecError> {
    let arrivals = match v1::Arrivals::try_from(load.arrivals) {
        Ok(v1::Arrivals::Uniform) => Arrivals::Uniform,
        Ok(v1::Arrivals::Poisson) => Arrivals::Poisson {
            seed: load.seed,
            stream: u64::from(load.stream),
        },
        Err(_) => return Err(LoadSpecError::UnknownArrivals(load.arrivals)),
    };
    let stages = load
        .stages
        .iter()
        .map(|s| Stage {
            from: s.from_rps,
            to: s.to_rps,
            duration: Duration::from_millis(s.duration_ms),
        })
        .collect();
    let trace = match &load.trace {
        None => None,
        Some(trace) if trace.gaps_ns.len() != trace.requests.len() => {
            return Err(LoadSpecError::Trace(format!(
                "{} offsets for {} requests",
                trace.gaps_ns.len(),
                trace.requests.len()
            )))
        }
        Some(trace) => {
            let mut at = Duration::ZERO;
            let entries = trace
                .gaps_ns
                .iter()
                .zip(&trace.requests)
                .map(|(&gap, &request)| {
                    at = at.saturating_add(Duration::from_nanos(gap));
                    TraceEntry { at, request }
                });
            Some(entries.collect())
        }
    };
    Ok(LoadShape {
        arrivals,
        stages,
        trace,
    })
}

/// Stages that fill the window with rates the generator can send, a trace inside it naming
/// requests the plan has.
pub(super) fn check_shape(shape: &LoadShape, load: &v1::LoadSpec) -> Result<(), LoadSpecError> {
    for (index, stage) in shape.stages.iter().enumerate() {
        if ![stage.from, stage.to]
            .iter()
            .all(|r| r.is_finite() && *r >= 0.0)
        {
            return Err(LoadSpecError::StageRates { index });
        }
        if stage.duration.is_zero() {
            return Err(LoadSpecError::StageDuration { index });
        }
    }
    if !shape.stages.is_empty() {
        let total: u64 = load.stages.iter().map(|s| s.duration_ms).sum();
        if total != load.duration_ms {
            return Err(LoadSpecError::StagesDuration {
                stages: Duration::from_millis(total),
                duration: Duration::from_millis(load.duration_ms),
            });
        }
    }
    if let Some(trace) = &shape.trace {
        let requests = load.requests.len().max(1);
        let end = Duration::from_millis(load.warmup_ms.saturating_add(load.duration_ms));
        if let Some(bad) = trace.iter().find(|e| e.request as usize >= requests) {
            return Err(LoadSpecError::Trace(format!(
                "request {} of {requests}: the plan has no such request",
                bad.request
            )));
        }
        if let Some(last) = trace.last().filter(|e| e.at >= end) {
            return Err(LoadSpecError::Trace(format!(
                "an entry at {:?} falls after the window ends at {end:?}",
                last.at
            )));
        }
    }
    Ok(())
}
