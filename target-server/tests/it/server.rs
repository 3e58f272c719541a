//! The server in-process: `serve` on a listener of the test's own, driven by a raw HTTP/1.1
//! client so that what goes over the wire is exactly what the test wrote.

use std::time::{Duration, Instant};

use crate::common::{process_cpu_time, Metrics, TestServer, OK_REQUESTS};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_root_returns_200_with_a_tiny_body() {
    let _turn = crate::turns::beside_others();
    let server = TestServer::start(0).await;
    for path in ["/", "/anything/else?x=1"] {
        let response = server.get(path).await;
        assert_eq!(response.status, 200, "{path}");
        assert_eq!(response.body, "ok\n");
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn work_us_costs_cpu_not_just_time() {
    let _turn = crate::turns::beside_others();
    let server = TestServer::start(2000).await;
    let mut client = server.connect().await;
    let (wall, cpu) = (Instant::now(), process_cpu_time());
    for _ in 0..20 {
        assert_eq!(client.get("/").await.status, 200);
    }
    let (wall, cpu) = (wall.elapsed(), process_cpu_time() - cpu);
    // 20 × 2 ms of spinning: at least 40 ms of wall time and of CPU time (a sleep would pass
    // the first bound but not the second).
    assert!(wall >= Duration::from_millis(40), "took only {wall:?}");
    assert!(cpu >= Duration::from_millis(40), "used only {cpu:?} of CPU");
    assert_eq!(server.metrics().await.get("numaload_work_seconds"), 0.002);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_well_formed_and_count_requests() {
    let _turn = crate::turns::beside_others();
    let server = TestServer::start(0).await;
    let before = server.metrics().await;
    for _ in 0..7 {
        assert_eq!(server.get("/").await.status, 200);
    }
    let after = server.metrics().await;
    assert_eq!(
        after.get(OK_REQUESTS) - before.get(OK_REQUESTS),
        7.0,
        "/metrics itself is not counted"
    );
    assert_eq!(after.get("tokio_workers"), 2.0);
    assert!(after.get("process_threads") >= after.get("tokio_workers"));
    assert!(
        after.get("tokio_alive_tasks") >= 1.0,
        "the serve task at least"
    );
    assert!(after.get("tokio_global_queue_depth") >= 0.0);
    assert_eq!(after.get("numaload_work_seconds"), 0.0);

    let response = server.get("/metrics").await;
    assert!(response
        .header("content-type")
        .is_some_and(|t| t.starts_with("text/plain; version=0.0.4")));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keep_alive_serves_many_requests_on_one_connection() {
    let _turn = crate::turns::beside_others();
    let server = TestServer::start(10).await;
    let mut client = server.connect().await;
    for _ in 0..5 {
        let response = client.get("/").await;
        assert_eq!(response.status, 200);
        assert_ne!(response.header("connection"), Some("close"));
    }
    let metrics = client.get("/metrics").await;
    let metrics = Metrics::parse(&metrics.body);
    assert_eq!(metrics.get(OK_REQUESTS), 5.0);
    assert_eq!(metrics.get("numaload_connections_open"), 1.0);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_and_broken_connections_do_not_hurt_the_server() {
    let _turn = crate::turns::beside_others();
    let server = TestServer::start(0).await;

    let mut garbage = TcpStream::connect(server.addr).await.expect("connect");
    garbage
        .write_all(b"\x00\x01 not http at all\r\n\r\n")
        .await
        .expect("send garbage");
    let mut reply = Vec::new();
    let _ = garbage.read_to_end(&mut reply).await;
    assert!(
        reply.is_empty() || reply.starts_with(b"HTTP/1.1 400"),
        "{:?}",
        String::from_utf8_lossy(&reply)
    );

    let mut half = TcpStream::connect(server.addr).await.expect("connect");
    half.write_all(b"GET / HTTP/1.1\r\nHost: te")
        .await
        .expect("send half a request");
    drop(half);

    assert_eq!(server.get("/").await.status, 200);
    // Both bad connections are counted once they are closed.
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let errors = server
            .metrics()
            .await
            .get("numaload_connection_errors_total");
        if errors >= 2.0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{errors} connection errors counted"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_closes_idle_keep_alive_connections() {
    let _turn = crate::turns::beside_others();
    let server = TestServer::start(0).await;
    let mut client = server.connect().await;
    assert_eq!(client.get("/").await.status, 200);
    let addr = server.addr;
    // `stop` fails if serve waits for the idle connection.
    server.stop().await;
    let mut rest = Vec::new();
    let read = client.stream.read_to_end(&mut rest).await;
    assert!(read.is_err() || rest.is_empty(), "connection closed");
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "no longer listening"
    );
}
