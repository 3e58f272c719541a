//! Synchronized starts: the instant the controller gives each layout, on this agent's clock.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::loadgen::Cancel;

/// Start instants handed to a waiting run by the `Start` RPC, per layout name.
#[derive(Debug, Clone)]
pub struct StartSignal(tokio::sync::watch::Sender<Option<(String, u64)>>);

impl Default for StartSignal {
    fn default() -> Self {
        Self(tokio::sync::watch::channel(None).0)
    }
}

impl StartSignal {
    /// Records the start instant (agent clock, Unix ns) for `layout`.
    pub fn give(&self, layout: &str, start_at_unix_ns: u64) {
        self.0
            .send_replace(Some((layout.to_owned(), start_at_unix_ns)));
    }

    /// The start instant for `layout`, or `None` after `timeout` or on cancel.
    pub async fn wait_for(&self, layout: &str, timeout: Duration, cancel: &Cancel) -> Option<u64> {
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

/// Sleeps until a wall-clock instant (returns at once if it has passed).
pub async fn sleep_until_unix_ns(at: u64) {
    let now = unix_now_ns();
    if at > now {
        tokio::time::sleep(Duration::from_nanos(at - now)).await;
    }
}
