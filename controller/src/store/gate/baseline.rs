//! Which stored runs a layout's baseline holds: the [`Scope`] (labels, hosts) and the
//! [`Baseline`] selection (`last:N`, `label:KEY=VALUE`, `since-change`), the runs left out for
//! their status, and each figure's values since its last change point.

use crate::compare::Figure;
use crate::result::{LayoutStatus, RunResult};
use crate::store::changes;
use crate::store::record::{self, StoredLayout, StoredRun};
use crate::store::Query;

/// Which stored runs may be a baseline besides the plan's: the labels they must carry
/// (`--where`) and whether other hosts count (`--any-host`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Scope {
    pub labels: Vec<(String, String)>,
    pub any_host: bool,
}

impl Scope {
    /// `, labelled branch=main, on any host` (empty for the default scope).
    pub(super) fn describe(&self) -> String {
        let mut out = String::new();
        if !self.labels.is_empty() {
            let labels: Vec<String> = self
                .labels
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            out.push_str(&format!(", labelled {}", labels.join(" and ")));
        }
        if self.any_host {
            out.push_str(", on any host");
        }
        out
    }
}

/// Which stored runs form the baseline.
#[derive(Debug, Clone, PartialEq)]
pub enum Baseline {
    /// The last N stored runs of the same plan and hosts in which the layout was `ok`.
    Last(usize),
    /// Every stored run of the same plan and hosts carrying this label.
    Label(String, String),
    /// Per figure, the stored runs of the same plan and hosts in which the layout was `ok`
    /// since the last change point of that figure ([`changes`]), or all of them without one.
    SinceChange,
}

impl Baseline {
    /// `last:N`, `label:KEY=VALUE` or `since-change`.
    pub fn parse(text: &str) -> Result<Baseline, String> {
        let bad = || {
            format!("--baseline {text}: expected last:N (N ≥ 1), label:KEY=VALUE or since-change")
        };
        if text == "since-change" {
            return Ok(Baseline::SinceChange);
        }
        if let Some(n) = text.strip_prefix("last:") {
            let n: usize = n.trim().parse().map_err(|_| bad())?;
            return if n == 0 {
                Err(bad())
            } else {
                Ok(Baseline::Last(n))
            };
        }
        if let Some(label) = text.strip_prefix("label:") {
            let (k, v) = record::parse_label(label).map_err(|_| bad())?;
            return Ok(Baseline::Label(k, v));
        }
        Err(bad())
    }

    /// The stored runs to read for `new`: same plan fingerprint, the same hosts and topology
    /// unless `scope` says any host, carrying `scope`'s labels, never `new` itself. `last:N`
    /// reads them all: which N count is decided per layout ([`Baseline::of_layout`]).
    pub fn query(&self, new: &RunResult, scope: &Scope) -> Query {
        let mut q = Query {
            fingerprint: Some(record::fingerprint(new)),
            same_hosts: (!scope.any_host)
                .then(|| (record::host_fingerprint(new), record::hosts(new))),
            labels: scope.labels.clone(),
            exclude_run: Some(new.run_id.clone()),
            ..Query::default()
        };
        if let Baseline::Label(k, v) = self {
            q.labels.push((k.clone(), v.clone()));
        }
        q
    }

    pub fn describe(&self) -> String {
        match self {
            Baseline::Last(n) => format!("the last {n} stored run(s) in which the layout was ok"),
            Baseline::Label(k, v) => {
                format!("the stored runs labelled {k}={v} in which the layout was ok")
            }
            Baseline::SinceChange => "the stored runs since each figure's last change point, \
                                      in which the layout was ok"
                .to_owned(),
        }
    }

    /// The baseline of one layout from `history` (oldest first): the stored layouts that were
    /// `ok` (the last N of them for `last:N`), and those left out for their status.
    pub fn of_layout<'h>(
        &self,
        history: &'h [StoredRun],
        layout: &str,
    ) -> (Vec<&'h StoredLayout>, Vec<&'h StoredLayout>) {
        let (mut ok, skipped): (Vec<&StoredLayout>, Vec<&StoredLayout>) = history
            .iter()
            .filter_map(|r| r.layouts.iter().find(|s| s.name == layout))
            .partition(|s| s.status == LayoutStatus::Ok);
        if let Baseline::Last(n) = self {
            ok.drain(..ok.len().saturating_sub(*n));
        }
        (ok, skipped)
    }
}

/// `history: 2 stored run(s) left out of the baseline, this layout not ok in them (suspect,
/// incomplete)`, when any was.
pub(super) fn skipped_flag(skipped: &[&StoredLayout]) -> Option<String> {
    let mut statuses: Vec<LayoutStatus> = skipped.iter().map(|s| s.status).collect();
    statuses.sort();
    statuses.dedup();
    let words: Vec<&str> = statuses.iter().map(|s| s.as_str()).collect();
    (!skipped.is_empty()).then(|| {
        format!(
            "history: {} stored run(s) left out of the baseline, this layout not ok in them ({})",
            skipped.len(),
            words.join(", ")
        )
    })
}

/// Cuts `values` (the figure's, from `stored`, whose runs are `runs`) to those after the last
/// change point; the flag saying where it was.
pub(super) fn since_last_change(
    figure: Figure,
    stored: &[&StoredLayout],
    runs: &[&StoredRun],
    values: &mut Vec<f64>,
) -> Option<String> {
    let settings = changes::Settings::default();
    let (start, change) = changes::since_last_change(values, &settings);
    let change = change?;
    let measured: Vec<&StoredRun> = runs
        .iter()
        .zip(stored)
        .filter(|(_, s)| s.figure(figure).is_some())
        .map(|(r, _)| *r)
        .collect();
    let after = measured.get(start).map_or("?", |r| r.run_id.as_str());
    let relative = change
        .relative_step()
        .filter(|_| figure.relative())
        .map_or(String::new(), |r| format!(" ({:+.1}%)", 100.0 * r));
    let flag = format!(
        "history: {} changed at run {after} ({} → {}{relative}, {}); the baseline is the {} \
         run(s) since",
        figure.name(),
        figure.show(change.mean_before),
        figure.show(change.mean_after),
        changes::p_text(change.p_value),
        values.len() - start
    );
    values.drain(..start);
    Some(flag)
}
