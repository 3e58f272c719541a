//! `--dispatch pinned-pool`: every C call of a session ran on the pool thread whose state it
//! used (the call's gettid equals its state's init tid), each pool thread is pinned to one
//! CPU, round-robin over the allowed set, and every state is torn down exactly once, on its
//! thread, at shutdown.
//!
//! Alone in this binary: it reads the C side's process-wide init/fini counters.

use std::collections::{BTreeMap, BTreeSet};
use std::num::NonZeroUsize;

use crate::common;
use crate::common::RuntimeServer;
use numaload_target::pinned_pool::allowed_cpus;
use numaload_target::{ffi, Dispatch, ServerConfig, WorkMode, STATE_TID_HEADER, TID_HEADER};

const POOL_THREADS: usize = 3;

/// `field` of `/proc/self/task/<tid>/status`.
fn task_status(tid: i64, field: &str) -> String {
    let status = std::fs::read_to_string(format!("/proc/self/task/{tid}/status"))
        .unwrap_or_else(|e| panic!("thread {tid}: {e}"));
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .unwrap_or_else(|| panic!("no {field} for thread {tid}"))
        .trim()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_call_runs_on_its_pinned_thread_with_its_state() {
    let _turn = crate::turns::alone();
    let before = ffi::thread_state_stats();
    let config = ServerConfig::ffi(
        WorkMode::Sleep,
        1_000,
        Dispatch::PinnedPool {
            threads: NonZeroUsize::new(POOL_THREADS).expect("non-zero"),
        },
    );
    let server = RuntimeServer::start(2, None, config);
    let started = ffi::thread_state_stats();
    assert_eq!(
        started.inits - before.inits,
        POOL_THREADS as u64,
        "one init per thread"
    );
    assert_eq!(started.finis, before.finis);

    // 24 connections × 5 requests, all at once: every pool thread gets calls.
    let clients: Vec<_> = (0..24)
        .map(|_| {
            let addr = server.addr;
            tokio::spawn(async move {
                let mut client = common::Client::connect(addr).await;
                let mut calls = Vec::new();
                for _ in 0..5 {
                    let response = client.get("/").await;
                    assert_eq!(response.status, 200);
                    let tid = |name| -> i64 {
                        response
                            .header(name)
                            .and_then(|v| v.parse().ok())
                            .unwrap_or_else(|| panic!("no {name} in {response:?}"))
                    };
                    calls.push((tid(TID_HEADER), tid(STATE_TID_HEADER)));
                }
                calls
            })
        })
        .collect();
    let mut calls_by_thread = BTreeMap::<i64, usize>::new();
    for client in clients {
        for (tid, state_tid) in client.await.expect("client task") {
            assert_eq!(tid, state_tid, "a call ran away from its thread state");
            *calls_by_thread.entry(tid).or_default() += 1;
        }
    }
    eprintln!("calls per pool thread: {calls_by_thread:?}");
    assert_eq!(calls_by_thread.values().sum::<usize>(), 120);
    assert_eq!(calls_by_thread.len(), POOL_THREADS, "{calls_by_thread:?}");

    // Each pool thread is pinned to one CPU, round-robin over the allowed ones by index.
    let cpus = allowed_cpus().expect("allowed CPUs");
    let mut pinned = BTreeMap::new();
    for &tid in calls_by_thread.keys() {
        let name = task_status(tid, "Name");
        let index: usize = name
            .strip_prefix("numaload-ffi-")
            .and_then(|i| i.parse().ok())
            .unwrap_or_else(|| panic!("thread {tid} is {name:?}, not a pool thread"));
        let allowed = task_status(tid, "Cpus_allowed_list");
        eprintln!("pool thread {index} (tid {tid}): Cpus_allowed_list {allowed}");
        assert_eq!(
            allowed,
            cpus[index % cpus.len()].to_string(),
            "thread {index}"
        );
        pinned.insert(index, tid);
    }
    assert_eq!(
        pinned.keys().copied().collect::<Vec<_>>(),
        (0..POOL_THREADS).collect::<Vec<_>>()
    );

    let metrics = server.metrics().await;
    assert_eq!(
        metrics.get("numaload_ffi_pool_threads"),
        POOL_THREADS as f64
    );
    assert!(metrics.get("numaload_ffi_inflight_calls_max") <= POOL_THREADS as f64);
    assert_eq!(metrics.get("numaload_ffi_calls_total"), 120.0);

    server.stop();
    // serve returned: the pool threads tore their state down, once each, and are gone.
    let after = ffi::thread_state_stats();
    assert_eq!(after.inits - before.inits, POOL_THREADS as u64);
    assert_eq!(
        after.finis - before.finis,
        POOL_THREADS as u64,
        "one fini per thread"
    );
    // A fini on a thread without state (another thread's) would count as a misuse.
    assert_eq!(after.misuses, before.misuses);
    let gone: BTreeSet<i64> = pinned
        .values()
        .copied()
        .filter(|tid| !std::path::Path::new(&format!("/proc/self/task/{tid}")).exists())
        .collect();
    assert_eq!(gone.len(), POOL_THREADS, "pool threads still alive");
}
