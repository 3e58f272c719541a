//! What a run tells the terminal while it goes: phases, notices and live figures per agent.

/// A progress report for the terminal.
#[derive(Debug, Clone, PartialEq)]
pub enum Progress {
    /// `agent` entered `phase` of `layout`.
    Phase {
        agent: String,
        layout: String,
        phase: String,
    },
    /// Something the user should see at once (a failure, a lost agent, a cancel).
    Notice(String),
    /// About once a second while measuring: requests the agent's replicas have answered so far
    /// and the worst replica's own p99 handler time over the last second (server-side, from
    /// their /metrics; a live hint, not a reported figure).
    Live {
        agent: String,
        layout: String,
        requests: u64,
        worst_server_p99_ns: Option<u64>,
    },
    /// About once a second while measuring: what the agent's load generator measured over the
    /// last interval (response rate and p99, corrected in open loop; a live hint, the reported
    /// figures come from the merged histograms).
    Load {
        agent: String,
        layout: String,
        rate_rps: f64,
        p99_ns: Option<u64>,
        /// With `[[load.stages]]`: the stage running (from 1) and the rate it asks of this
        /// agent now.
        stage: Option<(u32, f64)>,
    },
}
