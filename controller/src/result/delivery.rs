//! How much of a measured window's load was delivered ([`Delivery`]): the requests intended
//! in it and those answered, against the plan's `min_delivered`, per agent and added up.

use serde::{Deserialize, Serialize};

/// How much of the measured window's load was delivered: the requests intended in it (closed
/// loop: sent in it) and how many of them were answered (a complete response, whatever its
/// status), over the agents that measured.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Delivery {
    /// The window's requests: what the load generator counted, or, in open loop, what the plan
    /// asked of it (`asked`) when it counted fewer than that (its schedule did not run in full).
    pub intended: u64,
    pub answered: u64,
    /// The plan's `load.min_delivered`: below this share the layout is `incomplete`.
    pub min_share: f64,
    /// Open loop: what the plan asked of the agent (or agents) in the window, its rate times
    /// the measured duration; absent in closed loop and in a result that does not carry it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asked: Option<u64>,
}

impl Delivery {
    /// The delivery of one agent's window: `counted` requests counted by its generator,
    /// `answered` of them answered, `asked` what the plan asked of it. A generator that counted
    /// more than one request fewer than it was asked for did not schedule the rest: they count
    /// as intended and unanswered (a schedule's count of a window is its rate times its length,
    /// give or take one).
    pub fn of_window(counted: u64, answered: u64, asked: Option<u64>, min_share: f64) -> Self {
        Self::short_by_more_than(1, counted, answered, asked, min_share)
    }

    /// [`Delivery::of_window`] for a window whose sends were drawn at random (Poisson
    /// arrivals): its count is a Poisson draw of mean `asked`, so only a count short of it by
    /// more than five standard deviations (5√asked: one chance in 3.5 million) says the
    /// schedule did not run in full.
    pub fn of_drawn_window(
        counted: u64,
        answered: u64,
        asked: Option<u64>,
        min_share: f64,
    ) -> Self {
        let slack = asked.map_or(1, |a| (5.0 * (a as f64).sqrt()).ceil().max(1.0) as u64);
        Self::short_by_more_than(slack, counted, answered, asked, min_share)
    }

    /// `asked` as intended when `counted` falls short of it by more than `slack`.
    fn short_by_more_than(
        slack: u64,
        counted: u64,
        answered: u64,
        asked: Option<u64>,
        min_share: f64,
    ) -> Self {
        let intended = match asked {
            Some(asked) if counted.saturating_add(slack) < asked => asked,
            _ => counted,
        };
        Self {
            intended,
            answered,
            min_share,
            asked,
        }
    }
}

/// Two deliveries added up (agents of a layout, trials of it).
impl std::ops::Add for Delivery {
    type Output = Delivery;

    fn add(self, other: Delivery) -> Delivery {
        Delivery {
            intended: self.intended + other.intended,
            answered: self.answered + other.answered,
            min_share: self.min_share,
            asked: match (self.asked, other.asked) {
                (None, None) => None,
                (a, b) => Some(a.unwrap_or(0) + b.unwrap_or(0)),
            },
        }
    }
}

impl Delivery {
    /// The answered share of the intended requests (1 when none were intended).
    pub fn share(&self) -> f64 {
        if self.intended == 0 {
            1.0
        } else {
            self.answered as f64 / self.intended as f64
        }
    }

    /// Whether the share reached `min_share`.
    pub fn met(&self) -> bool {
        self.share() >= self.min_share
    }

    /// Requests intended but not answered.
    pub fn shortfall(&self) -> u64 {
        self.intended.saturating_sub(self.answered)
    }
}
