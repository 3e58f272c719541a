//! What every step of a layout needs from the run around it.

use crate::config::AgentConfig;
use crate::loadgen::Cancel;

use super::events::Events;
use super::prepare::PreparedRun;
use super::start::StartSignal;

/// What every step of a layout needs from the run around it.
pub(super) struct LayoutContext<'a> {
    pub(super) run: &'a PreparedRun,
    pub(super) config: &'a AgentConfig,
    pub(super) events: &'a Events,
    pub(super) cancel: &'a Cancel,
    pub(super) starts: &'a StartSignal,
}
