//! Where a run's events go ([`Events`]) and the two ways they are sent.

use numaload_proto::v1::{run_event::Event, Phase, PhaseChange, RunEvent};
use tokio::sync::mpsc;

use super::start::unix_now_ns;

/// Where events go; a send fails only when the controller has gone away.
pub type Events = mpsc::Sender<Result<RunEvent, tonic::Status>>;

/// Tells the controller that `layout` entered `phase`, now.
pub(super) async fn phase(events: &Events, layout: &str, phase: Phase) {
    let at_unix_ns = unix_now_ns();
    let change = PhaseChange {
        layout: layout.to_owned(),
        phase: phase as i32,
        at_unix_ns,
    };
    send(events, Event::Phase(change)).await;
}

/// Sends one event; false when the controller is gone.
pub(super) async fn send(events: &Events, event: Event) -> bool {
    events
        .send(Ok(RunEvent { event: Some(event) }))
        .await
        .is_ok()
}
