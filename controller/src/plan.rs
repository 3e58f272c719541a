//! Plan files. Being written.
