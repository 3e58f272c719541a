//! numaload's HTTP server under test. Being written.
