//! Fuzz target: arbitrary bytes through the agent's decode-and-validate path of `RunPlan`,
//! exactly what every `Execute` call does with untrusted input before anything is launched.
//! It must never panic (and never take long or allocate much: libFuzzer's -timeout and
//! -rss_limit_mb catch those too).
#![no_main]

use std::path::Path;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use numaload_agent::config::AgentConfig;
use numaload_agent::run::decode_and_prepare;
use numaload_agent::topology::{self, HostTopology};

/// Built once: hwloc topology construction is far slower than one input.
/// Same config and host as the corpus replay test (`agent/tests/it/fuzz_corpus.rs`).
fn fixture() -> &'static (AgentConfig, HostTopology) {
    static FIXTURE: OnceLock<(AgentConfig, HostTopology)> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        (
            AgentConfig::builtin(Path::new("/bin/true")),
            topology::from_synthetic("package:2 numa:2 core:2 pu:2").expect("synthetic topology"),
        )
    })
}

fuzz_target!(|data: &[u8]| {
    let (config, host) = fixture();
    // Ok or Err are both fine; only a panic, a hang or a huge allocation is a finding.
    let _ = decode_and_prepare(data, config, host);
});
