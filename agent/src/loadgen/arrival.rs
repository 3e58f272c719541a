//! When a response arrived, as the kernel saw it: receive timestamps (`SO_TIMESTAMPNS`) on
//! the open loop's connections, so a worker can read responses late, in batches at the
//! wake-ups it makes for its sends, and still time each one to the microsecond.
//!
//! Why: in open loop the generator's cost is mostly per wake-up: a timer sleep and its wake
//! cost the thread several times what a request's write, read and record do (BENCHMARKS.md has
//! the figures), and reading every response when it comes takes one wake-up per response on
//! top of the wake-ups for the sends. With the kernel's timestamp the read may
//! wait: the timestamp is taken when the response's last segment reached the socket (for TCP,
//! the kernel reports the newest segment consumed by the read, `tcp_recv_timestamp`), before
//! any of the generator's own wake-up latency, which a read-time clock would add to every
//! latency measured.
//!
//! The timestamp is `CLOCK_REALTIME`; the worker's clock is `Instant` (`CLOCK_MONOTONIC`).
//! [`ArrivalClock`] holds one pair of readings of both, taken back to back and renewed every
//! scan (10 ms), and converts; a converted time is clamped between the request's send and the
//! read, so a step of the wall clock between two renewals can never make a latency negative or
//! larger than the read-time one.

use std::io::{self, IoSliceMut};
use std::os::fd::{AsFd, AsRawFd};
use std::time::{Duration, Instant, SystemTime};

use mio::net::TcpStream;
use nix::sys::socket::{recvmsg, setsockopt, sockopt, ControlMessageOwned, MsgFlags, UnixAddr};
use nix::sys::time::TimeSpec;

/// Responses in a row that must come with their timestamp before reading may be late: the
/// first segments of a run can arrive before the kernel has turned stamping on (it does so
/// for the whole host, deferred to a work queue, when the first socket asks).
const TRUST_AFTER: u64 = 16;

/// A response larger than this (an eighth of the receive buffer a generator's socket has)
/// turns reading late off for the worker.
const LARGE_RESPONSE_BYTES: usize = 64 * 1024;

/// Response times from the kernel's receive timestamps (see `arrival`).
#[derive(Debug)]
pub(super) struct Arrivals {
    clock: ArrivalClock,
    control: Vec<u8>,
    /// Responses timed by their kernel timestamp, and those that came without one (timed at
    /// the read instead).
    pub(super) stamped: u64,
    pub(super) unstamped: u64,
    /// Stamped responses since the last one without a stamp.
    streak: u64,
    /// A response of more than [`LARGE_RESPONSE_BYTES`] was seen. One read late would hold
    /// the server up once the socket's receive buffer (512 KiB, `socket.rs`) is full, and the
    /// stamp of its last bytes with it; so from then on the worker reads as responses come.
    large: bool,
}

impl Arrivals {
    pub(super) fn new() -> Self {
        Self {
            clock: ArrivalClock::now(),
            control: control_buffer(),
            stamped: 0,
            unstamped: 0,
            streak: 0,
            large: false,
        }
    }

    /// Renews the clock pair (every scan), so a slewed wall clock stays in step.
    pub(super) fn renew(&mut self) {
        self.clock = ArrivalClock::now();
    }

    /// Whether responses may be read late: the last [`TRUST_AFTER`] came with their timestamp
    /// (one without, or a socket that cannot be stamped, sets the count back to zero), and none
    /// has been large.
    pub(super) fn may_read_late(&self) -> bool {
        self.streak >= TRUST_AFTER && !self.large
    }

    /// Notes the size of a response read (or being read): a large one makes reading eager for
    /// the rest of the run.
    pub(super) fn sized(&mut self, bytes: usize) {
        self.large |= bytes > LARGE_RESPONSE_BYTES;
    }

    /// A reader of `stream` that keeps the kernel's timestamp of what it reads.
    pub(super) fn reader<'a>(&'a mut self, stream: &'a TcpStream) -> StampedRead<'a> {
        StampedRead::new(stream, &mut self.control)
    }

    /// When a response sent at `sent` and read at `read_at` arrived: its `stamp`, or (without
    /// one) the read; counted either way.
    pub(super) fn arrived(
        &mut self,
        stamp: Option<Duration>,
        sent: Instant,
        read_at: Instant,
    ) -> Instant {
        self.timed(stamp.is_some());
        stamp.map_or(read_at, |stamp| self.clock.instant(stamp, sent, read_at))
    }

    /// Counts a response, timed by its stamp or (without one) at the read.
    pub(super) fn timed(&mut self, stamped: bool) {
        if stamped {
            self.stamped += 1;
            self.streak += 1;
        } else {
            self.unstamped += 1;
            self.streak = 0;
        }
    }
}

/// Asks the kernel to stamp what `socket` receives.
pub(super) fn enable(socket: &impl AsFd) -> io::Result<()> {
    setsockopt(socket, sockopt::ReceiveTimestampns, &true)?;
    Ok(())
}

/// One pair of clock readings, to turn a kernel (wall-clock) timestamp into an `Instant`.
#[derive(Debug, Clone, Copy)]
pub(super) struct ArrivalClock {
    mono: Instant,
    /// The wall clock at `mono`, since the Unix epoch.
    wall: Duration,
}

impl ArrivalClock {
    /// Reads both clocks; the monotonic one twice, around the wall clock, and takes the middle.
    pub(super) fn now() -> Self {
        let before = Instant::now();
        let wall = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default();
        let after = Instant::now();
        Self {
            mono: before + after.saturating_duration_since(before) / 2,
            wall,
        }
    }

    /// The `Instant` of the wall-clock time `stamp`, clamped to `earliest..=latest`.
    pub(super) fn instant(&self, stamp: Duration, earliest: Instant, latest: Instant) -> Instant {
        let at = match stamp.checked_sub(self.wall) {
            Some(after) => self.mono.checked_add(after),
            None => self.mono.checked_sub(self.wall - stamp),
        };
        at.unwrap_or(latest).clamp(earliest, latest.max(earliest))
    }
}

/// A read of a stamped socket that keeps the timestamp of its last read that returned bytes.
pub(super) struct StampedRead<'a> {
    stream: &'a TcpStream,
    /// Room for one control message (a `timespec`), reused across reads.
    control: &'a mut Vec<u8>,
    /// The kernel's timestamp of the newest bytes read so far (wall clock, since the epoch).
    pub(super) stamp: Option<Duration>,
}

impl<'a> StampedRead<'a> {
    pub(super) fn new(stream: &'a TcpStream, control: &'a mut Vec<u8>) -> Self {
        Self {
            stream,
            control,
            stamp: None,
        }
    }
}

/// A control-message buffer for [`StampedRead`].
pub(super) fn control_buffer() -> Vec<u8> {
    nix::cmsg_space!(TimeSpec)
}

impl io::Read for StampedRead<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut iov = [IoSliceMut::new(buf)];
        let received = recvmsg::<UnixAddr>(
            self.stream.as_raw_fd(),
            &mut iov,
            Some(self.control.as_mut_slice()),
            MsgFlags::empty(),
        )?;
        let bytes = received.bytes;
        if bytes > 0 {
            for message in received.cmsgs().into_iter().flatten() {
                if let ControlMessageOwned::ScmTimestampns(ts) = message {
                    self.stamp = Some(Duration::from(ts));
                }
            }
        }
        Ok(bytes)
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::TcpListener;
    use std::thread::sleep;

    use super::*;

    #[test]
    fn a_late_read_is_timed_when_the_bytes_arrived_not_when_they_were_read() {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let std_stream =
            std::net::TcpStream::connect(listener.local_addr().expect("addr")).expect("connect");
        let (mut server, _) = listener.accept().expect("accept");
        let stream = TcpStream::from_std(std_stream);
        enable(&stream).expect("SO_TIMESTAMPNS");
        let mut control = control_buffer();
        // The kernel turns stamping on for the host in a work queue after the first socket
        // asks: segments before that come unstamped.
        let mut buf = [0u8; 64];
        let stamping = (0..100).any(|_| {
            server.write_all(b"x").expect("write");
            sleep(Duration::from_millis(2));
            let mut read = StampedRead::new(&stream, &mut control);
            assert_eq!(read.read(&mut buf).expect("read"), 1);
            read.stamp.is_some()
        });
        assert!(stamping, "no segment stamped in 100 tries");
        for _ in 0..3 {
            let clock = ArrivalClock::now();
            let before = Instant::now();
            server.write_all(b"HTTP/1.1 200 OK\r\n\r\n").expect("write");
            let after = Instant::now();
            sleep(Duration::from_millis(30));
            let mut read = StampedRead::new(&stream, &mut control);
            assert_eq!(read.read(&mut buf).expect("read"), 19);
            let read_at = Instant::now();
            let stamp = read.stamp.expect("the kernel stamped the segment");
            let arrived = clock.instant(stamp, before - Duration::from_secs(1), read_at);
            // Stamped between the write's start and end (plus scheduling slack), 30 ms before
            // the read; a read-time clock would say `read_at`.
            assert!(arrived >= before, "{:?} before the write", before - arrived);
            assert!(
                arrived <= after + Duration::from_millis(5),
                "stamped {:?} after the write returned",
                arrived - after
            );
            assert!(read_at - arrived >= Duration::from_millis(25));
        }
    }

    #[test]
    fn reading_late_waits_for_a_run_of_stamped_responses_and_stops_at_a_large_one() {
        let mut arrivals = Arrivals::new();
        let (sent, read_at) = (Instant::now(), Instant::now() + Duration::from_millis(1));
        let stamp = Some(arrivals.clock.wall);
        for _ in 0..TRUST_AFTER - 1 {
            arrivals.arrived(stamp, sent, read_at);
        }
        assert!(
            !arrivals.may_read_late(),
            "{TRUST_AFTER} stamped in a row needed"
        );
        arrivals.arrived(None, sent, read_at);
        for _ in 0..TRUST_AFTER - 1 {
            arrivals.arrived(stamp, sent, read_at);
        }
        assert!(
            !arrivals.may_read_late(),
            "an unstamped one starts the count again"
        );
        assert_eq!(
            arrivals.arrived(None, sent, read_at),
            read_at,
            "timed at the read"
        );
        for _ in 0..TRUST_AFTER {
            arrivals.arrived(stamp, sent, read_at);
        }
        assert!(arrivals.may_read_late());
        assert_eq!(
            (arrivals.stamped, arrivals.unstamped),
            (3 * TRUST_AFTER - 2, 2)
        );
        arrivals.sized(LARGE_RESPONSE_BYTES);
        assert!(arrivals.may_read_late());
        arrivals.sized(LARGE_RESPONSE_BYTES + 1);
        assert!(
            !arrivals.may_read_late(),
            "a large response: eager from then on"
        );
        arrivals.sized(10);
        assert!(!arrivals.may_read_late());
    }

    #[test]
    fn a_read_without_bytes_carries_no_stamp_and_conversion_is_clamped() {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let std_stream =
            std::net::TcpStream::connect(listener.local_addr().expect("addr")).expect("connect");
        std_stream.set_nonblocking(true).expect("nonblocking");
        let stream = TcpStream::from_std(std_stream);
        enable(&stream).expect("SO_TIMESTAMPNS");
        let mut control = control_buffer();
        let mut read = StampedRead::new(&stream, &mut control);
        let err = read.read(&mut [0u8; 8]).expect_err("nothing to read");
        assert_eq!(err.kind(), io::ErrorKind::WouldBlock);
        assert_eq!(read.stamp, None);

        let clock = ArrivalClock::now();
        let (earliest, latest) = (clock.mono, clock.mono + Duration::from_millis(1));
        // A wall clock stepped far back or forth lands on the bounds, never outside.
        assert_eq!(clock.instant(Duration::ZERO, earliest, latest), earliest);
        let far = clock.wall + Duration::from_secs(3600);
        assert_eq!(clock.instant(far, earliest, latest), latest);
        let inside = clock.wall + Duration::from_micros(500);
        assert_eq!(
            clock.instant(inside, earliest, latest),
            clock.mono + Duration::from_micros(500)
        );
    }
}
