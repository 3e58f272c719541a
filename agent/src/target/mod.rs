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

impl TargetFile {
    /// The checked target; the error is one line starting with `[targets.NAME]`.
    pub fn check(&self, name: &str) -> Result<Target, String> {
        let at = |message: String| format!("[targets.{name}] {message}");
        let valid_name = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !valid_name {
            return Err(format!("[targets.{name}]: target names are [a-z0-9-]+"));
        }
        if !self.program.is_absolute() {
            return Err(at(format!(
                "program = {:?}: give an absolute path, so the agent never depends on its PATH",
                self.program
            )));
        }
        let knobs = self
            .knobs
            .iter()
            .map(|(knob, file)| Ok((knob.clone(), file.check(knob).map_err(at)?)))
            .collect::<Result<BTreeMap<_, _>, String>>()?;
        let knob_names: Vec<&str> = knobs.keys().map(String::as_str).collect();
        let template = |key: String, text: &str| {
            Template::parse(text, &knob_names).map_err(|e| at(format!("{key}: {e}")))
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
                return Err(at(format!("env.{var:?}: not a variable name")));
            }
            env.push((var.clone(), template(format!("env.{var}"), value)?));
        }
        let mut files = Vec::new();
        for (file, content) in &self.files {
            if file.is_empty() || file.contains(['/', '\0']) || file == "." || file == ".." {
                return Err(at(format!(
                    "files.{file:?}: give a plain file name; it is written into {{workdir}}"
                )));
            }
            files.push((file.clone(), template(format!("files.{file:?}"), content)?));
        }
        let port_reaches_server = args.iter().any(Template::names_the_port)
            || env.iter().any(|(_, t)| t.names_the_port())
            || files.iter().any(|(_, t)| t.names_the_port());
        if !port_reaches_server {
            return Err(at(
                "nothing tells the server its port: use {listen} or {port} in args, env or \
                 files (the agent chooses a free port per replica)"
                    .to_owned(),
            ));
        }
        let ready = parse_ready(self.ready.as_deref().unwrap_or("tcp")).map_err(at)?;
        let duration = |key: &str, value: &Option<String>| {
            value
                .as_deref()
                .map(|text| {
                    humantime::parse_duration(text)
                        .map_err(|e| at(format!("{key} = {text:?}: {e}; e.g. \"10s\"")))
                })
                .transpose()
        };
        let stop_signal = match &self.stop_signal {
            None => Signal::SIGTERM,
            Some(text) => parse_signal(text).map_err(at)?,
        };
        if let Some(path) = &self.metrics {
            if !path.starts_with('/') {
                return Err(at(format!(
                    "metrics = {path:?}: give a path such as \"/metrics\""
                )));
            }
        }
        if !self.scrape.is_empty() && self.metrics.is_none() {
            return Err(at(
                "scrape: names series but no metrics path; add metrics = \"/metrics\"".to_owned(),
            ));
        }
        if self.requests_counter.is_some() && self.metrics.is_none() {
            return Err(at(
                "requests_counter: names a counter but no metrics path; add metrics = \"/metrics\""
                    .to_owned(),
            ));
        }
        for series in self.scrape.iter().chain(&self.requests_counter) {
            let valid = !series.is_empty()
                && series
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':');
            if !valid {
                return Err(at(format!("scrape: {series:?} is not a metric name")));
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
                .map_err(at)?,
        })
    }
}

fn parse_ready(text: &str) -> Result<Ready, String> {
    if text == "tcp" {
        return Ok(Ready::Tcp);
    }
    if let Some(path) = text.strip_prefix("http:") {
        if path.starts_with('/') && !path.contains(char::is_whitespace) {
            return Ok(Ready::Http(path.to_owned()));
        }
        return Err(format!(
            "ready = {text:?}: give a path, e.g. \"http:/healthz\""
        ));
    }
    if let Some(pattern) = text.strip_prefix("line:") {
        return regex::Regex::new(pattern)
            .map(Ready::Line)
            .map_err(|e| format!("ready = {text:?}: {}", e.to_string().replace('\n', " ")));
    }
    Err(format!(
        "ready = {text:?}: use \"tcp\", \"http:/PATH\" or \"line:REGEX\""
    ))
}

fn parse_signal(text: &str) -> Result<Signal, String> {
    let name = if text.starts_with("SIG") {
        text.to_owned()
    } else {
        format!("SIG{text}")
    };
    name.parse::<Signal>().map_err(|_| {
        format!("stop_signal = {text:?}: not a signal name; e.g. \"SIGTERM\", \"SIGQUIT\"")
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
                .map_err(|e| e.to_string())
                .and_then(|file| file.check(name))
                .expect("the built-in target table is valid");
            target.program = numaload_exe.to_path_buf();
            (name.to_owned(), target)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str) -> Result<Target, String> {
        toml::from_str::<TargetFile>(text)
            .map_err(|e| e.message().replace('\n', " "))
            .and_then(|f| f.check("svc"))
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
    fn mistakes_are_one_line_naming_the_key_or_placeholder() {
        let base = "program = \"/bin/srv\"\nargs = [\"{listen}\"]\n";
        let cases = [
            (
                "program = \"srv\"\nargs = [\"{listen}\"]",
                "[targets.svc] program = \"srv\"",
            ),
            (
                "program = \"/bin/srv\"",
                "nothing tells the server its port",
            ),
            (
                "program = \"/bin/srv\"\nargs = [\"{lisen}\"]",
                "args[0]: {lisen}: unknown placeholder",
            ),
            (
                "program = \"/bin/srv\"\nargs = [\"{listen}\", \"-n={knob.n}\"]",
                "args[1]: {knob.n}: the target declares no knob",
            ),
            (
                "program = \"/bin/srv\"\nfiles = { \"a.conf\" = \"{nodez}\", \"b\" = \"{port}\" }",
                "files.\"a.conf\": {nodez}",
            ),
            (
                "program = \"/bin/srv\"\nfiles = { \"../x\" = \"{port}\" }",
                "files.\"../x\": give a plain file name",
            ),
            (&format!("{base}ready = \"udp\""), "ready = \"udp\": use"),
            (&format!("{base}ready = \"line:(\""), "ready = \"line:(\""),
            (
                &format!("{base}ready = \"http:health\""),
                "ready = \"http:health\"",
            ),
            (
                &format!("{base}stop_signal = \"SIGNOPE\""),
                "stop_signal = \"SIGNOPE\"",
            ),
            (
                &format!("{base}ready_within = \"soon\""),
                "ready_within = \"soon\"",
            ),
            (
                &format!("{base}scrape = [\"x\"]"),
                "scrape: names series but no metrics path",
            ),
            (&format!("{base}redy = \"tcp\""), "unknown field `redy`"),
            (
                &format!("{base}schedtrace = \"jvm\""),
                "[targets.svc] schedtrace = \"jvm\": the only runtime known is \"go\"",
            ),
        ];
        for (text, want) in cases {
            let err = check(text).expect_err(text);
            assert!(err.contains(want), "{text:?}: {err}");
            assert!(!err.contains('\n'), "{err}");
        }
    }
}
