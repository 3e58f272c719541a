//! `[fleet]`: what the controller does when an agent is lost in the middle of a run (killed,
//! cut off, silent past its deadline). `on_agent_loss = "degrade"` (the default) carries on with
//! the others and marks what the lost one did not measure `degraded`, unless more than
//! `max_lost_agents` are lost; `"abort"` cancels the run on every agent at the first loss. Either
//! way the result keeps what was measured and says which agent was lost. The run loop applies it
//! (`run::session`).

use serde::{Deserialize, Serialize};

use super::problem::{KeyPath, Problem};
use super::raw::RawFleet;

/// What `on_agent_loss` must hold.
pub(super) const ON_AGENT_LOSS: &str = "must be \"degrade\" (carry on with the other agents) or \
                                        \"abort\" (cancel the run at the first loss)";
/// What `max_lost_agents` must hold.
pub(super) const MAX_LOST_AGENTS: &str = "must be a whole number of agents, 0 or more";

/// What a lost agent does to the run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AgentLoss {
    /// The others carry on; the layouts it did not measure are `degraded`.
    #[default]
    Degrade,
    /// The run is cancelled on every agent at once.
    Abort,
}

/// The `[fleet]` table, validated.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FleetPolicy {
    #[serde(default)]
    pub on_agent_loss: AgentLoss,
    /// With `degrade`: the most agents that may be lost before the run is aborted (`None`: no
    /// limit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_lost_agents: Option<u32>,
}

impl FleetPolicy {
    /// The default: degrade, with no limit (the echoed plan leaves it out).
    pub fn is_default(&self) -> bool {
        *self == FleetPolicy::default()
    }

    /// Why the run must stop now that `lost` agents are lost (the latest `agent`, lost for
    /// `error`), or `None` when it carries on.
    pub fn abort(&self, lost: usize, agent: &str, error: &str) -> Option<String> {
        match (self.on_agent_loss, self.max_lost_agents) {
            (AgentLoss::Abort, _) => Some(format!(
                "agent {agent} was lost ({error}) and the plan's fleet.on_agent_loss = \"abort\""
            )),
            (AgentLoss::Degrade, Some(max)) if lost > max as usize => Some(format!(
                "{lost} agents were lost, the last {agent} ({error}), more than the plan's \
                 fleet.max_lost_agents = {max}"
            )),
            (AgentLoss::Degrade, _) => None,
        }
    }
}

pub(super) fn validate(raw: Option<RawFleet>, at: &KeyPath) -> Result<FleetPolicy, Problem> {
    let Some(raw) = raw else {
        return Ok(FleetPolicy::default());
    };
    let on_agent_loss = match raw.on_agent_loss.as_deref() {
        None | Some("degrade") => AgentLoss::Degrade,
        Some("abort") => AgentLoss::Abort,
        Some(other) => {
            return Err(Problem::value(
                at.key("on_agent_loss"),
                format!("\"{other}\""),
                ON_AGENT_LOSS,
            ))
        }
    };
    let max_lost_agents = match raw.max_lost_agents {
        None => None,
        Some(n) => Some(
            u32::try_from(n)
                .map_err(|_| Problem::value(at.key("max_lost_agents"), n, MAX_LOST_AGENTS))?,
        ),
    };
    if on_agent_loss == AgentLoss::Abort && max_lost_agents.is_some() {
        return Err(Problem::about(
            at.key("max_lost_agents"),
            "applies with on_agent_loss = \"degrade\" only (\"abort\" stops at the first loss): \
             drop one of the two",
        ));
    }
    Ok(FleetPolicy {
        on_agent_loss,
        max_lost_agents,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn degrade_carries_on_until_more_than_the_most_lost_and_abort_stops_at_once() {
        let degrade = FleetPolicy::default();
        assert_eq!(degrade.abort(100, "a", "killed"), None);
        let limited = FleetPolicy {
            max_lost_agents: Some(1),
            ..FleetPolicy::default()
        };
        assert_eq!(limited.abort(1, "a", "killed"), None);
        assert_eq!(
            limited.abort(2, "b:7070", "cut off").as_deref(),
            Some(
                "2 agents were lost, the last b:7070 (cut off), more than the plan's \
                 fleet.max_lost_agents = 1"
            )
        );
        let abort = FleetPolicy {
            on_agent_loss: AgentLoss::Abort,
            max_lost_agents: None,
        };
        assert!(abort
            .abort(1, "a:7070", "killed")
            .is_some_and(|why| why.starts_with("agent a:7070 was lost (killed)")));
    }
}
