//! The placement drawing: each host's allowed CPUs grouped by NUMA node, each coloured by what
//! ran on it in one layout (a replica, the load generator, both, nothing).
//!
//! [`node_of_cpus`] reads the node → CPU map from the host (`host.nodes`); a result without it
//! gets what can be inferred: on a one-node host every CPU is on node 0; a replica
//! pinned to CPUs with memory bound to a single node names that node for its intended CPUs.
//! Other CPUs are drawn under "node ?".
//!
//! With several agents, [`on_host`] cuts a layout down to one host's replicas and load workers
//! (replica indexes and CPU numbers are per host).

use std::collections::BTreeMap;

use numaload_proto::cpulist;

use super::svg::{palette, Svg};
use crate::result::{HostSummary, LayoutResult, RunResult};

/// Every host of the run (older single-agent results list none in `hosts`).
pub fn hosts(result: &RunResult) -> Vec<&HostSummary> {
    if result.hosts.is_empty() {
        vec![&result.host]
    } else {
        result.hosts.iter().collect()
    }
}

/// `l` as seen on `host`: its replicas and load CPUs there. With one host, `l` itself.
pub fn on_host(l: &LayoutResult, host: &HostSummary, hosts: usize) -> LayoutResult {
    let mut mine = l.clone();
    if hosts <= 1 {
        return mine;
    }
    mine.replicas.retain(|r| r.agent == host.agent);
    mine.load.workers.retain(|w| w.agent == host.agent);
    mine.load.cpus = mine.load.workers.iter().map(|w| w.cpu).collect();
    mine.load.cpus.sort_unstable();
    mine.load.cpus.dedup();
    mine.thread_samples.retain(|s| s.agent == host.agent);
    mine
}

const CELL: f64 = 34.0;
const GAP: f64 = 4.0;
const PER_ROW: usize = 16;

/// CPU → NUMA node on `host`, as far as the result tells.
pub fn node_of_cpus(result: &RunResult, host: &HostSummary) -> BTreeMap<u32, u32> {
    let mut map = BTreeMap::new();
    if !host.nodes.is_empty() {
        for node in &host.nodes {
            for cpu in &node.cpus {
                map.insert(*cpu, node.os_index);
            }
        }
        return map;
    }
    if host.numa_nodes == 1 {
        for cpu in &host.allowed_cpus {
            map.insert(*cpu, 0);
        }
        return map;
    }
    let several = hosts(result).len() > 1;
    for layout in &result.layouts {
        for r in layout
            .replicas
            .iter()
            .filter(|r| !several || r.agent == host.agent)
        {
            if let [node] = r.intended_memory_nodes.as_slice() {
                for cpu in &r.intended_cpus {
                    map.insert(*cpu, *node);
                }
            }
        }
    }
    map
}

/// What ran on one CPU.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Use {
    Idle,
    Replica(u32),
    Replicas(Vec<u32>),
    Load,
    Clash(Vec<u32>),
}

fn use_of(l: &LayoutResult, cpu: u32) -> Use {
    let replicas: Vec<u32> = l
        .replicas
        .iter()
        .filter(|r| r.actual_cpus.contains(&cpu))
        .map(|r| r.index)
        .collect();
    let load = l.load.cpus.contains(&cpu);
    match (replicas.as_slice(), load) {
        ([], false) => Use::Idle,
        ([], true) => Use::Load,
        (_, true) => Use::Clash(replicas),
        ([one], false) => Use::Replica(*one),
        (_, false) => Use::Replicas(replicas),
    }
}

/// The drawing of one layout on one host (`l` cut down by [`on_host`]), with `nodes` from
/// [`node_of_cpus`].
pub fn drawing(host: &HostSummary, l: &LayoutResult, nodes: &BTreeMap<u32, u32>) -> String {
    let mut groups: BTreeMap<Option<u32>, Vec<u32>> = BTreeMap::new();
    for cpu in &host.allowed_cpus {
        groups
            .entry(nodes.get(cpu).copied())
            .or_default()
            .push(*cpu);
    }
    // Unknown nodes last.
    let mut ordered: Vec<(Option<u32>, Vec<u32>)> = groups.into_iter().collect();
    ordered.sort_by_key(|(node, _)| node.map_or(u64::MAX, u64::from));

    // Wide enough for its title too.
    let box_w = |n: usize| (n.clamp(1, PER_ROW) as f64 * (CELL + GAP) + GAP).max(170.0);
    let box_h = |n: usize| n.div_ceil(PER_ROW).max(1) as f64 * (CELL + GAP) + GAP + 18.0;
    let width = ordered
        .iter()
        .map(|(_, cpus)| box_w(cpus.len()) + 12.0)
        .sum::<f64>()
        .clamp(300.0, 1180.0);
    // Boxes flow left to right and wrap.
    let mut positions = Vec::new();
    let (mut x, mut y, mut row_h) = (0.0, 0.0, 0.0f64);
    for (_, cpus) in &ordered {
        let (w, h) = (box_w(cpus.len()), box_h(cpus.len()));
        if x > 0.0 && x + w > width {
            x = 0.0;
            y += row_h + 12.0;
            row_h = 0.0;
        }
        positions.push((x, y));
        x += w + 12.0;
        row_h = row_h.max(h);
    }
    let height = y + row_h + 2.0;

    let mut svg = Svg::new(width, height, &format!("placement of layout {}", l.name));
    let intended: Vec<u32> = l
        .replicas
        .iter()
        .filter(|r| !r.placement_ok)
        .flat_map(|r| r.intended_cpus.iter().copied())
        .collect();
    for ((node, cpus), (bx, by)) in ordered.iter().zip(positions) {
        let title = match node {
            Some(n) => format!("NUMA node {n}"),
            None => "node ? (not in the result)".to_owned(),
        };
        svg.rect((bx, by), (box_w(cpus.len()), box_h(cpus.len())), "node", "");
        svg.text((bx + 6.0, by + 14.0), "start", "legend", &title);
        for (i, cpu) in cpus.iter().enumerate() {
            let cx = bx + GAP + (i % PER_ROW) as f64 * (CELL + GAP);
            let cy = by + 18.0 + GAP + (i / PER_ROW) as f64 * (CELL + GAP);
            let (class, fill, tip) = cell(l, *cpu);
            svg.rect_filled((cx, cy), (CELL, CELL), &class, &fill, &tip);
            if intended.contains(cpu) {
                svg.rect(
                    (cx + 2.0, cy + 2.0),
                    (CELL - 4.0, CELL - 4.0),
                    "intended",
                    "",
                );
            }
            let text_class = if fill == "#ffffff" { "cpu dark" } else { "cpu" };
            svg.text(
                (cx + CELL / 2.0, cy + CELL / 2.0 + 4.0),
                "middle",
                text_class,
                &cpu.to_string(),
            );
        }
    }
    svg.finish()
}

/// (class, fill, tooltip) of one CPU's cell.
fn cell(l: &LayoutResult, cpu: u32) -> (String, String, String) {
    let list = |rs: &[u32]| rs.iter().map(u32::to_string).collect::<Vec<_>>().join(", ");
    let mismatch = l
        .replicas
        .iter()
        .any(|r| !r.placement_ok && r.actual_cpus.contains(&cpu));
    let class = if mismatch { "cell mismatch" } else { "cell" }.to_owned();
    let replica_tip = |index: u32| {
        l.replicas
            .iter()
            .find(|r| r.index == index)
            .map(|r| {
                format!(
                    "replica {index} (CPUs {}, memory {}{})",
                    cpulist::format(&r.actual_cpus),
                    r.memory_policy,
                    if r.placement_ok {
                        ""
                    } else {
                        ", placement MISMATCH"
                    }
                )
            })
            .unwrap_or_else(|| format!("replica {index}"))
    };
    match use_of(l, cpu) {
        Use::Idle => (class, "#ffffff".to_owned(), format!("CPU {cpu}: unused")),
        Use::Load => (
            class,
            "#E69F00".to_owned(),
            format!("CPU {cpu}: load generator"),
        ),
        Use::Replica(i) => (
            class,
            palette(i as usize).to_owned(),
            format!("CPU {cpu}: {}", replica_tip(i)),
        ),
        Use::Replicas(rs) => (
            class,
            "#7f8c9a".to_owned(),
            format!("CPU {cpu}: replicas {} share it", list(&rs)),
        ),
        Use::Clash(rs) => (
            "cell clash".to_owned(),
            "#D55E00".to_owned(),
            format!("CPU {cpu}: load generator AND replica(s) {}", list(&rs)),
        ),
    }
}

/// The key under the drawings.
pub fn legend(max_replicas: usize) -> String {
    let mut items: Vec<String> = (0..max_replicas.clamp(1, 6))
        .map(|i| {
            format!(
                r#"<span class="swatch" style="background:{}"></span>replica {i}"#,
                palette(i)
            )
        })
        .collect();
    items.push(
        r#"<span class="swatch" style="background:#7f8c9a"></span>several replicas"#.to_owned(),
    );
    items.push(
        r#"<span class="swatch" style="background:#E69F00"></span>load generator"#.to_owned(),
    );
    items.push(r#"<span class="swatch" style="background:#D55E00"></span>load generator sharing with replicas"#.to_owned());
    items.push(r#"<span class="swatch" style="background:#fff"></span>unused"#.to_owned());
    items.push(
        r#"<span class="swatch mismatch"></span>placement mismatch (dashed: intended)"#.to_owned(),
    );
    format!(r#"<p class="key">{}</p>"#, items.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::result::RunResult;

    fn fixture() -> RunResult {
        serde_json::from_str(include_str!(
            "../../../tests/fixtures/quickstart-result.json"
        ))
        .expect("fixture")
    }

    #[test]
    fn uses_of_cpus() {
        let result = fixture();
        let mut l = result.layouts[0].clone();
        assert_eq!(use_of(&l, 0), Use::Replica(0));
        assert_eq!(use_of(&l, 1), Use::Load);
        assert_eq!(use_of(&l, 7), Use::Idle);
        l.load.cpus = vec![0];
        assert_eq!(use_of(&l, 0), Use::Clash(vec![0]));
    }

    #[test]
    fn nodes_come_from_pinned_replicas_when_the_host_has_several() {
        let mut result = fixture();
        let host = result.host.clone();
        assert_eq!(node_of_cpus(&result, &host).get(&1), Some(&0));
        let mut host = host;
        host.numa_nodes = 2;
        host.allowed_cpus = vec![0, 1, 2, 3];
        let l = &mut result.layouts[1];
        l.replicas[0].intended_cpus = vec![2, 3];
        l.replicas[0].intended_memory_nodes = vec![1];
        let nodes = node_of_cpus(&result, &host);
        assert_eq!(nodes.get(&2), Some(&1));
        assert_eq!(nodes.get(&3), Some(&1));
        assert_eq!(nodes.get(&0), None);
    }
}
