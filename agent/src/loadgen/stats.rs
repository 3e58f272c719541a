//! A worker's counters: how each exchange ended ([`Outcome`]), counted per target index into
//! [`TargetStats`] when it belongs to the measured window.

use std::time::{Duration, Instant};

use super::config::{LoadConfig, Mode, LATE_SEND};
use super::grpc_status;
use super::http::Failure;
use super::live::LiveSink;
use super::report::{ErrorKind, RequestStats, StageStats, TargetStats};
use super::request;
use super::window::Window;

impl From<Failure> for ErrorKind {
    fn from(failure: Failure) -> Self {
        match failure {
            Failure::Io(_) => ErrorKind::Io,
            Failure::Parse(_) => ErrorKind::Parse,
            Failure::Tls => ErrorKind::Tls,
        }
    }
}

/// How one exchange ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Outcome {
    /// A complete response: served if its status is expected, else an `http_status` error; a
    /// gRPC call's then served if its `grpc-status` (`grpc`; none read as `UNKNOWN`) is
    /// expected, else a `grpc_status` error. `intended` is `None` in closed loop.
    Response {
        status: u16,
        grpc: Option<u32>,
        intended: Option<Instant>,
        sent: Instant,
    },
    /// No (complete) response. `at` decides the window as for a response: the intended send
    /// time in open loop (for a failed connect, that of the request it was for), the send or
    /// connect attempt in closed loop.
    Failed { kind: ErrorKind, at: Instant },
}

impl Outcome {
    /// The instant that places the outcome inside or outside the measured window: when the
    /// request was meant to go out, not when it ended, so that a request in flight (or never
    /// sent) when the window closes still counts, and a warm-up backlog answered inside the
    /// window does not.
    fn at(&self) -> Instant {
        match *self {
            Outcome::Response { intended, sent, .. } => intended.unwrap_or(sent),
            Outcome::Failed { at, .. } => at,
        }
    }
}

/// Status codes that count as success: a bit per code (the parser reads three digits).
#[derive(Debug, Clone, PartialEq, Eq)]
struct StatusSet([u64; STATUS_CODES / 64]);

/// Status codes are three digits, 0..=999: a power of two above, so that a masked index needs
/// no bounds check on the hot path.
const STATUS_CODES: usize = 1024;

/// Responses by status code, for one target index.
type StatusCounts = Box<[u64; STATUS_CODES]>;

impl StatusSet {
    /// `expect`, or every 2xx when it is empty.
    fn new(expect: &[u16]) -> Self {
        let mut set = Self([0; STATUS_CODES / 64]);
        let codes: Vec<u16> = match expect {
            [] => (200..300).collect(),
            given => given.to_vec(),
        };
        for status in codes {
            let i = usize::from(status);
            if let Some(word) = set.0.get_mut(i / 64) {
                *word |= 1 << (i % 64);
            }
        }
        set
    }

    fn contains(&self, status: u16) -> bool {
        let i = usize::from(status) % STATUS_CODES;
        self.0[i / 64] >> (i % 64) & 1 == 1
    }
}

/// A worker's counters, shared by its connections (one thread).
#[derive(Debug)]
pub(super) struct WorkerStats {
    window: Window,
    per_target: Vec<TargetStats>,
    /// Per target index, responses by status code (an array: no map lookup per response).
    statuses: Vec<StatusCounts>,
    expected: StatusSet,
    /// Per template: a gRPC call's expected `grpc-status` codes, a bit each (`None`: not gRPC).
    grpc_expect: Vec<Option<u32>>,
    /// The template every request uses when there is no mix: then `by_request` is filled from
    /// the totals at the end rather than recorded twice per request.
    only: Option<usize>,
    /// A copy of each measured latency for the live view, if one is watching.
    live: Option<LiveSink>,
    /// The window's `unsent` requests (target index, template, intended send time): their
    /// waits run to the end of the drain, so they are recorded by [`WorkerStats::settle`].
    unsent: Vec<(usize, usize, Instant)>,
    /// Open loop with stages: when each stage ends (the last at the window's close); a
    /// request belongs to the first stage that ends after it was intended. Empty without
    /// stages.
    stage_ends: Vec<Instant>,
}

impl WorkerStats {
    /// Empty stats for a worker talking to `replicas` (its target indexes, in order).
    pub(super) fn new(window: Window, replicas: &[u32], config: &LoadConfig) -> Self {
        let requests = config.requests.len().max(1);
        let stage_ends: Vec<Instant> = match config.mode {
            Mode::Open { .. } => config
                .shape
                .stage_ends(config.warmup)
                .into_iter()
                .map(|end| window.start + end)
                .collect(),
            Mode::Closed => Vec::new(),
        };
        Self {
            window,
            per_target: replicas
                .iter()
                .map(|&r| TargetStats {
                    by_request: (0..requests).map(|_| RequestStats::new()).collect(),
                    by_stage: stage_ends.iter().map(|_| StageStats::new()).collect(),
                    ..TargetStats::new(r)
                })
                .collect(),
            statuses: replicas
                .iter()
                .map(|_| Box::new([0; STATUS_CODES]))
                .collect(),
            expected: StatusSet::new(&config.expect_status),
            grpc_expect: config.requests.iter().map(|r| r.grpc_expect).collect(),
            only: request::only(&config.requests),
            live: config.live.clone().map(LiveSink::new),
            unsent: Vec::new(),
            stage_ends,
        }
    }

    /// Counts an outcome of template `request` that ended at `done`, if it was intended (open
    /// loop) or sent (closed loop) inside the measured window ([`Outcome::at`]), and in the stage
    /// it was intended in, if the run has stages.
    pub(super) fn record(
        &mut self,
        target: usize,
        request: usize,
        done: Instant,
        outcome: Outcome,
    ) {
        if matches!(outcome, Outcome::Response { .. }) {
            self.per_target[target].counts.responses_all += 1;
        }
        if !self.window.measures(outcome.at()) {
            return;
        }
        let stage = self.stage_of(outcome.at());
        let stats = &mut self.per_target[target];
        let mix = self.only.is_none();
        let (status, grpc, intended, sent) = match outcome {
            Outcome::Response {
                status,
                grpc,
                intended,
                sent,
            } => (status, grpc, intended, sent),
            Outcome::Failed { kind, at } => {
                // Given up at `done` with no response: it waited at least until then. (An
                // `unsent` one waits to the end of the drain: `settle`. The others ended with
                // an answer of sorts, a refusal, an error, bad bytes: no wait to bound.)
                let waited =
                    (kind == ErrorKind::Timeout).then(|| nanos(done.saturating_duration_since(at)));
                *stats.errors.count_mut(kind) += 1;
                if let Some(waited) = waited {
                    record_clamped(&mut stats.waited, waited);
                }
                if mix {
                    let per_request = &mut stats.by_request[request];
                    per_request.errors += 1;
                    if let Some(waited) = waited {
                        record_clamped(&mut per_request.waited, waited);
                    }
                }
                if let Some(stage) = stage.map(|s| &mut stats.by_stage[s]) {
                    *stage.errors.count_mut(kind) += 1;
                    if let Some(waited) = waited {
                        record_clamped(&mut stage.waited, waited);
                    }
                }
                if kind == ErrorKind::Unsent {
                    self.unsent.push((target, request, at));
                }
                return;
            }
        };
        self.statuses[target][usize::from(status) % STATUS_CODES] += 1;
        if !self.expected.contains(status) {
            stats.errors.http_status += 1;
            if mix {
                stats.by_request[request].errors += 1;
            }
            if let Some(stage) = stage {
                stats.by_stage[stage].errors.http_status += 1;
            }
            return;
        }
        if let Some(expect) = self.grpc_expect.get(request).copied().flatten() {
            let code = grpc.unwrap_or(grpc_status::UNKNOWN);
            *stats.grpc_status_codes.entry(code).or_default() += 1;
            if expect & (1 << code.min(31)) == 0 {
                stats.errors.grpc_status += 1;
                if mix {
                    stats.by_request[request].errors += 1;
                }
                if let Some(stage) = stage {
                    stats.by_stage[stage].errors.grpc_status += 1;
                }
                return;
            }
        }
        stats.requests += 1;
        let uncorrected = nanos(done.saturating_duration_since(sent));
        record_clamped(&mut stats.uncorrected, uncorrected);
        let (corrected, late) = match intended {
            Some(intended) => {
                let lag = sent.saturating_duration_since(intended);
                record_clamped(&mut stats.send_lag, nanos(lag));
                let late = u64::from(lag > LATE_SEND);
                stats.counts.late_sends += late;
                (nanos(done.saturating_duration_since(intended)), late)
            }
            None => (uncorrected, 0),
        };
        record_clamped(&mut stats.corrected, corrected);
        if mix {
            let per_request = &mut stats.by_request[request];
            per_request.requests += 1;
            record_clamped(&mut per_request.corrected, corrected);
        }
        if let Some(stage) = stage.map(|s| &mut stats.by_stage[s]) {
            stage.requests += 1;
            stage.late_sends += late;
            record_clamped(&mut stage.corrected, corrected);
            record_clamped(&mut stage.uncorrected, uncorrected);
        }
        if let Some(live) = &mut self.live {
            live.record(corrected);
        }
    }

    /// The stage a request intended at `at` (inside the window) belongs to; `None` without
    /// stages.
    fn stage_of(&self, at: Instant) -> Option<usize> {
        if self.stage_ends.is_empty() {
            return None;
        }
        let index = self.stage_ends.partition_point(|&end| end <= at);
        Some(index.min(self.stage_ends.len() - 1))
    }

    /// Records the waits of the window's `unsent` requests, each at least from its intended
    /// send time to `drain_end`, the end of the drain: nothing was sent for them by then.
    pub(super) fn settle(&mut self, drain_end: Instant) {
        let mix = self.only.is_none();
        for (target, request, intended) in std::mem::take(&mut self.unsent) {
            let waited = nanos(drain_end.saturating_duration_since(intended));
            let stage = self.stage_of(intended);
            let stats = &mut self.per_target[target];
            record_clamped(&mut stats.waited, waited);
            if mix {
                record_clamped(&mut stats.by_request[request].waited, waited);
            }
            if let Some(stage) = stage {
                record_clamped(&mut stats.by_stage[stage].waited, waited);
            }
        }
    }

    /// Counts open-loop warm-up send slots dropped at the window's open (see
    /// [`TargetStats::warmup_dropped`]).
    pub(super) fn warmup_dropped(&mut self, target: usize, count: u64) {
        self.per_target[target].counts.warmup_dropped += count;
    }

    /// Counts a reconnect after a response that closed its connection, placed in the window
    /// as that response was ([`Outcome::at`]: its intended or send time).
    pub(super) fn reconnected(&mut self, target: usize, at: Instant) {
        if self.window.measures(at) {
            self.per_target[target].counts.reconnects += 1;
        }
    }

    /// HTTP/2: a GOAWAY received at `at`, counted when the load runs (not in the drain).
    pub(super) fn goaway(&mut self, target: usize, at: Instant) {
        if at < self.window.measure_end {
            self.per_target[target].counts.goaways += 1;
        }
    }

    /// HTTP/2: a request intended (closed loop: sent) at `at` whose body waited for the
    /// server's flow-control window.
    pub(super) fn flow_blocked(&mut self, target: usize, at: Instant) {
        if self.window.measures(at) {
            self.per_target[target].counts.flow_blocked += 1;
        }
    }

    /// A connection whose connect began at `opened` is connected at `now` (see
    /// [`Setup`](super::report::Setup): counted while the load runs, not in the drain).
    pub(super) fn connected(&mut self, target: usize, opened: Instant, now: Instant) {
        if opened < self.window.measure_end {
            let setup = &mut self.per_target[target].setup;
            record_clamped(
                &mut setup.connect,
                nanos(now.saturating_duration_since(opened)),
            );
        }
    }

    /// A connection whose connect began at `opened`, connected at `connected`, finished its
    /// TLS handshake at `now`, resuming a session or not.
    pub(super) fn handshaken(
        &mut self,
        target: usize,
        opened: Instant,
        connected: Instant,
        now: Instant,
        resumed: bool,
    ) {
        if opened < self.window.measure_end {
            let setup = &mut self.per_target[target].setup;
            let took = nanos(now.saturating_duration_since(connected));
            record_clamped(&mut setup.tls_handshake, took);
            setup.resumed += u64::from(resumed);
        }
    }

    /// The first bytes of the first response of a connection whose connect began at `opened`
    /// came at `at`.
    pub(super) fn first_byte(&mut self, target: usize, opened: Instant, at: Instant) {
        if opened < self.window.measure_end {
            let setup = &mut self.per_target[target].setup;
            record_clamped(
                &mut setup.first_byte,
                nanos(at.saturating_duration_since(opened)),
            );
        }
    }

    /// Hands the live view what was recorded, every quarter second (or at once with `last`).
    pub(super) fn flush_live(&mut self, now: Instant, last: bool) {
        if let Some(live) = &mut self.live {
            live.flush(now, last);
        }
    }

    /// The per-target stats, with status codes and (without a mix) the one request's stats.
    pub(super) fn into_per_target(self) -> Vec<TargetStats> {
        let Self {
            mut per_target,
            statuses,
            only,
            ..
        } = self;
        for (stats, counts) in per_target.iter_mut().zip(&statuses) {
            stats.status_codes = (0u16..)
                .zip(counts.iter())
                .filter(|&(_, &n)| n > 0)
                .map(|(status, &n)| (status, n))
                .collect();
            if let Some(per_request) = only.and_then(|i| stats.by_request.get_mut(i)) {
                *per_request = RequestStats {
                    requests: stats.requests,
                    errors: stats.errors.total(),
                    corrected: stats.corrected.clone(),
                    waited: stats.waited.clone(),
                };
            }
        }
        per_target
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// Records into a latency histogram, clamping to its highest trackable value (60 s).
fn record_clamped(histogram: &mut hdrhistogram::Histogram<u64>, value_ns: u64) {
    histogram.saturating_record(value_ns);
}

#[cfg(test)]
mod tests {
    use super::super::report::ErrorCounts;
    use super::super::test_config as config;
    use super::*;

    fn stats(window: Window) -> WorkerStats {
        WorkerStats::new(window, &[0, 3], &config(2, 1, &[0]))
    }

    fn served(status: u16, intended: Option<Instant>, sent: Instant) -> Outcome {
        Outcome::Response {
            status,
            grpc: None,
            intended,
            sent,
        }
    }

    #[test]
    fn records_by_when_a_request_was_meant_to_go_out_not_when_it_ended() {
        let t0 = Instant::now();
        let window = Window {
            start: t0,
            measure_start: t0 + Duration::from_secs(1),
            measure_end: t0 + Duration::from_secs(2),
        };
        let mut s = stats(window);
        let ms = Duration::from_millis;
        let at = |m| t0 + ms(m);
        let sent = |m| served(200, None, at(m));
        let intended = |m, sent_ms| served(200, Some(at(m)), at(sent_ms));
        let failed = |kind, m| Outcome::Failed { kind, at: at(m) };
        // Closed loop, by the send: warm-up answered in the window is not measured, a send
        // just before the close answered after it is.
        s.record(1, 0, at(1_010), sent(990));
        s.record(1, 0, at(1_005), sent(1_000));
        s.record(1, 0, at(2_300), sent(1_999));
        s.record(1, 0, at(2_010), sent(2_000));
        // Open loop, by the intended time, however late the send and the answer.
        s.record(1, 0, at(1_400), intended(999, 1_300)); // a warm-up backlog: not measured
        s.record(1, 0, at(2_350), intended(1_800, 1_800)); // in flight across the close
        s.record(1, 0, at(2_200), failed(ErrorKind::Timeout, 1_900));
        s.record(1, 0, at(2_000), failed(ErrorKind::Unsent, 1_950));
        s.record(1, 0, at(2_000), failed(ErrorKind::Unsent, 2_000)); // after the close
        s.record(1, 0, at(1_500), failed(ErrorKind::Io, 500));
        s.record(1, 0, at(1_500), failed(ErrorKind::Io, 1_500));
        s.reconnected(1, at(500));
        s.reconnected(1, at(1_500));
        let per_target = s.into_per_target();
        let t = &per_target[1];
        assert_eq!(t.requests, 3);
        let want = ErrorCounts {
            io: 1,
            timeout: 1,
            unsent: 1,
            ..ErrorCounts::default()
        };
        assert_eq!(t.errors, want);
        assert_eq!(t.counts.reconnects, 1);
        assert_eq!(t.status_codes, [(200, 3)].into());
        assert!(t.corrected.equivalent(t.corrected.max(), 550_000_000));
        assert_eq!(per_target[0].requests, 0);
    }

    #[test]
    fn open_loop_records_correction_lag_and_late_sends() {
        let t0 = Instant::now();
        let mut s = stats(Window {
            start: t0,
            measure_start: t0,
            measure_end: t0 + Duration::from_secs(10),
        });
        let us = Duration::from_micros;
        for (intended, sent, done) in [(0, 50, 150), (1_000, 3_000, 3_100)] {
            let outcome = served(200, Some(t0 + us(intended)), t0 + us(sent));
            s.record(0, 0, t0 + us(done), outcome);
        }
        let t = &s.per_target[0];
        assert_eq!(t.requests, 2);
        assert_eq!(t.counts.late_sends, 1, "only the 2 ms late send is late");
        assert_eq!(t.corrected.len(), 2);
        assert_eq!(t.send_lag.len(), 2);
        assert!(t.corrected.equivalent(t.corrected.max(), 2_100_000));
        assert!(t.uncorrected.equivalent(t.uncorrected.max(), 100_000));
        assert!(t.send_lag.equivalent(t.send_lag.min(), 50_000));
    }

    #[test]
    fn closed_loop_corrected_equals_uncorrected_without_lag() {
        let t0 = Instant::now();
        let mut s = stats(Window {
            start: t0,
            measure_start: t0,
            measure_end: t0 + Duration::from_secs(10),
        });
        s.record(0, 0, t0 + Duration::from_micros(300), served(204, None, t0));
        let t = &s.per_target[0];
        assert_eq!(t.corrected, t.uncorrected);
        assert_eq!(t.send_lag.len(), 0);
        assert_eq!(t.counts.late_sends, 0);
    }

    #[test]
    fn unexpected_statuses_count_as_http_status_and_every_code_is_counted() {
        let t0 = Instant::now();
        let window = Window {
            start: t0,
            measure_start: t0,
            measure_end: t0 + Duration::from_secs(10),
        };
        // (expect_status, statuses answered, successes)
        let cases: &[(&[u16], &[u16], u64)] = &[
            (&[], &[200, 204, 299, 301, 404, 503, 199], 3),
            (&[404], &[200, 404, 404, 500], 2),
            (&[200, 301], &[200, 301, 302, 999], 2),
        ];
        for &(expect, answered, successes) in cases {
            let config = LoadConfig {
                expect_status: expect.to_vec(),
                ..config(1, 1, &[0])
            };
            let mut s = WorkerStats::new(window, &[0], &config);
            for &status in answered {
                s.record(
                    0,
                    0,
                    t0 + Duration::from_millis(1),
                    served(status, None, t0),
                );
            }
            let t = &s.into_per_target()[0];
            let label = format!("expect {expect:?}, answered {answered:?}");
            assert_eq!(t.requests, successes, "{label}");
            assert_eq!(t.corrected.len(), successes, "{label}");
            assert_eq!(
                t.errors.http_status,
                answered.len() as u64 - successes,
                "{label}"
            );
            assert_eq!(t.errors.total(), t.errors.http_status, "{label}");
            let mut want = std::collections::BTreeMap::new();
            for &status in answered {
                *want.entry(status).or_insert(0) += 1;
            }
            assert_eq!(t.status_codes, want, "{label}");
            // One request, no mix: its stats are the totals.
            assert_eq!(t.by_request.len(), 1);
            assert_eq!(t.by_request[0].requests, t.requests);
            assert_eq!(t.by_request[0].errors, t.errors.total());
            assert_eq!(t.by_request[0].corrected, t.corrected);
        }
    }

    #[test]
    fn a_mix_records_each_request_apart() {
        let t0 = Instant::now();
        let window = Window {
            start: t0,
            measure_start: t0,
            measure_end: t0 + Duration::from_secs(10),
        };
        let template = |weight| super::super::RequestTemplate {
            name: String::new(),
            method: "GET".into(),
            path: "/".into(),
            headers: Vec::new(),
            body: Vec::new(),
            weight,
            grpc_expect: None,
        };
        let config = LoadConfig {
            requests: vec![template(1), template(0), template(3)],
            ..config(1, 1, &[0])
        };
        let mut s = WorkerStats::new(window, &[0], &config);
        let ms = Duration::from_millis;
        s.record(0, 0, t0 + ms(5), served(200, None, t0));
        s.record(0, 2, t0 + ms(7), served(200, None, t0));
        s.record(0, 2, t0 + ms(9), served(200, None, t0));
        s.record(0, 2, t0 + ms(9), served(500, None, t0));
        s.record(
            0,
            0,
            t0 + ms(9),
            Outcome::Failed {
                kind: ErrorKind::Timeout,
                at: t0,
            },
        );
        let t = &s.into_per_target()[0];
        let by: Vec<(u64, u64, u64)> = t
            .by_request
            .iter()
            .map(|r| (r.requests, r.errors, r.corrected.len()))
            .collect();
        assert_eq!(by, [(1, 1, 1), (0, 0, 0), (2, 1, 2)]);
        assert_eq!(t.requests, 3);
        assert_eq!(t.errors.total(), 2);
        assert!(t.by_request[0]
            .corrected
            .equivalent(t.by_request[0].corrected.max(), 5_000_000));
    }

    #[test]
    fn grpc_calls_are_counted_per_status_and_an_unexpected_one_is_an_error() {
        let t0 = Instant::now();
        let window = Window {
            start: t0,
            measure_start: t0,
            measure_end: t0 + Duration::from_secs(10),
        };
        let template = |grpc_expect| super::super::RequestTemplate {
            name: String::new(),
            method: "POST".into(),
            path: "/p.S/M".into(),
            headers: Vec::new(),
            body: Vec::new(),
            weight: 1,
            grpc_expect,
        };
        let config = LoadConfig {
            // OK only; OK or NOT_FOUND (5); not gRPC.
            requests: vec![
                template(Some(1)),
                template(Some(1 | 1 << 5)),
                template(None),
            ],
            ..config(1, 1, &[0])
        };
        let mut s = WorkerStats::new(window, &[0], &config);
        let done = t0 + Duration::from_millis(5);
        let call = |status, grpc| Outcome::Response {
            status,
            grpc,
            intended: None,
            sent: t0,
        };
        s.record(0, 0, done, call(200, Some(0)));
        s.record(0, 0, done, call(200, Some(5)));
        // No grpc-status at all: UNKNOWN (2), an error.
        s.record(0, 0, done, call(200, None));
        s.record(0, 1, done, call(200, Some(5)));
        // An HTTP status not expected is that error, before any grpc-status.
        s.record(0, 1, done, call(503, Some(14)));
        s.record(0, 2, done, call(200, None));
        let t = &s.into_per_target()[0];
        assert_eq!(t.grpc_status_codes, [(0, 1), (2, 1), (5, 2)].into());
        assert_eq!((t.errors.grpc_status, t.errors.http_status), (2, 1));
        assert_eq!(t.requests, 3);
        let by: Vec<(u64, u64)> = t
            .by_request
            .iter()
            .map(|r| (r.requests, r.errors))
            .collect();
        assert_eq!(by, [(1, 2), (1, 1), (1, 0)]);
    }

    #[test]
    fn each_outcome_also_counts_in_the_stage_it_was_intended_in() {
        use super::super::{LoadShape, Stage};
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let step = |rate, secs| Stage {
            from: rate,
            to: rate,
            duration: Duration::from_secs(secs),
        };
        let config = LoadConfig {
            mode: Mode::Open { rate_per_sec: 0.0 },
            warmup: Duration::from_secs(1),
            duration: Duration::from_secs(3),
            shape: LoadShape {
                stages: vec![step(100.0, 1), step(200.0, 2)],
                ..LoadShape::default()
            },
            ..config(1, 1, &[0])
        };
        let window = Window::new(t0, &config);
        let mut s = WorkerStats::new(window, &[0], &config);
        let at = |intended: u64, sent: u64| (Some(t0 + ms(intended)), t0 + ms(sent));
        let ok = |intended, sent| {
            let (intended, sent) = at(intended, sent);
            served(200, intended, sent)
        };
        s.record(0, 0, t0 + ms(1_010), ok(900, 900)); // warm-up: nowhere
        s.record(0, 0, t0 + ms(1_510), ok(1_500, 1_500)); // stage 0
        s.record(0, 0, t0 + ms(2_600), ok(1_999, 2_500)); // stage 0, late, answered in 1
        s.record(0, 0, t0 + ms(2_020), ok(2_000, 2_000)); // stage 1
        let (intended, sent) = at(2_050, 2_050);
        s.record(0, 0, t0 + ms(2_100), served(503, intended, sent));
        let timeout = Outcome::Failed {
            kind: ErrorKind::Timeout,
            at: t0 + ms(3_900),
        };
        s.record(0, 0, t0 + ms(4_900), timeout);
        let unsent = Outcome::Failed {
            kind: ErrorKind::Unsent,
            at: t0 + ms(3_950),
        };
        s.record(0, 0, t0 + ms(4_000), unsent);
        s.settle(t0 + ms(5_000));
        let t = &s.into_per_target()[0];
        let [first, second] = &t.by_stage[..] else {
            panic!("two stages: {:?}", t.by_stage.len())
        };
        assert_eq!((first.requests, second.requests), (2, 1));
        assert_eq!((first.late_sends, second.late_sends), (1, 0));
        assert_eq!(first.errors.total(), 0);
        let want = ErrorCounts {
            http_status: 1,
            timeout: 1,
            unsent: 1,
            ..ErrorCounts::default()
        };
        assert_eq!(second.errors, want);
        assert_eq!(first.corrected.len(), 2);
        assert!(first
            .corrected
            .equivalent(first.corrected.max(), 601_000_000));
        assert_eq!(first.uncorrected.len(), 2);
        assert_eq!(
            second.waited.len(),
            2,
            "the timeout's and the unsent one's waits"
        );
        // The stages add up to the replica's figures.
        assert_eq!(first.requests + second.requests, t.requests);
        assert_eq!(t.counts.late_sends, 1);
        let mut errors = first.errors;
        errors.add(&second.errors);
        assert_eq!(errors, t.errors);
    }

    #[test]
    fn latencies_beyond_the_histogram_are_clamped() {
        let mut h = numaload_proto::histogram::new_latency();
        record_clamped(&mut h, u64::MAX);
        assert_eq!(h.len(), 1);
    }
}
