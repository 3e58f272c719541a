//! `/metrics` of both variants through the real Prometheus parser, `promtool check metrics`
//! (Debian package `prometheus`). The test fails, saying so, when promtool is missing.

use std::num::NonZeroUsize;

use crate::common::{Metrics, TestServer, OK_REQUESTS};
use numaload_target::{runtime, Dispatch, ServerConfig, WorkMode};
use numaload_test_support::promtool;

/// Serves `config` on a runtime of `runtime::build` (so blocking threads are counted), sends
/// a few requests and returns the page scraped after them.
fn scrape(config: ServerConfig) -> Metrics {
    let rt = runtime::build(2, None).expect("runtime");
    rt.block_on(async {
        let server = TestServer::start_with(config).await;
        let mut client = server.connect().await;
        for _ in 0..5 {
            assert_eq!(client.get("/").await.status, 200);
        }
        let metrics = server.metrics().await;
        server.stop().await;
        metrics
    })
}

/// The metrics every variant serves, with their types, as promtool will have parsed them.
fn assert_common(metrics: &Metrics) {
    for name in [
        "process_threads",
        "tokio_workers",
        "tokio_alive_tasks",
        "tokio_global_queue_depth",
        "tokio_blocking_threads",
        "numaload_request_duration_seconds_count",
        "numaload_request_duration_seconds_sum",
        "numaload_connections_open",
        "tokio_worker_busy_seconds_total",
        "tokio_worker_parks_total",
        // Built with --cfg tokio_unstable (.cargo/config.toml): work stealing and local queues.
        "tokio_worker_steals_total",
        "tokio_worker_local_queue_depth",
    ] {
        assert!(
            metrics.try_get(name).is_some(),
            "no {name}:\n{}",
            metrics.text
        );
    }
    assert_eq!(metrics.get(OK_REQUESTS), 5.0);
    assert_eq!(
        metrics.get("numaload_request_duration_seconds_bucket{le=\"+Inf\"}"),
        5.0
    );
    assert_eq!(metrics.get("numaload_request_duration_seconds_count"), 5.0);
    for line in [
        "# TYPE numaload_requests_total counter",
        "# TYPE numaload_request_duration_seconds histogram",
        "# TYPE tokio_blocking_threads gauge",
        "# TYPE tokio_worker_steals_total counter",
        "# TYPE tokio_worker_local_queue_depth gauge",
    ] {
        assert!(
            metrics.text.contains(line),
            "no {line:?}:\n{}",
            metrics.text
        );
    }
}

#[test]
fn async_metrics_pass_promtool() {
    let _turn = crate::turns::beside_others();
    let metrics = scrape(ServerConfig::async_spin(100));
    assert_common(&metrics);
    // 100 us of spin: every request is above the 50 us bucket.
    assert_eq!(
        metrics.get("numaload_request_duration_seconds_bucket{le=\"5e-05\"}"),
        0.0
    );
    assert!(metrics.try_get("numaload_ffi_calls_total").is_none());
    promtool::assert_metrics_pass(&metrics.text);
}

#[test]
fn ffi_metrics_pass_promtool() {
    let _turn = crate::turns::beside_others();
    for dispatch in [
        Dispatch::SpawnBlocking,
        Dispatch::Bounded {
            limit: NonZeroUsize::new(4).expect("4"),
        },
        Dispatch::Inline,
        Dispatch::PinnedPool {
            threads: NonZeroUsize::new(2).expect("2"),
        },
    ] {
        let metrics = scrape(ServerConfig::ffi(WorkMode::Sleep, 200, dispatch));
        assert_common(&metrics);
        assert_eq!(metrics.get("numaload_ffi_calls_total"), 5.0, "{dispatch}");
        assert_eq!(
            metrics.get("numaload_ffi_inflight_calls"),
            0.0,
            "{dispatch}"
        );
        assert_eq!(
            metrics.get("numaload_ffi_inflight_calls_max"),
            1.0,
            "{dispatch}"
        );
        let pool = metrics.try_get("numaload_ffi_pool_threads");
        let is_pool = matches!(dispatch, Dispatch::PinnedPool { .. });
        assert_eq!(pool, is_pool.then_some(2.0), "{dispatch}");
        promtool::assert_metrics_pass(&metrics.text);
    }
}

/// The check has teeth: the same real page with one name breaking a Prometheus convention
/// (a counter without `_total`, an abbreviated unit, a non-base unit) fails promtool's lint.
#[test]
fn promtool_fails_the_page_on_a_naming_breach() {
    let metrics = scrape(ServerConfig::async_spin(10));
    promtool::assert_metrics_pass(&metrics.text);
    for (name, breach, lint) in [
        (
            "numaload_accept_errors_total",
            "numaload_accept_errors",
            "_total",
        ),
        (
            "numaload_work_seconds",
            "numaload_work_us",
            "abbreviated units",
        ),
        (
            "numaload_work_seconds",
            "numaload_work_milliseconds",
            "base unit",
        ),
        (
            "process_resident_memory_bytes",
            "process_resident_memory_kilobytes",
            "base unit",
        ),
    ] {
        assert!(metrics.text.contains(name), "no {name}:\n{}", metrics.text);
        let (ok, said) = promtool::check_metrics(&metrics.text.replace(name, breach));
        assert!(!ok, "promtool passed {breach}: {said}");
        assert!(said.contains(breach) && said.contains(lint), "{said}");
    }
}
