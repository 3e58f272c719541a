//! Preparing a run (pure): the plan checked against this agent's configuration and limits, the
//! target and its knob values resolved per layout, and every layout placed on this host's
//! topology, before anything is launched.

use std::collections::BTreeMap;
use std::time::Duration;

use numaload_proto::v1::{self, LoadMode, RunPlan};

use crate::config::{AgentConfig, Limits};
use crate::loadgen::{self, Mode, RequestTemplate};
use crate::placement::{self, Layout, Placement};
use crate::target::{knobs, Target};
use crate::topology::HostTopology;

/// A plan checked against this agent and this host, ready to run.
#[derive(Debug, Clone)]
pub struct PreparedRun {
    pub run_id: String,
    /// Wait for a `Start` call after placing each layout (synchronized multi-agent runs).
    pub wait_for_start: bool,
    pub start_timeout: Duration,
    /// Whether to calibrate the host before the first layout.
    pub calibrate: bool,
    pub load: LoadPlan,
    pub layouts: Vec<PreparedLayout>,
}

/// One layout, placed, with the target its replicas run and the knob values they get.
#[derive(Debug, Clone)]
pub struct PreparedLayout {
    pub layout: Layout,
    pub placement: Placement,
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
    /// The requests (empty: one `GET /`).
    pub requests: Vec<RequestTemplate>,
    /// Statuses that count as success (empty: any 2xx).
    pub expect_status: Vec<u16>,
}

/// Checks the plan and places every layout; the error says which field is wrong and how to fix it.
pub fn prepare(
    plan: &RunPlan,
    config: &AgentConfig,
    topology: &HostTopology,
) -> Result<PreparedRun, String> {
    let target_spec = plan
        .target
        .as_ref()
        .ok_or("[target]: missing from the plan")?;
    let load = load_plan(plan.load.as_ref().ok_or("[load]: missing from the plan")?)?;
    let reserve = plan.load.as_ref().map_or(0, |l| l.reserve_cpus);
    if plan.layouts.is_empty() {
        return Err("[[layouts]]: the plan has no layout; add at least one".into());
    }
    check_limits(plan, &load, &config.limits)?;
    let mut layouts = Vec::with_capacity(plan.layouts.len());
    for spec in &plan.layouts {
        // A layout may run the target with its own knobs (e.g. another ffi dispatch mode).
        let target_spec = spec.target.as_ref().unwrap_or(target_spec);
        let (target, knobs) = resolve_target(target_spec, config)
            .map_err(|e| format!("layouts[\"{}\"] {e}", spec.name))?;
        // Before placing: placement builds one entry per replica, so a huge count must be
        // refused first (the fuzzer's 4-billion-replica plan).
        if let Some(v1::layout_spec::Replicas::Count(n)) = spec.replicas {
            if n as usize > config.limits.max_replicas {
                return Err(format!(
                    "layouts[\"{}\"] replicas = {n}: exceeds this agent's limit of {} (its \
                     config's limits.max_replicas)",
                    spec.name, config.limits.max_replicas
                ));
            }
        }
        let layout = Layout::try_from(spec).map_err(|e| e.to_string())?;
        let placement = placement::place(topology, &layout, reserve).map_err(|e| e.to_string())?;
        if placement.replicas.len() > config.limits.max_replicas {
            return Err(format!(
                "layouts[\"{}\"]: {} replicas exceed this agent's limit of {} (its config's limits.max_replicas)",
                spec.name,
                placement.replicas.len(),
                config.limits.max_replicas
            ));
        }
        layouts.push(PreparedLayout {
            layout,
            placement,
            target_name: target_spec.name.clone(),
            target: target.clone(),
            knobs,
        });
    }
    let start_timeout_ms = if plan.start_timeout_ms == 0 {
        60_000
    } else {
        plan.start_timeout_ms
    };
    Ok(PreparedRun {
        run_id: plan.run_id.clone(),
        wait_for_start: plan.wait_for_start,
        start_timeout: Duration::from_millis(start_timeout_ms),
        calibrate: !plan.skip_calibration,
        load,
        layouts,
    })
}

/// The target a plan names and its knob values, checked against what the target declares.
fn resolve_target<'c>(
    spec: &v1::TargetSpec,
    config: &'c AgentConfig,
) -> Result<(&'c Target, BTreeMap<String, String>), String> {
    let target = config.target(&spec.name)?;
    if spec.work_us > config.limits.max_work_us {
        return Err(format!(
            "[target] work_us = {} exceeds this agent's limit of {} (its config's \
             limits.max_work_us); ask for less",
            spec.work_us, config.limits.max_work_us
        ));
    }
    let given = plan_knobs(spec, target)?;
    let values = knobs::resolve(&target.knobs, &given)
        .map_err(|e| format!("[target] name = \"{}\" {e}", spec.name))?;
    Ok((target, values))
}

/// The knob values a plan gives: its `knobs` map, plus the built-in targets' typed fields under
/// their knob names. The controller always sends `work_mode = spin` (its default), so that one
/// counts only for a target that declares the knob.
fn plan_knobs(spec: &v1::TargetSpec, target: &Target) -> Result<BTreeMap<String, String>, String> {
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
        Err(_) => {
            return Err(format!(
                "[target] work_mode = {}: unknown; use \"spin\" or \"sleep\"",
                spec.work_mode
            ))
        }
    }
    let dispatch = match FfiDispatch::try_from(spec.dispatch) {
        Ok(FfiDispatch::Unspecified) => None,
        Ok(FfiDispatch::SpawnBlocking) => Some("spawn-blocking"),
        Ok(FfiDispatch::Bounded) => Some("bounded"),
        Ok(FfiDispatch::Inline) => Some("inline"),
        Ok(FfiDispatch::PinnedPool) => Some("pinned-pool"),
        Err(_) => return Err(format!("[target] dispatch = {}: unknown", spec.dispatch)),
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
            return Err(format!(
                "[target] {name}: given both as a field and in knobs; keep one"
            ));
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
) -> Result<PreparedRun, String> {
    use prost::Message as _;
    if bytes.len() > config.limits.max_plan_bytes {
        return Err(format!(
            "the plan is {} bytes, over this agent's limit of {} (limits.max_plan_bytes)",
            bytes.len(),
            config.limits.max_plan_bytes
        ));
    }
    let plan =
        RunPlan::decode(bytes).map_err(|e| format!("the plan is not a valid RunPlan: {e}"))?;
    prepare(&plan, config, topology)
}

fn check_limits(plan: &RunPlan, load: &LoadPlan, limits: &Limits) -> Result<(), String> {
    let over = |what: &str, value: String, limit: String, key: &str| {
        Err(format!(
            "{what} = {value} exceeds this agent's limit of {limit} (its config's limits.{key}); ask for less"
        ))
    };
    if plan.layouts.len() > limits.max_layouts {
        return over(
            "[[layouts]] count",
            plan.layouts.len().to_string(),
            limits.max_layouts.to_string(),
            "max_layouts",
        );
    }
    let layout_time = load.warmup.saturating_add(load.duration);
    if layout_time > limits.max_layout_time {
        return over(
            "[load] warmup + duration",
            format!("{layout_time:?}"),
            format!("{:?}", limits.max_layout_time),
            "max_layout_time",
        );
    }
    if load.connections > limits.max_connections {
        return over(
            "[load] connections",
            load.connections.to_string(),
            limits.max_connections.to_string(),
            "max_connections",
        );
    }
    Ok(())
}

fn load_plan(load: &v1::LoadSpec) -> Result<LoadPlan, String> {
    let mode = match LoadMode::try_from(load.mode) {
        Ok(LoadMode::Open) if load.rate > 0.0 && load.rate.is_finite() => Mode::Open {
            rate_per_sec: load.rate,
        },
        Ok(LoadMode::Open) => {
            return Err(format!(
                "[load] rate = {}: must be a positive number of requests per second",
                load.rate
            ))
        }
        Ok(LoadMode::Closed) => Mode::Closed,
        _ => return Err("[load] mode: unspecified; use \"open\" or \"closed\"".into()),
    };
    if load.connections == 0 {
        return Err("[load] connections = 0: use at least 1".into());
    }
    if load.duration_ms == 0 {
        return Err("[load] duration: must be longer than zero, e.g. \"10s\"".into());
    }
    let send_precision = Duration::from_nanos(load.send_precision_ns);
    if send_precision > loadgen::MAX_SEND_PRECISION {
        return Err(format!(
            "[load] send_precision = {send_precision:?}: at most {:?} (a later send counts as \
             late)",
            loadgen::MAX_SEND_PRECISION
        ));
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
        requests: requests(&load.requests)?,
        expect_status: expect_status(&load.expect_status)?,
    })
}

/// Most requests in one mix (each is pre-built per connection target).
const MAX_REQUESTS: usize = 256;
/// Largest request body.
const MAX_BODY: usize = 1 << 20;

/// The plan's requests, checked again here: the wire is untrusted, and a CR or LF in a header
/// would let a plan smuggle a request of its own into the stream.
fn requests(wire: &[v1::HttpRequest]) -> Result<Vec<RequestTemplate>, String> {
    if wire.len() > MAX_REQUESTS {
        return Err(format!(
            "[[load.requests]]: {} requests, at most {MAX_REQUESTS}",
            wire.len()
        ));
    }
    let token = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
    };
    let printable = |s: &str| s.bytes().all(|b| b == b'\t' || (b' '..=b'~').contains(&b));
    let mut out = Vec::with_capacity(wire.len());
    for (i, r) in wire.iter().enumerate() {
        let at = format!("[[load.requests]] {} (name {:?})", i + 1, r.name);
        if !token(&r.method) {
            return Err(format!("{at} method = {:?}: not an HTTP method", r.method));
        }
        if !(r.path.starts_with('/') || r.path == "*")
            || r.path.bytes().any(|b| b <= b' ' || b == 0x7f)
        {
            return Err(format!(
                "{at} path = {:?}: give an origin-form path such as \"/api?q=1\" (no spaces)",
                r.path
            ));
        }
        for h in &r.headers {
            if !token(&h.name) || !printable(&h.value) {
                return Err(format!(
                    "{at} headers.{:?}: a header name is a token and its value printable text",
                    h.name
                ));
            }
        }
        if r.body.len() > MAX_BODY {
            return Err(format!(
                "{at} body: {} bytes, at most {MAX_BODY}",
                r.body.len()
            ));
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
        });
    }
    if !out.is_empty() && out.iter().all(|r| r.weight == 0) {
        return Err("[[load.requests]]: every weight is 0; give at least one a weight".into());
    }
    // The generator's own rules (a Transfer-Encoding or a wrong Content-Length given by hand).
    crate::loadgen::validate_requests(&out).map_err(|e| format!("[[load.requests]] {e}"))?;
    Ok(out)
}

fn expect_status(wire: &[u32]) -> Result<Vec<u16>, String> {
    wire.iter()
        .map(|&code| {
            u16::try_from(code)
                .ok()
                .filter(|c| (100..=599).contains(c))
                .ok_or_else(|| {
                    format!("[load] expect_status: {code} is not an HTTP status (100-599)")
                })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

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
        type Case<'a> = (v1::TargetSpec, Result<&'a [(&'a str, &'a str)], &'a str>);
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
                Err("[target] name = \"ffi\" knobs.gomaxprocs = \"4\": this target declares no such knob"),
            ),
            (
                spec(|s| {
                    s.limit = 3;
                    s.knobs.insert("limit".into(), "4".into());
                }),
                Err("[target] limit: given both"),
            ),
            (
                spec(|s| s.work_us = 2_000_000),
                Err("[target] work_us = 2000000 exceeds this agent's limit"),
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
                Err(prefix) => {
                    let err = got.expect_err("refused");
                    assert!(err.starts_with(prefix), "{spec:?}: {err}");
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
        assert!(err.contains("knobs.work_mode"), "{err}");
    }

    #[test]
    fn requests_are_checked_on_the_wire_too() {
        let request = |edit: fn(&mut v1::HttpRequest)| {
            let mut r = v1::HttpRequest {
                name: "get".into(),
                method: "GET".into(),
                path: "/".into(),
                weight: 1,
                ..Default::default()
            };
            edit(&mut r);
            requests(&[r])
        };
        assert!(request(|_| {}).is_ok());
        type Edit = fn(&mut v1::HttpRequest);
        let refused: [(Edit, &str); 6] = [
            (|r| r.method = "GE T".into(), "method = \"GE T\""),
            (|r| r.path = "/a b".into(), "path = \"/a b\""),
            (|r| r.path = "http://x/".into(), "path = \"http://x/\""),
            (
                |r| {
                    r.headers.push(v1::Header {
                        name: "X-A".into(),
                        value: "1\r\nGET /evil HTTP/1.1".into(),
                    })
                },
                "headers.\"X-A\"",
            ),
            (|r| r.weight = 0, "every weight is 0"),
            (
                |r| {
                    r.headers.push(v1::Header {
                        name: "Transfer-Encoding".into(),
                        value: "chunked".into(),
                    })
                },
                "Transfer-Encoding",
            ),
        ];
        for (edit, want) in refused {
            let err = request(edit).expect_err(want);
            assert!(err.contains(want), "{err}");
        }
        assert_eq!(expect_status(&[200, 404]), Ok(vec![200, 404]));
        assert!(expect_status(&[99]).is_err() && expect_status(&[70_000]).is_err());
    }
}
