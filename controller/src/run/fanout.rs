//! Calls to every agent of a fleet at once: connecting, describing and reading each clock,
//! executing, starting a layout, cancelling. Thousands of agents are called together, at most
//! [`IN_FLIGHT`] calls at a time, so that a run's set-up and its synchronized starts take about
//! as long on a fleet as on one agent; results come back in the agents' order.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use numaload_proto::v1::{HostInfo, LoadTarget, RunPlan};
use tokio::sync::Semaphore;

use super::clock::{clock_estimate, unix_now_ns, ClockEstimate};
use crate::client::{Agent, ClientError, EventStream};

/// Calls in flight at once: enough to keep every core busy, few enough for the descriptors and
/// the agents' accept queues.
pub const IN_FLIGHT: usize = 256;

/// `Clock` calls per agent for the offset estimate, beyond the clock in its `Describe` answer...
const CLOCK_SAMPLES: usize = 7;
/// ...in a fleet up to this many agents; a larger one takes the `Describe` answer's alone (its
/// error is at most half its round trip, which the result records), so that thousands of agents
/// are set up in about the time of one call each.
const CLOCKS_UP_TO: usize = 64;

/// `call` on every item, at most [`IN_FLIGHT`] at a time; the outputs in the items' order.
pub async fn each<I, T, F, Fut>(items: impl IntoIterator<Item = I>, call: F) -> Vec<T>
where
    F: Fn(I) -> Fut,
    Fut: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let permits = Arc::new(Semaphore::new(IN_FLIGHT));
    let handles: Vec<_> = items
        .into_iter()
        .map(|item| {
            let permits = Arc::clone(&permits);
            let call = call(item);
            tokio::spawn(async move {
                // The semaphore is never closed.
                let _permit = permits.acquire_owned().await;
                call.await
            })
        })
        .collect();
    let mut out = Vec::with_capacity(handles.len());
    for handle in handles {
        match handle.await {
            Ok(value) => out.push(value),
            Err(e) => std::panic::resume_unwind(e.into_panic()),
        }
    }
    out
}

/// Connects to every address, over mutual TLS when `tls` is given; the first failure, in the
/// addresses' order, is the error.
pub async fn connect(
    addresses: &[String],
    tls: Option<&tonic::transport::ClientTlsConfig>,
) -> Result<Vec<Agent>, ClientError> {
    let tls = tls.cloned();
    each(addresses.iter().cloned(), move |address| {
        let tls = tls.clone();
        async move { Agent::connect(&address, tls.as_ref()).await }
    })
    .await
    .into_iter()
    .collect()
}

/// Every agent's host and clock offset.
pub async fn describe(agents: &[Agent]) -> Result<Vec<(HostInfo, ClockEstimate)>, ClientError> {
    let samples = if agents.len() <= CLOCKS_UP_TO {
        CLOCK_SAMPLES
    } else {
        0
    };
    each(agents.iter().cloned(), move |mut agent| async move {
        let sent = unix_now_ns();
        let info = agent.describe().await?;
        let received = unix_now_ns();
        let first =
            (info.now_unix_ns > 0).then(|| clock_estimate(sent, info.now_unix_ns, received));
        // An agent that does not say its clock in `Describe` is asked at least once.
        let samples = if first.is_some() {
            samples
        } else {
            samples.max(1)
        };
        let clock = estimate_clock(&mut agent, first, samples).await?;
        Ok((info, clock))
    })
    .await
    .into_iter()
    .collect()
}

/// `Execute` on every agent with its plan; each agent's stream or why it refused.
pub async fn execute(
    agents: &[Agent],
    plans: Vec<RunPlan>,
    deadline: Duration,
) -> Vec<Result<EventStream, ClientError>> {
    each(
        agents.iter().cloned().zip(plans),
        move |(mut agent, plan)| async move { agent.execute(plan, deadline).await },
    )
    .await
}

/// Tells one agent when to begin `layout`, without waiting for its answer: an agent that misses
/// its `Start` fails the layout itself after its timeout.
pub fn start(agent: &Agent, run_id: &str, layout: &str, at_unix_ns: u64, targets: Vec<LoadTarget>) {
    let (mut agent, run_id, layout) = (agent.clone(), run_id.to_owned(), layout.to_owned());
    tokio::spawn(async move {
        let _ = agent.start(&run_id, &layout, at_unix_ns, targets).await;
    });
}

/// `Cancel` on every agent. Best effort: an agent that cannot be reached is already lost, and a
/// controller that goes away cancels its run on the agent anyway.
pub async fn cancel(agents: &[Agent], run_id: &str) {
    let run_id = run_id.to_owned();
    each(agents.iter().cloned(), move |mut agent| {
        let run_id = run_id.clone();
        async move {
            let _ = agent.cancel(&run_id).await;
        }
    })
    .await;
}

/// NTP-style: `first` and `samples` more `Clock` calls, the one with the shortest round trip
/// wins, the agent's reading is taken to be at the middle of that round trip.
async fn estimate_clock(
    agent: &mut Agent,
    first: Option<ClockEstimate>,
    samples: usize,
) -> Result<ClockEstimate, ClientError> {
    let mut best = first;
    for _ in 0..samples {
        let sent = unix_now_ns();
        let agent_now = agent.clock().await?;
        let received = unix_now_ns();
        let estimate = clock_estimate(sent, agent_now, received);
        if best.is_none_or(|b| estimate.round_trip_ns < b.round_trip_ns) {
            best = Some(estimate);
        }
    }
    Ok(best.unwrap_or(ClockEstimate {
        offset_ns: 0,
        round_trip_ns: 0,
    }))
}
