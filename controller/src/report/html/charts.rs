//! The report's charts, as SVG strings: the latency percentile distribution (read from the
//! merged histograms in the result), throughput and p99 bars across layouts, OS threads and
//! every series scraped from the replicas' metrics over time per replica.

use hdrhistogram::Histogram;

use super::svg::{esc, nice_ticks, palette, Scale, Svg};
use crate::report::pct::{Pct, TOO_FEW};
use crate::report::service::number;
use crate::report::summary::figure;
use crate::report::{duration_ns, thousands};
use crate::result::histogram_from_base64;
use crate::result::{LayoutResult, ThreadSample};

const W: f64 = 560.0;
const H: f64 = 280.0;
const LEFT: f64 = 72.0;
const RIGHT: f64 = 30.0;
const TOP: f64 = 28.0;
const BOTTOM: f64 = 40.0;

/// The percentile ticks of the distribution chart: (label, 1/(1-q)).
const PERCENTILE_TICKS: [(&str, f64); 6] = [
    ("0%", 1.0),
    ("50%", 2.0),
    ("90%", 10.0),
    ("99%", 100.0),
    ("99.9%", 1e3),
    ("99.99%", 1e4),
];

/// A message in place of a chart.
pub(super) fn placeholder(message: &str) -> String {
    format!(r#"<p class="placeholder">{}</p>"#, esc(message))
}

/// (1/(1-q), value) points of a histogram's percentile distribution; the maximum (q = 1) sits
/// at `x_max`, and so does anything beyond it.
pub fn distribution(h: &Histogram<u64>, x_max: f64) -> Vec<(f64, u64)> {
    let mut points: Vec<(f64, u64)> = vec![(1.0, h.min())];
    for v in h.iter_quantiles(4) {
        let q = v.quantile_iterated_to();
        let x = if q >= 1.0 {
            x_max
        } else {
            (1.0 / (1.0 - q)).min(x_max)
        };
        points.push((x, h.highest_equivalent(v.value_iterated_to())));
    }
    points.push((x_max, h.max()));
    points
}

/// The latency percentile distribution of one layout, corrected (with the lower bounds of the
/// waits never answered, as `latency_ns` counts them) and uncorrected, on a log scale of
/// 1/(1-q) as HdrHistogram plots draw it.
#[allow(
    clippy::too_many_lines,
    reason = "one SVG chart drawn step by step: axes, both curves, labels"
)]
pub fn latency(l: &LayoutResult) -> String {
    if !l.status.measured() {
        return placeholder("not measured");
    }
    let corrected = match corrected_with_waits(l) {
        Ok(h) if !h.is_empty() => h,
        Ok(_) => return placeholder("no latency samples"),
        Err(e) => return placeholder(&e),
    };
    let bounded = !l.histograms.waited_v2_base64.is_empty();
    // An unreadable uncorrected histogram only loses its line.
    let uncorrected = histogram_from_base64(&l.histograms.uncorrected_v2_base64)
        .ok()
        .filter(|h| !h.is_empty() && l.mode == "open");
    let count = corrected.len();
    let x_max = if count >= 100_000 { 1e5 } else { 1e4 };
    let lines: Vec<(&str, Vec<(f64, u64)>)> =
        std::iter::once(("corr", distribution(&corrected, x_max)))
            .chain(
                uncorrected
                    .as_ref()
                    .map(|h| ("uncorr", distribution(h, x_max))),
            )
            .collect();
    let y_max = lines
        .iter()
        .flat_map(|(_, pts)| pts.iter().map(|p| p.1))
        .max()
        .unwrap_or(1) as f64;
    let y_ticks = nice_ticks(y_max, 5);
    let x = Scale {
        d0: 0.0,
        d1: x_max.log10(),
        p0: LEFT,
        p1: W - RIGHT,
    };
    let y = Scale {
        d0: 0.0,
        d1: y_ticks.last().copied().unwrap_or(y_max),
        p0: H - BOTTOM,
        p1: TOP,
    };

    let mut svg = Svg::new(W, H, &format!("latency by percentile, layout {}", l.name));
    // Beyond 1/(1-q) = count there is less than one sample: the curve is the maximum, not data.
    if (count as f64) < x_max {
        let from = x.at((count as f64).log10());
        svg.rect(
            (from, TOP),
            (W - RIGHT - from, H - BOTTOM - TOP),
            "sparse",
            "fewer than one sample beyond this percentile",
        );
        svg.text((from + 4.0, TOP + 12.0), "start", "note", "too few samples");
    }
    for tick in &y_ticks {
        let py = y.at(*tick);
        svg.line((LEFT, py), (W - RIGHT, py), "grid");
        svg.text(
            (LEFT - 6.0, py + 4.0),
            "end",
            "tick",
            &duration_ns(*tick as u64),
        );
    }
    for (label, at) in PERCENTILE_TICKS
        .iter()
        .chain((x_max > 1e4).then_some(&("99.999%", 1e5)))
    {
        let px = x.at(at.log10());
        svg.line((px, TOP), (px, H - BOTTOM), "grid");
        svg.text((px, H - BOTTOM + 16.0), "middle", "tick", label);
    }
    svg.text(
        ((LEFT + W - RIGHT) / 2.0, H - 6.0),
        "middle",
        "axis-label",
        "percentile (log scale of 1/(1-q))",
    );
    for (class, points) in &lines {
        let pts: Vec<(f64, f64)> = points
            .iter()
            .map(|(px, v)| (x.at(px.log10()), y.at(*v as f64)))
            .collect();
        svg.polyline(&pts, class, "");
    }
    // Hover targets at the percentiles the tables show, where there are samples for them.
    for (class, name, p) in [
        ("corr", "corrected", &l.latency_ns),
        ("uncorr", "uncorrected", &l.latency_uncorrected_ns),
    ] {
        if class == "uncorr" && uncorrected.is_none() {
            continue;
        }
        for pct in [Pct::P50, Pct::P90, Pct::P99, Pct::P999] {
            if let Some(v) = pct.shown(p) {
                let px = x.at((1.0 / (1.0 - pct.quantile())).log10());
                let tip = format!("{} {name}: {}", pct.label(), figure(p, pct));
                svg.circle((px, y.at(v as f64)), 3.5, &format!("dot {class}"), &tip);
            }
        }
    }
    legend(
        &mut svg,
        &[
            (
                "corr",
                match (l.mode == "open", bounded) {
                    (true, false) => "corrected (from intended send)",
                    (true, true) => "corrected, with lower bounds of waits never answered",
                    (false, false) => "closed loop",
                    (false, true) => "closed loop, with lower bounds of waits never answered",
                },
            ),
            ("uncorr", "uncorrected (from actual send)"),
        ][..if uncorrected.is_some() { 2 } else { 1 }],
    );
    svg.finish()
}

/// The answered requests' corrected latency merged with the lower bounds of the unanswered
/// ones' waits: the histogram `latency_ns` was read from, so the curve and the table agree.
fn corrected_with_waits(l: &LayoutResult) -> Result<Histogram<u64>, String> {
    let mut corrected = histogram_from_base64(&l.histograms.corrected_v2_base64)
        .map_err(|e| format!("the corrected histogram is unreadable: {e}"))?;
    if l.histograms.waited_v2_base64.is_empty() {
        return Ok(corrected);
    }
    let waited = histogram_from_base64(&l.histograms.waited_v2_base64)
        .map_err(|e| format!("the histogram of waits never answered is unreadable: {e}"))?;
    corrected
        .add(&waited)
        .map_err(|e| format!("the waits never answered do not merge with the latency: {e}"))?;
    Ok(corrected)
}

fn legend(svg: &mut Svg, entries: &[(&str, &str)]) {
    let mut px = LEFT;
    for (class, label) in entries {
        svg.line((px, 12.0), (px + 22.0, 12.0), &format!("key {class}"));
        svg.text((px + 28.0, 16.0), "start", "legend", label);
        px += 40.0 + 7.0 * label.chars().count() as f64;
    }
}

/// OS threads over the measurement, one line per replica.
pub fn threads(l: &LayoutResult) -> String {
    if l.thread_samples.is_empty() {
        return placeholder("no thread samples");
    }
    let title = format!("OS threads over time, layout {}", l.name);
    per_replica(l, &title, "OS threads", 4.0, &|s| {
        Some(f64::from(s.os_threads))
    })
}

/// The names of the series scraped from the replicas' metrics endpoints, sorted.
pub fn scraped_names(l: &LayoutResult) -> Vec<&str> {
    let mut names: Vec<&str> = l
        .thread_samples
        .iter()
        .flat_map(|s| s.scraped.keys().map(String::as_str))
        .collect();
    names.sort_unstable();
    names.dedup();
    names
}

/// One scraped series over the measurement, one line per replica (beside the threads chart).
pub fn scraped(l: &LayoutResult, name: &str) -> String {
    if !l
        .thread_samples
        .iter()
        .any(|s| s.scraped.contains_key(name))
    {
        return placeholder(&format!("no samples of {name}"));
    }
    let title = format!("{name} over time, layout {}", l.name);
    per_replica(l, &title, name, 1.0, &|s| s.scraped.get(name).copied())
}

/// A sample's value for a [`per_replica`] chart, `None` when it has none.
pub(super) type SampleValue<'a> = dyn Fn(&ThreadSample) -> Option<f64> + 'a;

/// A value of every replica over the measurement, one coloured line per replica, with its
/// range in the tooltip of its last point. `y_floor` keeps a flat series off the top edge.
pub(super) fn per_replica(
    l: &LayoutResult,
    title: &str,
    what: &str,
    y_floor: f64,
    value: &SampleValue<'_>,
) -> String {
    let valued: Vec<(&ThreadSample, f64)> = l
        .thread_samples
        .iter()
        .filter_map(|s| value(s).map(|v| (s, v)))
        .collect();
    let t_max = valued.iter().map(|(s, _)| s.t_ms).max().unwrap_or(0).max(1) as f64 / 1e3;
    let v_max = valued.iter().map(|(_, v)| *v).fold(y_floor, f64::max);
    let y_ticks = nice_ticks(v_max, 4);
    let x_ticks = nice_ticks(t_max, 5);
    let x = Scale {
        d0: 0.0,
        d1: x_ticks.last().copied().unwrap_or(t_max),
        p0: LEFT,
        p1: W - RIGHT,
    };
    let y = Scale {
        d0: 0.0,
        d1: y_ticks.last().copied().unwrap_or(v_max),
        p0: H - BOTTOM,
        p1: TOP,
    };
    let mut svg = Svg::new(W, H, title);
    for tick in &y_ticks {
        let py = y.at(*tick);
        svg.line((LEFT, py), (W - RIGHT, py), "grid");
        svg.text((LEFT - 6.0, py + 4.0), "end", "tick", &format!("{tick}"));
    }
    for tick in &x_ticks {
        let px = x.at(*tick);
        svg.line((px, TOP), (px, H - BOTTOM), "grid");
        svg.text(
            (px, H - BOTTOM + 16.0),
            "middle",
            "tick",
            &format!("{tick} s"),
        );
    }
    svg.text(
        ((LEFT + W - RIGHT) / 2.0, H - 6.0),
        "middle",
        "axis-label",
        "time into the measurement",
    );
    // Replica indexes count within each agent.
    let mut replicas: Vec<(&str, u32)> = valued
        .iter()
        .map(|(s, _)| (s.agent.as_str(), s.replica))
        .collect();
    replicas.sort_unstable();
    replicas.dedup();
    let several_agents = replicas.iter().any(|(a, _)| *a != replicas[0].0);
    let mut key = LEFT;
    for (i, (agent, index)) in replicas.iter().enumerate() {
        let replica = if several_agents {
            format!("{agent} #{index}")
        } else {
            index.to_string()
        };
        let mut samples: Vec<(u64, f64)> = valued
            .iter()
            .filter(|(s, _)| s.agent == *agent && s.replica == *index)
            .map(|(s, v)| (s.t_ms, *v))
            .collect();
        samples.sort_by_key(|s| s.0);
        let pts: Vec<(f64, f64)> = samples
            .iter()
            .map(|(t, v)| (x.at(*t as f64 / 1e3), y.at(*v)))
            .collect();
        let colour = format!("stroke:{}", palette(i));
        svg.polyline(&pts, "threads", &colour);
        let (min, max) = samples
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), (_, v)| {
                (lo.min(*v), hi.max(*v))
            });
        if let Some(last) = pts.last() {
            svg.circle(
                *last,
                3.0,
                "dot",
                &format!("replica {replica}: {}–{} {what}", number(min), number(max)),
            );
        }
        svg.raw(&format!(
            r#"<line x1="{key:.1}" y1="12" x2="{:.1}" y2="12" class="key threads" style="{}"/>"#,
            key + 22.0,
            esc(&colour)
        ));
        svg.text(
            (key + 28.0, 16.0),
            "start",
            "legend",
            &format!("replica {replica}"),
        );
        key += 70.0 + 7.0 * replica.len() as f64;
    }
    svg.finish()
}

/// A bar's length and label, or why there is no bar.
type BarValue = dyn Fn(&LayoutResult) -> Result<(f64, String), String>;

/// Throughput and corrected p99 per layout, as two bar charts side by side.
pub fn bars(layouts: &[LayoutResult]) -> (String, String) {
    let rows = layouts.len().max(1) as f64;
    let height = TOP + rows * 34.0 + 30.0;
    let label_w = 150.0;
    let throughput_max = layouts
        .iter()
        .filter(|l| l.status.measured())
        .map(|l| l.throughput_rps.max(l.target_rate_rps.unwrap_or(0.0)))
        .fold(0.0, f64::max);
    let p99_max = layouts
        .iter()
        .filter_map(|l| {
            Pct::P99
                .shown(&l.latency_ns)
                .filter(|_| l.status.measured())
        })
        .max()
        .unwrap_or(0) as f64;
    let chart = |title: &str, max: f64, value: &BarValue| {
        let x = Scale {
            d0: 0.0,
            d1: max.max(1.0) * 1.25,
            p0: label_w,
            p1: W - RIGHT,
        };
        let mut svg = Svg::new(W, height, title);
        svg.text((label_w, 16.0), "start", "legend", title);
        for (i, l) in layouts.iter().enumerate() {
            let top = TOP + i as f64 * 34.0;
            let name: String = l.name.chars().take(22).collect();
            svg.text((label_w - 8.0, top + 18.0), "end", "tick", &name);
            match value(l) {
                Ok((v, label)) => {
                    let tip = format!("{}: {label}", l.name);
                    svg.rect_filled(
                        (label_w, top + 4.0),
                        (x.at(v) - label_w, 22.0),
                        "bar",
                        palette(i),
                        &tip,
                    );
                    svg.text((x.at(v) + 6.0, top + 19.0), "start", "value", &label);
                }
                Err(why) => svg.text((label_w + 6.0, top + 19.0), "start", "value warn", &why),
            }
        }
        svg.line((label_w, TOP), (label_w, height - 24.0), "axis");
        svg.finish()
    };
    let throughput = chart("throughput (req/s)", throughput_max, &|l| {
        if !l.status.measured() {
            return Err("FAILED".to_owned());
        }
        let asked = l
            .target_rate_rps
            .map(|r| format!(" of {}", thousands(r)))
            .unwrap_or_default();
        Ok((
            l.throughput_rps,
            format!("{}{asked}", thousands(l.throughput_rps)),
        ))
    });
    let p99 = chart("p99 latency, corrected (lower is better)", p99_max, &|l| {
        if !l.status.measured() {
            return Err("FAILED".to_owned());
        }
        match Pct::P99.shown(&l.latency_ns) {
            Some(v) => Ok((v as f64, figure(&l.latency_ns, Pct::P99))),
            None => Err(TOO_FEW.to_owned()),
        }
    });
    (throughput, p99)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base64_of(h: &Histogram<u64>) -> String {
        use base64::Engine as _;
        let bytes = numaload_proto::histogram::encode(h).expect("encode");
        base64::engine::general_purpose::STANDARD.encode(bytes)
    }

    #[test]
    fn waits_never_answered_are_charted_as_the_table_counts_them() {
        let fixture: crate::result::RunResult = serde_json::from_str(include_str!(
            "../../../tests/fixtures/quickstart-result.json"
        ))
        .expect("fixture");
        let mut l = fixture.layouts[0].clone();
        // Not one request answered, 500 that waited at least 3.9 s.
        let mut waited = numaload_proto::histogram::new_latency();
        waited.record_n(3_900_000_000, 500).expect("record a wait");
        l.histograms.corrected_v2_base64 = base64_of(&numaload_proto::histogram::new_latency());
        l.histograms.waited_v2_base64 = base64_of(&waited);
        l.latency_ns = crate::result::Percentiles {
            count: 500,
            p50: 3_900_000_000,
            p90: 3_900_000_000,
            p99: 3_900_000_000,
            max: 3_900_000_000,
            lower_bounds: ["min", "mean", "p50", "p90", "p99", "p999", "max"]
                .map(str::to_owned)
                .to_vec(),
            ..Default::default()
        };
        let merged = corrected_with_waits(&l).expect("merged");
        assert_eq!(merged.len(), 500);
        let chart = latency(&l);
        assert!(!chart.contains("no latency samples"), "{chart}");
        assert!(chart.contains("p99 corrected: ≥ 3.90 s"), "{chart}");
        assert!(
            chart.contains("with lower bounds of waits never answered"),
            "{chart}"
        );
        let (_, p99) = bars(std::slice::from_ref(&l));
        assert!(p99.contains("≥ 3.90 s"), "{p99}");
        // Without waits the chart is the answered requests' alone, exact.
        l.histograms.waited_v2_base64.clear();
        assert!(latency(&l).contains("no latency samples"));
    }

    #[test]
    fn the_distribution_runs_from_min_to_max_on_a_rising_axis() {
        let mut h = Histogram::<u64>::new(3).expect("histogram");
        for v in 1..=10_000u64 {
            h.record(v * 1000).expect("record");
        }
        let pts = distribution(&h, 1e4);
        assert_eq!(pts.first().map(|p| p.0), Some(1.0));
        assert_eq!(pts.last(), Some(&(1e4, h.max())));
        assert!(
            pts.windows(2).all(|w| w[0].0 <= w[1].0 && w[0].1 <= w[1].1),
            "{pts:?}"
        );
        // The median sits at x = 2.
        let median = pts.iter().find(|p| p.0 >= 2.0).expect("median point");
        assert!((median.1 as f64 - 5e6).abs() < 5e6 * 0.02, "{median:?}");
    }
}
