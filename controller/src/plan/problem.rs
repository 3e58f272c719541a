//! What the validators report: a [`Problem`] at a [`KeyPath`], printed the way a reader finds the
//! key in the file. [`super::error::PlanError`] turns a problem into the one-line error.

use std::fmt;

/// A problem found by the validator: the key and the whole line after the file name.
#[derive(Debug)]
pub(super) struct Problem {
    pub(super) key: KeyPath,
    pub(super) detail: String,
}

impl Problem {
    /// `[load] rate = -5: must be a positive number`: `shown` is the value as TOML writes it.
    pub(super) fn value(key: KeyPath, shown: impl fmt::Display, fix: &str) -> Self {
        let detail = format!("{key} = {shown}: {fix}");
        Self { key, detail }
    }

    /// `[load] duration is missing: add ...`
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

/// Where a key sits in the plan, printed the way a reader finds it in the file:
/// `name`, `[load] rate`, `layouts[1] ("split") replicas`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct KeyPath(Vec<Segment>);

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Key(String),
    /// An array element; tables in `[[layouts]]` are shown with their name when they have one.
    Item {
        index: usize,
        name: Option<String>,
    },
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
                Segment::Item { .. } => None,
            })
            .collect();
        keys.join(".")
    }

    pub(super) fn pop_key(&mut self, key: &str) {
        if self.0.last() == Some(&Segment::Key(key.to_owned())) {
            self.0.pop();
        }
    }

    /// The table this path names, as its header reads: `[load]`, `layouts[0] ("a")`, or
    /// nothing for the top level.
    pub(super) fn as_table_header(&self) -> String {
        match self.0.as_slice() {
            [Segment::Key(table)] => format!("[{table}]"),
            _ => self.to_string(),
        }
    }
}

impl fmt::Display for KeyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let segments = &self.0;
        for (i, segment) in segments.iter().enumerate() {
            match segment {
                // A table's first key is shown under its header: `[load] rate`.
                Segment::Key(key) if i == 0 => match segments.get(1) {
                    Some(Segment::Key(_)) => write!(f, "[{key}]")?,
                    _ => f.write_str(key)?,
                },
                Segment::Key(key) => {
                    let after_header = i == 1 || matches!(segments[i - 1], Segment::Item { .. });
                    let separator = if after_header { " " } else { "." };
                    write!(f, "{separator}{key}")?;
                }
                Segment::Item { index, name } => {
                    write!(f, "[{index}]")?;
                    if let Some(name) = name {
                        write!(f, " ({name:?})")?;
                    }
                }
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

/// A string as TOML would write it (close enough: Rust's escapes for the odd character).
pub(super) fn quoted(text: &str) -> String {
    format!("{text:?}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_paths_print_as_the_file_reads() {
        let root = KeyPath::root();
        assert_eq!(root.key("name").to_string(), "name");
        assert_eq!(root.key("load").key("rate").to_string(), "[load] rate");
        assert_eq!(root.key("load").to_string(), "load");
        assert_eq!(root.key("load").as_table_header(), "[load]");
        let split = root.key("layouts").item(1, Some("split"));
        assert_eq!(
            split.key("replicas").to_string(),
            r#"layouts[1] ("split") replicas"#
        );
        assert_eq!(split.key("replicas").schema(), "layouts.replicas");
        assert_eq!(root.key("layouts").item(0, None).to_string(), "layouts[0]");
        assert_eq!(root.key("load").key("a").key("b").to_string(), "[load] a.b");
    }
}
