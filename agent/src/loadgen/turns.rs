//! A worker's loop through the run's phases, the same for both protocols ([`run`]): each turn
//! moves the [`Phases`] on by the clock; ends when cancelled or drained (the protocol closing
//! out what is left: `timeout` for what is out, `unsent` for each send slot of the window, then
//! the waits settled); scans deadlines every [`SCAN`] (at once when the drain begins, to settle
//! the connections that wait for nothing) and feeds the live view; sends what is due; waits;
//! dispatches what became ready. What each step does is the protocol's ([`Turns`]: HTTP/1.1's
//! in `engine.rs`, HTTP/2's in `h2/engine.rs`), called without dynamic dispatch.

use std::io;
use std::time::Instant;

use mio::{Events, Token};

use super::config::Cancel;
use super::phase::{thread_cpu_time, Phase, Phases, SCAN};
use super::stats::WorkerStats;
use super::wait::Turn;

/// What a protocol does at each step of a turn.
pub(super) trait Turns {
    /// The worker's counters.
    fn stats(&mut self) -> &mut WorkerStats;

    /// The clock moved the run on to `phase` at `now`.
    fn entered(&mut self, _phase: Phase, _now: Instant) {}

    /// Whether anything of the window is still to come (the drain waits for it).
    fn busy(&self) -> bool;

    /// The drain is over at `now`: every request of the window still without an outcome gets
    /// one.
    fn close_out(&mut self, now: Instant);

    /// Passed deadlines acted on at `now`.
    fn scan(&mut self, now: Instant);

    /// Sends what is due; returns whether it sent anything.
    fn send_due(&mut self) -> bool;

    /// Waits as the mode does, until something is ready or `turn.wake`; `events` holds what
    /// is ready. An `Interrupted` error asks for another turn; any other ends the worker.
    fn wait(&mut self, turn: Turn, events: &mut Events) -> io::Result<()>;

    /// The poller says `token` is ready.
    fn dispatch(&mut self, token: Token);
}

/// Drives `turns` through warm-up, the measured window and the drain after it (or until
/// cancelled), then hands the live view the last of what was recorded.
pub(super) fn run(
    turns: &mut impl Turns,
    phases: &mut Phases,
    cancel: &Cancel,
    events: &mut Events,
) {
    let mut next_scan = Instant::now();
    loop {
        let began = Instant::now();
        if let Some(phase) = phases.advance(began, thread_cpu_time) {
            if phase == Phase::Draining {
                next_scan = began;
            }
            turns.entered(phase, began);
        }
        if cancel.is_cancelled() {
            break;
        }
        if phases.drained(began, || turns.busy()) {
            turns.close_out(began);
            turns.stats().settle(began);
            break;
        }
        if began >= next_scan {
            turns.scan(began);
            turns.stats().flush_live(began, false);
            next_scan = began + SCAN;
        }
        let sent = turns.send_due();
        let turn = Turn {
            began,
            now: if sent { Instant::now() } else { began },
            wake: next_scan.min(phases.ends_at()),
            measuring: phases.measuring(),
            draining: phases.phase() == Phase::Draining,
            sent,
        };
        match turns.wait(turn, events) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            // epoll_wait fails only on a bad descriptor or buffer, which mio rules out; end
            // the worker rather than spin on it.
            Err(_) => break,
        }
        for event in events.iter() {
            turns.dispatch(event.token());
        }
    }
    phases.finish();
    turns.stats().flush_live(Instant::now(), true);
}
