//! The `ffi` variant's dispatch modes, each showing the shape it exists to show: sleep blocks
//! and spin burns; `spawn-blocking` grows threads with the calls in flight, `bounded` does not;
//! `inline` starves an unrelated fast request.
//!
//! Each server runs on a runtime of its own (`RuntimeServer`); the test's runtime is the load
//! generator. The tests take a lock so that they run one at a time: they read process-wide
//! CPU time and thread counts, and a neighbour's load would skew latency ratios.

use std::num::NonZeroUsize;
use std::time::{Duration, Instant};

use crate::common;
use crate::common::{os_threads, process_cpu_time, RuntimeServer};
use numaload_target::{Dispatch, ServerConfig, WorkMode, STATE_TID_HEADER, TID_HEADER};

static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn one_at_a_time() -> tokio::sync::MutexGuard<'static, ()> {
    SERIAL.lock().await
}

fn ffi(mode: WorkMode, work_us: u64, dispatch: Dispatch) -> ServerConfig {
    ServerConfig::ffi(mode, work_us, dispatch)
}

fn nz(n: usize) -> NonZeroUsize {
    NonZeroUsize::new(n).expect("non-zero")
}

/// `requests` sequential requests on one connection: (wall time, process CPU time).
async fn sequential(server: &RuntimeServer, requests: usize) -> (Duration, Duration) {
    let mut client = server.connect().await;
    let (wall, cpu) = (Instant::now(), process_cpu_time());
    for _ in 0..requests {
        let response = client.get("/").await;
        assert_eq!(response.status, 200);
        assert!(response.header(TID_HEADER).is_some(), "{response:?}");
        assert_eq!(response.header(STATE_TID_HEADER), Some("0"), "no C state");
    }
    (wall.elapsed(), process_cpu_time() - cpu)
}

/// `clients` connections each sending `rounds` requests at once, all together.
async fn burst(server: &RuntimeServer, clients: usize, rounds: usize) {
    let tasks: Vec<_> = (0..clients)
        .map(|_| {
            let addr = server.addr;
            tokio::spawn(async move {
                let mut client = common::Client::connect(addr).await;
                for _ in 0..rounds {
                    assert_eq!(client.get("/").await.status, 200);
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("client task");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sleep_blocks_without_cpu_and_spin_burns_it() {
    let _turn = crate::turns::beside_others();
    let _serial = one_at_a_time().await;
    // 20 calls of 5 ms: 100 ms of work per run.
    let work = Duration::from_millis(100);

    let sleeping = RuntimeServer::start(
        2,
        None,
        ffi(WorkMode::Sleep, 5_000, Dispatch::SpawnBlocking),
    );
    let (wall, sleep_cpu) = sequential(&sleeping, 20).await;
    sleeping.stop();
    eprintln!("sleep: wall {wall:?}, process CPU {sleep_cpu:?}");
    assert!(wall >= work, "20 x 5 ms sleeps took only {wall:?}");
    // What CPU there is, is HTTP on loopback (client and server are this process).
    assert!(sleep_cpu < work / 4, "sleeping used {sleep_cpu:?} of CPU");

    let spinning =
        RuntimeServer::start(2, None, ffi(WorkMode::Spin, 5_000, Dispatch::SpawnBlocking));
    let (wall, cpu) = sequential(&spinning, 20).await;
    spinning.stop();
    eprintln!("spin: wall {wall:?}, process CPU {cpu:?}");
    assert!(wall >= work, "20 x 5 ms spins took only {wall:?}");
    // The spin counts its thread's CPU time, so a busy host that preempts it makes it last
    // longer, never cost less: the whole work in CPU, and far more than sleeping.
    assert!(cpu >= work, "spinning used only {cpu:?} of CPU");
    assert!(
        cpu >= sleep_cpu * 4,
        "spin {cpu:?} vs sleep {sleep_cpu:?} of CPU"
    );
}

/// Thread counts of one dispatch mode under 50 concurrent 2 ms sleeping calls.
#[derive(Debug)]
struct Threads {
    blocking: f64,
    process_growth: f64,
    in_flight_max: f64,
}

async fn threads_under_burst(dispatch: Dispatch) -> Threads {
    let server = RuntimeServer::start(2, None, ffi(WorkMode::Sleep, 2_000, dispatch));
    let before = server.metrics().await;
    let process_before = os_threads();
    burst(&server, 50, 4).await;
    // Idle blocking threads linger 10 s (tokio's keep-alive), so they are still counted.
    let after = server.metrics().await;
    let threads = Threads {
        blocking: after.get("tokio_blocking_threads"),
        process_growth: os_threads() as f64 - process_before as f64,
        in_flight_max: after.get("numaload_ffi_inflight_calls_max"),
    };
    assert_eq!(before.get("tokio_blocking_threads"), 0.0);
    assert_eq!(after.get("numaload_ffi_calls_total"), 200.0);
    assert_eq!(after.get("numaload_ffi_inflight_calls"), 0.0);
    assert_eq!(after.get("tokio_workers"), 2.0);
    server.stop();
    threads
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spawn_blocking_grows_threads_and_bounded_keeps_them_flat() {
    let _turn = crate::turns::beside_others();
    let _serial = one_at_a_time().await;
    let unbounded = threads_under_burst(Dispatch::SpawnBlocking).await;
    let bounded = threads_under_burst(Dispatch::Bounded { limit: nz(8) }).await;
    eprintln!("spawn-blocking: {unbounded:?}\nbounded(8):     {bounded:?}");

    // Up to 50 calls in flight need as many blocking threads: far above the 2 workers (here
    // 40-51; how many overlap depends on how fast the clients fire).
    assert!(unbounded.blocking >= 20.0, "{unbounded:?}");
    assert!(unbounded.process_growth >= 20.0, "{unbounded:?}");
    assert!(unbounded.in_flight_max >= 20.0, "{unbounded:?}");

    // At most 8 C calls at once, whatever the load.
    assert!(bounded.in_flight_max <= 8.0, "{bounded:?}");
    assert!(
        bounded.in_flight_max >= 2.0,
        "the calls did overlap: {bounded:?}"
    );
    // The pool keeps a few spare threads (a thread returns to it just after its permit),
    // but stays far below the unbounded count.
    assert!(bounded.blocking <= 24.0, "{bounded:?}");
    assert!(
        bounded.blocking * 2.0 <= unbounded.blocking,
        "{bounded:?} vs {unbounded:?}"
    );
    assert!(bounded.process_growth * 2.0 <= unbounded.process_growth);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_blocking_threads_caps_spawn_blocking() {
    let _turn = crate::turns::beside_others();
    let _serial = one_at_a_time().await;
    let server = RuntimeServer::start(
        2,
        Some(4),
        ffi(WorkMode::Sleep, 2_000, Dispatch::SpawnBlocking),
    );
    burst(&server, 20, 2).await;
    let metrics = server.metrics().await;
    server.stop();
    assert!(metrics.get("tokio_blocking_threads") <= 4.0);
    assert!(metrics.get("numaload_ffi_inflight_calls_max") <= 4.0);
    assert_eq!(metrics.get("numaload_ffi_calls_total"), 40.0);
}

/// The median latency of `/metrics` (a fast request unrelated to the C calls) while 8
/// connections keep the server busy with 2 ms sleeping calls, on one worker thread.
async fn fast_request_latency_under_load(dispatch: Dispatch) -> Duration {
    let server = RuntimeServer::start(1, None, ffi(WorkMode::Sleep, 2_000, dispatch));
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let load: Vec<_> = (0..8)
        .map(|_| {
            let (addr, stop) = (server.addr, std::sync::Arc::clone(&stop));
            tokio::spawn(async move {
                let mut client = common::Client::connect(addr).await;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    assert_eq!(client.get("/").await.status, 200);
                }
            })
        })
        .collect();
    // Let the load settle, then probe on a connection of its own.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let mut probe = server.connect().await;
    let mut latencies = Vec::new();
    for _ in 0..21 {
        let start = Instant::now();
        assert_eq!(probe.get("/metrics").await.status, 200);
        latencies.push(start.elapsed());
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for task in load {
        task.await.expect("load task");
    }
    server.stop();
    latencies.sort();
    latencies[latencies.len() / 2]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inline_starves_an_unrelated_fast_request() {
    let _turn = crate::turns::beside_others();
    let _serial = one_at_a_time().await;
    let off_worker = fast_request_latency_under_load(Dispatch::SpawnBlocking).await;
    let inline = fast_request_latency_under_load(Dispatch::Inline).await;
    let ratio = inline.as_secs_f64() / off_worker.as_secs_f64();
    eprintln!(
        "/metrics p50 under load: spawn-blocking {off_worker:?}, inline {inline:?} ({ratio:.0}x)"
    );
    // Inline, the probe waits behind the calls queued on the one worker: several 2 ms calls.
    assert!(
        inline >= Duration::from_millis(4),
        "inline p50 only {inline:?}"
    );
    assert!(
        ratio >= 5.0,
        "inline {inline:?} vs spawn-blocking {off_worker:?}"
    );
}
