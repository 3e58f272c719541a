//! The shared backend: a PostgreSQL database through the synchronous client (no TLS: use it on
//! loopback or a trusted network). Writers take turns on a transaction-scoped advisory lock, so
//! concurrent first uses do not race to create the schema.

use std::error::Error as StdError;
use std::time::Duration;

use postgres::error::SqlState;
use postgres::types::{private::BytesMut, to_sql_checked, IsNull, ToSql, Type};
use postgres::{Client, Config, NoTls};

use super::backend::{Backend, Row, Value};
use super::error::Problem;

/// The advisory lock every writer of a numaload store holds while it writes ("numaload").
const WRITE_LOCK: i64 = 0x6e75_6d61_6c6f_6164;

pub struct Postgres {
    client: Client,
}

impl std::fmt::Debug for Postgres {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Postgres")
    }
}

impl Postgres {
    pub fn connect(url: &str, timeout: Duration) -> Result<Postgres, Problem> {
        let mut config: Config = url.parse().map_err(|e| {
            Problem::new(
                format!("not a PostgreSQL URL ({e})"),
                "write postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE",
            )
        })?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(timeout);
        }
        let client = config.connect(NoTls).map_err(|e| problem(&e))?;
        Ok(Postgres { client })
    }
}

fn problem(e: &postgres::Error) -> Problem {
    let Some(db) = e.as_db_error() else {
        if e.is_closed() {
            return Problem::new(
                "the server closed the connection",
                "check the server's log, then retry",
            );
        }
        let cause = e.source().map_or_else(|| e.to_string(), |s| s.to_string());
        return Problem::new(
            format!("cannot reach the PostgreSQL server ({cause})"),
            "check the URL's host and port and that the server is running and reachable",
        );
    };
    let code = db.code();
    let hint = if *code == SqlState::INVALID_PASSWORD
        || *code == SqlState::INVALID_AUTHORIZATION_SPECIFICATION
    {
        "check the user and password in the URL (and the server's pg_hba.conf)"
    } else if *code == SqlState::INVALID_CATALOG_NAME {
        "create the database first (createdb NAME) or fix the URL"
    } else if *code == SqlState::READ_ONLY_SQL_TRANSACTION {
        "the server is read-only (a standby?): give the primary's URL"
    } else if *code == SqlState::INSUFFICIENT_PRIVILEGE {
        "grant the user CREATE and INSERT on the database, or use another user"
    } else {
        "check the server's log, or report a bug"
    };
    Problem::new(format!("PostgreSQL: {}", db.message()), hint)
}

/// A [`Value`] bound to whatever type PostgreSQL inferred for its parameter.
#[derive(Debug)]
struct Param<'a>(&'a Value);

impl ToSql for Param<'_> {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn StdError + Sync + Send>> {
        match self.0 {
            Value::Null => Ok(IsNull::Yes),
            Value::Int(i) if *ty == Type::INT4 => i32::try_from(*i)?.to_sql(ty, out),
            Value::Int(i) if *ty == Type::FLOAT8 => (*i as f64).to_sql(ty, out),
            Value::Int(i) => i.to_sql(ty, out),
            Value::Real(r) => r.to_sql(ty, out),
            Value::Text(s) => s.as_str().to_sql(ty, out),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

fn column(row: &postgres::Row, i: usize) -> Result<Value, postgres::Error> {
    let ty = row.columns()[i].type_().clone();
    Ok(if ty == Type::INT8 {
        row.try_get::<_, Option<i64>>(i)?
            .map_or(Value::Null, Value::Int)
    } else if ty == Type::INT4 {
        row.try_get::<_, Option<i32>>(i)?
            .map_or(Value::Null, |v| Value::Int(v.into()))
    } else if ty == Type::FLOAT8 {
        row.try_get::<_, Option<f64>>(i)?
            .map_or(Value::Null, Value::Real)
    } else if ty == Type::BOOL {
        row.try_get::<_, Option<bool>>(i)?
            .map_or(Value::Null, |b| Value::Int(b.into()))
    } else {
        row.try_get::<_, Option<String>>(i)?
            .map_or(Value::Null, Value::Text)
    })
}

impl Backend for Postgres {
    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, Problem> {
        let params: Vec<Param<'_>> = params.iter().map(Param).collect();
        let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p as _).collect();
        self.client.execute(sql, &refs).map_err(|e| problem(&e))
    }

    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>, Problem> {
        let params: Vec<Param<'_>> = params.iter().map(Param).collect();
        let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p as _).collect();
        let rows = self.client.query(sql, &refs).map_err(|e| problem(&e))?;
        rows.iter()
            .map(|row| (0..row.len()).map(|i| column(row, i)).collect())
            .collect::<Result<Vec<Row>, _>>()
            .map_err(|e| problem(&e))
    }

    fn batch(&mut self, sql: &str) -> Result<(), Problem> {
        self.client.batch_execute(sql).map_err(|e| problem(&e))
    }

    fn begin_write(&mut self) -> Result<(), Problem> {
        self.batch(&format!(
            "BEGIN; SELECT pg_advisory_xact_lock({WRITE_LOCK})"
        ))
    }

    fn has_table(&mut self, name: &str) -> Result<bool, Problem> {
        let rows = self.query("SELECT to_regclass($1)::text", &[Value::from(name)])?;
        Ok(rows
            .first()
            .is_some_and(|r| r.first() != Some(&Value::Null)))
    }
}
