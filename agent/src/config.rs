//! The agent's own configuration: which targets it may launch, and the limits it enforces.
//!
//! Plans name a target; only this table turns a name into an executable, its arguments and its
//! environment ([`crate::target`]), so no path or command line ever crosses the wire
//! (invariant 5 of ARCHITECTURE.md).

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::ops::RangeInclusive;
use std::path::Path;
use std::time::Duration;

use crate::target::{Target, TargetError, TargetFile};

#[derive(Debug, Clone)]
pub struct AgentConfig {
    /// Target name → how to start, probe, sample and stop it.
    pub targets: BTreeMap<String, Target>,
    /// How long a replica may take to become ready, unless its target says.
    pub ready_within: Duration,
    /// Grace between the stop signal and SIGKILL when stopping replicas, unless its target says.
    pub stop_grace: Duration,
    /// The IP replicas listen on (`{listen}` is `replica_address:{port}`): loopback unless the
    /// configuration sets one that load agents on other hosts can reach.
    pub replica_address: IpAddr,
    /// The ports replicas may take (a firewall's opening); `None`: any free one below the
    /// ephemeral range.
    pub replica_ports: Option<RangeInclusive<u16>>,
    pub limits: Limits,
    /// Counters for the agent's own /metrics.
    pub metrics: std::sync::Arc<crate::metrics::AgentMetrics>,
    /// What `Describe` reports as `agent_version`: the binary sets its whole build name
    /// (version, commit, dirty flag) so that a controller can tell two builds apart.
    pub version: String,
}

/// What a plan may ask of this agent; a plan beyond a limit is refused before anything starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Encoded `RunPlan` size.
    pub max_plan_bytes: usize,
    pub max_layouts: usize,
    /// Warm-up plus measured time, per layout.
    pub max_layout_time: Duration,
    pub max_connections: u32,
    pub max_replicas: usize,
    pub max_work_us: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_plan_bytes: 1 << 20,
            max_layouts: 64,
            max_layout_time: Duration::from_secs(3600),
            max_connections: 10_000,
            max_replicas: 1024,
            max_work_us: 1_000_000,
        }
    }
}

impl AgentConfig {
    /// The built-in table: the `numaload` executable itself serves as every target variant
    /// (`numaload target --variant async`), so one file copied to a host is enough.
    pub fn builtin(numaload_exe: &Path) -> AgentConfig {
        AgentConfig {
            targets: crate::target::builtin_targets(numaload_exe),
            ready_within: Duration::from_secs(10),
            stop_grace: Duration::from_secs(2),
            replica_address: IpAddr::V4(Ipv4Addr::LOCALHOST),
            replica_ports: None,
            limits: Limits::default(),
            metrics: std::sync::Arc::default(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
        }
    }

    /// The target for a plan's `target.name`, or an error listing the known names.
    pub fn target(&self, name: &str) -> Result<&Target, UnknownTarget> {
        self.targets.get(name).ok_or_else(|| UnknownTarget {
            name: name.to_owned(),
            known: self.targets.keys().cloned().collect(),
        })
    }
}

/// A plan's target `name` this agent has no entry for; the message lists the ones it has and
/// names the key within the target table (the caller adds which table).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "name = \"{name}\": this agent knows no such target; use one of: {} (or add \
     targets.{name} to the agent's configuration)",
    known.join(", ")
)]
pub struct UnknownTarget {
    pub name: String,
    /// The targets this agent has.
    pub known: Vec<String>,
}

/// The agent's configuration file (`numaload agent --config FILE`, and `numaload run
/// --agent-config FILE` for the agent a local run starts), TOML:
///
/// ```toml
/// listen = "0.0.0.0:7070"           # --listen overrides it
/// tls_dir = "/etc/numaload/tls"     # --tls-dir overrides it
/// replica_address = "10.0.0.5"      # the IP replicas listen on; default 127.0.0.1 (load
///                                   # agents on other hosts need one they can reach)
/// replica_ports = "20000-20099"     # ports replicas take; default any free one
///
/// [targets.go-api]                  # a name plans may use, and how to run it
/// program = "/opt/api/server"       # absolute path
/// args = ["-listen", "{listen}"]    # placeholders: {port} {listen} {host} {threads} {replica}
///                                   # {cpus} {nodes} {workdir} {knob.NAME}
/// env = { GOMAXPROCS = "{threads}" }
/// files = { "api.conf" = "port = {port}\n" }   # written into {workdir} before start
/// ready = "http:/healthz"           # "tcp" (default) | "http:/PATH" | "line:REGEX"
/// ready_within = "10s"              # default 10s
/// stop_signal = "SIGTERM"           # default SIGTERM; then SIGKILL after stop_grace
/// stop_grace = "2s"                 # default 2s
/// metrics = "/metrics"              # optional: Prometheus text, scraped every 100 ms
/// scrape = ["go_goroutines"]        # series kept per replica (needs metrics)
/// requests_counter = "http_requests_total"  # checked against the generator's count
/// knobs.work_us = { range = [0, 100000], default = 0 }    # what a plan may set
/// knobs.mode = { values = ["a", "b"] }                    # no default: left out unless set
///
/// [limits]                          # every key optional; defaults shown
/// max_plan_bytes = 1048576
/// max_layouts = 64
/// max_layout_time = "1h"            # warm-up + duration of one layout
/// max_connections = 10000
/// max_replicas = 1024
/// max_work_us = 1000000
/// ```
///
/// With a `[targets]` table, only the targets it lists may be started; without one, the
/// built-in `async` and `ffi` variants of this executable. An argument or variable naming a knob
/// that is unset (no default, not in the plan) is left out.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    pub listen: Option<std::net::SocketAddr>,
    pub tls_dir: Option<std::path::PathBuf>,
    pub replica_address: Option<IpAddr>,
    pub replica_ports: Option<String>,
    #[serde(default)]
    pub targets: BTreeMap<String, TargetFile>,
    #[serde(default)]
    pub limits: LimitsFile,
    /// The targets checked by [`ConfigFile::parse`].
    #[serde(skip)]
    checked: BTreeMap<String, Target>,
}

#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsFile {
    pub max_plan_bytes: Option<usize>,
    pub max_layouts: Option<usize>,
    pub max_layout_time: Option<String>,
    pub max_connections: Option<u32>,
    pub max_replicas: Option<usize>,
    pub max_work_us: Option<u64>,
}

/// A configuration file that cannot be used; the message names the file and the key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: cannot read: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Invalid {
        path: String,
        source: Box<ConfigTextError>,
    },
}

/// What is wrong in the text of a configuration file: one line naming the key.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConfigTextError {
    /// Not TOML, an unknown key, or a value of the wrong type: the line and what is wrong,
    /// naming the key by its dotted path (`limits.max_replicas = -1: ...`), an unknown key by
    /// the table it is in with the keys that table takes (`targets.api: unknown key ...`).
    #[error("line {line}: {detail}")]
    Toml { line: usize, detail: String },
    /// A target's program that this agent cannot start: missing, a directory, or executable by
    /// no one. Checked when the file is loaded ([`ConfigFile::load`]), not at a run's launch.
    #[error("targets.{target}.program = {program:?}: {problem}")]
    Program {
        target: String,
        program: std::path::PathBuf,
        problem: String,
    },
    #[error(transparent)]
    Target(#[from] TargetError),
    #[error(
        "replica_ports = {0:?}: not a port range; write \"FIRST-LAST\" with 1 <= FIRST <= LAST \
         <= 65535, e.g. \"20000-20099\""
    )]
    ReplicaPorts(String),
    #[error("limits.max_layout_time = {value:?}: {source}; e.g. \"1h\"")]
    MaxLayoutTime {
        value: String,
        source: humantime::DurationError,
    },
}

impl ConfigFile {
    /// Reads and checks a configuration file.
    pub fn load(path: &Path) -> Result<ConfigFile, ConfigError> {
        let path_text = || path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path_text(),
            source,
        })?;
        let checked = Self::parse(&text).and_then(|file| file.check_programs().map(|()| file));
        checked.map_err(|source| ConfigError::Invalid {
            path: path_text(),
            source: Box::new(source),
        })
    }

    /// Parses the text of a configuration file.
    pub fn parse(text: &str) -> Result<ConfigFile, ConfigTextError> {
        let mut file: ConfigFile =
            toml::from_str(text).map_err(|error| ConfigTextError::toml(text, &error))?;
        file.checked = file
            .targets
            .iter()
            .map(|(name, target)| Ok((name.clone(), target.check(name)?)))
            .collect::<Result<_, TargetError>>()?;
        if let Some(ports) = &file.replica_ports {
            port_range(ports).ok_or_else(|| ConfigTextError::ReplicaPorts(ports.clone()))?;
        }
        if let Some(time) = &file.limits.max_layout_time {
            humantime::parse_duration(time).map_err(|source| ConfigTextError::MaxLayoutTime {
                value: time.clone(),
                source,
            })?;
        }
        Ok(file)
    }

    /// Every target's program exists and is executable, so a mistake in a path is found when
    /// the agent starts rather than when a run launches the first replica.
    fn check_programs(&self) -> Result<(), ConfigTextError> {
        use std::os::unix::fs::PermissionsExt as _;
        for (name, target) in &self.checked {
            let problem = match std::fs::metadata(&target.program) {
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Some(
                    "no such file; install the server there or give the absolute path where it \
                     is"
                    .to_owned(),
                ),
                Err(e) => Some(format!(
                    "cannot be read ({e}); let the agent's user reach it"
                )),
                Ok(meta) if meta.is_dir() => {
                    Some("a directory; give the server's executable file".to_owned())
                }
                Ok(meta) if meta.permissions().mode() & 0o111 == 0 => Some(format!(
                    "not executable (mode {:o}); chmod +x it",
                    meta.permissions().mode() & 0o7777
                )),
                Ok(_) => None,
            };
            if let Some(problem) = problem {
                return Err(ConfigTextError::Program {
                    target: name.clone(),
                    program: target.program.clone(),
                    problem,
                });
            }
        }
        Ok(())
    }

    /// The agent configuration this file describes, on top of the built-in one.
    pub fn apply(&self, mut config: AgentConfig) -> AgentConfig {
        if !self.checked.is_empty() {
            config.targets = self.checked.clone();
        }
        if let Some(address) = self.replica_address {
            config.replica_address = address;
        }
        if let Some(ports) = self.replica_ports.as_deref().and_then(port_range) {
            config.replica_ports = Some(ports);
        }
        let l = &self.limits;
        let limits = &mut config.limits;
        limits.max_plan_bytes = l.max_plan_bytes.unwrap_or(limits.max_plan_bytes);
        limits.max_layouts = l.max_layouts.unwrap_or(limits.max_layouts);
        if let Some(time) = l
            .max_layout_time
            .as_deref()
            .and_then(|t| humantime::parse_duration(t).ok())
        {
            limits.max_layout_time = time;
        }
        limits.max_connections = l.max_connections.unwrap_or(limits.max_connections);
        limits.max_replicas = l.max_replicas.unwrap_or(limits.max_replicas);
        limits.max_work_us = l.max_work_us.unwrap_or(limits.max_work_us);
        config
    }
}

/// `"20000-20099"` (or one port, `"20000"`) as a range; `None` when it is not one.
fn port_range(text: &str) -> Option<RangeInclusive<u16>> {
    let (first, last) = text.split_once('-').unwrap_or((text, text));
    let first: u16 = first.trim().parse().ok()?;
    let last: u16 = last.trim().parse().ok()?;
    (first >= 1 && first <= last).then_some(first..=last)
}

impl ConfigTextError {
    /// toml's error placed as the plan's are: its line and what is wrong, keys by their dotted
    /// path: serde's unknown field in the plan's words (`targets.api: unknown key "x"; expected
    /// one of a, b`), a wrong value as `limits.max_replicas = -1: why`.
    fn toml(text: &str, error: &toml::de::Error) -> Self {
        let at = error.span().map_or(0, |span| span.start).min(text.len());
        let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
        let line_end = text[at..].find('\n').map_or(text.len(), |i| at + i);
        let line_text = &text[line_start..line_end];
        let line = text[..at].matches('\n').count() + 1;
        let table = text[..line_end].lines().rev().find_map(table_header);
        let message = error.message().replace('\n', " ");
        let unknown = message
            .strip_prefix("unknown field `")
            .and_then(|rest| rest.split_once('`'));
        let detail = match (unknown, line_text.split_once('=')) {
            (Some((name, rest)), _) => {
                let expected = rest.trim_start_matches(", expected ").replace('`', "");
                let table = table.map(|t| format!("{t}: ")).unwrap_or_default();
                format!("{table}unknown key {name:?}; expected {expected}")
            }
            (None, Some((key, value))) if table_header(line_text).is_none() => {
                let value = value.trim();
                let shown = if value.chars().count() <= 60 {
                    value
                } else {
                    "..."
                };
                let key = match table {
                    Some(table) => format!("{table}.{}", key.trim()),
                    None => key.trim().to_owned(),
                };
                format!("{key} = {shown}: {}", message.replace('`', "\""))
            }
            (None, _) => {
                let table = table.map(|t| format!("{t}: ")).unwrap_or_default();
                format!("{table}{}", message.replace('`', "\""))
            }
        };
        ConfigTextError::Toml { line, detail }
    }
}

/// The table a line opens, `targets.api` of `[targets.api]  # comment` (an array of tables'
/// `[[x]]` too); `None` for any other line, an array value's `[0, 1]` among them.
fn table_header(line: &str) -> Option<&str> {
    let inner = line.trim().strip_prefix('[')?;
    let inner = inner.strip_prefix('[').unwrap_or(inner);
    let (name, _) = inner.split_once(']')?;
    let name = name.trim();
    let is_key = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || "._-\"' ".contains(c))
        && !name.contains(", ");
    is_key.then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replica_address_and_ports_are_read_and_a_bad_range_named() {
        let file =
            ConfigFile::parse("replica_address = \"10.0.0.5\"\nreplica_ports = \"20000-20099\"\n")
                .expect("valid");
        let config = file.apply(AgentConfig::builtin(Path::new("/usr/bin/numaload")));
        assert_eq!(config.replica_address.to_string(), "10.0.0.5");
        assert_eq!(config.replica_ports, Some(20_000..=20_099));
        let builtin = AgentConfig::builtin(Path::new("/usr/bin/numaload"));
        assert!(builtin.replica_address.is_loopback());
        for bad in ["20099-20000", "0-10", "a-b", "70000"] {
            let error = ConfigFile::parse(&format!("replica_ports = \"{bad}\"\n"))
                .expect_err(bad)
                .to_string();
            assert!(error.starts_with("replica_ports = "), "{error}");
        }
        let error = ConfigFile::parse("replica_address = \"not-an-ip\"\n")
            .expect_err("not an IP")
            .to_string();
        assert!(error.contains("replica_address"), "{error}");
    }

    #[test]
    fn a_config_file_names_targets_and_tightens_limits() {
        let file = ConfigFile::parse(
            "listen = \"0.0.0.0:7070\"\n[targets.svc]\nprogram = \"/opt/svc/server\"\n\
             args = [\"--bench\", \"{listen}\"]\n[limits]\nmax_connections = 64\nmax_layout_time = \"5m\"\n",
        )
        .expect("valid");
        let config = file.apply(AgentConfig::builtin(Path::new("/usr/bin/numaload")));
        assert_eq!(
            config.targets.keys().collect::<Vec<_>>(),
            ["svc"],
            "only the file's targets"
        );
        assert_eq!(config.targets["svc"].args.len(), 2);
        assert_eq!(config.limits.max_connections, 64);
        assert_eq!(config.limits.max_layout_time, Duration::from_secs(300));
        assert_eq!(config.limits.max_replicas, Limits::default().max_replicas);
        assert!(config.target("async").is_err());
    }

    #[test]
    fn mistakes_are_refused_naming_the_key() {
        use crate::target::TargetError as T;
        use ConfigTextError as E;
        type Is = fn(&ConfigTextError) -> bool;
        let cases: [(&str, Is); 6] = [
            (
                "[targets.svc]\nprogram = \"server\"\nargs = [\"{port}\"]\n",
                |e| matches!(e, E::Target(T::RelativeProgram { target, .. }) if target == "svc"),
            ),
            (
                "[targets.svc]\nprogram = \"/srv\"\nargs = [\"{prot}\"]\n",
                |e| matches!(e, E::Target(T::Template { .. })),
            ),
            (
                "[targets.Bad]\nprogram = \"/x\"\n",
                |e| matches!(e, E::Target(T::Name { target }) if target == "Bad"),
            ),
            (
                "[limits]\nmax_layout_time = \"soon\"\n",
                |e| matches!(e, E::MaxLayoutTime { value, .. } if value == "soon"),
            ),
            (
                "[limits]\nmax_conections = 3\n",
                |e| matches!(e, E::Toml { line: 2, detail } if detail.starts_with("limits: unknown key")),
            ),
            (
                "command = \"rm -rf /\"\n",
                |e| matches!(e, E::Toml { line: 1, detail } if detail.starts_with("unknown key")),
            ),
        ];
        for (text, is) in cases {
            let err = ConfigFile::parse(text).expect_err(text);
            assert!(is(&err), "{text:?}: {err:?}");
            assert!(!err.to_string().contains('\n'), "{text:?}: {err}");
        }
    }

    #[test]
    fn the_messages_name_the_file_and_the_key() {
        let cases = [
            (
                "[limits]\nmax_layout_time = \"soon\"\n",
                "limits.max_layout_time = \"soon\": expected number at 0; e.g. \"1h\"",
            ),
            (
                "[limits]\nmax_conections = 3\n",
                "line 2: limits: unknown key \"max_conections\"; expected one of \
                 max_plan_bytes, max_layouts, max_layout_time, max_connections, max_replicas, \
                 max_work_us",
            ),
            (
                "[targets.svc]\nprogram = \"/srv\"\nargs = [\"{port}\"]\nredy = \"tcp\"\n",
                "line 4: targets.svc: unknown key \"redy\"; expected one of program, args, env, \
                 files, ready, ready_within, stop_signal, stop_grace, metrics, scrape, \
                 requests_counter, knobs, schedtrace",
            ),
            (
                "[targets.svc]\nprogram = \"/srv\"\nargs = [\n  [\"{port}\"],\n]\n",
                "line 4: targets.svc: invalid type: sequence, expected a string",
            ),
        ];
        for (text, want) in cases {
            let err = ConfigFile::parse(text).expect_err(text);
            assert_eq!(err.to_string(), want);
        }
        let dir = std::env::temp_dir().join(format!("numaload-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("scratch directory");
        let file = dir.join("agent.toml");
        std::fs::write(&file, "[targets.Bad]\nprogram = \"/x\"\n").expect("write");
        let invalid = ConfigFile::load(&file).expect_err("a bad target name");
        assert!(
            matches!(invalid, ConfigError::Invalid { .. }),
            "{invalid:?}"
        );
        assert_eq!(
            invalid.to_string(),
            format!(
                "{}: targets.Bad: target names are [a-z0-9-]+",
                file.display()
            )
        );
        let program = dir.join("server");
        let entry = format!(
            "[targets.svc]\nprogram = {:?}\nargs = [\"{{listen}}\"]\n",
            program.display().to_string()
        );
        std::fs::write(&file, &entry).expect("write");
        for (mode, want) in [
            (
                None,
                "no such file; install the server there or give the absolute path where it is",
            ),
            (Some(0o644), "not executable (mode 644); chmod +x it"),
            (Some(0o755), ""),
        ] {
            if let Some(mode) = mode {
                use std::os::unix::fs::PermissionsExt as _;
                std::fs::write(&program, "#!/bin/sh\n").expect("program");
                std::fs::set_permissions(&program, std::fs::Permissions::from_mode(mode))
                    .expect("mode");
            }
            match ConfigFile::load(&file) {
                Ok(_) => assert!(want.is_empty(), "{mode:?}: loaded"),
                Err(e) => assert_eq!(
                    e.to_string(),
                    format!(
                        "{}: targets.svc.program = {:?}: {want}",
                        file.display(),
                        program
                    )
                ),
            }
        }
        std::fs::remove_file(&program).expect("remove");
        std::fs::remove_file(&file).expect("remove");
        let missing = ConfigFile::load(&file).expect_err("no file");
        assert!(matches!(missing, ConfigError::Read { .. }), "{missing:?}");
        assert!(
            missing
                .to_string()
                .starts_with(&format!("{}: cannot read: ", file.display())),
            "{missing}"
        );
        let _ = std::fs::remove_dir(&dir);
    }

    #[test]
    fn an_unknown_target_lists_the_known_ones() {
        let config = AgentConfig::builtin(Path::new("/usr/bin/numaload"));
        let err = config.target("nginx").expect_err("not built in");
        assert_eq!(
            err,
            UnknownTarget {
                name: "nginx".into(),
                known: vec!["async".into(), "ffi".into()],
            }
        );
        assert_eq!(
            err.to_string(),
            "name = \"nginx\": this agent knows no such target; use one of: async, ffi \
             (or add targets.nginx to the agent's configuration)"
        );
    }
}
