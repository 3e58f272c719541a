//! Which stored runs to read ([`Query`]), its SQL filter and the reading of its rows, for
//! `Store::runs`.

use super::backend::{Row, Value};
use super::record::{self, StoredLayout};

/// Which stored runs to read; every field narrows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Query {
    pub plan: Option<String>,
    pub fingerprint: Option<String>,
    /// The exact host set (sorted hostnames).
    pub hosts: Option<Vec<String>>,
    /// The same hosts and topology: runs with this host fingerprint, and runs stored without
    /// one on exactly these hosts (sorted hostnames).
    pub same_hosts: Option<(String, Vec<String>)>,
    /// Runs with this host among theirs.
    pub host: Option<String>,
    /// Runs that measured this layout; their other layouts are left out.
    pub layout: Option<String>,
    /// Runs carrying every one of these labels.
    pub labels: Vec<(String, String)>,
    pub exclude_run: Option<String>,
    /// The last N of what matched.
    pub last: Option<usize>,
}

pub(super) fn layout_of(row: &Row) -> StoredLayout {
    StoredLayout {
        name: row[1].text(),
        status: record::status_from(&row[2].text()),
        trials: u32::try_from(row[3].int()).unwrap_or(1),
        requests: u64::try_from(row[4].int()).unwrap_or(0),
        throughput_rps: row[5].real(),
        p50_ns: row[6].real(),
        p99_ns: row[7].real(),
        p999_ns: row[8].real(),
        error_rate: row[9].real(),
    }
}

/// The SQL filter on `runs r` for `query`'s plan, fingerprints, hosts, labels and exclusion;
/// host, layout and last are applied to the rows read.
pub(super) fn where_clause(query: &Query) -> (String, Vec<Value>) {
    let mut conditions = Vec::new();
    let mut params = Vec::new();
    let mut param = |value: Value| {
        params.push(value);
        format!("${}", params.len())
    };
    if let Some(plan) = &query.plan {
        conditions.push(format!("r.plan_name = {}", param(plan.as_str().into())));
    }
    if let Some(f) = &query.fingerprint {
        conditions.push(format!("r.plan_fingerprint = {}", param(f.as_str().into())));
    }
    if let Some(hosts) = &query.hosts {
        conditions.push(format!("r.hosts = {}", param(hosts.join(",").into())));
    }
    if let Some((fingerprint, hosts)) = &query.same_hosts {
        let (f, h) = (
            param(fingerprint.as_str().into()),
            param(hosts.join(",").into()),
        );
        conditions.push(format!(
            "(r.host_fingerprint = {f} OR (r.host_fingerprint = '' AND r.hosts = {h}))"
        ));
    }
    for (key, value) in &query.labels {
        let (k, v) = (param(key.as_str().into()), param(value.as_str().into()));
        conditions.push(format!(
            "EXISTS (SELECT 1 FROM labels x WHERE x.run_id = r.run_id AND x.key = {k} AND x.value = {v})"
        ));
    }
    if let Some(run) = &query.exclude_run {
        conditions.push(format!("r.run_id <> {}", param(run.as_str().into())));
    }
    let filter = if conditions.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", conditions.join(" AND "))
    };
    (filter, params)
}
