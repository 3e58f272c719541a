//! How a layout's connections were set up ([`ConnectionSetup`]), as h2load reports it: the
//! TCP connect, the TLS handshake and the time to the first byte of the first response, one
//! value per connection opened while the load ran, merged over workers, agents and trials.

use serde::{Deserialize, Serialize};

use super::defaults::is_zero;
use super::Percentiles;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConnectionSetup {
    /// Connections opened while the load ran (warm-up and window: most open in the warm-up),
    /// each one value of `connect_ns`.
    pub connections: u64,
    /// The TCP connect, nanoseconds.
    pub connect_ns: Percentiles,
    /// TLS: from connected to the handshake done, nanoseconds (absent in clear text).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_handshake_ns: Option<Percentiles>,
    /// TLS handshakes that resumed an earlier session (of `tls_handshake_ns.count`).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub tls_resumed: u64,
    /// From the start of the connect to the first bytes of the connection's first response,
    /// nanoseconds.
    pub first_byte_ns: Percentiles,
}

impl ConnectionSetup {
    /// The share of TLS handshakes that resumed a session; `None` without TLS handshakes.
    pub fn resumed_share(&self) -> Option<f64> {
        let handshakes = self.tls_handshake_ns.as_ref()?.count;
        (handshakes > 0).then(|| self.tls_resumed as f64 / handshakes as f64)
    }
}
