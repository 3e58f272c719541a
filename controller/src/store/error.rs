//! The one error a store gives: which store, what went wrong, what to do. One line.

/// A store that could not be opened, read or written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("store {store}: {problem}; {hint}")]
pub struct StoreError {
    /// The store as the user named it (a PostgreSQL URL without its password).
    pub store: String,
    pub problem: String,
    /// What to do about it.
    pub hint: String,
}

/// What a backend reports before the store's name is attached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub problem: String,
    pub hint: String,
}

impl Problem {
    pub fn new(problem: impl Into<String>, hint: impl Into<String>) -> Problem {
        Problem {
            problem: one_line(&problem.into()),
            hint: hint.into(),
        }
    }

    pub fn named(self, store: &str) -> StoreError {
        StoreError {
            store: store.to_owned(),
            problem: self.problem,
            hint: self.hint,
        }
    }
}

/// Drivers' messages may span lines (PostgreSQL's DETAIL, HINT); the error stays on one.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}
