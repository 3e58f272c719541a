//! What a run measured: [`LoadReport`] per worker ([`WorkerReport`]) and per replica
//! ([`TargetStats`], [`RequestStats`], [`ErrorCounts`]), and how parts of it add up.

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;

/// Everything one [`run`](super::run) measured.
#[derive(Debug, Clone)]
pub struct LoadReport {
    /// Wall time of the measured window (shorter than `duration` if cancelled); the drain after
    /// it is not included.
    pub elapsed: Duration,
    pub workers: Vec<WorkerReport>,
}

impl LoadReport {
    /// Each replica's stats merged over all workers, one entry per replica that had a
    /// connection, ordered by replica.
    pub fn per_replica(&self) -> Vec<TargetStats> {
        let mut merged: Vec<TargetStats> = Vec::new();
        for stats in self.workers.iter().flat_map(|w| &w.per_target) {
            match merged.iter_mut().find(|m| m.replica == stats.replica) {
                Some(total) => total.add(stats),
                None => merged.push(stats.clone()),
            }
        }
        merged.sort_by_key(|s| s.replica);
        merged
    }

    /// Successful requests over all workers and replicas.
    pub fn requests(&self) -> u64 {
        self.workers
            .iter()
            .flat_map(|w| &w.per_target)
            .map(|t| t.requests)
            .sum()
    }

    /// Errors of every kind over all workers and replicas.
    pub fn errors(&self) -> ErrorCounts {
        let mut total = ErrorCounts::default();
        for t in self.workers.iter().flat_map(|w| &w.per_target) {
            total.add(&t.errors);
        }
        total
    }
}

/// One worker thread's measurements.
#[derive(Debug, Clone)]
pub struct WorkerReport {
    pub worker: u32,
    /// The CPU the worker was pinned to.
    pub cpu: u32,
    /// The thread's CPU time over the measured window, how it waited (naps, spins, pacing,
    /// wake-ups) and how its responses were timed.
    pub counts: ThreadCounts,
    /// One entry per replica this worker had connections to, ordered by replica.
    pub per_target: Vec<TargetStats>,
}

/// Counts and latency histograms (nanoseconds) for one replica, from one worker or merged.
#[derive(Debug, Clone)]
pub struct TargetStats {
    pub replica: u32,
    /// Responses with an expected status ([`LoadConfig::expect_status`](super::LoadConfig::expect_status), or any 2xx) to
    /// requests intended (closed loop: sent) inside the measured window, whenever they came;
    /// each has one value in `corrected` and `uncorrected` (and, in open loop, in `send_lag`).
    pub requests: u64,
    pub errors: ErrorCounts,
    /// The counters that only add up: late sends, reconnects, dropped warm-up requests, every
    /// response.
    pub counts: TargetCounts,
    /// Completion − intended send time (open loop); completion − send (closed loop).
    pub corrected: Histogram<u64>,
    /// Completion − actual send time.
    pub uncorrected: Histogram<u64>,
    /// Actual − intended send time (open loop only; empty in closed loop).
    pub send_lag: Histogram<u64>,
    /// Requests of the window never answered, each a lower bound of its wait: `unsent` ones
    /// from the intended send time to the end of the drain, `timeout` ones from the intended
    /// (closed loop: actual) send time to when they were given up.
    pub waited: Histogram<u64>,
    /// Complete responses by status code, expected or not.
    pub status_codes: BTreeMap<u16, u64>,
    /// gRPC calls by `grpc-status`, expected or not (a response without one counts as 2,
    /// `UNKNOWN`).
    pub grpc_status_codes: BTreeMap<u32, u64>,
    /// How this replica's connections were set up, over the whole load (warm-up included:
    /// most connections open then): see [`Setup`].
    pub setup: Setup,
    /// Per request of the mix, indexed like [`LoadConfig::requests`](super::LoadConfig::requests) (one entry for the
    /// default `GET`). Their `requests` and `errors` add up to this replica's.
    pub by_request: Vec<RequestStats>,
    /// Open loop with stages: per stage, in order, the requests intended in it. Their
    /// `requests`, `errors` and `late_sends` add up to this replica's. Empty without stages.
    pub by_stage: Vec<StageStats>,
}

impl TargetStats {
    /// Empty stats with histograms from [`numaload_proto::histogram::new_latency`], and no
    /// `by_request` entries ([`TargetStats::add`] makes room for those it adds).
    pub fn new(replica: u32) -> Self {
        Self {
            replica,
            requests: 0,
            errors: ErrorCounts::default(),
            counts: TargetCounts::default(),
            corrected: numaload_proto::histogram::new_latency(),
            uncorrected: numaload_proto::histogram::new_latency(),
            send_lag: numaload_proto::histogram::new_latency(),
            waited: numaload_proto::histogram::new_latency(),
            status_codes: BTreeMap::new(),
            grpc_status_codes: BTreeMap::new(),
            setup: Setup::new(),
            by_request: Vec::new(),
            by_stage: Vec::new(),
        }
    }

    /// Adds `other`'s counts and histograms into `self` (the replica number is kept).
    pub fn add(&mut self, other: &TargetStats) {
        self.requests += other.requests;
        self.errors.add(&other.errors);
        self.counts.add(&other.counts);
        for (total, part) in [
            (&mut self.corrected, &other.corrected),
            (&mut self.uncorrected, &other.uncorrected),
            (&mut self.send_lag, &other.send_lag),
            (&mut self.waited, &other.waited),
        ] {
            merge_latency(total, part);
        }
        for (&status, &count) in &other.status_codes {
            *self.status_codes.entry(status).or_default() += count;
        }
        for (&code, &count) in &other.grpc_status_codes {
            *self.grpc_status_codes.entry(code).or_default() += count;
        }
        self.setup.add(&other.setup);
        if self.by_request.len() < other.by_request.len() {
            self.by_request
                .resize_with(other.by_request.len(), RequestStats::new);
        }
        for (total, part) in self.by_request.iter_mut().zip(&other.by_request) {
            total.add(part);
        }
        if self.by_stage.len() < other.by_stage.len() {
            self.by_stage
                .resize_with(other.by_stage.len(), StageStats::new);
        }
        for (total, part) in self.by_stage.iter_mut().zip(&other.by_stage) {
            total.add(part);
        }
    }
}

/// Counts and latency histograms (nanoseconds) of the requests intended in one stage of an
/// open-loop run with stages: the replica's figures, split by when each request was meant to go
/// out.
#[derive(Debug, Clone)]
pub struct StageStats {
    /// As [`TargetStats::requests`].
    pub requests: u64,
    pub errors: ErrorCounts,
    /// As [`TargetCounts::late_sends`].
    pub late_sends: u64,
    pub corrected: Histogram<u64>,
    pub uncorrected: Histogram<u64>,
    /// As [`TargetStats::waited`].
    pub waited: Histogram<u64>,
}

impl StageStats {
    /// Empty, with histograms from [`numaload_proto::histogram::new_latency`].
    pub fn new() -> Self {
        Self {
            requests: 0,
            errors: ErrorCounts::default(),
            late_sends: 0,
            corrected: numaload_proto::histogram::new_latency(),
            uncorrected: numaload_proto::histogram::new_latency(),
            waited: numaload_proto::histogram::new_latency(),
        }
    }

    pub fn add(&mut self, other: &StageStats) {
        self.requests += other.requests;
        self.errors.add(&other.errors);
        self.late_sends += other.late_sends;
        merge_latency(&mut self.corrected, &other.corrected);
        merge_latency(&mut self.uncorrected, &other.uncorrected);
        merge_latency(&mut self.waited, &other.waited);
    }
}

impl Default for StageStats {
    fn default() -> Self {
        Self::new()
    }
}

/// How connections were set up (nanoseconds), as h2load reports them: each connection opened
/// while the load ran (the warm-up, the window, not the drain after it) is one value in
/// `connect` (the TCP connect), one in `tls_handshake` over TLS (from connected to the
/// handshake done), and one in `first_byte` (from the start of its connect to the first bytes
/// of its first response: the kernel's receive timestamp where responses are read late, see
/// `arrival.rs`). A connection that failed before a stage has no value there.
#[derive(Debug, Clone)]
pub struct Setup {
    pub connect: Histogram<u64>,
    pub tls_handshake: Histogram<u64>,
    pub first_byte: Histogram<u64>,
    /// TLS handshakes that resumed an earlier session (of `tls_handshake.len()`).
    pub resumed: u64,
}

impl Setup {
    pub fn new() -> Self {
        Self {
            connect: numaload_proto::histogram::new_latency(),
            tls_handshake: numaload_proto::histogram::new_latency(),
            first_byte: numaload_proto::histogram::new_latency(),
            resumed: 0,
        }
    }

    pub fn add(&mut self, other: &Setup) {
        merge_latency(&mut self.connect, &other.connect);
        merge_latency(&mut self.tls_handshake, &other.tls_handshake);
        merge_latency(&mut self.first_byte, &other.first_byte);
        self.resumed += other.resumed;
    }

    /// Sets the wire's setup fields of a worker's result for this replica.
    pub fn onto_wire(
        &self,
        out: &mut numaload_proto::v1::WorkerResult,
    ) -> Result<(), numaload_proto::histogram::HistogramError> {
        use numaload_proto::histogram::encode;
        let encoded = |h: &Histogram<u64>| {
            if h.is_empty() {
                Ok(Vec::new())
            } else {
                encode(h)
            }
        };
        out.connect_time = encoded(&self.connect)?;
        out.tls_handshake = encoded(&self.tls_handshake)?;
        out.first_byte = encoded(&self.first_byte)?;
        out.tls_resumed = self.resumed;
        Ok(())
    }
}

impl Default for Setup {
    fn default() -> Self {
        Self::new()
    }
}

/// Counts and corrected latency (nanoseconds) for one request of the mix.
#[derive(Debug, Clone)]
pub struct RequestStats {
    /// Responses with an expected status, as [`TargetStats::requests`].
    pub requests: u64,
    /// Failed exchanges of every kind while this request was the connection's next one (a
    /// failed connect included), as [`ErrorCounts::total`].
    pub errors: u64,
    /// As [`TargetStats::corrected`], for this request's successful responses only.
    pub corrected: Histogram<u64>,
    /// As [`TargetStats::waited`], for this request's unanswered ones.
    pub waited: Histogram<u64>,
}

impl RequestStats {
    /// Empty, with a histogram from [`numaload_proto::histogram::new_latency`].
    pub fn new() -> Self {
        Self {
            requests: 0,
            errors: 0,
            corrected: numaload_proto::histogram::new_latency(),
            waited: numaload_proto::histogram::new_latency(),
        }
    }

    pub fn add(&mut self, other: &RequestStats) {
        self.requests += other.requests;
        self.errors += other.errors;
        merge_latency(&mut self.corrected, &other.corrected);
        merge_latency(&mut self.waited, &other.waited);
    }
}

impl Default for RequestStats {
    fn default() -> Self {
        Self::new()
    }
}

fn merge_latency(total: &mut Histogram<u64>, part: &Histogram<u64>) {
    numaload_proto::histogram::merge_into(total, part)
        .expect("latency histograms share the same bounds, so merging cannot fail");
}

/// Failed exchanges by kind. A failed exchange is counted once, under the first thing that
/// went wrong.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ErrorCounts {
    /// TCP connect refused, unreachable or timed out (the request was not sent).
    pub connect: u64,
    /// Write or read failed, or the server closed the connection mid-exchange.
    pub io: u64,
    /// No complete response within `timeout` of the send.
    pub timeout: u64,
    /// A complete response whose status was not expected ([`LoadConfig::expect_status`](super::LoadConfig::expect_status), or
    /// any 2xx); the connection is kept.
    pub http_status: u64,
    /// A response that is not HTTP/1.x this generator can frame (a broken head or chunk
    /// framing, bytes after the response).
    pub parse: u64,
    /// Open loop: intended inside the measured window but not sent by the time it closed (the
    /// connection was still waiting for an earlier response, or could not connect in time);
    /// nothing new is sent after the close.
    pub unsent: u64,
    /// TLS failed: the handshake (refused, not done within `timeout`, a certificate that does
    /// not verify) or a record or alert during the exchange.
    pub tls: u64,
    /// HTTP/2: the server reset the request's stream (RST_STREAM other than REFUSED_STREAM,
    /// which is sent again, as the streams a GOAWAY did not take are).
    pub stream_reset: u64,
    /// A complete gRPC response whose `grpc-status` its request does not expect (or that has
    /// none); the connection is kept.
    pub grpc_status: u64,
}

/// Kinds of [`ErrorCounts`] an exchange can fail with before a response is complete (a
/// complete one with an unexpected status is told apart by [`WorkerStats::record`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ErrorKind {
    Connect,
    Io,
    Timeout,
    Parse,
    /// Open loop: intended inside the window, not sent by its close.
    Unsent,
    Tls,
    StreamReset,
}

/// The wire's error counts: the one place the agent names each kind for the wire.
impl From<ErrorCounts> for numaload_proto::v1::ErrorCounts {
    fn from(e: ErrorCounts) -> Self {
        Self {
            connect: e.connect,
            io: e.io,
            timeout: e.timeout,
            http_status: e.http_status,
            parse: e.parse,
            unsent: e.unsent,
            tls: e.tls,
            stream_reset: e.stream_reset,
            grpc_status: e.grpc_status,
        }
    }
}

impl ErrorCounts {
    /// The counter of `kind`.
    pub(super) fn count_mut(&mut self, kind: ErrorKind) -> &mut u64 {
        match kind {
            ErrorKind::Connect => &mut self.connect,
            ErrorKind::Io => &mut self.io,
            ErrorKind::Timeout => &mut self.timeout,
            ErrorKind::Parse => &mut self.parse,
            ErrorKind::Unsent => &mut self.unsent,
            ErrorKind::Tls => &mut self.tls,
            ErrorKind::StreamReset => &mut self.stream_reset,
        }
    }

    pub fn total(&self) -> u64 {
        self.connect
            + self.io
            + self.timeout
            + self.http_status
            + self.parse
            + self.unsent
            + self.tls
            + self.stream_reset
            + self.grpc_status
    }

    pub fn add(&mut self, other: &ErrorCounts) {
        self.connect += other.connect;
        self.io += other.io;
        self.timeout += other.timeout;
        self.http_status += other.http_status;
        self.parse += other.parse;
        self.unsent += other.unsent;
        self.tls += other.tls;
        self.stream_reset += other.stream_reset;
        self.grpc_status += other.grpc_status;
    }
}

/// A replica's counters, from one worker or added up: the counts that need nothing but adding.
/// One type from the counting (`stats.rs`) to the wire ([`TargetCounts::onto_wire`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TargetCounts {
    /// Requests sent more than [`LATE_SEND`](super::LATE_SEND) after their intended time (open
    /// loop).
    pub late_sends: u64,
    /// Open loop: warm-up send slots still unsent, more than [`LATE_SEND`](super::LATE_SEND)
    /// behind, when the window opened: dropped, so the window's own schedule goes out; never
    /// measured.
    pub warmup_dropped: u64,
    /// New connections opened because the server closed one after a complete response
    /// (`Connection: close`, HTTP/1.0, a body ended by the close). Not errors.
    pub reconnects: u64,
    /// Every complete response from this replica over the whole load (warm-up, window and the
    /// drain after it), measured or not: what the server's own request counter should show.
    pub responses_all: u64,
    /// HTTP/2: GOAWAY frames received (each closes its connection, which reconnects; the
    /// streams it did not take are sent again).
    pub goaways: u64,
    /// HTTP/2: requests whose body waited for the server's flow-control window.
    pub flow_blocked: u64,
}

impl TargetCounts {
    pub fn add(&mut self, other: &TargetCounts) {
        self.late_sends += other.late_sends;
        self.warmup_dropped += other.warmup_dropped;
        self.reconnects += other.reconnects;
        self.responses_all += other.responses_all;
        self.goaways += other.goaways;
        self.flow_blocked += other.flow_blocked;
    }

    /// Sets the wire's counter fields of a worker's result for this replica.
    pub fn onto_wire(&self, out: &mut numaload_proto::v1::WorkerResult) {
        out.late_sends = self.late_sends;
        out.warmup_dropped = self.warmup_dropped;
        out.reconnects = self.reconnects;
        out.responses_all = self.responses_all;
        out.goaways = self.goaways;
        out.flow_blocked = self.flow_blocked;
    }
}

/// A worker thread's own counters over the measured window: its CPU time, how each waiter spent
/// the time it did not work, and how its responses were timed. One type from the engine and
/// its waiters to the wire ([`ThreadCounts::onto_wire`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ThreadCounts {
    /// CPU time the worker thread used during the measured window (user + system; not the drain
    /// after it); compare with the window's length to see how busy the load CPU was.
    pub cpu_time: Duration,
    /// Closed loop: coalescing naps and their total asked-for length (asleep, not busy).
    pub naps: u64,
    pub napped: Duration,
    /// Closed loop: waits that busy-polled before reading or blocking, and the time so spent
    /// (busy: part of the worker's CPU time).
    pub spins: u64,
    pub spun: Duration,
    /// Open loop: busy-polls for a send time that found nothing else to do, and the time so
    /// spent (busy, but pacing, not work; see `pacer.rs`).
    pub paces: u64,
    pub paced: Duration,
    /// Open loop: waits in which the worker could sleep (each a wake-up when it did).
    pub wakeups: u64,
    /// Open loop: the window's responses timed by the kernel's receive timestamp (see
    /// `arrival.rs`; read up to the end of the drain, plus the few warm-up ones in flight at the
    /// window's open).
    pub stamped: u64,
}

impl ThreadCounts {
    /// Sets the wire's per-thread fields of a worker's result.
    pub fn onto_wire(&self, out: &mut numaload_proto::v1::WorkerResult) {
        let ns = |d: Duration| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        out.cpu_time_ns = ns(self.cpu_time);
        out.naps = self.naps;
        out.napped_ns = ns(self.napped);
        out.spins = self.spins;
        out.spun_ns = ns(self.spun);
        out.paces = self.paces;
        out.paced_ns = ns(self.paced);
        out.wakeups = self.wakeups;
        out.stamped = self.stamped;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merging_adds_counts_and_histograms() {
        let mut a = TargetStats::new(1);
        a.requests = 2;
        a.errors.io = 1;
        a.corrected.record(1_000).expect("in range");
        let mut b = TargetStats::new(1);
        b.requests = 3;
        b.errors.timeout = 2;
        b.counts.late_sends = 1;
        b.corrected.record(2_000).expect("in range");
        a.add(&b);
        assert_eq!(a.requests, 5);
        assert_eq!(a.errors.total(), 3);
        assert_eq!(a.counts.late_sends, 1);
        assert_eq!(a.corrected.len(), 2);
    }

    #[test]
    fn merging_adds_status_codes_reconnects_and_per_request_stats() {
        let mut a = TargetStats::new(0);
        a.status_codes = BTreeMap::from([(200, 5), (503, 1)]);
        a.counts.reconnects = 2;
        a.by_request = vec![RequestStats::new()];
        a.by_request[0].requests = 5;
        a.by_request[0].corrected.record(1_000).expect("in range");
        let mut b = TargetStats::new(0);
        b.status_codes = BTreeMap::from([(200, 1), (404, 3)]);
        b.counts.reconnects = 1;
        b.by_request = vec![RequestStats::new(), RequestStats::new()];
        b.by_request[0].requests = 1;
        b.by_request[0].corrected.record(3_000).expect("in range");
        b.by_request[1].errors = 4;
        let mut total = TargetStats::new(0);
        total.add(&a);
        total.add(&b);
        assert_eq!(
            total.status_codes,
            BTreeMap::from([(200, 6), (404, 3), (503, 1)])
        );
        assert_eq!(total.counts.reconnects, 3);
        assert_eq!(total.by_request.len(), 2);
        assert_eq!(total.by_request[0].requests, 6);
        assert_eq!(total.by_request[0].corrected.len(), 2);
        assert_eq!(total.by_request[1].errors, 4);
        assert_eq!(total.by_request[1].corrected.len(), 0);
    }
}
