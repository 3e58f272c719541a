//! Just enough HTTP/1.1 for a keep-alive load generator: a pre-built `GET` request and a reader
//! for one response at a time (status line, headers, `Content-Length` body).
//!
//! The reader owns one fixed buffer per connection and never allocates. The body is read and
//! discarded. A response the generator cannot frame (chunked or `Transfer-Encoding` of any kind,
//! no `Content-Length` where a body is allowed, bytes after the response) is a
//! [`Failure::Parse`]: the connection is dropped and the error counted, nothing more.

use std::io;
use std::net::SocketAddr;

use tokio::io::{AsyncRead, AsyncReadExt};

/// Bytes of buffer per connection; also the largest response head accepted.
pub(crate) const READ_BUFFER_BYTES: usize = 16 * 1024;

/// The request written for every exchange on a connection to `target`.
pub(crate) fn build_request(path: &str, target: SocketAddr) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: {target}\r\nUser-Agent: numaload\r\n\r\n").into_bytes()
}

/// A complete response, body consumed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Response {
    pub(crate) status: u16,
    /// False when the server said `Connection: close` (or spoke HTTP/1.0 without keep-alive):
    /// the connection must not be reused.
    pub(crate) keep_alive: bool,
}

impl Response {
    /// Only 2xx counts as a request served; anything else is an `http_status` error.
    pub(crate) fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// Why an exchange failed. Kinds only: errors are counted, never stored per request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Failure {
    Io(io::ErrorKind),
    Parse(ParseError),
}

impl From<io::Error> for Failure {
    fn from(e: io::Error) -> Self {
        Failure::Io(e.kind())
    }
}

impl From<ParseError> for Failure {
    fn from(e: ParseError) -> Self {
        Failure::Parse(e)
    }
}

/// What made a response unreadable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ParseError {
    StatusLine,
    Header,
    ContentLength,
    /// `Transfer-Encoding` (chunked or other): not supported by this generator.
    TransferEncoding,
    /// A body the server would delimit by closing the connection.
    Unframed,
    HeadTooLarge,
    /// Bytes after the end of the response although no second request was sent.
    TrailingData,
}

/// The parsed head of a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Head {
    status: u16,
    head_len: usize,
    body_len: usize,
    keep_alive: bool,
}

/// Reads responses from one connection into a buffer it owns.
#[derive(Debug)]
pub(crate) struct ResponseReader {
    buf: Box<[u8]>,
}

impl Default for ResponseReader {
    fn default() -> Self {
        Self {
            buf: vec![0; READ_BUFFER_BYTES].into_boxed_slice(),
        }
    }
}

impl ResponseReader {
    /// Reads exactly one response. End of stream before it is complete is an I/O error
    /// (`UnexpectedEof`).
    pub(crate) async fn read<R: AsyncRead + Unpin>(
        &mut self,
        io: &mut R,
    ) -> Result<Response, Failure> {
        let mut filled = 0;
        let mut scanned = 0;
        let head = loop {
            if let Some(end) = find_head_end(&self.buf[..filled], scanned) {
                break parse_head(&self.buf[..end])?;
            }
            // The terminator may straddle reads: rescan the last 3 bytes.
            scanned = filled.saturating_sub(3);
            if filled == self.buf.len() {
                return Err(Failure::Parse(ParseError::HeadTooLarge));
            }
            filled += read_some(io, &mut self.buf[filled..]).await?;
        };
        let total = head.head_len + head.body_len;
        let mut received = filled;
        while received < total {
            // The head is parsed: the whole buffer is free to receive (and discard) the body.
            received += read_some(io, &mut self.buf).await?;
        }
        if received > total {
            return Err(Failure::Parse(ParseError::TrailingData));
        }
        Ok(Response {
            status: head.status,
            keep_alive: head.keep_alive,
        })
    }
}

async fn read_some<R: AsyncRead + Unpin>(io: &mut R, buf: &mut [u8]) -> Result<usize, Failure> {
    match io.read(buf).await? {
        0 => Err(Failure::Io(io::ErrorKind::UnexpectedEof)),
        n => Ok(n),
    }
}

/// Index just past `\r\n\r\n`, searching from `from`.
fn find_head_end(buf: &[u8], from: usize) -> Option<usize> {
    buf.get(from..)?
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| from + i + 4)
}

/// Parses a head that ends with `\r\n\r\n` (the slice includes it).
fn parse_head(head: &[u8]) -> Result<Head, ParseError> {
    // Drop the final "\n\r\n": every line left, the status line included, ends with '\r'.
    let mut lines = head[..head.len() - 3].split(|&b| b == b'\n');
    let status_line = lines.next().ok_or(ParseError::StatusLine)?;
    let (http10, status) = parse_status_line(strip_cr(status_line, ParseError::StatusLine)?)?;

    let mut content_length: Option<usize> = None;
    let mut close = false;
    let mut keep_alive_token = false;
    for line in lines {
        let line = strip_cr(line, ParseError::Header)?;
        let colon = line
            .iter()
            .position(|&b| b == b':')
            .ok_or(ParseError::Header)?;
        let (name, value) = (&line[..colon], trim(&line[colon + 1..]));
        if name.is_empty() || name.iter().any(|b| b.is_ascii_whitespace()) {
            return Err(ParseError::Header);
        }
        if name.eq_ignore_ascii_case(b"content-length") {
            let n = parse_decimal(value).ok_or(ParseError::ContentLength)?;
            if content_length.is_some_and(|prev| prev != n) {
                return Err(ParseError::ContentLength);
            }
            content_length = Some(n);
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            return Err(ParseError::TransferEncoding);
        } else if name.eq_ignore_ascii_case(b"connection") {
            for token in value.split(|&b| b == b',').map(trim) {
                close |= token.eq_ignore_ascii_case(b"close");
                keep_alive_token |= token.eq_ignore_ascii_case(b"keep-alive");
            }
        }
    }
    let body_len = match (content_length, status) {
        (_, 100..=199) => return Err(ParseError::StatusLine),
        (_, 204 | 304) => 0,
        (Some(n), _) => n,
        (None, _) => return Err(ParseError::Unframed),
    };
    Ok(Head {
        status,
        head_len: head.len(),
        body_len,
        keep_alive: !close && (!http10 || keep_alive_token),
    })
}

/// `HTTP/1.x NNN[ reason]` → (is HTTP/1.0, status).
fn parse_status_line(line: &[u8]) -> Result<(bool, u16), ParseError> {
    let http10 = match line.get(..9) {
        Some(b"HTTP/1.1 ") => false,
        Some(b"HTTP/1.0 ") => true,
        _ => return Err(ParseError::StatusLine),
    };
    let code = line.get(9..12).ok_or(ParseError::StatusLine)?;
    if !matches!(line.get(12), None | Some(b' ')) || !code.iter().all(u8::is_ascii_digit) {
        return Err(ParseError::StatusLine);
    }
    let status = code
        .iter()
        .fold(0u16, |acc, &d| acc * 10 + u16::from(d - b'0'));
    Ok((http10, status))
}

fn strip_cr(line: &[u8], error: ParseError) -> Result<&[u8], ParseError> {
    line.strip_suffix(b"\r").ok_or(error)
}

fn trim(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|&b| b != b' ' && b != b'\t')
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|&b| b != b' ' && b != b'\t')
        .map_or(start, |i| i + 1);
    &bytes[start..end]
}

fn parse_decimal(digits: &[u8]) -> Option<usize> {
    if digits.is_empty() || digits.len() > 18 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(
        digits
            .iter()
            .fold(0usize, |acc, &d| acc * 10 + usize::from(d - b'0')),
    )
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::pin::Pin;
    use std::task::{Context, Poll};

    use tokio::io::ReadBuf;

    use super::*;

    /// Hands out its chunks one `read` at a time, then end of stream.
    struct Chunks(VecDeque<Vec<u8>>);

    impl Chunks {
        fn new(chunks: &[&[u8]]) -> Self {
            Self(chunks.iter().map(|c| c.to_vec()).collect())
        }
    }

    impl AsyncRead for Chunks {
        fn poll_read(
            mut self: Pin<&mut Self>,
            _cx: &mut Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            if let Some(mut chunk) = self.0.pop_front() {
                let n = chunk.len().min(buf.remaining());
                buf.put_slice(&chunk[..n]);
                if n < chunk.len() {
                    self.0.push_front(chunk.split_off(n));
                }
            }
            Poll::Ready(Ok(()))
        }
    }

    fn read_all(chunks: &[&[u8]]) -> Vec<Result<Response, Failure>> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        rt.block_on(async {
            let mut io = Chunks::new(chunks);
            let mut reader = ResponseReader::default();
            let mut out = Vec::new();
            while !io.0.is_empty() {
                let r = reader.read(&mut io).await;
                let stop = r.is_err();
                out.push(r);
                if stop {
                    break;
                }
            }
            out
        })
    }

    fn read_one(chunks: &[&[u8]]) -> Result<Response, Failure> {
        read_all(chunks).remove(0)
    }

    const OK: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\ndate: x\r\n\r\nok";

    #[test]
    fn complete_response_in_one_read() {
        let r = read_one(&[OK]).expect("parses");
        assert_eq!(r.status, 200);
        assert!(r.keep_alive);
        assert!(r.is_success());
    }

    #[test]
    fn response_split_across_reads_at_every_byte() {
        for split in 1..OK.len() {
            let r = read_one(&[&OK[..split], &OK[split..]]);
            assert_eq!(r.map(|r| r.status), Ok(200), "split at {split}");
        }
        let bytes: Vec<&[u8]> = OK.chunks(1).collect();
        assert_eq!(read_one(&bytes).map(|r| r.status), Ok(200));
    }

    #[test]
    fn consecutive_responses_reuse_the_buffer() {
        let results = read_all(&[OK, OK, OK]);
        assert_eq!(results.len(), 3);
        assert!(results.iter().all(|r| r.is_ok()));
    }

    #[test]
    fn large_body_is_consumed_across_many_reads() {
        let body = vec![b'x'; 3 * READ_BUFFER_BYTES + 17];
        let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", body.len());
        let r = read_one(&[head.as_bytes(), &body[..1000], &body[1000..]]);
        assert_eq!(r.map(|r| r.status), Ok(200));
    }

    #[test]
    fn content_length_zero_and_204_have_no_body() {
        let r = read_one(&[b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"]);
        assert_eq!(r.map(|r| r.status), Ok(200));
        let r = read_one(&[b"HTTP/1.1 204 No Content\r\n\r\n"]);
        assert_eq!(r.map(|r| r.status), Ok(204));
    }

    #[test]
    fn non_2xx_is_read_in_full_but_not_a_success() {
        let results = read_all(&[
            b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\n\r\nbusy",
            OK,
        ]);
        let first = results[0].expect("parses");
        assert_eq!(first.status, 503);
        assert!(!first.is_success());
        assert!(first.keep_alive, "the connection stays usable");
        assert_eq!(results[1].map(|r| r.status), Ok(200));
    }

    #[test]
    fn connection_close_and_http10_are_not_reused() {
        let r = read_one(&[b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"]);
        assert_eq!(r.map(|r| r.keep_alive), Ok(false));
        let r = read_one(&[b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n"]);
        assert_eq!(r.map(|r| r.keep_alive), Ok(false));
        let r =
            read_one(&[b"HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 0\r\n\r\n"]);
        assert_eq!(r.map(|r| r.keep_alive), Ok(true));
    }

    #[test]
    fn malformed_responses_are_parse_errors() {
        let cases: &[(&[u8], ParseError)] = &[
            (b"garbage\r\n\r\n", ParseError::StatusLine),
            (b"HTTP/2 200 OK\r\n\r\n", ParseError::StatusLine),
            (
                b"HTTP/1.1 2x0 OK\r\nContent-Length: 0\r\n\r\n",
                ParseError::StatusLine,
            ),
            (b"HTTP/1.1 200 OK\r\nno colon\r\n\r\n", ParseError::Header),
            (
                b"HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n",
                ParseError::StatusLine,
            ),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
                ParseError::ContentLength,
            ),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
                ParseError::ContentLength,
            ),
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
                ParseError::TransferEncoding,
            ),
            (b"HTTP/1.1 200 OK\r\n\r\n", ParseError::Unframed),
            (b"HTTP/1.1 100 Continue\r\n\r\n", ParseError::StatusLine),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nextra",
                ParseError::TrailingData,
            ),
        ];
        for (bytes, want) in cases {
            assert_eq!(
                read_one(&[bytes]),
                Err(Failure::Parse(*want)),
                "{}",
                String::from_utf8_lossy(bytes)
            );
        }
    }

    #[test]
    fn endless_head_is_too_large() {
        let mut bytes = b"HTTP/1.1 200 OK\r\n".to_vec();
        while bytes.len() <= READ_BUFFER_BYTES {
            bytes.extend_from_slice(b"x-filler: 0123456789\r\n");
        }
        assert_eq!(
            read_one(&[&bytes]),
            Err(Failure::Parse(ParseError::HeadTooLarge))
        );
    }

    #[test]
    fn end_of_stream_mid_response_is_an_io_error() {
        let eof = Err(Failure::Io(io::ErrorKind::UnexpectedEof));
        assert_eq!(read_one(&[b"HTTP/1.1 200 OK\r\nContent-Le"]), eof);
        assert_eq!(read_one(&[&OK[..OK.len() - 1]]), eof);
    }

    #[test]
    fn request_names_path_and_host() {
        let req = build_request("/hello", "127.0.0.1:8080".parse().expect("addr"));
        assert_eq!(
            req,
            b"GET /hello HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: numaload\r\n\r\n"
        );
    }
}
