//! A streaming decoder of `Transfer-Encoding: chunked` framing (RFC 9112 §7.1) that discards
//! the data: it only finds where the body ends, a few bytes of state carried across reads.
//!
//! Chunk extensions and trailer fields are skipped, not interpreted. Line ends must be CRLF.

/// Where the decoder is in the framing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Chunked {
    /// Reading the hex digits of a chunk size.
    Size {
        size: u64,
        digits: u8,
    },
    /// After the size: skipping whitespace and `;name=value` extensions up to the CR.
    Extension {
        size: u64,
    },
    /// The LF ending the size line.
    SizeLf {
        size: u64,
    },
    /// Inside a chunk's data.
    Data {
        remaining: u64,
    },
    /// The CRLF after a chunk's data.
    DataCr,
    DataLf,
    /// After the last chunk: at the start of a trailer line or the final empty line.
    LineStart,
    /// Inside a trailer field line, up to its CR.
    Trailer,
    TrailerLf,
    /// The LF of the final empty line.
    EndLf,
}

impl Default for Chunked {
    fn default() -> Self {
        Chunked::Size { size: 0, digits: 0 }
    }
}

/// The framing is broken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct ChunkError;

/// Hex digits of a chunk size beyond this would overflow a `u64`.
const MAX_SIZE_DIGITS: u8 = 15;

impl Chunked {
    /// Takes the next bytes of the body. `Ok(Some(n))`: the body ended after `bytes[..n]`;
    /// `Ok(None)`: all of `bytes` belonged to it and more is to come.
    pub(super) fn feed(&mut self, bytes: &[u8]) -> Result<Option<usize>, ChunkError> {
        let mut at = 0;
        while at < bytes.len() {
            if let Chunked::Data { remaining } = self {
                // Skip data in bulk; everything else goes a byte at a time.
                let take =
                    (bytes.len() - at).min(usize::try_from(*remaining).unwrap_or(usize::MAX));
                at += take;
                *remaining -= take as u64;
                if *remaining == 0 {
                    *self = Chunked::DataCr;
                }
                continue;
            }
            let b = bytes[at];
            at += 1;
            *self = match (*self, b) {
                (Chunked::Size { size, digits }, _) if b.is_ascii_hexdigit() => {
                    if digits == MAX_SIZE_DIGITS {
                        return Err(ChunkError);
                    }
                    Chunked::Size {
                        size: size << 4 | u64::from(hex_value(b)),
                        digits: digits + 1,
                    }
                }
                (Chunked::Size { digits: 0, .. }, _) => return Err(ChunkError),
                (Chunked::Size { size, .. }, b' ' | b'\t' | b';') => Chunked::Extension { size },
                (Chunked::Size { size, .. } | Chunked::Extension { size }, b'\r') => {
                    Chunked::SizeLf { size }
                }
                (Chunked::Extension { .. }, b'\n') => return Err(ChunkError),
                (state @ Chunked::Extension { .. }, _) => state,
                (Chunked::SizeLf { size: 0 }, b'\n') => Chunked::LineStart,
                (Chunked::SizeLf { size }, b'\n') => Chunked::Data { remaining: size },
                (Chunked::DataCr, b'\r') => Chunked::DataLf,
                (Chunked::DataLf, b'\n') => Chunked::default(),
                (Chunked::LineStart, b'\r') => Chunked::EndLf,
                (Chunked::LineStart | Chunked::Trailer, b'\n') => return Err(ChunkError),
                (Chunked::Trailer, b'\r') => Chunked::TrailerLf,
                (Chunked::LineStart | Chunked::Trailer, _) => Chunked::Trailer,
                (Chunked::TrailerLf, b'\n') => Chunked::LineStart,
                (Chunked::EndLf, b'\n') => {
                    *self = Chunked::default();
                    return Ok(Some(at));
                }
                _ => return Err(ChunkError),
            };
        }
        Ok(None)
    }
}

fn hex_value(b: u8) -> u8 {
    match b {
        b'0'..=b'9' => b - b'0',
        b'a'..=b'f' => b - b'a' + 10,
        _ => b - b'A' + 10,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `bytes` split at `split`: where the body ended, or the error.
    fn decode_split(bytes: &[u8], split: usize) -> Result<Option<usize>, ChunkError> {
        let mut decoder = Chunked::default();
        match decoder.feed(&bytes[..split])? {
            Some(end) => Ok(Some(end)),
            None => Ok(decoder.feed(&bytes[split..])?.map(|end| split + end)),
        }
    }

    #[test]
    fn bodies_end_where_the_framing_says_at_every_split() {
        let mut big = b"Ff\r\n".to_vec();
        big.extend(std::iter::repeat_n(b'z', 255));
        big.extend_from_slice(b"\r\n0\r\n\r\n");
        let cases: &[&[u8]] = &[
            &big,
            b"0\r\n\r\n",
            b"2\r\nok\r\n0\r\n\r\n",
            b"A\r\n0123456789\r\n1\r\nx\r\n0\r\n\r\n",
            b"a;name=value\r\n0123456789\r\n0;last\r\n\r\n",
            b"3 ; q=\"a;b\"\r\nabc\r\n0\r\n\r\n",
            b"4\r\n\r\n\r\n\r\n0\r\nX-Checksum: 1\r\nX-Other: two words\r\n\r\n",
            b"00000010\r\n0123456789abcdef\r\n0000\r\n\r\n",
        ];
        for &body in cases {
            for split in 0..=body.len() {
                assert_eq!(
                    decode_split(body, split),
                    Ok(Some(body.len())),
                    "{} split at {split}",
                    String::from_utf8_lossy(body)
                );
            }
            // What follows the body is not the decoder's.
            let mut more = body.to_vec();
            more.extend_from_slice(b"HTTP/1.1");
            assert_eq!(decode_split(&more, 0), Ok(Some(body.len())));
            // Cut short: still waiting.
            assert_eq!(decode_split(&body[..body.len() - 1], 0), Ok(None));
        }
    }

    #[test]
    fn broken_framing_is_an_error() {
        let cases: &[&[u8]] = &[
            b"\r\n",
            b"x\r\n",
            b"2\nok\r\n0\r\n\r\n",
            b"2\r\nokX\r\n",
            b"2\r\nok\rX",
            b"0\r\n\n",
            b"0\r\nX-T: 1\n\r\n",
            b"1;ext\n",
            b"1234567890abcdef0\r\n",
        ];
        for &case in cases {
            let mut decoder = Chunked::default();
            assert_eq!(
                decoder.feed(case),
                Err(ChunkError),
                "{}",
                String::from_utf8_lossy(case)
            );
        }
    }

    #[test]
    fn a_huge_chunk_is_skipped_without_holding_it() {
        let mut decoder = Chunked::default();
        assert_eq!(decoder.feed(b"40000000\r\n"), Ok(None)); // 1 GiB
        let block = vec![0u8; 1 << 20];
        for _ in 0..1024 {
            assert_eq!(decoder.feed(&block), Ok(None));
        }
        assert_eq!(decoder.feed(b"\r\n0\r\n\r\n"), Ok(Some(7)));
    }
}
