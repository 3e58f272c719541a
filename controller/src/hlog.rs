//! The merged latency histograms in the HdrHistogram interval log format (`--hlog FILE`), so
//! that HdrHistogram's own tools (HistogramLogProcessor, HdrHistogram plotters) can read them.
//!
//! One interval per measured layout and kind: tag `<layout>` for the corrected histogram and
//! `<layout>.uncorrected` for the uncorrected one, starting when the layout's measurement began
//! (the earliest agent, on the controller's clock) and lasting its measured time. Values are
//! nanoseconds; histograms are V2 + DEFLATE, as the Java implementation writes them.

use std::io::Write;
use std::time::{Duration, UNIX_EPOCH};

use hdrhistogram::serialization::interval_log::{IntervalLogWriterBuilder, Tag};
use hdrhistogram::serialization::V2DeflateSerializer;

use crate::result::histogram_from_base64;
use crate::result::RunResult;

#[derive(Debug, thiserror::Error)]
pub enum HlogError {
    #[error("writing the interval log: {0}")]
    Io(#[from] std::io::Error),
    #[error("layout {layout}: {reason}")]
    Histogram { layout: String, reason: String },
}

/// Writes every measured layout's merged histograms as an interval log.
pub fn write(result: &RunResult, out: &mut impl Write) -> Result<(), HlogError> {
    let starts: Vec<u64> = result
        .layouts
        .iter()
        .map(|l| {
            l.agents
                .iter()
                .filter_map(|a| a.measuring_at_unix_ns)
                .min()
                .unwrap_or(0)
        })
        .collect();
    let base_ns = starts.iter().copied().filter(|&s| s > 0).min().unwrap_or(0);
    let mut serializer = V2DeflateSerializer::new();
    let mut builder = IntervalLogWriterBuilder::new();
    builder
        .add_comment(&format!(
            "numaload {} run {} plan {}",
            result.numaload_version, result.run_id, result.plan.name
        ))
        .add_comment("values in nanoseconds; tag <layout> = corrected, <layout>.uncorrected")
        .with_base_time(UNIX_EPOCH + Duration::from_nanos(base_ns))
        .with_start_time(UNIX_EPOCH + Duration::from_nanos(base_ns))
        .with_max_value_divisor(1e6);
    let mut writer = builder.begin_log_with(out, &mut serializer)?;
    for (layout, start) in result.layouts.iter().zip(starts) {
        if !layout.status.measured() {
            continue;
        }
        let offset = Duration::from_nanos(start.saturating_sub(base_ns));
        let duration = Duration::from_secs_f64(layout.elapsed_s);
        let tag_text = tag_for(&layout.name);
        for (suffix, encoded) in [
            ("", &layout.histograms.corrected_v2_base64),
            (".uncorrected", &layout.histograms.uncorrected_v2_base64),
        ] {
            let fail = |reason: String| HlogError::Histogram {
                layout: layout.name.clone(),
                reason,
            };
            let histogram = histogram_from_base64(encoded).map_err(|e| fail(e.to_string()))?;
            let tag = format!("{tag_text}{suffix}");
            writer
                .write_histogram(&histogram, offset, duration, Tag::new(&tag))
                .map_err(|e| fail(e.to_string()))?;
        }
    }
    Ok(())
}

/// Tags may not hold spaces or commas (the log is comma-separated).
fn tag_for(layout: &str) -> String {
    layout
        .chars()
        .map(|c| {
            if c == ' ' || c == ',' || c.is_control() {
                '_'
            } else {
                c
            }
        })
        .collect()
}
