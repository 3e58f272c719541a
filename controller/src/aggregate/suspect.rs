//! Why a reader should not fully trust a layout's numbers (invariant 3 and friends), by the
//! rules of [`crate::trust`].

use crate::result::{LayoutResult, LayoutStatus};

use crate::trust::KEPT_UP;
pub use crate::trust::{MIN_REQUESTS_FOR_P999, SATURATED_BUSY, WAITED_ON_SERVER};

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
        if result.throughput_rps < asked * KEPT_UP {
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
