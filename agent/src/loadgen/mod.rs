//! The load generator. Being written.
