//! The stages of a run with `[[load.stages]]`: per stage, counters added and histograms merged
//! over workers, replicas and agents from the workers' `by_stage` (and, in [`merge`], over
//! trials); percentiles read from the sums.

use hdrhistogram::Histogram;
use numaload_proto::histogram::{self, HistogramError};
use numaload_proto::v1::WorkerResult;

use super::mix::merged_text;
use super::percentiles::{base64_of, bounded_percentiles, percentiles};
use crate::plan::Load;
use crate::result::{ErrorKinds, LayoutResult, StageResult};

/// One entry per stage of the plan, in order; empty when the plan has none or no worker
/// reported its requests by stage. `elapsed_s` is how much of the window was measured.
pub(super) fn stages<'a>(
    load: &Load,
    workers: impl Iterator<Item = &'a WorkerResult> + Clone,
    elapsed_s: f64,
) -> Result<Vec<StageResult>, HistogramError> {
    if load.stages.is_empty() || workers.clone().all(|w| w.by_stage.is_empty()) {
        return Ok(Vec::new());
    }
    let mut start_s = 0.0;
    let mut out = Vec::with_capacity(load.stages.len());
    for (index, stage) in load.stages.iter().enumerate() {
        let mine = || {
            workers
                .clone()
                .flat_map(|w| w.by_stage.iter())
                .filter(move |s| s.stage as usize == index)
        };
        let mut errors = ErrorKinds::default();
        for part in mine() {
            errors.add(&ErrorKinds::from(part.errors.as_ref()));
        }
        let merged = |field: fn(&numaload_proto::v1::StageOutcome) -> &Vec<u8>| {
            histogram::merge_encoded(mine().map(|s| field(s).as_slice()))
        };
        let duration_s = stage.duration.as_secs_f64();
        let measured_s = (elapsed_s - start_s).clamp(0.0, duration_s);
        let requests = mine().map(|s| s.requests).sum();
        let mut result = StageResult {
            stage: index as u32 + 1,
            from_rps: stage.from,
            to_rps: stage.to,
            start_s,
            duration_s,
            measured_s,
            requests,
            errors: errors.total(),
            errors_by_kind: errors,
            late_sends: mine().map(|s| s.late_sends).sum(),
            throughput_rps: 0.0,
            latency_ns: Default::default(),
            latency_uncorrected_ns: Default::default(),
            latency_v2_base64: String::new(),
            uncorrected_v2_base64: String::new(),
            waited_v2_base64: String::new(),
        };
        set_figures(
            &mut result,
            &merged(|s| &s.latency_corrected)?,
            &merged(|s| &s.latency_uncorrected)?,
            &merged(|s| &s.latency_waited)?,
        )?;
        out.push(result);
        start_s += duration_s;
    }
    Ok(out)
}

/// The stages of several trials as one: matched by number, counters and measured time added,
/// histograms merged.
pub(super) fn merge(trials: &[&LayoutResult]) -> Result<Vec<StageResult>, HistogramError> {
    let mut merged: Vec<StageResult> = Vec::new();
    for stage in trials.iter().flat_map(|t| t.stages.iter()) {
        let Some(into) = merged.iter_mut().find(|m| m.stage == stage.stage) else {
            merged.push(stage.clone());
            continue;
        };
        into.requests += stage.requests;
        into.errors_by_kind.add(&stage.errors_by_kind);
        into.errors = into.errors_by_kind.total();
        into.late_sends += stage.late_sends;
        into.measured_s += stage.measured_s;
        let corrected = merged_text(&into.latency_v2_base64, &stage.latency_v2_base64)?;
        let uncorrected = merged_text(&into.uncorrected_v2_base64, &stage.uncorrected_v2_base64)?;
        let waited = merged_text(&into.waited_v2_base64, &stage.waited_v2_base64)?;
        set_figures(into, &corrected, &uncorrected, &waited)?;
    }
    Ok(merged)
}

/// The throughput, percentiles and histograms of a stage from its counters and merged
/// histograms.
fn set_figures(
    stage: &mut StageResult,
    corrected: &Histogram<u64>,
    uncorrected: &Histogram<u64>,
    waited: &Histogram<u64>,
) -> Result<(), HistogramError> {
    stage.throughput_rps = if stage.measured_s > 0.0 {
        stage.requests as f64 / stage.measured_s
    } else {
        0.0
    };
    stage.latency_ns = bounded_percentiles(corrected, waited);
    stage.latency_uncorrected_ns = percentiles(uncorrected);
    let text = |h: &Histogram<u64>| {
        if h.is_empty() {
            Ok(String::new())
        } else {
            base64_of(h)
        }
    };
    stage.latency_v2_base64 = text(corrected)?;
    stage.uncorrected_v2_base64 = text(uncorrected)?;
    stage.waited_v2_base64 = text(waited)?;
    Ok(())
}
