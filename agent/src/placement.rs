//! Placement: layout policy → CPU sets and memory nodes. Being written.
