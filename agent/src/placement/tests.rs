//! Table-driven tests of the placement rules (see the parent module's documentation).

// A panic is how a test reports failure; the workspace's unwrap_used lint is for library code.
#![allow(clippy::unwrap_used)]

use super::*;
use crate::topology::{from_synthetic, Domain, NumaNode};
use numaload_proto::v1;

const X: &str = "x";

fn layout(replicas: Replicas, pin: Pin, memory: Memory) -> Layout {
    Layout::new(X, replicas, pin, memory)
}

fn node(os_index: u32, cpus: &[u32], subtype: &str) -> NumaNode {
    NumaNode {
        os_index,
        cpus: cpus.to_vec(),
        memory_bytes: 1 << 30,
        subtype: subtype.to_owned(),
    }
}

fn host(allowed: &[u32], nodes: Vec<NumaNode>, domains: &[(&[u32], &[u32])]) -> HostTopology {
    HostTopology {
        pus: allowed.len() as u32,
        cores: allowed.len() as u32,
        packages: 1,
        allowed_cpus: allowed.to_vec(),
        numa_nodes: nodes,
        domains: domains
            .iter()
            .map(|(cpus, nodes)| Domain {
                cpus: cpus.to_vec(),
                nodes: nodes.to_vec(),
            })
            .collect(),
        packages_cpus: Vec::new(),
        l3_domains: Vec::new(),
        l3_level: "L3".to_owned(),
        core_cpus: allowed.iter().map(|&cpu| vec![cpu]).collect(),
        offline_cpus: Vec::new(),
        warnings: Vec::new(),
        nics: Vec::new(),
    }
}

/// 2 nodes × 2 CPUs: domains {0,1} (node 0) and {2,3} (node 1).
fn two_nodes() -> HostTopology {
    from_synthetic("package:2 numa:1 core:2 pu:1").unwrap()
}

/// Like fakeheteromemtiers.xml: DRAM+HBM+NVM tiers; the domain on CPUs 4-5 has no DRAM.
fn tiers() -> HostTopology {
    host(
        &[0, 1, 2, 3, 4, 5],
        vec![
            node(0, &[0, 1], "DRAM"),
            node(1, &[2, 3], "DRAM"),
            node(2, &[4, 5], "HBM"),
            node(4, &[2, 3], "HBM"),
            node(6, &[2, 3], "NVM"),
        ],
        &[(&[0, 1], &[0]), (&[2, 3], &[1, 4]), (&[4, 5], &[2])],
    )
}

/// cgroup-restricted: CPUs 0-1 are allowed but near no allowed node.
fn restricted() -> HostTopology {
    host(
        &[0, 1, 2, 3, 5],
        vec![node(1, &[2, 3], ""), node(2, &[5], ""), node(4, &[], "")],
        &[(&[2, 3], &[1]), (&[5], &[2])],
    )
}

/// (cpus, memory_nodes, domain) of each replica.
type Expected = Vec<(Vec<u32>, Vec<u32>, Option<u32>)>;

struct Case {
    what: &'static str,
    topology: HostTopology,
    layout: Layout,
    reserve: u32,
    replicas: Expected,
    load_cpus: Vec<u32>,
    load_shares_cpus: bool,
    /// Every note must contain one of these, in order; no other notes allowed.
    notes: Vec<&'static str>,
}

#[test]
#[allow(
    clippy::too_many_lines,
    reason = "a table of placement cases: its length is the cases"
)]
fn placement_rules() {
    use Memory::Local;
    use Pin::Node;
    let cases = vec![
        Case {
            what: "per-node pinned local, no reservation: load shares the highest CPU",
            topology: two_nodes(),
            layout: layout(Replicas::PerNode, Node, Local),
            reserve: 0,
            replicas: vec![
                (vec![0, 1], vec![0], Some(0)),
                (vec![2, 3], vec![1], Some(1)),
            ],
            load_cpus: vec![3],
            load_shares_cpus: true,
            notes: vec!["the load generator shares CPU 3 with the replicas; `load.reserve_cpus = 1` gives it its own"],
        },
        Case {
            what: "reserving one CPU shrinks the last domain's replica",
            topology: two_nodes(),
            layout: layout(Replicas::PerNode, Node, Local),
            reserve: 1,
            replicas: vec![(vec![0, 1], vec![0], Some(0)), (vec![2], vec![1], Some(1))],
            load_cpus: vec![3],
            load_shares_cpus: false,
            notes: vec!["replica 1 runs on 1 of NUMA domain 1's 2 CPUs"],
        },
        Case {
            what: "a domain emptied by the reservation is skipped",
            topology: two_nodes(),
            layout: layout(Replicas::PerNode, Node, Local),
            reserve: 2,
            replicas: vec![(vec![0, 1], vec![0], Some(0))],
            load_cpus: vec![2, 3],
            load_shares_cpus: false,
            notes: vec!["NUMA domain 1 (CPUs 2-3) gets no replica"],
        },
        Case {
            what: "fewer pinned replicas than domains: the first ones, spare CPUs to load",
            topology: two_nodes(),
            layout: layout(Replicas::Count(1), Node, Memory::None),
            reserve: 0,
            replicas: vec![(vec![0, 1], vec![], Some(0))],
            load_cpus: vec![2, 3],
            load_shares_cpus: false,
            notes: vec!["1 node-pinned replicas use the first 1 of 2 NUMA domains"],
        },
        Case {
            what: "unpinned replicas each get the pool, no memory policy",
            topology: two_nodes(),
            layout: layout(Replicas::Count(2), Pin::None, Memory::None),
            reserve: 1,
            replicas: vec![(vec![0, 1, 2], vec![], None), (vec![0, 1, 2], vec![], None)],
            load_cpus: vec![3],
            load_shares_cpus: false,
            notes: vec![],
        },
        Case {
            what: "unpinned local memory: every DRAM node of the pool's domains",
            topology: two_nodes(),
            layout: layout(Replicas::Count(1), Pin::None, Local),
            reserve: 0,
            replicas: vec![(vec![0, 1, 2, 3], vec![0, 1], None)],
            load_cpus: vec![3],
            load_shares_cpus: true,
            notes: vec!["shares CPU 3"],
        },
        Case {
            what: "unpinned local memory leaves out domains emptied by the reservation",
            topology: two_nodes(),
            layout: layout(Replicas::Count(1), Pin::None, Local),
            reserve: 2,
            replicas: vec![(vec![0, 1], vec![0], None)],
            load_cpus: vec![2, 3],
            load_shares_cpus: false,
            notes: vec![],
        },
        Case {
            what: "per-node unpinned: one replica per domain, each on the pool",
            topology: two_nodes(),
            layout: layout(Replicas::PerNode, Pin::None, Memory::None),
            reserve: 1,
            replicas: vec![(vec![0, 1, 2], vec![], None), (vec![0, 1, 2], vec![], None)],
            load_cpus: vec![3],
            load_shares_cpus: false,
            notes: vec![],
        },
        Case {
            what: "memory tiers: lowest DRAM node, else the domain's first node",
            topology: tiers(),
            layout: layout(Replicas::PerNode, Node, Local),
            reserve: 0,
            replicas: vec![
                (vec![0, 1], vec![0], Some(0)),
                (vec![2, 3], vec![1], Some(1)),
                (vec![4, 5], vec![2], Some(2)),
            ],
            load_cpus: vec![5],
            load_shares_cpus: true,
            notes: vec![
                "replica 2: its NUMA domain has no DRAM node; memory is bound to node 2 (HBM)",
                "shares CPU 5",
            ],
        },
        Case {
            what: "memory tiers unpinned: DRAM nodes only, never HBM or NVM",
            topology: tiers(),
            layout: layout(Replicas::Count(1), Pin::None, Local),
            reserve: 1,
            replicas: vec![(vec![0, 1, 2, 3, 4], vec![0, 1], None)],
            load_cpus: vec![5],
            load_shares_cpus: false,
            notes: vec![],
        },
        Case {
            what: "unpinned local memory follows the reservation across memory tiers",
            topology: tiers(),
            layout: layout(Replicas::Count(1), Pin::None, Local),
            reserve: 4,
            replicas: vec![(vec![0, 1], vec![0], None)],
            load_cpus: vec![2, 3, 4, 5],
            load_shares_cpus: false,
            notes: vec![],
        },
        Case {
            what: "CPUs near no node go to the load generator",
            topology: restricted(),
            layout: layout(Replicas::PerNode, Node, Local),
            reserve: 0,
            replicas: vec![(vec![2, 3], vec![1], Some(0)), (vec![5], vec![2], Some(1))],
            load_cpus: vec![0, 1],
            load_shares_cpus: false,
            notes: vec![],
        },
        Case {
            what: "a domain without any node gets no memory policy",
            topology: host(&[0, 1], vec![], &[(&[0, 1], &[])]),
            layout: layout(Replicas::PerNode, Node, Local),
            reserve: 1,
            replicas: vec![(vec![0], vec![], Some(0))],
            load_cpus: vec![1],
            load_shares_cpus: false,
            notes: vec!["replica 0 runs on 1 of", "replica 0: its NUMA domain has no memory node"],
        },
    ];
    for case in cases {
        let placement = place(&case.topology, &case.layout, case.reserve)
            .unwrap_or_else(|e| panic!("{}: {e}", case.what));
        let got: Expected = placement
            .replicas
            .iter()
            .map(|r| (r.cpus.clone(), r.memory_nodes.clone(), r.unit))
            .collect();
        assert_eq!(got, case.replicas, "{}", case.what);
        for (i, replica) in placement.replicas.iter().enumerate() {
            assert_eq!(replica.index as usize, i, "{}", case.what);
            assert_eq!(
                replica.threads as usize,
                replica.cpus.len(),
                "{}",
                case.what
            );
        }
        assert_eq!(placement.load_cpus, case.load_cpus, "{}", case.what);
        assert_eq!(
            placement.load_shares_cpus, case.load_shares_cpus,
            "{}",
            case.what
        );
        assert_eq!(
            placement.notes.len(),
            case.notes.len(),
            "{}: {:?}",
            case.what,
            placement.notes
        );
        for (note, expected) in placement.notes.iter().zip(&case.notes) {
            assert!(
                note.contains(expected),
                "{}: {note:?} lacks {expected:?}",
                case.what
            );
        }
    }
}

#[test]
fn hbm_only_pool_binds_to_first_nodes_with_a_note() {
    let topology = host(
        &[0, 1, 2, 3],
        vec![node(2, &[0, 1], "HBM"), node(3, &[2, 3], "HBM")],
        &[(&[0, 1], &[2]), (&[2, 3], &[3])],
    );
    let placement = place(
        &topology,
        &layout(Replicas::Count(1), Pin::None, Memory::Local),
        1,
    )
    .unwrap();
    assert_eq!(placement.replicas[0].memory_nodes, vec![2, 3]);
    assert_eq!(
        placement.notes,
        vec!["the replicas' NUMA domains have no DRAM node; memory is bound to nodes 2-3"]
    );
}

#[test]
fn placement_errors_name_the_field_and_the_fix() {
    let cases: Vec<(&str, HostTopology, Layout, u32, &str)> = vec![
        (
            "reserving every CPU",
            two_nodes(),
            layout(Replicas::PerNode, Pin::Node, Memory::Local),
            4,
            "load.reserve_cpus: 4 CPUs reserved for the load generator but this host allows \
             only 4, leaving none for replicas; use at most 3",
        ),
        (
            "reserving more than every CPU",
            two_nodes(),
            layout(Replicas::Count(1), Pin::None, Memory::None),
            u32::MAX,
            "load.reserve_cpus: 4294967295 CPUs reserved for the load generator but this \
             host allows only 4, leaving none for replicas; use at most 3",
        ),
        (
            "zero pinned replicas",
            two_nodes(),
            layout(Replicas::Count(0), Pin::Node, Memory::Local),
            0,
            "layouts.x.replicas: 0 replicas; use at least 1 or replicas = \"per-node\"",
        ),
        (
            "zero unpinned replicas",
            two_nodes(),
            layout(Replicas::Count(0), Pin::None, Memory::None),
            0,
            "layouts.x.replicas: 0 replicas; use at least 1 or replicas = \"per-node\"",
        ),
        (
            "more pinned replicas than domains",
            two_nodes(),
            layout(Replicas::Count(4), Pin::Node, Memory::Local),
            0,
            "layouts.x.replicas: 4 replicas but this host has 2 NUMA domains; use \
             replicas = \"per-node\" or at most 2",
        ),
        (
            "more pinned replicas than domains left by the reservation",
            two_nodes(),
            layout(Replicas::Count(2), Pin::Node, Memory::Local),
            2,
            "layouts.x.replicas: 2 replicas but only 1 of this host's 2 NUMA domains \
             keep CPUs after load.reserve_cpus = 2; use at most 1 replicas or a smaller \
             load.reserve_cpus",
        ),
        (
            "more unpinned replicas than pool CPUs",
            two_nodes(),
            layout(Replicas::Count(4), Pin::None, Memory::None),
            1,
            "layouts.x.replicas: 4 replicas but only 3 CPUs are left for replicas \
             (load.reserve_cpus = 1); use at most 3",
        ),
        (
            "pinning when the reservation empties every domain",
            restricted(),
            layout(Replicas::PerNode, Pin::Node, Memory::Local),
            3,
            "layouts.x.pin: \"node\" but load.reserve_cpus = 3 leaves no NUMA domain \
             any CPU; use a smaller load.reserve_cpus or pin = \"none\"",
        ),
    ];
    for (what, topology, layout, reserve, expected) in cases {
        let err = place(&topology, &layout, reserve).expect_err(what);
        assert_eq!(err.to_string(), expected, "{what}");
    }
}

fn spec(replicas: Option<v1::layout_spec::Replicas>, pin: i32, memory: i32) -> v1::LayoutSpec {
    v1::LayoutSpec {
        name: X.to_owned(),
        pin,
        memory,
        replicas,
        ..Default::default()
    }
}

#[test]
fn layout_from_wire() {
    use v1::layout_spec::Replicas as R;
    let (node, none) = (v1::Pin::Node as i32, v1::Pin::None as i32);
    let (local, no_mem) = (
        v1::MemoryPolicy::Local as i32,
        v1::MemoryPolicy::None as i32,
    );
    let ok = [
        (
            spec(Some(R::PerNode(true)), node, local),
            layout(Replicas::PerNode, Pin::Node, Memory::Local),
        ),
        (
            spec(Some(R::Count(3)), none, no_mem),
            layout(Replicas::Count(3), Pin::None, Memory::None),
        ),
    ];
    for (spec, expected) in ok {
        assert_eq!(Layout::try_from(&spec).unwrap(), expected);
    }

    let bad = [
        (
            spec(Some(R::Count(1)), 0, local),
            "layouts.x.pin: unspecified; use \"none\", \"node\", \"package\", \"l3\" or \"core\"",
        ),
        (
            spec(Some(R::Count(1)), 7, local),
            "layouts.x.pin: unknown value 7; use \"none\", \"node\", \"package\", \"l3\" or \"core\"",
        ),
        (
            spec(Some(R::Count(1)), node, 0),
            "layouts.x.memory: unspecified; use \"none\", \"local\", \"interleave\" or a node list",
        ),
        (
            spec(Some(R::Count(1)), node, -1),
            "layouts.x.memory: unknown value -1; use \"none\", \"local\", \"interleave\" or a node list",
        ),
        (
            spec(None, node, local),
            "layouts.x.replicas: unspecified; use a count, \"per-node\", \"per-package\", \"per-l3\" or \"nic-local\"",
        ),
        (
            spec(Some(R::PerNode(false)), node, local),
            "layouts.x.replicas: unspecified; use a count, \"per-node\", \"per-package\", \"per-l3\" or \"nic-local\"",
        ),
        (
            spec(Some(R::Count(0)), node, local),
            "layouts.x.replicas: 0 replicas; use at least 1 or replicas = \"per-node\"",
        ),
    ];
    for (spec, expected) in bad {
        let err = Layout::try_from(&spec).unwrap_err();
        assert_eq!(err.to_string(), expected, "{spec:?}");
    }
}

#[test]
fn layout_names_are_quoted_in_errors() {
    let mut bad = spec(None, 0, 0);
    bad.name = "a \"quoted\" name".to_owned();
    let err = Layout::try_from(&bad).unwrap_err().to_string();
    assert!(
        err.starts_with(r#"layouts."a \"quoted\" name".replicas"#),
        "{err}"
    );
}

#[test]
fn new_policies_from_wire() {
    use v1::layout_spec::Replicas as R;
    let full = v1::LayoutSpec {
        name: X.to_owned(),
        replicas: Some(R::PerPackage(true)),
        pin: v1::Pin::Package as i32,
        memory: v1::MemoryPolicy::Interleave as i32,
        smt: v1::Smt::OnePerCore as i32,
        threads: 3,
        ..Default::default()
    };
    let mut expected = layout(Replicas::PerPackage, Pin::Package, Memory::Interleave);
    expected.smt = Smt::OnePerCore;
    expected.threads = Some(3);
    assert_eq!(Layout::try_from(&full).unwrap(), expected);

    // Explicit cpus need no pin; a node list is sorted; smt and threads default.
    let explicit = v1::LayoutSpec {
        name: X.to_owned(),
        replicas: Some(R::Count(1)),
        memory: v1::MemoryPolicy::Nodes as i32,
        memory_nodes: vec![1, 0],
        cpus: "0-1,3".to_owned(),
        ..Default::default()
    };
    let mut expected = layout(Replicas::Count(1), Pin::None, Memory::Nodes(vec![0, 1]));
    expected.cpus = Some(vec![0, 1, 3]);
    assert_eq!(Layout::try_from(&explicit).unwrap(), expected);

    let mut no_nodes = explicit.clone();
    no_nodes.memory_nodes.clear();
    assert_eq!(
        Layout::try_from(&no_nodes).unwrap_err().to_string(),
        "layouts.x.memory_nodes: unspecified; use one or more NUMA node numbers"
    );
    let mut bad_cpus = explicit;
    bad_cpus.cpus = "0-".to_owned();
    assert!(Layout::try_from(&bad_cpus)
        .unwrap_err()
        .to_string()
        .starts_with("layouts.x.cpus:"));
}

#[test]
fn interleave_and_explicit_cpus_on_two_nodes() {
    let interleave = place(
        &two_nodes(),
        &layout(Replicas::Count(2), Pin::None, Memory::Interleave),
        1,
    )
    .unwrap();
    for replica in &interleave.replicas {
        assert_eq!(replica.memory_nodes, vec![0, 1]);
        assert_eq!(replica.memory_policy, NodePolicy::Interleave);
    }
    let none = place(
        &two_nodes(),
        &layout(Replicas::Count(1), Pin::Node, Memory::None),
        0,
    )
    .unwrap();
    assert_eq!(none.replicas[0].memory_policy, NodePolicy::Default);

    // Explicit cpus reaching into the load reservation are shared, and said so.
    let mut explicit = layout(Replicas::Count(1), Pin::None, Memory::Local);
    explicit.cpus = Some(vec![2, 3]);
    let placement = place(&two_nodes(), &explicit, 1).unwrap();
    assert_eq!(placement.replicas[0].cpus, vec![2, 3]);
    assert_eq!(placement.replicas[0].memory_nodes, vec![1]);
    assert_eq!(placement.load_cpus, vec![3]);
    assert!(placement.load_shares_cpus);
    assert!(
        placement.notes[0].contains("CPUs 3 reserved"),
        "{:?}",
        placement.notes
    );
}

#[test]
fn combinations_that_make_no_sense_are_refused() {
    let mut pinned_cpus = layout(Replicas::Count(1), Pin::Node, Memory::None);
    pinned_cpus.cpus = Some(vec![0]);
    let mut per_node_cpus = layout(Replicas::PerNode, Pin::None, Memory::None);
    per_node_cpus.cpus = Some(vec![0]);
    let mut zero_threads = layout(Replicas::Count(1), Pin::None, Memory::None);
    zero_threads.threads = Some(0);
    let cases = [
        (
            pinned_cpus,
            "layouts.x.pin: not used with explicit cpus; remove pin (the cpus are the pinning)",
        ),
        (
            per_node_cpus,
            "layouts.x.replicas: not used with explicit cpus; use a replica count",
        ),
        (
            zero_threads,
            "layouts.x.threads: 0 threads; use at least 1 or threads = \"auto\"",
        ),
        (
            layout(Replicas::PerL3, Pin::Core, Memory::None),
            "layouts.x.pin: \"core\" does not go with replicas = \"per-l3\"; use pin = \"l3\" \
             or pin = \"none\"",
        ),
    ];
    for (layout, expected) in cases {
        let err = place(&two_nodes(), &layout, 0).unwrap_err();
        assert_eq!(err.to_string(), expected);
    }
}

#[test]
fn nic_local_puts_one_replica_on_each_domain_of_the_interface_s_node_only() {
    // 4 nodes × 2 CPUs; the interface sits on node 2.
    let topology = from_synthetic("package:4 numa:1 core:2 pu:1").unwrap();
    let mut nic_local = layout(Replicas::NicLocal, Pin::Node, Memory::Local);
    nic_local.nic_nodes = vec![2];
    let placed = place(&topology, &nic_local, 0).unwrap();
    let seats: Vec<(Vec<u32>, Vec<u32>)> = placed
        .replicas
        .iter()
        .map(|r| (r.cpus.clone(), r.memory_nodes.clone()))
        .collect();
    assert_eq!(
        seats,
        [(vec![4, 5], vec![2])],
        "node 2's CPUs and memory only"
    );

    let unpinned = Layout {
        pin: Pin::None,
        ..nic_local.clone()
    };
    let error = place(&topology, &unpinned, 0).unwrap_err().to_string();
    assert!(error.contains("use pin = \"node\""), "{error}");
    let unknown = Layout {
        nic_nodes: Vec::new(),
        ..nic_local
    };
    let error = place(&topology, &unknown, 0).unwrap_err().to_string();
    assert!(
        error.starts_with("layouts.x.replicas: \"nic-local\" needs the NUMA node"),
        "{error}"
    );
}

#[test]
fn nic_local_arrives_from_the_wire() {
    let spec = v1::LayoutSpec {
        name: X.into(),
        replicas: Some(v1::layout_spec::Replicas::NicLocal(true)),
        pin: v1::Pin::Node as i32,
        memory: v1::MemoryPolicy::Local as i32,
        ..Default::default()
    };
    let layout = Layout::try_from(&spec).unwrap();
    assert_eq!(layout.replicas, Replicas::NicLocal);
    assert!(
        layout.nic_nodes.is_empty(),
        "the agent sets them from its host"
    );
}

#[test]
fn without_load_the_replicas_are_placed_alike_and_nothing_is_said_of_a_generator() {
    // Per node on every CPU: here, the generator would have to share the replicas' CPUs.
    let topology = from_synthetic("package:2 numa:1 core:2 pu:1").unwrap();
    let per_node = layout(Replicas::PerNode, Pin::Node, Memory::Local);
    let with_load = place(&topology, &per_node, 0).unwrap();
    assert!(
        with_load
            .notes
            .iter()
            .any(|n| n.starts_with("the load generator")),
        "{:?}",
        with_load.notes
    );
    assert!(!with_load.load_cpus.is_empty());

    let elsewhere = place_without_load(&topology, &per_node).unwrap();
    assert_eq!(elsewhere.replicas, with_load.replicas);
    assert!(elsewhere.load_cpus.is_empty());
    assert!(!elsewhere.load_shares_cpus);
    assert!(
        !elsewhere.notes.iter().any(|n| n.contains("load generator")),
        "{:?}",
        elsewhere.notes
    );
}
