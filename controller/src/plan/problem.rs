//! What the validators report: a [`Problem`] at a [`KeyPath`], printed the way a reader finds the
//! key in the file. [`super::error::PlanError`] turns a problem into the one-line error.

use std::fmt;

use numaload_proto::keys;

/// A problem found by the validator: the key and the whole line after the file name.
#[derive(Debug)]
pub(super) struct Problem {
    pub(super) key: KeyPath,
    pub(super) detail: String,
}

impl Problem {
    /// `load.rate = -5: must be a positive number`: `shown` is the value as TOML writes it.
    pub(super) fn value(key: KeyPath, shown: impl fmt::Display, fix: &str) -> Self {
        let detail = format!("{key} = {shown}: {fix}");
        Self { key, detail }
    }

    /// `load.duration is missing: add ...`
    pub(super) fn missing(key: KeyPath, fix: &str) -> Self {
        let detail = format!("{key} is missing: {fix}");
        Self { key, detail }
    }

    /// `layouts: two layouts are named "a"; ...`
    pub(super) fn about(key: KeyPath, text: &str) -> Self {
        let detail = format!("{key}: {text}");
        Self { key, detail }
    }
}

/// Where a key sits in the plan, printed as `--set` takes it: dotted as the file nests it, a
/// table of an array by its name (`layouts.split.replicas`), or by its index when it has none
/// (`layouts.0.replicas`); a name that is not a bare TOML key is quoted (`layouts."a b".pin`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct KeyPath(Vec<Segment>);

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Key(String),
    /// A table of an array of tables (`[[layouts]]`), shown by its name when it has one.
    Item {
        index: usize,
        name: Option<String>,
    },
    /// A value of a plain array (`sweep.pin = [...]`), shown as `[index]`.
    Element(usize),
}

impl KeyPath {
    pub(super) fn root() -> Self {
        Self::default()
    }

    pub(super) fn key(&self, key: &str) -> Self {
        let mut path = self.clone();
        path.0.push(Segment::Key(key.to_owned()));
        path
    }

    pub(super) fn item(&self, index: usize, name: Option<&str>) -> Self {
        let mut path = self.clone();
        let name = name.map(str::to_owned);
        path.0.push(Segment::Item { index, name });
        path
    }

    pub(super) fn element(&self, index: usize) -> Self {
        let mut path = self.clone();
        path.0.push(Segment::Element(index));
        path
    }

    pub(super) fn is_root(&self) -> bool {
        self.0.is_empty()
    }

    /// The path with indexes left out, e.g. `layouts.pin`: what the key means, not where it is.
    pub(super) fn schema(&self) -> String {
        let keys: Vec<&str> = self
            .0
            .iter()
            .filter_map(|segment| match segment {
                Segment::Key(key) => Some(key.as_str()),
                Segment::Item { .. } | Segment::Element(_) => None,
            })
            .collect();
        keys.join(".")
    }

    pub(super) fn pop_key(&mut self, key: &str) {
        if self.0.last() == Some(&Segment::Key(key.to_owned())) {
            self.0.pop();
        }
    }
}

impl fmt::Display for KeyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, segment) in self.0.iter().enumerate() {
            if i > 0 && !matches!(segment, Segment::Element(_)) {
                f.write_str(".")?;
            }
            match segment {
                Segment::Element(index) => write!(f, "[{index}]")?,
                Segment::Key(key) => f.write_str(&keys::part(key))?,
                Segment::Item {
                    name: Some(name), ..
                } => f.write_str(&keys::part(name))?,
                Segment::Item { index, name: None } => write!(f, "{index}")?,
            }
        }
        Ok(())
    }
}

/// `text`, unless it is empty or blank: then the problem of `key`, with `fix`.
pub(super) fn non_empty(text: String, key: KeyPath, fix: &str) -> Result<String, Problem> {
    if text.trim().is_empty() {
        return Err(Problem::value(key, quoted(&text), fix));
    }
    Ok(text)
}

/// `codes` (a list of status codes at `at`), each in `range`, sorted and without repeats; the
/// first outside is the problem, with `fix`.
pub(super) fn status_codes(
    codes: Vec<i64>,
    at: &KeyPath,
    range: std::ops::RangeInclusive<u16>,
    fix: &str,
) -> Result<Vec<u16>, Problem> {
    let mut out = Vec::with_capacity(codes.len());
    for (i, code) in codes.into_iter().enumerate() {
        match u16::try_from(code) {
            Ok(code) if range.contains(&code) => out.push(code),
            _ => return Err(Problem::value(at.element(i), code, fix)),
        }
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

/// A string as TOML would write it (close enough: Rust's escapes for the odd character).
pub(super) fn quoted(text: &str) -> String {
    format!("{text:?}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_paths_print_as_set_takes_them() {
        let root = KeyPath::root();
        assert_eq!(root.key("name").to_string(), "name");
        assert_eq!(root.key("load").key("rate").to_string(), "load.rate");
        assert_eq!(root.key("load").to_string(), "load");
        let split = root.key("layouts").item(1, Some("split"));
        assert_eq!(split.key("replicas").to_string(), "layouts.split.replicas");
        assert_eq!(split.key("replicas").schema(), "layouts.replicas");
        assert_eq!(root.key("layouts").item(0, None).to_string(), "layouts.0");
        let swept = split.key("sweep").key("pin").element(1);
        assert_eq!(swept.to_string(), "layouts.split.sweep.pin[1]");
        let swept = root.key("layouts").item(0, Some("one/knobs.n=1"));
        assert_eq!(
            swept.key("pin").to_string(),
            r#"layouts."one/knobs.n=1".pin"#
        );
        assert_eq!(
            root.key("target")
                .key("knobs")
                .key("GOMAXPROCS")
                .to_string(),
            "target.knobs.GOMAXPROCS"
        );
    }
}
