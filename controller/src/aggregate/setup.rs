//! A layout's connection setup ([`ConnectionSetup`]): the workers' connect, TLS handshake and
//! first-byte histograms merged, over agents (and one agent's alone, for its own figures) and
//! then over trials, and the figures read from the sums.

use hdrhistogram::Histogram;
use numaload_proto::histogram::{self, HistogramError};
use numaload_proto::v1::WorkerResult;

use super::histogram_from_base64;
use super::percentiles::{base64_of, percentiles};
use crate::result::{ConnectionSetup, LayoutResult};

/// The merged setup histograms of a layout, and its resumed handshakes.
#[derive(Debug)]
pub(super) struct Setup {
    connect: Histogram<u64>,
    tls_handshake: Histogram<u64>,
    first_byte: Histogram<u64>,
    resumed: u64,
}

impl Setup {
    /// Merged from the workers' results (every agent's, every replica's).
    pub(super) fn of_workers<'a>(
        workers: impl Iterator<Item = &'a WorkerResult> + Clone,
    ) -> Result<Self, HistogramError> {
        let merge = |field: fn(&WorkerResult) -> &Vec<u8>| {
            histogram::merge_encoded(workers.clone().map(|w| field(w).as_slice()))
        };
        Ok(Self {
            connect: merge(|w| &w.connect_time)?,
            tls_handshake: merge(|w| &w.tls_handshake)?,
            first_byte: merge(|w| &w.first_byte)?,
            resumed: workers.clone().map(|w| w.tls_resumed).sum(),
        })
    }

    /// Merged over trials, from each trial's result.
    pub(super) fn of_trials(trials: &[&LayoutResult]) -> Result<Self, HistogramError> {
        let merge = |field: fn(&LayoutResult) -> &String| {
            let mut total = histogram::new_latency();
            for trial in trials {
                let text = field(trial);
                if !text.is_empty() {
                    histogram::merge_into(&mut total, &histogram_from_base64(text)?)?;
                }
            }
            Ok::<_, HistogramError>(total)
        };
        Ok(Self {
            connect: merge(|t| &t.histograms.connect_v2_base64)?,
            tls_handshake: merge(|t| &t.histograms.tls_handshake_v2_base64)?,
            first_byte: merge(|t| &t.histograms.first_byte_v2_base64)?,
            resumed: trials
                .iter()
                .filter_map(|t| t.connection_setup.as_ref())
                .map(|s| s.tls_resumed)
                .sum(),
        })
    }

    /// Sets the layout's `connection_setup` and the histograms it was read from (nothing when
    /// no connection was timed).
    pub(super) fn onto(&self, result: &mut LayoutResult) -> Result<(), HistogramError> {
        let text = |h: &Histogram<u64>| {
            if h.is_empty() {
                Ok(String::new())
            } else {
                base64_of(h)
            }
        };
        result.histograms.connect_v2_base64 = text(&self.connect)?;
        result.histograms.tls_handshake_v2_base64 = text(&self.tls_handshake)?;
        result.histograms.first_byte_v2_base64 = text(&self.first_byte)?;
        result.connection_setup = self.figures();
        Ok(())
    }

    /// The figures read from the histograms; `None` when no connection was timed.
    pub(super) fn figures(&self) -> Option<ConnectionSetup> {
        (!self.connect.is_empty()).then(|| ConnectionSetup {
            connections: self.connect.len(),
            connect_ns: percentiles(&self.connect),
            tls_handshake_ns: (!self.tls_handshake.is_empty())
                .then(|| percentiles(&self.tls_handshake)),
            tls_resumed: self.resumed,
            first_byte_ns: percentiles(&self.first_byte),
        })
    }
}
