//! The live progress of `numaload run` on stderr.
//!
//! On a terminal (`TERM` set and not `dumb`; drawn by indicatif, at most 10 times a second): one
//! line per agent, redrawn in place — a spinner while its replicas launch or stop, a bar with the
//! time left while it warms up and measures (the plan's `warmup` and `duration`), and while
//! measuring what its replicas and generator said last; notices (a failure, a lost agent) are
//! printed above the lines, and the lines are cleared before the report. Anywhere else (a pipe, a file, CI logs): one plain
//! line per phase change, `[layout] agent: phase`, and each notice, nothing more. Nothing at all
//! with `--quiet`. Past eight agents the fleet shares one line (how many agents are in each phase,
//! the rate their generators measured), and without a terminal a line is printed when the first
//! agent enters each phase of a layout, `[layout] N agents: phase`.

use std::collections::BTreeMap;
use std::fmt;
use std::io::IsTerminal;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};
use numaload::plan::Load;
use numaload::run::Progress;

/// The terminal is redrawn at most this often (per second): cheap, and still live.
const REDRAW_HZ: u8 = 10;
/// How often a line's spinner and time left move.
const TICK: Duration = Duration::from_millis(1000 / REDRAW_HZ as u64);
/// The width of a time bar, in characters.
const BAR_WIDTH: usize = 16;

/// Shows [`Progress`] as it arrives; [`ProgressView::finish`] (or dropping it) clears what is
/// drawn on a terminal.
#[derive(Debug)]
pub struct ProgressView {
    quiet: bool,
    /// Per agent, while measuring: what its replicas and its generator said last.
    live: BTreeMap<String, LiveFigures>,
    /// The terminal's lines; `None` where stderr is not a terminal (plain lines).
    bars: Option<Bars>,
    /// The plan's `[[load.stages]]`, counted (0 without).
    stages: usize,
    /// More than a handful of agents: one line for all of them (`None`: one per agent).
    fleet: Option<FleetTally>,
}

/// More agents than this share one line (a line each would fill any terminal).
const FLEET_AGENTS: usize = 8;
/// The fleet's line on a terminal.
const FLEET_LINE: &str = "fleet";

/// A fleet's progress: how many agents are in each phase of each layout, and the rate each
/// generator measured last.
#[derive(Debug, Default)]
struct FleetTally {
    agents: usize,
    /// Each agent's layout and phase.
    at: BTreeMap<String, (String, String)>,
    /// Agents per layout and phase.
    counts: BTreeMap<(String, String), usize>,
    rates: BTreeMap<String, f64>,
}

impl FleetTally {
    /// `agent` entered `phase` of `layout`; whether it is the first to.
    fn phase(&mut self, agent: &str, layout: &str, phase: &str) -> bool {
        if let Some(was) = self
            .at
            .insert(agent.to_owned(), (layout.to_owned(), phase.to_owned()))
        {
            if let Some(n) = self.counts.get_mut(&was) {
                *n = n.saturating_sub(1);
            }
            self.rates.remove(agent);
        }
        let n = self
            .counts
            .entry((layout.to_owned(), phase.to_owned()))
            .or_insert(0);
        *n += 1;
        *n == 1
    }

    /// `1,000 agents: 3 launching replicas, 990 measuring, 7 stopping replicas; 95,040 req/s`
    /// for `layout`.
    fn line(&self, layout: &str) -> String {
        let phases: Vec<String> = self
            .counts
            .iter()
            .filter(|((l, _), n)| l == layout && **n > 0)
            .map(|((_, phase), n)| format!("{} {phase}", numaload::report::thousands(*n as f64)))
            .collect();
        let rate = if self.rates.is_empty() {
            String::new()
        } else {
            let sum: f64 = self.rates.values().sum();
            format!("; {} req/s", numaload::report::thousands(sum))
        };
        format!(
            "{} agents: {}{rate}",
            numaload::report::thousands(self.agents as f64),
            phases.join(", ")
        )
    }
}

/// One indicatif line per agent, in the order the agents first reported.
#[derive(Debug)]
struct Bars {
    multi: MultiProgress,
    agents: BTreeMap<String, (ProgressBar, Arc<Mutex<PhaseClock>>)>,
    warmup: Duration,
    duration: Duration,
}

impl ProgressView {
    /// A view for a run of `load` (its warm-up and measured time give the bars their length)
    /// on `agents` agents.
    pub fn new(quiet: bool, load: &Load, agents: usize) -> Self {
        // indicatif draws nothing on a terminal without TERM or with TERM=dumb (it could not
        // move the cursor): those get the plain lines too.
        let target = ProgressDrawTarget::stderr_with_hz(REDRAW_HZ);
        let live = !quiet && std::io::stderr().is_terminal() && !target.is_hidden();
        Self {
            quiet,
            stages: load.stages.len(),
            live: BTreeMap::new(),
            bars: live.then(|| Bars {
                multi: MultiProgress::with_draw_target(target),
                agents: BTreeMap::new(),
                warmup: load.warmup,
                duration: load.duration,
            }),
            fleet: (agents > FLEET_AGENTS).then(|| FleetTally {
                agents,
                ..FleetTally::default()
            }),
        }
    }

    /// A fleet's progress: on a terminal one line for every agent, elsewhere a line when the
    /// first agent enters each phase of a layout.
    fn show_fleet(&mut self, progress: Progress) {
        let (Some(tally), bars) = (&mut self.fleet, &mut self.bars) else {
            return;
        };
        let layout = match progress {
            Progress::Notice(_) => return,
            Progress::Phase {
                agent,
                layout,
                phase,
            } => {
                let first = tally.phase(&agent, &layout, &phase);
                match bars {
                    Some(bars) if first => bars.phase(FLEET_LINE, &layout, &tally.line(&layout)),
                    Some(_) => {}
                    None if first => eprintln!("[{layout}] {} agents: {phase}", tally.agents),
                    None => {}
                }
                layout
            }
            Progress::Load {
                agent,
                layout,
                rate_rps,
                ..
            } => {
                tally.rates.insert(agent, rate_rps);
                layout
            }
            Progress::Live { layout, .. } => layout,
        };
        if let Some((bar, _)) = bars.as_ref().and_then(|b| b.agents.get(FLEET_LINE)) {
            bar.set_message(line(&layout, &tally.line(&layout)));
        }
    }

    pub fn show(&mut self, progress: Progress) {
        if self.quiet {
            return;
        }
        if self.fleet.is_some() && !matches!(progress, Progress::Notice(_)) {
            return self.show_fleet(progress);
        }
        match progress {
            Progress::Notice(text) => match &self.bars {
                Some(bars) => {
                    if bars.multi.println(&text).is_err() {
                        eprintln!("{text}");
                    }
                }
                None => eprintln!("{text}"),
            },
            Progress::Live {
                agent,
                layout,
                requests,
                worst_server_p99_ns,
            } => {
                let figures = self.live.entry(agent.clone()).or_default();
                figures.served = Some(requests);
                figures.worst_server_p99_ns = worst_server_p99_ns;
                self.redraw_live(&agent, &layout);
            }
            Progress::Load {
                agent,
                layout,
                rate_rps,
                p99_ns,
                stage,
            } => {
                let figures = self.live.entry(agent.clone()).or_default();
                figures.rate_rps = Some(rate_rps);
                figures.p99_ns = p99_ns;
                figures.stage = stage.map(|(number, rate)| (number, self.stages, rate));
                self.redraw_live(&agent, &layout);
            }
            Progress::Phase {
                agent,
                layout,
                phase,
            } => {
                self.live.remove(&agent);
                match &mut self.bars {
                    Some(bars) => bars.phase(&agent, &layout, &phase),
                    None => eprintln!("[{layout}] {agent}: {phase}"),
                }
            }
        }
    }

    /// Shows `agent`'s live figures on its line (on a terminal; elsewhere they would flood the
    /// output).
    fn redraw_live(&mut self, agent: &str, layout: &str) {
        let (Some(bars), Some(figures)) = (&self.bars, self.live.get(agent)) else {
            return;
        };
        if let Some((bar, _)) = bars.agents.get(agent) {
            bar.set_message(line(layout, &figures.line()));
        }
    }

    /// Clears the terminal's lines (before the report is printed).
    pub fn finish(&mut self) {
        if let Some(bars) = self.bars.take() {
            for (bar, _) in bars.agents.values() {
                bar.finish_and_clear();
            }
            let _ = bars.multi.clear();
        }
    }
}

impl Drop for ProgressView {
    /// A run that fails leaves no half-drawn lines above its error.
    fn drop(&mut self) {
        self.finish();
    }
}

impl Bars {
    /// `agent` entered `phase` of `layout`: its line restarts, as a time bar for the phases of
    /// known length, a spinner for the others.
    fn phase(&mut self, agent: &str, layout: &str, phase: &str) {
        let total = match phase {
            "warming up" => Some(self.warmup),
            "measuring" => Some(self.duration),
            _ => None,
        };
        let clock = PhaseClock {
            since: Instant::now(),
            total,
        };
        match self.agents.get(agent) {
            Some((bar, shared)) => {
                // The clock does not draw; the message does, once, with the new clock.
                if let Ok(mut c) = shared.lock() {
                    *c = clock;
                }
                bar.set_message(line(layout, phase));
            }
            None => {
                let shared = Arc::new(Mutex::new(clock));
                let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden())
                    .with_style(style(Arc::clone(&shared)))
                    .with_prefix(agent.to_owned())
                    .with_message(line(layout, phase));
                let bar = self.multi.add(bar);
                bar.enable_steady_tick(TICK);
                self.agents.insert(agent.to_owned(), (bar, shared));
            }
        }
    }
}

/// When an agent's current phase began, and how long it lasts when that is known.
#[derive(Debug, Clone, Copy)]
struct PhaseClock {
    since: Instant,
    total: Option<Duration>,
}

/// `layout: what` (the phase, or the live figures), after the agent and its clock.
fn line(layout: &str, what: &str) -> String {
    format!("[{layout}] {what}")
}

/// `⠋ AGENT CLOCK [LAYOUT] PHASE`: the clock of a phase of known length (warming up, measuring) is
/// a bar filled by the time spent in it and the time left; of any other (launching, stopping
/// replicas) the time so far. The message is cut to the terminal's width.
fn style(clock: Arc<Mutex<PhaseClock>>) -> ProgressStyle {
    ProgressStyle::with_template("{spinner} {prefix} {clock} {wide_msg}")
        .expect("a valid indicatif template")
        .with_key("clock", move |_: &ProgressState, w: &mut dyn fmt::Write| {
            let Ok(c) = clock.lock().map(|c| *c) else {
                return;
            };
            let elapsed = c.since.elapsed();
            let _ = match c.total {
                Some(total) => write!(
                    w,
                    "[{}] {}",
                    time_bar(elapsed, total),
                    time_left(elapsed, total)
                ),
                None => write!(w, "{}s", elapsed.as_secs()),
            };
        })
}

/// `######----------`: `elapsed` of `total` in [`BAR_WIDTH`] characters.
fn time_bar(elapsed: Duration, total: Duration) -> String {
    let filled = if total.is_zero() {
        BAR_WIDTH
    } else {
        ((elapsed.as_secs_f64() / total.as_secs_f64()) * BAR_WIDTH as f64).floor() as usize
    }
    .min(BAR_WIDTH);
    format!("{}{}", "#".repeat(filled), "-".repeat(BAR_WIDTH - filled))
}

/// `12s left`, `2m05s left`: whole seconds, rounded up, never below zero.
fn time_left(elapsed: Duration, total: Duration) -> String {
    let left = total.saturating_sub(elapsed);
    let secs = left.as_secs() + u64::from(left.subsec_nanos() > 0);
    if secs >= 60 {
        format!("{}m{:02}s left", secs / 60, secs % 60)
    } else {
        format!("{secs}s left")
    }
}

/// The parts of a measuring agent's progress line.
#[derive(Debug, Default)]
struct LiveFigures {
    served: Option<u64>,
    worst_server_p99_ns: Option<u64>,
    rate_rps: Option<f64>,
    p99_ns: Option<u64>,
    /// The stage running (from 1), of how many, and the rate it asks now.
    stage: Option<(u32, usize, f64)>,
}

impl LiveFigures {
    /// `measuring: 1,204,331 served, 61,250 req/s, p99 1.21 ms (generator, last 1 s), worst
    /// replica p99 ≤ 840.0 µs`.
    fn line(&self) -> String {
        let mut parts = Vec::new();
        if let Some(served) = self.served {
            parts.push(format!(
                "{} served",
                numaload::report::thousands(served as f64)
            ));
        }
        if let Some(rate) = self.rate_rps {
            let p99 = self.p99_ns.map_or_else(
                || "no response".to_owned(),
                |ns| format!("p99 {}", numaload::report::duration_ns(ns)),
            );
            parts.push(format!(
                "{} req/s, {p99} (generator, last 1 s)",
                numaload::report::thousands(rate)
            ));
        }
        if let Some(ns) = self.worst_server_p99_ns {
            parts.push(format!(
                "worst replica p99 ≤ {}",
                numaload::report::duration_ns(ns)
            ));
        }
        if let Some((number, of, rate)) = self.stage {
            parts.push(format!(
                "stage {number}/{of} asks {} req/s",
                numaload::report::thousands(rate)
            ));
        }
        format!("measuring: {}", parts.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::{time_bar, time_left, LiveFigures};

    #[test]
    fn a_live_line_shows_what_arrived_and_names_whose_p99_it_is() {
        let mut figures = LiveFigures::default();
        assert_eq!(figures.line(), "measuring: ");
        figures.served = Some(1_204_331);
        figures.worst_server_p99_ns = Some(840_000);
        assert_eq!(
            figures.line(),
            "measuring: 1,204,331 served, worst replica p99 ≤ 840.0 µs"
        );
        figures.rate_rps = Some(61_250.4);
        figures.p99_ns = Some(1_210_000);
        assert_eq!(
            figures.line(),
            "measuring: 1,204,331 served, 61,250 req/s, p99 1.21 ms (generator, last 1 s), \
             worst replica p99 ≤ 840.0 µs"
        );
        figures.p99_ns = None;
        assert!(figures
            .line()
            .contains("61,250 req/s, no response (generator"));
        figures.stage = Some((2, 3, 3_200.0));
        assert!(
            figures
                .line()
                .ends_with("worst replica p99 ≤ 840.0 µs, stage 2/3 asks 3,200 req/s"),
            "{}",
            figures.line()
        );
    }

    #[test]
    fn the_time_bar_fills_with_the_time_spent_and_counts_down() {
        let s = Duration::from_secs;
        let cases = [
            (s(0), s(10), "----------------", "10s left"),
            (s(5), s(10), "########--------", "5s left"),
            (
                Duration::from_millis(9_100),
                s(10),
                "##############--",
                "1s left",
            ),
            (s(12), s(10), "################", "0s left"),
            (s(0), s(125), "----------------", "2m05s left"),
            (s(0), s(0), "################", "0s left"),
        ];
        for (elapsed, total, bar, left) in cases {
            assert_eq!(time_bar(elapsed, total), bar, "{elapsed:?} of {total:?}");
            assert_eq!(time_left(elapsed, total), left, "{elapsed:?} of {total:?}");
        }
    }
}
