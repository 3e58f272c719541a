//! Targets: what the agent's configuration says about each server a plan may name.
//!
//! One mechanism for every server, ours or a user's: `[targets.NAME]` gives the `program`
//! (absolute path), `args`, `env` and `files` (written into the replica's `{workdir}`), all with
//! per-replica placeholders ([`template`]), how to tell it is `ready` (its port accepts, an HTTP
//! GET answers 2xx, or a line on its output), how to stop it, where its `metrics` are and which
//! series to keep, the `knobs` a plan may set ([`knobs`]), and whether to turn on its runtime's
//! scheduler trace (`schedtrace = "go"`, [`crate::schedtrace`]). The built-in `async` and `ffi`
//! variants are entries of the same table ([`builtin_targets`]). Everything is checked when the
//! configuration is loaded: an unknown key or placeholder is one line naming it.

pub mod knobs;
pub mod template;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::sys::signal::Signal;
use numaload_proto::keys;

pub use knobs::{Knob, KnobFile};
pub use template::{Template, Unset, Vars};

/// A target, checked: what the launcher needs to start, probe, sample and stop its replicas.
#[derive(Debug, Clone)]
pub struct Target {
    pub program: PathBuf,
    pub args: Vec<Template>,
    /// Variable name → value; a variable naming an unset knob is left out.
    pub env: Vec<(String, Template)>,
    /// File name (in `{workdir}`) → content.
    pub files: Vec<(String, Template)>,
    pub ready: Ready,
    /// `None`: the agent's default.
    pub ready_within: Option<Duration>,
    pub stop_signal: Signal,
    /// `None`: the agent's default.
    pub stop_grace: Option<Duration>,
    /// Path of the server's Prometheus metrics, scraped every sample.
    pub metrics: Option<String>,
    /// Series kept from the metrics, per replica (minimum, maximum, last and a series).
    pub scrape: Vec<String>,
    /// The counter of requests the server served, to check the generator's count against.
    pub requests_counter: Option<String>,
    pub knobs: BTreeMap<String, Knob>,
    /// The runtime's own scheduler trace to turn on and parse (`schedtrace = "go"`).
    pub schedtrace: Option<crate::schedtrace::Schedtrace>,
}

/// When a replica is up.
#[derive(Debug, Clone)]
pub enum Ready {
    /// Its port accepts a TCP connection.
    Tcp,
    /// A GET of this path answers 2xx.
    Http(String),
    /// A line on its stdout or stderr matches.
    Line(regex::Regex),
}

impl std::fmt::Display for Ready {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Ready::Tcp => write!(f, "ready = \"tcp\""),
            Ready::Http(path) => write!(f, "ready = \"http:{path}\""),
            Ready::Line(regex) => write!(f, "ready = \"line:{}\"", regex.as_str()),
        }
    }
}

/// A target as the configuration file writes it.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetFile {
    pub program: PathBuf,
    #[serde(default)]
    pub args: Vec<String>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    #[serde(default)]
    pub files: BTreeMap<String, String>,
    pub ready: Option<String>,
    pub ready_within: Option<String>,
    pub stop_signal: Option<String>,
    pub stop_grace: Option<String>,
    pub metrics: Option<String>,
    #[serde(default)]
    pub scrape: Vec<String>,
    pub requests_counter: Option<String>,
    #[serde(default)]
    pub knobs: BTreeMap<String, KnobFile>,
    pub schedtrace: Option<String>,
}

/// A target entry the configuration gets wrong: one line starting with `targets.NAME.KEY` that
/// names the key and the fix.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TargetError {
    #[error("targets.{}: target names are [a-z0-9-]+", keys::part(target))]
    Name { target: String },
    #[error(
        "targets.{target}.program = {program:?}: give an absolute path, so the agent never \
         depends on its PATH"
    )]
    RelativeProgram { target: String, program: PathBuf },
    #[error("targets.{target}.{source}")]
    Knob {
        target: String,
        source: knobs::KnobDeclError,
    },
    /// An argument, variable or file naming a placeholder the target does not have.
    #[error("targets.{target}.{key}: {source}")]
    Template {
        target: String,
        /// `args[N]`, `env.NAME` or `files."NAME"`.
        key: String,
        source: template::TemplateError,
    },
    #[error("targets.{target}.env.{}: not a variable name", keys::part(var))]
    EnvName { target: String, var: String },
    #[error(
        "targets.{target}.files.{}: give a plain file name; it is written into {{workdir}}",
        keys::part(file)
    )]
    FileName { target: String, file: String },
    #[error(
        "targets.{target}: nothing tells the server its port: use {{listen}} or {{port}} in \
         args, env or files (the agent chooses a free port per replica)"
    )]
    NoPort { target: String },
    #[error("targets.{target}.ready = {value:?}: give a path, e.g. \"http:/healthz\"")]
    ReadyPath { target: String, value: String },
    #[error(
        "targets.{target}.ready = {value:?}: {}",
        source.to_string().replace('\n', " ")
    )]
    ReadyRegex {
        target: String,
        value: String,
        source: regex::Error,
    },
    #[error("targets.{target}.ready = {value:?}: use \"tcp\", \"http:/PATH\" or \"line:REGEX\"")]
    ReadyKind { target: String, value: String },
    /// `ready_within` or `stop_grace` that is not a duration.
    #[error("targets.{target}.{key} = {value:?}: {source}; e.g. \"10s\"")]
    Duration {
        target: String,
        key: &'static str,
        value: String,
        source: humantime::DurationError,
    },
    #[error(
        "targets.{target}.stop_signal = {value:?}: not a signal name; e.g. \"SIGTERM\", \
         \"SIGQUIT\""
    )]
    StopSignal { target: String, value: String },
    #[error("targets.{target}.metrics = {path:?}: give a path such as \"/metrics\"")]
    MetricsPath { target: String, path: String },
    #[error(
        "targets.{target}.scrape: names series but no metrics path; add metrics = \"/metrics\""
    )]
    ScrapeWithoutMetrics { target: String },
    #[error(
        "targets.{target}.requests_counter: names a counter but no metrics path; add metrics = \
         \"/metrics\""
    )]
    CounterWithoutMetrics { target: String },
    #[error(
        "targets.{target}.{key}: {series:?} is not a series: give a metric name, or one with \
         labels such as name{{label=\"value\"}}"
    )]
    MetricName {
        target: String,
        key: &'static str,
        series: String,
    },
    #[error("targets.{target}.{source}")]
    Schedtrace {
        target: String,
        source: crate::schedtrace::UnknownSchedtrace,
    },
}

impl TargetFile {
    /// The checked target.
    #[allow(
        clippy::too_many_lines,
        reason = "one target entry checked key by key, in the order of its reference"
    )]
    pub fn check(&self, name: &str) -> Result<Target, TargetError> {
        let target = || name.to_owned();
        let valid_name = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !valid_name {
            return Err(TargetError::Name { target: target() });
        }
        if !self.program.is_absolute() {
            return Err(TargetError::RelativeProgram {
                target: target(),
                program: self.program.clone(),
            });
        }
        let knobs = self
            .knobs
            .iter()
            .map(|(knob, file)| {
                let checked = file.check(knob).map_err(|source| TargetError::Knob {
                    target: target(),
                    source,
                })?;
                Ok((knob.clone(), checked))
            })
            .collect::<Result<BTreeMap<_, _>, TargetError>>()?;
        let knob_names: Vec<&str> = knobs.keys().map(String::as_str).collect();
        let template = |key: String, text: &str| {
            Template::parse(text, &knob_names).map_err(|source| TargetError::Template {
                target: target(),
                key,
                source,
            })
        };
        let args = self
            .args
            .iter()
            .enumerate()
            .map(|(i, a)| template(format!("args[{i}]"), a))
            .collect::<Result<Vec<_>, _>>()?;
        let mut env = Vec::new();
        for (var, value) in &self.env {
            if var.is_empty() || var.contains(['=', '\0']) {
                return Err(TargetError::EnvName {
                    target: target(),
                    var: var.clone(),
                });
            }
            env.push((
                var.clone(),
                template(format!("env.{}", keys::part(var)), value)?,
            ));
        }
        let mut files = Vec::new();
        for (file, content) in &self.files {
            if file.is_empty() || file.contains(['/', '\0']) || file == "." || file == ".." {
                return Err(TargetError::FileName {
                    target: target(),
                    file: file.clone(),
                });
            }
            files.push((
                file.clone(),
                template(format!("files.{}", keys::part(file)), content)?,
            ));
        }
        let port_reaches_server = args.iter().any(Template::names_the_port)
            || env.iter().any(|(_, t)| t.names_the_port())
            || files.iter().any(|(_, t)| t.names_the_port());
        if !port_reaches_server {
            return Err(TargetError::NoPort { target: target() });
        }
        let ready = parse_ready(name, self.ready.as_deref().unwrap_or("tcp"))?;
        let duration = |key: &'static str, value: &Option<String>| {
            value
                .as_deref()
                .map(|text| {
                    humantime::parse_duration(text).map_err(|source| TargetError::Duration {
                        target: target(),
                        key,
                        value: text.to_owned(),
                        source,
                    })
                })
                .transpose()
        };
        let stop_signal = match &self.stop_signal {
            None => Signal::SIGTERM,
            Some(text) => parse_signal(name, text)?,
        };
        if let Some(path) = &self.metrics {
            if !path.starts_with('/') {
                return Err(TargetError::MetricsPath {
                    target: target(),
                    path: path.clone(),
                });
            }
        }
        if !self.scrape.is_empty() && self.metrics.is_none() {
            return Err(TargetError::ScrapeWithoutMetrics { target: target() });
        }
        if self.requests_counter.is_some() && self.metrics.is_none() {
            return Err(TargetError::CounterWithoutMetrics { target: target() });
        }
        let named = (self.scrape.iter().map(|s| ("scrape", s))).chain(
            self.requests_counter
                .iter()
                .map(|s| ("requests_counter", s)),
        );
        for (key, series) in named {
            if !crate::scrape::is_series(series) {
                return Err(TargetError::MetricName {
                    target: target(),
                    key,
                    series: series.clone(),
                });
            }
        }
        Ok(Target {
            program: self.program.clone(),
            args,
            env,
            files,
            ready,
            ready_within: duration("ready_within", &self.ready_within)?,
            stop_signal,
            stop_grace: duration("stop_grace", &self.stop_grace)?,
            metrics: self.metrics.clone(),
            scrape: self.scrape.clone(),
            requests_counter: self.requests_counter.clone(),
            knobs,
            schedtrace: self
                .schedtrace
                .as_deref()
                .map(crate::schedtrace::Schedtrace::parse)
                .transpose()
                .map_err(|source| TargetError::Schedtrace {
                    target: target(),
                    source,
                })?,
        })
    }
}

fn parse_ready(target: &str, text: &str) -> Result<Ready, TargetError> {
    let (target, value) = (target.to_owned(), text.to_owned());
    if text == "tcp" {
        return Ok(Ready::Tcp);
    }
    if let Some(path) = text.strip_prefix("http:") {
        if path.starts_with('/') && !path.contains(char::is_whitespace) {
            return Ok(Ready::Http(path.to_owned()));
        }
        return Err(TargetError::ReadyPath { target, value });
    }
    if let Some(pattern) = text.strip_prefix("line:") {
        return regex::Regex::new(pattern)
            .map(Ready::Line)
            .map_err(|source| TargetError::ReadyRegex {
                target,
                value,
                source,
            });
    }
    Err(TargetError::ReadyKind { target, value })
}

fn parse_signal(target: &str, text: &str) -> Result<Signal, TargetError> {
    let name = if text.starts_with("SIG") {
        text.to_owned()
    } else {
        format!("SIG{text}")
    };
    name.parse::<Signal>().map_err(|_| TargetError::StopSignal {
        target: target.to_owned(),
        value: text.to_owned(),
    })
}

/// The built-in targets, served by the `numaload` executable itself (`numaload target`): the
/// same kind of entry a user writes, with the variants' flags as knobs.
pub fn builtin_targets(numaload_exe: &Path) -> BTreeMap<String, Target> {
    let common = r#"
        ready = "line:^numaload-target listening on "
        metrics = "/metrics"
        requests_counter = "numaload_requests_total"
        [knobs]
        work_us = { range = [0, 1000000], default = 0 }
        work_mode = { values = ["spin", "sleep"] }
    "#;
    let async_variant = format!(
        r#"program = "/numaload"
        args = ["target", "--variant", "async", "--listen", "{{listen}}", "--threads", "{{threads}}",
                "--work-us={{knob.work_us}}", "--work-mode={{knob.work_mode}}"]
        {common}"#
    );
    let ffi_variant = format!(
        r#"program = "/numaload"
        args = ["target", "--variant", "ffi", "--listen", "{{listen}}", "--threads", "{{threads}}",
                "--work-us={{knob.work_us}}", "--work-mode={{knob.work_mode}}",
                "--dispatch={{knob.dispatch}}", "--limit={{knob.limit}}",
                "--pool-threads={{knob.pool_threads}}"]
        {common}
        dispatch = {{ values = ["spawn-blocking", "bounded", "inline", "pinned-pool"] }}
        limit = {{ range = [1, 1000000] }}
        pool_threads = {{ range = [1, 4096] }}"#
    );
    [("async", async_variant), ("ffi", ffi_variant)]
        .into_iter()
        .map(|(name, text)| {
            #[allow(clippy::expect_used)] // a constant table, checked by a unit test
            let mut target = toml::from_str::<TargetFile>(&text)
                .expect("the built-in target table is valid TOML")
                .check(name)
                .expect("the built-in target table is valid");
            target.program = numaload_exe.to_path_buf();
            (name.to_owned(), target)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str) -> Result<Target, TargetError> {
        toml::from_str::<TargetFile>(text)
            .expect("valid TOML")
            .check("svc")
    }

    #[test]
    fn the_builtin_targets_are_ordinary_entries() {
        let targets = builtin_targets(Path::new("/usr/bin/numaload"));
        assert_eq!(targets.keys().collect::<Vec<_>>(), ["async", "ffi"]);
        let ffi = &targets["ffi"];
        assert_eq!(ffi.program, Path::new("/usr/bin/numaload"));
        assert!(ffi.knobs.contains_key("dispatch") && ffi.knobs.contains_key("pool_threads"));
        assert!(matches!(ffi.ready, Ready::Line(_)));
        assert_eq!(ffi.metrics.as_deref(), Some("/metrics"));
    }

    #[test]
    fn a_full_entry_is_accepted() {
        let target = check(
            r#"program = "/usr/sbin/nginx"
            args = ["-p", "{workdir}", "-c", "{workdir}/nginx.conf"]
            env = { GOMAXPROCS = "{knob.procs}" }
            files = { "nginx.conf" = "worker_processes {threads}; events { } http { server { listen {listen}; } }" }
            ready = "http:/healthz"
            ready_within = "3s"
            stop_signal = "QUIT"
            stop_grace = "500ms"
            metrics = "/metrics"
            scrape = ["go_goroutines"]
            schedtrace = "go"
            knobs.procs = { range = [1, 64], default = 4 }"#,
        )
        .expect("valid");
        assert_eq!(target.stop_signal, Signal::SIGQUIT);
        assert_eq!(target.ready_within, Some(Duration::from_secs(3)));
        assert_eq!(target.files.len(), 1);
        assert!(matches!(&target.ready, Ready::Http(p) if p == "/healthz"));
        assert_eq!(target.schedtrace, Some(crate::schedtrace::Schedtrace::Go));
    }

    #[test]
    fn mistakes_are_refused_naming_the_key_or_placeholder() {
        use TargetError as E;
        let base = "program = \"/bin/srv\"\nargs = [\"{listen}\"]\n";
        type Is = fn(&TargetError) -> bool;
        let cases: [(&str, Is); 13] = [
            (
                "program = \"srv\"\nargs = [\"{listen}\"]",
                |e| matches!(e, E::RelativeProgram { program, .. } if program == Path::new("srv")),
            ),
            ("program = \"/bin/srv\"", |e| matches!(e, E::NoPort { .. })),
            ("program = \"/bin/srv\"\nargs = [\"{lisen}\"]", |e| {
                matches!(e, E::Template { key, source: template::TemplateError::UnknownPlaceholder { name }, .. }
                    if key == "args[0]" && name == "lisen")
            }),
            (
                "program = \"/bin/srv\"\nargs = [\"{listen}\", \"-n={knob.n}\"]",
                |e| {
                    matches!(e, E::Template { key, source: template::TemplateError::UndeclaredKnob { knob, .. }, .. }
                    if key == "args[1]" && knob == "n")
                },
            ),
            (
                "program = \"/bin/srv\"\nfiles = { \"a.conf\" = \"{nodez}\", \"b\" = \"{port}\" }",
                |e| matches!(e, E::Template { key, .. } if key == "files.\"a.conf\""),
            ),
            (
                "program = \"/bin/srv\"\nfiles = { \"../x\" = \"{port}\" }",
                |e| matches!(e, E::FileName { file, .. } if file == "../x"),
            ),
            (
                "ready = \"udp\"",
                |e| matches!(e, E::ReadyKind { value, .. } if value == "udp"),
            ),
            (
                "ready = \"line:(\"",
                |e| matches!(e, E::ReadyRegex { value, .. } if value == "line:("),
            ),
            (
                "ready = \"http:health\"",
                |e| matches!(e, E::ReadyPath { value, .. } if value == "http:health"),
            ),
            (
                "stop_signal = \"SIGNOPE\"",
                |e| matches!(e, E::StopSignal { value, .. } if value == "SIGNOPE"),
            ),
            (
                "ready_within = \"soon\"",
                |e| matches!(e, E::Duration { key: "ready_within", value, .. } if value == "soon"),
            ),
            ("scrape = [\"x\"]", |e| {
                matches!(e, E::ScrapeWithoutMetrics { .. })
            }),
            (
                "schedtrace = \"jvm\"",
                |e| matches!(e, E::Schedtrace { source, .. } if source.value == "jvm"),
            ),
        ];
        for (text, is) in cases {
            // A line starting with `program` is a whole entry; any other is added to `base`.
            let text = if text.starts_with("program") {
                text.to_owned()
            } else {
                format!("{base}{text}")
            };
            let err = check(&text).expect_err(&text);
            assert!(is(&err), "{text:?}: {err:?}");
        }
        let unknown = toml::from_str::<TargetFile>(&format!("{base}redy = \"tcp\""))
            .expect_err("an unknown key");
        assert!(
            unknown.message().contains("unknown field `redy`"),
            "{unknown}"
        );
    }

    #[test]
    fn each_mistake_reads_as_one_line_naming_the_key_and_the_fix() {
        let base = "program = \"/bin/srv\"\nargs = [\"{listen}\"]\n";
        let cases = [
            (
                "program = \"srv\"\nargs = [\"{listen}\"]".to_owned(),
                "targets.svc.program = \"srv\": give an absolute path, so the agent never \
                 depends on its PATH",
            ),
            (
                "program = \"/bin/srv\"".to_owned(),
                "targets.svc: nothing tells the server its port: use {listen} or {port} in args, \
                 env or files (the agent chooses a free port per replica)",
            ),
            (
                "program = \"/bin/srv\"\nargs = [\"{listen}\", \"-n={knob.n}\"]".to_owned(),
                "targets.svc.args[1]: {knob.n}: the target declares no knob \"n\"; declare it \
                 under knobs (declared: none)",
            ),
            (
                "program = \"/bin/srv\"\nenv = { \"A=B\" = \"{port}\" }".to_owned(),
                "targets.svc.env.\"A=B\": not a variable name",
            ),
            (
                "program = \"/bin/srv\"\nfiles = { \"../x\" = \"{port}\" }".to_owned(),
                "targets.svc.files.\"../x\": give a plain file name; it is written into \
                 {workdir}",
            ),
            (
                format!("{base}knobs.n = {{ range = [2, 1] }}"),
                "targets.svc.knobs.n.range = [2, 1]: give [low, high]",
            ),
            (
                format!("{base}ready = \"udp\""),
                "targets.svc.ready = \"udp\": use \"tcp\", \"http:/PATH\" or \"line:REGEX\"",
            ),
            (
                format!("{base}ready = \"http:health\""),
                "targets.svc.ready = \"http:health\": give a path, e.g. \"http:/healthz\"",
            ),
            (
                format!("{base}stop_signal = \"SIGNOPE\""),
                "targets.svc.stop_signal = \"SIGNOPE\": not a signal name; e.g. \"SIGTERM\", \
                 \"SIGQUIT\"",
            ),
            (
                format!("{base}stop_grace = \"soon\""),
                "targets.svc.stop_grace = \"soon\": expected number at 0; e.g. \"10s\"",
            ),
            (
                format!("{base}metrics = \"metrics\""),
                "targets.svc.metrics = \"metrics\": give a path such as \"/metrics\"",
            ),
            (
                format!("{base}scrape = [\"x\"]"),
                "targets.svc.scrape: names series but no metrics path; add metrics = \
                 \"/metrics\"",
            ),
            (
                format!("{base}requests_counter = \"x\""),
                "targets.svc.requests_counter: names a counter but no metrics path; add \
                 metrics = \"/metrics\"",
            ),
            (
                format!("{base}metrics = \"/m\"\nscrape = [\"a b\"]"),
                "targets.svc.scrape: \"a b\" is not a series: give a metric name, or one with \
                 labels such as name{label=\"value\"}",
            ),
            (
                format!("{base}metrics = \"/m\"\nrequests_counter = \"x{{code=200}}\""),
                "targets.svc.requests_counter: \"x{code=200}\" is not a series: give a metric \
                 name, or one with labels such as name{label=\"value\"}",
            ),
            (
                format!("{base}schedtrace = \"jvm\""),
                "targets.svc.schedtrace = \"jvm\": the only runtime known is \"go\" \
                 (GODEBUG=schedtrace=1000)",
            ),
        ];
        for (text, want) in cases {
            let err = check(&text).expect_err(&text);
            assert_eq!(err.to_string(), want);
        }
        let bad_name = toml::from_str::<TargetFile>(base)
            .expect("valid")
            .check("Bad");
        assert_eq!(
            bad_name.expect_err("capitals").to_string(),
            "targets.Bad: target names are [a-z0-9-]+"
        );
        let regex = check(&format!("{base}ready = \"line:(\"")).expect_err("unclosed group");
        let regex = regex.to_string();
        assert!(
            regex.starts_with("targets.svc.ready = \"line:(\": regex parse error: "),
            "{regex}"
        );
        assert!(!regex.contains('\n'), "{regex}");
    }
}
