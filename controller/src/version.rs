//! What this build is: the crate version, the git commit and whether the tree was dirty
//! (`build.rs`). `numaload --version` prints [`LONG`], agents report it in `Describe`
//! (`HostInfo.agent_version`), and a run warns when an agent's differs ([`mismatch`]).

/// The git commit the binary was built from (12 hex digits), or `unknown` outside git.
pub const COMMIT: &str = env!("NUMALOAD_GIT_COMMIT");

/// `0.1.0 (commit 473e2bd1a2b3, clean)`, `... dirty)`, or `0.1.0 (commit unknown)`, composed by
/// `build.rs`.
pub const LONG: &str = env!("NUMALOAD_VERSION_LONG");

/// The one-line warning when some agents run another build than this controller (a fleet
/// half-upgraded measures two programs), or `None` when all match. `agents` pairs each agent's
/// address with the version it reported.
pub fn mismatch<'a>(
    controller: &str,
    agents: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Option<String> {
    let others: Vec<String> = agents
        .into_iter()
        .filter(|(_, version)| *version != controller)
        .map(|(agent, version)| {
            let version = if version.is_empty() {
                "no version"
            } else {
                version
            };
            format!("{agent} runs {version}")
        })
        .collect();
    if others.is_empty() {
        return None;
    }
    Some(format!(
        "warning: agents run another numaload than this controller ({controller}): {}",
        others.join("; ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_names_version_and_commit() {
        assert!(LONG.starts_with(concat!(env!("CARGO_PKG_VERSION"), " (commit ")));
        assert!(LONG.contains(COMMIT));
        assert!(LONG.ends_with(", clean)") || LONG.ends_with(", dirty)") || COMMIT == "unknown");
    }

    /// Agents (address, version) and the warning expected.
    type Case<'a> = (&'a [(&'a str, &'a str)], Option<&'a str>);

    #[test]
    fn mismatch_names_only_the_agents_that_differ() {
        let me = "0.2.0 (commit aaaa, clean)";
        let table: &[Case<'_>] = &[
            (&[("a:7070", me), ("b:7070", me)], None),
            (
                &[("a:7070", me), ("b:7070", "0.1.0 (commit bbbb, dirty)")],
                Some(
                    "warning: agents run another numaload than this controller \
                     (0.2.0 (commit aaaa, clean)): b:7070 runs 0.1.0 (commit bbbb, dirty)",
                ),
            ),
            (
                &[("a:7070", "0.1.0"), ("b:7070", "")],
                Some(
                    "warning: agents run another numaload than this controller \
                     (0.2.0 (commit aaaa, clean)): a:7070 runs 0.1.0; b:7070 runs no version",
                ),
            ),
        ];
        for (agents, expected) in table {
            assert_eq!(
                mismatch(me, agents.iter().copied()).as_deref(),
                *expected,
                "{agents:?}"
            );
        }
    }
}
