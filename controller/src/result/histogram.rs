//! The histograms a result file carries (HdrHistogram V2, base64): read back by the reports
//! (charts, `--hlog`) and by aggregation when trials are merged.

use base64::Engine as _;
use hdrhistogram::Histogram;
use numaload_proto::histogram::{self, HistogramError};

/// Reads a histogram back out of a result file.
pub fn histogram_from_base64(text: &str) -> Result<Histogram<u64>, HistogramError> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(|e| HistogramError::Decode(format!("not base64: {e}")))?;
    histogram::decode(&bytes)
}
