//! The text form of a plan's or an agent configuration's key paths in messages, shared by both
//! ends so that an agent's refusal and the controller's own errors name keys alike: dotted as
//! the file nests them and as `numaload run --set KEY=VALUE` takes them (`load.rate`,
//! `layouts.per-node.threads`, `targets.api.knobs.work_us`), a table of an array by its name,
//! quoted when the name is not a bare TOML key (`layouts."one/knobs.n=2".pin`).

/// `part` as one part of a dotted TOML key: bare when it can be (`A-Za-z0-9_-`), else quoted.
pub fn part(part: &str) -> String {
    let bare = !part.is_empty()
        && part
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if bare {
        part.to_owned()
    } else {
        format!("{part:?}")
    }
}

/// The key path of the plan's layout named `name`: `layouts.NAME`.
pub fn layout(name: &str) -> String {
    format!("layouts.{}", part(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_are_bare_when_toml_allows_and_quoted_otherwise() {
        assert_eq!(part("per-node"), "per-node");
        assert_eq!(part("GOMAXPROCS"), "GOMAXPROCS");
        assert_eq!(part("one/knobs.n=2"), "\"one/knobs.n=2\"");
        assert_eq!(part("a \"b\""), "\"a \\\"b\\\"\"");
        assert_eq!(part(""), "\"\"");
        assert_eq!(layout("one-process#1"), "layouts.\"one-process#1\"");
    }
}
