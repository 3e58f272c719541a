//! The `ffi` variant: each workload request makes one C call ([`ffi::call`]), dispatched as
//! [`Dispatch`] says, and its metrics ([`FfiCalls`], a [`MetricSource`]).
//!
//! - `spawn-blocking`: `tokio::task::spawn_blocking` per call; the blocking pool grows with the
//!   calls in flight, up to `max_blocking_threads`.
//! - `bounded`: a semaphore of `limit` permits around `spawn_blocking`; the permit travels with
//!   the call, so a request given up by its client still holds it until the C call returns.
//! - `inline`: the call runs while the request future is polled, on the async worker,
//!   blocking every other task of that worker: the experiment that shows why not to.
//! - `pinned-pool`: [`PinnedPool`], pinned threads with per-thread C state.
//!
//! In-flight calls are counted on the thread that makes them, around the C call itself, so
//! the gauge and its high-water mark show the C-call concurrency, not the queue.

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hyper::body::{Bytes, Incoming};
use hyper::header::HeaderValue;
use hyper::service::Service;
use hyper::{Request, Response, StatusCode};
use prometheus_client::encoding::DescriptorEncoder;
use tokio::sync::Semaphore;

use crate::config::{Dispatch, WorkMode};
use crate::ffi::{self, CallReport};
use crate::grpc;
use crate::metrics::{self, MetricSource, RequestStatus, ServerMetrics};
use crate::pinned_pool::{PinnedPool, PoolError};
use crate::response::{metrics_response, text_response, Body};

/// Response header: the kernel thread id that ran the request's C call.
pub const TID_HEADER: &str = "x-numaload-ffi-tid";
/// Response header: the thread that initialised the C state the call used (0: none).
pub const STATE_TID_HEADER: &str = "x-numaload-ffi-state-tid";

/// C calls made, and in flight now and at most.
#[derive(Debug, Default)]
pub(crate) struct FfiCalls {
    in_flight: AtomicU64,
    in_flight_max: AtomicU64,
    calls: AtomicU64,
    /// `Some(threads)` for `pinned-pool`.
    pool_threads: Option<u64>,
}

impl FfiCalls {
    /// Counters for a server dispatching as `dispatch` says.
    pub(crate) fn new(dispatch: Dispatch) -> Self {
        FfiCalls {
            pool_threads: match dispatch {
                Dispatch::PinnedPool { threads } => Some(threads.get() as u64),
                _ => None,
            },
            ..FfiCalls::default()
        }
    }

    /// Makes one C call on this thread, counted.
    fn run(&self, mode: WorkMode, work: Duration) -> CallReport {
        // Relaxed: independent counters; fetch_max keeps the high-water mark exact.
        let now = self.in_flight.fetch_add(1, Ordering::Relaxed) + 1;
        self.in_flight_max.fetch_max(now, Ordering::Relaxed);
        let report = ffi::call(mode, work);
        self.in_flight.fetch_sub(1, Ordering::Relaxed);
        self.calls.fetch_add(1, Ordering::Relaxed);
        report
    }
}

impl MetricSource for FfiCalls {
    fn encode(&self, out: &mut DescriptorEncoder<'_>) -> fmt::Result {
        metrics::gauge(
            out,
            "numaload_ffi_inflight_calls",
            "C calls running now.",
            self.in_flight.load(Ordering::Relaxed),
        )?;
        metrics::gauge(
            out,
            "numaload_ffi_inflight_calls_max",
            "The most C calls that ran at once since start.",
            self.in_flight_max.load(Ordering::Relaxed),
        )?;
        metrics::counter(
            out,
            "numaload_ffi_calls_total",
            "C calls completed.",
            self.calls.load(Ordering::Relaxed),
        )?;
        if let Some(threads) = self.pool_threads {
            metrics::gauge(
                out,
                "numaload_ffi_pool_threads",
                "Pinned OS threads of the pinned-pool dispatch.",
                threads,
            )?;
        }
        Ok(())
    }
}

/// How calls reach C.
#[derive(Debug)]
enum Dispatcher {
    SpawnBlocking,
    Bounded(Arc<Semaphore>),
    Inline,
    PinnedPool(PinnedPool),
}

/// State shared by every connection of the `ffi` variant.
#[derive(Debug)]
pub(crate) struct FfiShared {
    dispatcher: Dispatcher,
    mode: WorkMode,
    work: Duration,
    calls: Arc<FfiCalls>,
    metrics: Arc<ServerMetrics>,
}

impl FfiShared {
    /// Starts the dispatcher (the pool threads of `pinned-pool`). `calls` must be the source
    /// handed to `metrics`, so that `/metrics` shows these calls.
    pub(crate) fn start(
        dispatch: Dispatch,
        mode: WorkMode,
        work_us: u64,
        calls: Arc<FfiCalls>,
        metrics: Arc<ServerMetrics>,
    ) -> Result<Arc<Self>, PoolError> {
        let dispatcher = match dispatch {
            Dispatch::SpawnBlocking => Dispatcher::SpawnBlocking,
            Dispatch::Bounded { limit } => Dispatcher::Bounded(Arc::new(Semaphore::new(
                limit.get().min(Semaphore::MAX_PERMITS),
            ))),
            Dispatch::Inline => Dispatcher::Inline,
            Dispatch::PinnedPool { threads } => Dispatcher::PinnedPool(PinnedPool::start(threads)?),
        };
        Ok(Arc::new(FfiShared {
            dispatcher,
            mode,
            work: Duration::from_micros(work_us),
            calls,
            metrics,
        }))
    }

    /// Runs one C call as dispatched; `Err` with the status to answer when it could not run.
    async fn call(self: Arc<Self>) -> Result<CallReport, RequestStatus> {
        let (mode, work) = (self.mode, self.work);
        match &self.dispatcher {
            Dispatcher::SpawnBlocking => {
                let calls = Arc::clone(&self.calls);
                tokio::task::spawn_blocking(move || calls.run(mode, work))
                    .await
                    .map_err(|_| RequestStatus::Failed)
            }
            Dispatcher::Bounded(semaphore) => {
                let permit = Arc::clone(semaphore)
                    .acquire_owned()
                    .await
                    .map_err(|_| RequestStatus::Unavailable)?;
                let calls = Arc::clone(&self.calls);
                tokio::task::spawn_blocking(move || {
                    let report = calls.run(mode, work);
                    drop(permit);
                    report
                })
                .await
                .map_err(|_| RequestStatus::Failed)
            }
            // Blocks the worker polling this request, on purpose.
            Dispatcher::Inline => Ok(self.calls.run(mode, work)),
            Dispatcher::PinnedPool(pool) => {
                let calls = Arc::clone(&self.calls);
                pool.submit(move || calls.run(mode, work))
                    .await
                    .map_err(|_| RequestStatus::Unavailable)
            }
        }
    }

    /// Stops the pool threads of `pinned-pool` (each tears its C state down); waits for them
    /// on the blocking pool, not on this worker.
    pub(crate) async fn shutdown(self: Arc<Self>) {
        if let Dispatcher::PinnedPool(_) = &self.dispatcher {
            let shared = Arc::clone(&self);
            let _ = tokio::task::spawn_blocking(move || {
                if let Dispatcher::PinnedPool(pool) = &shared.dispatcher {
                    pool.shutdown();
                }
            })
            .await;
        }
    }
}

/// The `ffi` variant's service: `/metrics`, or one dispatched C call and a tiny answer with
/// the call's thread ids in headers (a gRPC `Work` call: its reply, `grpc`; an `Echo` call
/// makes no C call).
#[derive(Debug, Clone)]
pub(crate) struct FfiHandler {
    pub(crate) shared: Arc<FfiShared>,
}

type BoxedResponse = Pin<Box<dyn Future<Output = Result<Response<Body>, Infallible>> + Send>>;

impl Service<Request<Incoming>> for FfiHandler {
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = BoxedResponse;

    fn call(&self, request: Request<Incoming>) -> Self::Future {
        let shared = Arc::clone(&self.shared);
        if request.uri().path() == "/metrics" {
            return Box::pin(async move { Ok(metrics_response(&shared.metrics)) });
        }
        shared.metrics.protocol(request.version());
        if request.uri().path() == grpc::WORK_PATH {
            let metrics = Arc::clone(&shared.metrics);
            return Box::pin(async move {
                let work = || async move { shared.call().await.map(|_| ()) };
                Ok(grpc::call(request, metrics, work).await)
            });
        }
        if request.uri().path() == grpc::ECHO_PATH {
            let metrics = Arc::clone(&shared.metrics);
            return Box::pin(async move { Ok(grpc::echo(request, metrics).await) });
        }
        Box::pin(async move {
            let start = Instant::now();
            let metrics = Arc::clone(&shared.metrics);
            let (status, response) = match shared.call().await {
                Ok(report) => (RequestStatus::Ok, ok_response(&report)),
                Err(status) => (status, error_response(status)),
            };
            metrics.request(status, start.elapsed());
            Ok(response)
        })
    }
}

fn ok_response(report: &CallReport) -> Response<Body> {
    let mut response = text_response(Bytes::from_static(b"ok\n"), "text/plain; charset=utf-8");
    let headers = response.headers_mut();
    headers.insert(TID_HEADER, HeaderValue::from(report.tid));
    headers.insert(
        STATE_TID_HEADER,
        HeaderValue::from(report.state_tid.unwrap_or(0)),
    );
    response
}

fn error_response(status: RequestStatus) -> Response<Body> {
    let body = match status {
        RequestStatus::Unavailable => "shutting down\n",
        _ => "the C call failed\n",
    };
    let mut response = text_response(
        Bytes::from_static(body.as_bytes()),
        "text/plain; charset=utf-8",
    );
    *response.status_mut() =
        StatusCode::from_u16(status.code()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    response
}
