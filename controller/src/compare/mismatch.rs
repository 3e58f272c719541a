//! Why two results may not be like for like: different plans (target, load, layouts, as the
//! results echo them) or different hosts.

use serde_json::Value;

use crate::result::{HostSummary, RunResult};

/// Why `base` and `new` may not be comparable.
pub fn mismatches(base: &RunResult, new: &RunResult) -> Vec<String> {
    let mut out = Vec::new();
    // Compared as the result echoes them, so keys plans gain later are compared too.
    let b = serde_json::to_value(&base.plan).unwrap_or(Value::Null);
    let n = serde_json::to_value(&new.plan).unwrap_or(Value::Null);
    for section in ["target", "load"] {
        for (key, bv, nv) in differences(b.get(section), n.get(section)) {
            out.push(format!(
                "different plans: {section}.{key} = {bv} in the base, {nv} in the new result"
            ));
        }
    }
    let layouts = |v: &Value| -> Vec<Value> {
        v.get("layouts")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    let (bl, nl) = (layouts(&b), layouts(&n));
    for bv in &bl {
        let name = bv.get("name").and_then(Value::as_str).unwrap_or("?");
        let Some(nv) = nl
            .iter()
            .find(|nv| nv.get("name").and_then(Value::as_str) == Some(name))
        else {
            continue;
        };
        for (key, x, y) in differences(Some(bv), Some(nv)) {
            out.push(format!(
                "different plans: {}.{key} = {x} in the base, {y} in the new result",
                numaload_proto::keys::layout(name)
            ));
        }
    }
    let names = |ls: &[Value]| -> Vec<String> {
        ls.iter()
            .filter_map(|l| l.get("name").and_then(Value::as_str).map(str::to_owned))
            .collect()
    };
    if names(&bl) != names(&nl) {
        out.push(format!(
            "different plans: layouts [{}] in the base, [{}] in the new result",
            names(&bl).join(", "),
            names(&nl).join(", ")
        ));
    }
    out.extend(host_mismatches(base, new));
    out
}

fn host_mismatches(base: &RunResult, new: &RunResult) -> Vec<String> {
    let hosts = |r: &RunResult| -> Vec<HostSummary> {
        if r.hosts.is_empty() {
            vec![r.host.clone()]
        } else {
            r.hosts.clone()
        }
    };
    let (bh, nh) = (hosts(base), hosts(new));
    let mut out = Vec::new();
    if bh.len() != nh.len() {
        out.push(format!(
            "different hosts: {} agent(s) in the base, {} in the new result",
            bh.len(),
            nh.len()
        ));
    }
    for (b, n) in bh.iter().zip(&nh) {
        let fields = [
            ("hostname", b.hostname.clone(), n.hostname.clone()),
            ("CPU model", b.cpu_model.clone(), n.cpu_model.clone()),
            ("PUs", b.pus.to_string(), n.pus.to_string()),
        ];
        for (what, x, y) in fields {
            if x != y {
                out.push(format!(
                    "different hosts: {what} {x} in the base, {y} in the new result"
                ));
            }
        }
    }
    out
}

/// Keys whose values differ between two JSON objects (a missing key shows as `(none)`).
fn differences(a: Option<&Value>, b: Option<&Value>) -> Vec<(String, String, String)> {
    let empty = serde_json::Map::new();
    let a = a.and_then(Value::as_object).unwrap_or(&empty);
    let b = b.and_then(Value::as_object).unwrap_or(&empty);
    let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
    keys.sort();
    keys.dedup();
    let show = |v: Option<&Value>| v.map_or("(none)".to_owned(), Value::to_string);
    keys.into_iter()
        .filter(|k| a.get(*k) != b.get(*k))
        .map(|k| (k.clone(), show(a.get(k)), show(b.get(k))))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_differences_name_the_key() {
        let a = serde_json::json!({"rate": 5000.0, "connections": 32});
        let b = serde_json::json!({"rate": 6000.0, "connections": 32, "repeat": 3});
        let d = differences(Some(&a), Some(&b));
        assert_eq!(
            d,
            vec![
                ("rate".to_owned(), "5000.0".to_owned(), "6000.0".to_owned()),
                ("repeat".to_owned(), "(none)".to_owned(), "3".to_owned()),
            ]
        );
    }
}
