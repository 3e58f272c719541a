//! Small helpers on CPU and node lists that the placement rules share.

use std::collections::BTreeMap;

/// Each PU's core (an index into `cores`).
pub(super) fn core_index(cores: &[Vec<u32>]) -> BTreeMap<u32, usize> {
    cores
        .iter()
        .enumerate()
        .flat_map(|(i, pus)| pus.iter().map(move |&pu| (pu, i)))
        .collect()
}

/// `v` sorted, without repeats.
pub(super) fn sorted(mut v: Vec<u32>) -> Vec<u32> {
    v.sort_unstable();
    v.dedup();
    v
}
