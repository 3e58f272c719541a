//! How the load generator talks to the targets: `load.protocol` and `streams` ([`http`]),
//! `load.tls` and its keys (`sni`, `ca`, `insecure_skip_verify`, `alpn`, `resume`). The keys, defaults and examples are in
//! `docs/plan.md`, section `[load]`.
//!
//! Validation is pure: `ca` stays a path here, and [`read_files`] (called by `plan::load_with`
//! with the plan file's folder) reads the PEM it names, so the agent, which may be on another
//! host, receives the certificates themselves.

use std::path::Path;

use numaload_proto::v1;
use serde::{Deserialize, Serialize};

use super::problem::{quoted, KeyPath, Problem};
use super::raw::RawLoad;

pub(super) const TLS: &str = "must be true or false";
pub(super) const SNI: &str =
    "must be a host name or IP address the certificate holds, e.g. sni = \"api.example.com\"";
pub(super) const CA: &str =
    "must be the path of a PEM file of trusted certificates, relative to the plan, e.g. ca = \"ca.pem\"";
pub(super) const INSECURE: &str = "must be true or false (true accepts any certificate)";
pub(super) const ALPN: &str =
    "must be a list of 1 to 8 protocol names, e.g. alpn = [\"http/1.1\"] (or [] for none)";
pub(super) const RESUME: &str = "must be true or false (false: a full handshake on every connect)";
pub(super) const PROTOCOL: &str =
    "must be \"h1\" (HTTP/1.1), \"h2\" (HTTP/2 over TLS) or \"h2c\" (HTTP/2 in clear text)";
pub(super) const STREAMS: &str =
    "must be a whole number from 1 to 1000: requests in flight at once per HTTP/2 connection";

/// What a key of this file must hold, by its schema path (`load.alpn`): the fix shown when the
/// file has a value of the wrong type there (`validate/fixes.rs`).
pub(super) fn expectation(schema: &str) -> Option<&'static str> {
    Some(match schema {
        "load.tls" => TLS,
        "load.sni" => SNI,
        "load.ca" => CA,
        "load.insecure_skip_verify" => INSECURE,
        "load.alpn" => ALPN,
        "load.resume" => RESUME,
        "load.protocol" => PROTOCOL,
        "load.streams" => STREAMS,
        _ => return None,
    })
}

/// Most streams per connection a plan may ask for.
const MAX_STREAMS: i64 = 1_000;

/// The HTTP version the generator speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    #[default]
    H1,
    H2,
    H2c,
}

impl Protocol {
    pub(super) fn is_h1(&self) -> bool {
        *self == Protocol::H1
    }

    pub(super) fn to_wire(self) -> v1::HttpProtocol {
        match self {
            Protocol::H1 => v1::HttpProtocol::H1,
            Protocol::H2 => v1::HttpProtocol::H2,
            Protocol::H2c => v1::HttpProtocol::H2c,
        }
    }
}

/// `protocol` and `streams`, taken out of `raw` (before [`tls`], whose default ALPN follows the
/// protocol). `h2` needs `tls = true`, `h2c` refuses it; more than one stream needs HTTP/2.
pub(super) fn http(raw: &mut RawLoad, at: &KeyPath) -> Result<(Protocol, u32), Problem> {
    let protocol = match raw.protocol.take().as_deref() {
        None | Some("h1") => Protocol::H1,
        Some("h2") => Protocol::H2,
        Some("h2c") => Protocol::H2c,
        Some(other) => return Err(Problem::value(at.key("protocol"), quoted(other), PROTOCOL)),
    };
    let tls = raw.tls == Some(true);
    match (protocol, tls) {
        (Protocol::H2, false) => {
            let fix = "\"h2\" is HTTP/2 over TLS: add tls = true, or use \"h2c\" for clear text";
            return Err(Problem::value(at.key("protocol"), quoted("h2"), fix));
        }
        (Protocol::H2c, true) => {
            let fix = "\"h2c\" is HTTP/2 in clear text: remove tls, or use \"h2\" over TLS";
            return Err(Problem::value(at.key("protocol"), quoted("h2c"), fix));
        }
        _ => {}
    }
    let streams = raw.streams.take().unwrap_or(1);
    if !(1..=MAX_STREAMS).contains(&streams) {
        return Err(Problem::value(at.key("streams"), streams, STREAMS));
    }
    if streams > 1 && protocol == Protocol::H1 {
        let fix = "HTTP/1.1 sends one request at a time per connection: set protocol = \"h2\" \
                   or \"h2c\", or raise connections instead";
        return Err(Problem::value(at.key("streams"), streams, fix));
    }
    Ok((protocol, streams as u32))
}

/// What a PEM certificate starts with.
const PEM_CERTIFICATE: &[u8] = b"-----BEGIN CERTIFICATE-----";

/// TLS to the targets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tls {
    /// The name sent (SNI) and verified against the certificate; empty: the target's IP.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub sni: String,
    /// The PEM file of trusted roots, as the plan gives it; `None`: the system's roots.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca: Option<String>,
    /// `ca`'s contents, read by [`read_files`]; not echoed in results.
    #[serde(skip)]
    pub ca_pem: Vec<u8>,
    /// Accept any certificate.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub insecure_skip_verify: bool,
    /// ALPN protocols offered, in order.
    pub alpn: Vec<String>,
    /// Session resumption on reconnects.
    pub resume: bool,
}

impl Tls {
    pub(super) fn to_wire(&self) -> v1::TlsSpec {
        v1::TlsSpec {
            server_name: self.sni.clone(),
            ca_pem: self.ca_pem.clone(),
            insecure_skip_verify: self.insecure_skip_verify,
            alpn: self.alpn.clone(),
            no_resume: !self.resume,
        }
    }
}

/// `tls` and its keys, taken out of `raw`; `None` for clear text. The keys of TLS without
/// `tls = true` are refused (they would be silently unused).
pub(super) fn tls(
    raw: &mut RawLoad,
    at: &KeyPath,
    protocol: Protocol,
) -> Result<Option<Tls>, Problem> {
    let (sni, ca, insecure, alpn, resume) = (
        raw.sni.take(),
        raw.ca.take(),
        raw.insecure_skip_verify.take(),
        raw.alpn.take(),
        raw.resume.take(),
    );
    if raw.tls.take() != Some(true) {
        let given = [
            ("sni", sni.is_some()),
            ("ca", ca.is_some()),
            ("insecure_skip_verify", insecure.is_some()),
            ("alpn", alpn.is_some()),
            ("resume", resume.is_some()),
        ];
        if let Some((key, _)) = given.iter().find(|(_, given)| *given) {
            let fix = format!("used with tls = true only; add tls = true or remove {key}");
            return Err(Problem::about(at.key(key), &fix));
        }
        return Ok(None);
    }
    let sni = match sni {
        None => String::new(),
        Some(name) => {
            let fine = !name.is_empty()
                && name.len() <= 253
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-._:[]".contains(&b));
            if !fine {
                return Err(Problem::value(at.key("sni"), quoted(&name), SNI));
            }
            name
        }
    };
    let insecure_skip_verify = insecure.unwrap_or(false);
    if let (Some(ca), true) = (&ca, insecure_skip_verify) {
        let fix = "insecure_skip_verify = true accepts any certificate, so ca would be unused; \
                   remove one of them";
        return Err(Problem::value(at.key("ca"), quoted(ca), fix));
    }
    if let Some(path) = &ca {
        if path.trim().is_empty() {
            return Err(Problem::value(at.key("ca"), quoted(path), CA));
        }
    }
    let speaks = match protocol {
        Protocol::H1 => "http/1.1",
        Protocol::H2 | Protocol::H2c => "h2",
    };
    let alpn = alpn.unwrap_or_else(|| vec![speaks.to_owned()]);
    if protocol == Protocol::H2 && !alpn.iter().any(|p| p == "h2") {
        let fix = "protocol = \"h2\" needs \"h2\" offered; add it, or leave alpn out";
        return Err(Problem::value(at.key("alpn"), format!("{alpn:?}"), fix));
    }
    let fine = alpn.len() <= 8
        && alpn
            .iter()
            .all(|p| !p.is_empty() && p.len() <= 255 && p.bytes().all(|b| b.is_ascii_graphic()));
    if !fine {
        return Err(Problem::value(at.key("alpn"), format!("{alpn:?}"), ALPN));
    }
    Ok(Some(Tls {
        sni,
        ca,
        ca_pem: Vec::new(),
        insecure_skip_verify,
        alpn,
        resume: resume.unwrap_or(true),
    }))
}

/// Reads the files `tls` names (`ca`), relative to `base` (the plan file's folder).
pub(super) fn read_files(tls: &mut Tls, base: &Path) -> Result<(), Problem> {
    let Some(ca) = &tls.ca else {
        return Ok(());
    };
    let at = || KeyPath::root().key("load").key("ca");
    let pem = std::fs::read(base.join(ca))
        .map_err(|e| Problem::value(at(), quoted(ca), &format!("cannot be read ({e}); {CA}")))?;
    if !pem
        .windows(PEM_CERTIFICATE.len())
        .any(|w| w == PEM_CERTIFICATE)
    {
        let fix = format!(
            "holds no PEM certificate (no {:?} line); {CA}",
            "-----BEGIN CERTIFICATE-----"
        );
        return Err(Problem::value(at(), quoted(ca), &fix));
    }
    tls.ca_pem = pem;
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::plan::parse;

    fn plan(load_keys: &str) -> String {
        format!(
            "name = \"t\"\n[target]\nname = \"async\"\n[load]\nmode = \"closed\"\n\
             duration = \"1s\"\n{load_keys}\n[[layouts]]\nname = \"one\"\nreplicas = 1\n"
        )
    }

    #[test]
    fn tls_defaults_offer_http1_and_resume_and_go_on_the_wire() {
        let parsed = parse(&plan("tls = true"), "p.toml").expect("valid");
        let tls = parsed.load.tls.clone().expect("tls");
        assert_eq!(tls.alpn, ["http/1.1"]);
        assert!(tls.resume && !tls.insecure_skip_verify && tls.sni.is_empty());
        let wire = parsed.load.to_spec().tls.expect("on the wire");
        assert_eq!(wire.alpn, ["http/1.1"]);
        assert!(!wire.no_resume);
        let parsed = parse(
            &plan("tls = true\nsni = \"api.test\"\nresume = false\nalpn = []"),
            "p.toml",
        )
        .expect("valid");
        let wire = parsed.load.to_spec().tls.expect("tls");
        assert_eq!(wire.server_name, "api.test");
        assert!(wire.no_resume && wire.alpn.is_empty());
        assert_eq!(parse(&plan(""), "p.toml").expect("clear").load.tls, None);
    }

    #[test]
    fn http2_keys_go_on_the_wire_and_h2_offers_h2_by_default() {
        use numaload_proto::v1;
        let parsed = parse(&plan("protocol = \"h2c\"\nstreams = 10"), "p.toml").expect("h2c");
        let wire = parsed.load.to_spec();
        assert_eq!(wire.protocol, v1::HttpProtocol::H2c as i32);
        assert_eq!(wire.streams, 10);
        assert_eq!(wire.tls, None);
        let parsed = parse(&plan("protocol = \"h2\"\ntls = true"), "p.toml").expect("h2");
        assert_eq!(parsed.load.tls.expect("tls").alpn, ["h2"]);
        assert_eq!(parsed.load.streams, 1);
        let echo =
            serde_json::to_value(&parse(&plan(""), "p.toml").expect("h1").load).expect("json");
        assert_eq!(echo.get("protocol"), None, "HTTP/1.1 is not echoed");
        assert_eq!(
            parse(&plan(""), "p.toml")
                .expect("h1")
                .load
                .to_spec()
                .protocol,
            v1::HttpProtocol::H1 as i32
        );
    }

    #[test]
    fn http2_keys_are_refused_naming_the_key_and_the_fix() {
        let cases = [
            (
                "protocol = \"h3\"",
                "load.protocol",
                "\"h2c\" (HTTP/2 in clear text)",
            ),
            ("protocol = \"h2\"", "load.protocol", "add tls = true"),
            (
                "protocol = \"h2c\"\ntls = true",
                "load.protocol",
                "remove tls",
            ),
            ("streams = 4", "load.streams", "set protocol = \"h2\""),
            (
                "protocol = \"h2c\"\nstreams = 0",
                "load.streams",
                "1 to 1000",
            ),
            (
                "protocol = \"h2\"\ntls = true\nalpn = [\"http/1.1\"]",
                "load.alpn",
                "needs \"h2\" offered",
            ),
            ("streams = \"many\"", "load.streams", "whole number"),
        ];
        for (keys, key, fix) in cases {
            let message = parse(&plan(keys), "p.toml").expect_err(keys).to_string();
            assert!(message.contains(key), "{keys}: {message}");
            assert!(message.contains(fix), "{keys}: {message}");
        }
    }

    #[test]
    fn tls_keys_are_refused_naming_the_key_and_the_fix() {
        let cases = [
            ("sni = \"a\"", "load.sni", "tls = true only"),
            (
                "tls = false\nresume = false",
                "load.resume",
                "tls = true only",
            ),
            ("tls = true\nsni = \"a b\"", "load.sni", "host name"),
            (
                "tls = true\nca = \"ca.pem\"\ninsecure_skip_verify = true",
                "load.ca",
                "remove one of them",
            ),
            ("tls = true\nalpn = [\"\"]", "load.alpn", "protocol names"),
            ("tls = \"yes\"", "load.tls", "true or false"),
        ];
        for (keys, key, fix) in cases {
            let message = parse(&plan(keys), "p.toml").expect_err(keys).to_string();
            assert!(message.contains(key), "{keys}: {message}");
            assert!(message.contains(fix), "{keys}: {message}");
        }
    }

    #[test]
    fn the_ca_file_is_read_relative_to_the_plan_and_a_missing_one_named() {
        let dir = std::env::temp_dir().join(format!("numaload-ca-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        std::fs::write(dir.join("ca.pem"), b"-----BEGIN CERTIFICATE-----\n").expect("pem");
        let path = dir.join("plan.toml");
        std::fs::write(&path, plan("tls = true\nca = \"ca.pem\"")).expect("plan");
        let loaded = crate::plan::load(&path).expect("loads");
        let tls = loaded.load.tls.expect("tls");
        assert_eq!(tls.ca_pem, b"-----BEGIN CERTIFICATE-----\n");
        assert!(
            !serde_json::to_string(&loaded.load.mode)
                .unwrap_or_default()
                .contains("BEGIN"),
            "the PEM is not echoed"
        );
        std::fs::write(dir.join("key.pem"), b"-----BEGIN PRIVATE KEY-----\n").expect("key");
        std::fs::write(&path, plan("tls = true\nca = \"key.pem\"")).expect("plan");
        let message = crate::plan::load(&path)
            .expect_err("no certificate")
            .to_string();
        assert!(message.contains("holds no PEM certificate"), "{message}");
        std::fs::write(&path, plan("tls = true\nca = \"gone.pem\"")).expect("plan");
        let message = crate::plan::load(&path).expect_err("missing").to_string();
        assert!(
            message.contains("load.ca") && message.contains("gone.pem"),
            "{message}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
