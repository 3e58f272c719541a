//! HTTP/2 and gRPC on the server's one port, with clients nobody here wrote: tonic (hyper and
//! h2) calls `numaload.bench.v1.Bench/Work` and gets each status it asks for, and `Echo` and
//! gets its payload back, and `h2load` (Debian's `nghttp2-client`) loads the server over h2c
//! with prior knowledge and over TLS with h2 chosen by ALPN; `/metrics` counts the HTTP/2
//! requests and the calls by method and status.

use std::process::Command;

use numaload_target::grpc::{EchoReply, EchoRequest, WorkReply, WorkRequest, ECHO_PATH, WORK_PATH};
use numaload_target::tls::{acceptor, Identity};
use numaload_target::{Server, ServerConfig};
use tokio::net::TcpListener;
use tonic::codegen::http::uri::PathAndQuery;

use crate::common::{TestServer, OK_REQUESTS};

const H2_REQUESTS: &str = "numaload_http2_requests_total";

/// One unary call of `Work` over a fresh h2c channel.
async fn call(
    addr: std::net::SocketAddr,
    request: WorkRequest,
) -> Result<WorkReply, tonic::Status> {
    unary(addr, WORK_PATH, request).await
}

/// One unary call of `Echo` over a fresh h2c channel.
async fn echo(addr: std::net::SocketAddr, payload: &'static [u8]) -> EchoReply {
    let request = EchoRequest {
        payload: payload.into(),
    };
    unary(addr, ECHO_PATH, request).await.expect("echo")
}

/// The series counting calls of `method` answered with `code`.
fn grpc_series(method: &str, code: u32) -> String {
    format!("numaload_grpc_requests_total{{method=\"{method}\",grpc_status=\"{code}\"}}")
}

/// One unary call of the method at `path` over a fresh h2c channel.
async fn unary<Q, R>(
    addr: std::net::SocketAddr,
    path: &'static str,
    request: Q,
) -> Result<R, tonic::Status>
where
    Q: prost::Message + Send + Sync + 'static,
    R: prost::Message + Default + Send + Sync + 'static,
{
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .expect("uri")
        .connect()
        .await
        .expect("h2c connection");
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.expect("ready");
    grpc.unary(
        tonic::Request::new(request),
        PathAndQuery::from_static(path),
        tonic_prost::ProstCodec::default(),
    )
    .await
    .map(tonic::Response::into_inner)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_calls_get_their_reply_and_the_status_they_ask_for() {
    let _turn = crate::turns::beside_others();
    let server = TestServer::start(10).await;
    let reply = call(
        server.addr,
        WorkRequest {
            payload: b"hello"[..].into(),
            reply_status: 0,
        },
    )
    .await
    .expect("status 0");
    assert_eq!(&reply.payload[..], b"hello");

    let status = call(
        server.addr,
        WorkRequest {
            payload: b"x"[..].into(),
            reply_status: 9,
        },
    )
    .await
    .expect_err("status 9 asked for");
    assert_eq!(status.code(), tonic::Code::FailedPrecondition);

    let status = call(
        server.addr,
        WorkRequest {
            reply_status: 99,
            ..WorkRequest::default()
        },
    )
    .await
    .expect_err("not a status");
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
    assert!(status.message().contains("reply_status"), "{status:?}");

    assert_eq!(&echo(server.addr, b"echo me").await.payload[..], b"echo me");
    assert_eq!(&echo(server.addr, b"").await.payload[..], b"");

    let metrics = server.metrics().await;
    assert_eq!(metrics.get(OK_REQUESTS), 5.0, "every call is a request");
    assert_eq!(metrics.get(H2_REQUESTS), 5.0);
    for (method, code, calls) in [
        ("Work", 0, 1.0),
        ("Work", 3, 1.0),
        ("Work", 9, 1.0),
        ("Echo", 0, 2.0),
    ] {
        let series = grpc_series(method, code);
        assert_eq!(metrics.get(&series), calls, "{series}");
    }
    assert_eq!(
        metrics.try_get(&grpc_series("Work", 1)),
        None,
        "a code never answered is not listed"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ffi_variant_answers_work_with_its_c_call_and_echo_without() {
    let _turn = crate::turns::beside_others();
    let config = ServerConfig::ffi(
        numaload_target::WorkMode::Sleep,
        100,
        numaload_target::Dispatch::SpawnBlocking,
    );
    let server = TestServer::start_with(config).await;
    call(server.addr, WorkRequest::default())
        .await
        .expect("status 0");
    assert_eq!(&echo(server.addr, b"e").await.payload[..], b"e");
    let metrics = server.metrics().await;
    assert_eq!(
        metrics.get("numaload_ffi_calls_total"),
        1.0,
        "Echo calls no C"
    );
    assert_eq!(metrics.get(&grpc_series("Work", 0)), 1.0);
    assert_eq!(metrics.get(&grpc_series("Echo", 0)), 1.0);
    server.stop().await;
}

/// Runs `h2load ARGS`, expecting every one of `requests` to succeed.
fn h2load(requests: u32, args: &[&str]) {
    let output = Command::new("h2load")
        .args(["-n", &requests.to_string()])
        .args(args)
        .output()
        .expect("h2load must be installed (Debian: nghttp2-client)");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "h2load failed: {text}");
    assert!(
        text.contains(&format!("{requests} succeeded, 0 failed, 0 errored")),
        "{text}"
    );
    assert!(text.contains("status codes: "), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h2load_loads_the_server_over_h2c_and_over_tls_with_alpn() {
    let _turn = crate::turns::beside_others();
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let server = Server::new(ServerConfig::async_spin(0))
        .expect("server")
        .with_tls(acceptor(&Identity::Generated, addr).expect("acceptor"));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(server.serve(listener, async {
        let _ = stopped.await;
    }));

    let clear = format!("http://{addr}/");
    let tls = format!("https://{addr}/");
    let blocking = tokio::task::spawn_blocking(move || {
        // h2c with prior knowledge: 2 connections, 10 streams each.
        h2load(400, &["-c", "2", "-m", "10", &clear]);
        // TLS: h2load offers only h2 by ALPN and fails when the server does not choose it.
        h2load(200, &["-c", "1", "-m", "10", &tls]);
    });
    blocking.await.expect("h2load runs");

    let metrics = {
        let mut client = crate::common::Client::connect(addr).await;
        let response = client.get("/metrics").await;
        crate::common::Metrics::parse(&response.body)
    };
    assert_eq!(metrics.get(H2_REQUESTS), 600.0);
    assert_eq!(metrics.get(OK_REQUESTS), 600.0);
    let _ = stop.send(());
    serving.await.expect("joined").expect("served");
}
