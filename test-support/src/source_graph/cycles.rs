//! Circles in a graph of names: the groups that reach each other, and one cycle through each.

use std::collections::{BTreeMap, BTreeSet};

/// The groups of nodes that reach each other (strongly connected components) with more than
/// one node: each holds at least one cycle.
pub fn circles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<BTreeSet<String>> {
    let reach = |from: &str| {
        let mut seen = BTreeSet::new();
        let mut stack = vec![from.to_owned()];
        while let Some(node) = stack.pop() {
            for next in graph.get(&node).into_iter().flatten() {
                if seen.insert(next.clone()) {
                    stack.push(next.clone());
                }
            }
        }
        seen
    };
    let reaches: BTreeMap<&String, BTreeSet<String>> =
        graph.keys().map(|n| (n, reach(n))).collect();
    let mut out: Vec<BTreeSet<String>> = Vec::new();
    for (node, reached) in &reaches {
        if out.iter().any(|c| c.contains(*node)) || !reached.contains(*node) {
            continue;
        }
        let group: BTreeSet<String> = reached
            .iter()
            .filter(|other| reaches.get(other).is_some_and(|r| r.contains(*node)))
            .cloned()
            .collect();
        if group.len() > 1 {
            out.push(group);
        }
    }
    out
}

/// A cycle in `graph`, if any, as the nodes along it (the first repeated last).
pub fn a_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|p| p == node) {
            let mut cycle = path[at..].to_vec();
            cycle.push(node.to_owned());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|node| visit(node, graph, &mut Vec::new(), &mut done))
}

/// One cycle through the circle `group` of `graph`, drawn `a → b → a`.
pub fn draw_cycle(graph: &BTreeMap<String, BTreeSet<String>>, group: &BTreeSet<String>) -> String {
    let within: BTreeMap<String, BTreeSet<String>> = group
        .iter()
        .map(|n| {
            let next = graph[n].intersection(group).cloned().collect();
            (n.clone(), next)
        })
        .collect();
    a_cycle(&within)
        .expect("a circle holds a cycle")
        .join(" → ")
}
