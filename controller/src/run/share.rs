//! Each agent's part of a run: the hosts under test run the plan as given (each its own
//! experiment on its own replicas), or, with load agents on other hosts, only the replicas,
//! while the load agents share the load: the rate (and each stage's), the connections and a
//! trace's entries. Every agent draws Poisson arrivals from its own stream of the one seed, so
//! load agents that share a rate add up to one Poisson process at the plan's rate.

use numaload_proto::v1::{AgentRole, LoadSpec, LoadTrace, RunPlan};

/// Each agent's plan, in the fleet's order (the hosts under test, then the load agents).
/// Without load agents each host gets the plan as given; with them, the hosts under test run
/// only replicas and reserve no CPU for load, and each load agent gets its share of the load
/// ([`share`]).
pub(super) fn role_plans(wire: &RunPlan, under_test: usize, loads: usize) -> Vec<RunPlan> {
    let mut plans = Vec::with_capacity(under_test + loads);
    for index in 0..under_test {
        let mut plan = wire.clone();
        if let Some(load) = &mut plan.load {
            load.stream = index as u32;
            if loads > 0 {
                load.reserve_cpus = 0;
            }
        }
        if loads > 0 {
            plan.role = AgentRole::Replicas as i32;
        }
        plans.push(plan);
    }
    for index in 0..loads {
        let mut plan = wire.clone();
        plan.role = AgentRole::Load as i32;
        if let Some(load) = &mut plan.load {
            share(load, index, loads);
        }
        plans.push(plan);
    }
    plans
}

/// Load agent `index` of `loads`: the rate and every stage's rates divided evenly (so their
/// sum is the plan's), the connections too (the first ones one more when they do not divide
/// evenly), a trace's entries dealt round robin in time order (together exactly the trace),
/// and its own stream of the seed.
fn share(load: &mut LoadSpec, index: usize, loads: usize) {
    let parts = loads as f64;
    load.rate /= parts;
    for stage in &mut load.stages {
        stage.from_rps /= parts;
        stage.to_rps /= parts;
    }
    let each = load.connections / loads as u32;
    let extra = u32::from((index as u32) < load.connections % loads as u32);
    load.connections = each + extra;
    load.stream = index as u32;
    if let Some(trace) = &mut load.trace {
        *trace = dealt(trace, index, loads);
    }
}

/// Entries `index`, `index + loads`, ... of `trace`, with their gaps recomputed.
fn dealt(trace: &LoadTrace, index: usize, loads: usize) -> LoadTrace {
    let mut at: u64 = 0;
    let mut before: u64 = 0;
    let mut out = LoadTrace::default();
    for (n, (&gap, &request)) in trace.gaps_ns.iter().zip(&trace.requests).enumerate() {
        at = at.saturating_add(gap);
        if n % loads == index {
            out.gaps_ns.push(at - before);
            out.requests.push(request);
            before = at;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use numaload_proto::v1::LoadStage;

    use super::*;

    #[test]
    fn load_agents_share_the_rate_and_connections_and_the_hosts_under_test_reserve_nothing() {
        let wire = RunPlan {
            load: Some(LoadSpec {
                rate: 9_000.0,
                connections: 8,
                reserve_cpus: 2,
                ..Default::default()
            }),
            ..Default::default()
        };
        let alone = role_plans(&wire, 2, 0);
        let load = |p: &RunPlan| p.load.clone().expect("a load section");
        assert_eq!(alone[0], wire, "no load agent: as given");
        assert_eq!(load(&alone[1]).stream, 1, "each host its own stream");
        assert_eq!(load(&alone[1]).rate, 9_000.0);
        let plans = role_plans(&wire, 1, 3);
        assert_eq!(plans[0].role, AgentRole::Replicas as i32);
        assert_eq!(load(&plans[0]).reserve_cpus, 0);
        let shares: Vec<(i32, f64, u32, u32, u32)> = plans[1..]
            .iter()
            .map(|p| {
                let l = load(p);
                (p.role, l.rate, l.connections, l.reserve_cpus, l.stream)
            })
            .collect();
        let l = AgentRole::Load as i32;
        assert_eq!(
            shares,
            [
                (l, 3_000.0, 3, 2, 0),
                (l, 3_000.0, 3, 2, 1),
                (l, 3_000.0, 2, 2, 2)
            ]
        );
    }

    #[test]
    fn load_agents_share_each_stage_and_together_send_exactly_the_trace() {
        let trace = LoadTrace {
            gaps_ns: vec![5, 0, 10, 1, 1, 7, 0],
            requests: vec![0, 1, 2, 0, 1, 2, 0],
        };
        let wire = RunPlan {
            load: Some(LoadSpec {
                connections: 4,
                stages: vec![LoadStage {
                    from_rps: 600.0,
                    to_rps: 1_200.0,
                    duration_ms: 1_000,
                }],
                trace: Some(trace.clone()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let plans = role_plans(&wire, 1, 2);
        let mut sent: Vec<(u64, u32)> = Vec::new();
        for plan in &plans[1..] {
            let load = plan.load.as_ref().expect("load");
            assert_eq!(
                (load.stages[0].from_rps, load.stages[0].to_rps),
                (300.0, 600.0)
            );
            let part = load.trace.as_ref().expect("trace");
            let mut at = 0;
            for (gap, &request) in part.gaps_ns.iter().zip(&part.requests) {
                at += gap;
                sent.push((at, request));
            }
        }
        sent.sort_unstable();
        let mut at = 0;
        let mut want: Vec<(u64, u32)> = trace
            .gaps_ns
            .iter()
            .zip(&trace.requests)
            .map(|(gap, &request)| {
                at += gap;
                (at, request)
            })
            .collect();
        want.sort_unstable();
        assert_eq!(
            sent, want,
            "the load agents' entries are the trace's, once each"
        );
    }
}
