//! The validated plan ([`Plan`]): every default applied, every value in range, which is what the
//! rest of the controller uses; its JSON echo and its wire form, every layout once per trial.

use numaload_proto::v1;
use serde::{Deserialize, Serialize};

use super::fleet::FleetPolicy;
use super::layout::Layout;
use super::load::Load;
use super::search::Search;
use super::target::Target;
use super::thresholds::Thresholds;

/// A validated plan: every default applied, every value in range.
///
/// Serialized (the result JSON echoes it) with the file's own key names and values, durations
/// as humantime strings, so an echoed plan reads like the file that produced it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub name: String,
    /// Trials per layout, run interleaved (A B A B, not A A B B); 1 by default.
    #[serde(default = "one")]
    pub repeat: u32,
    /// A capacity search instead of a fixed rate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub search: Option<Search>,
    pub target: Target,
    pub load: Load,
    /// At least one, names unique, in file order.
    pub layouts: Vec<Layout>,
    /// `[thresholds]`: conditions on each layout's figures (none by default).
    #[serde(default, skip_serializing_if = "Thresholds::is_empty")]
    pub thresholds: Thresholds,
    /// `[fleet]`: what a lost agent does to the run (degrade, with no limit, by default).
    #[serde(default, skip_serializing_if = "FleetPolicy::is_default")]
    pub fleet: FleetPolicy,
}

impl Plan {
    /// The wire form of this plan for one run. Durations travel in whole milliseconds (the
    /// validator refuses finer ones, so nothing is rounded away).
    pub fn to_run_plan(&self, run_id: &str) -> v1::RunPlan {
        v1::RunPlan {
            run_id: run_id.to_owned(),
            name: self.name.clone(),
            target: Some(self.target.to_spec()),
            load: Some(self.load.to_spec()),
            layouts: self.wire_layouts(),
            ..Default::default()
        }
    }
}

impl Plan {
    /// This plan with a Poisson seed drawn when it has none ([`super::Load::draw_seed`]): what
    /// a run, and every step of a search, sends.
    pub fn with_seed(&self) -> Plan {
        let mut plan = self.clone();
        plan.load.draw_seed();
        plan
    }

    /// The name a layout's trial travels under: the layout's own name with one trial,
    /// `name#2` for the second of several.
    pub fn trial_name(&self, layout: &str, trial: u32) -> String {
        if self.repeat > 1 {
            format!("{layout}#{trial}")
        } else {
            layout.to_owned()
        }
    }

    /// Every layout once per trial, interleaved: A#1 B#1 A#2 B#2 ..., so that slow drift of the
    /// machine (thermal, other tenants) spreads over the layouts instead of favouring one.
    fn wire_layouts(&self) -> Vec<v1::LayoutSpec> {
        (1..=self.repeat)
            .flat_map(|trial| {
                self.layouts.iter().map(move |layout| {
                    let mut spec = layout.to_spec();
                    spec.name = self.trial_name(&layout.name, trial);
                    spec
                })
            })
            .collect()
    }
}

fn one() -> u32 {
    1
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::super::durations::millis;
    use super::super::layout::{Memory, Pin, Replicas, Smt, Threads};
    use super::super::load::{LoadMode, DEFAULT_MIN_DELIVERED};
    use super::super::request::Request;
    use super::*;

    fn plan() -> Plan {
        Plan {
            name: "p".into(),
            repeat: 1,
            search: None,
            target: Target::new("async", 20),
            load: Load {
                mode: LoadMode::Open { rate: 5000.0 },
                connections: 32,
                duration: Duration::from_millis(1500),
                warmup: Duration::ZERO,
                reserve_cpus: 1,
                timeout: Duration::from_secs(2),
                send_precision: Duration::from_micros(25),
                min_delivered: DEFAULT_MIN_DELIVERED,
                requests: vec![Request::default_get()],
                expect_status: Vec::new(),
                interface: String::new(),
                arrivals: super::super::shape::Arrivals::Uniform,
                seed: None,
                stages: Vec::new(),
                trace: None,
                tls: None,
                protocol: Default::default(),
                streams: 1,
            },
            layouts: vec![
                Layout::new("one", Replicas::Count(1), Pin::None, Memory::None),
                Layout::new("per-node", Replicas::PerNode, Pin::Node, Memory::Local),
                Layout {
                    smt: Smt::OnePerCore,
                    threads: Threads::Count(3),
                    cpus: Some("0-1,4".into()),
                    ..Layout::new(
                        "explicit",
                        Replicas::Count(2),
                        Pin::None,
                        Memory::Nodes(vec![0, 2]),
                    )
                },
            ],
            thresholds: Thresholds::default(),
            fleet: FleetPolicy::default(),
        }
    }

    #[test]
    fn json_echo_reads_like_the_file_and_round_trips() {
        let plan = plan();
        let json = serde_json::to_value(&plan).expect("serializes");
        assert_eq!(json["load"]["mode"], "open");
        assert_eq!(json["load"]["rate"], 5000.0);
        assert_eq!(json["load"]["duration"], "1s 500ms");
        assert_eq!(json["load"]["warmup"], "0s");
        assert_eq!(json["layouts"][0]["replicas"], 1);
        assert_eq!(json["layouts"][1]["replicas"], "per-node");
        assert_eq!(json["layouts"][1]["memory"], "local");
        assert_eq!(json["layouts"][1]["smt"], "all");
        assert_eq!(json["layouts"][1]["threads"], "auto");
        assert!(json["layouts"][1].get("cpus").is_none());
        assert_eq!(json["layouts"][2]["memory"], serde_json::json!([0, 2]));
        assert_eq!(json["layouts"][2]["smt"], "one-per-core");
        assert_eq!(json["layouts"][2]["threads"], 3);
        assert_eq!(json["layouts"][2]["cpus"], "0-1,4");
        let back: Plan = serde_json::from_value(json).expect("reads back");
        assert_eq!(back, plan);
    }

    #[test]
    fn closed_loop_echo_has_no_rate_and_round_trips() {
        let mut plan = plan();
        plan.load.mode = LoadMode::Closed {
            coalesce: true,
            spin: true,
        };
        let json = serde_json::to_value(&plan).expect("serializes");
        assert_eq!(json["load"]["mode"], "closed");
        assert!(json["load"].get("rate").is_none());
        let back: Plan = serde_json::from_value(json).expect("reads back");
        assert_eq!(back, plan);
        assert_eq!(back.load.rate(), None);
    }

    #[test]
    fn wire_durations_are_milliseconds_and_saturate() {
        assert_eq!(millis(Duration::from_millis(1500)), 1500);
        assert_eq!(millis(Duration::MAX), u64::MAX);
        let spec = plan().to_run_plan("r").load.expect("load is set");
        assert_eq!(spec.duration_ms, 1500);
    }
}
