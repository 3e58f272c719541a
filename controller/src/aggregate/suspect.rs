//! Why a reader should not fully trust a layout's numbers (DESIGN invariant 3 and friends).

use crate::result::{LayoutResult, LayoutStatus};

/// A load worker busier than this may itself have limited the measurement (DESIGN invariant 3).
/// The share it spent busy-polling for responses (closed loop, no backlog at the server) is
/// waiting on the server, not work: it is taken out of `busy` before the comparison.
pub const SATURATED_BUSY: f64 = 0.85;
/// A closed-loop worker that spent at least this share of the measurement in coalescing naps
/// waited on the server, however busy it read: it naps only when it has nothing to read while
/// the server has a backlog, which a saturated generator never has.
pub const WAITED_ON_SERVER: f64 = 0.05;
/// Below this many requests the p99.9 is an extrapolation, and the report says so.
pub const MIN_REQUESTS_FOR_P999: u64 = 1_000;

/// Why a reader should not fully trust this layout's numbers.
pub(super) fn suspicions(result: &LayoutResult) -> Vec<String> {
    let mut out = Vec::new();
    if result.status == LayoutStatus::Degraded {
        out.push(
            "not every agent measured this layout: the figures cover only those that did"
                .to_owned(),
        );
    }
    if result.load.shares_cpus_with_replicas {
        out.push(format!(
            "the load generator shared CPU(s) {} with the replicas: the generator and the server \
             competed for them",
            numaload_proto::cpulist::format(&result.load.cpus)
        ));
    }
    for w in result
        .load
        .workers
        .iter()
        .filter(|w| w.busy - w.spun > SATURATED_BUSY && w.napped < WAITED_ON_SERVER)
    {
        out.push(format!(
            "load worker {} on CPU {}{} was {:.0}% busy: the generator may have limited the \
             measurement",
            w.worker,
            w.cpu,
            if result.agents.len() > 1 {
                format!(" of {}", w.agent)
            } else {
                String::new()
            },
            w.busy * 100.0
        ));
    }
    if let Some(rate) = result.target_rate_rps {
        let agents_measured = result
            .agents
            .iter()
            .filter(|a| a.status == LayoutStatus::Ok)
            .count()
            .max(1);
        // Every agent applies the plan's rate to its own replicas.
        let asked = rate * agents_measured as f64;
        if result.throughput_rps < asked * 0.99 {
            out.push(format!(
                "achieved {:.0} req/s of the {:.0} req/s asked: the target or the generator fell \
                 behind",
                result.throughput_rps, asked
            ));
        }
    }
    if result.requests < MIN_REQUESTS_FOR_P999 {
        out.push(format!(
            "only {} requests measured: p99.9 needs at least {MIN_REQUESTS_FOR_P999} to mean \
             anything",
            result.requests
        ));
    }
    out
}
