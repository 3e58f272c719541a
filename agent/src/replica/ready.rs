//! The readiness probes: when a replica counts as up.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::output::Output;
use crate::target::Ready;

/// How long one probe attempt may take.
const ATTEMPT: Duration = Duration::from_millis(500);

/// One attempt of `ready` against the replica at `address`.
pub async fn probe(ready: &Ready, address: SocketAddr, output: &Output) -> bool {
    match ready {
        Ready::Line(_) => output.matched(),
        Ready::Tcp => tokio::time::timeout(ATTEMPT, TcpStream::connect(address))
            .await
            .is_ok_and(|r| r.is_ok()),
        Ready::Http(path) => tokio::time::timeout(ATTEMPT, http_ok(address, path))
            .await
            .unwrap_or(false),
    }
}

/// Whether `GET path` answers with a 2xx status.
async fn http_ok(address: SocketAddr, path: &str) -> bool {
    let Ok(mut stream) = TcpStream::connect(address).await else {
        return false;
    };
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\nUser-Agent: numaload-agent\r\n\r\n");
    if stream.write_all(request.as_bytes()).await.is_err() {
        return false;
    }
    let mut head = [0u8; 16];
    let mut read = 0;
    while read < head.len() {
        match stream.read(&mut head[read..]).await {
            Ok(0) | Err(_) => break,
            Ok(n) => read += n,
        }
    }
    status_is_2xx(&head[..read])
}

/// `HTTP/1.x 2NN` at the start of a response.
fn status_is_2xx(head: &[u8]) -> bool {
    head.starts_with(b"HTTP/1.") && head.len() >= 10 && head[8] == b' ' && head[9] == b'2'
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lines() {
        assert!(status_is_2xx(b"HTTP/1.1 200 OK\r\n"));
        assert!(status_is_2xx(b"HTTP/1.0 204 No"));
        assert!(!status_is_2xx(b"HTTP/1.1 503 Unavailable"));
        assert!(!status_is_2xx(b"HTTP/1.1 30"));
        assert!(!status_is_2xx(b"SSH-2.0-OpenSSH"));
    }

    #[tokio::test]
    async fn probes_against_real_sockets() {
        let output = Output::default();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let address = listener.local_addr().expect("address");
        assert!(probe(&Ready::Tcp, address, &output).await);
        let server = tokio::spawn(async move {
            // The TCP probe's connection, first in the backlog.
            drop(listener.accept().await.expect("accept"));
            for status in ["200 OK", "503 Service Unavailable"] {
                let (mut s, _) = listener.accept().await.expect("accept");
                let mut buf = [0u8; 1024];
                let _ = s.read(&mut buf).await;
                let reply = format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\n\r\n");
                let _ = s.write_all(reply.as_bytes()).await;
            }
        });
        let http = Ready::Http("/healthz".into());
        assert!(probe(&http, address, &output).await, "200 is ready");
        assert!(!probe(&http, address, &output).await, "503 is not");
        server.await.expect("server");
        assert!(
            !probe(&Ready::Tcp, address, &output).await,
            "nothing listens any more"
        );
    }
}
