#!/usr/bin/env python3
"""Checks a numa-vm guest console (tests/numa-vm/run.sh): placement read back by numaload
inside a real multi-node guest must be exactly what the topology says it should be.

    check.py CONSOLE_LOG --nodes 4 --cpus-per-node 2 [--save-dir DIR] [--host-cpus N]
             [--loadcpus-min-ratio R] [--qemu-cores C]

Exit 0 when every check passes and every negative control (a doctored copy of the result) is
rejected; 1 otherwise, with one line per failed check. Python 3 standard library only.
"""

import argparse
import base64
import copy
import json
import os
import sys

sys.dont_write_bytecode = True
# Statuses of a layout that was measured: the guest's plans share a CPU with the load generator
# by design, which makes a layout suspect; degraded or failed is an error here.
MEASURED = ("ok", "suspect")  # no __pycache__ in the source tree for the module below
import loadcpus  # noqa: E402  (tests/numa-vm/loadcpus.py)
import nic  # noqa: E402  (tests/numa-vm/nic.py)

MARK = "NUMALOAD-VM-7f3c"
PER_NODE = "per-node"
UNPINNED = "unpinned"
INTERLEAVED = "interleaved"
MIN_OWN_NODE_SHARE = 0.90
MIN_INTERLEAVED_SHARE = 0.10


class ConsoleError(Exception):
    pass


def block(lines, name):
    """The lines between `MARK name-begin` and `MARK name-end` (the last such block)."""
    begin, end = f"{MARK} {name}-begin", f"{MARK} {name}-end"
    starts = [i for i, l in enumerate(lines) if l.strip() == begin]
    if not starts:
        raise ConsoleError(f"the console has no '{begin}' line")
    start = starts[-1] + 1
    for i in range(start, len(lines)):
        if lines[i].strip() == end:
            return lines[start:i]
    raise ConsoleError(f"the console has '{begin}' but no '{end}' (guest cut short?)")


def b64_json(lines, name):
    text = "".join(l.strip() for l in block(lines, name))
    try:
        return json.loads(base64.b64decode(text, validate=True))
    except (ValueError, json.JSONDecodeError) as e:
        raise ConsoleError(f"the {name} block does not decode to JSON: {e}") from e


def value(lines, key):
    for l in reversed(lines):
        parts = l.strip().split()
        if len(parts) >= 3 and parts[0] == MARK and parts[1] == key:
            return parts[2]
    return None


def guest_seconds(lines, key):
    """`MARK key RC secs N`: N, or None."""
    for l in reversed(lines):
        parts = l.strip().split()
        if len(parts) >= 5 and parts[0] == MARK and parts[1] == key and parts[3] == "secs":
            return int(parts[4])
    return None


def cpulist(text):
    """'0-1,4' -> [0, 1, 4]."""
    cpus = []
    for part in text.strip().split(","):
        if not part:
            continue
        lo, _, hi = part.partition("-")
        cpus.extend(range(int(lo), int(hi or lo) + 1))
    return cpus


def parse_sysfs(lines):
    nodes = {}
    for l in block(lines, "sysfs"):
        parts = l.split()
        if len(parts) == 2:
            nodes[int(parts[0])] = cpulist(parts[1])
        elif len(parts) == 1:
            nodes[int(parts[0])] = []
    return nodes


def check_topology(topo, sysfs, nodes, cpus_per_node):
    """The guest is what QEMU was asked for, and hwloc (through numaload) agrees with the kernel.
    Returns (errors, {node: cpus})."""
    errors = []
    by_node = {n["os_index"]: sorted(n["cpus"]) for n in topo.get("numa_nodes", [])}
    if len(by_node) != nodes:
        errors.append(f"topology: numaload sees {len(by_node)} NUMA nodes, the guest was booted with {nodes}")
    if by_node != {n: sorted(c) for n, c in sysfs.items()}:
        errors.append(f"topology: numaload's node CPUs {by_node} differ from the kernel's /sys {sysfs}")
    for node, cpus in by_node.items():
        if len(cpus) != cpus_per_node:
            errors.append(f"topology: node {node} has CPUs {cpus}, expected {cpus_per_node} of them")
    all_cpus = [c for cpus in by_node.values() for c in cpus]
    if len(set(all_cpus)) != len(all_cpus):
        errors.append(f"topology: nodes share CPUs: {by_node}")
    if sorted(topo.get("allowed_cpus", [])) != sorted(all_cpus):
        errors.append(f"topology: allowed_cpus {topo.get('allowed_cpus')} is not the union of the nodes' CPUs")
    domains = topo.get("domains", [])
    if sorted((sorted(d["cpus"]), sorted(d["nodes"])) for d in domains) != sorted(
        (cpus, [node]) for node, cpus in by_node.items()
    ):
        errors.append(f"topology: domains {domains} are not one per node with that node's CPUs")
    return errors, by_node


def pages_share(replica, node):
    pages = {int(k): v for k, v in replica.get("pages_by_node", {}).items()}
    total = sum(pages.values())
    return (pages.get(node, 0) / total if total else 0.0), total, pages


def check_result(result, node_cpus):
    """Every assertion on the result JSON. Returns a list of failures (empty: all good)."""
    errors = []
    layouts = {l["name"]: l for l in result.get("layouts", [])}
    if result.get("cancelled"):
        errors.append("result: the run was cancelled")
    host = result.get("host", {})
    if host.get("numa_nodes") != len(node_cpus):
        errors.append(f"result: host.numa_nodes = {host.get('numa_nodes')}, the guest has {len(node_cpus)}")
    allowed = sorted(c for cpus in node_cpus.values() for c in cpus)
    if sorted(host.get("allowed_cpus", [])) != allowed:
        errors.append(f"result: host.allowed_cpus = {host.get('allowed_cpus')}, the guest has {allowed}")
    cpu_to_node = {tuple(cpus): node for node, cpus in node_cpus.items()}

    # --- per-node: one replica per node, exactly on its CPUs, memory bound to it ---------------
    per = layouts.get(PER_NODE)
    if per is None:
        errors.append(f"result: no layout named {PER_NODE!r}")
    else:
        where = f"layout {PER_NODE!r}"
        if per.get("status") not in MEASURED:
            errors.append(f"{where}: status {per.get('status')!r} ({per.get('error', '')})")
        if not per.get("requests", 0) > 0:
            errors.append(f"{where}: requests = {per.get('requests')}, expected > 0")
        replicas = per.get("replicas", [])
        if len(replicas) != len(node_cpus):
            errors.append(f"{where}: {len(replicas)} replicas, expected one per node ({len(node_cpus)})")
        seen = {}
        for r in replicas:
            rw = f"{where} replica {r.get('index')}"
            actual, intended = sorted(r.get("actual_cpus", [])), sorted(r.get("intended_cpus", []))
            if actual != intended:
                errors.append(f"{rw}: actual_cpus {actual} != intended_cpus {intended}")
            node = cpu_to_node.get(tuple(actual))
            if node is None:
                errors.append(f"{rw}: actual_cpus {actual} are not exactly one node's CPUs {node_cpus}")
                continue
            if node in seen:
                errors.append(f"{rw}: on node {node}'s CPUs {actual}, like replica {seen[node]}")
            seen[node] = r.get("index")
            if r.get("memory_policy") != f"bind:{node}":
                errors.append(f"{rw}: on node {node}'s CPUs but memory_policy is {r.get('memory_policy')!r}, expected 'bind:{node}'")
            if r.get("intended_memory_nodes") != [node]:
                errors.append(f"{rw}: intended_memory_nodes {r.get('intended_memory_nodes')}, expected [{node}]")
            if r.get("placement_ok") is not True:
                errors.append(f"{rw}: placement_ok is {r.get('placement_ok')}")
            share, total, pages = pages_share(r, node)
            if total == 0 or share < MIN_OWN_NODE_SHARE:
                errors.append(f"{rw}: {share:.1%} of {total} anonymous pages on node {node} "
                              f"(pages_by_node {pages}), expected >= {MIN_OWN_NODE_SHARE:.0%}")
            if not r.get("requests", 0) > 0:
                errors.append(f"{rw}: served {r.get('requests')} requests, expected > 0")
        if sorted(seen) != sorted(node_cpus) and len(replicas) == len(node_cpus):
            errors.append(f"{where}: replicas cover nodes {sorted(seen)}, expected {sorted(node_cpus)}")

    # --- unpinned: one replica on every CPU not reserved for load, no memory policy ------------
    unp = layouts.get(UNPINNED)
    if unp is None:
        errors.append(f"result: no layout named {UNPINNED!r}")
    else:
        where = f"layout {UNPINNED!r}"
        reserve = result.get("plan", {}).get("load", {}).get("reserve_cpus", 0)
        pool = allowed[: len(allowed) - reserve]
        if unp.get("status") not in MEASURED:
            errors.append(f"{where}: status {unp.get('status')!r} ({unp.get('error', '')})")
        if not unp.get("requests", 0) > 0:
            errors.append(f"{where}: requests = {unp.get('requests')}, expected > 0")
        replicas = unp.get("replicas", [])
        if len(replicas) != 1:
            errors.append(f"{where}: {len(replicas)} replicas, expected 1")
        for r in replicas:
            rw = f"{where} replica {r.get('index')}"
            for key in ("actual_cpus", "intended_cpus"):
                if sorted(r.get(key, [])) != pool:
                    errors.append(f"{rw}: {key} {sorted(r.get(key, []))}, expected every CPU not reserved for load {pool}")
            if r.get("memory_policy") != "default":
                errors.append(f"{rw}: memory_policy {r.get('memory_policy')!r}, expected 'default'")
            if r.get("intended_memory_nodes") != []:
                errors.append(f"{rw}: intended_memory_nodes {r.get('intended_memory_nodes')}, expected []")
            if r.get("placement_ok") is not True:
                errors.append(f"{rw}: placement_ok is {r.get('placement_ok')}")

    # --- interleaved: unpinned, memory interleaved over every node, pages spread over all ------
    inter = layouts.get(INTERLEAVED)
    if inter is None:
        errors.append(f"result: no layout named {INTERLEAVED!r}")
    else:
        where = f"layout {INTERLEAVED!r}"
        reserve = result.get("plan", {}).get("load", {}).get("reserve_cpus", 0)
        pool = allowed[: len(allowed) - reserve]
        nodes = sorted(node_cpus)
        expected_policy = f"interleave:{nodes[0]}-{nodes[-1]}"
        if inter.get("status") not in MEASURED:
            errors.append(f"{where}: status {inter.get('status')!r} ({inter.get('error', '')})")
        if not inter.get("requests", 0) > 0:
            errors.append(f"{where}: requests = {inter.get('requests')}, expected > 0")
        replicas = inter.get("replicas", [])
        if len(replicas) != 1:
            errors.append(f"{where}: {len(replicas)} replicas, expected 1")
        for r in replicas:
            rw = f"{where} replica {r.get('index')}"
            if sorted(r.get("actual_cpus", [])) != pool:
                errors.append(f"{rw}: actual_cpus {sorted(r.get('actual_cpus', []))}, expected every CPU not reserved for load {pool}")
            if r.get("memory_policy") != expected_policy:
                errors.append(f"{rw}: memory_policy {r.get('memory_policy')!r}, expected {expected_policy!r}")
            if r.get("intended_memory_nodes") != nodes:
                errors.append(f"{rw}: intended_memory_nodes {r.get('intended_memory_nodes')}, expected {nodes}")
            if r.get("placement_ok") is not True:
                errors.append(f"{rw}: placement_ok is {r.get('placement_ok')}")
            for node in nodes:
                share, total, pages = pages_share(r, node)
                if total == 0 or share < MIN_INTERLEAVED_SHARE:
                    errors.append(f"{rw}: {share:.1%} of {total} anonymous pages on node {node} "
                                  f"(pages_by_node {pages}), expected >= {MIN_INTERLEAVED_SHARE:.0%} on every node")
    return errors


CGROUP_LAYOUT = "per-node-in-cgroup"
CGROUP_NODES = [1, 2]
CGROUP_QUOTA = 1.5


def check_cgroup(result, node_cpus):
    """The run whose agent sat in a cgroup v2 with cpu.max 1.5 CPUs and the cpuset of nodes 1-2:
    its limits are reported, the plan was resolved inside them, the replicas inherited them and
    warned about 4 workers on 1.5 CPUs. Returns a list of failures."""
    errors = []
    cpus = sorted(c for n in CGROUP_NODES for c in node_cpus.get(n, []))
    host = result.get("host", {})
    cg = host.get("cgroup") or {}
    where = "cgroup run"
    expected = {"version": "v2", "path": "/numaload", "cpuset_cpus": cpus,
                "cpuset_mems": CGROUP_NODES, "cpu_quota_cpus": CGROUP_QUOTA}
    if cg != expected:
        errors.append(f"{where}: host.cgroup {cg}, expected {expected}")
    if sorted(host.get("allowed_cpus", [])) != cpus:
        errors.append(f"{where}: host.allowed_cpus {host.get('allowed_cpus')}, expected the cpuset {cpus}")
    layout = next((l for l in result.get("layouts", []) if l["name"] == CGROUP_LAYOUT), None)
    if layout is None:
        return errors + [f"{where}: no layout named {CGROUP_LAYOUT!r}"]
    if layout.get("status") not in MEASURED:
        errors.append(f"{where}: status {layout.get('status')!r} ({layout.get('error', '')})")
    replicas = layout.get("replicas", [])
    on = sorted(tuple(sorted(r.get("actual_cpus", []))) for r in replicas)
    if on != sorted(tuple(node_cpus.get(n, [])) for n in CGROUP_NODES):
        errors.append(f"{where}: replicas on CPUs {on}, expected one per node of the cpuset {CGROUP_NODES}")
    for r in replicas:
        rw = f"{where} replica {r.get('index')}"
        if r.get("cgroup") != expected:
            errors.append(f"{rw}: cgroup {r.get('cgroup')}, expected the agent's {expected}")
        if not any(w.startswith(f"warning: 4 worker threads on a cgroup CPU quota of {CGROUP_QUOTA:.2f}")
                   for w in r.get("warnings", [])):
            errors.append(f"{rw}: warnings {r.get('warnings')}, expected the 4-workers-over-quota warning")
    return errors


def _cg_replicas(res):
    return next(l for l in res["layouts"] if l["name"] == CGROUP_LAYOUT)["replicas"]


CGROUP_NEGATIVE_CONTROLS = [
    ("the agent's quota reported unlimited", lambda res: res["host"]["cgroup"].update(cpu_quota_cpus=None)),
    ("the agent's cpuset not reported", lambda res: res["host"]["cgroup"].update(cpuset_cpus=[])),
    ("a replica without its cgroup", lambda res: _cg_replicas(res)[0].update(cgroup=None)),
    ("a replica without its warning", lambda res: _cg_replicas(res)[-1].update(warnings=[])),
    ("a replica outside the cpuset", lambda res: _cg_replicas(res)[0].update(actual_cpus=[0, 1])),
]


def run_controls(label, controls, check, result, node_cpus, expected=(KeyError, IndexError, StopIteration, AttributeError, ValueError)):
    """Each doctored copy of `result` must be rejected by `check`; returns the failures."""
    errors = []
    for name, doctor in controls:
        doctored = copy.deepcopy(result)
        try:
            doctor(doctored)
        except expected as e:
            errors.append(f"{label} {name!r}: could not doctor the result ({e!r})")
            continue
        rejected = check(doctored, node_cpus)
        if rejected:
            print(f"  negative control rejected as it must: {name}: {rejected[0]}")
        else:
            errors.append(f"{label} {name!r}: the doctored result PASSED the checks: they are not live")
    return errors


def cgroup_negative_controls(result, node_cpus):
    return run_controls("cgroup negative control", CGROUP_NEGATIVE_CONTROLS, check_cgroup, result, node_cpus)


def _per_node(result):
    return next(l for l in result["layouts"] if l["name"] == PER_NODE)["replicas"]


def _unpinned(result):
    return next(l for l in result["layouts"] if l["name"] == UNPINNED)["replicas"]


def _interleaved(result):
    return next(l for l in result["layouts"] if l["name"] == INTERLEAVED)["replicas"]


def _interleave_bound(res):
    _interleaved(res)[0]["memory_policy"] = "bind:0-3"


def _interleave_pages_on_one_node(res):
    r = _interleaved(res)[0]
    r["pages_by_node"] = {"0": sum(r["pages_by_node"].values())}


def _interleave_three_nodes(res):
    _interleaved(res)[0]["memory_policy"] = "interleave:0-2"


def _swap_actual(res):
    a, b = _per_node(res)[0], _per_node(res)[1]
    a["actual_cpus"], b["actual_cpus"] = b["actual_cpus"], a["actual_cpus"]


def _swap_cpus_both(res):
    # Consistent intended/actual, but on the other node's CPUs than the memory binding.
    a, b = _per_node(res)[0], _per_node(res)[1]
    for key in ("actual_cpus", "intended_cpus"):
        a[key], b[key] = b[key], a[key]


def _policy_default(res):
    _per_node(res)[-1]["memory_policy"] = "default"


def _pages_elsewhere(res):
    r = _per_node(res)[0]
    node = int(r["memory_policy"].split(":")[1])
    r["pages_by_node"] = {str(node + 1): sum(r["pages_by_node"].values())}


def _one_cpu_short(res):
    r = _per_node(res)[-1]
    r["actual_cpus"] = r["actual_cpus"][:1]
    r["intended_cpus"] = r["intended_cpus"][:1]


def _unpinned_pinned(res):
    _unpinned(res)[0]["actual_cpus"] = _per_node(res)[0]["actual_cpus"]


def _unpinned_bound(res):
    _unpinned(res)[0]["memory_policy"] = "bind:0"


def _no_requests(res):
    next(l for l in res["layouts"] if l["name"] == PER_NODE)["requests"] = 0


def _drop_replica(res):
    _per_node(res).pop()


NEGATIVE_CONTROLS = [
    ("swap two per-node replicas' actual_cpus", _swap_actual),
    ("swap two per-node replicas' actual and intended CPUs (CPUs vs memory node)", _swap_cpus_both),
    ("a per-node replica's memory_policy 'default'", _policy_default),
    ("a per-node replica's pages all on another node", _pages_elsewhere),
    ("a per-node replica on one CPU of its node", _one_cpu_short),
    ("the unpinned replica on one node's CPUs", _unpinned_pinned),
    ("the unpinned replica with memory bound", _unpinned_bound),
    ("per-node layout with 0 requests", _no_requests),
    ("per-node layout with a replica missing", _drop_replica),
    ("the interleaved replica bound instead", _interleave_bound),
    ("the interleaved replica interleaving over 3 of 4 nodes", _interleave_three_nodes),
    ("the interleaved replica's pages all on node 0", _interleave_pages_on_one_node),
]


def negative_controls(result, node_cpus):
    """Each doctored copy must be rejected; returns the failures (controls that passed)."""
    return run_controls("negative control", NEGATIVE_CONTROLS, check_result, result, node_cpus)


GO_PER_NODE = "go-per-node"
GO_ONE = "go-one-process"


def _scraped_last(replica, name):
    for series in replica.get("scraped", []):
        if series.get("name") == name:
            return series.get("last")
    return None


def check_go(result, node_cpus):
    """The Go test server from an agent configuration: per node with GOMAXPROCS = the node's CPUs
    and every thread of it verified on them, and one process with GOMAXPROCS = every CPU.
    Returns a list of failures."""
    errors = []
    all_cpus = sorted(c for cpus in node_cpus.values() for c in cpus)
    layouts = {l["name"]: l for l in result.get("layouts", [])}
    for name in (GO_PER_NODE, GO_ONE):
        layout = layouts.get(name)
        if layout is None:
            errors.append(f"go run: no layout named {name!r}")
            continue
        if layout.get("status") not in MEASURED:
            errors.append(f"go run {name}: status {layout.get('status')!r} ({layout.get('error', '')})")
        if layout.get("requests", 0) <= 0:
            errors.append(f"go run {name}: no request measured")
        for r in layout.get("replicas", []):
            rw = f"go run {name} replica {r.get('index')}"
            if not r.get("placement_ok"):
                errors.append(f"{rw}: placement_ok false: {r.get('mismatches')} {r.get('mismatches_at_end')}")
            if r.get("mismatches") or r.get("mismatches_at_end"):
                errors.append(f"{rw}: mismatches {r.get('mismatches')} / at end {r.get('mismatches_at_end')}")
            # The Go runtime runs several OS threads; each was read back (not only the main one).
            if (r.get("threads") or 0) < 3:
                errors.append(f"{rw}: {r.get('threads')} threads verified, expected the Go runtime's (>= 3)")
            if r.get("processes") != 1 or r.get("processes_max") != 1:
                errors.append(f"{rw}: processes {r.get('processes')} / max {r.get('processes_max')}, expected 1")
    per_node = layouts.get(GO_PER_NODE, {}).get("replicas", [])
    on = sorted(tuple(sorted(r.get("actual_cpus", []))) for r in per_node)
    if on != sorted(tuple(c) for c in node_cpus.values() if c):
        errors.append(f"go run {GO_PER_NODE}: replicas on CPUs {on}, expected one per node {node_cpus}")
    for r in per_node:
        gomaxprocs = _scraped_last(r, "go_gomaxprocs")
        cpus = r.get("intended_cpus", [])
        if gomaxprocs != len(cpus):
            errors.append(f"go run {GO_PER_NODE} replica {r.get('index')}: go_gomaxprocs {gomaxprocs}, "
                          f"expected its node's {len(cpus)} CPUs")
        if r.get("memory_policy", "").split(":")[0] != "bind":
            errors.append(f"go run {GO_PER_NODE} replica {r.get('index')}: memory {r.get('memory_policy')}, expected bind")
    for r in layouts.get(GO_ONE, {}).get("replicas", []):
        gomaxprocs = _scraped_last(r, "go_gomaxprocs")
        if gomaxprocs != len(all_cpus):
            errors.append(f"go run {GO_ONE}: go_gomaxprocs {gomaxprocs}, expected every CPU ({len(all_cpus)})")
    return errors


def _go_replicas(res, name=GO_PER_NODE):
    return next(l for l in res["layouts"] if l["name"] == name)["replicas"]


GO_NEGATIVE_CONTROLS = [
    ("a thread off its node", lambda res: _go_replicas(res)[0].update(
        placement_ok=False, mismatches=[{"pid": 1, "tid": 2, "comm": "go", "what": "may run on CPUs 0-7"}])),
    ("only the main thread read back", lambda res: _go_replicas(res)[1].update(threads=1)),
    ("GOMAXPROCS not the node's CPUs", lambda res: [s.update(last=8.0) for s in _go_replicas(res)[0]["scraped"]
                                                    if s["name"] == "go_gomaxprocs"]),
    ("the one process with GOMAXPROCS 2", lambda res: [s.update(last=2.0) for s in _go_replicas(res, GO_ONE)[0]["scraped"]
                                                       if s["name"] == "go_gomaxprocs"]),
]


def go_negative_controls(result, node_cpus):
    return run_controls("go negative control", GO_NEGATIVE_CONTROLS, check_go, result, node_cpus)


def summary(result):
    for layout in result.get("layouts", []):
        print(f"  layout {layout['name']!r}: status {layout['status']}, {layout['requests']} requests, "
              f"{layout['errors']} errors, load CPUs {layout['load']['cpus']}"
              f"{' (shared with replicas)' if layout['load']['shares_cpus_with_replicas'] else ''}, "
              f"suspect: {'; '.join(layout['suspect']) or 'no'}")
        for r in layout.get("replicas", []):
            print(f"    replica {r['index']}: actual_cpus {r['actual_cpus']} (intended {r['intended_cpus']}), "
                  f"memory {r['memory_policy']} (intended nodes {r['intended_memory_nodes']}), "
                  f"pages_by_node {r['pages_by_node']}, requests {r['requests']}, placement_ok {r['placement_ok']}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("console")
    ap.add_argument("--nodes", type=int, required=True)
    ap.add_argument("--cpus-per-node", type=int, required=True)
    ap.add_argument("--save-dir", help="write topology.json and result.json here")
    ap.add_argument("--host-cpus", type=int, default=os.cpu_count(),
                    help="CPUs of the host running QEMU (decides whether the load-CPU ratio is asserted)")
    ap.add_argument("--loadcpus-min-ratio", type=float, default=None,
                    help="assert two load CPUs reach at least this multiple of one's rate, whatever the host")
    ap.add_argument("--qemu-cores", type=float, default=None,
                    help="host CPUs QEMU used on average while the guest ran (recorded only)")
    args = ap.parse_args()

    with open(args.console, encoding="utf-8", errors="replace") as f:
        lines = f.read().replace("\r", "").splitlines()
    try:
        sysfs = parse_sysfs(lines)
        topo = b64_json(lines, "topology")
        result = b64_json(lines, "result")
    except ConsoleError as e:
        print(f"FAIL: {e} (run rc {value(lines, 'run-rc')}, topology rc {value(lines, 'topology-rc')})")
        return 1
    if args.save_dir:
        for name, doc in (("topology.json", topo), ("result.json", result)):
            with open(f"{args.save_dir}/{name}", "w", encoding="utf-8") as f:
                json.dump(doc, f, indent=2)

    print(f"guest: kernel nodes {sysfs}; numaload run exit code {value(lines, 'run-rc')}")
    summary(result)
    errors, node_cpus = check_topology(topo, sysfs, args.nodes, args.cpus_per_node)
    if value(lines, "run-rc") != "0":
        errors.append(f"numaload run exited with {value(lines, 'run-rc')} in the guest (0 expected)")
    errors += check_result(result, node_cpus)
    if value(lines, "cgroup-rc") != "0":
        errors.append(f"the cgroup v2 run exited with {value(lines, 'cgroup-rc')} in the guest (0 expected)")
    try:
        cgroup_result = b64_json(lines, "cgroup-result")
    except ConsoleError as e:
        errors.append(f"cgroup run: {e}")
    else:
        print(f"  cgroup run: host.cgroup {cgroup_result.get('host', {}).get('cgroup')}")
        summary(cgroup_result)
        cgroup_errors = check_cgroup(cgroup_result, node_cpus)
        errors += cgroup_errors or cgroup_negative_controls(cgroup_result, node_cpus)
        if args.save_dir:
            with open(f"{args.save_dir}/cgroup-result.json", "w", encoding="utf-8") as f:
                json.dump(cgroup_result, f, indent=2)
    if value(lines, "go-rc") != "0":
        errors.append(f"the Go server run exited with {value(lines, 'go-rc')} in the guest (0 expected)")
    try:
        go_result = b64_json(lines, "go-result")
    except ConsoleError as e:
        errors.append(f"go run: {e}")
    else:
        summary(go_result)
        go_errors = check_go(go_result, node_cpus)
        errors += go_errors or go_negative_controls(go_result, node_cpus)
        if args.save_dir:
            with open(f"{args.save_dir}/go-result.json", "w", encoding="utf-8") as f:
                json.dump(go_result, f, indent=2)
    for n in (1, 2):
        if value(lines, f"loadcpus-{n}-rc") != "0":
            errors.append(f"the load-CPU run with reserve_cpus = {n} exited with "
                          f"{value(lines, f'loadcpus-{n}-rc')} in the guest (0 expected)")
    try:
        load_one, load_two = b64_json(lines, "loadcpus-1"), b64_json(lines, "loadcpus-2")
    except ConsoleError as e:
        errors.append(f"load CPUs: {e}")
    else:
        load_errors, record = loadcpus.check(load_one, load_two, node_cpus, args.host_cpus,
                                             args.loadcpus_min_ratio)
        record["qemu_cores_used"] = args.qemu_cores
        record["guest_seconds"] = {n: guest_seconds(lines, f"loadcpus-{n}-rc") for n in (1, 2)}
        print(loadcpus.summary(record))
        errors += load_errors or loadcpus.negative_controls(load_one, load_two, node_cpus, args.host_cpus)
        if args.save_dir:
            loadcpus.save(record, f"{args.save_dir}/loadcpus.json")
            for n, doc in ((1, load_one), (2, load_two)):
                with open(f"{args.save_dir}/loadcpus-{n}-result.json", "w", encoding="utf-8") as f:
                    json.dump(doc, f, indent=2)
    if value(lines, "nic-rc") != "0":
        errors.append(f"the NIC run exited with {value(lines, 'nic-rc')} in the guest (0 expected)")
    try:
        nic_result, nic_topology = b64_json(lines, "nic-result"), b64_json(lines, "nic-topology")
    except ConsoleError as e:
        errors.append(f"nic run: {e}")
    else:
        summary(nic_result)
        nic_errors = nic.check(nic_result, nic_topology, node_cpus)
        errors += nic_errors or nic.negative_controls(nic_result, nic_topology, node_cpus)
        if args.save_dir:
            with open(f"{args.save_dir}/nic-result.json", "w", encoding="utf-8") as f:
                json.dump(nic_result, f, indent=2)
    if not errors:
        errors += negative_controls(result, node_cpus)
    for e in errors:
        print(f"FAIL: {e}")
    if errors:
        return 1
    print(f"PASS: {len(node_cpus)} per-node replicas each exactly on its node's CPUs with memory bound there "
          f"(>= {MIN_OWN_NODE_SHARE:.0%} of pages local), the unpinned control on every CPU with the default policy, "
          f"the interleaved replica with interleave over every node and >= {MIN_INTERLEAVED_SHARE:.0%} of its pages on each; "
          f"{len(NEGATIVE_CONTROLS)} doctored results rejected; under cgroup v2 (cpu.max {CGROUP_QUOTA} CPUs, "
          f"cpuset of nodes {CGROUP_NODES}) the run planned inside the cpuset and reported the limits; "
          f"the Go server per node with GOMAXPROCS = the node's CPUs and every thread verified there, "
          f"one Go process with GOMAXPROCS = every CPU; one and two load CPUs each pinned apart from the "
          f"replicas, one worker per CPU, both carrying load; a virtio card on node {nic.NIC_NODE} driven "
          f"from a load agent outside the guest, NIC-local on its node, its interrupts and most receive "
          f"work there, per-node replicas elsewhere noted")
    return 0


if __name__ == "__main__":
    sys.exit(main())
