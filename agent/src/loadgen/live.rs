//! What the generator measured over the last second, while it runs: the live hint the
//! controller's progress line shows. The reported figures still come only from the workers'
//! full histograms at the end of the layout; this is a second, small copy of the same records.
//!
//! Each worker records into its own [`LiveSink`] (no lock per request) and hands what it has to
//! the shared [`Live`] window every [`FLUSH`]; whoever watches calls [`Live::take`] about once a
//! second. A record lands in the window at most [`FLUSH`] after it was made.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

/// How often a worker hands its records to the shared window.
const FLUSH: Duration = Duration::from_millis(250);

/// The shared window: responses and their latency since the last [`Live::take`].
#[derive(Debug, Clone, Default)]
pub struct Live(Arc<Mutex<Option<Window>>>);

/// Two handles are equal when they share one window.
impl PartialEq for Live {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

#[derive(Debug)]
struct Window {
    requests: u64,
    latency: Histogram<u64>,
}

/// What [`Live::take`] found: responses since the last take and their p99 (nanoseconds; corrected
/// latency in open loop), `None` without a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LiveFigures {
    pub requests: u64,
    pub p99_ns: Option<u64>,
}

impl Live {
    /// Empties the window and says what it held.
    pub fn take(&self) -> LiveFigures {
        let taken = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take();
        match taken {
            Some(w) if w.requests > 0 => LiveFigures {
                requests: w.requests,
                p99_ns: Some(w.latency.value_at_quantile(0.99)),
            },
            _ => LiveFigures {
                requests: 0,
                p99_ns: None,
            },
        }
    }

    fn add(&self, requests: u64, latency: &Histogram<u64>) {
        let mut window = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        match window.as_mut() {
            Some(w) => {
                w.requests += requests;
                // Same bounds on both sides: adding cannot fail.
                let _ = w.latency.add(latency);
            }
            None => {
                *window = Some(Window {
                    requests,
                    latency: latency.clone(),
                })
            }
        }
    }
}

/// One worker's records since its last flush.
#[derive(Debug)]
pub(super) struct LiveSink {
    live: Live,
    requests: u64,
    latency: Histogram<u64>,
    flushed_at: Instant,
}

impl LiveSink {
    pub(super) fn new(live: Live) -> Self {
        Self {
            live,
            requests: 0,
            latency: numaload_proto::histogram::new_latency(),
            flushed_at: Instant::now(),
        }
    }

    pub(super) fn record(&mut self, latency_ns: u64) {
        self.requests += 1;
        self.latency.saturating_record(latency_ns);
    }

    /// Hands the records over if [`FLUSH`] has passed since the last time (or `now_anyway`).
    pub(super) fn flush(&mut self, now: Instant, now_anyway: bool) {
        if self.requests == 0 || (!now_anyway && now < self.flushed_at + FLUSH) {
            return;
        }
        self.live.add(self.requests, &self.latency);
        self.requests = 0;
        self.latency.reset();
        self.flushed_at = now;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_take_pools_every_sink_and_empties_the_window() {
        let live = Live::default();
        assert_eq!(live.take().requests, 0);
        assert_eq!(live.take().p99_ns, None);
        let mut a = LiveSink::new(live.clone());
        let mut b = LiveSink::new(live.clone());
        for _ in 0..99 {
            a.record(1_000);
        }
        b.record(50_000);
        b.record(50_000);
        let now = Instant::now();
        a.flush(now, true);
        b.flush(now, true);
        let taken = live.take();
        assert_eq!(taken.requests, 101);
        // 2 of 101 above 1 µs: the pooled p99 is the slow one, not either sink's own.
        let p99 = taken.p99_ns.expect("p99");
        assert!((49_000..=51_000).contains(&p99), "{p99}");
        assert_eq!(live.take().requests, 0, "a take empties the window");
    }

    #[test]
    fn a_sink_flushes_only_when_its_time_has_come() {
        let live = Live::default();
        let mut sink = LiveSink::new(live.clone());
        sink.record(1_000);
        let start = sink.flushed_at;
        sink.flush(start + FLUSH / 2, false);
        assert_eq!(live.take().requests, 0);
        sink.flush(start + FLUSH, false);
        assert_eq!(live.take().requests, 1);
        sink.flush(start + FLUSH * 3, false);
        assert_eq!(live.take().requests, 0, "nothing recorded since");
    }
}
