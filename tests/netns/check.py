#!/usr/bin/env python3
"""Assertions of tests/netns/run.sh on a numaload result JSON. One PASS/FAIL line per check;
exit status 1 if any failed.

  check.py smoke RESULT.json AGENT_ADDR   result of a normal run against AGENT_ADDR (first of
                                          its agents, each of which ran its replicas and drove
                                          their load: role both)
  check.py pids RESULT.json               print every replica pid in the result, one a line
  check.py remote RESULT.json SUT LOAD...  result of a run whose replicas on SUT were driven by
                                          the LOAD agents
"""
import json
import sys

failed = False


def check(ok, what, detail=""):
    global failed
    print(f"{'PASS' if ok else 'FAIL'}: {what}{'' if ok or not detail else ' -- ' + detail}")
    failed = failed or not ok


def agents_errors_add_up(layout):
    """Each agent that measured the layout has its errors by kind, adding up to its errors."""
    n = layout.get("name")
    sums = {a.get("agent"): (sum(a.get("errors_by_kind", {"missing": -1}).values()), a.get("errors"))
            for a in layout.get("agents", [])}
    check(len(sums) > 0 and all(kinds == total for kinds, total in sums.values()),
          f"layout {n}: each agent's errors by kind add up to its errors", repr(sums))


def smoke(path, agent):
    try:
        with open(path) as f:
            r = json.load(f)
    except (OSError, ValueError) as e:
        check(False, f"result file {path} is readable JSON", str(e))
        return
    check(r.get("schema_version") == 2, "result schema_version is 2", repr(r.get("schema_version")))
    got = r.get("host", {}).get("agent")
    check(got == agent, f"result.host.agent is {agent}", f"got {got!r}")
    check(r.get("cancelled") is False, "result is not cancelled", repr(r.get("cancelled")))
    names = [l["name"] for l in r.get("plan", {}).get("layouts", [])]
    layouts = r.get("layouts", [])
    check([l.get("name") for l in layouts] == names and len(names) > 0,
          f"one result per planned layout {names}", repr([l.get("name") for l in layouts]))
    for l in layouts:
        n = l.get("name")
        check(l.get("status") in ("ok", "suspect"), f"layout {n}: status ok or suspect (measured)", f"{l.get('status')!r}: {l.get('error', '')}")
        check(l.get("requests", 0) > 0, f"layout {n}: requests > 0", repr(l.get("requests")))
        roles = {a.get("agent"): a.get("role") for a in l.get("agents", [])}
        check(len(roles) > 0 and set(roles.values()) == {"both"},
              f"layout {n}: every agent's role is both (ran its replicas and drove them)",
              repr(roles))
        agents_errors_add_up(l)
        reps = l.get("replicas", [])
        check(len(reps) > 0, f"layout {n}: has replicas", "none reported")
        for rep in reps:
            check(rep.get("placement_ok") is True,
                  f"layout {n}: replica {rep.get('index')} (pid {rep.get('pid')}) placement_ok",
                  f"intended cpus {rep.get('intended_cpus')} actual {rep.get('actual_cpus')}, "
                  f"memory {rep.get('intended_memory_nodes')} policy {rep.get('memory_policy')!r}")


def remote(path, sut, loads):
    with open(path) as f:
        r = json.load(f)
    check(not r.get("degraded"), "result is not degraded", repr(r.get("degraded")))
    for l in r.get("layouts", []):
        n = l.get("name")
        check(l.get("status") in ("ok", "suspect"), f"layout {n}: measured",
              f"{l.get('status')!r}: {l.get('error', '')}")
        workers = l.get("load", {}).get("workers", [])
        by = sorted({w["agent"] for w in workers})
        check(by == sorted(loads), f"layout {n}: load workers ran on the load agents {loads} only",
              repr(by))
        hosts = {h["agent"]: h["hostname"] for h in r.get("hosts", [])}
        check(all(w["agent"] in hosts for w in workers),
              f"layout {n}: each worker's load agent is a host of the result", repr(hosts))
        total = l.get("requests", 0)
        per_agent = {a["agent"]: a.get("requests", 0) for a in l.get("agents", [])}
        check(total > 0 and total == sum(per_agent.get(a, 0) for a in loads),
              f"layout {n}: merged requests {total} = the sum over the load agents",
              repr(per_agent))
        check(per_agent.get(sut, 0) == 0, f"layout {n}: the host under test sent nothing",
              repr(per_agent.get(sut)))
        roles = {a.get("agent"): a.get("role") for a in l.get("agents", [])}
        expected = {sut: "under_test", **{a: "load" for a in loads}}
        check(roles == expected,
              f"layout {n}: each agent's role: {sut} under_test, the load agents load",
              repr(roles))
        agents_errors_add_up(l)
        reps = l.get("replicas", [])
        check(len(reps) == 2 and all(rep.get("agent") == sut for rep in reps),
              f"layout {n}: the replicas ran on {sut}", repr([rep.get("agent") for rep in reps]))
        check(sum(rep.get("requests", 0) for rep in reps) == total
              and all(rep.get("requests", 0) > 0 for rep in reps),
              f"layout {n}: every replica was driven, and their requests add up",
              repr([rep.get("requests") for rep in reps]))
        counts = [(rep.get("server_requests"), rep.get("generator_responses")) for rep in reps]
        check(all(srv is not None and gen and abs(srv - gen) <= max(10, gen / 100) for srv, gen in counts),
              f"layout {n}: each replica's own request counter agrees with the load agents' responses",
              repr(counts))
        check(not any("miscounts" in r for r in l.get("suspect", [])),
              f"layout {n}: no count disagreement among the reasons to doubt", repr(l.get("suspect")))
        # The skew beyond the load agents' own wake-up lateness (each measures how long after
        # its start instant it began) is the schedule's and the clock correction's: under 1 ms.
        skew = l.get("start_skew_ns")
        late = [a.get("start_late_ns") for a in l.get("agents", []) if a.get("role") == "load"]
        spread = max(late) - min(late) if late and None not in late else None
        check(skew is not None and spread is not None and skew < spread + 1_000_000,
              f"layout {n}: the load agents started at one instant (skew beyond their own "
              f"wake-up lateness under 1 ms)", f"skew {skew!r} ns, lateness {late!r} ns")


def pids(path):
    with open(path) as f:
        r = json.load(f)
    for l in r.get("layouts", []):
        for rep in l.get("replicas", []):
            print(rep["pid"])


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "smoke":
        smoke(sys.argv[2], sys.argv[3])
    elif len(sys.argv) >= 5 and sys.argv[1] == "remote":
        remote(sys.argv[2], sys.argv[3], sys.argv[4:])
    elif len(sys.argv) == 3 and sys.argv[1] == "pids":
        pids(sys.argv[2])
    else:
        sys.exit(__doc__)
    sys.exit(1 if failed else 0)
