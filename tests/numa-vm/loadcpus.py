"""The load-CPU measurement of the numa-vm guest (imported by check.py; see README.md).

test.sh runs tests/numa-vm/loadcpus-plan.toml twice, `[load] reserve_cpus = 1` then `= 2`: a
`[search]` for the highest open-loop rate the generator keeps up with, against the same three
replicas on nodes 0-2. This module checks both results and records the two rates and their ratio.

Always asserted: each run exited 0 and searched; the load ran on the reserved CPUs (the highest
1 or 2 of the guest), apart from the replicas, one worker per load CPU, each worker on its own
CPU, each carrying load (with two, at a rate kept: each 40-60% of the requests, as its 6 of the
12 connections give it half the send slots); the replicas the same in both runs. The ratio is asserted (at least
MIN_RATIO) only where the host has the cores for it: QEMU runs every vCPU as a host thread, so
with fewer host CPUs than HOST_CPUS_FOR_RATIO the load's second vCPU takes host time from the
first and from the replicas' vCPUs rather than adding any (tests/numa-vm/README.md, "Load CPUs").
"""

import copy
import json

MIN_RATIO = 1.6
# 8 vCPUs, one host CPU for each plus two for QEMU's own threads and the host.
HOST_CPUS_FOR_RATIO = 10
MIN_WORKER_SHARE, MAX_WORKER_SHARE = 0.40, 0.60
REPLICA_NODES = [0, 1, 2]


def expected_load_cpus(node_cpus, reserve):
    allowed = sorted(c for cpus in node_cpus.values() for c in cpus)
    return allowed[-reserve:]


def check_one(result, node_cpus, reserve):
    """Failures of one run (reserve_cpus = `reserve`), and its figures for the record."""
    where = f"load CPUs, reserve_cpus = {reserve}"
    errors = []
    search = (result.get("search") or {}).get("layouts") or []
    if len(search) != 1 or not search[0].get("steps"):
        return [f"{where}: no search with steps in the result ({result.get('search')})"], None
    searched = search[0]
    layouts = result.get("layouts") or []
    if len(layouts) != 1:
        return [f"{where}: {len(layouts)} layouts in the result, expected the search's one"], None
    layout = layouts[0]
    if layout.get("status") != "ok":
        errors.append(f"{where}: status {layout.get('status')!r} ({layout.get('error', '')})")
    load = layout.get("load") or {}
    want = expected_load_cpus(node_cpus, reserve)
    if sorted(load.get("cpus", [])) != want:
        errors.append(f"{where}: load CPUs {load.get('cpus')}, expected the reserved {want}")
    if load.get("shares_cpus_with_replicas"):
        errors.append(f"{where}: the load generator shared CPUs with the replicas")
    replica_cpus = sorted(tuple(sorted(r.get("actual_cpus", []))) for r in layout.get("replicas", []))
    want_replicas = sorted(tuple(node_cpus[n]) for n in REPLICA_NODES if n in node_cpus)
    if replica_cpus != want_replicas:
        errors.append(f"{where}: replicas on {replica_cpus}, expected one on each of nodes {REPLICA_NODES} {want_replicas}")
    on_replicas = {c for cpus in replica_cpus for c in cpus}
    workers = load.get("workers", [])
    worker_cpus = sorted(w.get("cpu") for w in workers)
    if worker_cpus != want:
        errors.append(f"{where}: load workers on CPUs {worker_cpus}, expected one on each of {want}")
    if on_replicas & set(worker_cpus):
        errors.append(f"{where}: load workers on replica CPUs {sorted(on_replicas & set(worker_cpus))}")
    total = sum(w.get("requests", 0) for w in workers)
    kept = searched.get("max_rate_rps") is not None
    shares = []
    for w in workers:
        share = w.get("requests", 0) / total if total else 0.0
        shares.append(round(share, 3))
        if w.get("requests", 0) <= 0:
            errors.append(f"{where}: load worker {w.get('worker')} on CPU {w.get('cpu')} sent nothing")
        # Judged on a step that kept its rate (the one shown when any did): a step that fell
        # behind may have starved one worker's vCPU more than the other's.
        elif len(workers) > 1 and kept and not MIN_WORKER_SHARE <= share <= MAX_WORKER_SHARE:
            errors.append(f"{where}: load worker {w.get('worker')} on CPU {w.get('cpu')} carried {share:.0%} "
                          f"of the requests, expected {MIN_WORKER_SHARE:.0%}-{MAX_WORKER_SHARE:.0%}")
    figures = {
        "reserve_cpus": reserve,
        "load_cpus": load.get("cpus"),
        "max_rate_rps": searched.get("max_rate_rps"),
        "first_failing_rps": searched.get("first_failing_rps"),
        "steps": [{k: s.get(k) for k in ("rate_rps", "achieved_rps", "p99_ns", "error_rate", "passed", "reason")}
                  for s in searched["steps"]],
        "shown_rate_rps": layout.get("target_rate_rps"),
        "workers": [{"worker": w.get("worker"), "cpu": w.get("cpu"), "requests": w.get("requests"),
                     "busy": w.get("busy")} for w in workers],
        "worker_shares": shares,
        "late_sends": layout.get("late_sends"),
        # Guest vCPUs kept busy at that step: the load workers' and the replicas' CPU time over
        # the window (what the host had to give QEMU for it).
        "load_busy_vcpus": round(sum(w.get("busy", 0.0) for w in workers), 2),
        "replicas_busy_vcpus": round(sum(r.get("cpu_time_ns", 0) for r in layout.get("replicas", []))
                                     / 1e9 / max(layout.get("elapsed_s") or 0.0, 1e-9), 2),
    }
    return errors, figures


def check(one, two, node_cpus, host_cpus, min_ratio=None):
    """Failures of both runs and the record (a dict for loadcpus.json). `min_ratio` None: asserted
    only when `host_cpus` >= HOST_CPUS_FOR_RATIO."""
    errors_one, fig_one = check_one(one, node_cpus, 1)
    errors_two, fig_two = check_one(two, node_cpus, 2)
    errors = errors_one + errors_two
    record = {"one_cpu": fig_one, "two_cpus": fig_two, "host_cpus": host_cpus, "ratio": None}
    if fig_one and fig_two and fig_one["max_rate_rps"] and fig_two["max_rate_rps"]:
        record["ratio"] = round(fig_two["max_rate_rps"] / fig_one["max_rate_rps"], 3)
    if min_ratio is None and host_cpus >= HOST_CPUS_FOR_RATIO:
        min_ratio = MIN_RATIO
    record["asserted_min_ratio"] = min_ratio
    if min_ratio is None:
        record["not_asserted_because"] = (
            f"the host has {host_cpus} CPUs for the guest's 8 vCPUs (QEMU TCG: one host thread per "
            f"vCPU); a second load vCPU cannot add host CPU time there, it shares it "
            f"(asserted from {HOST_CPUS_FOR_RATIO} host CPUs, or with LOADCPUS_MIN_RATIO)")
    elif record["ratio"] is None:
        errors.append(f"load CPUs: no sustainable rate found for one or both ({fig_one and fig_one['max_rate_rps']}, "
                      f"{fig_two and fig_two['max_rate_rps']} req/s), so no ratio to hold to >= {min_ratio}")
    elif record["ratio"] < min_ratio:
        errors.append(f"load CPUs: two reached {fig_two['max_rate_rps']:.0f} req/s, one {fig_one['max_rate_rps']:.0f}: "
                      f"ratio {record['ratio']:.2f} < {min_ratio}")
    return errors, record


def summary(record):
    def rate(fig):
        if not fig:
            return "not measured"
        steps = ", ".join(f"{s['rate_rps']:.0f}{'' if s['passed'] else ' (fails: ' + s['reason'] + ')'}"
                          for s in fig["steps"])
        best = f"{fig['max_rate_rps']:.0f} req/s" if fig["max_rate_rps"] else "no rate kept"
        return (f"{best} (steps {steps}; workers {fig['workers']}; busy vCPUs: load "
                f"{fig['load_busy_vcpus']}, replicas {fig['replicas_busy_vcpus']})")
    lines = [f"  load CPUs, one: {rate(record['one_cpu'])}",
             f"  load CPUs, two: {rate(record['two_cpus'])}",
             f"  load CPUs, ratio two/one: {record['ratio']}; host CPUs {record['host_cpus']}; "
             + (f"asserted >= {record['asserted_min_ratio']}" if record["asserted_min_ratio"]
                else f"not asserted: {record['not_asserted_because']}")]
    return "\n".join(lines)


def _both_workers_on_one_cpu(pair):
    for w in pair[1]["layouts"][0]["load"]["workers"]:
        w["cpu"] = 7


def _one_worker_idle(pair):
    pair[1]["layouts"][0]["load"]["workers"][0]["requests"] = 0


def _one_worker_missing(pair):
    pair[1]["layouts"][0]["load"]["workers"].pop()


def _lopsided(pair):
    # On a step that kept its rate, where the split is judged.
    searched = pair[1]["search"]["layouts"][0]
    searched["max_rate_rps"] = searched["max_rate_rps"] or 100.0
    a, b = pair[1]["layouts"][0]["load"]["workers"][:2]
    a["requests"], b["requests"] = a["requests"] + b["requests"] * 3 // 4, b["requests"] // 4


def _load_on_a_replica(pair):
    pair[0]["layouts"][0]["load"]["workers"][0]["cpu"] = 0
    pair[0]["layouts"][0]["load"]["cpus"] = [0]


def _shared(pair):
    pair[1]["layouts"][0]["load"]["shares_cpus_with_replicas"] = True


def _no_search(pair):
    pair[0]["search"] = None


NEGATIVE_CONTROLS = [
    ("both load workers on CPU 7", _both_workers_on_one_cpu),
    ("one of two load workers sent nothing", _one_worker_idle),
    ("one load worker with reserve_cpus = 2", _one_worker_missing),
    ("one worker with 7/8 of the requests", _lopsided),
    ("the load on a replica's CPU", _load_on_a_replica),
    ("the load marked as sharing CPUs", _shared),
    ("no search in the one-CPU result", _no_search),
]


def negative_controls(one, two, node_cpus, host_cpus):
    """Each doctored copy of the pair must be rejected; returns the failures."""
    errors = []
    for name, doctor in NEGATIVE_CONTROLS:
        pair = copy.deepcopy([one, two])
        try:
            doctor(pair)
        except (KeyError, IndexError, TypeError, ValueError) as e:
            errors.append(f"load CPUs negative control {name!r}: could not doctor the result ({e!r})")
            continue
        rejected, _ = check(pair[0], pair[1], node_cpus, host_cpus)
        if rejected:
            print(f"  negative control rejected as it must: {name}: {rejected[0]}")
        else:
            errors.append(f"load CPUs negative control {name!r}: the doctored result PASSED the checks")
    return errors


def save(record, path):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(record, f, indent=2)
