//! The embedded backend: one SQLite file through the system libsqlite3. Writers take turns on
//! the database's write lock (`BEGIN IMMEDIATE`), waiting up to the busy timeout for it.

use std::path::Path;
use std::time::Duration;

use rusqlite::types::{Value as SqlValue, ValueRef};
use rusqlite::{Connection, ErrorCode, OpenFlags};

use super::backend::{Backend, Row, Value};
use super::error::Problem;

#[derive(Debug)]
pub struct Sqlite {
    conn: Connection,
    busy: Duration,
}

impl Sqlite {
    /// Opens `path` (a file name, or a `file:` URI); `create` makes the file when missing.
    pub fn open(path: &str, create: bool, busy: Duration) -> Result<Sqlite, Problem> {
        let mut flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_URI
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        if create {
            flags |= OpenFlags::SQLITE_OPEN_CREATE;
        } else if !path.starts_with("file:") && !Path::new(path).exists() {
            return Err(Problem::new(
                "no such database file",
                "store a run there first (numaload run PLAN --store PATH), or check the path",
            ));
        }
        let conn = Connection::open_with_flags(path, flags).map_err(|e| problem(&e, busy))?;
        conn.busy_timeout(busy).map_err(|e| problem(&e, busy))?;
        // Cascading deletes need it; reading the file here also proves it is a database.
        conn.execute_batch("PRAGMA foreign_keys = ON; SELECT count(*) FROM sqlite_master;")
            .map_err(|e| problem(&e, busy))?;
        Ok(Sqlite { conn, busy })
    }
}

fn to_sql(v: &Value) -> SqlValue {
    match v {
        Value::Null => SqlValue::Null,
        Value::Int(i) => SqlValue::Integer(*i),
        Value::Real(r) => SqlValue::Real(*r),
        Value::Text(s) => SqlValue::Text(s.clone()),
    }
}

fn from_sql(v: ValueRef<'_>) -> Value {
    match v {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => Value::Int(i),
        ValueRef::Real(r) => Value::Real(r),
        ValueRef::Text(t) | ValueRef::Blob(t) => {
            Value::Text(String::from_utf8_lossy(t).into_owned())
        }
    }
}

/// What went wrong, in words, and what to do about it.
fn problem(e: &rusqlite::Error, busy: Duration) -> Problem {
    let code = e.sqlite_error_code();
    match code {
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => Problem::new(
            format!("the database is locked by another process (waited {busy:?})"),
            "retry when the other numaload finishes, or find the process holding the file",
        ),
        Some(ErrorCode::ReadOnly) => Problem::new(
            "the database is read-only",
            "make the file and its directory writable, or give another --store",
        ),
        Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt) => Problem::new(
            format!("not a SQLite database, or a corrupt one ({e})"),
            "move the file aside and give --store a new path (runs stored there are lost)",
        ),
        Some(ErrorCode::CannotOpen | ErrorCode::PermissionDenied) => Problem::new(
            format!("cannot open the database file ({e})"),
            "check that its directory exists and is writable",
        ),
        Some(ErrorCode::DiskFull) => Problem::new("the disk is full", "free space and retry"),
        _ => Problem::new(
            format!("SQLite error: {e}"),
            "check the file, or report a bug",
        ),
    }
}

impl Backend for Sqlite {
    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, Problem> {
        let params = rusqlite::params_from_iter(params.iter().map(to_sql));
        let changed = self
            .conn
            .execute(sql, params)
            .map_err(|e| problem(&e, self.busy))?;
        Ok(changed as u64)
    }

    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>, Problem> {
        let busy = self.busy;
        let mut statement = self.conn.prepare(sql).map_err(|e| problem(&e, busy))?;
        let columns = statement.column_count();
        let params = rusqlite::params_from_iter(params.iter().map(to_sql));
        let mut rows = statement.query(params).map_err(|e| problem(&e, busy))?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(|e| problem(&e, busy))? {
            let mut values = Vec::with_capacity(columns);
            for i in 0..columns {
                values.push(from_sql(row.get_ref(i).map_err(|e| problem(&e, busy))?));
            }
            out.push(values);
        }
        Ok(out)
    }

    fn batch(&mut self, sql: &str) -> Result<(), Problem> {
        self.conn
            .execute_batch(sql)
            .map_err(|e| problem(&e, self.busy))
    }

    fn begin_write(&mut self) -> Result<(), Problem> {
        self.batch("BEGIN IMMEDIATE")
    }

    fn has_table(&mut self, name: &str) -> Result<bool, Problem> {
        let rows = self.query(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name = $1",
            &[Value::from(name)],
        )?;
        Ok(!rows.is_empty())
    }
}
