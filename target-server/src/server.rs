//! The accept loop, connection handling and the `async` variant's handler (the `ffi` variant's
//! is in `dispatch`). Each connection speaks HTTP/1.1 or HTTP/2, as its first bytes say
//! (hyper-util's auto builder reads the HTTP/2 preface: h2c with prior knowledge, or h2 after
//! a TLS handshake that chose it by ALPN); gRPC calls (`grpc`) reach the same handlers.

use std::convert::Infallible;
use std::future::{ready, Future};
use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hyper::body::{Bytes, Incoming};
use hyper::service::Service;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::Handle;
use tokio::sync::{mpsc, watch};
use tokio_rustls::TlsAcceptor;

use crate::config::{ServerConfig, TargetError, Variant};
use crate::dispatch::{FfiCalls, FfiHandler, FfiShared};
use crate::grpc;
use crate::metrics::{MetricSource, RequestStatus, ServerMetrics};
use crate::response::{metrics_response, Body, Reply};
use crate::work;

/// Concurrent streams a client may open on one HTTP/2 connection: above what a load test asks
/// (`streams`), so the server's limit never caps the measurement.
const MAX_CONCURRENT_STREAMS: u32 = 1024;

/// How long in-flight requests get to finish after the shutdown signal.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// Serves HTTP/1.1 and HTTP/2 on `listener` until `shutdown` completes, then stops accepting, lets
/// in-flight requests finish (idle keep-alive connections close at once) and returns:
/// [`Server::new`] then [`Server::serve`].
///
/// Must run inside a tokio runtime; `/metrics` reports that runtime.
pub async fn serve(
    listener: TcpListener,
    config: ServerConfig,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    Server::new(config)?.serve(listener, shutdown).await
}

/// A server ready to take connections: its metrics exist and, with `--dispatch pinned-pool`,
/// its pool threads are pinned and have their C state. `run` makes it before announcing
/// readiness, so that a pool that cannot start fails before the readiness line.
pub struct Server {
    variant: VariantState,
    /// Connections that open with a TLS handshake are served over TLS ([`crate::tls`]).
    tls: Option<TlsAcceptor>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("variant", &self.variant)
            .field("tls", &self.tls.is_some())
            .finish()
    }
}

#[derive(Debug)]
enum VariantState {
    Async(AsyncHandler, Arc<ServerMetrics>),
    Ffi(Arc<FfiShared>, Arc<ServerMetrics>),
}

impl Server {
    /// Validates `config` and sets the variant up. Must run inside the tokio runtime that
    /// will serve: `/metrics` reports it. Blocks while pool threads start (microseconds each).
    pub fn new(config: ServerConfig) -> anyhow::Result<Self> {
        config.validate()?;
        let variant = match config.variant {
            Variant::Async => {
                let metrics = Arc::new(ServerMetrics::new(
                    Handle::current(),
                    config.work_us,
                    Vec::new(),
                ));
                let handler = AsyncHandler {
                    shared: Arc::new(Shared {
                        work: Duration::from_micros(config.work_us),
                        metrics: Arc::clone(&metrics),
                    }),
                };
                VariantState::Async(handler, metrics)
            }
            Variant::Ffi => {
                let calls = Arc::new(FfiCalls::new(config.dispatch));
                let metrics = Arc::new(ServerMetrics::new(
                    Handle::current(),
                    config.work_us,
                    vec![Arc::clone(&calls) as Arc<dyn MetricSource>],
                ));
                let shared = FfiShared::start(
                    config.dispatch,
                    config.work_mode,
                    config.work_us,
                    calls,
                    Arc::clone(&metrics),
                )?;
                VariantState::Ffi(shared, metrics)
            }
        };
        Ok(Server { variant, tls: None })
    }

    /// Serves TLS too, on the same port: a connection that opens with a TLS handshake gets
    /// `acceptor`'s certificate, any other is served in clear text.
    pub fn with_tls(self, acceptor: TlsAcceptor) -> Self {
        Self {
            tls: Some(acceptor),
            ..self
        }
    }

    /// Serves until `shutdown` completes, drains, and (`pinned-pool`) stops the pool threads,
    /// each tearing its C state down, before returning.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()>,
    ) -> anyhow::Result<()> {
        let tls = self.tls;
        match self.variant {
            VariantState::Async(handler, metrics) => {
                accept_loop(listener, tls, handler, metrics, shutdown).await
            }
            VariantState::Ffi(shared, metrics) => {
                let handler = FfiHandler {
                    shared: Arc::clone(&shared),
                };
                let served = accept_loop(listener, tls, handler, metrics, shutdown).await;
                shared.shutdown().await;
                served
            }
        }
    }
}

/// Accepts connections and serves each with a clone of `service` on its own task.
async fn accept_loop<S>(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    service: S,
    metrics: Arc<ServerMetrics>,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()>
where
    S: Service<Request<Incoming>, Response = Response<Body>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    // No header-read timeout (it needs a timer): with one, hyper also closes keep-alive
    // connections idle for 30 s, which a load generator between phases must not see.
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder.http1().keep_alive(true);
    builder
        .http2()
        .max_concurrent_streams(MAX_CONCURRENT_STREAMS);
    let builder = Arc::new(builder);

    // Every connection task holds a clone of `live`; `recv` on `drained` returns `None` once
    // they are all gone.
    let (live, mut drained) = mpsc::channel::<Infallible>(1);
    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::pin!(shutdown);

    loop {
        let stream = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => stream,
                Err(e) => {
                    on_accept_error(&metrics, &e).await;
                    continue;
                }
            },
        };
        // Without NODELAY small responses wait for the peer's delayed ACK (~40 ms).
        // Failure only costs latency, and the metrics will show it; keep serving.
        let _ = stream.set_nodelay(true);
        let serving = Serving {
            builder: Arc::clone(&builder),
            stop: stop_rx.clone(),
            live: live.clone(),
            metrics: Arc::clone(&metrics),
        };
        let service = service.clone();
        match &tls {
            None => {
                tokio::spawn(serve_connection(serving, stream, service));
            }
            Some(acceptor) => {
                tokio::spawn(serve_either(serving, acceptor.clone(), stream, service));
            }
        }
    }

    drop(listener);
    let _ = stop_tx.send(true);
    drop(live);
    if tokio::time::timeout(DRAIN_TIMEOUT, drained.recv())
        .await
        .is_err()
    {
        eprintln!(
            "numaload-target: connections still busy after {DRAIN_TIMEOUT:?}; exiting anyway"
        );
    }
    Ok(())
}

/// Counts an accept error and logs it sparingly (at the 1st, 2nd, 4th, 8th, ... occurrence),
/// so that a flood of them cannot flood stderr. Errors of the process (out of file
/// descriptors, memory) pause accepting briefly instead of spinning.
async fn on_accept_error(metrics: &ServerMetrics, error: &io::Error) {
    let count = metrics.accept_error();
    if count.is_power_of_two() {
        eprintln!("numaload-target: accept failed ({count} so far): {error}");
    }
    let per_connection = matches!(
        error.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionRefused
            | io::ErrorKind::Interrupted
    );
    if !per_connection {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// What serving a connection needs besides its stream and service.
struct Serving {
    builder: Arc<auto::Builder<TokioExecutor>>,
    stop: watch::Receiver<bool>,
    /// Held until the connection ends (see `accept_loop`).
    live: mpsc::Sender<Infallible>,
    metrics: Arc<ServerMetrics>,
}

/// Serves a connection over TLS when it opens with a handshake, else in clear text. A failed
/// handshake is a connection that ended in error.
async fn serve_either<S>(serving: Serving, acceptor: TlsAcceptor, stream: TcpStream, service: S)
where
    S: Service<Request<Incoming>, Response = Response<Body>, Error = Infallible>,
    S::Future: Send + 'static,
{
    if !crate::tls::starts_with_handshake(&stream).await {
        return serve_connection(serving, stream, service).await;
    }
    match acceptor.accept(stream).await {
        Ok(tls) => serve_connection(serving, tls, service).await,
        Err(_) => {
            serving.metrics.connection_opened();
            serving.metrics.connection_closed(true);
        }
    }
}

/// Serves one connection until the peer closes it or `stop` asks for a graceful shutdown.
/// Connection errors (resets, malformed requests) are counted, never propagated.
async fn serve_connection<S, IO>(serving: Serving, stream: IO, service: S)
where
    S: Service<Request<Incoming>, Response = Response<Body>, Error = Infallible>,
    S::Future: Send + 'static,
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let Serving {
        builder,
        mut stop,
        live: _live,
        metrics,
    } = serving;
    metrics.connection_opened();
    let conn = builder.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    let mut stopping = false;
    let result = loop {
        tokio::select! {
            result = conn.as_mut() => break result,
            _ = stop.wait_for(|stop| *stop), if !stopping => {
                stopping = true;
                conn.as_mut().graceful_shutdown();
            }
        }
    };
    metrics.connection_closed(result.is_err());
}

/// State shared by every connection of the `async` variant.
#[derive(Debug)]
struct Shared {
    work: Duration,
    metrics: Arc<ServerMetrics>,
}

/// The `async` variant: `/metrics`, or `work` of CPU on the worker and a tiny 200.
#[derive(Debug, Clone)]
struct AsyncHandler {
    shared: Arc<Shared>,
}

impl Service<Request<Incoming>> for AsyncHandler {
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = Reply;

    fn call(&self, request: Request<Incoming>) -> Self::Future {
        match request.uri().path() {
            "/metrics" => return Reply::now(metrics_response(&self.shared.metrics)),
            grpc::WORK_PATH => {
                let shared = Arc::clone(&self.shared);
                shared.metrics.protocol(request.version());
                let metrics = Arc::clone(&shared.metrics);
                return Reply::Later(Box::pin(grpc::call(request, metrics, move || {
                    // As below: the spin holds the worker.
                    std::hint::black_box(work::spin_for(shared.work));
                    ready(Ok(()))
                })));
            }
            grpc::ECHO_PATH => {
                let metrics = Arc::clone(&self.shared.metrics);
                metrics.protocol(request.version());
                return Reply::Later(Box::pin(grpc::echo(request, metrics)));
            }
            _ => {}
        }
        self.shared.metrics.protocol(request.version());
        let start = Instant::now();
        // The spin holds this worker on purpose: the async variant measures CPU-bound handlers.
        std::hint::black_box(work::spin_for(self.shared.work));
        self.shared
            .metrics
            .request(RequestStatus::Ok, start.elapsed());
        // Status, length and date only (hyper adds the last two), as a bare hello-world: a
        // header map allocated and written for every request is overhead the benchmark of
        // this target against bare hyper (`make bench`, point 4) counts.
        Reply::now(Response::new(Body::new(Bytes::from_static(b"ok\n"))))
    }
}

/// The `/metrics` page.
/// Binds `addr`, naming `--listen` in the error.
pub(crate) async fn bind(addr: std::net::SocketAddr) -> Result<TcpListener, TargetError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| TargetError::Bind { addr, source })
}
