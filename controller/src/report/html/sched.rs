//! The scheduler's charts, beside the thread series: the kernel's view of each replica's threads
//! (run-queue wait, context switches, migrations per second) and the runtime's own (Go's `SCHED`
//! lines, tokio's workers' busy time and parks). A chart appears only when some sample has its
//! series, so a result without scheduler series or a target without a runtime view shows none
//! of them.

use super::charts::{per_replica, SampleValue};
use super::svg::esc;
use crate::result::{GoSched, LayoutResult, ThreadSample};

/// A chart: its heading, its y-axis words and floor, and each sample's value.
struct Series {
    heading: &'static str,
    what: &'static str,
    floor: f64,
    value: Box<SampleValue<'static>>,
}

fn series(
    heading: &'static str,
    what: &'static str,
    floor: f64,
    value: impl Fn(&ThreadSample) -> Option<f64> + 'static,
) -> Series {
    Series {
        heading,
        what,
        floor,
        value: Box::new(value),
    }
}

/// The last `SCHED` line read at a sample (usually its only one).
fn go(s: &ThreadSample) -> Option<&GoSched> {
    s.go_sched.last()
}

fn all() -> Vec<Series> {
    vec![
        series("Run-queue wait per replica", "ms waited/s", 10.0, |s| {
            s.sched.map(|r| r.run_delay_ms_per_s)
        }),
        series("Context switches per replica", "switches/s", 10.0, |s| {
            s.sched.map(|r| r.ctxt_switches_per_s)
        }),
        series("CPU migrations per replica", "migrations/s", 1.0, |s| {
            s.sched.and_then(|r| r.migrations_per_s)
        }),
        series("Go runtime: OS threads (SCHED)", "threads", 4.0, |s| {
            go(s).map(|g| f64::from(g.threads))
        }),
        series(
            "Go runtime: idle and spinning threads",
            "idle + spinning threads",
            2.0,
            |s| go(s).map(|g| f64::from(g.idlethreads + g.spinningthreads)),
        ),
        series(
            "Go runtime: idle procs of GOMAXPROCS",
            "idle Ps",
            1.0,
            |s| go(s).map(|g| f64::from(g.idleprocs)),
        ),
        series(
            "Go runtime: runnable goroutines queued",
            "goroutines (global + per-P queues)",
            1.0,
            |s| go(s).map(|g| f64::from(g.runqueue + g.local_runqueues.iter().sum::<u32>())),
        ),
        series("tokio: busy workers", "workers busy (busy s/s)", 1.0, |s| {
            s.tokio.map(|t| t.busy_workers)
        }),
        series("tokio: worker parks", "parks/s", 10.0, |s| {
            s.tokio.map(|t| t.parks_per_s)
        }),
        series("tokio: steals", "tasks stolen/s", 10.0, |s| {
            s.tokio.and_then(|t| t.steals_per_s)
        }),
        series(
            "tokio: local queue depth",
            "tasks queued locally",
            1.0,
            |s| s.tokio.and_then(|t| t.local_queue_depth).map(|d| d as f64),
        ),
        series("tokio: global queue depth", "tasks queued", 1.0, |s| {
            (s.tokio.is_some() && s.global_queue_depth >= 0).then_some(s.global_queue_depth as f64)
        }),
    ]
}

/// One panel per scheduler series this layout has, to sit in the row beside the thread series.
pub fn panels(l: &LayoutResult) -> String {
    all()
        .into_iter()
        .filter(|s| l.thread_samples.iter().any(|t| (s.value)(t).is_some()))
        .map(|s| {
            let title = format!("{} over time, layout {}", s.what, l.name);
            format!(
                r#"<div class="panel"><h3>{}</h3>{}</div>"#,
                esc(s.heading),
                per_replica(l, &title, s.what, s.floor, &*s.value)
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::result::{RunResult, SchedRates};

    fn old_layout() -> LayoutResult {
        let result: RunResult =
            serde_json::from_str(include_str!("../../../tests/fixtures/service-result.json"))
                .expect("the fixture loads");
        result.layouts[0].clone()
    }

    #[test]
    fn an_old_result_has_no_scheduler_chart_and_each_series_present_gets_one() {
        let mut l = old_layout();
        assert_eq!(panels(&l), "", "written before the scheduler series");
        for (i, s) in l.thread_samples.iter_mut().enumerate() {
            s.sched = Some(SchedRates {
                run_delay_ms_per_s: 100.0 * i as f64,
                ctxt_switches_per_s: 5000.0,
                nonvoluntary_ctxt_switches_per_s: 40.0,
                migrations_per_s: None,
                cpus_used: 0.9,
            });
            s.go_sched = vec![GoSched {
                runtime_ms: 1000 * i as u64,
                gomaxprocs: 1,
                idleprocs: 0,
                threads: 5 + i as u32,
                spinningthreads: 0,
                idlethreads: 1,
                runqueue: 2,
                local_runqueues: vec![3],
            }];
        }
        let html = panels(&l);
        for heading in [
            "Run-queue wait per replica",
            "Context switches per replica",
            "Go runtime: OS threads (SCHED)",
            "Go runtime: runnable goroutines queued",
        ] {
            assert!(html.contains(heading), "{heading}");
        }
        // Unknown migrations and no tokio counters: no chart rather than a flat zero.
        assert!(!html.contains("CPU migrations") && !html.contains("tokio:"));
    }
}
