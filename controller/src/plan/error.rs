//! [`PlanError`]: one line naming the file, the key and the fix; and the mapping of the toml
//! crate's errors (which point at byte spans and print multi-line snippets) onto key paths.

use std::fmt;

use serde::Deserialize;
use toml::de::{DeTable, DeValue};
use toml::Spanned;

use super::problem::{KeyPath, Problem};
use super::raw::RawPlan;
use super::validate::fixes::expectation;

/// Why a plan was refused. Its `Display` is one line: the file (with line and column for TOML
/// syntax errors), the key path as `--set` takes it (`load.rate`, `layouts.split.replicas`),
/// what is wrong and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{origin}{at}: {detail}")]
pub struct PlanError {
    kind: PlanErrorKind,
    origin: String,
    at: LineColumn,
    key: Option<String>,
    detail: String,
}

/// What kind of problem a [`PlanError`] reports, for callers that branch on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlanErrorKind {
    /// The file could not be read.
    Read,
    /// The text is not TOML.
    Syntax,
    /// The TOML is not a valid plan: unknown key, wrong type, missing or out-of-range value.
    Invalid,
}

impl PlanError {
    pub fn kind(&self) -> PlanErrorKind {
        self.kind
    }

    /// The file (or other origin) the plan came from, as given to `load` or `parse`.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The key the problem is about, as printed (`load.rate`), when there is one.
    pub fn key(&self) -> Option<&str> {
        self.key.as_deref()
    }

    /// 1-based line and column, for syntax errors.
    pub fn line_column(&self) -> Option<(usize, usize)> {
        self.at.0
    }

    pub(super) fn read(origin: &str, error: &std::io::Error) -> Self {
        Self::new(
            PlanErrorKind::Read,
            origin,
            None,
            format!("cannot read the plan: {error}"),
        )
    }

    pub(super) fn invalid(origin: &str, problem: Problem) -> Self {
        let key = (!problem.key.is_root()).then(|| problem.key.to_string());
        Self::new(PlanErrorKind::Invalid, origin, key, problem.detail)
    }

    fn new(kind: PlanErrorKind, origin: &str, key: Option<String>, detail: String) -> Self {
        Self {
            kind,
            origin: origin.to_owned(),
            at: LineColumn(None),
            key,
            detail: one_line(&detail),
        }
    }

    fn syntax(origin: &str, text: &str, error: &toml::de::Error) -> Self {
        let mut this = Self::new(
            PlanErrorKind::Syntax,
            origin,
            None,
            error.message().to_owned(),
        );
        this.at = LineColumn(error.span().map(|span| line_column(text, span.start)));
        this
    }

    /// Puts serde's complaint (unknown field, invalid type, unknown variant) at the key the
    /// error span falls on, in the words the validator uses for the same key.
    fn from_serde(origin: &str, text: &str, doc: &DeTable<'_>, error: &toml::de::Error) -> Self {
        let message = error.message();
        let found = error.span().and_then(|span| locate(doc, span.start));
        if let Some((name, expected)) = unknown_field(message) {
            let mut parent = found.map(|f| f.path).unwrap_or_default();
            parent.pop_key(&name);
            let detail = if parent.is_root() {
                format!("unknown key {name:?}; expected {expected}")
            } else {
                format!("{parent}: unknown key {name:?}; expected {expected}")
            };
            return Self::new(
                PlanErrorKind::Invalid,
                origin,
                Some(parent.key(&name).to_string()),
                detail,
            );
        }
        let Some(found) = found else {
            return Self::new(PlanErrorKind::Invalid, origin, None, tidy(message));
        };
        let fix = expectation(&found.path.schema()).map_or_else(|| tidy(message), str::to_owned);
        // A table's span is its header or body, not a value: there is nothing to quote.
        let written = text
            .get(found.value_span)
            .filter(|_| !found.is_table)
            .filter(|s| !s.contains('\n') && s.chars().count() <= 60);
        let detail = match written {
            Some(value) => format!("{} = {value}: {fix}", found.path),
            None => format!("{}: {fix}", found.path),
        };
        Self::new(
            PlanErrorKind::Invalid,
            origin,
            Some(found.path.to_string()),
            detail,
        )
    }
}

/// Parses `text` as TOML, then as the raw plan, mapping either failure to a [`PlanError`].
pub(super) fn deserialize(text: &str, origin: &str) -> Result<RawPlan, PlanError> {
    let doc = DeTable::parse(text).map_err(|e| PlanError::syntax(origin, text, &e))?;
    let spans = doc.get_ref().clone();
    RawPlan::deserialize(toml::de::Deserializer::from(doc))
        .map_err(|e| PlanError::from_serde(origin, text, &spans, &e))
}

/// `:line:column` after the file name, or nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct LineColumn(Option<(usize, usize)>);

impl fmt::Display for LineColumn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some((line, column)) => write!(f, ":{line}:{column}"),
            None => Ok(()),
        }
    }
}

/// 1-based line and column (in characters) of byte offset `at`.
fn line_column(text: &str, at: usize) -> (usize, usize) {
    let before = text.get(..at).unwrap_or(text);
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let line = before.matches('\n').count() + 1;
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

/// The key (or array element) a serde error's span falls on.
#[derive(Debug)]
struct Found {
    path: KeyPath,
    value_span: std::ops::Range<usize>,
    is_table: bool,
}

impl Found {
    fn new(path: KeyPath, value: &Spanned<DeValue<'_>>) -> Self {
        let is_table = match value.get_ref() {
            DeValue::Table(_) => true,
            DeValue::Array(items) => items.iter().any(|item| item.get_ref().is_table()),
            _ => false,
        };
        Self {
            path,
            value_span: value.span(),
            is_table,
        }
    }
}

/// The deepest key or array element whose key or value span holds byte offset `at`.
fn locate(doc: &DeTable<'_>, at: usize) -> Option<Found> {
    locate_in_table(doc, at, &KeyPath::root())
}

fn locate_in_table(table: &DeTable<'_>, at: usize, path: &KeyPath) -> Option<Found> {
    table.iter().find_map(|(key, value)| {
        let here = path.key(key.get_ref());
        locate_in_value(value, at, &here).or_else(|| {
            (holds(key.span(), at) || holds(value.span(), at)).then(|| Found::new(here, value))
        })
    })
}

fn locate_in_value(value: &Spanned<DeValue<'_>>, at: usize, path: &KeyPath) -> Option<Found> {
    match value.get_ref() {
        DeValue::Table(table) => locate_in_table(table, at, path),
        DeValue::Array(items) => items.iter().enumerate().find_map(|(index, item)| {
            let name = item
                .get_ref()
                .as_table()
                .and_then(|table| table.get("name"))
                .and_then(|name| name.get_ref().as_str());
            let here = if item.get_ref().as_table().is_some() {
                path.item(index, name)
            } else {
                path.element(index)
            };
            locate_in_value(item, at, &here)
                .or_else(|| holds(item.span(), at).then(|| Found::new(here, item)))
        }),
        _ => None,
    }
}

fn holds(span: std::ops::Range<usize>, at: usize) -> bool {
    span.contains(&at)
}

/// Splits serde's "unknown field `rat`, expected one of `mode`, `rate`" into the name and the
/// expected keys without backticks.
fn unknown_field(message: &str) -> Option<(String, String)> {
    let rest = message.strip_prefix("unknown field `")?;
    let (name, rest) = rest.split_once('`')?;
    let expected = rest.strip_prefix(", expected ")?.replace('`', "");
    Some((name.to_owned(), expected))
}

/// serde's wording with Rust's backticks turned into TOML's quotes.
fn tidy(message: &str) -> String {
    message.replace('`', "\"")
}

fn one_line(text: &str) -> String {
    text.split(['\n', '\r'])
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_unknown_field_is_split() {
        let message = "unknown field `rat`, expected one of `mode`, `rate`";
        assert_eq!(
            unknown_field(message),
            Some(("rat".into(), "one of mode, rate".into()))
        );
        assert_eq!(unknown_field("invalid type: integer"), None);
    }

    #[test]
    fn line_and_column_are_one_based_in_characters() {
        let text = "a = 1\nbé = 2\n";
        assert_eq!(line_column(text, 0), (1, 1));
        assert_eq!(line_column(text, 6), (2, 1));
        assert_eq!(line_column(text, 9), (2, 3));
    }

    #[test]
    fn one_line_joins_lines() {
        assert_eq!(one_line("a\n  |\n b\r\n"), "a | b");
    }
}
