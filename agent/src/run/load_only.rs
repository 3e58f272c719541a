//! A load agent's layout: no replica here; once the `Start` names the replicas (other agents'),
//! check that each can be reached, begin at the given instant and drive them like a one-host
//! run drives its own. Each worker's result names the agent and replica it drove.

use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use numaload_proto::v1::{run_event::Event, LayoutSummary, LoadTarget, Placed};

use super::context::LayoutContext;
use super::error::LayoutError;
use super::events::send;
use super::generator::{self, load_config, worker_results};
use crate::placement::{Layout, Placement};

/// The longest a reachability check waits for one replica.
const CONNECT_CHECK: Duration = Duration::from_secs(2);

pub(super) async fn drive(
    ctx: &LayoutContext<'_>,
    layout: &Layout,
    placement: &Placement,
) -> Result<LayoutSummary, LayoutError> {
    let LayoutContext {
        run,
        events,
        cancel,
        starts,
        ..
    } = *ctx;
    let name = layout.name.clone();
    send(
        events,
        Event::Placed(Placed {
            layout: name.clone(),
            load_cpus: placement.load_cpus.clone(),
            ..Default::default()
        }),
    )
    .await;
    let start = starts
        .wait_for(&name, run.start_timeout, cancel)
        .await
        .ok_or(LayoutError::NoStart {
            waited: run.start_timeout,
        })?;
    let addresses = addresses(&start.targets)?;
    let check_within = run.load.timeout.min(CONNECT_CHECK);
    let checked = addresses.clone();
    let targets = start.targets.clone();
    tokio::task::spawn_blocking(move || reachable(&targets, &checked, check_within))
        .await
        .map_err(LayoutError::GeneratorCrashed)??;

    let load = load_config(run, addresses, placement);
    let driving = generator::begin(ctx, &name, Some(start.at_unix_ns), Some(load)).await;
    let (load_started_unix_ns, start_late_ns) =
        (driving.load_started_unix_ns, driving.start_late_ns);
    let report = driving.finish(ctx).await?;
    let mut workers = worker_results(&report)?;
    // The generator numbers the replicas by their place in the start's list: say whose each is.
    for worker in &mut workers {
        if let Some(target) = start.targets.get(worker.replica as usize) {
            worker.replica = target.replica;
            worker.target_agent.clone_from(&target.agent);
        }
    }
    Ok(LayoutSummary {
        layout: name,
        elapsed_ns: report.elapsed.as_nanos() as u64,
        workers,
        replicas: Vec::new(),
        load_started_unix_ns,
        start_late_ns,
        net_receive: None,
        arrivals: generator::arrival_stream(run, &report),
    })
}

/// Each target's address, in the start's order.
fn addresses(targets: &[LoadTarget]) -> Result<Vec<SocketAddr>, LayoutError> {
    if targets.is_empty() {
        return Err(LayoutError::NoTargets);
    }
    targets
        .iter()
        .map(|t| {
            t.address.parse().map_err(|_| LayoutError::BadTarget {
                agent: t.agent.clone(),
                replica: t.replica,
                address: t.address.clone(),
            })
        })
        .collect()
}

/// Connects to every replica once (and closes at once), so an unreachable one fails the layout
/// with its address and the OS's error before any load is sent.
fn reachable(
    targets: &[LoadTarget],
    addresses: &[SocketAddr],
    within: Duration,
) -> Result<(), LayoutError> {
    for (target, &address) in targets.iter().zip(addresses) {
        TcpStream::connect_timeout(&address, within).map_err(|source| {
            LayoutError::Unreachable {
                agent: target.agent.clone(),
                replica: target.replica,
                address,
                source,
            }
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(address: &str) -> LoadTarget {
        LoadTarget {
            address: address.into(),
            agent: "sut:7000".into(),
            replica: 1,
        }
    }

    #[test]
    fn a_start_without_replicas_or_with_a_bad_address_is_refused() {
        assert!(matches!(addresses(&[]), Err(LayoutError::NoTargets)));
        assert!(matches!(
            addresses(&[target("10.0.0.2")]),
            Err(LayoutError::BadTarget { replica: 1, .. })
        ));
        let ok = addresses(&[target("10.0.0.2:20001")]).expect("host:port");
        assert_eq!(ok[0].port(), 20_001);
    }

    #[test]
    fn an_unreachable_replica_is_named_with_the_os_error() {
        // A port just freed: nothing listens there.
        let free = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a port");
        let targets = [target(&free.to_string())];
        let error = reachable(&targets, &[free], Duration::from_secs(1))
            .expect_err("nothing listens")
            .to_string();
        assert!(
            error.starts_with(&format!(
                "this load agent cannot connect to replica 1 of agent sut:7000 at {free}: "
            )),
            "{error}"
        );
        assert!(error.contains("refused"), "{error}");
    }
}
