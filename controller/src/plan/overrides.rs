//! `--set KEY=VALUE`: a plan value given on the command line, put into the file's TOML before
//! the plan is read, so that it meets the same parser and validators as the file and its errors
//! are the file's own.
//!
//! `KEY` is the value's dotted key as the file nests it (`load.rate`, `target.knobs.work_us`,
//! `thresholds.p99`); a table of an array of tables (`[[layouts]]`, `[[load.requests]]`) is
//! addressed by its `name` (`layouts.per-node.threads`), or by its index when no table has that
//! name. A key quoted as TOML quotes it stays one key (`layouts.r.sweep."knobs.work_us"`).
//! `VALUE` is read as a TOML value (`20000`, `"per-node"`, `[0, 1]`, `{ p99 = "< 2ms" }`) and,
//! when it is none, taken as a string (`10s`, `per-node`). Tables the key goes through are made
//! when missing. A key or layout name that leads nowhere is one line naming the `--set`; a
//! problem the plan's own checks find in a set value ends with the `--set` that set it.
//! The words of `NUMALOAD_SET` ([`SET_ENV`]) are sets too, applied before the command line's
//! (which win) and named as coming from it.
//!
//! The plan text is rewritten only when there is something to set: with no `--set`, the file is
//! read as it is, line and column of a syntax error included.

use toml::{Table, Value};

use super::error::PlanError;
use super::problem::{KeyPath, Problem};

/// The environment variable whose whitespace-separated `KEY=VALUE` words `run` and `plan` set
/// before their own `--set`s: a quick try of a long plan without editing it
/// (`NUMALOAD_SET='load.duration=1s load.warmup=0s repeat=1'`).
pub const SET_ENV: &str = "NUMALOAD_SET";

/// One `KEY=VALUE` given from outside the plan file, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Set {
    pub text: String,
    pub from: SetFrom,
}

/// Where a [`Set`] was given: how its errors name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetFrom {
    /// `--set KEY=VALUE` on the command line.
    Flag,
    /// A word of [`SET_ENV`].
    Env,
}

impl Set {
    /// `env` (the value of [`SET_ENV`], if set) split on whitespace, then `flags` (`--set`
    /// values): the order they apply in, a later one winning.
    pub fn all(env: Option<&str>, flags: &[String]) -> Vec<Set> {
        let env = env.unwrap_or_default().split_whitespace().map(|text| Set {
            text: text.to_owned(),
            from: SetFrom::Env,
        });
        let flags = flags.iter().map(|text| Set {
            text: text.clone(),
            from: SetFrom::Flag,
        });
        env.chain(flags).collect()
    }

    /// As a message names it: `--set load.rate=5`, `load.rate=5 from NUMALOAD_SET`.
    pub fn shown(&self) -> String {
        match self.from {
            SetFrom::Flag => format!("--set {}", self.text),
            SetFrom::Env => format!("{} from {SET_ENV}", self.text),
        }
    }
}

/// The plan text with every `--set` applied, and where each went.
#[derive(Debug)]
pub(super) struct Applied {
    origin: String,
    /// `None` when there was nothing to set: the file's own text is read.
    text: Option<String>,
    sets: Vec<Placed>,
}

/// The set (the last one, as it wins) that set the key a message starts with (an agent's refusal,
/// a placement error: `layouts.per-node.pin: ...`), or set the table it is about, or a key
/// inside the table it is about; `None` when no set did. A layout's trial (`name#2`) and swept
/// (`name/k=v`) names count as the layout's own. Sets that address a layout by index are not
/// matched (the message names it by name).
pub fn blame<'a>(sets: &'a [Set], message: &str) -> Option<&'a Set> {
    let named = leading_path(message);
    if named.is_empty() {
        return None;
    }
    let named: Vec<String> = named
        .into_iter()
        .enumerate()
        .map(|(i, part)| {
            if i == 1 && message.starts_with("layouts.") {
                let cut = part.find(['#', '/']).unwrap_or(part.len());
                part[..cut].to_owned()
            } else {
                part
            }
        })
        .collect();
    sets.iter().rev().find(|set| {
        let Some((key, _)) = set.text.split_once('=') else {
            return false;
        };
        let Some(set_key) = key_parts(key.trim()) else {
            return false;
        };
        let common = set_key
            .iter()
            .zip(&named)
            .take_while(|(a, b)| a == b)
            .count();
        common == set_key.len() || (common == named.len() && common >= 2)
    })
}

/// The dotted key path a message starts with (`layouts."a b".pin: ...` → `layouts`, `a b`,
/// `pin`): bare parts (`A-Za-z0-9_-`) and quoted ones, joined by dots.
fn leading_path(message: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut rest = message;
    loop {
        let (part, after) = if let Some(quoted) = rest.strip_prefix('"') {
            let Some(end) = closing_quote(quoted) else {
                break;
            };
            let Ok(part) = serde_json::from_str::<String>(&rest[..end + 2]) else {
                break;
            };
            (part, &quoted[end + 1..])
        } else {
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
                .unwrap_or(rest.len());
            if end == 0 {
                break;
            }
            (rest[..end].to_owned(), &rest[end..])
        };
        parts.push(part);
        match after.strip_prefix('.') {
            Some(next) => rest = next,
            None => break,
        }
    }
    parts
}

/// Where the quoted text that `text` (after its opening quote) holds ends.
fn closing_quote(text: &str) -> Option<usize> {
    let mut escaped = false;
    for (i, c) in text.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' => return Some(i),
            _ => {}
        }
    }
    None
}

/// One set as a message names it (`--set load.rate=5`), and every key path from its first table
/// down to the value it set (`load`, `load.rate`), which is how the plan's own errors name
/// keys.
#[derive(Debug)]
struct Placed {
    shown: String,
    paths: Vec<KeyPath>,
}

impl Applied {
    /// The text to parse: the rewritten plan, or `original` when nothing was set.
    pub(super) fn text<'a>(&'a self, original: &'a str) -> &'a str {
        self.text.as_deref().unwrap_or(original)
    }

    /// `error` (from parsing [`Self::text`]) with the `--set` it is about named at its end, when
    /// its key is one a `--set` set, holds or lies inside.
    pub(super) fn blame(&self, error: PlanError) -> PlanError {
        let Some(key) = error.key() else {
            return error;
        };
        let Some((placed, path)) = self
            .sets
            .iter()
            .rev()
            .find_map(|placed| placed.at(key).map(|path| (placed, path)))
        else {
            return error;
        };
        let shown = error.to_string();
        let prefix = format!("{}: ", self.origin);
        let detail = shown.strip_prefix(&prefix).unwrap_or(&shown);
        let detail = format!("{detail} ({})", placed.shown);
        PlanError::invalid(&self.origin, Problem { key: path, detail })
    }
}

impl Placed {
    /// The path of this set that the error key names: the key itself, a table above it, or
    /// (for a key inside a table it set) the set key.
    fn at(&self, key: &str) -> Option<KeyPath> {
        if let Some(path) = self.paths.iter().find(|p| p.to_string() == key) {
            return Some(path.clone());
        }
        let set = self.paths.last()?;
        let inside = key
            .strip_prefix(&set.to_string())
            .is_some_and(|rest| rest.starts_with([' ', '.', '[']));
        inside.then(|| set.clone())
    }
}

/// `text` (from `origin`) with each of `sets` (`KEY=VALUE`) applied in order, a later one
/// winning. A `text` that is not TOML is left for the plan's parser to report.
pub(super) fn apply(text: &str, origin: &str, sets: &[Set]) -> Result<Applied, PlanError> {
    let mut applied = Applied {
        origin: origin.to_owned(),
        text: None,
        sets: Vec::with_capacity(sets.len()),
    };
    if sets.is_empty() {
        return Ok(applied);
    }
    let Ok(mut plan) = toml::from_str::<Table>(text) else {
        return Ok(applied);
    };
    for set in sets {
        let shown = set.shown();
        let refused = |detail: String| {
            let detail = format!("{shown}: {detail}");
            PlanError::invalid(origin, at_root(detail))
        };
        let (keys, value) = split(&set.text).map_err(refused)?;
        let paths = put(&mut plan, &keys, value, KeyPath::root()).map_err(refused)?;
        applied.sets.push(Placed { shown, paths });
    }
    let rewritten = toml::to_string(&plan).map_err(|e| {
        let shown: Vec<String> = sets.iter().map(Set::shown).collect();
        let detail = format!("{}: cannot write the plan with them: {e}", shown.join(", "));
        PlanError::invalid(origin, at_root(detail))
    })?;
    applied.text = Some(rewritten);
    Ok(applied)
}

/// A problem about the command line rather than a key of the file.
fn at_root(detail: String) -> Problem {
    Problem {
        key: KeyPath::root(),
        detail,
    }
}

const FORM: &str = "write KEY=VALUE with the key dotted as the plan nests it, e.g. \
                    load.rate=20000 or layouts.per-node.threads=4";

/// `KEY=VALUE` into the key's parts and the value.
fn split(written: &str) -> Result<(Vec<String>, Value), String> {
    let Some((key, value)) = written.split_once('=') else {
        return Err(format!("no \"=\"; {FORM}"));
    };
    let keys = key_parts(key.trim()).ok_or_else(|| format!("{:?} is not a key; {FORM}", key))?;
    Ok((keys, value_of(value)))
}

/// The parts of a dotted TOML key (`a.b."c.d"` → `a`, `b`, `c.d`), read by the TOML parser.
fn key_parts(key: &str) -> Option<Vec<String>> {
    let mut table = toml::from_str::<Table>(&format!("{key} = 0")).ok()?;
    let mut parts = Vec::new();
    loop {
        if table.len() != 1 {
            return None;
        }
        let (part, value) = table.into_iter().next()?;
        parts.push(part);
        match value {
            Value::Table(inner) => table = inner,
            Value::Integer(0) => return Some(parts),
            _ => return None,
        }
    }
}

/// `written` as a TOML value, or as the string it is when it reads as none.
fn value_of(written: &str) -> Value {
    toml::from_str::<Table>(&format!("v = {}", written.trim()))
        .ok()
        .filter(|table| table.len() == 1)
        .and_then(|mut table| table.remove("v"))
        .unwrap_or_else(|| Value::String(written.to_owned()))
}

/// Sets `keys` under `table` (at `at`) to `value`; the paths it went through, the last the
/// key it set.
fn put(
    table: &mut Table,
    keys: &[String],
    value: Value,
    at: KeyPath,
) -> Result<Vec<KeyPath>, String> {
    let Some((first, rest)) = keys.split_first() else {
        return Err(format!("no key; {FORM}"));
    };
    let here = at.key(first);
    if rest.is_empty() {
        table.insert(first.clone(), value);
        return Ok(vec![here]);
    }
    let entry = table
        .entry(first.clone())
        .or_insert_with(|| Value::Table(Table::new()));
    let mut paths = match entry {
        Value::Table(inner) => put(inner, rest, value, here.clone())?,
        Value::Array(items) if !items.is_empty() && items.iter().all(Value::is_table) => {
            put_item(items, rest, value, &here)?
        }
        other => {
            return Err(format!(
                "{here} is {} in the plan, not a table: there is no key inside it to set",
                kind(other)
            ))
        }
    };
    paths.insert(0, here);
    Ok(paths)
}

/// Sets `keys` in the table of `items` (the array at `at`) that `keys[0]` names.
fn put_item(
    items: &mut [Value],
    keys: &[String],
    value: Value,
    at: &KeyPath,
) -> Result<Vec<KeyPath>, String> {
    let Some((name, rest)) = keys.split_first() else {
        return Err(format!("no key; {FORM}"));
    };
    let name_of = |item: &Value| item.get("name").and_then(Value::as_str).map(str::to_owned);
    let index = items
        .iter()
        .position(|item| name_of(item).as_deref() == Some(name.as_str()))
        .or_else(|| name.parse::<usize>().ok().filter(|&i| i < items.len()));
    let Some(index) = index else {
        let names: Vec<String> = items
            .iter()
            .enumerate()
            .map(|(i, item)| name_of(item).map_or_else(|| i.to_string(), |n| format!("{n:?}")))
            .collect();
        return Err(format!(
            "no table of {} is named {name:?}; the plan's are {}",
            at.schema(),
            names.join(", ")
        ));
    };
    let item_path = at.item(index, name_of(&items[index]).as_deref());
    if rest.is_empty() {
        items[index] = value;
        return Ok(vec![item_path]);
    }
    let Value::Table(table) = &mut items[index] else {
        return Err(format!("{item_path} is not a table"));
    };
    let mut paths = put(table, rest, value, item_path.clone())?;
    paths.insert(0, item_path);
    Ok(paths)
}

/// A TOML value's kind, for a message.
fn kind(value: &Value) -> &'static str {
    match value {
        Value::String(_) => "a string",
        Value::Integer(_) => "an integer",
        Value::Float(_) => "a number",
        Value::Boolean(_) => "a boolean",
        Value::Datetime(_) => "a date",
        Value::Array(_) => "an array",
        Value::Table(_) => "a table",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(text: &str, sets: &[&str]) -> Result<Table, PlanError> {
        let flags: Vec<String> = sets.iter().map(|s| (*s).to_owned()).collect();
        let applied = apply(text, "plan.toml", &Set::all(None, &flags))?;
        Ok(toml::from_str(applied.text(text)).expect("rewritten plan is TOML"))
    }

    const PLAN: &str = r#"
name = "p"
[load]
rate = 100
[[layouts]]
name = "per-node"
replicas = "per-node"
[[layouts]]
name = "one"
replicas = 1
"#;

    #[test]
    fn values_read_as_toml_else_as_strings() {
        assert_eq!(value_of("20000"), Value::Integer(20000));
        assert_eq!(value_of(" 1.5 "), Value::Float(1.5));
        assert_eq!(value_of("10s"), Value::String("10s".into()));
        assert_eq!(value_of("per-node"), Value::String("per-node".into()));
        assert_eq!(value_of("\"a b\""), Value::String("a b".into()));
        assert_eq!(
            value_of("[0, 1]"),
            Value::Array(vec![Value::Integer(0), Value::Integer(1)])
        );
        assert_eq!(value_of("1\nx = 2"), Value::String("1\nx = 2".into()));
    }

    #[test]
    fn keys_split_as_toml_dots_them() {
        assert_eq!(
            key_parts("load.rate"),
            Some(vec!["load".into(), "rate".into()])
        );
        assert_eq!(
            key_parts(r#"layouts.r.sweep."knobs.work_us""#),
            Some(vec![
                "layouts".into(),
                "r".into(),
                "sweep".into(),
                "knobs.work_us".into()
            ])
        );
        assert_eq!(key_parts(""), None);
        assert_eq!(key_parts("a = 1\nb"), None);
    }

    #[test]
    fn sets_reach_tables_and_named_layouts() {
        let plan = set(
            PLAN,
            &[
                "load.rate=20000",
                "layouts.per-node.threads=4",
                "layouts.1.pin=core",
                "target.knobs.work_us=5",
                "load.duration=10s",
            ],
        )
        .unwrap();
        assert_eq!(plan["load"]["rate"], Value::Integer(20000));
        assert_eq!(plan["load"]["duration"], Value::String("10s".into()));
        assert_eq!(plan["layouts"][0]["threads"], Value::Integer(4));
        assert_eq!(plan["layouts"][1]["pin"], Value::String("core".into()));
        assert_eq!(plan["target"]["knobs"]["work_us"], Value::Integer(5));
    }

    #[test]
    fn a_key_that_leads_nowhere_is_one_line_naming_the_set() {
        let e = set(PLAN, &["layouts.nope.threads=4"]).unwrap_err();
        assert_eq!(
            e.to_string(),
            r#"plan.toml: --set layouts.nope.threads=4: no table of layouts is named "nope"; the plan's are "per-node", "one""#
        );
        let e = set(PLAN, &["load.rate.x=1"]).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("plan.toml: --set load.rate.x=1: load.rate is an integer"),
            "{e}"
        );
        let e = set(PLAN, &["load.rate"]).unwrap_err();
        assert!(e.to_string().contains("no \"=\""), "{e}");
        let e = set(PLAN, &["=5"]).unwrap_err();
        assert!(e.to_string().contains("\"\" is not a key"), "{e}");
    }

    #[test]
    fn the_environments_sets_come_first_and_are_named_as_its() {
        let sets = Set::all(
            Some(" load.rate=1\tlayouts.one.threads=2 "),
            &["load.rate=3".to_owned()],
        );
        let texts: Vec<&str> = sets.iter().map(|s| s.text.as_str()).collect();
        assert_eq!(
            texts,
            ["load.rate=1", "layouts.one.threads=2", "load.rate=3"]
        );
        let table = toml::from_str::<Table>(apply(PLAN, "p", &sets).unwrap().text(PLAN)).unwrap();
        assert_eq!(table["load"]["rate"].as_integer(), Some(3), "the flag wins");
        let e = apply(PLAN, "plan.toml", &Set::all(Some("layouts.nope.x=1"), &[])).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("plan.toml: layouts.nope.x=1 from NUMALOAD_SET: no table"),
            "{e}"
        );
    }

    #[test]
    fn a_message_is_blamed_on_the_set_of_the_key_it_names() {
        let sets = Set::all(
            Some("load.duration=1s"),
            &[
                "layouts.per-node.pin=core".to_owned(),
                "target.knobs.work_us=5000".to_owned(),
                "layouts.one.replicas=100".to_owned(),
            ],
        );
        let blamed = |message: &str| blame(&sets, message).map(Set::shown);
        assert_eq!(
            blamed("layouts.per-node.pin: \"core\" does not go with ...").as_deref(),
            Some("--set layouts.per-node.pin=core")
        );
        assert_eq!(
            blamed("target.knobs.work_us = \"5000\": out of range").as_deref(),
            Some("--set target.knobs.work_us=5000")
        );
        // The layout a set went through, under its trial name.
        assert_eq!(
            blamed("layouts.\"one#2\": 100 replicas exceed this agent's limit").as_deref(),
            Some("--set layouts.one.replicas=100")
        );
        assert_eq!(
            blamed("load.warmup + load.duration = 3600.2s exceeds").as_deref(),
            None,
            "warmup was not set"
        );
        assert_eq!(
            blamed("load.duration: must be longer than zero").as_deref(),
            Some("load.duration=1s from NUMALOAD_SET")
        );
        assert_eq!(blamed("layouts: the plan has no layout"), None);
        assert_eq!(blamed("the plan is not a valid RunPlan"), None);
        assert_eq!(
            leading_path(r#"layouts."a \"b\" c".pin: x"#),
            ["layouts", "a \"b\" c", "pin"]
        );
    }

    #[test]
    fn nothing_to_set_leaves_the_text_as_it_is() {
        let applied = apply("not = [toml", "plan.toml", &[]).unwrap();
        assert_eq!(applied.text("not = [toml"), "not = [toml");
        let sets = Set::all(None, &["load.rate=1".to_owned()]);
        let applied = apply("not = [toml", "plan.toml", &sets).unwrap();
        assert_eq!(applied.text("not = [toml"), "not = [toml");
    }

    #[test]
    fn a_set_is_found_by_the_keys_it_went_through() {
        let placed = Placed {
            shown: "--set load.rate=x".into(),
            paths: vec![
                KeyPath::root().key("load"),
                KeyPath::root().key("load").key("rate"),
            ],
        };
        assert!(placed.at("load.rate").is_some());
        assert!(placed.at("load").is_some());
        assert!(placed.at("load.rate_x").is_none());
        assert!(placed.at("load.duration").is_none());
    }
}
