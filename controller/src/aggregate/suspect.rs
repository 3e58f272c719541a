//! Why a reader should not fully trust a layout's numbers (invariant 3 and friends), by the
//! rules of [`crate::trust`].

use crate::result::{LayoutResult, LayoutStatus};

use crate::trust::{generator_limited, KEPT_UP};
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
    // Open loop (send lag measured): the share of send slots that went out late.
    let late_share = result.send_lag_ns.as_ref().map(|_| {
        let slots = result.requests + result.errors;
        result.late_sends as f64 / slots.max(1) as f64
    });
    for w in result
        .load
        .workers
        .iter()
        .filter(|w| generator_limited(w.busy, w.spun, w.paced, w.napped, late_share))
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
    for r in &result.replicas {
        if let (Some(server), Some(generator)) = (r.server_requests, r.generator_responses) {
            if counts_disagree(server, generator) {
                out.push(format!(
                    "replica {} (pid {}): the server counted {} requests over the load, the \
                     generator {} responses ({:+.1}%): one of them miscounts",
                    r.index,
                    r.pid,
                    crate::units::thousands(server as f64),
                    crate::units::thousands(generator as f64),
                    100.0 * (server as f64 - generator as f64) / (generator.max(1) as f64)
                ));
            }
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

/// Whether a server's own request count and the generator's responses differ beyond
/// [`crate::trust::COUNT_TOLERANCE`] of the generator's, or a few requests (those in flight when
/// a counter was read).
pub fn counts_disagree(server: u64, generator: u64) -> bool {
    let slack =
        (crate::trust::COUNT_TOLERANCE * generator as f64).max(crate::trust::COUNT_SLACK as f64);
    server.abs_diff(generator) as f64 > slack
}

#[cfg(test)]
mod tests {
    use super::counts_disagree;

    #[test]
    fn counts_disagree_beyond_one_percent_or_a_few_requests() {
        let cases = [
            (1_000, 1_000, false),
            (1_010, 1_000, false),
            (1_011, 1_000, true),
            (990, 1_000, false),
            (989, 1_000, true),
            (8, 0, false),
            (11, 0, true),
            (20_000, 19_700, true),
            (19_900, 20_000, false),
        ];
        for (server, generator, disagree) in cases {
            assert_eq!(
                counts_disagree(server, generator),
                disagree,
                "{server} vs {generator}"
            );
        }
    }
}
