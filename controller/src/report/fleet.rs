//! A fleet in brief: with more than [`FLEET_AGENTS`] agents the human formats summarize each
//! layout over its agents instead of a line per agent, host, replica and load worker — how many
//! agents were ok, incomplete or failed, the spread of their p99 and throughput (min, median,
//! max) and the [`WORST_SHOWN`] worst agents by name. Every agent's own figures stay in the
//! result file (`agents[]` of each layout) and `report --format csv --per-agent`.

use std::fmt::Write as _;

use crate::report::pct::Pct;
use crate::report::summary;
use crate::report::{duration_ns, thousands};
use crate::result::{AgentLayoutResult, HostSummary, LayoutResult, LayoutStatus, Role, RunResult};

/// More agents than this and the human reports summarize them.
pub const FLEET_AGENTS: usize = 8;

/// The worst agents of a layout named in its summary.
pub const WORST_SHOWN: usize = 5;

/// Whether `result` ran on more agents than [`FLEET_AGENTS`].
pub fn is_fleet(result: &RunResult) -> bool {
    result.agents.len().max(result.hosts.len()) > FLEET_AGENTS
}

/// The least, middle and greatest of some values, each with whether it is a lower bound.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spread {
    pub min: (f64, bool),
    pub median: (f64, bool),
    pub max: (f64, bool),
}

impl Spread {
    /// `None` without values; the median of an even count is the lower middle one (a value
    /// some agent had, not a mean of two).
    pub fn of(mut values: Vec<(f64, bool)>) -> Option<Spread> {
        values.sort_by(|a, b| a.0.total_cmp(&b.0));
        Some(Spread {
            min: *values.first()?,
            median: values[(values.len() - 1) / 2],
            max: *values.last()?,
        })
    }

    /// `min A, median B, max C`, each value written by `show`, a lower bound marked `≥`.
    pub fn text(&self, show: impl Fn(f64) -> String) -> String {
        let one = |(v, bound): (f64, bool)| {
            let mark = if bound { summary::AT_LEAST } else { "" };
            format!("{mark}{}", show(v))
        };
        format!(
            "min {}, median {}, max {}",
            one(self.min),
            one(self.median),
            one(self.max)
        )
    }
}

/// One layout over its agents (with `repeat`, each agent's trials are entries of their own).
#[derive(Debug, Clone)]
pub struct LayoutFleet<'a> {
    /// Distinct agents.
    pub agents: usize,
    /// Of them, hosts under test behind load agents (they send no request) and load agents;
    /// both 0 without load agents.
    pub under_test: usize,
    pub load: usize,
    /// How many agents ended in each status (an agent's worst over the trials), best first.
    pub statuses: Vec<(LayoutStatus, usize)>,
    /// The agents' corrected p99, over those with samples enough for one.
    pub p99_ns: Option<Spread>,
    /// Agents that measured too few requests for a p99.
    pub too_few_for_p99: usize,
    pub throughput_rps: Option<Spread>,
    /// The worst entries: the worst status first, then the lowest delivered share, then the
    /// highest p99; at most [`WORST_SHOWN`].
    pub worst: Vec<&'a AgentLayoutResult>,
    /// Whether the layout has several trials (the worst are named with theirs).
    pub trials: bool,
}

/// `l` summarized over its agents.
pub fn layout(l: &LayoutResult) -> LayoutFleet<'_> {
    let mut names: Vec<&str> = l.agents.iter().map(|a| a.agent.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    let mut worst_of: std::collections::BTreeMap<&str, LayoutStatus> = Default::default();
    for a in &l.agents {
        let status = worst_of.entry(&a.agent).or_insert(a.status);
        *status = (*status).max(a.status);
    }
    let mut statuses: Vec<(LayoutStatus, usize)> = Vec::new();
    for status in worst_of.values() {
        match statuses.iter_mut().find(|(s, _)| s == status) {
            Some((_, n)) => *n += 1,
            None => statuses.push((*status, 1)),
        }
    }
    statuses.sort();
    // The spreads are of the load the agents drove: a host under test behind load agents sent
    // none (its 0 requests are its part, not a failure).
    let measured = || {
        l.agents
            .iter()
            .filter(|a| a.status.measured() && a.role.is_none_or(Role::drives_load))
    };
    let p99: Vec<(f64, bool)> = measured()
        .filter_map(|a| {
            let ns = Pct::P99.shown(&a.latency_ns)?;
            Some((ns as f64, a.latency_ns.is_lower_bound("p99")))
        })
        .collect();
    let too_few_for_p99 = measured().count() - p99.len();
    let mut worst: Vec<&AgentLayoutResult> = l.agents.iter().collect();
    worst.sort_by(|a, b| {
        let share = |x: &AgentLayoutResult| x.delivery.map_or(1.0, |d| d.share());
        let p99 = |x: &AgentLayoutResult| Pct::P99.shown(&x.latency_ns).unwrap_or(0);
        b.status
            .cmp(&a.status)
            .then(share(a).total_cmp(&share(b)))
            .then(p99(b).cmp(&p99(a)))
            .then(a.agent.cmp(&b.agent))
    });
    worst.truncate(WORST_SHOWN);
    let mut roles: std::collections::BTreeMap<&str, Role> = Default::default();
    for a in &l.agents {
        if let Some(role) = a.role {
            roles.insert(&a.agent, role);
        }
    }
    let under_test = roles.values().filter(|r| **r == Role::UnderTest).count();
    let load = roles.values().filter(|r| **r == Role::Load).count();
    LayoutFleet {
        agents: names.len(),
        under_test,
        load,
        statuses,
        p99_ns: Spread::of(p99),
        too_few_for_p99,
        throughput_rps: Spread::of(measured().map(|a| (a.throughput_rps, false)).collect()),
        worst,
        trials: l.trials.len() > 1,
    }
}

impl LayoutFleet<'_> {
    /// `512 agents: 500 ok, 10 incomplete, 2 failed`; with load agents `12 agents (2 under test,
    /// 10 load): 12 ok`.
    pub fn statuses_text(&self) -> String {
        let counts: Vec<String> = self
            .statuses
            .iter()
            .map(|(status, n)| format!("{} {}", thousands(*n as f64), status.as_str()))
            .collect();
        let roles = if self.under_test + self.load > 0 {
            format!(
                " ({} under test, {} load)",
                thousands(self.under_test as f64),
                thousands(self.load as f64)
            )
        } else {
            String::new()
        };
        format!(
            "{} agents{roles}: {}",
            thousands(self.agents as f64),
            counts.join(", ")
        )
    }

    /// `p99 min 1.20 ms, median 2.31 ms, max ≥ 2.01 s; throughput min 180, median 200, max
    /// 200 req/s` over the agents that measured; `None` when none did.
    pub fn spread_text(&self) -> Option<String> {
        let throughput = self.throughput_rps?;
        let p99 = match &self.p99_ns {
            Some(p99) => format!("p99 {}", p99.text(|ns| duration_ns(ns as u64))),
            None => "p99 n/a (too few requests on every agent)".to_owned(),
        };
        let too_few = match self.too_few_for_p99 {
            0 => String::new(),
            n if self.p99_ns.is_some() => format!(" ({n} with too few requests for one)"),
            _ => String::new(),
        };
        Some(format!(
            "{p99}{too_few}; throughput {} req/s",
            throughput.text(thousands)
        ))
    }

    /// One worst agent: `ADDRESS [INCOMPLETE] p99 ≥ 2.01 s, 64 req/s, short 409 of 600`, or
    /// `ADDRESS [FAILED] not measured: agent lost: ...`, or for a host under test behind load
    /// agents what it did instead of figures of a load it did not send.
    pub fn worst_text(&self, a: &AgentLayoutResult) -> String {
        let trial = if self.trials {
            format!(" (trial {})", a.trial)
        } else {
            String::new()
        };
        let status = match a.status {
            LayoutStatus::Ok => "ok".to_owned(),
            other => other.as_str().to_uppercase(),
        };
        if !a.status.measured() {
            return format!(
                "{}{trial} [{status}] {}",
                a.agent,
                a.error.as_deref().unwrap_or("not measured")
            );
        }
        if a.role == Some(Role::UnderTest) {
            return format!(
                "{}{trial} [{status}] under test: ran the replicas, load agents drove them (it \
                 sends no request)",
                a.agent
            );
        }
        let p99 = summary::percentile_cell(&a.latency_ns, Pct::P99);
        let mut text = format!(
            "{}{trial} [{status}] p99 {p99}, {} req/s",
            a.agent,
            thousands(a.throughput_rps)
        );
        if let Some(d) = a.delivery.filter(|d| d.shortfall() > 0) {
            text.push_str(&format!(
                ", short {} of {}",
                thousands(d.shortfall() as f64),
                thousands(d.intended as f64)
            ));
        }
        text
    }
}

/// A layout's fleet lines, each with its label as the text report prints it: `agents`, `per
/// agent`, a `worst agent` each, `replicas`, `load gen`.
pub fn rows(l: &LayoutResult) -> Vec<(&'static str, String)> {
    let f = layout(l);
    let mut rows = vec![("agents", f.statuses_text())];
    rows.extend(f.spread_text().map(|s| ("per agent", s)));
    rows.extend(f.worst.iter().map(|a| ("worst agent", f.worst_text(a))));
    rows.push(("replicas", replicas_text(l)));
    rows.extend(load_text(l).map(|t| ("load gen", t)));
    rows
}

/// `1,024 replicas on 512 agents, every one where it was placed`, or with mismatches `..., 3
/// MISMATCH: replica 0 of ADDRESS (pid 12), ...` (at most [`WORST_SHOWN`] named).
pub fn replicas_text(l: &LayoutResult) -> String {
    let mut agents: Vec<&str> = l.replicas.iter().map(|r| r.agent.as_str()).collect();
    agents.sort_unstable();
    agents.dedup();
    let head = format!(
        "{} on {} agents",
        thousands(l.replicas.len() as f64),
        thousands(agents.len() as f64)
    );
    let misplaced: Vec<String> = l
        .replicas
        .iter()
        .filter(|r| !r.placement_ok || !r.mismatches_at_end.is_empty())
        .map(|r| format!("replica {} of {} (pid {})", r.index, r.agent, r.pid))
        .collect();
    if misplaced.is_empty() {
        return format!("{head}, every one where it was placed");
    }
    format!(
        "{head}, {} MISMATCH: {}",
        misplaced.len(),
        capped(&misplaced, WORST_SHOWN)
    )
}

/// `512 workers on 512 agents, CPU busy min 10%, median 31%, max 88%; shared with the
/// replicas on 512 agents`, or `None` without load workers.
pub fn load_text(l: &LayoutResult) -> Option<String> {
    let busy = Spread::of(l.load.workers.iter().map(|w| (w.busy, false)).collect())?;
    let mut agents: Vec<&str> = l.load.workers.iter().map(|w| w.agent.as_str()).collect();
    agents.sort_unstable();
    agents.dedup();
    let shared = if l.load.shares_cpus_with_replicas {
        "; shared CPUs with the replicas"
    } else {
        ""
    };
    let skew = start_skew_text(l);
    Some(format!(
        "{} workers on {} agents, CPU busy {}{shared}{skew}",
        thousands(l.load.workers.len() as f64),
        thousands(agents.len() as f64),
        busy.text(|share| format!("{:.0}%", share * 100.0))
    ))
}

/// How far apart the agents began the load ("; the agents began it within 0.31 ms"), empty
/// with fewer than two of them. A skew of a millisecond or more names the agent that began
/// latest after its start instant, when its own wake-up was late by that much: the cause is
/// then that host's, not the schedule's.
pub fn start_skew_text(l: &LayoutResult) -> String {
    const NOTABLE_NS: u64 = 1_000_000;
    let Some(skew) = l.start_skew_ns else {
        return String::new();
    };
    let mut text = format!("; the agents began it within {:.2} ms", skew as f64 / 1e6);
    let latest = l
        .agents
        .iter()
        .filter_map(|a| Some((a.start_late_ns?, a.agent.as_str())))
        .max();
    if let Some((late, agent)) =
        latest.filter(|(late, _)| skew >= NOTABLE_NS && *late >= NOTABLE_NS)
    {
        let _ = write!(
            text,
            " ({agent} began {:.2} ms after its start instant: a busy host wakes late)",
            late as f64 / 1e6
        );
    }
    text
}

/// The hosts of a fleet grouped by what they are (everything a host line says but its name and
/// agent): each kind's description and how many agents run on one, the most common first.
pub fn host_kinds(result: &RunResult) -> Vec<(String, usize)> {
    let mut kinds: Vec<(String, usize)> = Vec::new();
    for h in &result.hosts {
        let kind = host_kind(h);
        match kinds.iter_mut().find(|(k, _)| *k == kind) {
            Some((_, n)) => *n += 1,
            None => kinds.push((kind, 1)),
        }
    }
    kinds.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    kinds
}

/// What a host line says of a host but its name: CPU model, packages, NUMA nodes and domains,
/// cores, PUs and the allowed ones, the kernel.
pub fn host_kind(h: &HostSummary) -> String {
    format!(
        "{}, {} package(s), {} NUMA node(s) in {} domain(s), {} cores, {} PUs (allowed {}), Linux {}",
        h.cpu_model,
        h.packages,
        h.numa_nodes,
        h.numa_domains,
        h.cores,
        h.pus,
        numaload_proto::cpulist::format(&h.allowed_cpus),
        h.kernel
    )
}

pub use crate::units::capped;

#[cfg(test)]
mod tests;
