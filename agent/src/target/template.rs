//! Placeholders in a target's arguments, environment and files: `{port}`, `{listen}`, `{host}`,
//! `{threads}`, `{replica}`, `{cpus}`, `{nodes}`, `{workdir}` and `{knob.NAME}`.
//!
//! A [`Template`] is parsed once, when the agent's configuration is loaded, so an unknown
//! placeholder is an error naming it before anything runs; [`Template::fill`] is then a plain
//! substitution per replica. Braces that do not form a placeholder are kept as they are (nginx
//! and envoy configs are full of them, `}}` included); `{{` stands for a literal `{`, for the rare
//! text that must read like a placeholder (`{{port}` gives `{port}`).

use std::collections::BTreeMap;

/// The placeholders every replica has, besides `{knob.NAME}`.
pub const PLACEHOLDERS: [&str; 8] = [
    "port", "listen", "host", "threads", "replica", "cpus", "nodes", "workdir",
];

/// A string with placeholders, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Var(String),
    Knob(String),
}

/// The values of one replica's placeholders.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Vars {
    /// `port`, `listen`, `host`, ... → value.
    pub values: BTreeMap<&'static str, String>,
    /// Knob name → value; a knob that is absent was not set and has no default.
    pub knobs: BTreeMap<String, String>,
}

/// A placeholder a template names that the target does not have: one line naming it and listing
/// the known ones (the caller adds which key it is in).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// `{knob.NAME}` for a knob the target does not declare.
    #[error(
        "{{knob.{knob}}}: the target declares no knob {knob:?}; declare it under knobs \
         (declared: {})",
        list_or_none(declared)
    )]
    UndeclaredKnob {
        knob: String,
        /// The knobs the target declares.
        declared: Vec<String>,
    },
    /// A `{name}` that is none of [`PLACEHOLDERS`].
    #[error(
        "{{{name}}}: unknown placeholder; use one of {{{}}} or {{knob.NAME}} (write {{{{ for a \
         literal brace)",
        PLACEHOLDERS.join("}, {")
    )]
    UnknownPlaceholder { name: String },
}

/// A placeholder the template names but the replica has no value for (an optional knob the plan
/// did not set): the argument or variable that holds it is left out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unset(pub String);

impl Template {
    /// Parses `text`; the error names the unknown placeholder and lists the known ones.
    /// `knobs` are the knob names the target declares.
    pub fn parse(text: &str, knobs: &[&str]) -> Result<Template, TemplateError> {
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut rest = text;
        while let Some(at) = rest.find('{') {
            literal.push_str(&rest[..at]);
            let tail = &rest[at..];
            if let Some(after) = tail.strip_prefix("{{") {
                literal.push('{');
                rest = after;
                continue;
            }
            // A `{` opening a name (letters, digits, `_`, `.`) closed by `}` is a placeholder;
            // anything else (`{ listen 80; }`) is literal text.
            let name_len = tail[1..]
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.'))
                .unwrap_or(tail.len() - 1);
            let name = &tail[1..1 + name_len];
            if name.is_empty() || !tail[1 + name_len..].starts_with('}') {
                literal.push('{');
                rest = &tail[1..];
                continue;
            }
            if !literal.is_empty() {
                parts.push(Part::Text(std::mem::take(&mut literal)));
            }
            parts.push(placeholder(name, knobs)?);
            rest = &tail[name_len + 2..];
        }
        literal.push_str(rest);
        if !literal.is_empty() {
            parts.push(Part::Text(literal));
        }
        Ok(Template { parts })
    }

    /// The text with every placeholder replaced; [`Unset`] when it names a knob with no value.
    pub fn fill(&self, vars: &Vars) -> Result<String, Unset> {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(text) => out.push_str(text),
                Part::Var(name) => {
                    out.push_str(vars.values.get(name.as_str()).map_or("", String::as_str))
                }
                Part::Knob(name) => match vars.knobs.get(name) {
                    Some(value) => out.push_str(value),
                    None => return Err(Unset(format!("knob.{name}"))),
                },
            }
        }
        Ok(out)
    }

    /// Whether the template names `{port}` or `{listen}`: how the server learns its port.
    pub fn names_the_port(&self) -> bool {
        self.parts
            .iter()
            .any(|p| matches!(p, Part::Var(v) if v == "port" || v == "listen"))
    }
}

fn placeholder(name: &str, knobs: &[&str]) -> Result<Part, TemplateError> {
    if let Some(knob) = name.strip_prefix("knob.") {
        if knobs.contains(&knob) {
            return Ok(Part::Knob(knob.to_owned()));
        }
        return Err(TemplateError::UndeclaredKnob {
            knob: knob.to_owned(),
            declared: knobs.iter().map(|&k| k.to_owned()).collect(),
        });
    }
    if PLACEHOLDERS.contains(&name) {
        return Ok(Part::Var(name.to_owned()));
    }
    Err(TemplateError::UnknownPlaceholder {
        name: name.to_owned(),
    })
}

fn list_or_none(names: &[String]) -> String {
    if names.is_empty() {
        "none".to_owned()
    } else {
        names.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> Vars {
        let mut vars = Vars::default();
        vars.values.insert("port", "20001".into());
        vars.values.insert("listen", "127.0.0.1:20001".into());
        vars.values.insert("threads", "4".into());
        vars.knobs.insert("gomaxprocs".into(), "8".into());
        vars
    }

    #[test]
    fn placeholders_are_filled_and_other_braces_kept() {
        let cases = [
            ("--listen={listen}", "--listen=127.0.0.1:20001"),
            ("{threads}x{knob.gomaxprocs}", "4x8"),
            (
                "events { worker_connections 64; }",
                "events { worker_connections 64; }",
            ),
            (
                "http { server { return 200; }}",
                "http { server { return 200; }}",
            ),
            ("literal {{port} here", "literal {port} here"),
            (
                "server { listen {listen}; }",
                "server { listen 127.0.0.1:20001; }",
            ),
            (
                "location / { return 200 \"ok\"; }",
                "location / { return 200 \"ok\"; }",
            ),
            ("{ }", "{ }"),
            ("trailing {", "trailing {"),
            ("no placeholders", "no placeholders"),
            ("", ""),
        ];
        for (text, want) in cases {
            let template = Template::parse(text, &["gomaxprocs"]).expect(text);
            assert_eq!(template.fill(&vars()).expect(text), want, "{text:?}");
        }
    }

    #[test]
    fn unknown_placeholders_are_named() {
        let unknown = |name: &str| TemplateError::UnknownPlaceholder { name: name.into() };
        let cases = [
            ("{prot}", unknown("prot")),
            (
                "-p {knob.procs}",
                TemplateError::UndeclaredKnob {
                    knob: "procs".into(),
                    declared: vec!["gomaxprocs".into()],
                },
            ),
            ("{LISTEN}", unknown("LISTEN")),
        ];
        for (text, want) in cases {
            let err = Template::parse(text, &["gomaxprocs"]).expect_err(text);
            assert_eq!(err, want, "{text:?}");
        }
    }

    #[test]
    fn the_messages_name_the_placeholder_and_list_the_known_ones() {
        let cases = [
            (
                "{prot}",
                &["gomaxprocs"][..],
                "{prot}: unknown placeholder; use one of {port}, {listen}, {host}, {threads}, \
                 {replica}, {cpus}, {nodes}, {workdir} or {knob.NAME} (write {{ for a literal \
                 brace)",
            ),
            (
                "{knob.procs}",
                &["gomaxprocs", "mode"],
                "{knob.procs}: the target declares no knob \"procs\"; declare it under knobs \
                 (declared: gomaxprocs, mode)",
            ),
            (
                "{knob.procs}",
                &[],
                "{knob.procs}: the target declares no knob \"procs\"; declare it under knobs \
                 (declared: none)",
            ),
        ];
        for (text, knobs, want) in cases {
            let err = Template::parse(text, knobs).expect_err(text);
            assert_eq!(err.to_string(), want);
        }
    }

    #[test]
    fn an_unset_knob_is_reported_not_filled_with_nothing() {
        let template = Template::parse("--limit={knob.limit}", &["limit"]).expect("valid");
        assert_eq!(template.fill(&vars()), Err(Unset("knob.limit".into())));
    }

    #[test]
    fn the_port_must_reach_the_server_somehow() {
        assert!(Template::parse("-l {listen}", &[])
            .expect("ok")
            .names_the_port());
        assert!(Template::parse("{port}", &[]).expect("ok").names_the_port());
        assert!(!Template::parse("{host}", &[]).expect("ok").names_the_port());
    }
}
