//! Synchronized starts: the instant the controller gives each layout, on this agent's clock,
//! and to a load agent the replicas to drive.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use numaload_proto::v1::LoadTarget;

use crate::loadgen::Cancel;

/// A layout's start as the controller gave it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Start {
    /// When the warm-up begins, on this agent's clock (Unix ns).
    pub at_unix_ns: u64,
    /// A load agent's replicas to drive (other agents' replicas); empty for the others.
    pub targets: Vec<LoadTarget>,
}

/// Starts handed to a waiting run by the `Start` RPC, per layout name.
#[derive(Debug, Clone)]
pub struct StartSignal(tokio::sync::watch::Sender<Option<(String, Start)>>);

impl Default for StartSignal {
    fn default() -> Self {
        Self(tokio::sync::watch::channel(None).0)
    }
}

impl StartSignal {
    /// Records the start of `layout`.
    pub fn give(&self, layout: &str, start: Start) {
        self.0.send_replace(Some((layout.to_owned(), start)));
    }

    /// The start of `layout`, or `None` after `timeout` or on cancel.
    pub async fn wait_for(
        &self,
        layout: &str,
        timeout: Duration,
        cancel: &Cancel,
    ) -> Option<Start> {
        let mut rx = self.0.subscribe();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some((name, at)) = rx.borrow_and_update().clone() {
                if name == layout {
                    return Some(at);
                }
            }
            if cancel.is_cancelled() || tokio::time::Instant::now() >= deadline {
                return None;
            }
            // Wake on a new value, and at least every 50 ms to notice a cancel.
            let _ = tokio::time::timeout(Duration::from_millis(50), rx.changed()).await;
        }
    }
}

/// Nanoseconds since the Unix epoch on this host's clock.
pub fn unix_now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// Sleeps until a wall-clock instant (returns at once if it has passed). The timer wheel wakes
/// on whole milliseconds, late: it is asked to wake [`FINE_WAIT`] early, and the rest is waited
/// in short steps, so that agents given the same instant begin within a fraction of a
/// millisecond of each other.
pub async fn sleep_until_unix_ns(at: u64) {
    let now = unix_now_ns();
    let fine = FINE_WAIT.as_nanos() as u64;
    if at > now + fine {
        tokio::time::sleep(Duration::from_nanos(at - now - fine)).await;
    }
    // The short steps block this runtime worker for at most FINE_WAIT: handing them to another
    // thread would add that thread's wake-up back to this task after the instant, on every
    // agent, and the start would be later by it.
    loop {
        let now = unix_now_ns();
        if now >= at {
            return;
        }
        std::thread::sleep(Duration::from_nanos(at - now).min(FINE_STEP));
    }
}

/// How early the timer is asked to wake before a start instant.
const FINE_WAIT: Duration = Duration::from_millis(3);
/// The longest step of the fine wait.
const FINE_STEP: Duration = Duration::from_micros(100);
