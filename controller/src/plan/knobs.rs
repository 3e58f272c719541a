//! Target knobs: `[target.knobs]`, a layout's `[layouts.knobs]` and `sweep."knobs.NAME"`.
//!
//! A knob is a value for a setting the agent's target entry declares (`knobs.NAME` in the
//! agent's configuration, e.g. `gomaxprocs`). The agent checks each value against its
//! declaration and refuses a knob it does not declare; the controller only checks that names
//! are `[a-z0-9_]+` and that values are integers, floats, booleans or strings, and sends them as
//! text (`8`, `0.5`, `true`, `"fast"` → `8`, `0.5`, `true`, `fast`).

use std::collections::BTreeMap;

use super::problem::{KeyPath, Problem};

pub(super) const KNOB_NAME: &str =
    "knob names are lowercase letters, digits and '_', e.g. gomaxprocs";
pub(super) const KNOB_VALUE: &str =
    "must be an integer, a finite float, true or false, or a one-line string";
pub(super) const KNOBS: &str = "must be a table of knob values, e.g. [target.knobs] gomaxprocs = 8";

/// Whether `name` may name a knob.
pub(super) fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// A knob value as the wire carries it, or `None` when a knob cannot hold it.
pub(super) fn text(value: &toml::Value) -> Option<String> {
    match value {
        toml::Value::Integer(n) => Some(n.to_string()),
        toml::Value::Float(x) if x.is_finite() => Some(x.to_string()),
        toml::Value::Boolean(b) => Some(b.to_string()),
        toml::Value::String(s) if !s.chars().any(char::is_control) => Some(s.clone()),
        _ => None,
    }
}

/// The knobs of a table (`at` is the table's own path, e.g. `target.knobs`), as text.
pub(super) fn knobs(
    table: &toml::Table,
    at: &KeyPath,
) -> Result<BTreeMap<String, String>, Problem> {
    table
        .iter()
        .map(|(name, value)| {
            let here = at.key(name);
            if !valid_name(name) {
                return Err(Problem::about(here, KNOB_NAME));
            }
            let text = text(value).ok_or_else(|| Problem::value(here, value, KNOB_VALUE))?;
            Ok((name.clone(), text))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use toml::Value;

    #[test]
    fn knob_values_travel_as_text() {
        let cases = [
            (Value::Integer(8), Some("8")),
            (Value::Integer(-1), Some("-1")),
            (Value::Float(0.5), Some("0.5")),
            (Value::Float(2.0), Some("2")),
            (Value::Float(f64::NAN), None),
            (Value::Boolean(true), Some("true")),
            (Value::String("fast".into()), Some("fast")),
            (Value::String("two\nlines".into()), None),
            (Value::Array(vec![]), None),
        ];
        for (value, expected) in cases {
            assert_eq!(text(&value).as_deref(), expected, "{value:?}");
        }
    }

    #[test]
    fn knob_names() {
        for (name, ok) in [
            ("gomaxprocs", true),
            ("gc_percent", true),
            ("x2", true),
            ("", false),
            ("GOMAXPROCS", false),
            ("go-max", false),
            ("a.b", false),
        ] {
            assert_eq!(valid_name(name), ok, "{name:?}");
        }
    }
}
