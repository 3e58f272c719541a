//! Results that remember: a history of runs in a database, and the rolling-baseline gate.
//!
//! A [`Store`] is opened from a URL: `postgres://` or `postgresql://` is a PostgreSQL database
//! (a team's shared history), anything else a SQLite file (created on first use; a `file:` URI
//! passes SQLite's own options, e.g. `?mode=ro`). One query layer, this module, serves both
//! through [`backend::Backend`]; the schema is versioned and migrated forward ([`schema`]).
//! [`Store::put`] appends a [`RunResult`] (its figures per layout, labels, and the full JSON);
//! [`Store::runs`] reads [`StoredRun`]s in time order for `numaload history` ([`history`]) and
//! the gate ([`gate`]), which judges a new result against the last N stored runs of the same
//! plan fingerprint and host fingerprint (narrowed by labels, widened to any host on request). Every failure is one [`StoreError`] line naming the store.

pub mod backend;
pub mod changes;
pub mod error;
pub mod gate;
pub mod history;
mod postgres;
mod query;
pub mod record;
pub mod schema;
mod sqlite;

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use backend::{Backend, Value};
use error::Problem;
pub use error::StoreError;
pub use query::Query;
use query::{layout_of, where_clause};
pub use record::{StoredLayout, StoredRun};

use crate::result::RunResult;

/// The environment variable `numaload run`, `history` and `compare --baseline` read when
/// `--store` is not given.
pub const STORE_ENV: &str = "NUMALOAD_STORE";

/// How long a writer waits for another's lock (SQLite) or a connection (PostgreSQL).
pub const DEFAULT_WAIT: Duration = Duration::from_secs(10);

/// Whether opening may create the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// `run --store`: create the database and its schema when missing.
    Write,
    /// `history`, `compare --baseline`: the store must exist.
    Read,
}

/// What [`Store::put`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Put {
    Stored,
    /// A run with this id was already there (stored twice): left as it was.
    AlreadyStored,
}

/// An open store.
pub struct Store {
    name: String,
    backend: Box<dyn Backend>,
    /// No schema yet (a new, empty database opened for reading): every query is empty.
    empty: bool,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Store({})", self.name)
    }
}

/// A PostgreSQL URL (else a SQLite path).
pub fn is_postgres(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// The store as errors and reports name it: a URL's password is hidden.
pub fn display_name(url: &str) -> String {
    if let Some((scheme, rest)) = url.split_once("://") {
        if let Some((auth, host)) = rest.split_once('@') {
            if let Some((user, _)) = auth.split_once(':') {
                return format!("{scheme}://{user}:***@{host}");
            }
        }
    }
    url.to_owned()
}

impl Store {
    pub fn open(url: &str, access: Access) -> Result<Store, StoreError> {
        Store::open_waiting(url, access, DEFAULT_WAIT)
    }

    /// [`Store::open`] with another wait for locks and connections.
    pub fn open_waiting(url: &str, access: Access, wait: Duration) -> Result<Store, StoreError> {
        let name = display_name(url);
        let backend: Box<dyn Backend> = if url.trim().is_empty() {
            return Err(
                Problem::new("empty store URL", "give a file path or postgres://...").named(&name),
            );
        } else if is_postgres(url) {
            Box::new(postgres::Postgres::connect(url, wait).map_err(|p| p.named(&name))?)
        } else {
            let path = url.strip_prefix("sqlite:").unwrap_or(url);
            let path = path.strip_prefix("//").unwrap_or(path);
            Box::new(
                sqlite::Sqlite::open(path, access == Access::Write, wait)
                    .map_err(|p| p.named(&name))?,
            )
        };
        let mut store = Store {
            name,
            backend,
            empty: false,
        };
        store.migrate(access).map_err(|p| p.named(&store.name))?;
        Ok(store)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    fn version(&mut self) -> Result<i64, Problem> {
        if !self.backend.has_table("numaload_schema")? {
            return Ok(0);
        }
        let rows = self
            .backend
            .query("SELECT MAX(version) FROM numaload_schema", &[])?;
        Ok(rows.first().and_then(|r| r.first()).map_or(0, Value::int))
    }

    /// Brings the schema to [`schema::CURRENT`]; refuses a newer one.
    fn migrate(&mut self, access: Access) -> Result<(), Problem> {
        let newer = |v: i64| {
            Problem::new(
                format!(
                    "its schema version {v} is newer than this numaload's ({})",
                    schema::CURRENT
                ),
                "use the numaload that wrote it, or a newer one",
            )
        };
        let version = self.version()?;
        if version > schema::CURRENT {
            return Err(newer(version));
        }
        if version == schema::CURRENT {
            return Ok(());
        }
        if version == 0 && access == Access::Read {
            // Nothing stored yet: read as empty, write nothing.
            self.empty = true;
            return Ok(());
        }
        self.write(|b| {
            b.batch(schema::VERSION_TABLE)?;
            let rows = b.query("SELECT MAX(version) FROM numaload_schema", &[])?;
            // Another writer may have migrated while this one waited for the lock.
            let version = rows.first().and_then(|r| r.first()).map_or(0, Value::int);
            if version > schema::CURRENT {
                return Err(newer(version));
            }
            for (i, migration) in schema::MIGRATIONS.iter().enumerate().skip(version as usize) {
                b.batch(migration)?;
                b.execute(
                    "INSERT INTO numaload_schema (version) VALUES ($1)",
                    &[Value::Int(i as i64 + 1)],
                )?;
            }
            Ok(())
        })
    }

    /// Runs `f` in a write transaction: committed when it succeeds, rolled back otherwise.
    fn write<T>(
        &mut self,
        f: impl FnOnce(&mut dyn Backend) -> Result<T, Problem>,
    ) -> Result<T, Problem> {
        self.backend.begin_write()?;
        match f(self.backend.as_mut()) {
            Ok(value) => {
                self.backend.batch("COMMIT")?;
                Ok(value)
            }
            Err(problem) => {
                let _ = self.backend.batch("ROLLBACK");
                Err(problem)
            }
        }
    }

    /// Appends `result` with its labels.
    pub fn put(
        &mut self,
        result: &RunResult,
        labels: &[(String, String)],
    ) -> Result<Put, StoreError> {
        let stored_at = humantime::format_rfc3339_seconds(SystemTime::now()).to_string();
        let run = vec![
            Value::from(result.run_id.as_str()),
            Value::from(result.started_at.as_str()),
            Value::from(stored_at),
            Value::from(result.plan.name.as_str()),
            Value::from(record::fingerprint(result)),
            Value::from(record::hosts(result).join(",")),
            Value::from(record::agents(result).join(",")),
            Value::from(result.numaload_version.as_str()),
            Value::Int(result.cancelled.into()),
            Value::Int(result.degraded.into()),
            Value::from(result.to_json()),
            Value::from(record::host_fingerprint(result)),
        ];
        let outcome = self.write(|b| {
            let inserted = b.execute(
                "INSERT INTO runs (run_id, started_at, stored_at, plan_name, plan_fingerprint, \
                 hosts, agents, numaload_version, cancelled, degraded, result_json, \
                 host_fingerprint) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
                 ON CONFLICT (run_id) DO NOTHING",
                &run,
            )?;
            if inserted == 0 {
                return Ok(Put::AlreadyStored);
            }
            for (position, l) in result.layouts.iter().enumerate() {
                let s = StoredLayout::from_result(l);
                b.execute(
                    "INSERT INTO layouts (run_id, layout, position, status, trials, requests, \
                     throughput_rps, p50_ns, p99_ns, p999_ns, error_rate) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                    &[
                        Value::from(result.run_id.as_str()),
                        Value::from(s.name),
                        Value::Int(position as i64),
                        Value::from(record::status_text(s.status)),
                        Value::Int(s.trials.into()),
                        Value::Int(i64::try_from(s.requests).unwrap_or(i64::MAX)),
                        Value::from(s.throughput_rps),
                        Value::from(s.p50_ns),
                        Value::from(s.p99_ns),
                        Value::from(s.p999_ns),
                        Value::from(s.error_rate),
                    ],
                )?;
            }
            for (key, value) in labels {
                b.execute(
                    "INSERT INTO labels (run_id, key, value) VALUES ($1, $2, $3) \
                     ON CONFLICT (run_id, key) DO UPDATE SET value = excluded.value",
                    &[
                        Value::from(result.run_id.as_str()),
                        Value::from(key.as_str()),
                        Value::from(value.as_str()),
                    ],
                )?;
            }
            Ok(Put::Stored)
        });
        outcome.map_err(|p| p.named(&self.name))
    }

    /// The runs `query` selects, oldest first.
    pub fn runs(&mut self, query: &Query) -> Result<Vec<StoredRun>, StoreError> {
        if self.empty {
            return Ok(Vec::new());
        }
        self.read_runs(query).map_err(|p| p.named(&self.name))
    }

    fn read_runs(&mut self, query: &Query) -> Result<Vec<StoredRun>, Problem> {
        let (filter, params) = where_clause(query);
        let run_rows = self.backend.query(
            &format!(
                "SELECT r.run_id, r.started_at, r.plan_name, r.plan_fingerprint, r.hosts, \
                 r.agents, r.cancelled, r.degraded, r.host_fingerprint FROM runs r {filter} \
                 ORDER BY r.started_at, r.run_id"
            ),
            &params,
        )?;
        let layout_rows = self.backend.query(
            &format!(
                "SELECT l.run_id, l.layout, l.status, l.trials, l.requests, l.throughput_rps, \
                 l.p50_ns, l.p99_ns, l.p999_ns, l.error_rate \
                 FROM layouts l JOIN runs r ON r.run_id = l.run_id {filter} \
                 ORDER BY l.run_id, l.position"
            ),
            &params,
        )?;
        let label_rows = self.backend.query(
            &format!(
                "SELECT b.run_id, b.key, b.value FROM labels b \
                 JOIN runs r ON r.run_id = b.run_id {filter} ORDER BY b.run_id, b.key"
            ),
            &params,
        )?;
        let mut layouts: BTreeMap<String, Vec<StoredLayout>> = BTreeMap::new();
        for row in layout_rows {
            layouts
                .entry(row[0].text())
                .or_default()
                .push(layout_of(&row));
        }
        let mut labels: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
        for row in label_rows {
            labels
                .entry(row[0].text())
                .or_default()
                .insert(row[1].text(), row[2].text());
        }
        let split = |v: &Value| -> Vec<String> {
            v.text()
                .split(',')
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        };
        let mut runs: Vec<StoredRun> = run_rows
            .iter()
            .map(|row| {
                let id = row[0].text();
                StoredRun {
                    layouts: layouts.remove(&id).unwrap_or_default(),
                    labels: labels.remove(&id).unwrap_or_default(),
                    run_id: id,
                    started_at: row[1].text(),
                    plan_name: row[2].text(),
                    plan_fingerprint: row[3].text(),
                    hosts: split(&row[4]),
                    agents: split(&row[5]),
                    cancelled: row[6].int() != 0,
                    degraded: row[7].int() != 0,
                    host_fingerprint: row[8].text(),
                }
            })
            .filter(|r| query.host.as_ref().is_none_or(|h| r.hosts.contains(h)))
            .collect();
        if let Some(layout) = &query.layout {
            runs.retain_mut(|r| {
                r.layouts.retain(|l| &l.name == layout);
                !r.layouts.is_empty()
            });
        }
        if let Some(last) = query.last {
            let skip = runs.len().saturating_sub(last);
            runs.drain(..skip);
        }
        Ok(runs)
    }

    /// The full result of a stored run.
    pub fn result(&mut self, run_id: &str) -> Result<RunResult, StoreError> {
        let rows = self
            .backend
            .query(
                "SELECT result_json FROM runs WHERE run_id = $1",
                &[Value::from(run_id)],
            )
            .map_err(|p| p.named(&self.name))?;
        let json = rows.first().and_then(|r| r.first()).map(Value::text);
        let json = json.ok_or_else(|| {
            Problem::new(
                format!("no run {run_id}"),
                "list the runs with numaload history",
            )
            .named(&self.name)
        })?;
        serde_json::from_str(&json).map_err(|e| {
            Problem::new(
                format!("run {run_id}: its stored result does not read ({e})"),
                "report a bug with the stored JSON",
            )
            .named(&self.name)
        })
    }
}
