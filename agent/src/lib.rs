//! The numaload agent: runs a [`v1::RunPlan`](numaload_proto::v1::RunPlan) on this host.
//!
//! Data flows one way through these modules, one layout at a time:
//! [`config`] and [`target`] (the agent's own table: which servers a plan may name, how to start,
//! probe and stop them, which knobs a plan may set) → [`topology`] (hwloc, the only place hwloc
//! types live) → [`placement`] (pure: layout policy → CPU sets and memory nodes) → [`run`]
//! (prepare, then per layout:) [`replica`] (launch target processes pinned before exec, kill
//! their whole trees at the end) → [`procfs`] (the one reader of `/proc`: read back where every
//! thread of every process runs) → [`verify`] (pure verdict) → [`loadgen`] (pinned open- or
//! closed-loop HTTP load, per-worker HdrHistograms) alongside [`sampler`] (the tree's threads,
//! CPU and memory, the scheduler's counters ([`sched`]), the target's metrics, every 100 ms) →
//! [`service`] (the gRPC `Agent` service streaming `RunEvent`s). [`watch`] is `numaload watch`,
//! over the same [`procfs`].

pub mod calibrate;
pub mod cgroup;
pub mod config;
pub mod hollow;
pub mod host;
pub mod loadgen;
pub mod metrics;
pub mod netrx;
pub mod nic;
pub mod placement;
pub mod procfs;
pub mod replica;
pub mod run;
pub mod sampler;
pub mod sched;
pub mod schedtrace;
pub mod scrape;
pub mod service;
pub mod target;
pub mod tls;
pub mod topology;
pub mod verify;
pub mod watch;

mod affinity;
