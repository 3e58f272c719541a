//! The plans the documentation and the examples show are accepted by an agent, not only by the
//! plan parser: each is turned into its wire form as `run` does and prepared by the agent's own
//! `run::prepare` (target, knobs, requests, limits, every layout placed) on a large fixture
//! host, with the agent configuration it is written for: the built-in one for `async` and
//! `ffi`, else the configuration beside it. A plan that sets a knob its target does not
//! declare, or a layout no host could place, fails here rather than at a reader's first run.

use std::path::Path;

use numaload_agent::config::{AgentConfig, ConfigFile};

use crate::common::manifest;

/// A host with 64 PUs on 8 NUMA nodes in 4 packages (from the agent's topology fixtures), with
/// a network interface `eth0` on node 1 as hwloc's XML of a host with its NIC gives one.
fn host() -> numaload_agent::topology::HostTopology {
    let xml = manifest("../agent/tests/fixtures/topologies/64amd64-4s2n4ca2co.xml");
    let mut host = numaload_agent::topology::from_xml_file(&xml).expect("fixture topology");
    host.nics.push(numaload_agent::topology::Nic {
        name: "eth0".into(),
        addresses: Vec::new(),
        driver: String::new(),
        numa_node: Some(1),
        local_cpus: Vec::new(),
        rx_queues: 1,
        tx_queues: 1,
        irqs: Vec::new(),
        is_virtual: false,
    });
    host
}

fn builtin() -> AgentConfig {
    AgentConfig::builtin(Path::new("/usr/bin/numaload"))
}

/// The configuration a file describes, on top of the built-in one (as `--agent-config` makes it).
fn configured(text: &str) -> AgentConfig {
    ConfigFile::parse(text)
        .unwrap_or_else(|e| panic!("{e}\n{text}"))
        .apply(builtin())
}

/// The fenced ```toml blocks of a Markdown file.
fn toml_blocks(file: &str) -> Vec<String> {
    let text = std::fs::read_to_string(manifest(&format!("../{file}"))).expect(file);
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        match &mut current {
            None if line.trim() == "```toml" => current = Some(String::new()),
            Some(block) if line.trim() == "```" => blocks.push(current.take().unwrap_or_default()),
            Some(block) => {
                block.push_str(line);
                block.push('\n');
            }
            None => {}
        }
    }
    blocks
}

/// `plan` (TOML, from `origin`) prepared by an agent with `config` on the fixture host. A
/// trace it names is read from `examples/`, where the traces the docs show are.
fn prepare(origin: &str, plan: &str, config: &AgentConfig) {
    let mut parsed = numaload::plan::parse(plan, origin).unwrap_or_else(|e| panic!("{e}"));
    numaload::plan::read_trace(&mut parsed, &manifest("../examples"), origin)
        .unwrap_or_else(|e| panic!("{e}"));
    let wire = parsed.to_run_plan("doc");
    if let Err(e) = numaload_agent::run::prepare(&wire, config, &host()) {
        panic!("{origin}: an agent refuses it: {e}\n{plan}");
    }
}

#[test]
fn the_plan_references_plans_run_on_the_builtin_targets() {
    let blocks = toml_blocks("docs/plan.md");
    assert!(blocks.len() >= 3);
    for (i, block) in blocks.iter().enumerate() {
        prepare(&format!("docs/plan.md block {}", i + 1), block, &builtin());
    }
}

#[test]
fn the_readmes_pair_is_one_an_agent_takes() {
    let blocks = toml_blocks("README.md");
    let agent = blocks
        .iter()
        .find(|b| b.contains("[targets."))
        .expect("README.md has an agent configuration block");
    let plan = blocks
        .iter()
        .find(|b| b.contains("[[layouts]]"))
        .expect("README.md has a plan block");
    prepare("README.md's plan", plan, &configured(agent));
}

#[test]
fn the_examples_run_with_the_configuration_they_name() {
    let read = |file: &str| std::fs::read_to_string(manifest(&format!("../{file}"))).expect(file);
    for plan in [
        "examples/quickstart.toml",
        "examples/layouts.toml",
        "examples/ffi-storm.toml",
        "examples/replay.toml",
    ] {
        prepare(plan, &read(plan), &builtin());
    }
    for pair in ["examples/go-server", "examples/nginx"] {
        let config = configured(&read(&format!("{pair}/agent.toml")));
        prepare(
            &format!("{pair}/plan.toml"),
            &read(&format!("{pair}/plan.toml")),
            &config,
        );
    }
}
