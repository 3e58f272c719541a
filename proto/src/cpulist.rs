//! The Linux "cpulist" form of CPU and NUMA-node sets: `0-3,8,10-11`.
//!
//! `/proc/<pid>/status` prints `Cpus_allowed_list` this way, plans accept it and reports show it.

use std::fmt::Write as _;

/// The largest CPU or node number accepted: Linux's NR_CPUS tops out at 8192 today; this leaves
/// room while keeping a hostile list (`0-4000000000,...`) from exhausting memory.
pub const MAX_ID: u32 = (1 << 16) - 1;

/// A cpulist that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{text}` is not a CPU list like `0-3,8`: {reason}")]
pub struct CpuListError {
    text: String,
    reason: String,
}

/// Parses `0-3,8` into a sorted, de-duplicated list. The empty string is the empty set.
pub fn parse(text: &str) -> Result<Vec<u32>, CpuListError> {
    let fail = |reason: &str| CpuListError {
        text: text.to_owned(),
        reason: reason.to_owned(),
    };
    let mut out = Vec::new();
    for part in text
        .trim()
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        let (lo, hi) = match part.split_once('-') {
            Some((lo, hi)) => (lo.trim(), hi.trim()),
            None => (part, part),
        };
        let lo: u32 = lo
            .parse()
            .map_err(|_| fail(&format!("`{lo}` is not a number")))?;
        let hi: u32 = hi
            .parse()
            .map_err(|_| fail(&format!("`{hi}` is not a number")))?;
        if hi < lo {
            return Err(fail(&format!("range `{part}` goes backwards")));
        }
        if hi > MAX_ID {
            return Err(fail(&format!(
                "{hi} is beyond the largest CPU or node number, {MAX_ID}"
            )));
        }
        out.extend(lo..=hi);
        // Overlapping ranges could still pile up: keep the list bounded by its distinct values.
        if out.len() > 2 * (MAX_ID as usize + 1) {
            out.sort_unstable();
            out.dedup();
        }
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

/// Formats a set as a cpulist, collapsing runs: `[0,1,2,3,8]` → `0-3,8`. Input need not be sorted.
pub fn format(set: &[u32]) -> String {
    let mut sorted = set.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut out = String::new();
    let mut i = 0;
    while i < sorted.len() {
        let start = sorted[i];
        let mut end = start;
        while i + 1 < sorted.len() && sorted[i + 1] == end + 1 {
            i += 1;
            end = sorted[i];
        }
        if !out.is_empty() {
            out.push(',');
        }
        if start == end {
            let _ = write!(out, "{start}");
        } else {
            let _ = write!(out, "{start}-{end}");
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_formats_the_proc_form() {
        let cases: &[(&str, &[u32], &str)] = &[
            ("0-3,8", &[0, 1, 2, 3, 8], "0-3,8"),
            ("", &[], ""),
            ("5", &[5], "5"),
            ("8,0-1, 3", &[0, 1, 3, 8], "0-1,3,8"),
            ("0-1,1-2\n", &[0, 1, 2], "0-2"),
        ];
        for (text, set, canonical) in cases {
            assert_eq!(parse(text).as_deref(), Ok(*set), "parse {text:?}");
            assert_eq!(format(set), *canonical, "format {set:?}");
        }
    }

    #[test]
    fn many_overlapping_ranges_stay_bounded() {
        let hostile = vec!["0-65535"; 20].join(",");
        assert_eq!(parse(&hostile).map(|v| v.len()), Ok(65536));
    }

    #[test]
    fn rejects_what_is_not_a_list() {
        for bad in ["a", "3-1", "1-", "0-99999999", "70000"] {
            let err = parse(bad).expect_err(bad);
            assert!(err.to_string().contains(bad), "{err}");
        }
    }
}
