//! Hollow agents, for testing the controller at fleet scale (as Kubernetes' hollow nodes test
//! its control plane): [`serve`] runs many agents in one process, each on a port of its own,
//! each speaking the real `numaload.v1.Agent` protocol to the real controller (describe, clock,
//! execute with its events, synchronized starts, cancel), with everything a host would measure
//! made up: no replica is started and no request is sent. What each reports is deterministic
//! ([`synth`]), so a test can check the controller's merge exactly.
//!
//! It can never pass for a measurement: it runs only as `numaload agent --hollow N`, which no
//! plan or controller can ask of an agent; every `Describe` says `simulated`, which the
//! controller refuses unless told (`run --simulated`); and a result with a hollow agent in it
//! says so on every layout and report. `service.rs` answers the calls, `synth.rs` makes up
//! the figures.

mod service;
pub mod synth;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::{TcpListener, TcpSocket};
use tokio_stream::wrappers::ReceiverStream;

use service::{HollowAgent, HollowFleet};

/// Binds `count` hollow agents' sockets on `first`'s address: on `count` consecutive ports from
/// `first`'s, or, when its port is 0, on ports the system picks. Returns them in agent order
/// (agent `i` is the `i`-th), bound but not yet listening: nothing answers on any of them until
/// [`serve`], so a caller can say where they are first.
pub fn bind(first: SocketAddr, count: u32) -> std::io::Result<Vec<TcpSocket>> {
    let mut sockets = Vec::with_capacity(count as usize);
    for i in 0..count {
        let mut address = first;
        if first.port() != 0 {
            let port = u32::from(first.port()) + i;
            let port = u16::try_from(port).map_err(|_| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    format!(
                        "{count} agents from port {} go past port 65535",
                        first.port()
                    ),
                )
            })?;
            address.set_port(port);
        }
        let socket = if address.is_ipv4() {
            TcpSocket::new_v4()?
        } else {
            TcpSocket::new_v6()?
        };
        socket.set_reuseaddr(true)?;
        socket.bind(address)?;
        sockets.push(socket);
    }
    Ok(sockets)
}

/// Serves the hollow agents on `sockets` (agent `i` on the `i`-th, from [`bind`]) until
/// `shutdown` completes; `version` is what each reports as its agent version.
pub async fn serve(
    sockets: Vec<TcpSocket>,
    version: String,
    shutdown: impl std::future::Future<Output = ()> + Send,
) -> Result<(), HollowError> {
    let listeners = sockets
        .into_iter()
        .map(|s| s.listen(1_024))
        .collect::<std::io::Result<Vec<TcpListener>>>()
        .map_err(HollowError::Listen)?;
    let mut agents = HashMap::with_capacity(listeners.len());
    for (index, listener) in listeners.iter().enumerate() {
        if let Ok(address) = listener.local_addr() {
            agents.insert(address, Arc::new(HollowAgent::new(index as u32)));
        }
    }
    // One server for all of them: each call is routed to its agent by the local address the
    // controller dialled. A task per listener hands its connections over.
    let (tx, rx) = tokio::sync::mpsc::channel(1_024);
    for listener in listeners {
        let tx = tx.clone();
        tokio::spawn(async move {
            loop {
                let accepted = listener.accept().await.map(|(stream, _)| stream);
                let failed = accepted.is_err();
                if tx.send(accepted).await.is_err() {
                    return;
                }
                if failed {
                    // Out of descriptors, most likely: not in a tight loop.
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
            }
        });
    }
    tonic::transport::Server::builder()
        .http2_keepalive_interval(Some(std::time::Duration::from_secs(5)))
        .http2_keepalive_timeout(Some(std::time::Duration::from_secs(10)))
        .add_service(HollowFleet::new(agents, version).into_server())
        .serve_with_incoming_shutdown(ReceiverStream::new(rx), shutdown)
        .await
        .map_err(HollowError::Serve)
}

/// Why the hollow agents stopped serving.
#[derive(Debug, thiserror::Error)]
pub enum HollowError {
    #[error("hollow agents: cannot listen: {0}")]
    Listen(std::io::Error),
    #[error("hollow agents: {0}")]
    Serve(tonic::transport::Error),
}
