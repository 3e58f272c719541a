//! What the integration tests of the agent, the controller and the target server share, so each
//! helper is written once:
//!
//! - [`turns`]: the turns the tests of one test binary take, `alone` to measure and
//!   `beside_others` to load the machine;
//! - [`go_servers`]: the Go test server (`tests/servers/go`), built once per test binary;
//! - [`doc_commands`]: the commands README.md, docs/ and the examples' headers tell a reader to
//!   type, read from those files;
//! - [`promtool`]: Prometheus's `promtool`, found or the test fails saying how to get it, and run
//!   on a page, a rule test or a configuration;
//! - [`source_graph`]: a crate's source read as a graph of files and modules, for the tests that
//!   check layers and circles (the agent's `layers.rs`, the controller's `seams.rs`).
//!
//! A dev-dependency only; it depends on no numaload crate.

pub mod doc_commands;
mod go;
pub mod promtool;
pub mod source_graph;
pub mod turns;

pub use go::go_servers;
