//! Header blocks (RFC 7541). A request's block is encoded once per template and target, before
//! the load ([`request_block`]): fields from the static table where it has them, every other
//! one a literal *without indexing* and without Huffman coding, so the block never depends on
//! a dynamic table and the same bytes are valid on every stream and every connection.
//! Responses' blocks are decoded with `httlib-hpack` ([`StatusDecoder`]), which keeps the
//! connection's dynamic table and decodes Huffman-coded strings with precomputed tables;
//! `:status` is kept, and a gRPC response's `grpc-status` (read by `grpc_status.rs`).

use std::net::SocketAddr;

use crate::loadgen::config::RequestTemplate;
use crate::loadgen::grpc_status::StatusReader;

/// Headers that are HTTP/1.1 connection plumbing: not sent over HTTP/2 (RFC 9113 §8.2.2).
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "upgrade",
    "host",
];

/// Static table entries (RFC 7541 Appendix A) used whole: (name, value, index).
const STATIC_PAIRS: &[(&str, &str, u8)] = &[
    (":method", "GET", 2),
    (":method", "POST", 3),
    (":path", "/", 4),
    (":path", "/index.html", 5),
    (":scheme", "http", 6),
    (":scheme", "https", 7),
];

/// Static table names used with a literal value: (name, index).
const STATIC_NAMES: &[(&str, u8)] = &[
    (":authority", 1),
    (":method", 2),
    (":path", 4),
    ("content-length", 28),
    ("content-type", 31),
    ("user-agent", 58),
];

/// The header block of `template` (none: `GET /`) to `target`; `tls` picks the scheme. The
/// authority is the template's `Host` header if it has one, else the target's address, as
/// the HTTP/1.1 request would say in `Host`.
pub(super) fn request_block(
    template: Option<&RequestTemplate>,
    target: SocketAddr,
    tls: bool,
) -> Vec<u8> {
    let mut block = Vec::new();
    let (method, path) = template.map_or(("GET", "/"), |t| (t.method.as_str(), t.path.as_str()));
    let headers = template.map_or(&[][..], |t| t.headers.as_slice());
    let has = |name: &str| headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(name));
    let authority = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("host"))
        .map_or_else(|| target.to_string(), |(_, v)| v.clone());
    put_field(&mut block, ":method", method);
    put_field(&mut block, ":scheme", if tls { "https" } else { "http" });
    put_field(&mut block, ":authority", &authority);
    put_field(&mut block, ":path", path);
    for (name, value) in headers {
        let name = name.to_ascii_lowercase();
        if !HOP_BY_HOP.contains(&name.as_str()) {
            put_field(&mut block, &name, value.trim());
        }
    }
    if let Some(t) = template {
        let body_method = matches!(t.method.as_str(), "POST" | "PUT" | "PATCH");
        if !has("content-length") && (!t.body.is_empty() || body_method) {
            put_field(&mut block, "content-length", &t.body.len().to_string());
        }
    }
    block
}

/// One field: indexed when the static table holds the pair, else a literal without indexing
/// (its name indexed when the static table has it).
fn put_field(out: &mut Vec<u8>, name: &str, value: &str) {
    if let Some(&(.., index)) = STATIC_PAIRS
        .iter()
        .find(|&&(n, v, _)| n == name && v == value)
    {
        return put_integer(out, 0x80, 7, usize::from(index));
    }
    match STATIC_NAMES.iter().find(|&&(n, _)| n == name) {
        Some(&(_, index)) => put_integer(out, 0x00, 4, usize::from(index)),
        None => {
            out.push(0x00);
            put_string(out, name.as_bytes());
        }
    }
    put_string(out, value.as_bytes());
}

/// A string literal, not Huffman-coded.
fn put_string(out: &mut Vec<u8>, bytes: &[u8]) {
    put_integer(out, 0x00, 7, bytes.len());
    out.extend_from_slice(bytes);
}

/// An integer with an `prefix`-bit prefix (RFC 7541 §5.1), the high bits of its first byte
/// given by `first`.
fn put_integer(out: &mut Vec<u8>, first: u8, prefix: u32, mut value: usize) {
    let max = (1usize << prefix) - 1;
    if value < max {
        out.push(first | value as u8);
        return;
    }
    out.push(first | max as u8);
    value -= max;
    while value >= 0x80 {
        out.push((value & 0x7f) as u8 | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Decodes a connection's response header blocks, in the order they came (the dynamic table
/// is the connection's, at the default 4,096 bytes this client never raises), keeping
/// `:status` and a `grpc-status`. The buffers are reused from block to block.
#[derive(Default)]
pub(super) struct StatusDecoder {
    decoder: httlib_hpack::Decoder<'static>,
    block: Vec<u8>,
    fields: Vec<(Vec<u8>, Vec<u8>, u8)>,
}

impl std::fmt::Debug for StatusDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StatusDecoder")
    }
}

/// A header block that cannot be decoded: the connection's HPACK state is lost with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct BadBlock;

/// What a response's header block says: its `:status` (`None`: trailers) and, when it holds
/// a `grpc-status` field, the gRPC status code (`grpc_status.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Head {
    pub(super) status: Option<u16>,
    pub(super) grpc: Option<u32>,
}

impl StatusDecoder {
    /// The `:status` of `block` (`None` when it has none: trailers), or `BadBlock`.
    #[cfg(test)]
    pub(super) fn status(&mut self, block: &[u8]) -> Result<Option<u16>, BadBlock> {
        self.head(block).map(|head| head.status)
    }

    /// The `:status` and `grpc-status` of `block`, or `BadBlock`.
    pub(super) fn head(&mut self, block: &[u8]) -> Result<Head, BadBlock> {
        self.block.clear();
        self.block.extend_from_slice(block);
        self.fields.clear();
        self.decoder
            .decode(&mut self.block, &mut self.fields)
            .map_err(|_| BadBlock)?;
        let mut status = None;
        let mut grpc = StatusReader::default();
        for (name, value, _) in &self.fields {
            grpc.field(name, value);
            if name == b":status" {
                match std::str::from_utf8(value).ok().and_then(|v| v.parse().ok()) {
                    Some(code @ 100..=999) => status = Some(code),
                    _ => return Err(BadBlock),
                }
            }
        }
        Ok(Head {
            status,
            grpc: grpc.seen().then(|| grpc.status()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target() -> SocketAddr {
        "127.0.0.1:8080".parse().expect("addr")
    }

    #[test]
    fn the_default_request_uses_the_static_table_and_plain_literals() {
        let block = request_block(None, target(), false);
        let mut want = vec![0x82, 0x86, 0x01, 14];
        want.extend_from_slice(b"127.0.0.1:8080");
        want.push(0x84);
        assert_eq!(
            block, want,
            ":method GET, :scheme http, :authority, :path /"
        );
        assert_eq!(request_block(None, target(), true)[1], 0x87, "https");
    }

    #[test]
    fn a_template_block_decodes_to_its_fields_without_plumbing() {
        let template = RequestTemplate {
            name: "post".into(),
            method: "POST".into(),
            path: "/items?x=1".into(),
            headers: vec![
                ("Host".into(), "api.test".into()),
                ("Connection".into(), "keep-alive".into()),
                ("X-Long".into(), "v".repeat(300)),
            ],
            body: b"{}".to_vec(),
            weight: 1,
            grpc_expect: None,
        };
        let block = request_block(Some(&template), target(), true);
        let mut fields = Vec::new();
        httlib_hpack::Decoder::default()
            .decode(&mut block.clone(), &mut fields)
            .expect("valid HPACK");
        let text: Vec<(String, String)> = fields
            .into_iter()
            .map(|(n, v, _)| {
                (
                    String::from_utf8(n).expect("n"),
                    String::from_utf8(v).expect("v"),
                )
            })
            .collect();
        let pairs: Vec<(&str, &str)> = text.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
        let long = "v".repeat(300);
        assert_eq!(
            pairs,
            [
                (":method", "POST"),
                (":scheme", "https"),
                (":authority", "api.test"),
                (":path", "/items?x=1"),
                ("x-long", long.as_str()),
                ("content-length", "2"),
            ]
        );
    }

    #[test]
    fn statuses_come_from_indexed_literal_and_huffman_fields_and_the_table_is_kept() {
        let mut decoder = StatusDecoder::default();
        assert_eq!(
            decoder.status(&[0x88]),
            Ok(Some(200)),
            "indexed :status 200"
        );
        // RFC 7541 C.6.1: a response with Huffman-coded literals added to the dynamic table.
        let c61: &[u8] = &[
            0x48, 0x82, 0x64, 0x02, 0x58, 0x85, 0xae, 0xc3, 0x77, 0x1a, 0x4b, 0x61, 0x96, 0xd0,
            0x7a, 0xbe, 0x94, 0x10, 0x54, 0xd4, 0x44, 0xa8, 0x20, 0x05, 0x95, 0x04, 0x0b, 0x81,
            0x66, 0xe0, 0x82, 0xa6, 0x2d, 0x1b, 0xff, 0x6e, 0x91, 0x9d, 0x29, 0xad, 0x17, 0x18,
            0x63, 0xc7, 0x8f, 0x0b, 0x97, 0xc8, 0xe9, 0xae, 0x82, 0xae, 0x43, 0xd3,
        ];
        assert_eq!(decoder.status(c61), Ok(Some(302)));
        // C.6.2's first field is index 62+... of that table: `:status 307` literal, then
        // the rest indexed from the table C.6.1 filled.
        let c62: &[u8] = &[0x48, 0x83, 0x64, 0x0e, 0xff, 0xc1, 0xc0, 0xbf];
        assert_eq!(decoder.status(c62), Ok(Some(307)));
        assert_eq!(
            decoder.status(&[0x5c, 0x01, b'0']),
            Ok(None),
            "no :status: trailers"
        );
        assert_eq!(
            decoder.status(&[0xff, 0xff, 0xff, 0x7f]),
            Err(BadBlock),
            "no such index"
        );
    }
}
