//! Which connections each load worker owns: the pure [`plan`].

use super::config::LoadConfig;

/// The connections one worker owns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct WorkerPlan {
    pub(super) worker: u32,
    pub(super) cpu: u32,
    /// Replicas this worker talks to, ascending; a connection's `target` indexes this list.
    pub(super) replicas: Vec<u32>,
    pub(super) connections: Vec<ConnectionPlan>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct ConnectionPlan {
    /// Position among all connections of the run: fixes the open-loop phase.
    pub(super) global: u32,
    pub(super) replica: u32,
    /// Index into the worker's `replicas` (and its stats).
    pub(super) target: usize,
}

/// Splits the connections over `min(cpus, connections)` workers in contiguous blocks (sizes
/// differ by at most one) and binds connection `g` to replica `g % targets`.
pub(super) fn plan(config: &LoadConfig) -> Vec<WorkerPlan> {
    let targets = config.targets.len() as u32;
    let workers = config.cpus.len().min(config.connections as usize) as u32;
    let (base, extra) = (config.connections / workers, config.connections % workers);
    let mut next_global = 0;
    (0..workers)
        .map(|worker| {
            let count = base + u32::from(worker < extra);
            let globals = next_global..next_global + count;
            next_global += count;
            let mut replicas: Vec<u32> = globals.clone().map(|g| g % targets).collect();
            replicas.sort_unstable();
            replicas.dedup();
            let connections = globals
                .map(|global| {
                    let replica = global % targets;
                    let target = replicas.binary_search(&replica).unwrap_or_default();
                    ConnectionPlan {
                        global,
                        replica,
                        target,
                    }
                })
                .collect();
            WorkerPlan {
                worker,
                cpu: config.cpus[worker as usize],
                replicas,
                connections,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::test_config as config;
    use super::*;

    #[test]
    fn plan_spreads_connections_over_workers_and_replicas() {
        // (targets, connections, cpus, connections per worker)
        let cases: &[(usize, u32, &[u32], &[usize])] = &[
            (1, 1, &[0], &[1]),
            (1, 3, &[0, 1, 2, 3], &[1, 1, 1]), // capped at one worker per connection
            (2, 10, &[0, 1], &[5, 5]),
            (3, 10, &[4, 5, 6], &[4, 3, 3]),
            (4, 2, &[0], &[2]),
        ];
        for &(targets, connections, cpus, per_worker) in cases {
            let plans = plan(&config(targets, connections, cpus));
            let sizes: Vec<usize> = plans.iter().map(|p| p.connections.len()).collect();
            assert_eq!(sizes, per_worker, "{targets} targets, {connections} conns");
            let mut per_replica = vec![0u32; targets];
            let mut globals = Vec::new();
            for (w, p) in plans.iter().enumerate() {
                assert_eq!(p.cpu, cpus[w]);
                for c in &p.connections {
                    assert_eq!(p.replicas[c.target], c.replica);
                    per_replica[c.replica as usize] += 1;
                    globals.push(c.global);
                }
            }
            assert_eq!(globals, (0..connections).collect::<Vec<_>>());
            let (min, max) = (per_replica.iter().min(), per_replica.iter().max());
            if connections as usize >= targets {
                assert!(
                    max.zip(min).is_some_and(|(a, b)| a - b <= 1),
                    "{per_replica:?}"
                );
            }
        }
        // Two workers, two replicas: each worker still talks to both.
        let plans = plan(&config(2, 4, &[0, 1]));
        assert!(plans.iter().all(|p| p.replicas == [0, 1]));
    }
}
