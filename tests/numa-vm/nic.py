"""The NIC run of the numa-vm guest (imported by check.py; see README.md).

run.sh gives the guest a virtio network card on a PCI expander bridge with numa_node=2, backed
by a tap device in a network namespace of its own where a load agent listens; test.sh pins the
card's interrupts to node 2's CPUs and runs tests/numa-vm/nic-plan.toml from the guest with
`--load-agent` (one process, per node, NIC-local). Asserted:

- the guest's topology shows the card on node 2;
- every layout was measured and all its load came from the load agent, none from the guest;
- NIC-local placed exactly one replica, on node 2's CPUs with its memory bound there; per node
  placed one per node;
- the guest's receive accounting names the card and its node 2, the card's interrupts ran on
  node 2 (at least MIN_IRQ_SHARE of them) and so did most of the receive work (NET_RX);
- NIC-local's receive work ran on its replica's node (at least MIN_OWN_SHARE); per node's
  replicas off node 2 each have the note that their requests were received on another node.
"""

import copy

LOAD_AGENT = "10.254.78.1:7000"
GUEST_AGENT = "10.254.78.2:7000"
NIC_NODE = 2
MIN_IRQ_SHARE = 0.90
MIN_OWN_SHARE = 0.50
LAYOUTS = ("one-process", "per-node", "nic-local")


def _layout(result, name):
    return next(l for l in result["layouts"] if l["name"] == name)


def check(result, topology, node_cpus):
    errors = []
    nics = [n for n in topology.get("nics", []) if not n.get("is_virtual")]
    card = next((n for n in nics if n.get("numa_node") == NIC_NODE), None)
    if card is None:
        return [f"nic: the guest's topology shows no card on node {NIC_NODE}: {nics}"]
    for name in LAYOUTS:
        layout = _layout(result, name)
        if layout["status"] not in ("ok", "suspect") or layout["requests"] <= 0:
            errors.append(f"nic: {name}: {layout['status']} with {layout['requests']} requests: "
                          f"{layout.get('error', '')}")
        agents = sorted({w["agent"] for w in layout["load"]["workers"]})
        if agents != [LOAD_AGENT]:
            errors.append(f"nic: {name}: load workers on {agents}, not on the load agent only")
        receive = next((r for r in layout.get("net_receive", []) if r["agent"] == GUEST_AGENT), None)
        if receive is None:
            errors.append(f"nic: {name}: no receive accounting for the guest")
            continue
        if receive["interface"] != card["name"] or receive.get("interface_node") != NIC_NODE:
            errors.append(f"nic: {name}: receive names {receive['interface']} on "
                          f"{receive.get('interface_node')}, not {card['name']} on {NIC_NODE}")
        nodes = {n["node"]: n for n in receive["nodes"]}
        irqs = sum(n["interface_interrupts"] for n in nodes.values())
        on_nic = nodes.get(NIC_NODE, {}).get("interface_interrupts", 0)
        if irqs == 0 or on_nic < MIN_IRQ_SHARE * irqs:
            errors.append(f"nic: {name}: {on_nic} of the card's {irqs} interrupts on node {NIC_NODE}")
        busiest = max(nodes.values(), key=lambda n: n["net_rx"])
        if busiest["node"] != NIC_NODE:
            errors.append(f"nic: {name}: most NET_RX on node {busiest['node']}, not {NIC_NODE}: "
                          f"{[(n['node'], n['net_rx']) for n in nodes.values()]}")
    nic_local = _layout(result, "nic-local")
    replicas = nic_local["replicas"]
    want = node_cpus[NIC_NODE]
    if len(replicas) != 1 or sorted(replicas[0]["actual_cpus"]) != want \
            or replicas[0]["intended_memory_nodes"] != [NIC_NODE]:
        errors.append(f"nic: nic-local: replicas {[(r['actual_cpus'], r['intended_memory_nodes']) for r in replicas]}, "
                      f"not one on node {NIC_NODE}'s CPUs {want} bound there")
    share = next((r.get("on_replica_nodes") for r in nic_local.get("net_receive", [])
                  if r["agent"] == GUEST_AGENT), None)
    if share is None or share < MIN_OWN_SHARE:
        errors.append(f"nic: nic-local: {share} of the receive work on its replica's node")
    per_node = _layout(result, "per-node")
    if len(per_node["replicas"]) != len(node_cpus):
        errors.append(f"nic: per-node: {len(per_node['replicas'])} replicas on {len(node_cpus)} nodes")
    for replica in per_node["replicas"]:
        if sorted(replica["actual_cpus"]) == want:
            continue
        said = [n for n in per_node["notes"]
                if n.startswith(f"replica {replica['index']} on {GUEST_AGENT}:") and "another node" in n]
        if not said:
            errors.append(f"nic: per-node: replica {replica['index']} (CPUs {replica['actual_cpus']}) "
                          f"has no note that its requests were received on another node: {per_node['notes']}")
    return errors


def _no_card(result, topology):
    t = copy.deepcopy(topology)
    for n in t["nics"]:
        if n.get("numa_node") == NIC_NODE:
            n["numa_node"] = 0
    return result, t


def _load_in_guest(result, topology):
    r = copy.deepcopy(result)
    _layout(r, "per-node")["load"]["workers"][0]["agent"] = GUEST_AGENT
    return r, topology


def _irqs_elsewhere(result, topology):
    r = copy.deepcopy(result)
    for receive in _layout(r, "nic-local")["net_receive"]:
        for n in receive["nodes"]:
            n["interface_interrupts"] = 1000 if n["node"] == 0 else 0
    return r, topology


def _nic_local_on_node_0(result, topology):
    r = copy.deepcopy(result)
    replica = _layout(r, "nic-local")["replicas"][0]
    replica["actual_cpus"] = _layout(r, "per-node")["replicas"][0]["actual_cpus"]
    return r, topology


def _no_notes(result, topology):
    r = copy.deepcopy(result)
    _layout(r, "per-node")["notes"] = []
    return r, topology


NEGATIVE_CONTROLS = [_no_card, _load_in_guest, _irqs_elsewhere, _nic_local_on_node_0, _no_notes]


def negative_controls(result, topology, node_cpus):
    """Each doctored copy must be rejected; the names of those that were not."""
    errors = []
    for control in NEGATIVE_CONTROLS:
        doctored = control(result, topology)
        try:
            rejected = bool(check(*doctored, node_cpus))
        except (KeyError, IndexError, StopIteration, ValueError):
            rejected = True
        if not rejected:
            errors.append(f"nic: the negative control {control.__name__} was accepted")
    return errors
