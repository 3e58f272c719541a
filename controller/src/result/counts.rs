//! A layout's counters that only add up ([`Counts`]): over workers and agents from the wire
//! ([`Counts::absorb`]) and over trials ([`Counts::add`]). Flattened into the layout's result, so
//! each is a field of the layout in the result file.

use numaload_proto::v1::WorkerResult;
use serde::{Deserialize, Serialize};

use super::defaults::is_zero;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Open loop: sends more than 1 ms behind their intended time.
    #[serde(default)]
    pub late_sends: u64,
    /// Connections opened again because the server closed one after a response (not errors).
    #[serde(default)]
    pub reconnects: u64,
    /// Open loop: warm-up requests still unsent when the window opened, dropped so that the
    /// window's own schedule went out (the server was behind before the measurement began).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub warmup_dropped: u64,
    /// HTTP/2: GOAWAY frames received (each connection reconnected; the streams a GOAWAY did
    /// not take were sent again).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub goaways: u64,
    /// HTTP/2: requests whose body waited for the server's flow-control window.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub flow_blocked: u64,
}

impl Counts {
    /// Adds one worker's counters for one replica: the one place the controller reads them from
    /// the wire.
    pub fn absorb(&mut self, w: &WorkerResult) {
        self.late_sends += w.late_sends;
        self.reconnects += w.reconnects;
        self.warmup_dropped += w.warmup_dropped;
        self.goaways += w.goaways;
        self.flow_blocked += w.flow_blocked;
    }

    pub fn add(&mut self, other: &Counts) {
        self.late_sends += other.late_sends;
        self.reconnects += other.reconnects;
        self.warmup_dropped += other.warmup_dropped;
        self.goaways += other.goaways;
        self.flow_blocked += other.flow_blocked;
    }
}

#[cfg(test)]
mod tests {
    use super::Counts;

    #[test]
    fn counts_are_the_layout_s_own_fields_in_the_result_file() {
        let counts = Counts {
            late_sends: 3,
            reconnects: 2,
            warmup_dropped: 0,
            goaways: 0,
            flow_blocked: 0,
        };
        let json = serde_json::to_value(counts).expect("serializes");
        assert_eq!(json, serde_json::json!({"late_sends": 3, "reconnects": 2}));
        let read: Counts = serde_json::from_str("{}").expect("a result without them reads");
        assert_eq!(read, Counts::default());
    }
}
