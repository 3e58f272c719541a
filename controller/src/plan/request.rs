//! What the load generator sends: `load.method`, `path`, `headers`, `body` (or a gRPC call,
//! `grpc`, read in `grpc/`), or a weighted mix of `[[load.requests]]`, and which response
//! statuses count as success (`expect_status`).
//!
//! The keys, their defaults and examples are in `docs/plan.md`, sections `[load]` and
//! `[[load.requests]]`.
//!
//! The single form becomes one request named `METHOD path` (`GET /` when nothing is set).

use std::collections::{BTreeMap, HashSet};

use numaload_proto::v1;
use serde::{Deserialize, Serialize};

use super::grpc::{self, Grpc};
use super::problem::{quoted, status_codes, KeyPath, Problem};
use super::raw::{RawLoad, RawRequest};

pub(super) const METHOD: &str = "must be an HTTP method, a token such as \"GET\" or \"POST\"";
pub(super) const PATH: &str = "must start with \"/\" (or be \"*\") with no spaces or control \
                               characters (percent-encode them, e.g. %20)";
pub(super) const HEADERS: &str =
    "must be a table of header name = \"value\", e.g. headers = { Accept = \"text/plain\" }";
pub(super) const HEADER_VALUE: &str = "must be a one-line string (no CR or LF)";
pub(super) const BODY: &str = "must be a string, sent as the request body";
pub(super) const WEIGHT: &str = "must be a positive whole number (the share of the mix)";
pub(super) const EXPECT_STATUS: &str =
    "must be a list of HTTP status codes from 100 to 599, e.g. [200, 204]";
pub(super) const REQUESTS: &str = "must be one or more [[load.requests]] tables (double brackets)";
pub(super) const REQUEST_NAME: &str = "must be a non-empty one-line string, e.g. name = \"read\"";

/// Headers the generator writes itself (or that would change how the body is framed).
const RESERVED_HEADERS: [&str; 3] = ["host", "content-length", "transfer-encoding"];
/// Headers a gRPC call sets itself.
const GRPC_HEADERS: [&str; 2] = ["content-type", "te"];

/// One request of the mix.
///
/// Serialized as the file writes a `[[load.requests]]` table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    /// Unique in the mix; names the request in reports.
    pub name: String,
    pub method: String,
    pub path: String,
    /// Header name → value, as written (the generator adds `Host` and `Content-Length`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub body: String,
    /// Its share of the mix is weight / sum of weights.
    pub weight: u32,
    /// A gRPC call: `method` is `POST` and `path` its `/package.Service/Method`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grpc: Option<Grpc>,
}

impl Request {
    /// `GET /`: what is sent when the plan says nothing.
    pub fn default_get() -> Self {
        Request {
            name: "GET /".to_owned(),
            method: "GET".to_owned(),
            path: "/".to_owned(),
            headers: BTreeMap::new(),
            body: String::new(),
            weight: 1,
            grpc: None,
        }
    }

    pub(super) fn to_wire(&self) -> v1::HttpRequest {
        let header = |name: &str, value: &str| v1::Header {
            name: name.to_owned(),
            value: value.to_owned(),
        };
        let mut headers: Vec<v1::Header> = self
            .headers
            .iter()
            .map(|(name, value)| header(name, value))
            .collect();
        let body = match &self.grpc {
            None => self.body.clone().into_bytes(),
            Some(call) => {
                headers.push(header("content-type", "application/grpc"));
                headers.push(header("te", "trailers"));
                grpc::frame(&call.message)
            }
        };
        v1::HttpRequest {
            name: self.name.clone(),
            method: self.method.clone(),
            path: self.path.clone(),
            headers,
            body,
            weight: self.weight,
            grpc: self.grpc.as_ref().map(Grpc::to_wire),
        }
    }
}

/// A result without `requests` sent `GET /`, the request of a plan that names none.
pub(super) fn default_requests() -> Vec<Request> {
    vec![Request::default_get()]
}

/// The requests of a `[load]` table (`at` is `load`): the single form or the mix.
pub(super) fn requests(raw: &mut RawLoad, at: &KeyPath) -> Result<Vec<Request>, Problem> {
    let Some(mix) = raw.requests.take() else {
        let single = RawRequest {
            name: None,
            method: raw.method.take(),
            path: raw.path.take(),
            headers: raw.headers.take(),
            body: raw.body.take(),
            weight: None,
            grpc: raw.grpc.take(),
        };
        return Ok(vec![request(single, at)?]);
    };
    let single = [
        ("method", raw.method.is_some()),
        ("path", raw.path.is_some()),
        ("headers", raw.headers.is_some()),
        ("body", raw.body.is_some()),
        ("grpc", raw.grpc.is_some()),
    ];
    if let Some((key, _)) = single.iter().find(|(_, set)| *set) {
        let text = format!(
            "not used with load.requests (each request has its own {key}); move it into \
             the requests or remove the requests"
        );
        return Err(Problem::about(at.key(key), &text));
    }
    if mix.is_empty() {
        return Err(Problem::value(at.key("requests"), "[]", REQUESTS));
    }
    let mut names = HashSet::new();
    let mut out = Vec::with_capacity(mix.len());
    for (index, raw) in mix.into_iter().enumerate() {
        let shown = raw.name.as_deref().filter(|name| !name.trim().is_empty());
        let here = at.key("requests").item(index, shown);
        let request = request(raw, &here)?;
        if !names.insert(request.name.clone()) {
            let text = format!(
                "two requests are named {:?}; names must be unique (set name = ...)",
                request.name
            );
            return Err(Problem::about(at.key("requests"), &text));
        }
        out.push(request);
    }
    Ok(out)
}

/// One request; `at` is its table (`load` for the single form).
fn request(mut raw: RawRequest, at: &KeyPath) -> Result<Request, Problem> {
    let call = match raw.grpc.take() {
        Some(table) => Some(grpc_call(&mut raw, table, at)?),
        None => None,
    };
    let method = raw.method.unwrap_or_else(|| "GET".to_owned());
    if !is_token(&method) {
        return Err(Problem::value(at.key("method"), quoted(&method), METHOD));
    }
    let path = raw.path.unwrap_or_else(|| "/".to_owned());
    let path_ok = path == "*"
        || (path.starts_with('/') && !path.chars().any(|c| c.is_whitespace() || c.is_control()));
    if !path_ok {
        return Err(Problem::value(at.key("path"), quoted(&path), PATH));
    }
    let headers = match &raw.headers {
        Some(table) => headers(table, &at.key("headers"))?,
        None => BTreeMap::new(),
    };
    let weight = raw.weight.unwrap_or(1);
    if weight == 0 {
        return Err(Problem::value(at.key("weight"), 0, WEIGHT));
    }
    let name = match (raw.name, &call) {
        (Some(name), _) if name.trim().is_empty() || name.chars().any(char::is_control) => {
            return Err(Problem::value(at.key("name"), quoted(&name), REQUEST_NAME));
        }
        (Some(name), _) => name,
        (None, Some(call)) => call.method.clone(),
        (None, None) => format!("{method} {path}"),
    };
    Ok(Request {
        name,
        method,
        path,
        headers,
        body: raw.body.unwrap_or_default(),
        weight,
        grpc: call,
    })
}

/// The `grpc` table of a request (`at`): `method`, `path` and `body` are the call's to set, and
/// so are the headers `content-type` and `te`.
fn grpc_call(
    raw: &mut RawRequest,
    table: super::raw::RawGrpc,
    at: &KeyPath,
) -> Result<Grpc, Problem> {
    let given = [
        ("method", raw.method.is_some()),
        ("path", raw.path.is_some()),
        ("body", raw.body.is_some()),
    ];
    if let Some((key, _)) = given.iter().find(|(_, set)| *set) {
        let text = "not used with grpc: a call is a POST to /package.Service/Method with the \
                    encoded request as its body; remove it";
        return Err(Problem::about(at.key(key), text));
    }
    if let Some(headers) = &raw.headers {
        if let Some(name) = headers
            .keys()
            .find(|name| GRPC_HEADERS.contains(&name.to_ascii_lowercase().as_str()))
        {
            let text = format!("a gRPC call sets {name} itself; remove it");
            return Err(Problem::about(at.key("headers").key(name), &text));
        }
    }
    let call = grpc::grpc(table, &at.key("grpc"))?;
    raw.method = Some("POST".to_owned());
    raw.path = Some(call.path());
    Ok(call)
}

fn headers(table: &toml::Table, at: &KeyPath) -> Result<BTreeMap<String, String>, Problem> {
    let mut seen = HashSet::new();
    let mut out = BTreeMap::new();
    for (name, value) in table {
        let here = at.key(name);
        if !is_token(name) {
            let text = "not a header name: use letters, digits and -, e.g. X-Request-Id";
            return Err(Problem::about(here, text));
        }
        let lower = name.to_ascii_lowercase();
        if RESERVED_HEADERS.contains(&lower.as_str()) {
            let text = format!(
                "the load generator writes {name} itself (Host from the replica's address, \
                 Content-Length from the body); remove it"
            );
            return Err(Problem::about(here, &text));
        }
        if !seen.insert(lower) {
            let text = format!("{name} is given twice (header names ignore case); keep one");
            return Err(Problem::about(here, &text));
        }
        let value = match value {
            toml::Value::String(text) if !text.contains(['\r', '\n', '\0']) => text.clone(),
            toml::Value::String(text) => {
                return Err(Problem::value(here, quoted(text), HEADER_VALUE))
            }
            other => return Err(Problem::value(here, other, HEADER_VALUE)),
        };
        out.insert(name.clone(), value);
    }
    Ok(out)
}

/// `expect_status`: sorted, without repeats; empty (any 2xx) when not given.
pub(super) fn expect_status(raw: Option<Vec<i64>>, at: &KeyPath) -> Result<Vec<u16>, Problem> {
    let Some(codes) = raw else {
        return Ok(Vec::new());
    };
    if codes.is_empty() {
        let fix = "must list one or more status codes; remove it to accept any 2xx";
        return Err(Problem::value(at.clone(), "[]", fix));
    }
    status_codes(codes, at, 100..=599, EXPECT_STATUS)
}

/// An RFC 9110 token: one or more of the visible characters allowed in methods and header names.
pub(super) fn is_token(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens() {
        for (text, ok) in [
            ("GET", true),
            ("M-SEARCH", true),
            ("X-Request-Id", true),
            ("", false),
            ("GET /", false),
            ("a:b", false),
            ("é", false),
            ("a\r\n", false),
        ] {
            assert_eq!(is_token(text), ok, "{text:?}");
        }
    }

    #[test]
    fn a_request_reaches_the_wire_with_its_body_as_bytes() {
        let mut request = Request::default_get();
        request.headers.insert("Accept".into(), "text/plain".into());
        request.body = "{}".into();
        let wire = request.to_wire();
        assert_eq!(wire.name, "GET /");
        assert_eq!(wire.body, b"{}");
        assert_eq!(wire.headers[0].name, "Accept");
        assert_eq!(wire.weight, 1);
    }
}
