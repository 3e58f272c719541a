//! One run of a plan on this host: every layout in turn, start to finish.
//!
//! The stages, one module each and the data flowing one way:
//! [`prepare`](prepare()) (pure) checks the whole plan against this agent's configuration and
//! limits, resolves each layout's target and knob values and places every layout before
//! anything is launched, so a bad plan fails with nothing started; [`execute`] then runs layout
//! after layout: launch the replicas ([`crate::replica`]), read their whole process trees back
//! and judge them (`placed`, with the pure verdict in [`crate::verify`]), wait for the start
//! ([`StartSignal`]), measure (`measure`: load generator, sampler, live view, then the replicas'
//! health and placement once more), stop — streaming `RunEvent`s. Replicas of a layout are
//! always stopped before the next starts, also when the layout fails or the run is cancelled.
//! A refused plan is a [`PrepareError`], a failed layout a [`LayoutError`] (`error`).

mod context;
mod error;
mod events;
mod generator;
mod load_only;
mod measure;
mod placed;
mod prepare;
mod protocol;
mod shape;
mod start;

use std::sync::atomic::Ordering;

use numaload_proto::v1::{run_event::Event, LayoutFailed, Phase, RunDone};

pub use error::{LayoutError, LoadSpecError, PrepareError, RequestFault, TargetSpecError};
pub use events::Events;
pub use placed::intended;
pub use prepare::{
    decode_and_prepare, nic_local_nodes, prepare, LaunchSpec, LoadPlan, PreparedLayout,
    PreparedRun, Role,
};
pub use start::{unix_now_ns, Start, StartSignal};

use context::LayoutContext;
use events::{phase, send};

use crate::config::AgentConfig;
use crate::loadgen::Cancel;
use crate::replica::{Launch, ReplicaSet, ReplicaSpec};

/// Runs every layout in turn, streaming events, and ends with `RunDone`.
pub async fn execute(
    run: PreparedRun,
    config: &AgentConfig,
    events: Events,
    cancel: Cancel,
    starts: StartSignal,
) {
    // Before any replica starts, so that nothing of the run disturbs it.
    if run.calibrate {
        let calibration = crate::calibrate::calibrate().await;
        send(&events, Event::Calibration(calibration)).await;
    }
    for prepared in &run.layouts {
        let layout = &prepared.layout;
        if cancel.is_cancelled() {
            break;
        }
        let ctx = LayoutContext {
            run: &run,
            config,
            events: &events,
            cancel: &cancel,
            starts: &starts,
        };
        let outcome = run_layout(&ctx, prepared).await;
        let counter = match &outcome {
            Ok(()) => &config.metrics.layouts_ok,
            Err(_) => &config.metrics.layouts_failed,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        if let Err(error) = outcome {
            // The one place a layout's failure becomes text: the event's.
            let failed = LayoutFailed {
                layout: layout.name.clone(),
                error: error.to_string(),
            };
            if !send(&events, Event::Failed(failed)).await {
                cancel.cancel();
            }
        }
    }
    send(
        &events,
        Event::Done(RunDone {
            cancelled: cancel.is_cancelled(),
        }),
    )
    .await;
}

async fn run_layout(ctx: &LayoutContext<'_>, prepared: &PreparedLayout) -> Result<(), LayoutError> {
    let (layout, placement) = (&prepared.layout, &prepared.placement);
    let Some(spec) = &prepared.launch else {
        // A load agent: no replica here, load at other agents' replicas.
        let summary = load_only::drive(ctx, layout, placement).await?;
        if !send(ctx.events, Event::Summary(summary)).await {
            ctx.cancel.cancel();
        }
        return Ok(());
    };
    let LayoutContext {
        config,
        events,
        cancel,
        ..
    } = *ctx;
    let name = layout.name.clone();
    phase(events, &name, Phase::Launching).await;
    let specs: Vec<ReplicaSpec> = placement
        .replicas
        .iter()
        .map(|r| ReplicaSpec {
            index: r.index,
            cpus: r.cpus.clone(),
            memory_nodes: r.memory_nodes.clone(),
            memory_policy: r.memory_policy,
            worker_threads: r.threads,
        })
        .collect();
    let launch = Launch {
        target: &spec.target,
        knobs: &spec.knobs,
        ready_within: config.ready_within,
        stop_grace: config.stop_grace,
        address: config.replica_address,
        ports: config.replica_ports.as_ref(),
    };
    let mut replicas = ReplicaSet::spawn_all(&launch, &specs)
        .await
        .map_err(|source| LayoutError::Launch {
            target: spec.target_name.clone(),
            source: Box::new(source),
        })?;
    let running = replicas.replicas.len() as u64;
    config
        .metrics
        .replicas_running
        .fetch_add(running, Ordering::Relaxed);
    // From here on, every path stops the replicas (and dropping the set kills them anyway).
    let outcome =
        measure::measure(ctx, layout, placement, &spec.target, &specs, &mut replicas).await;
    phase(events, &name, Phase::Stopping).await;
    replicas.stop_all().await;
    config
        .metrics
        .replicas_running
        .fetch_sub(running, Ordering::Relaxed);
    let summary = outcome?;
    if !send(events, Event::Summary(summary)).await {
        cancel.cancel();
    }
    Ok(())
}
