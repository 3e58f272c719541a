//! What a load worker spends in user space on each response, without sockets: reading and
//! parsing a typical response (one read returns all of it, as from hyper), then counting it into
//! the worker's statistics ([`numaload_agent::loadgen::hot_path`]). Prints both, in ns per
//! response, the best of five rounds of five million responses; for before/after comparisons of
//! the hot path on a busy machine.
//!
//! `cargo bench -p numaload-agent --bench hot_path`
//!
//! Run as a test (`cargo test --benches`, no `--bench` argument) it does a few thousand
//! responses, to show that it runs.

use numaload_agent::loadgen::hot_path::cost_per_response;

fn main() {
    let benchmarking = std::env::args().any(|arg| arg == "--bench");
    let (responses, rounds) = if benchmarking {
        (5_000_000, 5)
    } else {
        (5_000, 1)
    };
    let counted = cost_per_response(responses, rounds, true);
    let parsed = cost_per_response(responses, rounds, false);
    println!(
        "hot path: {} ns per response read, parsed and counted; {} ns read and parsed alone \
         (best of {rounds} rounds of {responses})",
        counted.as_nanos(),
        parsed.as_nanos(),
    );
}
