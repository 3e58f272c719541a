//! Preparing a run (pure): the plan checked against this agent's configuration and limits, the
//! target and its knob values resolved per layout, and every layout placed on this host's
//! topology, before anything is launched.

use std::collections::BTreeMap;
use std::time::Duration;

use numaload_proto::keys;
use numaload_proto::v1::{self, LoadMode, RunPlan};

use super::error::{LoadSpecError, PrepareError, RequestFault, TargetSpecError};
use super::shape::{check_shape, shape};
use crate::config::{AgentConfig, Limits};
use crate::loadgen::{self, LoadShape, Mode, RequestTemplate};
use crate::netrx;
use crate::placement::{self, Layout, Placement, PlacementError};
use crate::target::{knobs, Target};
use crate::topology::HostTopology;

/// A plan checked against this agent and this host, ready to run.
#[derive(Debug, Clone)]
pub struct PreparedRun {
    pub run_id: String,
    /// What this agent does in the run.
    pub role: Role,
    /// Wait for a `Start` call after placing each layout (synchronized multi-agent runs).
    pub wait_for_start: bool,
    pub start_timeout: Duration,
    /// Whether to calibrate the host before the first layout.
    pub calibrate: bool,
    pub load: LoadPlan,
    pub layouts: Vec<PreparedLayout>,
    /// Where this host receives the load, for the receive accounting of each window.
    pub receive: netrx::Site,
}

/// What an agent does in a run ([`v1::AgentRole`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Launch the replicas and drive load at them from this host (a one-host run).
    Local,
    /// Launch the replicas; load agents on other hosts drive them. No CPU is reserved for load.
    Replicas,
    /// Drive load at the replicas each `Start` names; launch nothing.
    Load,
}

/// One layout, placed, with the target its replicas run and the knob values they get (no
/// target for a load agent, which launches nothing).
#[derive(Debug, Clone)]
pub struct PreparedLayout {
    pub layout: Layout,
    pub placement: Placement,
    pub launch: Option<LaunchSpec>,
}

/// The target a layout's replicas run.
#[derive(Debug, Clone)]
pub struct LaunchSpec {
    pub target_name: String,
    pub target: Target,
    /// Every knob with a value (the plan's, else the declared default).
    pub knobs: BTreeMap<String, String>,
}

/// The load section, validated.
#[derive(Debug, Clone)]
pub struct LoadPlan {
    pub mode: Mode,
    pub connections: u32,
    pub duration: Duration,
    pub warmup: Duration,
    pub timeout: Duration,
    /// Closed loop: nap before blocking while the server has a backlog.
    pub coalesce: bool,
    /// Closed loop: busy-poll an adaptive window before blocking when no nap is due.
    pub spin: bool,
    /// Open loop: how late a send may be (zero: the tightest pacing).
    pub send_precision: Duration,
    /// Open loop: stages, Poisson arrivals or a trace (the default: the rate throughout, evenly
    /// spaced).
    pub shape: LoadShape,
    /// The requests (empty: one `GET /`).
    pub requests: Vec<RequestTemplate>,
    /// Statuses that count as success (empty: any 2xx).
    pub expect_status: Vec<u16>,
    /// TLS to the targets (`None`: clear text).
    pub tls: Option<crate::loadgen::TlsSettings>,
    /// The HTTP version, and HTTP/2's streams per connection (1 for HTTP/1.1).
    pub protocol: crate::loadgen::Protocol,
    pub streams: u32,
}

/// Checks the plan and places every layout; the error says which field is wrong and how to fix it.
pub fn prepare(
    plan: &RunPlan,
    config: &AgentConfig,
    topology: &HostTopology,
) -> Result<PreparedRun, PrepareError> {
    let target_spec = plan.target.as_ref().ok_or(PrepareError::MissingTarget)?;
    let load = load_plan(plan.load.as_ref().ok_or(PrepareError::MissingLoad)?)?;
    let role = match v1::AgentRole::try_from(plan.role) {
        Ok(v1::AgentRole::Unspecified) => Role::Local,
        Ok(v1::AgentRole::Replicas) => Role::Replicas,
        Ok(v1::AgentRole::Load) => Role::Load,
        Err(_) => return Err(PrepareError::UnknownRole(plan.role)),
    };
    // Load agents drive the replicas from elsewhere: the hosts under test keep every CPU.
    let reserve = match role {
        Role::Replicas => 0,
        _ => plan.load.as_ref().map_or(0, |l| l.reserve_cpus),
    };
    if plan.layouts.is_empty() {
        return Err(PrepareError::NoLayouts);
    }
    let interface = plan.load.as_ref().map_or("", |l| l.interface.as_str());
    let receive = receive_site(interface, config.replica_address, topology)?;
    check_limits(plan, &load, &config.limits)?;
    let mut layouts = Vec::with_capacity(plan.layouts.len());
    for spec in &plan.layouts {
        if role == Role::Load {
            layouts.push(PreparedLayout {
                layout: Layout::try_from(spec)?,
                placement: placement::load_only(topology, reserve)?,
                launch: None,
            });
            continue;
        }
        // A layout may run the target with its own knobs (e.g. another ffi dispatch mode).
        let (target_spec, table) = match &spec.target {
            Some(own) => (own, format!("{}.target", keys::layout(&spec.name))),
            None => (target_spec, "target".to_owned()),
        };
        let (target, knobs) =
            resolve_target(target_spec, config).map_err(|source| PrepareError::Target {
                table,
                source: Box::new(source),
            })?;
        // Before placing: placement builds one entry per replica, so a huge count must be
        // refused first (the fuzzer's 4-billion-replica plan).
        if let Some(v1::layout_spec::Replicas::Count(n)) = spec.replicas {
            if n as usize > config.limits.max_replicas {
                return Err(PrepareError::ReplicasOverLimit {
                    layout: spec.name.clone(),
                    requested: n,
                    limit: config.limits.max_replicas,
                });
            }
        }
        let mut layout = Layout::try_from(spec)?;
        if layout.replicas == placement::Replicas::NicLocal {
            layout.nic_nodes = nic_nodes(&layout.name, &receive, config.replica_address)?;
        }
        let placement = if role == Role::Replicas {
            placement::place_without_load(topology, &layout)?
        } else {
            placement::place(topology, &layout, reserve)?
        };
        if placement.replicas.len() > config.limits.max_replicas {
            return Err(PrepareError::PlacedOverLimit {
                layout: spec.name.clone(),
                placed: placement.replicas.len(),
                limit: config.limits.max_replicas,
            });
        }
        layouts.push(PreparedLayout {
            layout,
            placement,
            launch: Some(LaunchSpec {
                target_name: target_spec.name.clone(),
                target: target.clone(),
                knobs,
            }),
        });
    }
    let start_timeout_ms = if plan.start_timeout_ms == 0 {
        60_000
    } else {
        plan.start_timeout_ms
    };
    Ok(PreparedRun {
        run_id: plan.run_id.clone(),
        role,
        wait_for_start: plan.wait_for_start,
        start_timeout: Duration::from_millis(start_timeout_ms),
        calibrate: !plan.skip_calibration,
        load,
        layouts,
        receive,
    })
}

/// The NUMA nodes a `nic-local` layout named `layout` uses on `topology`: those of `interface`
/// (else of the interface holding `replica_address`), as the agent resolves them.
pub fn nic_local_nodes(
    layout: &str,
    topology: &HostTopology,
    interface: &str,
    replica_address: std::net::IpAddr,
) -> Result<Vec<u32>, PrepareError> {
    let site = receive_site(interface, replica_address, topology)?;
    Ok(nic_nodes(layout, &site, replica_address)?)
}

/// The interface the load arrives on (the plan's, else the one holding `replica_address`), its
/// NUMA node and interrupts, and each node's CPUs.
fn receive_site(
    interface: &str,
    replica_address: std::net::IpAddr,
    topology: &HostTopology,
) -> Result<netrx::Site, PrepareError> {
    let address = replica_address.to_string();
    let nic = if interface.is_empty() {
        topology
            .nics
            .iter()
            .find(|n| n.addresses.contains(&address))
    } else {
        let found = topology.nics.iter().find(|n| n.name == interface);
        if found.is_none() {
            return Err(PrepareError::UnknownInterface {
                name: interface.to_owned(),
                known: topology.nics.iter().map(|n| n.name.clone()).collect(),
            });
        }
        found
    };
    Ok(netrx::Site {
        interface: nic.map_or_else(String::new, |n| n.name.clone()),
        interface_node: nic.and_then(|n| n.numa_node),
        irqs: nic.map_or_else(Vec::new, |n| n.irqs.iter().map(|i| i.irq).collect()),
        nodes: topology
            .numa_nodes
            .iter()
            .map(|n| (n.os_index, n.cpus.clone()))
            .collect(),
    })
}

/// A `nic-local` layout's nodes: the interface's, or why there are none.
fn nic_nodes(
    layout: &str,
    site: &netrx::Site,
    replica_address: std::net::IpAddr,
) -> Result<Vec<u32>, PlacementError> {
    let why = match (&site.interface[..], site.interface_node) {
        (_, Some(node)) => return Ok(vec![node]),
        ("", _) => format!(
            "no interface of this host holds replica_address {replica_address} (set \
             load.interface)"
        ),
        (name, None) => format!(
            "interface {name} has none (the platform reports -1, or it is a virtual device)"
        ),
    };
    Err(PlacementError::NicWithoutNode {
        layout: layout.to_owned(),
        why,
    })
}

/// The target a plan names and its knob values, checked against what the target declares.
fn resolve_target<'c>(
    spec: &v1::TargetSpec,
    config: &'c AgentConfig,
) -> Result<(&'c Target, BTreeMap<String, String>), TargetSpecError> {
    let target = config.target(&spec.name)?;
    if spec.work_us > config.limits.max_work_us {
        return Err(TargetSpecError::WorkUsOverLimit {
            work_us: spec.work_us,
            limit: config.limits.max_work_us,
        });
    }
    let given = plan_knobs(spec, target)?;
    let values = knobs::resolve(&target.knobs, &given).map_err(TargetSpecError::Knob)?;
    Ok((target, values))
}

/// The knob values a plan gives: its `knobs` map, plus the built-in targets' typed fields under
/// their knob names. The controller always sends `work_mode = spin` (its default), so that one
/// counts only for a target that declares the knob.
fn plan_knobs(
    spec: &v1::TargetSpec,
    target: &Target,
) -> Result<BTreeMap<String, String>, TargetSpecError> {
    use v1::{FfiDispatch, WorkMode};
    let mut given: BTreeMap<String, String> = spec.knobs.clone().into_iter().collect();
    let mut typed = Vec::new();
    if spec.work_us > 0 {
        typed.push(("work_us", spec.work_us.to_string()));
    }
    match WorkMode::try_from(spec.work_mode) {
        Ok(WorkMode::Unspecified) => {}
        Ok(WorkMode::Spin) if !target.knobs.contains_key("work_mode") => {}
        Ok(WorkMode::Spin) => typed.push(("work_mode", "spin".into())),
        Ok(WorkMode::Sleep) => typed.push(("work_mode", "sleep".into())),
        Err(_) => return Err(TargetSpecError::UnknownWorkMode(spec.work_mode)),
    }
    let dispatch = match FfiDispatch::try_from(spec.dispatch) {
        Ok(FfiDispatch::Unspecified) => None,
        Ok(FfiDispatch::SpawnBlocking) => Some("spawn-blocking"),
        Ok(FfiDispatch::Bounded) => Some("bounded"),
        Ok(FfiDispatch::Inline) => Some("inline"),
        Ok(FfiDispatch::PinnedPool) => Some("pinned-pool"),
        Err(_) => return Err(TargetSpecError::UnknownDispatch(spec.dispatch)),
    };
    if let Some(dispatch) = dispatch {
        typed.push(("dispatch", dispatch.into()));
    }
    if spec.limit > 0 {
        typed.push(("limit", spec.limit.to_string()));
    }
    if spec.pool_threads > 0 {
        typed.push(("pool_threads", spec.pool_threads.to_string()));
    }
    for (name, value) in typed {
        if given.insert(name.to_owned(), value).is_some() {
            return Err(TargetSpecError::GivenTwice { knob: name });
        }
    }
    Ok(given)
}

/// Decodes an encoded `RunPlan` and prepares it: the whole path untrusted bytes take before
/// anything is launched (fuzzed in `fuzz/`).
pub fn decode_and_prepare(
    bytes: &[u8],
    config: &AgentConfig,
    topology: &HostTopology,
) -> Result<PreparedRun, PrepareError> {
    use prost::Message as _;
    if bytes.len() > config.limits.max_plan_bytes {
        return Err(PrepareError::PlanTooLarge {
            size: bytes.len(),
            limit: config.limits.max_plan_bytes,
        });
    }
    let plan = RunPlan::decode(bytes).map_err(PrepareError::NotARunPlan)?;
    prepare(&plan, config, topology)
}

fn check_limits(plan: &RunPlan, load: &LoadPlan, limits: &Limits) -> Result<(), PrepareError> {
    if plan.layouts.len() > limits.max_layouts {
        return Err(PrepareError::TooManyLayouts {
            count: plan.layouts.len(),
            limit: limits.max_layouts,
        });
    }
    let layout_time = load.warmup.saturating_add(load.duration);
    if layout_time > limits.max_layout_time {
        return Err(PrepareError::LayoutTooLong {
            time: layout_time,
            limit: limits.max_layout_time,
        });
    }
    if load.connections > limits.max_connections {
        return Err(PrepareError::TooManyConnections {
            connections: load.connections,
            limit: limits.max_connections,
        });
    }
    Ok(())
}

fn load_plan(load: &v1::LoadSpec) -> Result<LoadPlan, LoadSpecError> {
    let shape = shape(load)?;
    let rate_given = !shape.stages.is_empty() || shape.trace.is_some();
    let mode = match LoadMode::try_from(load.mode) {
        Ok(LoadMode::Open) if rate_given || (load.rate > 0.0 && load.rate.is_finite()) => {
            Mode::Open {
                rate_per_sec: load.rate,
            }
        }
        Ok(LoadMode::Open) => return Err(LoadSpecError::Rate(load.rate)),
        Ok(LoadMode::Closed) if shape != LoadShape::default() => {
            return Err(LoadSpecError::ShapeInClosedLoop)
        }
        Ok(LoadMode::Closed) => Mode::Closed,
        _ => return Err(LoadSpecError::ModeUnspecified),
    };
    if load.connections == 0 {
        return Err(LoadSpecError::NoConnections);
    }
    if load.duration_ms == 0 {
        return Err(LoadSpecError::ZeroDuration);
    }
    check_shape(&shape, load)?;
    let send_precision = Duration::from_nanos(load.send_precision_ns);
    if send_precision > loadgen::MAX_SEND_PRECISION {
        return Err(LoadSpecError::SendPrecision {
            given: send_precision,
            max: loadgen::MAX_SEND_PRECISION,
        });
    }
    let timeout_ms = if load.timeout_ms == 0 {
        2_000
    } else {
        load.timeout_ms
    };
    Ok(LoadPlan {
        mode,
        connections: load.connections,
        duration: Duration::from_millis(load.duration_ms),
        warmup: Duration::from_millis(load.warmup_ms),
        timeout: Duration::from_millis(timeout_ms),
        coalesce: !load.no_coalesce,
        spin: !load.no_spin,
        send_precision,
        shape,
        requests: requests(&load.requests)?,
        expect_status: expect_status(&load.expect_status)?,
        tls: super::protocol::tls_settings(load.tls.as_ref())?,
        protocol: super::protocol::protocol(load.protocol)?,
        streams: load.streams.max(1),
    })
}

/// Most requests in one mix (each is pre-built per connection target).
const MAX_REQUESTS: usize = 256;
/// Largest request body.
const MAX_BODY: usize = 1 << 20;

/// The plan's requests, checked again here: the wire is untrusted, and a CR or LF in a header
/// would let a plan smuggle a request of its own into the stream.
fn requests(wire: &[v1::HttpRequest]) -> Result<Vec<RequestTemplate>, LoadSpecError> {
    if wire.len() > MAX_REQUESTS {
        return Err(LoadSpecError::TooManyRequests {
            count: wire.len(),
            max: MAX_REQUESTS,
        });
    }
    let token = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
    };
    let printable = |s: &str| s.bytes().all(|b| b == b'\t' || (b' '..=b'~').contains(&b));
    let mut out = Vec::with_capacity(wire.len());
    for (i, r) in wire.iter().enumerate() {
        let at = |fault| LoadSpecError::Request {
            index: i,
            name: r.name.clone(),
            fault,
        };
        if !token(&r.method) {
            return Err(at(RequestFault::Method(r.method.clone())));
        }
        if !(r.path.starts_with('/') || r.path == "*")
            || r.path.bytes().any(|b| b <= b' ' || b == 0x7f)
        {
            return Err(at(RequestFault::Path(r.path.clone())));
        }
        for h in &r.headers {
            if !token(&h.name) || !printable(&h.value) {
                return Err(at(RequestFault::Header(h.name.clone())));
            }
        }
        if r.body.len() > MAX_BODY {
            return Err(at(RequestFault::BodyTooLarge {
                size: r.body.len(),
                max: MAX_BODY,
            }));
        }
        out.push(RequestTemplate {
            name: r.name.clone(),
            method: r.method.clone(),
            path: r.path.clone(),
            headers: r
                .headers
                .iter()
                .map(|h| (h.name.clone(), h.value.clone()))
                .collect(),
            body: r.body.clone(),
            weight: r.weight,
            grpc_expect: super::protocol::grpc_expect(r.grpc.as_ref()).map_err(at)?,
        });
    }
    if !out.is_empty() && out.iter().all(|r| r.weight == 0) {
        return Err(LoadSpecError::NoWeight);
    }
    // The generator's own rules (a Transfer-Encoding or a wrong Content-Length given by hand).
    crate::loadgen::validate_requests(&out).map_err(|e| LoadSpecError::generator(e, &out))?;
    Ok(out)
}

fn expect_status(wire: &[u32]) -> Result<Vec<u16>, LoadSpecError> {
    wire.iter()
        .map(|&code| {
            u16::try_from(code)
                .ok()
                .filter(|c| (100..=599).contains(c))
                .ok_or(LoadSpecError::ExpectStatus(code))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    use crate::target::knobs::KnobError;

    fn config() -> AgentConfig {
        AgentConfig::builtin(Path::new("/usr/bin/numaload"))
    }

    fn spec(edit: impl FnOnce(&mut v1::TargetSpec)) -> v1::TargetSpec {
        let mut spec = v1::TargetSpec {
            name: "ffi".into(),
            ..Default::default()
        };
        edit(&mut spec);
        spec
    }

    #[test]
    fn knobs_resolve_from_fields_and_the_map() {
        let config = config();
        type Is = fn(&TargetSpecError) -> bool;
        type Case<'a> = (v1::TargetSpec, Result<&'a [(&'a str, &'a str)], Is>);
        let cases: [Case<'_>; 7] = [
            (spec(|_| {}), Ok(&[("work_us", "0")])),
            (
                spec(|s| {
                    s.work_us = 20;
                    s.dispatch = v1::FfiDispatch::Bounded as i32;
                    s.limit = 8;
                }),
                Ok(&[("dispatch", "bounded"), ("limit", "8"), ("work_us", "20")]),
            ),
            (
                spec(|s| {
                    s.work_mode = v1::WorkMode::Spin as i32;
                }),
                Ok(&[("work_mode", "spin"), ("work_us", "0")]),
            ),
            (
                spec(|s| {
                    s.knobs.insert("pool_threads".into(), "4".into());
                }),
                Ok(&[("pool_threads", "4"), ("work_us", "0")]),
            ),
            (
                spec(|s| {
                    s.knobs.insert("gomaxprocs".into(), "4".into());
                }),
                Err(|e| {
                    matches!(e, TargetSpecError::Knob(KnobError::Undeclared { knob, .. })
                        if knob == "gomaxprocs")
                }),
            ),
            (
                spec(|s| {
                    s.limit = 3;
                    s.knobs.insert("limit".into(), "4".into());
                }),
                Err(|e| matches!(e, TargetSpecError::GivenTwice { knob: "limit" })),
            ),
            (
                spec(|s| s.work_us = 2_000_000),
                Err(|e| {
                    matches!(
                        e,
                        TargetSpecError::WorkUsOverLimit {
                            work_us: 2_000_000,
                            limit: 1_000_000
                        }
                    )
                }),
            ),
        ];
        for (spec, want) in cases {
            let got = resolve_target(&spec, &config).map(|(_, knobs)| knobs);
            match want {
                Ok(pairs) => {
                    let want: BTreeMap<String, String> = pairs
                        .iter()
                        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                        .collect();
                    assert_eq!(got, Ok(want), "{spec:?}");
                }
                Err(is) => {
                    let err = got.expect_err("refused");
                    assert!(is(&err), "{spec:?}: {err:?}");
                }
            }
        }
    }

    #[test]
    fn a_target_that_declares_no_work_mode_ignores_the_default_spin() {
        let file: crate::config::ConfigFile = crate::config::ConfigFile::parse(
            "[targets.go]\nprogram = \"/bin/go-server\"\nargs = [\"-listen\", \"{listen}\"]\n",
        )
        .expect("valid");
        let config = file.apply(config());
        let spec = v1::TargetSpec {
            name: "go".into(),
            work_mode: v1::WorkMode::Spin as i32,
            ..Default::default()
        };
        let (_, knobs) = resolve_target(&spec, &config).expect("no knob needed");
        assert!(knobs.is_empty());
        let sleep = v1::TargetSpec {
            work_mode: v1::WorkMode::Sleep as i32,
            ..spec
        };
        let err = resolve_target(&sleep, &config).expect_err("go declares no work_mode");
        assert!(
            matches!(&err, TargetSpecError::Knob(KnobError::Undeclared { knob, declared, .. })
                if knob == "work_mode" && declared.is_empty()),
            "{err:?}"
        );
    }

    fn request(edit: impl FnOnce(&mut v1::HttpRequest)) -> v1::HttpRequest {
        let mut r = v1::HttpRequest {
            name: "get".into(),
            method: "GET".into(),
            path: "/".into(),
            weight: 1,
            ..Default::default()
        };
        edit(&mut r);
        r
    }

    #[test]
    fn a_grpc_calls_expected_statuses_become_bits_and_bad_codes_are_refused() {
        let call = |codes: Vec<u32>| {
            request(|r| {
                r.grpc = Some(v1::GrpcCall {
                    expect_status: codes,
                })
            })
        };
        let expect =
            |r: Result<Vec<RequestTemplate>, LoadSpecError>| r.ok().map(|t| t[0].grpc_expect);
        assert_eq!(expect(requests(&[request(|_| {})])), Some(None), "not gRPC");
        assert_eq!(expect(requests(&[call(vec![])])), Some(Some(1)), "OK only");
        assert_eq!(
            expect(requests(&[call(vec![0, 5, 16])])),
            Some(Some(1 | 1 << 5 | 1 << 16))
        );
        assert!(matches!(
            requests(&[call(vec![17])]),
            Err(LoadSpecError::Request {
                fault: RequestFault::GrpcStatus(17),
                ..
            })
        ));
    }

    #[test]
    fn requests_are_checked_on_the_wire_too() {
        assert!(requests(&[request(|_| {})]).is_ok());
        type Edit = fn(&mut v1::HttpRequest);
        type Is = fn(&LoadSpecError) -> bool;
        let refused: [(Edit, Is); 6] = [
            (
                |r| r.method = "GE T".into(),
                |e| matches!(e, LoadSpecError::Request { fault: RequestFault::Method(m), .. } if m == "GE T"),
            ),
            (
                |r| r.path = "/a b".into(),
                |e| matches!(e, LoadSpecError::Request { fault: RequestFault::Path(p), .. } if p == "/a b"),
            ),
            (
                |r| r.path = "http://x/".into(),
                |e| matches!(e, LoadSpecError::Request { fault: RequestFault::Path(p), .. } if p == "http://x/"),
            ),
            (
                |r| {
                    r.headers.push(v1::Header {
                        name: "X-A".into(),
                        value: "1\r\nGET /evil HTTP/1.1".into(),
                    })
                },
                |e| matches!(e, LoadSpecError::Request { fault: RequestFault::Header(h), .. } if h == "X-A"),
            ),
            (|r| r.weight = 0, |e| matches!(e, LoadSpecError::NoWeight)),
            (
                |r| {
                    r.headers.push(v1::Header {
                        name: "Transfer-Encoding".into(),
                        value: "chunked".into(),
                    })
                },
                |e| {
                    matches!(
                        e,
                        LoadSpecError::Request {
                            fault: RequestFault::Generator {
                                field: "headers",
                                ..
                            },
                            ..
                        }
                    )
                },
            ),
        ];
        for (edit, is) in refused {
            let err = requests(&[request(edit)]).expect_err("refused");
            assert!(is(&err), "{err:?}");
        }
        assert_eq!(
            expect_status(&[200, 404]).expect("HTTP statuses"),
            vec![200, 404]
        );
        for code in [99, 70_000] {
            assert!(
                matches!(expect_status(&[code]), Err(LoadSpecError::ExpectStatus(c)) if c == code),
                "{code}"
            );
        }
    }

    /// Each refusal's message, exactly: what a user reads from the controller.
    #[test]
    #[allow(
        clippy::too_many_lines,
        reason = "a table of every refusal and its exact message"
    )]
    fn each_refusal_names_the_field_and_the_fix() {
        fn load(plan: &mut RunPlan) -> &mut v1::LoadSpec {
            plan.load.get_or_insert_with(Default::default)
        }
        fn target(plan: &mut RunPlan) -> &mut v1::TargetSpec {
            plan.target.get_or_insert_with(Default::default)
        }
        let base = || RunPlan {
            run_id: "r".into(),
            target: Some(spec(|_| {})),
            load: Some(v1::LoadSpec {
                mode: LoadMode::Open as i32,
                rate: 1000.0,
                connections: 2,
                duration_ms: 1_000,
                ..Default::default()
            }),
            layouts: vec![v1::LayoutSpec {
                name: "one".into(),
                replicas: Some(v1::layout_spec::Replicas::Count(1)),
                pin: v1::Pin::None as i32,
                memory: v1::MemoryPolicy::None as i32,
                ..Default::default()
            }],
            ..Default::default()
        };
        let host = crate::topology::from_synthetic("package:2 numa:2 core:2 pu:2")
            .expect("synthetic topology");
        let config = config();
        assert!(prepare(&base(), &config, &host).is_ok());
        type Edit = fn(&mut RunPlan);
        let cases: [(Edit, String); 20] = [
            (|p| p.target = None, "target: missing from the plan".into()),
            (|p| p.load = None, "load: missing from the plan".into()),
            (
                |p| p.layouts.clear(),
                "layouts: the plan has no layout; add at least one".into(),
            ),
            (
                |p| load(p).mode = LoadMode::Unspecified as i32,
                "load.mode: unspecified; use \"open\" or \"closed\"".into(),
            ),
            (
                |p| load(p).rate = -1.0,
                "load.rate = -1: must be a positive number of requests per second".into(),
            ),
            (
                |p| load(p).connections = 0,
                "load.connections = 0: use at least 1".into(),
            ),
            (
                |p| load(p).duration_ms = 0,
                "load.duration: must be longer than zero, e.g. \"10s\"".into(),
            ),
            (
                |p| load(p).send_precision_ns = 10_000_000_000,
                format!(
                    "load.send_precision = 10s: at most {:?} (a later send counts as late)",
                    loadgen::MAX_SEND_PRECISION
                ),
            ),
            (
                |p| load(p).expect_status = vec![99],
                "load.expect_status: 99 is not an HTTP status (100-599)".into(),
            ),
            (
                |p| load(p).connections = 10_001,
                "load.connections = 10001 exceeds this agent's limit of 10000 (its config's \
                 limits.max_connections); ask for less"
                    .into(),
            ),
            (
                |p| load(p).duration_ms = 3_600_001,
                "load.warmup + load.duration = 3600.001s exceeds this agent's limit of 3600s (its \
                 config's limits.max_layout_time); ask for less"
                    .into(),
            ),
            (
                |p| p.layouts = vec![p.layouts[0].clone(); 65],
                "layouts: 65 layouts exceed this agent's limit of 64 (its config's \
                 limits.max_layouts); ask for less"
                    .into(),
            ),
            (
                |p| target(p).name = "nginx".into(),
                "target.name = \"nginx\": this agent knows no such target; \
                 use one of: async, ffi (or add targets.nginx to the agent's configuration)"
                    .into(),
            ),
            (
                |p| target(p).work_us = 2_000_000,
                "target.work_us = 2000000 exceeds this agent's limit of \
                 1000000 (its config's limits.max_work_us); ask for less"
                    .into(),
            ),
            (
                |p| target(p).work_mode = 9,
                "target.work_mode = 9: unknown; use \"spin\" or \"sleep\"".into(),
            ),
            (
                |p| target(p).dispatch = 9,
                "target.dispatch = 9: unknown".into(),
            ),
            (
                |p| {
                    target(p).limit = 3;
                    target(p).knobs.insert("limit".into(), "4".into());
                },
                "target.limit: given both as a field and in knobs; keep one".into(),
            ),
            (
                |p| {
                    target(p).knobs.insert("limit".into(), "0".into());
                },
                "target.knobs.limit = \"0\": out of range; \
                 give one in 1..=1000000"
                    .into(),
            ),
            (
                |p| p.layouts[0].replicas = Some(v1::layout_spec::Replicas::Count(1025)),
                "layouts.one.replicas = 1025: exceeds this agent's limit of 1024 (its \
                 config's limits.max_replicas)"
                    .into(),
            ),
            (
                |p| p.layouts[0].replicas = Some(v1::layout_spec::Replicas::Count(0)),
                "layouts.one.replicas: 0 replicas; use at least 1 or replicas = \
                 \"per-node\""
                    .into(),
            ),
        ];
        for (edit, want) in cases {
            let mut plan = base();
            edit(&mut plan);
            let err = prepare(&plan, &config, &host).expect_err(&want);
            assert_eq!(err.to_string(), want);
        }
        let mut per_node = base();
        per_node.layouts[0].replicas = Some(v1::layout_spec::Replicas::PerNode(true));
        per_node.layouts[0].pin = v1::Pin::Node as i32;
        let mut small = self::config();
        small.limits.max_replicas = 2;
        let err = prepare(&per_node, &small, &host).expect_err("4 nodes");
        assert_eq!(
            err.to_string(),
            "layouts.one: 4 replicas exceed this agent's limit of 2 (its config's \
             limits.max_replicas)"
        );
    }

    /// An open loop of two stages, a ramp from 0 and a step, over a 3 s window.
    fn staged() -> v1::LoadSpec {
        let stage = |from_rps, to_rps, duration_ms| v1::LoadStage {
            from_rps,
            to_rps,
            duration_ms,
        };
        v1::LoadSpec {
            mode: LoadMode::Open as i32,
            connections: 2,
            warmup_ms: 500,
            duration_ms: 3_000,
            stages: vec![stage(0.0, 900.0, 2_000), stage(900.0, 900.0, 1_000)],
            ..Default::default()
        }
    }

    #[test]
    fn shapes_on_the_wire_become_the_generators() {
        let base = || v1::LoadSpec {
            arrivals: v1::Arrivals::Poisson as i32,
            seed: 42,
            stream: 2,
            ..staged()
        };
        let plan = load_plan(&base()).expect("stages need no rate");
        assert_eq!(plan.mode, Mode::Open { rate_per_sec: 0.0 });
        assert_eq!(
            plan.shape.arrivals,
            crate::loadgen::Arrivals::Poisson {
                seed: 42,
                stream: 2
            }
        );
        assert_eq!(plan.shape.stages[0].to, 900.0);
        assert_eq!(plan.shape.stages[1].duration, Duration::from_secs(1));
        let traced = v1::LoadSpec {
            stages: Vec::new(),
            arrivals: 0,
            trace: Some(v1::LoadTrace {
                gaps_ns: vec![0, 1_000_000, 0, 2_000_000],
                requests: vec![0, 1, 1, 0],
            }),
            requests: vec![
                request(|r| r.name = "a".into()),
                request(|r| r.name = "b".into()),
            ],
            ..base()
        };
        let plan = load_plan(&traced).expect("a trace");
        let at: Vec<u64> = plan
            .shape
            .trace
            .expect("trace")
            .iter()
            .map(|e| e.at.as_millis() as u64)
            .collect();
        assert_eq!(at, [0, 1, 1, 3], "offsets from the gaps");
    }

    #[test]
    fn shapes_the_generator_cannot_take_are_refused_naming_the_key() {
        let base = staged;
        type Edit = fn(&mut v1::LoadSpec);
        let cases: [(Edit, &str); 7] = [
            (
                |l| l.arrivals = 7,
                "load.arrivals = 7: unknown; use \"uniform\" or \"poisson\"",
            ),
            (
                |l| l.mode = LoadMode::Closed as i32,
                "load.mode = \"closed\": stages, Poisson arrivals and a trace are for mode = \
                 \"open\"",
            ),
            (
                |l| l.stages[1].to_rps = f64::NAN,
                "load.stages.1: its rates must be finite numbers of requests per second, 0 or \
                 more",
            ),
            (
                |l| l.stages[1].duration_ms = 0,
                "load.stages.1.duration: must be longer than zero",
            ),
            (
                |l| l.duration_ms = 4_000,
                "load.stages: they last 3s in all, the measured window 4s; the window is \
                 the stages",
            ),
            (
                |l| {
                    l.stages.clear();
                    l.trace = Some(v1::LoadTrace {
                        gaps_ns: vec![0],
                        requests: vec![1],
                    });
                },
                "load.trace: request 1 of 1: the plan has no such request",
            ),
            (
                |l| {
                    l.stages.clear();
                    l.trace = Some(v1::LoadTrace {
                        gaps_ns: vec![0, 4_000_000_000],
                        requests: vec![0, 0],
                    });
                },
                "load.trace: an entry at 4s falls after the window ends at 3.5s",
            ),
        ];
        for (edit, want) in cases {
            let mut load = base();
            edit(&mut load);
            let err = load_plan(&load).expect_err(want);
            assert_eq!(err.to_string(), want);
        }
    }

    #[test]
    fn each_request_refusal_names_the_request_and_the_field() {
        type Edit = fn(&mut v1::HttpRequest);
        let cases: [(Edit, &str); 4] = [
            (
                |r| r.method = "GE T".into(),
                "load.requests.get.method = \"GE T\": not an HTTP method",
            ),
            (
                |r| r.path = "/a b".into(),
                "load.requests.get.path = \"/a b\": give an origin-form path \
                 such as \"/api?q=1\" (no spaces)",
            ),
            (
                |r| {
                    r.headers.push(v1::Header {
                        name: "X-A".into(),
                        value: "1\r\n".into(),
                    })
                },
                "load.requests.get.headers.X-A: a header name is a token \
                 and its value printable text",
            ),
            (
                |r| r.body = vec![b'x'; MAX_BODY + 1],
                "load.requests.get.body: 1048577 bytes, at most 1048576",
            ),
        ];
        for (edit, want) in cases {
            let err = requests(&[request(edit)]).expect_err(want);
            assert_eq!(err.to_string(), want);
        }
        let many = vec![request(|_| {}); MAX_REQUESTS + 1];
        assert_eq!(
            requests(&many).expect_err("too many").to_string(),
            "load.requests: 257 requests, at most 256"
        );
        let weightless = request(|r| r.weight = 0);
        assert_eq!(
            requests(&[weightless]).expect_err("no weight").to_string(),
            "load.requests: every weight is 0; give at least one a weight"
        );
        let chunked = request(|r| {
            r.headers.push(v1::Header {
                name: "Transfer-Encoding".into(),
                value: "chunked".into(),
            })
        });
        let err = requests(&[chunked]).expect_err("chunked");
        let LoadSpecError::Request {
            fault: RequestFault::Generator { reason, .. },
            ..
        } = &err
        else {
            panic!("{err:?}")
        };
        assert_eq!(
            err.to_string(),
            format!("load.requests.get.headers: {reason}")
        );
    }

    #[test]
    fn bytes_that_are_no_plan_are_refused_before_decoding_or_by_it() {
        let config = config();
        let host = crate::topology::from_synthetic("package:1 numa:1 core:2 pu:1")
            .expect("synthetic topology");
        let big = vec![0u8; config.limits.max_plan_bytes + 1];
        assert_eq!(
            decode_and_prepare(&big, &config, &host)
                .expect_err("too big")
                .to_string(),
            "the plan is 1048577 bytes, over this agent's limit of 1048576 \
             (limits.max_plan_bytes)"
        );
        let garbage = b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01 not a RunPlan";
        let decode = {
            use prost::Message as _;
            RunPlan::decode(&garbage[..]).expect_err("garbage")
        };
        assert_eq!(
            decode_and_prepare(garbage, &config, &host)
                .expect_err("garbage")
                .to_string(),
            format!("the plan is not a valid RunPlan: {decode}")
        );
    }
}
