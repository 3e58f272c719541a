//! The numaload agent: runs a [`v1::RunPlan`](numaload_proto::v1::RunPlan) on this host.
//!
//! Data flows one way through these modules, one layout at a time:
//! [`topology`] (hwloc, the only place hwloc types live) → [`placement`] (pure: layout policy →
//! CPU sets and memory nodes) → [`replica`] (launch target processes pinned before exec, kill them
//! all at the end) → [`procfs`] (read back where they really run) → [`loadgen`] (pinned open- or
//! closed-loop HTTP load, per-worker HdrHistograms) alongside [`sampler`] (OS threads every
//! 100 ms) → [`service`] (the gRPC `Agent` service streaming `RunEvent`s).

pub mod calibrate;
pub mod cgroup;
pub mod config;
pub mod host;
pub mod loadgen;
pub mod metrics;
pub mod placement;
pub mod procfs;
pub mod proctree;
pub mod replica;
pub mod run;
pub mod sampler;
pub mod scrape;
pub mod service;
pub mod target;
pub mod tls;
pub mod topology;
pub mod verify;
pub mod watch;

mod affinity;
