//! The store's schema, versioned: [`MIGRATIONS`]`[i]` takes a database from version `i` to
//! `i + 1`. A database records its version in `numaload_schema`; opening one applies the
//! missing migrations in one write transaction (so concurrent first uses take turns), and a
//! database newer than this numaload is refused rather than misread. The SQL is the subset both
//! SQLite and PostgreSQL accept: TEXT, BIGINT (booleans as 0/1), DOUBLE PRECISION.
//!
//! Never edit a released migration: append a new one.

/// What each table keeps: `runs` one row per stored result (plan name and fingerprint, hosts
/// and their fingerprint, agents, the full result JSON), `layouts` each layout's figures (the pooled values the
/// two-file compare reads, NULL when not measured), `labels` the `--label KEY=VALUE` pairs.
pub const MIGRATIONS: &[&str] = &[
    // 1: the first schema.
    "CREATE TABLE runs (
        run_id TEXT PRIMARY KEY,
        started_at TEXT NOT NULL,
        stored_at TEXT NOT NULL,
        plan_name TEXT NOT NULL,
        plan_fingerprint TEXT NOT NULL,
        hosts TEXT NOT NULL,
        agents TEXT NOT NULL,
        numaload_version TEXT NOT NULL,
        cancelled BIGINT NOT NULL,
        degraded BIGINT NOT NULL,
        result_json TEXT NOT NULL
    );
    CREATE INDEX runs_by_fingerprint ON runs (plan_fingerprint, hosts, started_at);
    CREATE INDEX runs_by_plan ON runs (plan_name, started_at);
    CREATE TABLE layouts (
        run_id TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
        layout TEXT NOT NULL,
        position BIGINT NOT NULL,
        status TEXT NOT NULL,
        trials BIGINT NOT NULL,
        requests BIGINT NOT NULL,
        throughput_rps DOUBLE PRECISION,
        p50_ns DOUBLE PRECISION,
        p99_ns DOUBLE PRECISION,
        p999_ns DOUBLE PRECISION,
        error_rate DOUBLE PRECISION,
        PRIMARY KEY (run_id, layout)
    );
    CREATE TABLE labels (
        run_id TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (run_id, key)
    );
    CREATE INDEX labels_by_key ON labels (key, value);",
    // 2: each run's host and topology fingerprint (`record::host_fingerprint`); runs stored
    // before it read as '' and are matched by their host set instead.
    "ALTER TABLE runs ADD COLUMN host_fingerprint TEXT NOT NULL DEFAULT '';
    CREATE INDEX runs_by_host_fingerprint ON runs (plan_fingerprint, host_fingerprint);",
];

/// The version this numaload writes and reads.
pub const CURRENT: i64 = MIGRATIONS.len() as i64;

/// Created before any migration, so the version can always be read.
pub const VERSION_TABLE: &str =
    "CREATE TABLE IF NOT EXISTS numaload_schema (version BIGINT NOT NULL)";
