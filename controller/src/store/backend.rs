//! The seam between the store's one query layer and its two databases: a [`Backend`] runs SQL
//! with positional parameters (`$1`, `$2`, ... in both SQLite and PostgreSQL) and returns rows
//! of [`Value`]s. Everything else (schema, migrations, queries) is written once, in `mod.rs`
//! and `schema.rs`, in the SQL both understand.

use super::error::Problem;

/// A parameter or a column value. Booleans are stored as 0/1 integers, times as RFC 3339 text.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
}

impl Value {
    pub fn text(&self) -> String {
        match self {
            Value::Text(s) => s.clone(),
            Value::Int(i) => i.to_string(),
            Value::Real(r) => r.to_string(),
            Value::Null => String::new(),
        }
    }

    pub fn int(&self) -> i64 {
        match self {
            Value::Int(i) => *i,
            Value::Real(r) => *r as i64,
            Value::Text(s) => s.parse().unwrap_or(0),
            Value::Null => 0,
        }
    }

    pub fn real(&self) -> Option<f64> {
        match self {
            Value::Real(r) => Some(*r),
            Value::Int(i) => Some(*i as f64),
            Value::Text(_) | Value::Null => None,
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::Text(s.to_owned())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::Text(s)
    }
}

impl From<i64> for Value {
    fn from(i: i64) -> Value {
        Value::Int(i)
    }
}

impl From<Option<f64>> for Value {
    fn from(r: Option<f64>) -> Value {
        r.map_or(Value::Null, Value::Real)
    }
}

pub type Row = Vec<Value>;

/// One open connection to a store's database.
pub trait Backend: Send {
    /// Runs one statement; returns the rows it changed.
    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, Problem>;
    /// Runs one query.
    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>, Problem>;
    /// Runs several statements without parameters (schema changes).
    fn batch(&mut self, sql: &str) -> Result<(), Problem>;
    /// Starts a transaction that writes, waiting for (and then holding) the store's write lock
    /// so that concurrent writers and migrations take turns.
    fn begin_write(&mut self) -> Result<(), Problem>;
    /// Whether a table exists (an empty database has none of ours).
    fn has_table(&mut self, name: &str) -> Result<bool, Problem>;
}
