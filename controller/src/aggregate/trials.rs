//! Repeats: one layout's trials folded into one result, histograms merged (never averaged),
//! counters added, each trial's figures kept, and an interval of the mean over trials.

use hdrhistogram::Histogram;
use numaload_proto::histogram::{self, HistogramError};

use super::{histogram_from_base64, mix, set_latency, stages};
use crate::result::{
    Confidence, Counts, ErrorKinds, Histograms, Interval, LayoutResult, LayoutStatus, TrialResult,
};

/// Tags everything a trial's result lists with its trial number.
pub(super) fn set_trial(result: &mut LayoutResult, trial: u32) {
    result.replicas.iter_mut().for_each(|r| r.trial = trial);
    result.agents.iter_mut().for_each(|a| a.trial = trial);
    result
        .thread_samples
        .iter_mut()
        .for_each(|s| s.trial = trial);
    result.load.workers.iter_mut().for_each(|w| w.trial = trial);
    result.net_receive.iter_mut().for_each(|r| r.trial = trial);
    result.trials = vec![TrialResult {
        trial,
        status: result.status,
        requests: result.requests,
        throughput_rps: result.throughput_rps,
        errors: result.errors,
        latency_ns: result.latency_ns.clone(),
    }];
}

/// One layout's result over all its trials: histograms merged, counters added, per-trial
/// figures kept, and with two or more measured trials a 95% interval of the mean.
#[allow(
    clippy::too_many_lines,
    reason = "every field of a layout's result merged over its trials, one after the other"
)]
pub fn merge_trials(mut trials: Vec<LayoutResult>) -> Result<LayoutResult, HistogramError> {
    if trials.len() <= 1 {
        return trials
            .pop()
            .ok_or_else(|| HistogramError::Merge("no trial".into()));
    }
    let mut merged = trials[0].clone();
    merged.suspect = merged
        .suspect
        .iter()
        .map(|s| format!("trial 1: {s}"))
        .collect();
    let measured: Vec<&LayoutResult> = trials.iter().filter(|t| t.status.measured()).collect();
    merged.status = match (measured.len(), trials.len()) {
        (0, _) => LayoutStatus::Failed,
        // A trial no agent measured leaves the others' figures: degraded.
        (m, n) if m < n => LayoutStatus::Degraded,
        // The worst of the trials: one undelivered or suspect trial is in the merged figures.
        _ => trials
            .iter()
            .map(|t| t.status)
            .max()
            .unwrap_or(LayoutStatus::Failed),
    };
    let errors: Vec<String> = trials
        .iter()
        .filter_map(|t| {
            t.error
                .as_ref()
                .map(|e| format!("trial {}: {e}", t.trials[0].trial))
        })
        .collect();
    merged.error = (!errors.is_empty()).then(|| errors.join("; "));
    let pick = |f: fn(&Histograms) -> &String| -> Result<Histogram<u64>, HistogramError> {
        let mut total = histogram::new_latency();
        for trial in &measured {
            let text = f(&trial.histograms);
            if !text.is_empty() {
                histogram::merge_into(&mut total, &histogram_from_base64(text)?)?;
            }
        }
        Ok(total)
    };
    let corrected = pick(|h| &h.corrected_v2_base64)?;
    let waited = pick(|h| &h.waited_v2_base64)?;
    let uncorrected = pick(|h| &h.uncorrected_v2_base64)?;
    let lag = pick(|h| &h.send_lag_v2_base64)?;
    set_latency(&mut merged, &corrected, &waited, &uncorrected, &lag)?;
    super::setup::Setup::of_trials(&measured)?.onto(&mut merged)?;
    merged.delivery = measured
        .iter()
        .filter_map(|t| t.delivery)
        .reduce(std::ops::Add::add);
    merged.elapsed_s = measured.iter().map(|t| t.elapsed_s).sum();
    merged.requests = measured.iter().map(|t| t.requests).sum();
    // Trials run one after another: the rate over all of them is total requests over total time.
    merged.throughput_rps = if merged.elapsed_s > 0.0 {
        merged.requests as f64 / merged.elapsed_s
    } else {
        0.0
    };
    merged.errors_by_kind = ErrorKinds::default();
    for trial in &measured {
        merged.errors_by_kind.add(&trial.errors_by_kind);
    }
    merged.errors = merged.errors_by_kind.total();
    merged.counts = Counts::default();
    for trial in &measured {
        merged.counts.add(&trial.counts);
    }
    merged.request_mix = mix::merge(&measured)?;
    merged.stages = stages::merge(&measured)?;
    merged.status_codes = mix::merge_status_codes(&measured, |t| &t.status_codes);
    merged.grpc_status_codes = mix::merge_status_codes(&measured, |t| &t.grpc_status_codes);
    let rest = &trials[1..];
    merged
        .agents
        .extend(rest.iter().flat_map(|t| t.agents.clone()));
    merged
        .net_receive
        .extend(rest.iter().flat_map(|t| t.net_receive.clone()));
    merged
        .replicas
        .extend(rest.iter().flat_map(|t| t.replicas.clone()));
    merged
        .thread_samples
        .extend(rest.iter().flat_map(|t| t.thread_samples.clone()));
    merged
        .load
        .workers
        .extend(rest.iter().flat_map(|t| t.load.workers.clone()));
    for trial in rest {
        merged.load.cpus.extend(&trial.load.cpus);
        merged.load.shares_cpus_with_replicas |= trial.load.shares_cpus_with_replicas;
        for text in trial
            .suspect
            .iter()
            .map(|s| format!("trial {}: {s}", trial.trials[0].trial))
        {
            merged.suspect.push(text);
        }
        merged.notes.extend(trial.notes.iter().cloned());
    }
    merged.load.cpus.sort_unstable();
    merged.load.cpus.dedup();
    merged.notes.sort();
    merged.notes.dedup();
    merged.trials = trials.iter().flat_map(|t| t.trials.clone()).collect();
    merged.confidence = confidence(&merged.trials);
    Ok(merged)
}

/// 95% Student-t intervals of the mean throughput and p99 over the measured trials.
fn confidence(trials: &[TrialResult]) -> Option<Confidence> {
    use crate::stats::{mean, student_t_quantile, variance};
    let measured: Vec<&TrialResult> = trials
        .iter()
        .filter(|t| t.status.measured() && t.latency_ns.count > 0)
        .collect();
    if measured.len() < 2 {
        return None;
    }
    let n = measured.len() as f64;
    let t = student_t_quantile(0.975, n - 1.0)?;
    let interval = |values: Vec<f64>| {
        let half = t * (variance(&values) / n).sqrt();
        let m = mean(&values);
        Interval {
            low: m - half,
            high: m + half,
        }
    };
    Some(Confidence {
        level: 0.95,
        trials: measured.len() as u32,
        throughput_rps: interval(measured.iter().map(|t| t.throughput_rps).collect()),
        p99_ns: interval(measured.iter().map(|t| t.latency_ns.p99 as f64).collect()),
    })
}
