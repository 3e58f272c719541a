//! How numbers read for people: durations with their unit, counts with thousands separators,
//! counts by code, lists cut short.
//! A leaf: reports, search and compare all print figures, none of them owns the format.

/// `1234567` ns → `1.235 ms`; picks µs, ms or s so that three significant digits show.
pub fn duration_ns(ns: u64) -> String {
    let ns = ns as f64;
    if ns < 1e3 {
        format!("{ns:.0} ns")
    } else if ns < 1e6 {
        format!("{:.1} µs", ns / 1e3)
    } else if ns < 1e9 {
        format!("{:.2} ms", ns / 1e6)
    } else {
        format!("{:.2} s", ns / 1e9)
    }
}

/// `12345.6` → `12,346`.
pub fn thousands(value: f64) -> String {
    let rounded = value.round() as i128;
    let digits = rounded.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if rounded < 0 {
        format!("-{out}")
    } else {
        out
    }
}

/// `200 ×9,870, 503 ×12`: counts by code (an HTTP status, a `grpc-status`), in the map's order.
pub fn counted(counts: &std::collections::BTreeMap<String, u64>) -> String {
    counts
        .iter()
        .map(|(code, count)| format!("{code} ×{}", thousands(*count as f64)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `a, b, c` of at most `shown` items, then `and N more`: a list a fleet could make too long.
pub fn capped(items: &[String], shown: usize) -> String {
    capped_by(items, shown, Joint::Commas)
}

/// [`capped`] for items that are sentences with commas of their own: `a; b; c; and N more`.
pub fn capped_reasons(items: &[String], shown: usize) -> String {
    capped_by(items, shown, Joint::Semicolons)
}

/// How a capped list joins its items and the count of those left out.
#[derive(Debug, Clone, Copy)]
enum Joint {
    /// `a, b and 2 more`.
    Commas,
    /// `a, x; b; and 2 more`: a semicolon keeps items with commas apart.
    Semicolons,
}

impl Joint {
    fn separator(self) -> &'static str {
        match self {
            Joint::Commas => ", ",
            Joint::Semicolons => "; ",
        }
    }

    /// What comes between the last item shown and `N more`.
    fn and(self) -> &'static str {
        match self {
            Joint::Commas => " and",
            Joint::Semicolons => "; and",
        }
    }
}

fn capped_by(items: &[String], shown: usize, joint: Joint) -> String {
    let mut text = items[..items.len().min(shown)].join(joint.separator());
    if items.len() > shown {
        text.push_str(&format!("{} {} more", joint.and(), items.len() - shown));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_lists_are_cut_after_the_shown_items() {
        let items: Vec<String> = ["a, x", "b", "c"].iter().map(|s| s.to_string()).collect();
        assert_eq!(capped(&items, 3), "a, x, b, c");
        assert_eq!(capped(&items, 2), "a, x, b and 1 more");
        assert_eq!(capped_reasons(&items, 3), "a, x; b; c");
        assert_eq!(capped_reasons(&items, 1), "a, x; and 2 more");
    }

    #[test]
    fn counts_by_code_read_code_times_count() {
        let codes = [("200".to_owned(), 9_870), ("503".to_owned(), 12)].into();
        assert_eq!(counted(&codes), "200 ×9,870, 503 ×12");
        assert_eq!(counted(&Default::default()), "");
    }
}
