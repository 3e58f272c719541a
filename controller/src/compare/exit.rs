//! numaload's exit codes: one table ([`TABLE`], printed by `numaload --help`) for `run`,
//! `compare` and the store gate (`compare --baseline`), and the rule that picks one when several
//! apply ([`Exit::first`]).
//!
//! A measurement is trusted only when every layout is `ok` and the run was not cancelled; the
//! rest is listed as [`Untrusted`]. A layout's status is the one the reports show
//! ([`summary::status_of`]: `ok` with reasons for caution reads `suspect`). `--allow-suspect`
//! and `--allow-degraded` ([`Allow`]) turn those two statuses into warnings; `incomplete`,
//! `failed` and a cancelled run are never allowed: their figures do not describe the load the
//! plan asked for.

use crate::report::summary;
use crate::result::{AgentStatus, LayoutResult, LayoutStatus, RunResult};

/// Lost agents named in the run's one-line reason before `and N more`.
const LISTED_LOST: usize = 5;

/// What a run or a comparison answers, as its exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// 0: measured, trusted, and nothing regressed.
    Pass,
    /// 1: the answer is no: a figure regressed beyond the threshold, or crossed one of the
    /// plan's `[thresholds]`.
    Regression,
    /// 2: bad input: the plan, a flag, a file or a store URL; or two results that do not
    /// measure the same layouts.
    BadInput,
    /// 3: the evidence cannot decide (a comparison, or a threshold whose interval reaches
    /// across its limit); the report says how many more trials (or stored runs) would.
    Inconclusive,
    /// 4: the measurement is not to be trusted (a layout not `ok`, the run cancelled), or none
    /// could be made or kept (an agent unreachable, a store that failed).
    Untrusted,
}

/// The table `numaload --help` prints, in the order [`Exit::first`] applies it.
pub const TABLE: &str = "\
Exit codes (run, compare, compare --baseline; when several apply, the first listed here wins):
  2  bad input: the plan, a flag, a file or a store URL is wrong (the message names it), or the
     two results compared do not measure the same layouts
  4  not to be trusted: a layout is incomplete, degraded, failed or suspect, or the run was
     cancelled (--allow-suspect and --allow-degraded make those two statuses warnings on
     stderr); or no measurement could be made or kept (an agent unreachable, a store failed)
  1  the answer is no: a figure regressed beyond --max-regression, or crossed one of the
     plan's [thresholds]
  3  inconclusive: the evidence cannot decide (a comparison, or a threshold whose interval
     reaches across its limit); the report says how many more trials (or stored runs) would
  0  all good: measured, trusted, nothing regressed and every threshold met";

impl Exit {
    /// The process exit code.
    pub const fn code(self) -> u8 {
        match self {
            Exit::Pass => 0,
            Exit::Regression => 1,
            Exit::BadInput => 2,
            Exit::Inconclusive => 3,
            Exit::Untrusted => 4,
        }
    }

    /// Where the code stands in [`TABLE`]: lower wins. Bad input first (nothing else means
    /// anything then); an untrusted measurement before a regression (a figure that cannot be
    /// trusted cannot be said to have regressed, and a rerun decides); a regression before
    /// an inconclusive figure (one figure that answers no is the answer).
    const fn precedence(self) -> u8 {
        match self {
            Exit::BadInput => 0,
            Exit::Untrusted => 1,
            Exit::Regression => 2,
            Exit::Inconclusive => 3,
            Exit::Pass => 4,
        }
    }

    /// The code that wins among those that apply; [`Exit::Pass`] when none does.
    pub fn first(codes: impl IntoIterator<Item = Exit>) -> Exit {
        codes
            .into_iter()
            .min_by_key(|e| e.precedence())
            .unwrap_or(Exit::Pass)
    }
}

/// Which statuses the user accepts as warnings (`--allow-suspect`, `--allow-degraded`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Allow {
    pub suspect: bool,
    pub degraded: bool,
}

impl Allow {
    /// Whether `status` is trusted or accepted.
    pub fn allows(self, status: LayoutStatus) -> bool {
        match status {
            LayoutStatus::Ok => true,
            LayoutStatus::Suspect => self.suspect,
            LayoutStatus::Degraded => self.degraded,
            LayoutStatus::Incomplete | LayoutStatus::Failed => false,
        }
    }

    /// The flag that would accept `status`, if one does.
    pub fn flag(status: LayoutStatus) -> Option<&'static str> {
        match status {
            LayoutStatus::Suspect => Some("--allow-suspect"),
            LayoutStatus::Degraded => Some("--allow-degraded"),
            _ => None,
        }
    }
}

/// What keeps a measurement from being trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Concern {
    /// A layout's status (or the run's: `degraded` when an agent was lost).
    Status(LayoutStatus),
    /// The run stopped before every layout ran.
    Cancelled,
}

/// One layout (or the run as a whole) of one result that is not `ok`.
#[derive(Debug, Clone, PartialEq)]
pub struct Untrusted {
    /// `base` or `new` in a comparison; empty for `run`'s own result.
    pub side: &'static str,
    /// `None` for the run as a whole.
    pub layout: Option<String>,
    pub concern: Concern,
    /// What the result says about it (the error, the delivery, the suspect reasons).
    pub why: String,
    /// Accepted by `--allow-suspect` / `--allow-degraded`: a warning, not exit 4.
    pub allowed: bool,
}

impl Untrusted {
    /// `layout "inline" is incomplete in the new result: 0 of 24,000 answered (0.0%, min 99%)`.
    pub fn message(&self) -> String {
        let subject = match &self.layout {
            Some(name) => format!("layout \"{name}\""),
            None => "the run".to_owned(),
        };
        let state = match self.concern {
            Concern::Status(LayoutStatus::Failed) => "failed".to_owned(),
            Concern::Status(status) => format!("is {status}"),
            Concern::Cancelled => "was cancelled".to_owned(),
        };
        let side = match self.side {
            "" => String::new(),
            side => format!(" in the {side} result"),
        };
        let why = if self.why.is_empty() {
            String::new()
        } else {
            format!(": {}", self.why)
        };
        format!("{subject} {state}{side}{why}")
    }

    /// What the user can do: the flag that accepts it, or why none does.
    pub fn remedy(&self) -> String {
        match self.concern {
            Concern::Status(status) => match Allow::flag(status) {
                Some(flag) if self.allowed => format!("accepted by {flag}"),
                Some(flag) => format!("rerun, or accept it with {flag}"),
                None => format!("{status} is never accepted: rerun"),
            },
            Concern::Cancelled => "a cancelled run is never accepted: rerun".to_owned(),
        }
    }

    /// One line for stderr: a warning when allowed, else why the exit code is 4.
    pub fn line(&self) -> String {
        if self.allowed {
            format!("warning: {} ({})", self.message(), self.remedy())
        } else {
            format!(
                "not to be trusted (exit 4): {} ({})",
                self.message(),
                self.remedy()
            )
        }
    }
}

/// Everything in `result` that is not `ok`, run-wide first, then per layout in plan order;
/// `side` names the result in a comparison (`base`, `new`), empty for a run's own.
pub fn untrusted(result: &RunResult, side: &'static str, allow: Allow) -> Vec<Untrusted> {
    let mut out = Vec::new();
    if result.cancelled {
        out.push(Untrusted {
            side,
            layout: None,
            concern: Concern::Cancelled,
            why: "layouts that did not run are missing or failed".to_owned(),
            allowed: false,
        });
    }
    if result.degraded {
        let lost: Vec<String> = result
            .agents
            .iter()
            .filter(|a| a.status == AgentStatus::Lost)
            .map(|a| {
                format!(
                    "agent {} was lost ({})",
                    a.agent,
                    a.error.as_deref().unwrap_or("no reason given")
                )
            })
            .collect();
        out.push(Untrusted {
            side,
            layout: None,
            concern: Concern::Status(LayoutStatus::Degraded),
            why: if lost.is_empty() {
                "an agent was lost".to_owned()
            } else {
                // Every lost agent's reason is in the result's `agents`.
                crate::units::capped_reasons(&lost, LISTED_LOST)
            },
            allowed: allow.allows(LayoutStatus::Degraded),
        });
    }
    for l in &result.layouts {
        let status = summary::status_of(l);
        if status != LayoutStatus::Ok {
            out.push(Untrusted {
                side,
                layout: Some(l.name.clone()),
                concern: Concern::Status(status),
                why: why(l, status),
                allowed: allow.allows(status),
            });
        }
    }
    out
}

/// Why a layout is not `ok` (its `status`), from what its result says.
fn why(l: &LayoutResult, status: LayoutStatus) -> String {
    let error = l.error.clone().unwrap_or_else(|| "no reason given".into());
    match status {
        LayoutStatus::Ok => String::new(),
        LayoutStatus::Failed | LayoutStatus::Degraded => error,
        LayoutStatus::Incomplete => summary::delivery(l).unwrap_or_else(|| l.suspect.join("; ")),
        LayoutStatus::Suspect => l.suspect.join("; "),
    }
}

/// The exit code of a run's own result: [`Exit::Untrusted`] when something in `untrusted`
/// is not allowed, else [`Exit::Pass`].
pub fn of_run(untrusted: &[Untrusted]) -> Exit {
    if untrusted.iter().any(|u| !u.allowed) {
        Exit::Untrusted
    } else {
        Exit::Pass
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture() -> RunResult {
        serde_json::from_str(include_str!("../../tests/fixtures/quickstart-result.json"))
            .expect("fixture")
    }

    #[test]
    fn the_first_code_in_the_table_wins() {
        use Exit::*;
        let cases: [(&[Exit], Exit); 7] = [
            (&[], Pass),
            (&[Pass, Inconclusive], Inconclusive),
            (&[Inconclusive, Regression], Regression),
            (&[Regression, Untrusted], Untrusted),
            (&[Untrusted, BadInput, Regression], BadInput),
            (&[Inconclusive, Untrusted], Untrusted),
            (&[Pass, Pass], Pass),
        ];
        for (codes, expected) in cases {
            assert_eq!(Exit::first(codes.iter().copied()), expected, "{codes:?}");
        }
        let codes: Vec<u8> = [Pass, Regression, BadInput, Inconclusive, Untrusted]
            .map(Exit::code)
            .to_vec();
        assert_eq!(codes, [0, 1, 2, 3, 4]);
        // The table lists the codes in the order `first` applies them.
        let listed: Vec<char> = TABLE
            .lines()
            .filter_map(|l| l.strip_prefix("  ")?.chars().next())
            .filter(char::is_ascii_digit)
            .collect();
        assert_eq!(listed, ['2', '4', '1', '3', '0'], "{TABLE}");
    }

    #[test]
    fn only_suspect_and_degraded_can_be_allowed() {
        use LayoutStatus::*;
        let both = Allow {
            suspect: true,
            degraded: true,
        };
        for (status, none, all) in [
            (Ok, true, true),
            (Suspect, false, true),
            (Incomplete, false, false),
            (Degraded, false, true),
            (Failed, false, false),
        ] {
            assert_eq!(Allow::default().allows(status), none, "{status}");
            assert_eq!(both.allows(status), all, "{status}");
        }
    }

    #[test]
    fn every_layout_not_ok_is_named_with_its_status_and_why() {
        let mut r = fixture();
        assert_eq!(untrusted(&r, "", Allow::default()), []);
        assert_eq!(of_run(&untrusted(&r, "", Allow::default())), Exit::Pass);
        r.layouts[0].status = LayoutStatus::Suspect;
        r.layouts[0].suspect = vec!["load generator saturated".into()];
        r.layouts[1].status = LayoutStatus::Failed;
        r.layouts[1].error = Some("replica exited".into());
        r.cancelled = true;
        let allow = Allow {
            suspect: true,
            degraded: false,
        };
        let found = untrusted(&r, "new", allow);
        let lines: Vec<String> = found.iter().map(Untrusted::line).collect();
        let name = |i: usize| r.layouts[i].name.clone();
        assert_eq!(
            lines,
            [
                "not to be trusted (exit 4): the run was cancelled in the new result: layouts \
                 that did not run are missing or failed (a cancelled run is never accepted: \
                 rerun)"
                    .to_owned(),
                format!(
                    "warning: layout \"{}\" is suspect in the new result: load generator \
                     saturated (accepted by --allow-suspect)",
                    name(0)
                ),
                format!(
                    "not to be trusted (exit 4): layout \"{}\" failed in the new result: \
                     replica exited (failed is never accepted: rerun)",
                    name(1)
                ),
            ]
        );
        assert_eq!(of_run(&found), Exit::Untrusted);
        // The suspect layout alone, allowed: a warning and exit 0.
        r.cancelled = false;
        r.layouts[1].status = LayoutStatus::Ok;
        assert_eq!(of_run(&untrusted(&r, "", allow)), Exit::Pass);
        assert_eq!(
            of_run(&untrusted(&r, "", Allow::default())),
            Exit::Untrusted
        );
    }

    /// A result whose status is `ok` though it carries reasons for caution reads `suspect`, as
    /// every report shows it.
    #[test]
    fn ok_with_reasons_is_suspect() {
        let mut r = fixture();
        r.layouts[1].suspect = vec!["load worker 0 was 97% busy".into()];
        let found = untrusted(&r, "base", Allow::default());
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].concern, Concern::Status(LayoutStatus::Suspect));
        assert_eq!(found[0].why, "load worker 0 was 97% busy");
    }

    #[test]
    fn a_lost_agent_degrades_the_run_and_can_be_allowed() {
        let mut r = fixture();
        r.degraded = true;
        let found = untrusted(&r, "", Allow::default());
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].concern, Concern::Status(LayoutStatus::Degraded));
        assert!(found[0].message().starts_with("the run is degraded: "));
        assert_eq!(of_run(&found), Exit::Untrusted);
        let allow = Allow {
            suspect: false,
            degraded: true,
        };
        assert_eq!(of_run(&untrusted(&r, "", allow)), Exit::Pass);
    }

    #[test]
    fn a_fleet_of_lost_agents_is_one_line_naming_the_first_five() {
        let mut r = fixture();
        r.degraded = true;
        let template = r.agents[0].clone();
        r.agents = (0..137)
            .map(|i| crate::result::AgentOutcome {
                agent: format!("10.0.0.{i}:7070"),
                status: AgentStatus::Lost,
                error: Some("connection lost mid-run, or cut off".into()),
                ..template.clone()
            })
            .collect();
        let found = untrusted(&r, "", Allow::default());
        let message = found[0].message();
        assert!(
            message.contains("agent 10.0.0.4:7070 was lost"),
            "{message}"
        );
        assert!(!message.contains("10.0.0.5:7070"), "{message}");
        assert!(message.contains("; and 132 more"), "{message}");
    }
}
