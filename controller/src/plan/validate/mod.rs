//! Raw plan → [`Plan`]: defaults applied, ranges checked, one [`Problem`] for the first thing
//! wrong. Pure: no I/O, nothing about the host (the agent checks what needs its topology).

use std::time::Duration;

use super::load::{Load, LoadMode, DEFAULT_MIN_DELIVERED};
use super::problem::{non_empty, quoted, KeyPath, Problem};
use super::protocol;
use super::raw::{RawLoad, RawLoadMode, RawPlan};
use super::request;
use super::search::Search;
use super::thresholds;
use super::validated::Plan;

pub(in crate::plan) mod fixes;
mod layout;
mod shape;
mod target;
mod values;

use values::{duration, number, MAX_DURATION};

use fixes::{CONNECTIONS_FIX, MIN_DELIVERED, PLAN_NAME, RATE, REPEAT, SEND_PRECISION};

const CONNECTIONS: std::ops::RangeInclusive<u32> = 1..=10_000;
const DEFAULT_CONNECTIONS: u32 = 16;
const DEFAULT_WARMUP: Duration = Duration::from_secs(1);
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);
/// How late an open-loop send may be unless the plan says: see `send_precision` in the README.
/// Chosen from `make bench`'s comparison of precisions (BENCHMARKS.md): the coarsest that keeps
/// corrected p50 close to the server's own, for markedly less CPU per request than a precision
/// that needs a wake-up per send.
pub const DEFAULT_SEND_PRECISION: Duration = Duration::from_micros(50);
/// A send later than 1 ms counts as late (the agent's `LATE_SEND`): a coarser precision would
/// make every send late.
const MAX_SEND_PRECISION: Duration = Duration::from_millis(1);
const MAX_REPEAT: u32 = 50;
pub(super) fn validate(raw: RawPlan) -> Result<Plan, Problem> {
    let root = KeyPath::root();
    let name = match raw.name {
        None => {
            let fix = "name the plan at the top of the file, before any [table], \
                       e.g. name = \"quickstart\"";
            return Err(Problem::missing(root.key("name"), fix));
        }
        Some(name) => non_empty(name, root.key("name"), PLAN_NAME)?,
    };
    let repeat = raw.repeat.unwrap_or(1);
    if !(1..=MAX_REPEAT).contains(&repeat) {
        return Err(Problem::value(root.key("repeat"), repeat, REPEAT));
    }
    let target = target::target(raw.target, &root.key("target"))?;
    let load = load(raw.load, &root.key("load"))?;
    let search = match raw.search {
        Some(raw) => Some(search(raw, &load, &root.key("search"))?),
        None => None,
    };
    let layouts = layout::layouts(raw.layouts, &target, &root.key("layouts"))?;
    let names: Vec<&str> = layouts.iter().map(|l| l.name.as_str()).collect();
    let closed_loop = load.rate().is_none();
    let thresholds =
        thresholds::validate(raw.thresholds, closed_loop, &names, &root.key("thresholds"))?;
    let fleet = super::fleet::validate(raw.fleet, &root.key("fleet"))?;
    Ok(Plan {
        name,
        repeat,
        search,
        load,
        layouts,
        target,
        thresholds,
        fleet,
    })
}

fn search(raw: super::raw::RawSearch, load: &Load, at: &KeyPath) -> Result<Search, Problem> {
    let slo = raw.slo_p99.ok_or_else(|| {
        Problem::missing(
            at.key("slo_p99"),
            "give the p99 objective, e.g. slo_p99 = \"5ms\"",
        )
    })?;
    let slo_p99 = duration(&slo, at.key("slo_p99"), "\"5ms\"")?;
    let Some(load_rate) = load.rate() else {
        let fix = "a search sets open-loop rates: use load.mode = \"open\"";
        return Err(Problem::about(at.clone(), fix));
    };
    if !load.stages.is_empty() || load.trace.is_some() {
        let fix = "a search steps one constant open-loop rate: not with load.stages or \
                   load.trace";
        return Err(Problem::about(at.clone(), fix));
    }
    let fraction = |key: &str, value: Option<f64>, default: f64, fix: &str, open_low: bool| {
        let value = value.unwrap_or(default);
        let ok =
            value.is_finite() && value <= 1.0 && if open_low { value > 0.0 } else { value >= 0.0 };
        if ok {
            Ok(value)
        } else {
            Err(Problem::value(at.key(key), value, fix))
        }
    };
    let max_error_rate = fraction(
        "max_error_rate",
        raw.max_error_rate,
        0.001,
        "must be a fraction from 0 to 1, e.g. 0.001",
        false,
    )?;
    let precision = fraction(
        "precision",
        raw.precision,
        0.05,
        "must be a fraction between 0 and 1, e.g. 0.05",
        true,
    )?;
    let start_rate = raw.start_rate.unwrap_or(load_rate);
    if !(start_rate.is_finite() && start_rate >= 1.0) {
        return Err(Problem::value(
            at.key("start_rate"),
            start_rate,
            "must be at least 1 request per second",
        ));
    }
    let max_rate = raw.max_rate.unwrap_or(1_000_000.0);
    if !(max_rate.is_finite() && max_rate >= start_rate) {
        return Err(Problem::value(
            at.key("max_rate"),
            max_rate,
            "must be at least start_rate",
        ));
    }
    let max_steps = raw.max_steps.unwrap_or(12);
    if !(1..=50).contains(&max_steps) {
        return Err(Problem::value(
            at.key("max_steps"),
            max_steps,
            "must be a whole number of steps from 1 to 50",
        ));
    }
    Ok(Search {
        slo_p99,
        max_error_rate,
        start_rate,
        max_rate,
        precision,
        max_steps,
    })
}

fn load(raw: Option<RawLoad>, at: &KeyPath) -> Result<Load, Problem> {
    let mut raw = raw.ok_or_else(|| {
        let fix = "add a [load] table with at least mode, rate (for open loop) and duration";
        Problem::missing(at.clone(), fix)
    })?;
    let shape = shape::shape(&mut raw, at)?;
    let mode = mode(&raw, &shape, at)?;
    let send_precision = send_precision(raw.send_precision.take(), &mode, at)?;
    let min_delivered = min_delivered(raw.min_delivered.take(), at)?;
    let requests = request::requests(&mut raw, at)?;
    // A gRPC call speaks HTTP/2: h2 with TLS, else h2c, unless the plan says which.
    let grpc = requests.iter().any(|r| r.grpc.is_some());
    if grpc && raw.protocol.is_none() {
        let implied = if raw.tls == Some(true) { "h2" } else { "h2c" };
        raw.protocol = Some(implied.to_owned());
    }
    let (http, streams) = protocol::http(&mut raw, at)?;
    if grpc && http == protocol::Protocol::H1 {
        let fix = "gRPC runs over HTTP/2: set protocol = \"h2c\" (clear text) or \"h2\" \
                   (with tls = true), or leave protocol out";
        return Err(Problem::value(at.key("protocol"), quoted("h1"), fix));
    }
    let tls = protocol::tls(&mut raw, at, http)?;
    let expect_status = request::expect_status(raw.expect_status.take(), &at.key("expect_status"))?;
    let connections = raw.connections.unwrap_or(DEFAULT_CONNECTIONS);
    if !CONNECTIONS.contains(&connections) {
        let key = at.key("connections");
        return Err(Problem::value(key, connections, CONNECTIONS_FIX));
    }
    let duration = window(raw.duration.take(), &shape, at)?;
    let warmup = match raw.warmup {
        Some(text) => self::duration(&text, at.key("warmup"), "\"1s\" or \"0s\"")?,
        // A trace's start is what it recorded: measured unless the plan says otherwise.
        None if shape.trace.is_some() => Duration::ZERO,
        None => DEFAULT_WARMUP,
    };
    let timeout = match raw.timeout {
        None => DEFAULT_TIMEOUT,
        Some(text) => match self::duration(&text, at.key("timeout"), "\"2s\"")? {
            zero if zero.is_zero() => {
                let fix = "must be longer than zero, e.g. \"2s\"";
                return Err(Problem::value(at.key("timeout"), quoted(&text), fix));
            }
            ok => ok,
        },
    };
    Ok(Load {
        mode,
        connections,
        duration,
        warmup,
        reserve_cpus: raw.reserve_cpus.unwrap_or(0),
        timeout,
        send_precision,
        min_delivered,
        requests,
        expect_status,
        interface: interface(raw.interface.take(), at)?,
        arrivals: shape.arrivals,
        seed: shape.seed,
        stages: shape.stages,
        trace: shape.trace,
        tls,
        protocol: http,
        streams,
    })
}

/// The measured window: `duration`, or the stages' durations added up (a trace's length is
/// known once it is read: zero until then); `duration` beside stages or a trace is refused.
fn window(raw: Option<String>, shape: &shape::Shape, at: &KeyPath) -> Result<Duration, Problem> {
    if shape.sets_the_rate() {
        if let Some(text) = raw {
            let fix = if shape.trace.is_some() {
                "not with trace: the measured window runs from the warm-up's end to the trace's \
                 last entry; remove duration"
            } else {
                "not with load.stages: the measured window is the stages' durations added \
                 up; remove duration"
            };
            return Err(Problem::value(at.key("duration"), quoted(&text), fix));
        }
        return Ok(shape.stages.iter().map(|s| s.duration).sum());
    }
    let text = raw.ok_or_else(|| {
        let fix = "add how long to measure each layout, e.g. duration = \"10s\"";
        Problem::missing(at.key("duration"), fix)
    })?;
    match self::duration(&text, at.key("duration"), "\"10s\"")? {
        zero if zero.is_zero() => {
            let fix = "must be longer than zero, e.g. \"10s\"";
            Err(Problem::value(at.key("duration"), quoted(&text), fix))
        }
        long if long > MAX_DURATION => {
            let fix = "must be at most 1h, e.g. \"10m\"";
            Err(Problem::value(at.key("duration"), quoted(&text), fix))
        }
        ok => Ok(ok),
    }
}

/// `interface`: a network interface name as the kernel spells them (at most 15 characters, no
/// slash, colon or blank); empty when the plan says nothing.
fn interface(raw: Option<String>, at: &KeyPath) -> Result<String, Problem> {
    let Some(name) = raw else {
        return Ok(String::new());
    };
    let fine = !name.is_empty()
        && name.len() <= 15
        && !name.contains(|c: char| c == '/' || c == ':' || c.is_whitespace());
    if !fine {
        return Err(Problem::value(
            at.key("interface"),
            quoted(&name),
            fixes::INTERFACE,
        ));
    }
    Ok(name)
}

/// `min_delivered`: a percentage text from "0%" to "100%", as a share;
/// [`DEFAULT_MIN_DELIVERED`] when the plan says nothing.
fn min_delivered(raw: Option<String>, at: &KeyPath) -> Result<f64, Problem> {
    let Some(text) = raw else {
        return Ok(DEFAULT_MIN_DELIVERED);
    };
    let percent = text
        .trim()
        .strip_suffix('%')
        .and_then(|n| n.trim().parse::<f64>().ok())
        .filter(|p| (0.0..=100.0).contains(p));
    match percent {
        Some(p) => Ok(p / 100.0),
        None => Err(Problem::value(
            at.key("min_delivered"),
            quoted(&text),
            MIN_DELIVERED,
        )),
    }
}

/// Open loop needs a rate (unless stages or a trace give it, which refuse one), closed loop
/// refuses one; `coalesce` and `spin` are closed loop's alone.
fn mode(raw: &RawLoad, shape: &shape::Shape, at: &KeyPath) -> Result<LoadMode, Problem> {
    if raw.mode == Some(RawLoadMode::Open) {
        for (key, value) in [("coalesce", raw.coalesce), ("spin", raw.spin)] {
            if let Some(value) = value {
                let fix = format!(
                    "used with mode = \"closed\" only (open loop sends at its scheduled times \
                     and reads every response at once); remove {key}"
                );
                return Err(Problem::value(at.key(key), value, &fix));
            }
        }
    }
    if raw.mode == Some(RawLoadMode::Open) && shape.sets_the_rate() {
        if let Some(rate) = raw.rate {
            let fix = if shape.trace.is_some() {
                "not with trace: the trace says when each request goes; remove rate"
            } else {
                "not with load.stages: each stage gives its rate; remove rate"
            };
            return Err(Problem::value(at.key("rate"), number(rate), fix));
        }
        // The mean the stages ask for; a trace's once it is read.
        return Ok(LoadMode::Open {
            rate: super::shape::mean_rate(&shape.stages),
        });
    }
    match (raw.mode, raw.rate) {
        (None, _) => {
            let fix = "add mode = \"open\" (a fixed request rate) or mode = \"closed\" (fixed \
                       connections)";
            Err(Problem::missing(at.key("mode"), fix))
        }
        (Some(RawLoadMode::Open), None) => {
            let fix = "mode = \"open\" needs requests per second, e.g. rate = 1000";
            Err(Problem::missing(at.key("rate"), fix))
        }
        (Some(RawLoadMode::Open), Some(rate)) if rate.is_finite() && rate > 0.0 => {
            Ok(LoadMode::Open { rate })
        }
        (Some(RawLoadMode::Open), Some(rate)) => {
            Err(Problem::value(at.key("rate"), number(rate), RATE))
        }
        (Some(RawLoadMode::Closed), None) => Ok(LoadMode::Closed {
            coalesce: raw.coalesce.unwrap_or(true),
            spin: raw.spin.unwrap_or(true),
        }),
        (Some(RawLoadMode::Closed), Some(rate)) => {
            let fix = "not used with mode = \"closed\" (each connection sends when its previous \
                       response arrives); remove rate or use mode = \"open\"";
            Err(Problem::value(at.key("rate"), number(rate), fix))
        }
    }
}

/// `send_precision`: open loop only, a humantime duration from 0 to 1 ms (microseconds allowed:
/// the wire carries nanoseconds); [`DEFAULT_SEND_PRECISION`] when the plan says nothing.
fn send_precision(
    text: Option<String>,
    mode: &LoadMode,
    at: &KeyPath,
) -> Result<Duration, Problem> {
    let key = at.key("send_precision");
    let Some(text) = text else {
        return Ok(DEFAULT_SEND_PRECISION);
    };
    if matches!(mode, LoadMode::Closed { .. }) {
        let fix = "used with mode = \"open\" only (closed loop has no send times); remove \
                   send_precision";
        return Err(Problem::value(key, quoted(&text), fix));
    }
    match humantime::parse_duration(&text) {
        Ok(precision) if precision <= MAX_SEND_PRECISION => Ok(precision),
        Ok(_) => Err(Problem::value(key, quoted(&text), SEND_PRECISION)),
        Err(e) => {
            let fix = format!("not a duration ({e}); {SEND_PRECISION}");
            Err(Problem::value(key, quoted(&text), &fix))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_with(mode: &str, precision: Option<&str>) -> Result<Plan, String> {
        let rate = if mode == "open" { "rate = 1000\n" } else { "" };
        let precision = precision.map_or(String::new(), |p| format!("send_precision = {p}\n"));
        let doc = format!(
            "name = \"p\"\n[target]\nname = \"async\"\n[load]\nmode = \"{mode}\"\n{rate}\
             duration = \"1s\"\n{precision}[[layouts]]\nname = \"l\"\nreplicas = 1\n"
        );
        crate::plan::parse(&doc, "plan.toml").map_err(|e| e.to_string())
    }

    #[test]
    fn send_precision_defaults_parses_microseconds_and_refuses_the_rest_naming_the_key() {
        let open = load_with("open", None).expect("no key");
        assert_eq!(open.load.send_precision, DEFAULT_SEND_PRECISION);
        for (text, want) in [
            ("\"0us\"", Duration::ZERO),
            ("\"20us\"", Duration::from_micros(20)),
            ("\"250us\"", Duration::from_micros(250)),
            ("\"1ms\"", Duration::from_millis(1)),
        ] {
            let plan = load_with("open", Some(text)).expect(text);
            assert_eq!(plan.load.send_precision, want, "{text}");
            assert_eq!(
                plan.to_run_plan("r").load.expect("load").send_precision_ns,
                want.as_nanos() as u64
            );
        }
        for bad in ["\"2ms\"", "\"fast\"", "50", "\"-1us\""] {
            let message = load_with("open", Some(bad)).expect_err(bad);
            assert!(message.contains("send_precision"), "{bad}: {message}");
            assert_eq!(message.lines().count(), 1, "{bad}: one line: {message}");
        }
        let closed = load_with("closed", Some("\"50us\"")).expect_err("closed loop");
        assert!(
            closed.contains("send_precision") && closed.contains("open"),
            "{closed}"
        );
        assert!(load_with("closed", None).is_ok());
    }

    #[test]
    fn numbers_print_as_toml_writes_them() {
        assert_eq!(number(-5.0), "-5");
        assert_eq!(number(2.5), "2.5");
        assert_eq!(number(f64::NAN), "nan");
        assert_eq!(number(f64::NEG_INFINITY), "-inf");
    }
}
