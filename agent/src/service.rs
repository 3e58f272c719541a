//! The gRPC `numaload.v1.Agent` service, and [`serve`] to run it on a listener.
//!
//! One run at a time: a second `Execute` while one is going is refused as `busy`. `Execute`
//! validates and places the whole plan before it returns the stream (a bad plan is an
//! `InvalidArgument` with nothing launched); a controller that goes away cancels its run.
//! `Check` does the same validation and placement, answers where each layout would run, and
//! launches nothing (`numaload plan --agent`).
//! This module is the one place where agent errors become gRPC `Status`es (`Refusal`).

use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use numaload_proto::v1::agent_server::{Agent, AgentServer};
use numaload_proto::v1::{
    CancelReply, CancelRequest, CheckReply, ClockReply, ClockRequest, DescribeRequest, HostInfo,
    RunEvent, RunPlan, StartReply, StartRequest,
};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_stream::wrappers::{ReceiverStream, TcpListenerStream};
use tokio_stream::Stream;
use tonic::{Request, Response, Status};

use crate::config::AgentConfig;
use crate::loadgen::Cancel;
use crate::run::PrepareError;
use crate::topology::TopologyError;
use crate::{host, run, topology};

/// Events buffered between the run and a slow controller before the run waits.
const EVENT_BUFFER: usize = 256;

#[derive(Debug)]
pub struct AgentService {
    config: Arc<AgentConfig>,
    current: Arc<Mutex<Option<CurrentRun>>>,
}

#[derive(Debug, Clone)]
struct CurrentRun {
    run_id: String,
    cancel: Cancel,
    starts: run::StartSignal,
}

impl AgentService {
    pub fn new(config: AgentConfig) -> Self {
        Self {
            config: Arc::new(config),
            current: Arc::default(),
        }
    }

    pub fn into_server(self) -> AgentServer<Self> {
        AgentServer::new(self)
    }
}

/// Serves the agent on `listener` until `shutdown` completes; with `tls`, only controllers
/// presenting a certificate from the fleet CA get through the handshake.
pub async fn serve(
    listener: TcpListener,
    config: AgentConfig,
    tls: Option<tonic::transport::ServerTlsConfig>,
    shutdown: impl std::future::Future<Output = ()> + Send,
) -> Result<(), tonic::transport::Error> {
    let mut builder = tonic::transport::Server::builder();
    if let Some(tls) = tls {
        builder = builder.tls_config(tls)?;
    }
    builder
        // A controller that vanishes (partitioned, killed) is noticed within ~15 s, and its
        // run cancelled: nothing keeps measuring for nobody.
        .http2_keepalive_interval(Some(std::time::Duration::from_secs(5)))
        .http2_keepalive_timeout(Some(std::time::Duration::from_secs(10)))
        .add_service({
            let max = config.limits.max_plan_bytes;
            AgentService::new(config)
                .into_server()
                .max_decoding_message_size(max)
        })
        .serve_with_incoming_shutdown(TcpListenerStream::new(listener), shutdown)
        .await
}

type EventStream = Pin<Box<dyn Stream<Item = Result<RunEvent, Status>> + Send>>;

#[tonic::async_trait]
impl Agent for AgentService {
    async fn describe(
        &self,
        _request: Request<DescribeRequest>,
    ) -> Result<Response<HostInfo>, Status> {
        let topology = discover()?;
        let facts = host::facts();
        Ok(Response::new(HostInfo {
            hostname: facts.hostname,
            kernel: facts.kernel,
            cpu_model: facts.cpu_model,
            agent_version: self.config.version.clone(),
            topology: Some((&topology).into()),
            cgroup: Some(crate::cgroup::wire_limits_of(std::process::id())),
            replica_address: self.config.replica_address.to_string(),
            simulated: false,
            now_unix_ns: run::unix_now_ns(),
        }))
    }

    type ExecuteStream = EventStream;

    async fn execute(
        &self,
        request: Request<RunPlan>,
    ) -> Result<Response<Self::ExecuteStream>, Status> {
        let plan = request.into_inner();
        let topology = discover()?;
        let metrics = Arc::clone(&self.config.metrics);
        let prepared = run::prepare(&plan, &self.config, &topology).map_err(|e| {
            metrics.runs_refused_invalid.fetch_add(1, Ordering::Relaxed);
            Refusal::from(e)
        })?;
        let cancel = Cancel::new();
        let starts = run::StartSignal::default();
        {
            let mut current = self.current.lock().map_err(|_| Refusal::Poisoned)?;
            if let Some(busy) = current.as_ref() {
                metrics.runs_refused_busy.fetch_add(1, Ordering::Relaxed);
                return Err(Refusal::Busy {
                    running: busy.run_id.clone(),
                }
                .into());
            }
            *current = Some(CurrentRun {
                run_id: plan.run_id.clone(),
                cancel: cancel.clone(),
                starts: starts.clone(),
            });
            metrics.runs_started.fetch_add(1, Ordering::Relaxed);
            metrics.runs_active.store(1, Ordering::Relaxed);
        }
        let (tx, rx) = mpsc::channel(EVENT_BUFFER);
        let config = Arc::clone(&self.config);
        let current = Arc::clone(&self.current);
        tokio::spawn(async move {
            // A controller that disconnects cancels its run: nothing keeps running for nobody.
            let watch_tx = tx.clone();
            let watch_cancel = cancel.clone();
            let watcher = tokio::spawn(async move {
                watch_tx.closed().await;
                watch_cancel.cancel();
            });
            run::execute(prepared, &config, tx, cancel, starts).await;
            watcher.abort();
            if let Ok(mut current) = current.lock() {
                *current = None;
            }
            config.metrics.runs_active.store(0, Ordering::Relaxed);
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }

    async fn check(&self, request: Request<RunPlan>) -> Result<Response<CheckReply>, Status> {
        let plan = request.into_inner();
        let topology = discover()?;
        let prepared = run::prepare(&plan, &self.config, &topology).map_err(Refusal::from)?;
        Ok(Response::new(CheckReply {
            layouts: prepared
                .layouts
                .iter()
                .map(|l| run::intended(&l.layout.name, &l.placement))
                .collect(),
        }))
    }

    async fn cancel(
        &self,
        request: Request<CancelRequest>,
    ) -> Result<Response<CancelReply>, Status> {
        let wanted = request.into_inner().run_id;
        let current = self.current.lock().map_err(|_| Refusal::Poisoned)?;
        let cancelled = match current.as_ref() {
            Some(run) if wanted.is_empty() || run.run_id == wanted => {
                run.cancel.cancel();
                true
            }
            _ => false,
        };
        Ok(Response::new(CancelReply { cancelled }))
    }

    async fn clock(&self, _request: Request<ClockRequest>) -> Result<Response<ClockReply>, Status> {
        Ok(Response::new(ClockReply {
            now_unix_ns: run::unix_now_ns(),
        }))
    }

    async fn start(&self, request: Request<StartRequest>) -> Result<Response<StartReply>, Status> {
        let start = request.into_inner();
        let current = self.current.lock().map_err(|_| Refusal::Poisoned)?;
        let accepted = match current.as_ref() {
            Some(run) if run.run_id == start.run_id => {
                run.starts.give(
                    &start.layout,
                    run::Start {
                        at_unix_ns: start.start_at_unix_ns,
                        targets: start.targets,
                    },
                );
                true
            }
            _ => false,
        };
        Ok(Response::new(StartReply { accepted }))
    }
}

/// This host's topology with its network interfaces as sysfs shows them.
fn discover() -> Result<topology::HostTopology, Refusal> {
    let mut host = topology::discover().map_err(Refusal::Topology)?;
    crate::nic::read_host(&mut host);
    Ok(host)
}

/// Why a call is refused: every agent error that reaches a caller goes through here, and its
/// `From` below is the one place it becomes a gRPC status and its text.
#[derive(Debug, thiserror::Error)]
enum Refusal {
    /// A plan this agent refuses: `InvalidArgument`, nothing launched.
    #[error(transparent)]
    Plan(#[from] PrepareError),
    /// Another run is going: `ResourceExhausted`.
    #[error("busy: this agent is running {running}; wait for it to finish or cancel it")]
    Busy { running: String },
    #[error("reading this host's topology: {0}")]
    Topology(TopologyError),
    /// A thread panicked holding the run's state.
    #[error("agent state poisoned")]
    Poisoned,
}

impl From<Refusal> for Status {
    fn from(refusal: Refusal) -> Status {
        let message = refusal.to_string();
        match refusal {
            Refusal::Plan(_) => Status::invalid_argument(message),
            Refusal::Busy { .. } => Status::resource_exhausted(message),
            Refusal::Topology(_) | Refusal::Poisoned => Status::internal(message),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_refusal_has_its_code_and_its_text() {
        let cases = [
            (
                Refusal::Plan(PrepareError::NoLayouts),
                tonic::Code::InvalidArgument,
                "layouts: the plan has no layout; add at least one",
            ),
            (
                Refusal::Busy {
                    running: "run-7".into(),
                },
                tonic::Code::ResourceExhausted,
                "busy: this agent is running run-7; wait for it to finish or cancel it",
            ),
            (
                Refusal::Poisoned,
                tonic::Code::Internal,
                "agent state poisoned",
            ),
        ];
        for (refusal, code, message) in cases {
            let status = Status::from(refusal);
            assert_eq!((status.code(), status.message()), (code, message));
        }
        let topology = topology::from_synthetic("bogus:2").expect_err("not a topology");
        let status = Status::from(Refusal::Topology(topology));
        assert_eq!(status.code(), tonic::Code::Internal);
        assert!(
            status
                .message()
                .starts_with("reading this host's topology: "),
            "{status:?}"
        );
    }
}
