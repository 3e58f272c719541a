//! The plan's request mix, status codes and reconnects: per request, counters added and
//! histograms merged over workers, replicas and agents (and, in [`merge`], over trials).

use std::collections::BTreeMap;

use numaload_proto::histogram::{self, HistogramError};
use numaload_proto::v1::{StatusCount, WorkerResult};

use super::percentiles::{base64_of, bounded_percentiles};
use crate::plan::Request;
use crate::result::histogram_from_base64;
use crate::result::{LayoutResult, RequestMix};

/// Requests, errors and encoded histograms of one request of the mix.
#[derive(Default)]
struct Tally<'a> {
    requests: u64,
    errors: u64,
    latency: Vec<&'a [u8]>,
    waited: Vec<&'a [u8]>,
}

/// One entry per request of the plan (in plan order) from the workers' `by_request`, plus any
/// index the plan does not have; empty when no worker reported requests separately.
pub(super) fn request_mix<'a>(
    plan: &[Request],
    workers: impl Iterator<Item = &'a WorkerResult>,
) -> Result<Vec<RequestMix>, HistogramError> {
    let mut tallies: BTreeMap<usize, Tally<'a>> = BTreeMap::new();
    for outcome in workers.flat_map(|w| w.by_request.iter()) {
        let index = usize::try_from(outcome.request).unwrap_or(usize::MAX);
        let tally = tallies.entry(index).or_default();
        tally.requests += outcome.requests;
        tally.errors += outcome.errors;
        tally.latency.push(&outcome.latency_corrected);
        tally.waited.push(&outcome.latency_waited);
    }
    if tallies.is_empty() {
        return Ok(Vec::new());
    }
    let beyond = tallies.keys().copied().filter(|&i| i >= plan.len());
    let indexes: Vec<usize> = (0..plan.len()).chain(beyond).collect();
    indexes
        .into_iter()
        .map(|index| {
            let tally = tallies.remove(&index).unwrap_or_default();
            let merged = histogram::merge_encoded(tally.latency)?;
            let waited = histogram::merge_encoded(tally.waited)?;
            let (name, weight) = match plan.get(index) {
                Some(request) => (request.name.clone(), request.weight),
                None => (format!("request #{index}"), 0),
            };
            Ok(RequestMix {
                name,
                weight,
                calls: Some(tally.requests + tally.errors),
                requests: tally.requests,
                errors: tally.errors,
                latency_ns: bounded_percentiles(&merged, &waited),
                latency_v2_base64: if merged.is_empty() {
                    String::new()
                } else {
                    base64_of(&merged)?
                },
                waited_v2_base64: if waited.is_empty() {
                    String::new()
                } else {
                    base64_of(&waited)?
                },
            })
        })
        .collect()
}

/// Responses by status code over `workers` (HTTP's or gRPC's, as `codes` picks), the code as
/// text (JSON object keys).
pub(super) fn status_codes<'a>(
    workers: impl Iterator<Item = &'a WorkerResult>,
    codes_of: impl Fn(&'a WorkerResult) -> &'a [StatusCount],
) -> BTreeMap<String, u64> {
    let mut codes = BTreeMap::new();
    for status in workers.flat_map(|w| codes_of(w).iter()) {
        *codes.entry(status.code.to_string()).or_insert(0) += status.count;
    }
    codes
}

/// The mixes of several trials as one: entries matched by name (first-seen order), counters
/// added, histograms merged.
pub(super) fn merge(trials: &[&LayoutResult]) -> Result<Vec<RequestMix>, HistogramError> {
    let mut merged: Vec<RequestMix> = Vec::new();
    for entry in trials.iter().flat_map(|t| t.request_mix.iter()) {
        match merged.iter_mut().find(|m| m.name == entry.name) {
            None => merged.push(entry.clone()),
            Some(into) => {
                into.calls = Some(into.calls() + entry.calls());
                into.requests += entry.requests;
                into.errors += entry.errors;
                let total = merged_text(&into.latency_v2_base64, &entry.latency_v2_base64)?;
                let waited = merged_text(&into.waited_v2_base64, &entry.waited_v2_base64)?;
                into.latency_ns = bounded_percentiles(&total, &waited);
                if !total.is_empty() {
                    into.latency_v2_base64 = base64_of(&total)?;
                }
                if !waited.is_empty() {
                    into.waited_v2_base64 = base64_of(&waited)?;
                }
            }
        }
    }
    Ok(merged)
}

/// Two result-file histograms (base64, either may be empty) added.
pub(super) fn merged_text(
    a: &str,
    b: &str,
) -> Result<hdrhistogram::Histogram<u64>, HistogramError> {
    let mut total = histogram::new_latency();
    for text in [a, b].into_iter().filter(|t| !t.is_empty()) {
        histogram::merge_into(&mut total, &histogram_from_base64(text)?)?;
    }
    Ok(total)
}

/// Status codes of several trials added up (HTTP's or gRPC's, as `codes_of` picks).
pub(super) fn merge_status_codes<'a>(
    trials: &[&'a LayoutResult],
    codes_of: impl Fn(&'a LayoutResult) -> &'a BTreeMap<String, u64>,
) -> BTreeMap<String, u64> {
    let mut codes = BTreeMap::new();
    for (code, count) in trials.iter().flat_map(|t| codes_of(t).iter()) {
        *codes.entry(code.clone()).or_insert(0) += count;
    }
    codes
}
