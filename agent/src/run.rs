//! One run of a plan on this host: every layout in turn, start to finish.
//!
//! [`prepare`] checks the whole plan and resolves every layout's placement before anything is
//! launched (so a bad plan fails with nothing started); [`execute`] then runs layout after
//! layout — launch pinned replicas, read their placement back, warm up, measure while sampling,
//! stop — and streams `RunEvent`s. Replicas of a layout are always stopped before the next
//! starts, also when the layout fails or the run is cancelled.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use numaload_proto::histogram;
use numaload_proto::v1::{
    self, run_event::Event, LayoutFailed, LayoutSummary, LoadMode, NodePages, Phase, PhaseChange,
    Placed, ReplicaPlacement, RunDone, RunEvent, RunPlan, WorkerResult,
};
use tokio::sync::mpsc;

use crate::config::AgentConfig;
use crate::loadgen::{self, Cancel, LoadConfig, Mode};
use crate::placement::{self, Layout, Placement};
use crate::procfs;
use crate::replica::{ReplicaSet, ReplicaSpec, TargetCommand};
use crate::sampler::Sampler;
use crate::topology::HostTopology;

/// A plan checked against this agent and this host, ready to run.
#[derive(Debug, Clone)]
pub struct PreparedRun {
    pub run_id: String,
    pub target: TargetCommand,
    pub work_us: u64,
    pub load: LoadPlan,
    pub layouts: Vec<(Layout, Placement)>,
}

/// The load section, validated.
#[derive(Debug, Clone)]
pub struct LoadPlan {
    pub mode: Mode,
    pub connections: u32,
    pub duration: Duration,
    pub warmup: Duration,
    pub timeout: Duration,
}

/// Checks the plan and places every layout; the error says which field is wrong and how to fix it.
pub fn prepare(
    plan: &RunPlan,
    config: &AgentConfig,
    topology: &HostTopology,
) -> Result<PreparedRun, String> {
    let target_spec = plan
        .target
        .as_ref()
        .ok_or("[target]: missing from the plan")?;
    let target = config.target(&target_spec.name)?.clone();
    let load = load_plan(plan.load.as_ref().ok_or("[load]: missing from the plan")?)?;
    let reserve = plan.load.as_ref().map_or(0, |l| l.reserve_cpus);
    if plan.layouts.is_empty() {
        return Err("[[layouts]]: the plan has no layout; add at least one".into());
    }
    let mut layouts = Vec::with_capacity(plan.layouts.len());
    for spec in &plan.layouts {
        let layout = Layout::try_from(spec).map_err(|e| e.to_string())?;
        let placement = placement::place(topology, &layout, reserve).map_err(|e| e.to_string())?;
        layouts.push((layout, placement));
    }
    Ok(PreparedRun {
        run_id: plan.run_id.clone(),
        target,
        work_us: target_spec.work_us,
        load,
        layouts,
    })
}

fn load_plan(load: &v1::LoadSpec) -> Result<LoadPlan, String> {
    let mode = match LoadMode::try_from(load.mode) {
        Ok(LoadMode::Open) if load.rate > 0.0 && load.rate.is_finite() => Mode::Open {
            rate_per_sec: load.rate,
        },
        Ok(LoadMode::Open) => {
            return Err(format!(
                "[load] rate = {}: must be a positive number of requests per second",
                load.rate
            ))
        }
        Ok(LoadMode::Closed) => Mode::Closed,
        _ => return Err("[load] mode: unspecified; use \"open\" or \"closed\"".into()),
    };
    if load.connections == 0 {
        return Err("[load] connections = 0: use at least 1".into());
    }
    if load.duration_ms == 0 {
        return Err("[load] duration: must be longer than zero, e.g. \"10s\"".into());
    }
    let timeout_ms = if load.timeout_ms == 0 {
        2_000
    } else {
        load.timeout_ms
    };
    Ok(LoadPlan {
        mode,
        connections: load.connections,
        duration: Duration::from_millis(load.duration_ms),
        warmup: Duration::from_millis(load.warmup_ms),
        timeout: Duration::from_millis(timeout_ms),
    })
}

/// Where events go; a send fails only when the controller has gone away.
pub type Events = mpsc::Sender<Result<RunEvent, tonic::Status>>;

/// Runs every layout in turn, streaming events, and ends with `RunDone`.
pub async fn execute(run: PreparedRun, config: &AgentConfig, events: Events, cancel: Cancel) {
    for (layout, placement) in &run.layouts {
        if cancel.is_cancelled() {
            break;
        }
        if let Err(error) = run_layout(&run, config, layout, placement, &events, &cancel).await {
            let failed = LayoutFailed {
                layout: layout.name.clone(),
                error,
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

async fn run_layout(
    run: &PreparedRun,
    config: &AgentConfig,
    layout: &Layout,
    placement: &Placement,
    events: &Events,
    cancel: &Cancel,
) -> Result<(), String> {
    let name = layout.name.clone();
    phase(events, &name, Phase::Launching).await;
    let specs: Vec<ReplicaSpec> = placement
        .replicas
        .iter()
        .map(|r| ReplicaSpec {
            index: r.index,
            cpus: r.cpus.clone(),
            memory_nodes: r.memory_nodes.clone(),
            worker_threads: r.threads,
            work_us: run.work_us,
        })
        .collect();
    let replicas = ReplicaSet::spawn_all(&run.target, &specs, config.ready_within)
        .await
        .map_err(|e| format!("launching replicas: {e}"))?;
    // From here on, every path stops the replicas (and dropping the set kills them anyway).
    let outcome = measure(run, layout, placement, &specs, &replicas, events, cancel).await;
    phase(events, &name, Phase::Stopping).await;
    replicas.stop_all(config.stop_grace).await;
    let summary = outcome?;
    if !send(events, Event::Summary(summary)).await {
        cancel.cancel();
    }
    Ok(())
}

async fn measure(
    run: &PreparedRun,
    layout: &Layout,
    placement: &Placement,
    specs: &[ReplicaSpec],
    replicas: &ReplicaSet,
    events: &Events,
    cancel: &Cancel,
) -> Result<LayoutSummary, String> {
    let name = layout.name.clone();
    let placed = read_back(layout, placement, specs, replicas);
    let mismatches: Vec<String> = placed
        .replicas
        .iter()
        .filter(|r| !r.placement_ok)
        .map(|r| {
            format!(
                "replica {} (pid {}): intended CPUs {} memory {}, actual CPUs {} memory policy {}",
                r.index,
                r.pid,
                numaload_proto::cpulist::format(&r.intended_cpus),
                bind_text(&r.intended_memory_nodes),
                numaload_proto::cpulist::format(&r.actual_cpus),
                r.memory_policy
            )
        })
        .collect();
    send(events, Event::Placed(placed)).await;
    if !mismatches.is_empty() {
        return Err(format!(
            "placement does not match the plan: {}",
            mismatches.join("; ")
        ));
    }

    let load = LoadConfig {
        mode: run.load.mode,
        targets: replicas.replicas.iter().map(|r| r.address).collect(),
        connections: run.load.connections,
        cpus: placement.load_cpus.clone(),
        warmup: run.load.warmup,
        duration: run.load.duration,
        timeout: run.load.timeout,
        path: "/".into(),
    };
    phase(events, &name, Phase::Warmup).await;
    let load_cancel = cancel.clone();
    let generator = tokio::task::spawn_blocking(move || loadgen::run(&load, &load_cancel));
    tokio::time::sleep(run.load.warmup).await;
    phase(events, &name, Phase::Measuring).await;
    let (batches_tx, mut batches_rx) = mpsc::channel(64);
    let pids = replicas.replicas.iter().map(|r| (r.index, r.pid)).collect();
    let sampler = Sampler::start(name.clone(), pids, batches_tx);
    let forward_events = events.clone();
    let forward = tokio::spawn(async move {
        while let Some(batch) = batches_rx.recv().await {
            if !send(&forward_events, Event::Samples(batch)).await {
                break;
            }
        }
    });
    let report = generator.await;
    let mut stats = sampler.stop().await;
    let _ = forward.await;
    let report = report
        .map_err(|e| format!("load generator crashed: {e}"))?
        .map_err(|e| format!("load generator: {e}"))?;
    for (stat, replica) in stats.iter_mut().zip(&replicas.replicas) {
        if let Ok(maps) = procfs::read_numa_maps(replica.pid) {
            stat.memory_policy = maps.policy;
            stat.pages_by_node = maps
                .pages_by_node
                .into_iter()
                .map(|(node, pages)| NodePages { node, pages })
                .collect();
        }
    }
    Ok(LayoutSummary {
        layout: name,
        elapsed_ns: report.elapsed.as_nanos() as u64,
        workers: worker_results(&report)?,
        replicas: stats,
    })
}

/// Reads every replica's allowed CPUs and memory policy from /proc and compares them with the plan.
fn read_back(
    layout: &Layout,
    placement: &Placement,
    specs: &[ReplicaSpec],
    replicas: &ReplicaSet,
) -> Placed {
    let mut notes = placement.notes.clone();
    let replicas = specs
        .iter()
        .zip(&replicas.replicas)
        .map(|(spec, replica)| {
            let status = procfs::read_status(replica.pid);
            let maps = procfs::read_numa_maps(replica.pid);
            let actual_cpus = status
                .as_ref()
                .map(|s| s.cpus_allowed.clone())
                .unwrap_or_default();
            let memory_policy = match &maps {
                Ok(m) => m.policy.clone(),
                Err(e) => format!("unreadable ({e})"),
            };
            let cpus_ok = spec.cpus.is_empty() || actual_cpus == spec.cpus;
            let memory_ok = if spec.memory_nodes.is_empty() {
                memory_policy == "default"
            } else {
                memory_policy.starts_with("bind")
                    && procfs::policy_nodes(&memory_policy) == spec.memory_nodes
            };
            if let Err(e) = &status {
                notes.push(format!("replica {}: {e}", spec.index));
            }
            for line in replica
                .stderr_lines()
                .into_iter()
                .filter(|l| l.starts_with("warning:"))
            {
                notes.push(format!("replica {}: {line}", spec.index));
            }
            ReplicaPlacement {
                index: spec.index,
                pid: replica.pid,
                address: replica.address.to_string(),
                intended_cpus: spec.cpus.clone(),
                actual_cpus,
                intended_memory_nodes: spec.memory_nodes.clone(),
                memory_policy,
                placement_ok: cpus_ok && memory_ok,
                worker_threads: spec.worker_threads,
                pages_by_node: maps
                    .map(|m| {
                        m.pages_by_node
                            .into_iter()
                            .map(|(node, pages)| NodePages { node, pages })
                            .collect()
                    })
                    .unwrap_or_default(),
            }
        })
        .collect();
    Placed {
        layout: layout.name.clone(),
        replicas,
        load_cpus: placement.load_cpus.clone(),
        load_shares_cpus: placement.load_shares_cpus,
        notes,
    }
}

fn worker_results(report: &loadgen::LoadReport) -> Result<Vec<WorkerResult>, String> {
    let encode = |h| histogram::encode(h).map_err(|e| e.to_string());
    let mut out = Vec::new();
    for worker in &report.workers {
        for target in &worker.per_target {
            let e = &target.errors;
            out.push(WorkerResult {
                worker: worker.worker,
                replica: target.replica,
                cpu: worker.cpu,
                requests: target.requests,
                errors: Some(v1::ErrorCounts {
                    connect: e.connect,
                    io: e.io,
                    timeout: e.timeout,
                    http_status: e.http_status,
                    parse: e.parse,
                }),
                late_sends: target.late_sends,
                latency_corrected: encode(&target.corrected)?,
                latency_uncorrected: encode(&target.uncorrected)?,
                send_lag: encode(&target.send_lag)?,
                // Worker CPU time is per thread; it is reported once, on the worker's first target.
                cpu_time_ns: if target.replica == worker.per_target.first().map_or(0, |t| t.replica)
                {
                    worker.cpu_time.as_nanos() as u64
                } else {
                    0
                },
            });
        }
    }
    Ok(out)
}

fn bind_text(nodes: &[u32]) -> String {
    if nodes.is_empty() {
        "default".into()
    } else {
        format!("bind:{}", numaload_proto::cpulist::format(nodes))
    }
}

async fn phase(events: &Events, layout: &str, phase: Phase) {
    let at_unix_ns = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let change = PhaseChange {
        layout: layout.to_owned(),
        phase: phase as i32,
        at_unix_ns,
    };
    send(events, Event::Phase(change)).await;
}

/// Sends one event; false when the controller is gone.
async fn send(events: &Events, event: Event) -> bool {
    events
        .send(Ok(RunEvent { event: Some(event) }))
        .await
        .is_ok()
}
