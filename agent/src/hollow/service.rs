//! The hollow agents' side of the gRPC `numaload.v1.Agent` service: one service for all of them,
//! each call routed to its agent by the local address the controller dialled. Each agent runs
//! a plan as a real one's events say it would, on the real clock (launching, a synchronized
//! start, warm-up, measuring, stopping), with [`synth`](super::synth)'s placement, samples and
//! summary; one run at a time, cancelled by `Cancel` or by its controller going away.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use numaload_proto::histogram::HistogramError;
use numaload_proto::v1::agent_server::{Agent, AgentServer};
use numaload_proto::v1::{
    run_event::Event, CancelReply, CancelRequest, CheckReply, ClockReply, ClockRequest,
    DescribeRequest, Domain, HostInfo, LayoutFailed, LayoutSpec, LayoutSummary, NumaNode, Phase,
    PhaseChange, RunDone, RunEvent, RunPlan, SampleBatch, StartReply, StartRequest, Topology,
};
use tokio::sync::{mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::Stream;
use tonic::{Request, Response, Status};

use super::synth;
use crate::loadgen::Cancel;
use crate::run::unix_now_ns;

/// How long a layout waits for its `Start` when the plan does not say (as a real agent does).
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// Every hollow agent of the process, by the address it listens on.
#[derive(Debug)]
pub struct HollowFleet {
    agents: HashMap<SocketAddr, Arc<HollowAgent>>,
    version: String,
    summaries: Arc<Summaries>,
}

/// Each layout's summary per shape ([`synth::shape`]), made up once for every agent of it.
#[derive(Debug, Default)]
struct Summaries(Mutex<HashMap<(String, String, u32), LayoutSummary>>);

impl Summaries {
    /// Agent `agent`'s summary of `layout` in run `plan` (started at `load_started_unix_ns`).
    fn of(
        &self,
        agent: u32,
        plan: &RunPlan,
        layout: &LayoutSpec,
        load_started_unix_ns: u64,
    ) -> Result<LayoutSummary, HistogramError> {
        let key = (
            plan.run_id.clone(),
            layout.name.clone(),
            synth::shape(agent),
        );
        if let Some(summary) = self.0.lock().ok().and_then(|m| m.get(&key).cloned()) {
            return Ok(LayoutSummary {
                load_started_unix_ns,
                ..summary
            });
        }
        let summary = synth::summary(agent, plan, layout, load_started_unix_ns)?;
        if let Ok(mut map) = self.0.lock() {
            // One run at a time per agent, and the runs of one test: a bounded few.
            if map.len() > 4 * synth::SHAPES as usize {
                map.clear();
            }
            map.insert(key, summary.clone());
        }
        Ok(summary)
    }
}

/// One hollow agent: its index (what it is made up from) and its run, if any.
#[derive(Debug)]
pub struct HollowAgent {
    index: u32,
    current: Mutex<Option<CurrentRun>>,
}

#[derive(Debug, Clone)]
struct CurrentRun {
    run_id: String,
    cancel: Cancel,
    /// Wakes the run's waits at once when it is cancelled (a fleet's thousands of waits do not
    /// poll).
    cancelled: Arc<tokio::sync::Notify>,
    /// The latest `Start`: its layout and instant (the agent's clock, Unix ns).
    starts: Arc<watch::Sender<Option<(String, u64)>>>,
}

impl CurrentRun {
    fn cancel(&self) {
        self.cancel.cancel();
        self.cancelled.notify_waiters();
    }

    /// The start instant of `layout`, once a `Start` gives it; `None` after `timeout` or on a
    /// cancel. Woken by either, never polling.
    async fn start_of(&self, layout: &str, timeout: Duration) -> Option<u64> {
        let mut starts = self.starts.subscribe();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some((name, at)) = starts.borrow_and_update().clone() {
                if name == layout {
                    return Some(at);
                }
            }
            let cancelled = self.cancelled.notified();
            tokio::pin!(cancelled);
            cancelled.as_mut().enable();
            if self.cancel.is_cancelled() {
                return None;
            }
            tokio::select! {
                changed = starts.changed() => changed.ok()?,
                () = cancelled => return None,
                () = tokio::time::sleep_until(deadline) => return None,
            }
        }
    }

    /// Waits `span` unless the run is cancelled first (then false).
    async fn wait(&self, span: Duration) -> bool {
        let cancelled = self.cancelled.notified();
        tokio::pin!(cancelled);
        // Registered before the check, so a cancel in between is not missed.
        cancelled.as_mut().enable();
        if self.cancel.is_cancelled() {
            return false;
        }
        tokio::select! {
            () = tokio::time::sleep(span) => !self.cancel.is_cancelled(),
            () = cancelled => false,
        }
    }
}

impl HollowAgent {
    pub fn new(index: u32) -> Self {
        Self {
            index,
            current: Mutex::new(None),
        }
    }
}

impl HollowFleet {
    pub fn new(agents: HashMap<SocketAddr, Arc<HollowAgent>>, version: String) -> Self {
        Self {
            agents,
            version,
            summaries: Arc::default(),
        }
    }

    pub fn into_server(self) -> AgentServer<Self> {
        AgentServer::new(self)
    }

    /// The agent a call was made to.
    fn agent<T>(&self, request: &Request<T>) -> Result<Arc<HollowAgent>, Status> {
        request
            .local_addr()
            .and_then(|address| self.agents.get(&address))
            .cloned()
            .ok_or_else(|| Status::internal("a call to no hollow agent's address"))
    }
}

type EventStream = Pin<Box<dyn Stream<Item = Result<RunEvent, Status>> + Send>>;

#[tonic::async_trait]
impl Agent for HollowFleet {
    async fn describe(
        &self,
        request: Request<DescribeRequest>,
    ) -> Result<Response<HostInfo>, Status> {
        let agent = self.agent(&request)?;
        Ok(Response::new(HostInfo {
            hostname: format!("hollow-{}", agent.index),
            kernel: "simulated".to_owned(),
            cpu_model: "simulated (numaload agent --hollow)".to_owned(),
            agent_version: self.version.clone(),
            topology: Some(Topology {
                pus: 2,
                cores: 2,
                allowed_cpus: vec![0, 1],
                numa_nodes: vec![NumaNode {
                    os_index: 0,
                    cpus: vec![0, 1],
                    memory_bytes: 1 << 30,
                    subtype: String::new(),
                }],
                domains: vec![Domain {
                    cpus: vec![0, 1],
                    nodes: vec![0],
                }],
                packages: 1,
                nics: Vec::new(),
            }),
            cgroup: None,
            replica_address: "127.0.0.1".to_owned(),
            simulated: true,
            now_unix_ns: unix_now_ns(),
        }))
    }

    type ExecuteStream = EventStream;

    async fn execute(
        &self,
        request: Request<RunPlan>,
    ) -> Result<Response<Self::ExecuteStream>, Status> {
        let agent = self.agent(&request)?;
        let plan = request.into_inner();
        let run = CurrentRun {
            run_id: plan.run_id.clone(),
            cancel: Cancel::new(),
            cancelled: Arc::default(),
            starts: Arc::new(watch::channel(None).0),
        };
        {
            let mut current = agent.current.lock().map_err(|_| poisoned())?;
            if let Some(busy) = current.as_ref() {
                return Err(Status::resource_exhausted(format!(
                    "busy: this agent is running {}; wait for it to finish or cancel it",
                    busy.run_id
                )));
            }
            *current = Some(run.clone());
        }
        let (tx, rx) = mpsc::channel(64);
        let summaries = Arc::clone(&self.summaries);
        tokio::spawn(async move {
            let watch = {
                let (tx, run) = (tx.clone(), run.clone());
                // A controller that goes away cancels its run.
                tokio::spawn(async move {
                    tx.closed().await;
                    run.cancel();
                })
            };
            execute(agent.index, &plan, &run, &summaries, &tx).await;
            watch.abort();
            if let Ok(mut current) = agent.current.lock() {
                *current = None;
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }

    async fn check(&self, request: Request<RunPlan>) -> Result<Response<CheckReply>, Status> {
        let plan = request.into_inner();
        Ok(Response::new(CheckReply {
            layouts: plan.layouts.iter().map(synth::placed).collect(),
        }))
    }

    async fn cancel(
        &self,
        request: Request<CancelRequest>,
    ) -> Result<Response<CancelReply>, Status> {
        let agent = self.agent(&request)?;
        let wanted = request.into_inner().run_id;
        let current = agent.current.lock().map_err(|_| poisoned())?;
        let cancelled = match current.as_ref() {
            Some(run) if wanted.is_empty() || run.run_id == wanted => {
                run.cancel();
                true
            }
            _ => false,
        };
        Ok(Response::new(CancelReply { cancelled }))
    }

    async fn clock(&self, _request: Request<ClockRequest>) -> Result<Response<ClockReply>, Status> {
        Ok(Response::new(ClockReply {
            now_unix_ns: unix_now_ns(),
        }))
    }

    async fn start(&self, request: Request<StartRequest>) -> Result<Response<StartReply>, Status> {
        let agent = self.agent(&request)?;
        let start = request.into_inner();
        let current = agent.current.lock().map_err(|_| poisoned())?;
        let accepted = match current.as_ref() {
            Some(run) if run.run_id == start.run_id => {
                run.starts
                    .send_replace(Some((start.layout, start.start_at_unix_ns)));
                true
            }
            _ => false,
        };
        Ok(Response::new(StartReply { accepted }))
    }
}

fn poisoned() -> Status {
    Status::internal("hollow agent state poisoned")
}

type Events = mpsc::Sender<Result<RunEvent, Status>>;

/// Sends one event; false once the controller is gone.
async fn send(tx: &Events, event: Event) -> bool {
    tx.send(Ok(RunEvent { event: Some(event) })).await.is_ok()
}

async fn phase(tx: &Events, layout: &str, phase: Phase) -> bool {
    send(
        tx,
        Event::Phase(PhaseChange {
            layout: layout.to_owned(),
            phase: phase as i32,
            at_unix_ns: unix_now_ns(),
        }),
    )
    .await
}

/// Runs `plan` as hollow agent `agent` would: every layout's events on the real clock, the
/// figures made up.
async fn execute(agent: u32, plan: &RunPlan, run: &CurrentRun, summaries: &Summaries, tx: &Events) {
    let load = plan.load.clone().unwrap_or_default();
    let start_timeout = match plan.start_timeout_ms {
        0 => START_TIMEOUT,
        ms => Duration::from_millis(ms),
    };
    for layout in &plan.layouts {
        if run.cancel.is_cancelled()
            || !phase(tx, &layout.name, Phase::Launching).await
            || !send(tx, Event::Placed(synth::placed(layout))).await
        {
            break;
        }
        let start_at = if plan.wait_for_start {
            match run.start_of(&layout.name, start_timeout).await {
                Some(at) => at,
                None if run.cancel.is_cancelled() => break,
                None => {
                    let error = format!(
                        "no Start for this layout within {}",
                        humantime::format_duration(start_timeout)
                    );
                    let failed = LayoutFailed {
                        layout: layout.name.clone(),
                        error,
                    };
                    if !send(tx, Event::Failed(failed)).await {
                        break;
                    }
                    continue;
                }
            }
        } else {
            unix_now_ns()
        };
        // To the timer's millisecond: a hollow start needs no finer (a real agent's does, and
        // blocks a thread for it, which thousands of hollow agents must not).
        tokio::time::sleep(Duration::from_nanos(start_at.saturating_sub(unix_now_ns()))).await;
        if !phase(tx, &layout.name, Phase::Warmup).await
            || !run.wait(Duration::from_millis(load.warmup_ms)).await
            || !phase(tx, &layout.name, Phase::Measuring).await
            || !run.wait(Duration::from_millis(load.duration_ms)).await
        {
            break;
        }
        let batch = SampleBatch {
            layout: layout.name.clone(),
            samples: synth::samples(plan, layout),
        };
        let summary = match summaries.of(agent, plan, layout, start_at) {
            Ok(summary) => Event::Summary(summary),
            Err(e) => Event::Failed(LayoutFailed {
                layout: layout.name.clone(),
                error: format!("making up the layout's histograms: {e}"),
            }),
        };
        if !send(tx, Event::Samples(batch)).await
            || !phase(tx, &layout.name, Phase::Stopping).await
            || !send(tx, summary).await
        {
            break;
        }
    }
    let cancelled = run.cancel.is_cancelled();
    send(tx, Event::Done(RunDone { cancelled })).await;
}
