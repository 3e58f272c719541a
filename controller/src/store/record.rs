//! What the store keeps of a [`RunResult`], derived here once: the plan's fingerprint, the host
//! set and its topology's fingerprint, and each layout's figures (the same pooled values the
//! two-file compare judges).

use std::collections::BTreeMap;

use crate::compare::{self, Figure};
use crate::result::{LayoutResult, LayoutStatus, RunResult};

/// One stored run, as `history` lists it and the gate reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredRun {
    pub run_id: String,
    /// RFC 3339, UTC, from the result.
    pub started_at: String,
    pub plan_name: String,
    pub plan_fingerprint: String,
    /// [`host_fingerprint`] of the run's hosts; empty for a run stored before the store kept it.
    pub host_fingerprint: String,
    /// Hostnames of every agent, sorted and deduplicated.
    pub hosts: Vec<String>,
    pub agents: Vec<String>,
    pub cancelled: bool,
    pub degraded: bool,
    pub labels: BTreeMap<String, String>,
    /// In plan order.
    pub layouts: Vec<StoredLayout>,
}

/// One layout's figures in a stored run; `None` where it was not measured (failed layout, too
/// few samples for the percentile).
#[derive(Debug, Clone, PartialEq)]
pub struct StoredLayout {
    pub name: String,
    pub status: LayoutStatus,
    pub trials: u32,
    pub requests: u64,
    pub throughput_rps: Option<f64>,
    pub p50_ns: Option<f64>,
    pub p99_ns: Option<f64>,
    pub p999_ns: Option<f64>,
    pub error_rate: Option<f64>,
}

impl StoredLayout {
    pub fn from_result(l: &LayoutResult) -> StoredLayout {
        let figure = |f: Figure| {
            l.status
                .measured()
                .then(|| compare::side(l, f).ok().map(|s| s.pooled))
                .flatten()
        };
        StoredLayout {
            name: l.name.clone(),
            // The status the reports show (`ok` with reasons is `suspect`).
            status: crate::report::summary::status_of(l),
            trials: l.trials.len().max(1) as u32,
            requests: l.requests,
            throughput_rps: figure(Figure::Throughput),
            p50_ns: figure(Figure::P50),
            p99_ns: figure(Figure::P99),
            p999_ns: figure(Figure::P999),
            error_rate: figure(Figure::ErrorRate),
        }
    }

    /// The stored value of `figure`.
    pub fn figure(&self, figure: Figure) -> Option<f64> {
        match figure {
            Figure::Throughput => self.throughput_rps,
            Figure::P50 => self.p50_ns,
            Figure::P99 => self.p99_ns,
            Figure::P999 => self.p999_ns,
            Figure::ErrorRate => self.error_rate,
        }
    }
}

/// The hostnames of a result's agents, sorted and deduplicated: a run's host set.
pub fn hosts(result: &RunResult) -> Vec<String> {
    let mut names: Vec<String> = if result.hosts.is_empty() {
        vec![result.host.hostname.clone()]
    } else {
        result.hosts.iter().map(|h| h.hostname.clone()).collect()
    };
    names.sort();
    names.dedup();
    names
}

/// The agents' addresses, in the order they were given.
pub fn agents(result: &RunResult) -> Vec<String> {
    if result.hosts.is_empty() {
        vec![result.host.agent.clone()]
    } else {
        result.hosts.iter().map(|h| h.agent.clone()).collect()
    }
}

/// A fingerprint of the plan's content: 64-bit FNV-1a of the plan as the result echoes it
/// (JSON, keys in a fixed order), in hex. Two runs share it when every key of their plans is
/// equal, name included; a numaload version that adds a plan key starts a new history.
pub fn fingerprint(result: &RunResult) -> String {
    let json = serde_json::to_value(&result.plan)
        .map(|v| v.to_string())
        .unwrap_or_default();
    fnv1a(&json)
}

/// A fingerprint of the hosts a result ran on and their topology: 64-bit FNV-1a, in hex, of
/// each host's name, CPU model, packages, NUMA nodes and domains, cores, PUs and allowed CPUs,
/// hosts in name order. Two runs share it when they ran on the same machines cut the same way
/// (a kernel upgrade keeps it; a changed cpuset, SMT switched off or another CPU does not).
pub fn host_fingerprint(result: &RunResult) -> String {
    let hosts = if result.hosts.is_empty() {
        std::slice::from_ref(&result.host)
    } else {
        result.hosts.as_slice()
    };
    let mut parts: Vec<String> = hosts
        .iter()
        .map(|h| {
            format!(
                "{}|{}|{}|{}|{}|{}|{}|{}",
                h.hostname,
                h.cpu_model,
                h.packages,
                h.numa_nodes,
                h.numa_domains,
                h.cores,
                h.pus,
                numaload_proto::cpulist::format(&h.allowed_cpus)
            )
        })
        .collect();
    parts.sort();
    parts.dedup();
    fnv1a(&parts.join(";"))
}

/// 64-bit FNV-1a of `text`, in hex.
fn fnv1a(text: &str) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in text.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{hash:016x}")
}

/// The status as stored (the result's own word) and back. A word this numaload does not know
/// reads as `failed`: never part of a baseline. Runs stored before `suspect` and `incomplete`
/// existed read as the status they recorded (`ok`, `degraded` or `failed`).
pub fn status_text(s: LayoutStatus) -> &'static str {
    s.as_str()
}

pub fn status_from(text: &str) -> LayoutStatus {
    LayoutStatus::parse(text).unwrap_or(LayoutStatus::Failed)
}

/// `KEY=VALUE` from `--label`: a key of letters, digits, `_`, `-`, `.`; any value.
pub fn parse_label(text: &str) -> Result<(String, String), String> {
    let (key, value) = text
        .split_once('=')
        .ok_or_else(|| format!("--label {text}: expected KEY=VALUE (e.g. commit=abc123)"))?;
    let key = key.trim();
    let valid = |c: char| c.is_ascii_alphanumeric() || "_-.".contains(c);
    if key.is_empty() || !key.chars().all(valid) {
        return Err(format!(
            "--label {text}: the key must be letters, digits, '_', '-' or '.'"
        ));
    }
    Ok((key.to_owned(), value.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels() {
        let cases = [
            ("commit=abc", Ok(("commit", "abc"))),
            ("branch=a=b", Ok(("branch", "a=b"))),
            ("ci.job=", Ok(("ci.job", ""))),
            ("nokey", Err(())),
            ("=v", Err(())),
            ("a b=c", Err(())),
        ];
        for (text, expected) in cases {
            let got = parse_label(text);
            let got = got
                .as_ref()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .map_err(|_| ());
            assert_eq!(got, expected, "{text}");
        }
    }

    #[test]
    fn fingerprints_follow_the_plan_content() {
        let text = include_str!("../../tests/fixtures/quickstart-result.json");
        let a: RunResult = serde_json::from_str(text).expect("fixture");
        let mut b = a.clone();
        b.run_id = "another".into();
        assert_eq!(fingerprint(&a), fingerprint(&b));
        b.plan.load.connections += 1;
        assert_ne!(fingerprint(&a), fingerprint(&b));
        assert_eq!(fingerprint(&a).len(), 16);
    }

    #[test]
    fn host_fingerprints_follow_the_hosts_and_their_topology() {
        let text = include_str!("../../tests/fixtures/quickstart-result.json");
        let a: RunResult = serde_json::from_str(text).expect("fixture");
        let same = |edit: fn(&mut RunResult)| {
            let mut b = a.clone();
            edit(&mut b);
            host_fingerprint(&a) == host_fingerprint(&b)
        };
        assert!(same(|b| b.run_id = "another".into()));
        assert!(same(|b| b.plan.load.connections += 1));
        assert!(same(|b| {
            for h in std::iter::once(&mut b.host).chain(&mut b.hosts) {
                h.kernel = "7.0".into();
            }
        }));
        assert!(!same(|b| {
            for h in std::iter::once(&mut b.host).chain(&mut b.hosts) {
                h.hostname = "elsewhere".into();
            }
        }));
        assert!(!same(|b| {
            for h in std::iter::once(&mut b.host).chain(&mut b.hosts) {
                h.allowed_cpus.pop();
            }
        }));
        assert_eq!(host_fingerprint(&a).len(), 16);
    }
}
