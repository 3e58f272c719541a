//! A bare hyper HTTP/1.1 hello-world: the baseline `numaload target --variant async` is
//! compared with in `make bench` (scripts/bench/points/target.py). It keeps only what a server must
//! have, set up the way the real target does it — a multi-thread tokio runtime with `--threads`
//! workers (default 1), keep-alive HTTP/1.1, `TCP_NODELAY` — and none of the target's
//! instrumentation: no metrics, no per-request histogram, no `/metrics`, no work knob.
//!
//! ```text
//! cargo run --release -p numaload-target --example bare_hyper -- [--listen ADDR] [--threads N]
//! ```
//!
//! Prints `bare-hyper listening on ADDR` once it accepts connections; runs until killed.

use std::convert::Infallible;
use std::net::SocketAddr;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

fn main() -> anyhow::Result<()> {
    let mut listen: SocketAddr = ([127, 0, 0, 1], 8080).into();
    let mut threads = 1usize;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let value = args
            .next()
            .ok_or_else(|| anyhow::anyhow!("{arg}: needs a value"))?;
        match arg.as_str() {
            "--listen" => listen = value.parse()?,
            "--threads" => threads = value.parse()?,
            other => anyhow::bail!("unknown option {other}; use --listen ADDR, --threads N"),
        }
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads.max(1))
        .enable_all()
        .build()?;
    runtime.block_on(serve(listen))
}

async fn serve(listen: SocketAddr) -> anyhow::Result<()> {
    let listener = TcpListener::bind(listen).await?;
    println!("bare-hyper listening on {}", listener.local_addr()?);
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(accepted) => accepted,
            // Out of descriptors or similar: a baseline server just tries again.
            Err(_) => continue,
        };
        let _ = stream.set_nodelay(true);
        tokio::spawn(async move {
            let _ = http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), service_fn(hello))
                .await;
        });
    }
}

async fn hello(_request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(Response::new(Full::new(Bytes::from_static(b"ok\n"))))
}
