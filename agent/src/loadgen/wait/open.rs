//! Open loop's wait: for the next send time, as the pacer says (sleep on its timer, or
//! busy-poll the last stretch), reading responses late at the wake-ups the sends make unless a
//! connection is owed a look (see the module doc of `loadgen`).

use std::io;
use std::time::Duration;

use mio::{Events, Poll};

use super::super::config::LoadConfig;
use super::super::connection::Connection;
use super::super::driver::Driver;
use super::super::pacer::{Pacer, Wait};
use super::turn::{ThreadCounts, Turn, TIMER};

#[derive(Debug)]
pub(in super::super) struct OpenWait {
    pacer: Pacer,
    pub(super) counts: ThreadCounts,
}

impl OpenWait {
    pub(super) fn new(config: &LoadConfig, poll: &Poll) -> io::Result<Self> {
        Ok(Self {
            pacer: Pacer::new(poll.registry(), TIMER)?.precise_to(config.send_precision),
            counts: ThreadCounts::default(),
        })
    }

    pub(super) fn timer_fired(&mut self, now: std::time::Instant) {
        self.pacer.fired(now);
    }

    pub(super) fn wait(
        &mut self,
        turn: Turn,
        driver: &mut Driver<'_>,
        connections: &[Connection],
        events: &mut Events,
    ) -> io::Result<()> {
        let Turn { now, wake, .. } = turn;
        let mut next_due = driver.due.peek().map(|&std::cmp::Reverse((due, _))| due);
        // Read responses late, at the wake-ups the sends make (timed by the kernel, see
        // `arrival`), unless a connection needs a look now (it waits on a response past its
        // next send slot, or a half-done exchange or connect) or the window has closed (the
        // drain reads as responses come).
        let attention = driver.attention_due(connections);
        let owed_now = attention.is_some_and(|at| at <= now);
        if let Some(at) = attention.filter(|_| !owed_now) {
            next_due = Some(next_due.map_or(at, |due| due.min(at)));
        }
        let lazy = !owed_now
            && !turn.draining
            && driver.arrivals.as_ref().is_some_and(|a| a.may_read_late());
        let (timeout, pacing) = match self.pacer.wait(now, next_due, wake) {
            Ok(Wait::Spin) => (Some(Duration::ZERO), true),
            // The timer will wake the poller.
            Ok(Wait::Block) => (None, false),
            // The timer cannot be armed: wait no longer than the next send (poll's own
            // millisecond timeout, so sends are up to a millisecond late) rather than stop.
            Err(_) => {
                let until = next_due.unwrap_or(wake).min(wake);
                (Some(until.saturating_duration_since(now)), false)
            }
        };
        if turn.measuring && timeout.is_none_or(|t| !t.is_zero()) {
            self.counts.wakeups += 1;
        }
        if lazy && timeout.is_none() {
            // The timer alone wakes the thread; then whatever is readable is read. `poll` on
            // one timerfd fails only on a bad descriptor or buffer (it retries
            // interruptions): the worker ends, as for `epoll_wait`.
            self.pacer.sleep()?;
            return driver.poll.poll(events, Some(Duration::ZERO));
        }
        let polled = driver.poll.poll(events, timeout);
        // A turn that only looked at the clock and found nothing to read or send was spent
        // waiting for a send time.
        if pacing && turn.measuring && !turn.sent && events.is_empty() {
            self.counts.paces += 1;
            self.counts.paced += turn.began.elapsed();
        }
        polled
    }
}
