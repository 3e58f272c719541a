//! Reading `[load] trace`: a text file of one request per line, `OFFSET,NAME` — the offset from
//! the load's start in seconds (a decimal: `12.5`, `0.000250`) and the name of one of the
//! plan's requests — as exported from an access log. Blank lines and lines starting with `#`
//! are skipped, and so is a first line `offset,name`; the entries need not be in order (an
//! access log is written as requests end). The first line that is none of these is refused,
//! naming the file and the line.
//!
//! Once read, the trace decides the load's window: it runs from the warm-up's end (the
//! warm-up, `0s` unless the plan says, replays the trace's first seconds unmeasured) to just
//! past the last entry (whole milliseconds, as the wire carries durations), and the mode's
//! rate is the window's entries over its length.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use super::load::{Load, LoadMode};
use super::problem::{quoted, KeyPath, Problem};
use super::shape::TraceSend;

/// The most entries a trace may have (each travels to the agents in the plan, ~4 bytes).
pub const MAX_TRACE_ENTRIES: usize = 10_000_000;
/// The latest offset, after `speed`: the window's limit.
const MAX_OFFSET: Duration = Duration::from_secs(3600);

/// Reads the trace `load` names (relative to `dir`, the plan file's folder), keeps its entries,
/// and sets the window and the mean rate from them. Nothing to do without a trace.
pub(super) fn read(load: &mut Load, dir: &Path) -> Result<(), Problem> {
    let Some(trace) = &mut load.trace else {
        return Ok(());
    };
    let at = KeyPath::root().key("load").key("trace");
    let path = dir.join(&trace.file);
    let refuse = |detail: String| Problem::value(at.clone(), quoted(&trace.file), &detail);
    let text = std::fs::read_to_string(&path)
        .map_err(|e| refuse(format!("cannot read {}: {e}", path.display())))?;
    let names: Vec<&str> = load.requests.iter().map(|r| r.name.as_str()).collect();
    let mut entries = parse(&text, &names, trace.speed).map_err(refuse)?;
    // In time order; entries at the same offset keep the file's order.
    entries.sort_by_key(|e| e.at);
    let Some(last) = entries.last().map(|e| e.at) else {
        return Err(refuse(
            "has no entries; write one request per line: OFFSET,NAME".into(),
        ));
    };
    let end = Duration::from_millis(u64::try_from(last.as_millis()).unwrap_or(u64::MAX) + 1);
    if load.warmup >= end {
        let fix = format!(
            "the trace's last entry is at {:?}, within the warm-up: nothing would be measured; \
             shorten warmup",
            last
        );
        let shown = quoted(&humantime::format_duration(load.warmup).to_string());
        return Err(Problem::value(
            KeyPath::root().key("load").key("warmup"),
            shown,
            &fix,
        ));
    }
    load.duration = end - load.warmup;
    let measured = entries.iter().filter(|e| e.at >= load.warmup).count();
    load.mode = LoadMode::Open {
        rate: measured as f64 / load.duration.as_secs_f64(),
    };
    trace.entries = entries.len() as u64;
    trace.digest = digest(&entries, &names);
    trace.sends = Some(Arc::from(entries));
    Ok(())
}

/// The entries of `text` in file order, offsets divided by `speed`; an error names the line.
fn parse(text: &str, names: &[&str], speed: f64) -> Result<Vec<TraceSend>, String> {
    let mut entries = Vec::new();
    let mut first = true;
    for (index, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let header = first && line.eq_ignore_ascii_case("offset,name");
        first = false;
        if header {
            continue;
        }
        let bad = |why: &str| {
            let shown: String = line.chars().take(60).collect();
            format!("line {} ({shown:?}): {why}", index + 1)
        };
        let Some((offset, name)) = line.split_once(',') else {
            return Err(bad(
                "write the offset in seconds and a request name, e.g. 1.250,read",
            ));
        };
        let seconds = offset
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|s| s.is_finite() && *s >= 0.0)
            .ok_or_else(|| {
                bad("the offset must be seconds from the start, 0 or more, e.g. 1.250")
            })?;
        let name = name.trim();
        let name = name
            .strip_prefix('"')
            .and_then(|n| n.strip_suffix('"'))
            .unwrap_or(name);
        let request = names.iter().position(|n| *n == name).ok_or_else(|| {
            bad(&format!(
                "the plan has no request named {name:?} (it has {})",
                names.join(", ")
            ))
        })?;
        let at = Duration::try_from_secs_f64(seconds / speed)
            .ok()
            .filter(|at| *at <= MAX_OFFSET)
            .ok_or_else(|| bad("the offset (divided by speed) is past an hour"))?;
        if entries.len() == MAX_TRACE_ENTRIES {
            return Err(bad(&format!("more than {MAX_TRACE_ENTRIES} entries")));
        }
        entries.push(TraceSend {
            at,
            request: request as u32,
        });
    }
    Ok(entries)
}

/// FNV-1a over each entry as sent: its offset in nanoseconds and its request's name.
fn digest(entries: &[TraceSend], names: &[&str]) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for &b in bytes {
            hash = (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    };
    for entry in entries {
        eat(&u64::try_from(entry.at.as_nanos())
            .unwrap_or(u64::MAX)
            .to_le_bytes());
        eat(names.get(entry.request as usize).unwrap_or(&"").as_bytes());
    }
    format!("{hash:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_become_entries_in_file_order_scaled_by_speed() {
        let text = "offset,name\n# recorded 2026-12-01\n\n0.5,b\n0.000250, a \n1,\"b\"\n";
        let entries = parse(text, &["a", "b"], 2.0).expect("valid");
        let want = [(250_000_000, 1), (125_000, 0), (500_000_000, 1)];
        let got: Vec<(u128, u32)> = entries
            .iter()
            .map(|e| (e.at.as_nanos(), e.request))
            .collect();
        assert_eq!(got, want.map(|(ns, r)| (ns as u128, r)));
    }

    #[test]
    fn a_bad_line_is_refused_with_its_number() {
        let cases = [
            ("0.1,a\n0.2 a\n", "line 2 (\"0.2 a\"): write the offset"),
            (
                "0.1,a\n\n-1,a\n",
                "line 3 (\"-1,a\"): the offset must be seconds",
            ),
            ("x,a\n", "line 1 (\"x,a\"): the offset must be seconds"),
            (
                "1,c\n",
                "line 1 (\"1,c\"): the plan has no request named \"c\" (it has a, b)",
            ),
            (
                "offset,name\noffset,name\n",
                "line 2 (\"offset,name\"): the offset",
            ),
            (
                "7200,a\n",
                "line 1 (\"7200,a\"): the offset (divided by speed) is past an hour",
            ),
        ];
        for (text, want) in cases {
            let error = parse(text, &["a", "b"], 1.0).expect_err(text);
            assert!(error.starts_with(want), "{error:?} should start {want:?}");
        }
    }

    #[test]
    fn the_digest_changes_with_any_entry() {
        let entries = parse("0,a\n1,b\n", &["a", "b"], 1.0).expect("valid");
        let same = digest(&entries, &["a", "b"]);
        assert_eq!(same, digest(&entries, &["a", "b"]));
        let later = parse("0,a\n1.001,b\n", &["a", "b"], 1.0).expect("valid");
        assert_ne!(same, digest(&later, &["a", "b"]));
        let other = parse("0,a\n1,a\n", &["a", "b"], 1.0).expect("valid");
        assert_ne!(same, digest(&other, &["a", "b"]));
    }
}
