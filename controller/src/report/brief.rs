//! The result in brief, as one JSON object for scripts (`numaload run --json`): the verdict line
//! and, per layout, the status every report shows ([`summary::status_of`]), its headline figures,
//! its `[thresholds]` checked, and the reasons for caution. Everything else (histograms, replicas,
//! samples) is in the whole result, `report::json`'s.
//!
//! ```json
//! {"run_id": "...", "plan": "quickstart", "started_at": "...", "verdict": "Verdict: ...",
//!  "cancelled": false, "degraded": false, "search": null,
//!  "layouts": [{"name": "per-node", "status": "ok", "mode": "open", "target_rate_rps": 5000.0,
//!    "throughput_rps": 4999.8, "requests": 25000, "errors": 0, "error_rate": 0.0,
//!    "latency_ns": {"p50": ..., "p90": ..., "p99": ..., "p999": ..., "max": ...,
//!                   "lower_bounds": []},
//!    "thresholds": [...], "suspect": [], "notes": [], "error": null}]}
//! ```

use serde_json::{json, Value};

use crate::report::{summary, verdict};
use crate::result::{LayoutResult, RunResult};

/// The brief as pretty-printed JSON with a final newline.
pub fn render(result: &RunResult) -> String {
    let mut out = serde_json::to_string_pretty(&brief(result)).unwrap_or_else(|e| {
        // Every value here is a string, a number, a bool or built of them: none fails.
        json!({ "error": format!("cannot write the brief: {e}") }).to_string()
    });
    out.push('\n');
    out
}

/// The brief as a JSON value.
pub fn brief(result: &RunResult) -> Value {
    let search = result.search.as_ref().map(|s| {
        let layouts: Vec<Value> = s
            .layouts
            .iter()
            .map(|l| json!({ "name": l.name, "max_rate_rps": l.max_rate_rps }))
            .collect();
        json!({ "slo_p99_ns": s.slo_p99_ns, "layouts": layouts })
    });
    json!({
        "run_id": result.run_id,
        "plan": result.plan.name,
        "started_at": result.started_at,
        "verdict": verdict::run_verdict(result),
        "cancelled": result.cancelled,
        "degraded": result.degraded,
        "search": search,
        "layouts": result.layouts.iter().map(layout).collect::<Vec<_>>(),
    })
}

fn layout(l: &LayoutResult) -> Value {
    let p = &l.latency_ns;
    json!({
        "name": l.name,
        "status": summary::status_of(l),
        "mode": l.mode,
        "target_rate_rps": l.target_rate_rps,
        "throughput_rps": l.throughput_rps,
        "requests": l.requests,
        "errors": l.errors,
        "error_rate": summary::error_rate(l),
        "latency_ns": {
            "p50": p.p50,
            "p90": p.p90,
            "p99": p.p99,
            "p999": p.p999,
            "max": p.max,
            "lower_bounds": p.lower_bounds,
        },
        "thresholds": l.thresholds,
        "suspect": l.suspect,
        "notes": l.notes,
        "error": l.error,
    })
}
