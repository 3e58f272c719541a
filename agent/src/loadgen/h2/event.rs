//! How an HTTP/2 stream ended, as the session reports it ([`Event`]), and the error that ends a
//! whole connection ([`ConnectionError`]).

/// How a stream ended (the tag is what the caller opened it with).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Event<T> {
    /// Complete, with its final status and, when its header blocks held one, its
    /// `grpc-status` (a code gRPC does not define reads as `UNKNOWN`).
    Response {
        tag: T,
        status: u16,
        grpc: Option<u32>,
    },
    /// Ended without a final status (or with a broken one).
    Malformed { tag: T },
    /// Reset by the server (RST_STREAM with this error code).
    Reset { tag: T, code: u32 },
    /// Not processed by the server (above a GOAWAY's last stream, or REFUSED_STREAM): safe
    /// to send again.
    Refused { tag: T },
    /// The server sent GOAWAY: no new stream on this connection.
    GoAway,
}

/// The connection as a whole cannot go on (a protocol error, or a header block lost).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct ConnectionError;
