//! An agent's clock relative to the controller's, estimated from one `Clock` exchange, and the
//! controller's own.

/// Nanoseconds since the Unix epoch on the controller's clock.
pub fn unix_now_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// An agent's clock relative to ours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClockEstimate {
    /// Agent clock minus controller clock.
    pub offset_ns: i64,
    pub round_trip_ns: u64,
}

/// The offset estimate from one exchange: sent and received on our clock, `agent_now` on theirs.
pub fn clock_estimate(sent: u64, agent_now: u64, received: u64) -> ClockEstimate {
    let round_trip_ns = received.saturating_sub(sent);
    let midpoint = sent as i128 + i128::from(round_trip_ns / 2);
    let offset = agent_now as i128 - midpoint;
    ClockEstimate {
        offset_ns: offset.clamp(i64::MIN as i128, i64::MAX as i128) as i64,
        round_trip_ns,
    }
}
