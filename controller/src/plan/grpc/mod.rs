//! gRPC calls in a plan: `grpc = { method, request | request_bin, descriptors, expect_status }`
//! in `[load]` or in a `[[load.requests]]` table. The keys, defaults and examples are in
//! `docs/plan.md`, section "`grpc` in `[load]` and `[[load.requests]]`".
//!
//! Validation ([`grpc`]) is pure: the files stay paths. [`read_files`] (called by
//! `plan::load_with` with the plan file's folder) reads the descriptor set and the request, and
//! encodes the message once, before any load (`codec.rs`); the agents receive an ordinary
//! request (`POST /package.Service/Method`, `content-type: application/grpc`, `te: trailers`,
//! the framed message as its body) and the `grpc-status` codes that count as success.

mod codec;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use numaload_proto::v1;
use prost_reflect::DescriptorPool;
use serde::{Deserialize, Serialize};

use super::problem::{non_empty, quoted, status_codes, KeyPath, Problem};
use super::raw::RawGrpc;

pub use codec::frame;

pub(super) const GRPC: &str = "must be a table, e.g. grpc = { method = \"pkg.Service/Method\", \
                               request = \"req.json\", descriptors = \"api.protoset\" }";
pub(super) const METHOD: &str =
    "must be \"package.Service/Method\", e.g. \"numaload.bench.v1.Bench/Work\"";
pub(super) const REQUEST: &str =
    "must be the path of a JSON file holding the request message, relative to the plan";
pub(super) const REQUEST_BIN: &str =
    "must be the path of a file holding the encoded request message, relative to the plan";
pub(super) const DESCRIPTORS: &str = "must be the path of a file descriptor set (protoc \
                                      --include_imports -o api.protoset), relative to the plan";
pub(super) const EXPECT_STATUS: &str =
    "must be a list of gRPC status codes from 0 to 16, e.g. [0, 5]";

/// What a key of a `grpc` table must hold, by its schema path (`load.grpc.method`,
/// `load.requests.grpc.method`); `None` for any other key.
pub(super) fn expectation(schema: &str) -> Option<&'static str> {
    let key = schema
        .strip_prefix("load.requests.")
        .or_else(|| schema.strip_prefix("load."))?;
    Some(match key {
        "grpc" => GRPC,
        "grpc.method" => METHOD,
        "grpc.request" => REQUEST,
        "grpc.request_bin" => REQUEST_BIN,
        "grpc.descriptors" => DESCRIPTORS,
        "grpc.expect_status" => EXPECT_STATUS,
        _ => return None,
    })
}

/// The largest request file read (gRPC's usual message limit).
const MAX_REQUEST: u64 = 4 << 20;
/// The largest descriptor set read.
const MAX_DESCRIPTORS: u64 = 64 << 20;

/// A gRPC unary call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grpc {
    /// `package.Service/Method`.
    pub method: String,
    /// The JSON request file, as the plan gives it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<String>,
    /// The encoded request file, as the plan gives it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_bin: Option<String>,
    /// The file descriptor set, as the plan gives it.
    pub descriptors: String,
    /// The `grpc-status` codes that count as success, sorted.
    pub expect_status: Vec<u32>,
    /// The encoded request message, made by [`read_files`]; not echoed in results.
    #[serde(skip)]
    pub message: Vec<u8>,
    /// Where the table is in the plan, for the problems of its files.
    #[serde(skip)]
    at: KeyPath,
}

impl Grpc {
    /// The request's path: `/package.Service/Method`.
    pub fn path(&self) -> String {
        format!("/{}", self.method)
    }

    /// The wire's part of a request that is this call.
    pub(super) fn to_wire(&self) -> v1::GrpcCall {
        v1::GrpcCall {
            expect_status: self.expect_status.clone(),
        }
    }
}

/// A `grpc` table (`at` is its key), validated.
pub(super) fn grpc(raw: RawGrpc, at: &KeyPath) -> Result<Grpc, Problem> {
    let method = raw
        .method
        .ok_or_else(|| Problem::missing(at.key("method"), METHOD))?;
    let shape_ok = method.split_once('/').is_some_and(|(service, name)| {
        let ident = |text: &str, dots: bool| {
            !text.is_empty()
                && !text.starts_with('.')
                && !text.ends_with('.')
                && text
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || (dots && c == '.'))
        };
        ident(service, true) && ident(name, false)
    });
    if !shape_ok {
        return Err(Problem::value(at.key("method"), quoted(&method), METHOD));
    }
    let descriptors = raw
        .descriptors
        .ok_or_else(|| Problem::missing(at.key("descriptors"), DESCRIPTORS))?;
    let descriptors = non_empty(descriptors, at.key("descriptors"), DESCRIPTORS)?;
    if let (Some(_), Some(bin)) = (&raw.request, &raw.request_bin) {
        let fix = "a call has one request: keep request (JSON) or request_bin (encoded), not both";
        return Err(Problem::value(at.key("request_bin"), quoted(bin), fix));
    }
    let request = raw
        .request
        .map(|path| non_empty(path, at.key("request"), REQUEST))
        .transpose()?;
    let request_bin = raw
        .request_bin
        .map(|path| non_empty(path, at.key("request_bin"), REQUEST_BIN))
        .transpose()?;
    let expect_status = expect_status(raw.expect_status, &at.key("expect_status"))?;
    Ok(Grpc {
        method,
        request,
        request_bin,
        descriptors,
        expect_status,
        message: Vec::new(),
        at: at.clone(),
    })
}

/// `expect_status` of a call: sorted, without repeats; `[0]` when not given.
fn expect_status(raw: Option<Vec<i64>>, at: &KeyPath) -> Result<Vec<u32>, Problem> {
    let Some(codes) = raw else {
        return Ok(vec![0]);
    };
    if codes.is_empty() {
        let fix = "must list one or more gRPC status codes; remove it to accept only 0 (OK)";
        return Err(Problem::value(at.clone(), "[]", fix));
    }
    let codes = status_codes(codes, at, 0..=16, EXPECT_STATUS)?;
    Ok(codes.into_iter().map(u32::from).collect())
}

/// Reads the files of the gRPC `calls` of a plan, relative to `base` (the plan file's folder),
/// and encodes each call's message. A descriptor set named by several calls is read once.
pub(super) fn read_files<'a>(
    calls: impl IntoIterator<Item = &'a mut Grpc>,
    base: &Path,
) -> Result<(), Problem> {
    let mut pools: HashMap<PathBuf, DescriptorPool> = HashMap::new();
    for grpc in calls {
        let path = base.join(&grpc.descriptors);
        let pool = match pools.get(&path) {
            Some(pool) => pool.clone(),
            None => {
                let at = grpc.at.key("descriptors");
                let bytes = read(&path, MAX_DESCRIPTORS, &at, &grpc.descriptors, DESCRIPTORS)?;
                let pool = codec::descriptors(&bytes)
                    .map_err(|e| Problem::value(at, quoted(&grpc.descriptors), &e))?;
                pools.insert(path, pool.clone());
                pool
            }
        };
        let method = codec::unary_method(&pool, &grpc.method)
            .map_err(|e| Problem::value(grpc.at.key("method"), quoted(&grpc.method), &e))?;
        let input = method.input();
        grpc.message = match (&grpc.request, &grpc.request_bin) {
            (Some(file), _) => {
                let at = grpc.at.key("request");
                let bytes = read(&base.join(file), MAX_REQUEST, &at, file, REQUEST)?;
                let text = String::from_utf8(bytes)
                    .map_err(|_| Problem::value(at.clone(), quoted(file), "is not UTF-8 text"))?;
                codec::encode_json(&input, &text)
                    .map_err(|e| Problem::value(at, quoted(file), &e))?
            }
            (None, Some(file)) => {
                let at = grpc.at.key("request_bin");
                let bytes = read(&base.join(file), MAX_REQUEST, &at, file, REQUEST_BIN)?;
                codec::check_bin(&input, bytes).map_err(|e| Problem::value(at, quoted(file), &e))?
            }
            // No request: the input type's default message, which encodes to nothing.
            (None, None) => Vec::new(),
        };
    }
    Ok(())
}

/// The bytes of `path` (`shown` as the plan gives it), at most `limit`.
fn read(path: &Path, limit: u64, at: &KeyPath, shown: &str, fix: &str) -> Result<Vec<u8>, Problem> {
    let refuse = |why: String| Problem::value(at.clone(), quoted(shown), &format!("{why}; {fix}"));
    let size = std::fs::metadata(path)
        .map_err(|e| refuse(format!("cannot be read ({e})")))?
        .len();
    if size > limit {
        return Err(refuse(format!(
            "is {size} bytes, over the {limit} accepted"
        )));
    }
    std::fs::read(path).map_err(|e| refuse(format!("cannot be read ({e})")))
}

#[cfg(test)]
mod tests;
