//! The integration tests of `numaload-target`, built as one test binary (one link instead of one
//! per file): each module is one subject's tests. Run one module with
//! `cargo test -p numaload-target --test it MODULE::`.

// A turn (`numaload_test_support::turns`) is taken once at a test's start and held to its end;
// each async test has a runtime of its own, on which nothing else waits for that lock.
#![allow(clippy::await_holding_lock)]

use numaload_test_support::turns;

mod common;

mod ffi_dispatch;
mod ffi_pinned_pool;
mod http2;
mod metrics_promtool;
mod protoset;
mod run_until_sigterm;
mod server;
mod startup;
mod tls;
