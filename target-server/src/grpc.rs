//! The gRPC service on the server's one port, `numaload.bench.v1.Bench`, unary, over HTTP/2
//! (h2c or h2 by ALPN), with two methods:
//!
//! - `Work` does the same work as a plain request (the `async` variant's spin, the `ffi`
//!   variant's dispatched C call), echoes the request's `payload` in its reply, and ends with
//!   the `grpc-status` the request's `reply_status` asks for (0 unless set), so a load test
//!   can mix calls that succeed with calls that fail on purpose;
//! - `Echo` answers its request's `payload` at once, with no work: the cost of the gRPC path
//!   alone (framing, headers, trailers), beside `Work` in a mix.
//!
//! The service's descriptors ship as `target-server/proto/bench.protoset` (its source beside
//! it).
//!
//! Written on hyper rather than tonic: two methods, whose requests and replies are prost
//! messages framed here ([`frame`], [`unframe`]). Every call is answered with HTTP 200,
//! `content-type: application/grpc` and the status in the trailers, and counted by method
//! and status; a `Work` call whose work could not run (the `ffi` variant shutting down, a
//! failed C call) ends `UNAVAILABLE` or `INTERNAL`.

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use http_body_util::{BodyExt as _, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::{HeaderMap, Request, Response};
use prost::Message as _;

use crate::metrics::{GrpcMethod, RequestStatus, ServerMetrics};
use crate::response::Body;

/// The fully qualified service name.
pub const SERVICE: &str = "numaload.bench.v1.Bench";
/// The path of its `Work` method.
pub const WORK_PATH: &str = "/numaload.bench.v1.Bench/Work";
/// The path of its `Echo` method.
pub const ECHO_PATH: &str = "/numaload.bench.v1.Bench/Echo";
/// The largest request message read (gRPC's usual default).
pub const MAX_MESSAGE: usize = 4 << 20;

/// gRPC status codes this service answers with, by name (the rest are plain numbers).
pub mod code {
    pub const OK: u32 = 0;
    pub const INVALID_ARGUMENT: u32 = 3;
    pub const RESOURCE_EXHAUSTED: u32 = 8;
    pub const INTERNAL: u32 = 13;
    pub const UNAVAILABLE: u32 = 14;
    /// The largest code gRPC defines (`UNAUTHENTICATED`).
    pub const MAX: u32 = 16;
}

/// `numaload.bench.v1.WorkRequest`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct WorkRequest {
    /// Echoed in the reply.
    #[prost(bytes = "bytes", tag = "1")]
    pub payload: Bytes,
    /// The `grpc-status` to end the call with, 0 to 16.
    #[prost(uint32, tag = "2")]
    pub reply_status: u32,
}

/// `numaload.bench.v1.WorkReply`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct WorkReply {
    /// The request's payload.
    #[prost(bytes = "bytes", tag = "1")]
    pub payload: Bytes,
}

/// `numaload.bench.v1.EchoRequest`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct EchoRequest {
    /// Returned in the reply.
    #[prost(bytes = "bytes", tag = "1")]
    pub payload: Bytes,
}

/// `numaload.bench.v1.EchoReply`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct EchoReply {
    /// The request's payload.
    #[prost(bytes = "bytes", tag = "1")]
    pub payload: Bytes,
}

/// How a call ends: its `grpc-status` and, when not 0, a `grpc-message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    pub code: u32,
    pub message: &'static str,
}

impl Status {
    const OK: Status = Status {
        code: code::OK,
        message: "",
    };
}

/// One message in gRPC's length-prefixed framing: a compression flag (0), the length as a
/// big-endian u32, the message.
pub fn frame(message: &[u8]) -> Bytes {
    let mut framed = Vec::with_capacity(5 + message.len());
    framed.push(0);
    // A message over 4 GiB cannot be framed; MAX_MESSAGE-sized replies are far below.
    framed.extend_from_slice(
        &u32::try_from(message.len())
            .unwrap_or(u32::MAX)
            .to_be_bytes(),
    );
    framed.extend_from_slice(message);
    Bytes::from(framed)
}

/// The one message of a unary request body, or the status to answer with.
pub fn unframe(body: &[u8]) -> Result<&[u8], Status> {
    let malformed = |message| Status {
        code: code::INTERNAL,
        message,
    };
    let [flag, a, b, c, d, rest @ ..] = body else {
        return Err(malformed(
            "the request body is shorter than a gRPC frame's prefix",
        ));
    };
    if *flag != 0 {
        return Err(malformed(
            "compressed messages are not accepted (no grpc-encoding)",
        ));
    }
    let length = u32::from_be_bytes([*a, *b, *c, *d]) as usize;
    match rest.len().cmp(&length) {
        std::cmp::Ordering::Equal => Ok(rest),
        std::cmp::Ordering::Less => Err(malformed("the request body ends inside its message")),
        std::cmp::Ordering::Greater => Err(malformed("a unary request holds one message")),
    }
}

/// The message of type `M` in a unary body, or the status to answer with; `what` names the
/// type in that status.
fn decode_as<M: prost::Message + Default>(body: &[u8], what: &'static str) -> Result<M, Status> {
    M::decode(unframe(body)?).map_err(|_| Status {
        code: code::INTERNAL,
        message: what,
    })
}

/// The `Work` request in a unary body, or the status to answer with.
pub fn decode(body: &[u8]) -> Result<WorkRequest, Status> {
    let request: WorkRequest =
        decode_as(body, "the request is not a numaload.bench.v1.WorkRequest")?;
    if request.reply_status > code::MAX {
        return Err(Status {
            code: code::INVALID_ARGUMENT,
            message: "reply_status must be a gRPC status code, 0 to 16",
        });
    }
    Ok(request)
}

/// The status a call whose work ended as `outcome` answers: the one its request asked for,
/// or why the work did not run.
fn status_after(request: &WorkRequest, outcome: Result<(), RequestStatus>) -> Status {
    match outcome {
        Ok(()) if request.reply_status == code::OK => Status::OK,
        Ok(()) => Status {
            code: request.reply_status,
            message: "reply_status asked for this status",
        },
        Err(RequestStatus::Unavailable) => Status {
            code: code::UNAVAILABLE,
            message: "shutting down",
        },
        Err(_) => Status {
            code: code::INTERNAL,
            message: "the C call failed",
        },
    }
}

/// Serves one `Work` call: reads the request, runs `work`, answers. Counted in `metrics` as a
/// workload request (HTTP 200, the time from the start to the answer) and by `grpc-status`.
pub(crate) async fn call<W, F>(
    request: Request<Incoming>,
    metrics: Arc<ServerMetrics>,
    work: W,
) -> Response<Body>
where
    W: FnOnce() -> F,
    F: Future<Output = Result<(), RequestStatus>>,
{
    let start = Instant::now();
    let (status, reply) = match read_body(request).await.and_then(|body| decode(&body)) {
        Err(status) => (status, Bytes::new()),
        Ok(request) => {
            let status = status_after(&request, work().await);
            let reply = WorkReply {
                payload: request.payload,
            };
            (status, Bytes::from(reply.encode_to_vec()))
        }
    };
    answer(&metrics, GrpcMethod::Work, start, &status, reply)
}

/// Serves one `Echo` call: its payload back, `OK`, no work. Counted as [`call`] counts.
pub(crate) async fn echo(
    request: Request<Incoming>,
    metrics: Arc<ServerMetrics>,
) -> Response<Body> {
    let start = Instant::now();
    let decoded = read_body(request).await.and_then(|body| {
        decode_as::<EchoRequest>(&body, "the request is not a numaload.bench.v1.EchoRequest")
    });
    let (status, reply) = match decoded {
        Err(status) => (status, Bytes::new()),
        Ok(request) => {
            let reply = EchoReply {
                payload: request.payload,
            };
            (Status::OK, Bytes::from(reply.encode_to_vec()))
        }
    };
    answer(&metrics, GrpcMethod::Echo, start, &status, reply)
}

/// A unary request's whole body, at most [`MAX_MESSAGE`] bytes.
async fn read_body(request: Request<Incoming>) -> Result<Bytes, Status> {
    match Limited::new(request.into_body(), MAX_MESSAGE)
        .collect()
        .await
    {
        Ok(body) => Ok(body.to_bytes()),
        Err(_) => Err(Status {
            code: code::RESOURCE_EXHAUSTED,
            message: "the request was cut or is over 4 MiB",
        }),
    }
}

/// Counts a call of `method` that started at `start` and answers it (`reply`: its encoded
/// reply message, sent only when the call succeeded).
fn answer(
    metrics: &ServerMetrics,
    method: GrpcMethod,
    start: Instant,
    status: &Status,
    reply: Bytes,
) -> Response<Body> {
    metrics.request(RequestStatus::Ok, start.elapsed());
    metrics.grpc_reply(method, status.code);
    response(status, reply)
}

/// HTTP 200 with the encoded reply message (when the call succeeded) and the status in the
/// trailers.
fn response(status: &Status, reply: Bytes) -> Response<Body> {
    let mut trailers = HeaderMap::new();
    trailers.insert("grpc-status", HeaderValue::from(status.code));
    let data = if status.code == code::OK {
        frame(&reply)
    } else {
        trailers.insert("grpc-message", HeaderValue::from_static(status.message));
        Bytes::new()
    };
    let mut response = Response::new(Body::with_trailers(data, trailers));
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/grpc"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body_of(request: &impl prost::Message) -> Bytes {
        frame(&request.encode_to_vec())
    }

    #[test]
    fn a_frame_is_flag_length_and_message() {
        assert_eq!(&frame(b"abc")[..], b"\0\0\0\0\x03abc");
        assert_eq!(&frame(b"")[..], b"\0\0\0\0\0");
        assert_eq!(unframe(&frame(b"abc")), Ok(&b"abc"[..]));
        assert_eq!(unframe(&frame(b"")), Ok(&b""[..]));
    }

    #[test]
    fn malformed_frames_are_internal_errors_that_say_why() {
        let cases: [(&[u8], &str); 4] = [
            (b"\0\0\0", "shorter than"),
            (b"\x01\0\0\0\x01a", "compressed"),
            (b"\0\0\0\0\x05abc", "ends inside"),
            (b"\0\0\0\0\x01abc", "one message"),
        ];
        for (body, why) in cases {
            let status = unframe(body).expect_err("malformed");
            assert_eq!(status.code, code::INTERNAL);
            assert!(status.message.contains(why), "{body:?}: {}", status.message);
        }
    }

    #[test]
    fn a_request_is_decoded_and_its_status_checked() {
        let request = WorkRequest {
            payload: Bytes::from_static(b"hi"),
            reply_status: 5,
        };
        assert_eq!(decode(&body_of(&request)), Ok(request));
        assert_eq!(decode(&frame(b"")), Ok(WorkRequest::default()));
        let too_big = WorkRequest {
            reply_status: 17,
            ..WorkRequest::default()
        };
        assert_eq!(
            decode(&body_of(&too_big)).map_err(|s| s.code),
            Err(code::INVALID_ARGUMENT)
        );
        // Field 1 with wire type 7 does not exist.
        assert_eq!(
            decode(&frame(b"\x0f")).map_err(|s| s.code),
            Err(code::INTERNAL)
        );
    }

    #[test]
    fn the_status_is_the_requested_one_unless_the_work_failed() {
        let asks = |reply_status| WorkRequest {
            reply_status,
            ..WorkRequest::default()
        };
        let code_of = |request, outcome| status_after(&request, outcome).code;
        assert_eq!(code_of(asks(0), Ok(())), code::OK);
        assert_eq!(code_of(asks(7), Ok(())), 7);
        assert_eq!(
            code_of(asks(0), Err(RequestStatus::Unavailable)),
            code::UNAVAILABLE
        );
        assert_eq!(code_of(asks(7), Err(RequestStatus::Failed)), code::INTERNAL);
    }

    #[test]
    fn a_reply_carries_the_message_only_on_success_and_the_status_always() {
        let reply = Bytes::from_static(b"reply");
        let ok = response(&Status::OK, reply.clone());
        assert_eq!(ok.headers()[CONTENT_TYPE], "application/grpc");
        assert_eq!(
            hyper::body::Body::size_hint(ok.body()).exact(),
            Some(5 + reply.len() as u64)
        );
        let failed = response(
            &Status {
                code: 9,
                message: "m",
            },
            reply,
        );
        assert_eq!(hyper::body::Body::size_hint(failed.body()).exact(), Some(0));
    }

    #[test]
    fn an_echo_request_is_read_as_its_own_type() {
        let request = EchoRequest {
            payload: Bytes::from_static(b"hi"),
        };
        let what = "not an EchoRequest";
        assert_eq!(decode_as(&body_of(&request), what), Ok(request));
        let malformed = decode_as::<EchoRequest>(&frame(b"\x0f"), what);
        assert_eq!(malformed.map_err(|s| s.message), Err(what));
    }
}
