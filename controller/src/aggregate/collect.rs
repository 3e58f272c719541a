//! One agent's event stream gathered per layout, in arrival order.

use std::collections::BTreeMap;

use numaload_proto::v1::{run_event::Event, LayoutSummary, Phase, Placed, RunEvent};

/// What one agent said about one layout, gathered from its event stream in arrival order.
#[derive(Debug, Default, Clone)]
pub struct LayoutEvents {
    pub placed: Option<Placed>,
    pub samples: Vec<numaload_proto::v1::ThreadSample>,
    pub summary: Option<LayoutSummary>,
    pub failure: Option<String>,
    /// The agent's clock when measuring began, Unix ns.
    pub measuring_at_unix_ns: Option<u64>,
    /// The longest interval between two of the agent's live reports while it measured (ms, as
    /// the agent timed it; they come every second): longer, and the agent did not run meanwhile.
    pub longest_live_interval_ms: u64,
    /// The longest the controller heard nothing from the agent while it measured (ns, on the
    /// controller's clock).
    pub longest_silence_ns: u64,
}

/// Gathers one agent's events per layout name.
#[derive(Debug, Default)]
pub struct Collector {
    pub layouts: BTreeMap<String, LayoutEvents>,
    pub calibration: Option<numaload_proto::v1::Calibration>,
    pub done: bool,
    pub cancelled: bool,
}

impl Collector {
    pub fn push(&mut self, event: RunEvent) {
        match event.event {
            Some(Event::Placed(p)) => {
                let layout = p.layout.clone();
                self.entry(&layout).placed = Some(p);
            }
            Some(Event::Samples(batch)) => {
                self.entry(&batch.layout).samples.extend(batch.samples);
            }
            Some(Event::Summary(s)) => {
                let layout = s.layout.clone();
                self.entry(&layout).summary = Some(s);
            }
            Some(Event::Failed(f)) => self.entry(&f.layout).failure = Some(f.error),
            Some(Event::Phase(p)) if p.phase == Phase::Measuring as i32 => {
                self.entry(&p.layout).measuring_at_unix_ns = Some(p.at_unix_ns);
            }
            Some(Event::Done(done)) => {
                self.done = true;
                self.cancelled = done.cancelled;
            }
            Some(Event::Calibration(c)) => self.calibration = Some(c),
            // Live progress is a hint for the terminal (the figures come from the summaries),
            // and its timing a sign of life.
            Some(Event::Load(l)) => {
                let entry = self.entry(&l.layout);
                entry.longest_live_interval_ms = entry.longest_live_interval_ms.max(l.interval_ms);
            }
            Some(Event::Phase(_)) | None => {}
        }
    }

    /// The controller heard nothing from the agent for `ns` while it measured `layout`.
    pub fn heard_after(&mut self, layout: &str, ns: u64) {
        let entry = self.entry(layout);
        entry.longest_silence_ns = entry.longest_silence_ns.max(ns);
    }

    fn entry(&mut self, layout: &str) -> &mut LayoutEvents {
        self.layouts.entry(layout.to_owned()).or_default()
    }

    /// Whether this agent is finished with `layout`: placed it (and waits to start) or failed it.
    pub fn placed_or_failed(&self, layout: &str) -> Option<bool> {
        let events = self.layouts.get(layout)?;
        if events.failure.is_some() {
            Some(false)
        } else {
            events.placed.as_ref().map(|_| true)
        }
    }
}
