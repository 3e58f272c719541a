//! Where each host under test did its receive work over a layout's window ([`HostReceive`]):
//! `NET_RX` softirqs and the load's network interface's interrupts per NUMA node, and the share
//! of it on the nodes of the host's replicas.

use serde::{Deserialize, Serialize};

use super::defaults::first_trial;

/// One host under test's receive work over one trial of a layout.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HostReceive {
    #[serde(default = "first_trial")]
    pub trial: u32,
    /// The agent of the host.
    pub agent: String,
    /// The interface the load arrived on (empty: none found, e.g. replicas on loopback).
    pub interface: String,
    /// Its NUMA node; `None` when the platform gives none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interface_node: Option<u32>,
    pub nodes: Vec<NodeReceive>,
    /// The share of the host's `NET_RX` softirqs that ran on the NUMA nodes of its replicas'
    /// CPUs (`None` when there were none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_replica_nodes: Option<f64>,
}

/// One NUMA node's part of a host's receive work.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeReceive {
    pub node: u32,
    /// `NET_RX` softirqs run on the node's CPUs.
    pub net_rx: u64,
    /// The interface's interrupts handled on the node's CPUs.
    pub interface_interrupts: u64,
    /// The node's CPUs.
    pub cpus: Vec<u32>,
}

impl HostReceive {
    /// `NET_RX` softirqs on every node.
    pub fn net_rx(&self) -> u64 {
        self.nodes.iter().map(|n| n.net_rx).sum()
    }

    /// The share of `NET_RX` on the nodes whose CPUs hold any of `cpus` (`None` without any).
    pub fn share_on(&self, cpus: &[u32]) -> Option<f64> {
        let total = self.net_rx();
        (total > 0).then(|| {
            let near: u64 = self
                .nodes
                .iter()
                .filter(|n| n.cpus.iter().any(|c| cpus.contains(c)))
                .map(|n| n.net_rx)
                .sum();
            near as f64 / total as f64
        })
    }
}

impl From<&numaload_proto::v1::NodeReceive> for NodeReceive {
    fn from(n: &numaload_proto::v1::NodeReceive) -> Self {
        NodeReceive {
            node: n.node,
            net_rx: n.net_rx,
            interface_interrupts: n.interface_interrupts,
            cpus: n.cpus.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_share_is_of_net_rx_on_the_nodes_of_the_given_cpus() {
        let node = |node, net_rx, cpus: &[u32]| NodeReceive {
            node,
            net_rx,
            interface_interrupts: 0,
            cpus: cpus.to_vec(),
        };
        let host = HostReceive {
            trial: 1,
            agent: "a".into(),
            interface: "eth0".into(),
            interface_node: Some(0),
            nodes: vec![node(0, 900, &[0, 1]), node(1, 100, &[2, 3])],
            on_replica_nodes: None,
        };
        assert_eq!(host.share_on(&[2]), Some(0.1));
        assert_eq!(host.share_on(&[1, 3]), Some(1.0));
        assert_eq!(host.share_on(&[]), Some(0.0));
        let idle = HostReceive {
            nodes: vec![node(0, 0, &[0])],
            ..host
        };
        assert_eq!(idle.share_on(&[0]), None);
    }
}
