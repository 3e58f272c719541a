//! One run of a plan on this host: every layout in turn, start to finish.
//!
//! [`prepare`] checks the whole plan and resolves every layout's placement before anything is
//! launched (so a bad plan fails with nothing started); [`execute`] then runs layout after
//! layout — launch pinned replicas, read their placement back, warm up, measure while sampling,
//! stop — and streams `RunEvent`s. Replicas of a layout are always stopped before the next
//! starts, also when the layout fails or the run is cancelled.

use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use numaload_proto::histogram;
use numaload_proto::v1::{
    self, run_event::Event, LayoutFailed, LayoutSummary, LoadMode, NodePages, Phase, PhaseChange,
    Placed, ReplicaPlacement, RunDone, RunEvent, RunPlan, WorkerResult,
};
use tokio::sync::mpsc;

use crate::config::AgentConfig;
use crate::loadgen::{self, Cancel, LoadConfig, Mode};
use crate::placement::{self, Layout, NodePolicy, Placement};
use crate::procfs;
use crate::replica::{ReplicaSet, ReplicaSpec, TargetCommand};
use crate::sampler::{Sampled, Sampler};
use crate::topology::HostTopology;

/// A plan checked against this agent and this host, ready to run.
#[derive(Debug, Clone)]
pub struct PreparedRun {
    pub run_id: String,
    /// Wait for a `Start` call after placing each layout (synchronized multi-agent runs).
    pub wait_for_start: bool,
    pub start_timeout: Duration,
    /// Whether to calibrate the host before the first layout.
    pub calibrate: bool,
    pub load: LoadPlan,
    pub layouts: Vec<PreparedLayout>,
}

/// One layout, placed, with the target command its replicas run.
#[derive(Debug, Clone)]
pub struct PreparedLayout {
    pub layout: Layout,
    pub placement: Placement,
    pub target: TargetCommand,
    pub work_us: u64,
}

/// The load section, validated.
#[derive(Debug, Clone)]
pub struct LoadPlan {
    pub mode: Mode,
    pub connections: u32,
    pub duration: Duration,
    pub warmup: Duration,
    pub timeout: Duration,
    /// Closed loop: nap before blocking while the server has a backlog.
    pub coalesce: bool,
    /// Closed loop: busy-poll an adaptive window before blocking when no nap is due.
    pub spin: bool,
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
    let load = load_plan(plan.load.as_ref().ok_or("[load]: missing from the plan")?)?;
    let reserve = plan.load.as_ref().map_or(0, |l| l.reserve_cpus);
    if plan.layouts.is_empty() {
        return Err("[[layouts]]: the plan has no layout; add at least one".into());
    }
    check_limits(plan, &load, &config.limits)?;
    let mut layouts = Vec::with_capacity(plan.layouts.len());
    for spec in &plan.layouts {
        // A layout may run the target with its own knobs (e.g. another ffi dispatch mode).
        let target_spec = spec.target.as_ref().unwrap_or(target_spec);
        let (target, work_us) = target_command(target_spec, config)
            .map_err(|e| format!("layouts[\"{}\"] {e}", spec.name))?;
        // Before placing: placement builds one entry per replica, so a huge count must be
        // refused first (the fuzzer's 4-billion-replica plan).
        if let Some(v1::layout_spec::Replicas::Count(n)) = spec.replicas {
            if n as usize > config.limits.max_replicas {
                return Err(format!(
                    "layouts[\"{}\"] replicas = {n}: exceeds this agent's limit of {} (its \
                     config's limits.max_replicas)",
                    spec.name, config.limits.max_replicas
                ));
            }
        }
        let layout = Layout::try_from(spec).map_err(|e| e.to_string())?;
        let placement = placement::place(topology, &layout, reserve).map_err(|e| e.to_string())?;
        if placement.replicas.len() > config.limits.max_replicas {
            return Err(format!(
                "layouts[\"{}\"]: {} replicas exceed this agent's limit of {} (its config's limits.max_replicas)",
                spec.name,
                placement.replicas.len(),
                config.limits.max_replicas
            ));
        }
        layouts.push(PreparedLayout {
            layout,
            placement,
            target,
            work_us,
        });
    }
    let start_timeout_ms = if plan.start_timeout_ms == 0 {
        60_000
    } else {
        plan.start_timeout_ms
    };
    Ok(PreparedRun {
        run_id: plan.run_id.clone(),
        wait_for_start: plan.wait_for_start,
        start_timeout: Duration::from_millis(start_timeout_ms),
        calibrate: !plan.skip_calibration,
        load,
        layouts,
    })
}

/// The command that starts `target` on this agent, with its knobs, and its work per request.
fn target_command(
    target: &v1::TargetSpec,
    config: &AgentConfig,
) -> Result<(TargetCommand, u64), String> {
    let mut command = config.target(&target.name)?.clone();
    command.args.extend(target_knobs(target)?);
    if target.work_us > config.limits.max_work_us {
        return Err(format!(
            "[target] work_us = {} exceeds this agent's limit of {} (its config's \
             limits.max_work_us); ask for less",
            target.work_us, config.limits.max_work_us
        ));
    }
    Ok((command, target.work_us))
}

/// The command-line flags for the plan's target knobs (the agent adds `--listen`, `--threads`
/// and `--work-us` itself); only knobs the plan set are passed, so each variant's own defaults
/// and checks apply.
fn target_knobs(target: &v1::TargetSpec) -> Result<Vec<String>, String> {
    use v1::{FfiDispatch, WorkMode};
    let mut args = Vec::new();
    match WorkMode::try_from(target.work_mode) {
        Ok(WorkMode::Unspecified) => {}
        Ok(WorkMode::Spin) => args.extend(["--work-mode".into(), "spin".into()]),
        Ok(WorkMode::Sleep) => args.extend(["--work-mode".into(), "sleep".into()]),
        Err(_) => {
            return Err(format!(
                "[target] work_mode = {}: unknown; use \"spin\" or \"sleep\"",
                target.work_mode
            ))
        }
    }
    let dispatch = match FfiDispatch::try_from(target.dispatch) {
        Ok(FfiDispatch::Unspecified) => None,
        Ok(FfiDispatch::SpawnBlocking) => Some("spawn-blocking"),
        Ok(FfiDispatch::Bounded) => Some("bounded"),
        Ok(FfiDispatch::Inline) => Some("inline"),
        Ok(FfiDispatch::PinnedPool) => Some("pinned-pool"),
        Err(_) => return Err(format!("[target] dispatch = {}: unknown", target.dispatch)),
    };
    if let Some(dispatch) = dispatch {
        args.extend(["--dispatch".into(), dispatch.into()]);
    }
    if target.limit > 0 {
        args.extend(["--limit".into(), target.limit.to_string()]);
    }
    if target.pool_threads > 0 {
        args.extend(["--pool-threads".into(), target.pool_threads.to_string()]);
    }
    Ok(args)
}

/// Decodes an encoded `RunPlan` and prepares it: the whole path untrusted bytes take before
/// anything is launched (fuzzed in `fuzz/`).
pub fn decode_and_prepare(
    bytes: &[u8],
    config: &AgentConfig,
    topology: &HostTopology,
) -> Result<PreparedRun, String> {
    use prost::Message as _;
    if bytes.len() > config.limits.max_plan_bytes {
        return Err(format!(
            "the plan is {} bytes, over this agent's limit of {} (limits.max_plan_bytes)",
            bytes.len(),
            config.limits.max_plan_bytes
        ));
    }
    let plan =
        RunPlan::decode(bytes).map_err(|e| format!("the plan is not a valid RunPlan: {e}"))?;
    prepare(&plan, config, topology)
}

fn check_limits(
    plan: &RunPlan,
    load: &LoadPlan,
    limits: &crate::config::Limits,
) -> Result<(), String> {
    let over = |what: &str, value: String, limit: String, key: &str| {
        Err(format!(
            "{what} = {value} exceeds this agent's limit of {limit} (its config's limits.{key}); ask for less"
        ))
    };
    if plan.layouts.len() > limits.max_layouts {
        return over(
            "[[layouts]] count",
            plan.layouts.len().to_string(),
            limits.max_layouts.to_string(),
            "max_layouts",
        );
    }
    let layout_time = load.warmup.saturating_add(load.duration);
    if layout_time > limits.max_layout_time {
        return over(
            "[load] warmup + duration",
            format!("{layout_time:?}"),
            format!("{:?}", limits.max_layout_time),
            "max_layout_time",
        );
    }
    if load.connections > limits.max_connections {
        return over(
            "[load] connections",
            load.connections.to_string(),
            limits.max_connections.to_string(),
            "max_connections",
        );
    }
    Ok(())
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
        coalesce: !load.no_coalesce,
        spin: !load.no_spin,
    })
}

/// Where events go; a send fails only when the controller has gone away.
pub type Events = mpsc::Sender<Result<RunEvent, tonic::Status>>;

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

/// What every step of a layout needs from the run around it.
struct LayoutContext<'a> {
    run: &'a PreparedRun,
    config: &'a AgentConfig,
    events: &'a Events,
    cancel: &'a Cancel,
    starts: &'a StartSignal,
}

async fn run_layout(ctx: &LayoutContext<'_>, prepared: &PreparedLayout) -> Result<(), String> {
    let (layout, placement) = (&prepared.layout, &prepared.placement);
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
            work_us: prepared.work_us,
        })
        .collect();
    let replicas = ReplicaSet::spawn_all(&prepared.target, &specs, config.ready_within)
        .await
        .map_err(|e| format!("launching replicas: {e}"))?;
    let running = replicas.replicas.len() as u64;
    config
        .metrics
        .replicas_running
        .fetch_add(running, Ordering::Relaxed);
    // From here on, every path stops the replicas (and dropping the set kills them anyway).
    let outcome = measure(ctx, layout, placement, &specs, &replicas).await;
    phase(events, &name, Phase::Stopping).await;
    replicas.stop_all(config.stop_grace).await;
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

async fn measure(
    ctx: &LayoutContext<'_>,
    layout: &Layout,
    placement: &Placement,
    specs: &[ReplicaSpec],
    replicas: &ReplicaSet,
) -> Result<LayoutSummary, String> {
    let LayoutContext {
        run,
        events,
        cancel,
        starts,
        ..
    } = *ctx;
    let name = layout.name.clone();
    settle_stderr(replicas).await;
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
                intended_policy(specs, r.index),
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

    if run.wait_for_start {
        let start_at = starts
            .wait_for(&name, run.start_timeout, cancel)
            .await
            .ok_or_else(|| {
                format!(
                    "no start signal from the controller within {:?} (or the run was cancelled)",
                    run.start_timeout
                )
            })?;
        sleep_until_unix_ns(start_at).await;
    }
    let live = loadgen::Live::default();
    let load = LoadConfig {
        mode: run.load.mode,
        targets: replicas.replicas.iter().map(|r| r.address).collect(),
        connections: run.load.connections,
        cpus: placement.load_cpus.clone(),
        warmup: run.load.warmup,
        duration: run.load.duration,
        timeout: run.load.timeout,
        coalesce: run.load.coalesce,
        spin: run.load.spin,
        live: Some(live.clone()),
        requests: Vec::new(),
        expect_status: Vec::new(),
    };
    phase(events, &name, Phase::Warmup).await;
    let load_cancel = cancel.clone();
    let generator = tokio::task::spawn_blocking(move || loadgen::run(&load, &load_cancel));
    tokio::time::sleep(run.load.warmup).await;
    phase(events, &name, Phase::Measuring).await;
    let (batches_tx, mut batches_rx) = mpsc::channel(64);
    let sampled = replicas
        .replicas
        .iter()
        .map(|r| Sampled {
            replica: r.index,
            pid: r.pid,
            metrics: Some(r.address),
        })
        .collect();
    let sampler = Sampler::start(name.clone(), sampled, batches_tx);
    let forward_events = events.clone();
    let forward = tokio::spawn(async move {
        while let Some(batch) = batches_rx.recv().await {
            if !send(&forward_events, Event::Samples(batch)).await {
                break;
            }
        }
    });
    let live_view = tokio::spawn(report_live(live, name.clone(), events.clone()));
    let report = generator.await;
    // Stopped and awaited, so that no live figure follows the summary.
    live_view.abort();
    let _ = live_view.await;
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

/// Lets the replicas' stderr readers catch up before their `warning:` lines are collected: a
/// replica writes its knobs and warnings before it announces readiness, but another task reads
/// them (and may be late, e.g. when the agent's own cgroup quota throttles it). Waits until every
/// replica printed something and the lines stopped coming for 20 ms, at most 250 ms.
async fn settle_stderr(replicas: &ReplicaSet) {
    let counts = || -> Vec<usize> {
        replicas
            .replicas
            .iter()
            .map(|r| r.stderr_lines().len())
            .collect()
    };
    let deadline = tokio::time::Instant::now() + Duration::from_millis(250);
    let mut last = counts();
    let mut stable_since = tokio::time::Instant::now();
    while tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
        let now = counts();
        if now != last {
            last = now;
            stable_since = tokio::time::Instant::now();
        } else if last.iter().all(|&n| n > 0) && stable_since.elapsed() >= Duration::from_millis(20)
        {
            break;
        }
    }
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
            let memory_ok = memory_matches(spec, &memory_policy);
            if let Err(e) = &status {
                notes.push(format!("replica {}: {e}", spec.index));
            }
            let warnings: Vec<String> = replica
                .stderr_lines()
                .into_iter()
                .filter(|l| l.starts_with("warning:"))
                .collect();
            for line in &warnings {
                notes.push(format!("replica {}: {line}", spec.index));
            }
            ReplicaPlacement {
                index: spec.index,
                pid: replica.pid,
                address: replica.address.to_string(),
                intended_cpus: spec.cpus.clone(),
                actual_cpus,
                intended_memory_nodes: spec.memory_nodes.clone(),
                intended_memory_policy: spec.memory_policy.describe(&spec.memory_nodes),
                cgroup: Some(crate::cgroup::wire_limits_of(replica.pid)),
                warnings,
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
                ..Default::default()
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
                // Worker CPU time, naps and spins are per thread; they are reported once, on the
                // worker's first target.
                ..if target.replica == worker.per_target.first().map_or(0, |t| t.replica) {
                    v1::WorkerResult {
                        cpu_time_ns: worker.cpu_time.as_nanos() as u64,
                        naps: worker.naps,
                        napped_ns: worker.napped.as_nanos() as u64,
                        spins: worker.spins,
                        spun_ns: worker.spun.as_nanos() as u64,
                        ..Default::default()
                    }
                } else {
                    v1::WorkerResult::default()
                }
            });
        }
    }
    Ok(out)
}

/// Every [`LIVE_EVERY`] while measuring: what the generator measured since the last time, as a
/// `LoadProgress` event. Runs until aborted.
async fn report_live(live: loadgen::Live, layout: String, events: Events) {
    let mut tick = tokio::time::interval(LIVE_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last = tick.tick().await;
    loop {
        let now = tick.tick().await;
        let figures = live.take();
        let progress = v1::LoadProgress {
            layout: layout.clone(),
            requests: figures.requests,
            interval_ms: now.duration_since(last).as_millis() as u64,
            p99_ns: figures
                .p99_ns
                .map_or(-1, |ns| i64::try_from(ns).unwrap_or(i64::MAX)),
        };
        last = now;
        if !send(&events, Event::Load(progress)).await {
            return;
        }
    }
}

/// How often the live view reports.
const LIVE_EVERY: Duration = Duration::from_secs(1);

/// Whether the policy numa_maps shows is the one `spec` asked for: `default` for none, else the
/// same mode (`bind`, `interleave`) over exactly the same nodes.
fn memory_matches(spec: &ReplicaSpec, actual: &str) -> bool {
    if spec.memory_nodes.is_empty() || spec.memory_policy == NodePolicy::Default {
        return actual == "default";
    }
    procfs::policy_mode(actual) == Some(spec.memory_policy)
        && procfs::policy_nodes(actual) == spec.memory_nodes
}

/// The intended policy of replica `index` as numa_maps would print it.
fn intended_policy(specs: &[ReplicaSpec], index: u32) -> String {
    specs
        .iter()
        .find(|s| s.index == index)
        .map_or_else(String::new, |s| s.memory_policy.describe(&s.memory_nodes))
}

async fn phase(events: &Events, layout: &str, phase: Phase) {
    let at_unix_ns = unix_now_ns();
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

/// Start instants handed to a waiting run by the `Start` RPC, per layout name.
#[derive(Debug, Clone)]
pub struct StartSignal(tokio::sync::watch::Sender<Option<(String, u64)>>);

impl Default for StartSignal {
    fn default() -> Self {
        Self(tokio::sync::watch::channel(None).0)
    }
}

impl StartSignal {
    /// Records the start instant (agent clock, Unix ns) for `layout`.
    pub fn give(&self, layout: &str, start_at_unix_ns: u64) {
        self.0
            .send_replace(Some((layout.to_owned(), start_at_unix_ns)));
    }

    /// The start instant for `layout`, or `None` after `timeout` or on cancel.
    pub async fn wait_for(&self, layout: &str, timeout: Duration, cancel: &Cancel) -> Option<u64> {
        let mut rx = self.0.subscribe();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some((name, at)) = rx.borrow_and_update().clone() {
                if name == layout {
                    return Some(at);
                }
            }
            if cancel.is_cancelled() || tokio::time::Instant::now() >= deadline {
                return None;
            }
            // Wake on a new value, and at least every 50 ms to notice a cancel.
            let _ = tokio::time::timeout(Duration::from_millis(50), rx.changed()).await;
        }
    }
}

/// Nanoseconds since the Unix epoch on this host's clock.
pub fn unix_now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// Sleeps until a wall-clock instant (returns at once if it has passed).
async fn sleep_until_unix_ns(at: u64) {
    let now = unix_now_ns();
    if at > now {
        tokio::time::sleep(Duration::from_nanos(at - now)).await;
    }
}
