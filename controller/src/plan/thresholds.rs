//! `[thresholds]`: absolute conditions on each layout's figures, the check a run answers
//! whatever the baseline (`p99 = "< 2ms"`, `throughput = "> 9500"`).
//!
//! A condition is an operator (`<`, `<=`, `>`, `>=`) and a limit in the figure's unit: a
//! duration for `p50`, `p99`, `p999` and `max` (humantime, "2ms", "500us"), a percentage for
//! `error_rate` and `late_sends` ("0.1%"), requests per second for `throughput` ("9500", or
//! "9500 req/s"). The keys of `[thresholds]` hold for every layout; `[thresholds.layouts.NAME]`
//! holds for the layout `NAME` (and for each layout its sweep makes, `NAME/key=value`), its
//! conditions taking the place of the plan-wide ones on the same figure.
//!
//! [`Thresholds`] is the validated table; the JSON echo writes it as the file does (each
//! condition as its text, limits in their unit). Where they are evaluated: `compare::thresholds`.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::problem::{quoted, KeyPath, Problem};
use super::raw::{RawSet, RawThresholds};

/// A figure a threshold is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    P50,
    P99,
    P999,
    Max,
    ErrorRate,
    Throughput,
    LateSends,
}

/// What a limit is measured in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Nanoseconds, written as a humantime duration.
    Duration,
    /// A share from 0 to 1, written as a percentage.
    Percent,
    /// Requests per second.
    Rate,
}

impl Metric {
    /// Every metric, in the order reports list them.
    pub const ALL: [Metric; 7] = [
        Metric::P50,
        Metric::P99,
        Metric::P999,
        Metric::Max,
        Metric::ErrorRate,
        Metric::Throughput,
        Metric::LateSends,
    ];

    /// Its key in the plan (and in the result JSON).
    pub fn key(self) -> &'static str {
        match self {
            Metric::P50 => "p50",
            Metric::P99 => "p99",
            Metric::P999 => "p999",
            Metric::Max => "max",
            Metric::ErrorRate => "error_rate",
            Metric::Throughput => "throughput",
            Metric::LateSends => "late_sends",
        }
    }

    fn from_key(key: &str) -> Option<Metric> {
        Metric::ALL.into_iter().find(|m| m.key() == key)
    }

    pub fn unit(self) -> Unit {
        match self {
            Metric::P50 | Metric::P99 | Metric::P999 | Metric::Max => Unit::Duration,
            Metric::ErrorRate | Metric::LateSends => Unit::Percent,
            Metric::Throughput => Unit::Rate,
        }
    }

    /// A value of this metric (in its base unit: ns, a share, req/s) as the plan writes it:
    /// `1ms 500us`, `0.25%`, `9500 req/s`.
    pub fn show(self, value: f64) -> String {
        match self.unit() {
            Unit::Duration if value.is_finite() => {
                let ns = value.max(0.0).round() as u64;
                // Below a microsecond a duration reads as nanoseconds; above, the
                // nanoseconds add noise to what the plan wrote in ms or us.
                let shown = if ns >= 1_000 { ns - ns % 1_000 } else { ns };
                humantime::format_duration(Duration::from_nanos(shown)).to_string()
            }
            Unit::Percent if value.is_finite() => format!("{}%", round_sig(value * 100.0)),
            Unit::Rate if value.is_finite() => format!("{} req/s", round_sig(value)),
            _ => "∞".to_owned(),
        }
    }
}

/// Up to 4 decimals, trailing zeros dropped: `0.1`, `99.95`, `9500`.
fn round_sig(value: f64) -> String {
    let text = format!("{value:.4}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    text.to_owned()
}

/// How a figure is compared with the limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Below,
    AtMost,
    Above,
    AtLeast,
}

impl Op {
    pub fn symbol(self) -> &'static str {
        match self {
            Op::Below => "<",
            Op::AtMost => "<=",
            Op::Above => ">",
            Op::AtLeast => ">=",
        }
    }

    /// Whether `value` meets the condition `value OP limit`.
    pub fn holds(self, value: f64, limit: f64) -> bool {
        match self {
            Op::Below => value < limit,
            Op::AtMost => value <= limit,
            Op::Above => value > limit,
            Op::AtLeast => value >= limit,
        }
    }

    /// Whether the condition asks the figure to stay low (`<`, `<=`).
    pub fn upper(self) -> bool {
        matches!(self, Op::Below | Op::AtMost)
    }
}

/// One condition on one metric: `value OP limit`, the limit in the metric's base unit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Threshold {
    pub metric: Metric,
    pub op: Op,
    pub limit: f64,
}

impl Threshold {
    /// Reads `"< 2ms"` for `metric`; the error is the fix, in words.
    pub fn parse(metric: Metric, text: &str) -> Result<Threshold, String> {
        let text = text.trim();
        let (op, rest) = [
            ("<=", Op::AtMost),
            (">=", Op::AtLeast),
            ("<", Op::Below),
            (">", Op::Above),
        ]
        .into_iter()
        .find_map(|(symbol, op)| text.strip_prefix(symbol).map(|rest| (op, rest.trim())))
        .ok_or_else(|| {
            format!(
                "must start with <, <=, > or >=, then {}",
                expectation(metric.unit())
            )
        })?;
        let limit = limit(metric.unit(), rest)?;
        if op == Op::Below && limit <= 0.0 {
            return Err(format!(
                "can never pass (no figure is below zero); {}",
                condition_fix(metric)
            ));
        }
        Ok(Threshold { metric, op, limit })
    }

    /// Whether `value` meets it.
    pub fn holds(&self, value: f64) -> bool {
        self.op.holds(value, self.limit)
    }

    /// `< 2ms`, as the plan writes it.
    pub fn condition(&self) -> String {
        format!("{} {}", self.op.symbol(), self.metric.show(self.limit))
    }
}

impl fmt::Display for Threshold {
    /// `p99 < 2ms`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.metric.key(), self.condition())
    }
}

/// The limit after the operator, in `unit`.
fn limit(unit: Unit, text: &str) -> Result<f64, String> {
    let bad = |why: &str| format!("{why}; {}", expectation(unit));
    match unit {
        Unit::Duration => humantime::parse_duration(text)
            .map(|d| d.as_nanos() as f64)
            .map_err(|e| bad(&format!("not a duration ({e})"))),
        Unit::Percent => {
            let number = text
                .strip_suffix('%')
                .ok_or_else(|| bad("not a percentage"))?;
            match number.trim().parse::<f64>() {
                Ok(p) if (0.0..=100.0).contains(&p) => Ok(p / 100.0),
                _ => Err(bad("not a percentage from 0% to 100%")),
            }
        }
        Unit::Rate => {
            let number = text.strip_suffix("req/s").unwrap_or(text).trim();
            match number.parse::<f64>() {
                Ok(r) if r.is_finite() && r >= 0.0 => Ok(r),
                _ => Err(bad("not a number of requests per second")),
            }
        }
    }
}

fn expectation(unit: Unit) -> &'static str {
    match unit {
        Unit::Duration => "a duration with a unit, e.g. \"< 2ms\"",
        Unit::Percent => "a percentage, e.g. \"< 0.1%\"",
        Unit::Rate => "requests per second, e.g. \"> 9500\"",
    }
}

/// What a condition on `metric` must look like, as a problem's fix says it.
pub(in crate::plan) fn condition_fix(metric: Metric) -> String {
    let example = match metric.unit() {
        Unit::Duration => "\"< 2ms\"",
        Unit::Percent => "\"< 0.1%\"",
        Unit::Rate => "\"> 9500\"",
    };
    format!("must be a condition such as {example} (<, <=, > or >=, then the limit)")
}

/// The fix for a condition that is not a string.
pub(in crate::plan) const CONDITION: &str =
    "must be a condition in quotes: an operator (<, <=, >, >=) and a limit, e.g. \"< 2ms\"";
/// The fix for a `[thresholds.layouts]` that is not a table of tables.
pub(in crate::plan) const LAYOUTS_TABLE: &str =
    "must be one table per layout, e.g. [thresholds.layouts.per-node] with p99 = \"< 2ms\"";

/// The validated `[thresholds]` table: the plan-wide conditions and each layout's own.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "Echo", into = "Echo")]
pub struct Thresholds {
    /// For every layout, by metric.
    pub all: BTreeMap<Metric, Threshold>,
    /// `[thresholds.layouts.NAME]`, by the name the plan gives.
    pub layouts: BTreeMap<String, BTreeMap<Metric, Threshold>>,
}

/// Where a layout's threshold comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// `[thresholds]`: every layout.
    Plan,
    /// `[thresholds.layouts.NAME]`.
    Layout,
}

impl Thresholds {
    pub fn is_empty(&self) -> bool {
        self.all.is_empty() && self.layouts.values().all(BTreeMap::is_empty)
    }

    /// The thresholds of the layout named `layout`, by metric: its own (from the table of its
    /// name, or of the layout its sweep was made from) over the plan-wide ones.
    pub fn for_layout(&self, layout: &str) -> Vec<(Threshold, Scope)> {
        let own = self
            .layouts
            .iter()
            .filter(|(name, _)| applies(name, layout))
            // The longest name is the most specific table.
            .max_by_key(|(name, _)| name.len())
            .map(|(_, own)| own);
        let mut out: BTreeMap<Metric, (Threshold, Scope)> = self
            .all
            .iter()
            .map(|(m, t)| (*m, (*t, Scope::Plan)))
            .collect();
        for (m, t) in own.into_iter().flatten() {
            out.insert(*m, (*t, Scope::Layout));
        }
        out.into_values().collect()
    }
}

/// Whether the table `[thresholds.layouts.NAME]` applies to the layout `layout`: its own name,
/// or a layout its sweep made (`NAME/replicas=2`).
fn applies(name: &str, layout: &str) -> bool {
    layout == name
        || layout
            .strip_prefix(name)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// The JSON echo: `{"p99": "< 2ms", "layouts": {"per-node": {"p99": "< 3ms"}}}`.
#[derive(Serialize, Deserialize, Default)]
struct Echo {
    #[serde(flatten)]
    all: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    layouts: BTreeMap<String, BTreeMap<String, String>>,
}

fn echo(set: &BTreeMap<Metric, Threshold>) -> BTreeMap<String, String> {
    set.iter()
        .map(|(m, t)| (m.key().to_owned(), t.condition()))
        .collect()
}

fn read_echo(set: &BTreeMap<String, String>) -> Result<BTreeMap<Metric, Threshold>, String> {
    set.iter()
        .map(|(key, text)| {
            let metric =
                Metric::from_key(key).ok_or_else(|| format!("unknown threshold {key:?}"))?;
            let t = Threshold::parse(metric, text).map_err(|e| format!("{key}: {e}"))?;
            Ok((metric, t))
        })
        .collect()
}

impl From<Thresholds> for Echo {
    fn from(t: Thresholds) -> Echo {
        Echo {
            all: echo(&t.all),
            layouts: t
                .layouts
                .iter()
                .map(|(name, set)| (name.clone(), echo(set)))
                .collect(),
        }
    }
}

impl TryFrom<Echo> for Thresholds {
    type Error = String;

    fn try_from(e: Echo) -> Result<Thresholds, String> {
        Ok(Thresholds {
            all: read_echo(&e.all)?,
            layouts: e
                .layouts
                .iter()
                .map(|(name, set)| Ok((name.clone(), read_echo(set)?)))
                .collect::<Result<_, String>>()?,
        })
    }
}

/// Each metric with what `raw` says of it.
fn entries(raw: RawSet) -> [(Metric, Option<String>); 7] {
    [
        (Metric::P50, raw.p50),
        (Metric::P99, raw.p99),
        (Metric::P999, raw.p999),
        (Metric::Max, raw.max),
        (Metric::ErrorRate, raw.error_rate),
        (Metric::Throughput, raw.throughput),
        (Metric::LateSends, raw.late_sends),
    ]
}

/// `[thresholds]` validated against the plan's load and layouts: each condition read, each
/// `[thresholds.layouts.NAME]` naming a layout of the plan, `late_sends` with open loop only.
/// `layouts` are the plan's layout names (sweeps expanded), `closed_loop` its load's mode.
pub(in crate::plan) fn validate(
    raw: Option<RawThresholds>,
    closed_loop: bool,
    layouts: &[&str],
    at: &KeyPath,
) -> Result<Thresholds, Problem> {
    let Some(raw) = raw else {
        return Ok(Thresholds::default());
    };
    let plan_wide = RawSet {
        p50: raw.p50,
        p99: raw.p99,
        p999: raw.p999,
        max: raw.max,
        error_rate: raw.error_rate,
        throughput: raw.throughput,
        late_sends: raw.late_sends,
    };
    let all = set(plan_wide, closed_loop, at)?;
    let mut own = BTreeMap::new();
    let tables = at.key("layouts");
    for (name, raw) in raw.layouts.unwrap_or_default() {
        let here = tables.key(&name);
        if !layouts.iter().any(|l| applies(&name, l)) {
            let fix = format!(
                "no layout of the plan is named {name:?}; name one of {}",
                layouts.join(", ")
            );
            return Err(Problem::about(here, &fix));
        }
        own.insert(name, set(raw, closed_loop, &here)?);
    }
    Ok(Thresholds { all, layouts: own })
}

fn set(
    raw: RawSet,
    closed_loop: bool,
    at: &KeyPath,
) -> Result<BTreeMap<Metric, Threshold>, Problem> {
    let mut out = BTreeMap::new();
    for (metric, text) in entries(raw) {
        let Some(text) = text else { continue };
        let key = at.key(metric.key());
        if metric == Metric::LateSends && closed_loop {
            let fix = "used with load.mode = \"open\" only (closed loop has no send times); \
                       remove late_sends";
            return Err(Problem::value(key, quoted(&text), fix));
        }
        let threshold =
            Threshold::parse(metric, &text).map_err(|e| Problem::value(key, quoted(&text), &e))?;
        out.insert(metric, threshold);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditions_read_in_each_unit() {
        let cases = [
            (Metric::P99, "< 2ms", Op::Below, 2e6),
            (Metric::P50, "<=500us", Op::AtMost, 5e5),
            (Metric::Max, " < 1s ", Op::Below, 1e9),
            (Metric::ErrorRate, "< 0.1%", Op::Below, 0.001),
            (Metric::LateSends, "<= 5 %", Op::AtMost, 0.05),
            (Metric::Throughput, "> 9500", Op::Above, 9500.0),
            (Metric::Throughput, ">= 9500 req/s", Op::AtLeast, 9500.0),
            (Metric::ErrorRate, ">= 0%", Op::AtLeast, 0.0),
        ];
        for (metric, text, op, limit) in cases {
            let t = Threshold::parse(metric, text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!((t.op, t.limit), (op, limit), "{text}");
            // The echo reads back as the same condition.
            assert_eq!(Threshold::parse(metric, &t.condition()), Ok(t), "{text}");
        }
        let shown = |metric, text| Threshold::parse(metric, text).expect(text).condition();
        assert_eq!(shown(Metric::P99, "<2ms"), "< 2ms");
        assert_eq!(shown(Metric::P99, "< 1500us"), "< 1ms 500us");
        assert_eq!(shown(Metric::ErrorRate, "<0.10%"), "< 0.1%");
        assert_eq!(shown(Metric::Throughput, ">9500"), "> 9500 req/s");
    }

    #[test]
    fn bad_conditions_say_what_to_write() {
        let cases = [
            (Metric::P99, "2ms", "must start with <"),
            (Metric::P99, "< 2", "not a duration"),
            (Metric::P99, "< fast", "not a duration"),
            (Metric::ErrorRate, "< 0.1", "not a percentage"),
            (Metric::ErrorRate, "< 120%", "from 0% to 100%"),
            (Metric::Throughput, "> many", "requests per second"),
            (Metric::Throughput, "> -5", "requests per second"),
            (Metric::P99, "< 0ms", "can never pass"),
            (Metric::P99, "== 2ms", "must start with <"),
        ];
        for (metric, text, said) in cases {
            let e = Threshold::parse(metric, text).expect_err(text);
            assert!(e.contains(said), "{text}: {e}");
        }
    }

    #[test]
    fn a_layouts_own_table_takes_the_place_of_the_plans_per_figure() {
        let t = |m, text| Threshold::parse(m, text).expect(text);
        let thresholds = Thresholds {
            all: [
                (Metric::P99, t(Metric::P99, "< 2ms")),
                (Metric::Throughput, t(Metric::Throughput, "> 100")),
            ]
            .into(),
            layouts: [(
                "r".to_owned(),
                [(Metric::P99, t(Metric::P99, "< 5ms"))].into(),
            )]
            .into(),
        };
        let of = |layout: &str| -> Vec<String> {
            thresholds
                .for_layout(layout)
                .iter()
                .map(|(t, scope)| format!("{t} ({scope:?})"))
                .collect()
        };
        assert_eq!(
            of("other"),
            ["p99 < 2ms (Plan)", "throughput > 100 req/s (Plan)"]
        );
        assert_eq!(
            of("r"),
            ["p99 < 5ms (Layout)", "throughput > 100 req/s (Plan)"]
        );
        assert_eq!(of("r/replicas=2")[0], "p99 < 5ms (Layout)");
        assert_eq!(of("rr")[0], "p99 < 2ms (Plan)");
        let json = serde_json::to_value(&thresholds).expect("json");
        assert_eq!(
            json,
            serde_json::json!({
                "p99": "< 2ms", "throughput": "> 100 req/s", "layouts": {"r": {"p99": "< 5ms"}}
            })
        );
        let back: Thresholds = serde_json::from_value(json).expect("reads back");
        assert_eq!(back, thresholds);
        let empty = serde_json::to_value(Thresholds::default()).expect("json");
        assert_eq!(empty, serde_json::json!({}));
    }

    fn plan(extra: &str) -> Result<crate::plan::Plan, String> {
        let doc = format!(
            "name = \"p\"\n[target]\nname = \"async\"\n[load]\nmode = \"open\"\nrate = 100\n\
             duration = \"1s\"\n[[layouts]]\nname = \"single\"\nreplicas = 1\n\
             sweep.pin = [\"none\", \"node\"]\n{extra}"
        );
        crate::plan::parse(&doc, "plan.toml").map_err(|e| e.to_string())
    }

    #[test]
    fn plans_with_thresholds_parse_and_errors_name_the_key() {
        let ok = plan(
            "[thresholds]\np99 = \"< 2ms\"\nerror_rate = \"< 1%\"\n\
             [thresholds.layouts.single]\nthroughput = \"> 90\"\n",
        )
        .expect("valid");
        assert_eq!(ok.thresholds.all.len(), 2);
        assert_eq!(ok.thresholds.for_layout("single/pin=node").len(), 3);
        assert!(plan("").expect("none").thresholds.is_empty());
        let cases = [
            (
                "[thresholds]\np99 = \"2ms\"\n",
                "thresholds.p99 = \"2ms\": must start",
            ),
            (
                "[thresholds]\np99 = 2\n",
                "thresholds.p99 = 2: must be a condition in quotes",
            ),
            ("[thresholds]\np98 = \"< 2ms\"\n", "unknown key \"p98\""),
            (
                "[thresholds.layouts.nope]\np99 = \"< 2ms\"\n",
                "thresholds.layouts.nope: no layout of the plan is named \"nope\"",
            ),
            (
                "[thresholds.layouts.single]\nerror_rate = \"< 1\"\n",
                "thresholds.layouts.single.error_rate = \"< 1\": not a percentage",
            ),
            (
                "[thresholds.layouts.single]\nlayouts = 1\n",
                "unknown key \"layouts\"",
            ),
        ];
        for (extra, said) in cases {
            let e = plan(extra).expect_err(extra);
            assert!(e.contains(said), "{extra}: {e}");
            assert_eq!(e.lines().count(), 1, "{e}");
        }
        let closed = crate::plan::parse(
            "name = \"p\"\n[target]\nname = \"async\"\n[load]\nmode = \"closed\"\n\
             duration = \"1s\"\n[[layouts]]\nname = \"l\"\nreplicas = 1\n\
             [thresholds]\nlate_sends = \"< 1%\"\n",
            "plan.toml",
        )
        .expect_err("closed loop has no late sends")
        .to_string();
        assert!(
            closed.contains("thresholds.late_sends") && closed.contains("open"),
            "{closed}"
        );
    }
}
