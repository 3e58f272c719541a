//! A target's knobs: the only values a plan may pass to a server (`{knob.NAME}`).
//!
//! The agent's configuration declares each knob with the values it may take, an integer
//! `range` or a list of `values`, and optionally a `default`; a plan's value arrives as text and
//! is checked here. A knob with no default that the plan does not set is unset: the argument or
//! environment variable that names it is left out (so a server's own default applies).

use std::collections::BTreeMap;

/// What values a knob may take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KnobKind {
    /// An integer in `[min, max]`.
    Range { min: i64, max: i64 },
    /// One of these words.
    Values(Vec<String>),
}

/// One declared knob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Knob {
    pub kind: KnobKind,
    pub default: Option<String>,
}

/// A knob as the configuration file writes it: `{ range = [1, 1024], default = 8 }` or
/// `{ values = ["spin", "sleep"] }`.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KnobFile {
    pub range: Option<[i64; 2]>,
    pub values: Option<Vec<String>>,
    pub default: Option<toml::Value>,
}

impl KnobFile {
    /// The checked knob; the error is one line (the caller adds where it is).
    pub fn check(&self, name: &str) -> Result<Knob, String> {
        let valid_name = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !valid_name {
            return Err(format!("knobs.{name}: knob names are [a-z0-9_]+"));
        }
        let kind = match (&self.range, &self.values) {
            (Some([min, max]), None) if min <= max => KnobKind::Range {
                min: *min,
                max: *max,
            },
            (Some([min, max]), None) => {
                return Err(format!(
                    "knobs.{name}.range = [{min}, {max}]: give [low, high]"
                ))
            }
            (None, Some(values)) if !values.is_empty() => KnobKind::Values(values.clone()),
            (None, Some(_)) => return Err(format!("knobs.{name}.values: list at least one value")),
            _ => {
                return Err(format!(
                    "knobs.{name}: give either range = [low, high] or values = [\"a\", \"b\"]"
                ))
            }
        };
        let mut knob = Knob {
            kind,
            default: None,
        };
        if let Some(default) = &self.default {
            let text = match default {
                toml::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            knob.default = Some(
                knob.check_value(&text)
                    .map_err(|e| format!("knobs.{name}.default = {text}: {e}"))?,
            );
        }
        Ok(knob)
    }
}

impl Knob {
    /// The value as the server gets it, or why it is refused.
    pub fn check_value(&self, value: &str) -> Result<String, String> {
        match &self.kind {
            KnobKind::Range { min, max } => {
                let n: i64 = value
                    .trim()
                    .parse()
                    .map_err(|_| format!("not an integer; give one in {min}..={max}"))?;
                if n < *min || n > *max {
                    return Err(format!("out of range; give one in {min}..={max}"));
                }
                Ok(n.to_string())
            }
            KnobKind::Values(values) => {
                if values.iter().any(|v| v == value) {
                    Ok(value.to_owned())
                } else {
                    Err(format!("not one of {}", values.join(", ")))
                }
            }
        }
    }
}

/// The value of every knob for one layout: the plan's, checked, else the default. A knob the
/// target does not declare is refused, naming the declared ones.
pub fn resolve(
    declared: &BTreeMap<String, Knob>,
    given: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>, String> {
    let mut values = BTreeMap::new();
    for (name, value) in given {
        let Some(knob) = declared.get(name) else {
            let names: Vec<&str> = declared.keys().map(String::as_str).collect();
            return Err(format!(
                "knobs.{name} = {value:?}: this target declares no such knob (declared: {}); \
                 the agent's configuration lists what a plan may set",
                if names.is_empty() {
                    "none".to_owned()
                } else {
                    names.join(", ")
                }
            ));
        };
        let checked = knob
            .check_value(value)
            .map_err(|e| format!("knobs.{name} = {value:?}: {e}"))?;
        values.insert(name.clone(), checked);
    }
    for (name, knob) in declared {
        if let (false, Some(default)) = (values.contains_key(name), &knob.default) {
            values.insert(name.clone(), default.clone());
        }
    }
    Ok(values)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn declared() -> BTreeMap<String, Knob> {
        let parse = |text: &str, name: &str| {
            toml::from_str::<KnobFile>(text)
                .expect(text)
                .check(name)
                .expect(text)
        };
        BTreeMap::from([
            (
                "gomaxprocs".to_owned(),
                parse("range = [1, 1024]\ndefault = 8", "gomaxprocs"),
            ),
            (
                "mode".to_owned(),
                parse("values = [\"spin\", \"sleep\"]", "mode"),
            ),
        ])
    }

    fn given(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn values_are_checked_and_defaults_fill_in() {
        type Pairs<'a> = &'a [(&'a str, &'a str)];
        let cases: [(Pairs<'_>, Result<Pairs<'_>, &str>); 6] = [
            (&[], Ok(&[("gomaxprocs", "8")])),
            (&[("gomaxprocs", "2")], Ok(&[("gomaxprocs", "2")])),
            (
                &[("mode", "sleep")],
                Ok(&[("gomaxprocs", "8"), ("mode", "sleep")]),
            ),
            (&[("gomaxprocs", "0")], Err("knobs.gomaxprocs = \"0\": out of range")),
            (&[("mode", "nap")], Err("knobs.mode = \"nap\": not one of spin, sleep")),
            (
                &[("threads", "4")],
                Err("knobs.threads = \"4\": this target declares no such knob (declared: gomaxprocs, mode)"),
            ),
        ];
        for (plan, want) in cases {
            let got = resolve(&declared(), &given(plan));
            match want {
                Ok(values) => assert_eq!(got, Ok(given(values)), "{plan:?}"),
                Err(prefix) => {
                    let err = got.expect_err("refused");
                    assert!(err.starts_with(prefix), "{plan:?}: {err}");
                }
            }
        }
    }

    #[test]
    fn declarations_are_checked() {
        let cases = [
            ("", "knobs.k: give either range"),
            ("range = [4, 1]", "knobs.k.range = [4, 1]"),
            ("values = []", "knobs.k.values"),
            (
                "range = [1, 4]\ndefault = 9",
                "knobs.k.default = 9: out of range",
            ),
            ("range = [1, 4]\nstep = 2", "unknown field"),
        ];
        for (text, want) in cases {
            let err = toml::from_str::<KnobFile>(text)
                .map_err(|e| e.to_string())
                .and_then(|f| f.check("k"))
                .expect_err(text);
            assert!(err.contains(want), "{text:?}: {err}");
        }
    }
}
