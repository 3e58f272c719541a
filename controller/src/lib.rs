//! numaload's controller: plan files in, measured layout comparisons out.
//!
//! The data flows one way: [`plan`] reads and validates a plan file into a
//! `numaload.v1.RunPlan`; [`client`] sends it to an agent and streams its events back;
//! [`aggregate`] merges the agent's histograms and counters into a [`result::RunResult`];
//! [`report`] renders that (terminal text today) with a verdict. [`topology_view`] renders an
//! agent's topology for `numaload topology`.
//!
//! This library never depends on the agent or the target server: only the binary's `main`
//! wires the roles together.

pub mod aggregate;
pub mod client;
pub mod compare;
pub mod hlog;
pub mod plan;
pub mod report;
pub mod result;
pub mod run;
pub mod search;
pub mod stats;
pub mod store;
pub mod tls;
pub mod topology_view;
pub mod trust;
pub mod units;
pub mod version;
