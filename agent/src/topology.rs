//! Topology discovery (hwloc). Being written.
