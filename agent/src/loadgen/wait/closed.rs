//! Closed loop's wait: for responses. With a backlog at the server and nothing to read, nap
//! before blocking (the `Coalescer` says how long), so the server is not made to wake the
//! worker for every response; with no nap due, busy-poll a window the `Spinner` adapts before
//! blocking, so a response a few microseconds away is read without an idle CPU's wake-up.

use std::io;
use std::time::{Duration, Instant};

use mio::{Events, Poll};

use super::super::connection::Connection;
use super::super::driver::Driver;
use super::super::spin::Spinner;
use super::turn::{ThreadCounts, Turn};

#[derive(Debug)]
pub(in super::super) struct ClosedWait {
    spinner: Option<Spinner>,
    pub(super) counts: ThreadCounts,
}

impl ClosedWait {
    pub(super) fn new(spin: bool) -> Self {
        Self {
            spinner: spin.then(Spinner::default),
            counts: ThreadCounts::default(),
        }
    }

    pub(super) fn wait(
        &mut self,
        turn: Turn,
        driver: &mut Driver<'_>,
        connections: &[Connection],
        events: &mut Events,
    ) -> io::Result<()> {
        // Poll's own (millisecond) timeout is precise enough for scans.
        let timeout = Some(turn.wake.saturating_duration_since(turn.now));
        let nap = driver.coalescer.as_ref().map_or(Duration::ZERO, |c| {
            c.nap(|| connections.iter().filter(|c| c.in_exchange()).count())
        });
        if !nap.is_zero() {
            // A backlog at the server: read what is there; if nothing is, nap, then block.
            driver.poll.poll(events, Some(Duration::ZERO))?;
            if !events.is_empty() {
                return Ok(());
            }
            nap_for(nap);
            if turn.measuring {
                self.counts.naps += 1;
                self.counts.napped += nap;
            }
            return driver.poll.poll(events, timeout);
        }
        let Some(spinner) = &mut self.spinner else {
            return driver.poll.poll(events, timeout);
        };
        let (polled, spin) = wait_spinning(driver.poll, events, timeout, spinner);
        if turn.measuring && !spin.is_zero() {
            self.counts.spins += 1;
            self.counts.spun += spin;
        }
        polled
    }
}

/// Busy-polls for the spinner's window, then blocks up to `timeout`, and tells the spinner how
/// long the wait for events was. Returns the poll's outcome and the time spent spinning (zero
/// when there was something to read at once or no window).
fn wait_spinning(
    poll: &mut Poll,
    events: &mut Events,
    timeout: Option<Duration>,
    spinner: &mut Spinner,
) -> (io::Result<()>, Duration) {
    let start = Instant::now();
    let window = spinner.window();
    let mut spun = Duration::ZERO;
    if !window.is_zero() {
        loop {
            if let Err(e) = poll.poll(events, Some(Duration::ZERO)) {
                return (Err(e), spun);
            }
            let waited = start.elapsed();
            if !events.is_empty() {
                spinner.observe(waited);
                // Something to read at the first look is no spin.
                let spin = if spun.is_zero() { spun } else { waited };
                return (Ok(()), spin);
            }
            spun = waited;
            if waited >= window {
                break;
            }
        }
    }
    let polled = poll.poll(events, timeout);
    spinner.observe(if events.is_empty() {
        Duration::MAX
    } else {
        start.elapsed()
    });
    (polled, spun)
}

/// A sleep that no socket event ends (it is not `epoll_wait`).
fn nap_for(d: Duration) {
    let _ = nix::time::clock_nanosleep(
        nix::time::ClockId::CLOCK_MONOTONIC,
        nix::time::ClockNanosleepFlags::empty(),
        &nix::sys::time::TimeSpec::from_duration(d),
    );
}
