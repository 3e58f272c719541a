//! The integration tests of `numaload-agent`, built as one test binary (one link instead of one
//! per file): each module is one subject's tests. Run one module with
//! `cargo test -p numaload-agent --test it MODULE::`.

// A turn (`numaload_test_support::turns`) is taken once at a test's start and held to its end;
// each async test has a runtime of its own, on which nothing else waits for that lock.
#![allow(clippy::await_holding_lock)]

use numaload_test_support::turns;

mod config_reference;
mod fuzz_corpus;
mod http2;
mod layers;
mod loadgen;
mod schedtrace;
mod shapes;
mod targets;
mod tls;
mod topology_fixtures;
mod window;
