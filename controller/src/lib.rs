//! numaload's controller: plan files in, measured layout comparisons out.
//!
//! The data flows one way: [`plan`] reads and validates a plan file into a
//! `numaload.v1.RunPlan`; [`run`] sends it to every agent through [`client`] and gathers their
//! events (its pure session decides when each layout starts); [`aggregate`] merges the
//! agents' histograms and counters into a [`result::RunResult`]; [`search`] runs a plan step by
//! step to find each layout's capacity; [`report`] renders a result (text, Markdown, HTML, JSON,
//! CSV) with a verdict, [`compare`] judges one against a baseline, and [`store`] keeps results
//! and judges a new one against their history. Leaves below them: [`units`] (number formats),
//! [`stats`], [`trust`] (the rules for trusting a figure), [`version`]. [`topology_view`]
//! renders an agent's topology for `numaload topology`. ARCHITECTURE.md draws the layers; a test
//! (`tests/it/seams.rs`) keeps the imports to them.
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
