//! Why a reader should not fully trust a layout's numbers (invariant 3 and friends), by the
//! rules of [`crate::trust`].

use super::collect::LayoutEvents;
use crate::plan::{Layout, Memory, Pin, Replicas};
use crate::result::{LayoutResult, LayoutStatus};

use crate::trust::{asked_rate, generator_limited};
pub use crate::trust::{MIN_REQUESTS_FOR_P999, SATURATED_BUSY, WAITED_ON_SERVER};

/// Why a reader should not fully trust this layout's numbers.
/// `drawn`: the window's sends were drawn at random (Poisson arrivals), so the rate asked of it
/// is what the schedules drew ([`asked_rate`]).
pub(super) fn suspicions(result: &LayoutResult, drawn: bool) -> Vec<String> {
    let mut out = Vec::new();
    if result.status == LayoutStatus::Degraded {
        out.push(
            "not every agent measured this layout: the figures cover only those that did"
                .to_owned(),
        );
    }
    match result.delivery {
        Some(delivery) if !delivery.met() => out.push(undelivered(result, delivery)),
        // Delivered in all, but some agents fell short: the total hides them.
        Some(_)
            if result
                .agents
                .iter()
                .any(|a| a.delivery.is_some_and(|d| !d.met())) =>
        {
            out.push(format!(
                "the fleet delivered its load in all, but not every agent did{}",
                short_agents(result)
            ))
        }
        _ => {}
    }
    if result.counts.warmup_dropped > 0 {
        out.push(format!(
            "{} warm-up requests were still unsent when the window opened and were dropped: the \
             target or the generator was already behind before the measurement began",
            crate::units::thousands(result.counts.warmup_dropped as f64)
        ));
    }
    let several = result.agents.len() > 1;
    let misplaced: Vec<String> = result
        .replicas
        .iter()
        .filter(|r| !r.placement_ok || !r.mismatches_at_end.is_empty())
        .map(|r| {
            let on = if several {
                format!(" on {}", r.agent)
            } else {
                String::new()
            };
            format!("{} (pid {}{on})", r.index, r.pid)
        })
        .collect();
    if !misplaced.is_empty() {
        out.push(format!(
            "replica {} did not run where it was placed (see the placement mismatches)",
            listed(&misplaced)
        ));
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
        result.counts.late_sends as f64 / slots.max(1) as f64
    });
    out.extend(busy_workers(result, late_share, several));
    if let Some(rate) = result.target_rate_rps {
        // What the agents that measured were asked: each its own rate (an agent under test its
        // plan's, a load agent its share); one that drove no load was asked nothing.
        let measured = || result.agents.iter().filter(|a| a.status.measured());
        let asked = if measured().any(|a| a.asked_rate_rps.is_some()) {
            measured().filter_map(|a| a.asked_rate_rps).sum()
        } else {
            rate
        };
        let asked = asked_rate(
            asked,
            drawn,
            result.delivery.map(|d| d.intended),
            result.elapsed_s,
        );
        out.extend(super::kept_up::shortfall(result, asked));
    }
    out.extend(miscounts(result, several));
    out
}

/// The load workers busy enough to have limited the measurement (invariant 3), the busiest
/// first; a fleet's many in one reason.
fn busy_workers(result: &LayoutResult, late_share: Option<f64>, several: bool) -> Vec<String> {
    let mut busy: Vec<&crate::result::LoadWorker> = result
        .load
        .workers
        .iter()
        .filter(|w| generator_limited(w.busy, w.spun, w.paced, w.napped, late_share))
        .collect();
    busy.sort_by(|a, b| b.busy.total_cmp(&a.busy));
    let worker = |w: &crate::result::LoadWorker| {
        let of = if several {
            format!(" of {}", w.agent)
        } else {
            String::new()
        };
        format!(
            "load worker {} on CPU {}{of} was {:.0}% busy",
            w.worker,
            w.cpu,
            w.busy * 100.0
        )
    };
    if busy.len() > LISTED {
        let named: Vec<String> = busy.iter().map(|w| worker(w)).collect();
        vec![format!(
            "{} load workers were busy enough to have limited the measurement: {}",
            busy.len(),
            listed(&named)
        )]
    } else {
        busy.into_iter()
            .map(|w| {
                format!(
                    "{}: the generator may have limited the measurement",
                    worker(w)
                )
            })
            .collect()
    }
}

/// The replicas whose server counted otherwise than the generator; a fleet's many in one
/// reason.
fn miscounts(result: &LayoutResult, several: bool) -> Vec<String> {
    let miscounted: Vec<String> = result
        .replicas
        .iter()
        .filter_map(|r| {
            let (server, generator) = (r.server_requests?, r.generator_responses?);
            counts_disagree(server, generator).then(|| {
                format!(
                    "replica {} (pid {}{}): the server counted {} requests over the load, the \
                     generator {} responses ({:+.1}%)",
                    r.index,
                    r.pid,
                    if several {
                        format!(" on {}", r.agent)
                    } else {
                        String::new()
                    },
                    crate::units::thousands(server as f64),
                    crate::units::thousands(generator as f64),
                    100.0 * (server as f64 - generator as f64) / (generator.max(1) as f64)
                )
            })
        })
        .collect();
    if miscounted.len() > LISTED {
        vec![format!(
            "{} replicas' servers and the generator disagree on their count: {}; one of them \
             miscounts",
            miscounted.len(),
            listed(&miscounted)
        )]
    } else {
        miscounted
            .into_iter()
            .map(|m| format!("{m}: one of them miscounts"))
            .collect()
    }
}

/// The agents that did not run, or were not heard, while they measured: each with what showed
/// it (its live reports far apart, its replicas' samples paused, the controller hearing nothing
/// from it), one reason for them all, the first few named when many.
pub(super) fn stalls<'a>(agents: impl Iterator<Item = (&'a str, &'a LayoutEvents)>) -> Vec<String> {
    use crate::trust::{
        SILENT_WHILE_MEASURING_NS, STALLED_LIVE_INTERVAL_MS, STALLED_SAMPLE_GAP_MS,
    };
    let mut out = Vec::new();
    for (agent, events) in agents {
        let mut signs = Vec::new();
        if events.longest_live_interval_ms >= STALLED_LIVE_INTERVAL_MS {
            signs.push(format!(
                "its live reports came {:.1} s apart (every second when it runs)",
                events.longest_live_interval_ms as f64 / 1e3
            ));
        }
        let gap = sample_gap_ms(&events.samples);
        if gap >= STALLED_SAMPLE_GAP_MS {
            signs.push(format!(
                "its samples of a replica paused {:.1} s (every 0.1 s when it runs)",
                gap as f64 / 1e3
            ));
        }
        if events.longest_silence_ns >= SILENT_WHILE_MEASURING_NS {
            signs.push(format!(
                "the controller heard nothing from it for {:.1} s",
                events.longest_silence_ns as f64 / 1e9
            ));
        }
        if !signs.is_empty() {
            out.push(format!("{agent} ({})", signs.join("; ")));
        }
    }
    if out.is_empty() {
        return out;
    }
    vec![format!(
        "{} did not run or was not heard from while measuring: {}: stopped, starved of CPU, cut \
         off or slowed, so its figures may include its own stall (the corrected latency counts a \
         generator's stall as the server's)",
        if out.len() == 1 {
            "an agent".to_owned()
        } else {
            format!("{} agents", out.len())
        },
        listed(&out)
    )]
}

/// The longest pause between two consecutive samples of one replica, ms.
fn sample_gap_ms(samples: &[numaload_proto::v1::ThreadSample]) -> u64 {
    let mut by_replica: std::collections::BTreeMap<u32, Vec<u64>> = Default::default();
    for s in samples {
        by_replica.entry(s.replica).or_default().push(s.t_ms);
    }
    by_replica
        .values_mut()
        .map(|ts| {
            ts.sort_unstable();
            ts.windows(2).map(|w| w[1] - w[0]).max().unwrap_or(0)
        })
        .max()
        .unwrap_or(0)
}

/// Items of a reason listed before the rest are only counted (a fleet's every agent is in the
/// result).
const LISTED: usize = 5;

/// `a, b, c` of at most [`LISTED`] items, then `and N more`.
fn listed(items: &[String]) -> String {
    crate::units::capped(items, LISTED)
}

/// The reason a layout with hollow agents is never a measurement: `simulated` of `agents` made
/// up their figures.
pub(super) fn simulated(simulated: usize, agents: usize) -> String {
    format!(
        "SIMULATED: {simulated} of {agents} agents are hollow (numaload agent --hollow): no \
         replica ran and no request was sent there; their figures are made up, not measured"
    )
}

/// What a reader should know that does not make the figures untrustworthy: too few requests
/// for p99.9 (the reports show it as not available rather than as a figure).
pub(super) fn notes(result: &LayoutResult) -> Vec<String> {
    let mut out = Vec::new();
    if result.requests < MIN_REQUESTS_FOR_P999 {
        out.push(format!(
            "only {} requests measured: p99.9 needs at least {MIN_REQUESTS_FOR_P999} to mean \
             anything",
            result.requests
        ));
    }
    out
}

/// Layouts of a plan that place alike on hosts with one NUMA domain each: they differ only in
/// their NUMA placement (one replica per node is one replica there, any memory policy keeps
/// memory on the one node, a replica pinned to a node may run anywhere), so their figures
/// cannot differ for NUMA reasons. `run` says so before it starts and notes it on each of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OneDomain {
    /// Each group of two or more layouts that place alike, in plan order.
    pub groups: Vec<Vec<String>>,
}

impl OneDomain {
    /// The layouts of `layouts` that place alike, when every host under test has one NUMA
    /// domain (`domains`: each host's count; none when there is no host); `None` when the hosts
    /// tell them apart or no two layouts differ only in NUMA placement.
    pub fn find(layouts: &[Layout], domains: impl IntoIterator<Item = u32>) -> Option<Self> {
        let mut domains = domains.into_iter().peekable();
        domains.peek()?;
        if !domains.all(|d| d <= 1) {
            return None;
        }
        let mut groups: Vec<(Layout, Vec<String>)> = Vec::new();
        for layout in layouts {
            let alike = on_one_domain(layout);
            match groups.iter_mut().find(|(seen, _)| *seen == alike) {
                Some((_, names)) => names.push(layout.name.clone()),
                None => groups.push((alike, vec![layout.name.clone()])),
            }
        }
        let groups: Vec<Vec<String>> = groups
            .into_iter()
            .map(|(_, names)| names)
            .filter(|names| names.len() > 1)
            .collect();
        (!groups.is_empty()).then_some(Self { groups })
    }

    /// One line for the start of a run.
    pub fn notice(&self) -> String {
        let groups: Vec<String> = self.groups.iter().map(|g| and(g)).collect();
        format!(
            "the hosts under test have one NUMA domain: {} differ only in NUMA placement, so \
             they cannot differ here; compare them on a host with several NUMA domains \
             (numaload topology shows a host's)",
            groups.join("; ")
        )
    }

    /// The note on `layout` when it is in a group.
    pub fn note(&self, layout: &str) -> Option<String> {
        let group = self.groups.iter().find(|g| g.iter().any(|n| n == layout))?;
        let others: Vec<String> = group.iter().filter(|n| *n != layout).cloned().collect();
        let does = if others.len() == 1 { "does" } else { "do" };
        Some(format!(
            "on hosts with one NUMA domain this layout places as {} {does}: they differ only in \
             NUMA placement, so a difference between them here is not a NUMA effect",
            and(&others)
        ))
    }
}

/// `layout` as it places on a host with one NUMA domain, named alike for comparison: one
/// replica per domain is one replica, and so is one per domain of the network card's node
/// (`nic-local`: the one domain, when the card's node is known at all; else the layout fails
/// its placement, whatever it is compared with).
fn on_one_domain(layout: &Layout) -> Layout {
    let mut alike = layout.clone();
    alike.name = String::new();
    if matches!(alike.replicas, Replicas::PerNode | Replicas::NicLocal) {
        alike.replicas = Replicas::Count(1);
    }
    if alike.pin == Pin::Node {
        alike.pin = Pin::None;
    }
    alike.memory = Memory::None;
    alike
}

/// `a`, `a and b`, `a, b and c`.
fn and(names: &[String]) -> String {
    match names {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

/// Why an `incomplete` layout is: how many of the window's requests were answered against the
/// plan's `min_delivered`, and with several agents those that fell short, the worst first.
fn undelivered(result: &LayoutResult, delivery: crate::result::Delivery) -> String {
    let n = |v: u64| crate::units::thousands(v as f64);
    let mut text = format!(
        "only {} of the window's {} requests were answered ({:.1}%, below min_delivered {}%): \
         {} never sent or never answered (their waits count in the latency as lower bounds)",
        n(delivery.answered),
        n(delivery.intended),
        100.0 * delivery.share(),
        100.0 * delivery.min_share,
        n(delivery.shortfall())
    );
    text.push_str(&short_agents(result));
    text.push_str(&unanswered_replicas(result));
    text
}

/// `; unanswered, by replica: 10.0.0.5:7070 replica 0 211, ...` with several agents: where the
/// requests that went unanswered were going (the host under test behind a fleet's shortfall).
fn unanswered_replicas(result: &LayoutResult) -> String {
    if result.agents.len() < 2 {
        return String::new();
    }
    let mut replicas: Vec<&crate::result::ReplicaResult> = result
        .replicas
        .iter()
        .filter(|r| r.unanswered > 0)
        .collect();
    if replicas.is_empty() {
        return String::new();
    }
    replicas.sort_by_key(|r| std::cmp::Reverse(r.unanswered));
    let named: Vec<String> = replicas
        .iter()
        .map(|r| {
            format!(
                "{} replica {} {}",
                r.agent,
                r.index,
                crate::units::thousands(r.unanswered as f64)
            )
        })
        .collect();
    format!("; unanswered, by replica: {}", listed(&named))
}

/// `; short: A 409 of 600, B ...` naming the agents that delivered less than `min_delivered`,
/// the worst share first (at most [`LISTED`], then how many more), with several.
fn short_agents(result: &LayoutResult) -> String {
    if result.agents.len() < 2 {
        return String::new();
    }
    let n = |v: u64| crate::units::thousands(v as f64);
    let mut short: Vec<(&str, crate::result::Delivery)> = result
        .agents
        .iter()
        .filter_map(|a| {
            a.delivery
                .filter(|d| !d.met())
                .map(|d| (a.agent.as_str(), d))
        })
        .collect();
    if short.is_empty() {
        return String::new();
    }
    short.sort_by(|a, b| a.1.share().total_cmp(&b.1.share()).then(a.0.cmp(b.0)));
    let named: Vec<String> = short
        .iter()
        .map(|(agent, d)| format!("{agent} short {} of {}", n(d.shortfall()), n(d.intended)))
        .collect();
    format!(
        "; {} of {} agents fell short: {}",
        short.len(),
        result.agents.len(),
        listed(&named)
    )
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
    use super::{counts_disagree, OneDomain};
    use crate::plan::{Layout, Memory, Pin, Replicas};

    #[test]
    fn layouts_differing_only_in_numa_placement_are_alike_on_one_domain() {
        let layouts = [
            Layout::new("one-process", Replicas::Count(1), Pin::None, Memory::None),
            Layout::new("per-node", Replicas::PerNode, Pin::Node, Memory::Local),
            Layout::new(
                "interleaved",
                Replicas::Count(1),
                Pin::None,
                Memory::Interleave,
            ),
            Layout::new("two", Replicas::Count(2), Pin::None, Memory::None),
            Layout::new("cores", Replicas::Count(2), Pin::Core, Memory::None),
            Layout::new("by-the-card", Replicas::NicLocal, Pin::Node, Memory::Local),
        ];
        let found = OneDomain::find(&layouts, [1]).expect("alike layouts");
        assert_eq!(
            found.groups,
            vec![vec![
                "one-process",
                "per-node",
                "interleaved",
                "by-the-card"
            ]]
        );
        assert_eq!(
            found.note("per-node").as_deref(),
            Some(
                "on hosts with one NUMA domain this layout places as one-process, interleaved \
                 and by-the-card do: they differ only in NUMA placement, so a difference \
                 between them here is not a NUMA effect"
            )
        );
        assert_eq!(found.note("two"), None);
        assert!(found
            .notice()
            .contains("one-process, per-node, interleaved and by-the-card differ only in NUMA"));
        // Any host with several domains, or none known, tells them apart.
        assert_eq!(OneDomain::find(&layouts, [1, 2]), None);
        assert_eq!(OneDomain::find(&layouts, []), None);
        assert_eq!(OneDomain::find(&layouts[3..5], [1]), None);
    }

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
