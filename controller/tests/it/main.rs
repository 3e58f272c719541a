//! The integration tests of `numaload` (the controller), built as one test binary (one link
//! instead of one per file): each module is one subject's tests. Run one module with
//! `cargo test -p numaload --test it MODULE::`.

// A turn (`numaload_test_support::turns`) is taken once at a test's start and held to its end;
// each async test has a runtime of its own, on which nothing else waits for that lock.
#![allow(clippy::await_holding_lock)]

use numaload_test_support::turns;

mod common;
mod history_support;

mod cgroup;
mod cli_plan;
mod cli_topology;
mod compare;
mod deploy_files;
mod doc_commands;
mod doc_links;
mod doc_plans;
mod exit_codes;
mod ffi_storm;
mod fleet;
mod grpc;
mod grpc_python;
mod history;
mod history_changes;
mod hollow_fleet;
mod how_it_measures;
mod key_paths;
mod load_shapes;
mod local_run;
mod multi_agent;
mod new_pair;
mod one_domain;
mod own_servers;
mod packaging;
mod pinned_pool_watch;
mod plan_flags;
mod plan_reference;
mod plan_validation;
mod prometheus_rules;
mod protocols;
mod readme_terminal;
mod report_formats;
mod report_reference;
mod report_truth;
mod sched;
mod seams;
mod thresholds;
mod turn_taking;
mod watch;
