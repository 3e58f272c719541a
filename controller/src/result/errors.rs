//! A layout's (or a stage's) failed requests by kind ([`ErrorKinds`]), as the result file
//! carries them: from the wire, added up, listed the way the reports print them.

use serde::{Deserialize, Serialize};

use super::defaults::is_zero;

/// Failed requests by kind. Open loop: every request intended inside the measured window is
/// served or counted here once; closed loop: every request sent inside it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorKinds {
    pub connect: u64,
    pub io: u64,
    /// Sent, no complete response within the plan's timeout (also when the window closed).
    pub timeout: u64,
    pub http_status: u64,
    pub parse: u64,
    /// Open loop: intended inside the window, not sent by its close. A result without it reads
    /// 0.
    #[serde(default)]
    pub unsent: u64,
    /// TLS failed: the handshake, or a record or alert during the exchange. A result without it
    /// reads 0.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub tls: u64,
    /// HTTP/2: the server reset the request's stream. A result without it reads 0.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub stream_reset: u64,
    /// A gRPC call answered with a `grpc-status` its request does not expect. A result without
    /// it reads 0.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub grpc_status: u64,
}

/// The wire's error counts, as an agent sent them (absent counts read as none).
impl From<Option<&numaload_proto::v1::ErrorCounts>> for ErrorKinds {
    fn from(wire: Option<&numaload_proto::v1::ErrorCounts>) -> Self {
        let e = wire.copied().unwrap_or_default();
        Self {
            connect: e.connect,
            io: e.io,
            timeout: e.timeout,
            http_status: e.http_status,
            parse: e.parse,
            unsent: e.unsent,
            tls: e.tls,
            stream_reset: e.stream_reset,
            grpc_status: e.grpc_status,
        }
    }
}

impl ErrorKinds {
    /// Each kind with its name as the reports print it, in the order they list them.
    pub fn by_kind(&self) -> [(&'static str, u64); 9] {
        [
            ("connect", self.connect),
            ("tls", self.tls),
            ("io", self.io),
            ("timeout", self.timeout),
            ("http status", self.http_status),
            ("grpc status", self.grpc_status),
            ("parse", self.parse),
            ("unsent", self.unsent),
            ("stream reset", self.stream_reset),
        ]
    }

    /// The kinds of [`ErrorKinds::by_kind`] that were complete responses (counted by
    /// [`ErrorKinds::answered`]); every other kind is a request never answered.
    pub const ANSWERED_KINDS: [&'static str; 2] = ["http status", "grpc status"];

    /// The errors that were complete responses (an unexpected HTTP status or `grpc-status`):
    /// answered, though not as the plan expects.
    pub fn answered(&self) -> u64 {
        self.http_status + self.grpc_status
    }

    pub fn total(&self) -> u64 {
        self.connect
            + self.tls
            + self.io
            + self.timeout
            + self.http_status
            + self.grpc_status
            + self.parse
            + self.unsent
            + self.stream_reset
    }

    pub fn add(&mut self, other: &ErrorKinds) {
        self.connect += other.connect;
        self.io += other.io;
        self.timeout += other.timeout;
        self.http_status += other.http_status;
        self.parse += other.parse;
        self.unsent += other.unsent;
        self.tls += other.tls;
        self.stream_reset += other.stream_reset;
        self.grpc_status += other.grpc_status;
    }
}
