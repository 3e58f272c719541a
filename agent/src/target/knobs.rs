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

/// A knob declaration the configuration gets wrong: one line naming the key (the caller adds
/// which target).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KnobDeclError {
    #[error("knobs.{knob}: knob names are [a-z0-9_]+")]
    Name { knob: String },
    #[error("knobs.{knob}.range = [{min}, {max}]: give [low, high]")]
    Range { knob: String, min: i64, max: i64 },
    #[error("knobs.{knob}.values: list at least one value")]
    NoValues { knob: String },
    #[error("knobs.{knob}: give either range = [low, high] or values = [\"a\", \"b\"]")]
    NoKind { knob: String },
    /// The declared default is not a value the knob takes.
    #[error("knobs.{knob}.default = {value}: {source}")]
    Default {
        knob: String,
        value: String,
        source: ValueError,
    },
}

/// Why a knob refuses a value (the caller adds which knob and value).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    #[error("not an integer; give one in {min}..={max}")]
    NotAnInteger { min: i64, max: i64 },
    #[error("out of range; give one in {min}..={max}")]
    OutOfRange { min: i64, max: i64 },
    #[error("not one of {}", values.join(", "))]
    NotOneOf { values: Vec<String> },
}

/// A plan's knob value the target does not take: one line naming the knob (the caller adds
/// which target).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KnobError {
    /// The target declares no knob of that name.
    #[error(
        "knobs.{knob} = {value:?}: this target declares no such knob (declared: {}); the \
         agent's configuration lists what a plan may set",
        if declared.is_empty() { "none".to_owned() } else { declared.join(", ") }
    )]
    Undeclared {
        knob: String,
        value: String,
        /// The knobs the target declares.
        declared: Vec<String>,
    },
    /// The knob does not take the value.
    #[error("knobs.{knob} = {value:?}: {source}")]
    Refused {
        knob: String,
        value: String,
        source: ValueError,
    },
}

impl KnobFile {
    /// The checked knob.
    pub fn check(&self, name: &str) -> Result<Knob, KnobDeclError> {
        let named = || name.to_owned();
        let valid_name = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !valid_name {
            return Err(KnobDeclError::Name { knob: named() });
        }
        let kind = match (&self.range, &self.values) {
            (Some([min, max]), None) if min <= max => KnobKind::Range {
                min: *min,
                max: *max,
            },
            (Some([min, max]), None) => {
                return Err(KnobDeclError::Range {
                    knob: named(),
                    min: *min,
                    max: *max,
                })
            }
            (None, Some(values)) if !values.is_empty() => KnobKind::Values(values.clone()),
            (None, Some(_)) => return Err(KnobDeclError::NoValues { knob: named() }),
            _ => return Err(KnobDeclError::NoKind { knob: named() }),
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
            let checked = knob
                .check_value(&text)
                .map_err(|source| KnobDeclError::Default {
                    knob: named(),
                    value: text.clone(),
                    source,
                })?;
            knob.default = Some(checked);
        }
        Ok(knob)
    }
}

impl Knob {
    /// The value as the server gets it, or why it is refused.
    pub fn check_value(&self, value: &str) -> Result<String, ValueError> {
        match &self.kind {
            KnobKind::Range { min, max } => {
                let (min, max) = (*min, *max);
                let n: i64 = value
                    .trim()
                    .parse()
                    .map_err(|_| ValueError::NotAnInteger { min, max })?;
                if n < min || n > max {
                    return Err(ValueError::OutOfRange { min, max });
                }
                Ok(n.to_string())
            }
            KnobKind::Values(values) => {
                if values.iter().any(|v| v == value) {
                    Ok(value.to_owned())
                } else {
                    Err(ValueError::NotOneOf {
                        values: values.clone(),
                    })
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
) -> Result<BTreeMap<String, String>, KnobError> {
    let mut values = BTreeMap::new();
    for (name, value) in given {
        let Some(knob) = declared.get(name) else {
            return Err(KnobError::Undeclared {
                knob: name.clone(),
                value: value.clone(),
                declared: declared.keys().cloned().collect(),
            });
        };
        let checked = knob
            .check_value(value)
            .map_err(|source| KnobError::Refused {
                knob: name.clone(),
                value: value.clone(),
                source,
            })?;
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
        let refused = |knob: &str, value: &str, source| KnobError::Refused {
            knob: knob.into(),
            value: value.into(),
            source,
        };
        let spin_sleep = vec!["spin".to_owned(), "sleep".to_owned()];
        let cases: [(Pairs<'_>, Result<Pairs<'_>, KnobError>); 7] = [
            (&[], Ok(&[("gomaxprocs", "8")])),
            (&[("gomaxprocs", "2")], Ok(&[("gomaxprocs", "2")])),
            (
                &[("mode", "sleep")],
                Ok(&[("gomaxprocs", "8"), ("mode", "sleep")]),
            ),
            (
                &[("gomaxprocs", "0")],
                Err(refused(
                    "gomaxprocs",
                    "0",
                    ValueError::OutOfRange { min: 1, max: 1024 },
                )),
            ),
            (
                &[("gomaxprocs", "two")],
                Err(refused(
                    "gomaxprocs",
                    "two",
                    ValueError::NotAnInteger { min: 1, max: 1024 },
                )),
            ),
            (
                &[("mode", "nap")],
                Err(refused(
                    "mode",
                    "nap",
                    ValueError::NotOneOf { values: spin_sleep },
                )),
            ),
            (
                &[("threads", "4")],
                Err(KnobError::Undeclared {
                    knob: "threads".into(),
                    value: "4".into(),
                    declared: vec!["gomaxprocs".into(), "mode".into()],
                }),
            ),
        ];
        for (plan, want) in cases {
            let got = resolve(&declared(), &given(plan));
            assert_eq!(got, want.map(given), "{plan:?}");
        }
    }

    #[test]
    fn a_refused_value_names_the_knob_and_what_it_takes() {
        let cases = [
            (
                "gomaxprocs",
                "0",
                "knobs.gomaxprocs = \"0\": out of range; give one in 1..=1024",
            ),
            (
                "gomaxprocs",
                "x",
                "knobs.gomaxprocs = \"x\": not an integer; give one in 1..=1024",
            ),
            (
                "mode",
                "nap",
                "knobs.mode = \"nap\": not one of spin, sleep",
            ),
            (
                "threads",
                "4",
                "knobs.threads = \"4\": this target declares no such knob (declared: \
                 gomaxprocs, mode); the agent's configuration lists what a plan may set",
            ),
        ];
        for (knob, value, want) in cases {
            let err = resolve(&declared(), &given(&[(knob, value)])).expect_err(want);
            assert_eq!(err.to_string(), want);
        }
        let none = resolve(&BTreeMap::new(), &given(&[("threads", "4")])).expect_err("none");
        assert!(none.to_string().contains("(declared: none)"), "{none}");
    }

    #[test]
    fn declarations_are_checked() {
        let knob = || "k".to_owned();
        let cases = [
            ("", KnobDeclError::NoKind { knob: knob() }),
            (
                "range = [4, 1]",
                KnobDeclError::Range {
                    knob: knob(),
                    min: 4,
                    max: 1,
                },
            ),
            ("values = []", KnobDeclError::NoValues { knob: knob() }),
            (
                "range = [1, 4]\ndefault = 9",
                KnobDeclError::Default {
                    knob: knob(),
                    value: "9".into(),
                    source: ValueError::OutOfRange { min: 1, max: 4 },
                },
            ),
        ];
        for (text, want) in cases {
            let file = toml::from_str::<KnobFile>(text).expect(text);
            assert_eq!(file.check("k"), Err(want), "{text:?}");
        }
        let file = toml::from_str::<KnobFile>("values = [\"a\"]").expect("valid");
        assert_eq!(
            file.check("K"),
            Err(KnobDeclError::Name { knob: "K".into() })
        );
        let unknown = toml::from_str::<KnobFile>("range = [1, 4]\nstep = 2").expect_err("step");
        assert!(unknown.to_string().contains("unknown field"), "{unknown}");
    }

    #[test]
    fn a_declaration_mistake_names_the_key_and_the_fix() {
        let cases = [
            (
                "",
                "k",
                "knobs.k: give either range = [low, high] or values = [\"a\", \"b\"]",
            ),
            (
                "range = [4, 1]",
                "k",
                "knobs.k.range = [4, 1]: give [low, high]",
            ),
            (
                "values = []",
                "k",
                "knobs.k.values: list at least one value",
            ),
            (
                "range = [1, 4]\ndefault = 9",
                "k",
                "knobs.k.default = 9: out of range; give one in 1..=4",
            ),
            (
                "values = [\"a\"]",
                "K",
                "knobs.K: knob names are [a-z0-9_]+",
            ),
        ];
        for (text, name, want) in cases {
            let file = toml::from_str::<KnobFile>(text).expect(text);
            let err = file.check(name).expect_err(text);
            assert_eq!(err.to_string(), want);
        }
    }
}
