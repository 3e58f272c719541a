//! The `grpc-status` of a gRPC response, pure: read from the response's decoded header fields
//! (the trailers, or the headers of a trailers-only response) one by one as the header block
//! decoder yields them ([`StatusReader::field`]), then [`StatusReader::status`] (the HTTP/2
//! client's header block decoder, `h2/hpack.rs`, feeds it every field). A response
//! without a valid `grpc-status` counts as `UNKNOWN` (2), as gRPC clients treat it.

/// The largest status code gRPC defines (`UNAUTHENTICATED`).
pub const MAX_CODE: u32 = 16;
/// What a response without a valid `grpc-status` counts as.
pub const UNKNOWN: u32 = 2;

/// A gRPC response's status: its code and, when the server sent one, its `grpc-message`
/// (percent-decoded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrpcStatus {
    pub code: u32,
    pub message: Option<String>,
}

/// Reads `grpc-status` and `grpc-message` from header fields (names lower case, as HTTP/2
/// sends them). The last `grpc-status` wins: the trailers come after the headers.
#[derive(Debug, Clone, Default)]
pub struct StatusReader {
    code: Option<Option<u32>>,
    message: Option<String>,
}

impl StatusReader {
    /// One decoded header field.
    pub fn field(&mut self, name: &[u8], value: &[u8]) {
        match name {
            b"grpc-status" => self.code = Some(parse_code(value)),
            b"grpc-message" => self.message = Some(percent_decode(value)),
            _ => {}
        }
    }

    /// Whether a `grpc-status` field was seen (valid or not).
    pub fn seen(&self) -> bool {
        self.code.is_some()
    }

    /// The status the fields read so far give.
    pub fn status(self) -> GrpcStatus {
        GrpcStatus {
            code: self.code.flatten().unwrap_or(UNKNOWN),
            message: self.message,
        }
    }
}

/// `value` as a status code: one or two ASCII digits, 0 to 16.
fn parse_code(value: &[u8]) -> Option<u32> {
    if value.is_empty() || value.len() > 2 || !value.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let code = value.iter().fold(0, |n, d| n * 10 + u32::from(d - b'0'));
    (code <= MAX_CODE).then_some(code)
}

/// `grpc-message` is percent-encoded UTF-8; a malformed escape is kept as written.
fn percent_decode(value: &[u8]) -> String {
    let hex = |b: Option<&u8>| b.and_then(|&b| (b as char).to_digit(16));
    let mut out = Vec::with_capacity(value.len());
    let mut i = 0;
    while i < value.len() {
        match (value[i], hex(value.get(i + 1)), hex(value.get(i + 2))) {
            (b'%', Some(high), Some(low)) => {
                // Two hex digits: at most 0xff.
                out.push(u8::try_from(high * 16 + low).unwrap_or(u8::MAX));
                i += 3;
            }
            (byte, _, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The status of `fields`, read in order.
    fn status(fields: &[(&str, &str)]) -> GrpcStatus {
        let mut reader = StatusReader::default();
        for (name, value) in fields {
            reader.field(name.as_bytes(), value.as_bytes());
        }
        reader.status()
    }

    fn code(code: u32, message: Option<&str>) -> GrpcStatus {
        GrpcStatus {
            code,
            message: message.map(str::to_owned),
        }
    }

    #[test]
    fn statuses_from_header_fields() {
        let cases: [(&[(&str, &str)], GrpcStatus); 11] = [
            (&[("grpc-status", "0")], code(0, None)),
            (
                &[
                    ("content-type", "application/grpc"),
                    ("grpc-status", "5"),
                    ("grpc-message", "not found"),
                ],
                code(5, Some("not found")),
            ),
            (&[("grpc-status", "16")], code(16, None)),
            (
                &[("grpc-message", "a%20b%3A%E2%82%AC"), ("grpc-status", "2")],
                code(2, Some("a b:€")),
            ),
            (
                &[("grpc-status", "3"), ("grpc-message", "100%")],
                code(3, Some("100%")),
            ),
            (
                &[("grpc-status", "3"), ("grpc-message", "%zz%4")],
                code(3, Some("%zz%4")),
            ),
            // The trailers' status comes last and wins over the headers'.
            (
                &[("grpc-status", "0"), ("grpc-status", "14")],
                code(14, None),
            ),
            // None, or none gRPC defines: UNKNOWN.
            (&[(":status", "200")], code(UNKNOWN, None)),
            (&[("grpc-status", "17")], code(UNKNOWN, None)),
            (&[("grpc-status", "-1")], code(UNKNOWN, None)),
            (&[("grpc-status", "")], code(UNKNOWN, None)),
        ];
        for (fields, want) in cases {
            assert_eq!(status(fields), want, "{fields:?}");
        }
    }

    #[test]
    fn a_reader_says_whether_it_saw_a_status() {
        let mut reader = StatusReader::default();
        reader.field(b":status", b"200");
        assert!(!reader.seen());
        reader.field(b"grpc-status", b"x");
        assert!(reader.seen(), "an invalid one is seen too");
        assert_eq!(reader.status().code, UNKNOWN);
    }
}
