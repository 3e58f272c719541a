//! The `grpc-status` of a gRPC response, pure: read from the response's decoded header fields
//! (the trailers, or the headers of a trailers-only response) one by one as the header block
//! decoder yields them ([`StatusReader::field`]), then [`StatusReader::status`] (the HTTP/2
//! client's header block decoder, `h2/hpack.rs`, feeds it every field). A response
//! without a valid `grpc-status` counts as `UNKNOWN` (2), as gRPC clients treat it.

/// The largest status code gRPC defines (`UNAUTHENTICATED`).
pub const MAX_CODE: u32 = 16;
/// What a response without a valid `grpc-status` counts as.
pub const UNKNOWN: u32 = 2;

/// Reads `grpc-status` from header fields (names lower case, as HTTP/2 sends them). The last
/// one wins: the trailers come after the headers. `grpc-message` is not read: nothing counts
/// it, and decoding it would be work per response for nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct StatusReader {
    code: Option<Option<u32>>,
}

impl StatusReader {
    /// One decoded header field.
    pub fn field(&mut self, name: &[u8], value: &[u8]) {
        if name == b"grpc-status" {
            self.code = Some(parse_code(value));
        }
    }

    /// Whether a `grpc-status` field was seen (valid or not).
    pub fn seen(&self) -> bool {
        self.code.is_some()
    }

    /// The status code the fields read so far give.
    pub fn status(self) -> u32 {
        self.code.flatten().unwrap_or(UNKNOWN)
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The status code of `fields`, read in order.
    fn status(fields: &[(&str, &str)]) -> u32 {
        let mut reader = StatusReader::default();
        for (name, value) in fields {
            reader.field(name.as_bytes(), value.as_bytes());
        }
        reader.status()
    }

    #[test]
    fn statuses_from_header_fields() {
        let cases: [(&[(&str, &str)], u32); 11] = [
            (&[("grpc-status", "0")], 0),
            (
                &[
                    ("content-type", "application/grpc"),
                    ("grpc-status", "5"),
                    ("grpc-message", "not found"),
                ],
                5,
            ),
            (&[("grpc-status", "16")], 16),
            (
                &[("grpc-message", "a%20b%3A%E2%82%AC"), ("grpc-status", "2")],
                2,
            ),
            (&[("grpc-status", "3"), ("grpc-message", "100%")], 3),
            (&[("grpc-status", "3"), ("grpc-message", "%zz%4")], 3),
            // The trailers' status comes last and wins over the headers'.
            (&[("grpc-status", "0"), ("grpc-status", "14")], 14),
            // None, or none gRPC defines: UNKNOWN.
            (&[(":status", "200")], UNKNOWN),
            (&[("grpc-status", "17")], UNKNOWN),
            (&[("grpc-status", "-1")], UNKNOWN),
            (&[("grpc-status", "")], UNKNOWN),
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
        assert_eq!(reader.status(), UNKNOWN);
    }
}
