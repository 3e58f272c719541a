//! Just enough HTTP/1.1 for a keep-alive load generator: a pre-built `GET` request and a reader
//! for one response at a time (status line, headers, `Content-Length` body).
//!
//! The reader owns one fixed buffer per connection and never allocates. The body is read and
//! discarded. A response the generator cannot frame (chunked or `Transfer-Encoding` of any kind,
//! no `Content-Length` where a body is allowed, bytes after the response) is a
//! [`Failure::Parse`]: the connection is dropped and the error counted, nothing more.

use std::io;
use std::net::SocketAddr;
use std::sync::LazyLock;

use memchr::memmem;

/// Bytes of buffer per connection; also the largest response head accepted.
pub(crate) const READ_BUFFER_BYTES: usize = 16 * 1024;

/// The request written for every exchange on a connection to `target`: only what HTTP/1.1
/// requires (wrk sends the same), since every header is work for the server under test.
pub(crate) fn build_request(path: &str, target: SocketAddr) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: {target}\r\n\r\n").into_bytes()
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

/// Reads responses from one non-blocking connection into a buffer it owns, one response at a
/// time, as bytes arrive ([`ResponseReader::read_available`]).
#[derive(Debug)]
pub(crate) struct ResponseReader {
    buf: Box<[u8]>,
    /// Bytes of the head buffered so far (before the head is parsed).
    filled: usize,
    /// Where the search for the end of the head resumes.
    scanned: usize,
    /// The parsed head and the bytes of the response received so far (head included).
    head: Option<(Head, usize)>,
}

impl Default for ResponseReader {
    fn default() -> Self {
        Self {
            buf: vec![0; READ_BUFFER_BYTES].into_boxed_slice(),
            filled: 0,
            scanned: 0,
            head: None,
        }
    }
}

impl ResponseReader {
    /// Reads from a non-blocking socket until one response is complete (`Some(Ok)`), the
    /// exchange failed (`Some(Err)`), or no more bytes are there yet (`None`: wait for the next
    /// readable event). A read that leaves room in the buffer drained the socket, so it does
    /// not read again just to be told `WouldBlock` (an edge-triggered poll reports new bytes).
    pub(crate) fn read_available<R: io::Read>(
        &mut self,
        io: &mut R,
    ) -> Option<Result<Response, Failure>> {
        loop {
            let spare = self.spare();
            let room = spare.len();
            match io.read(spare) {
                Ok(n) => match self.advance(n) {
                    Ok(Some(response)) => return Some(Ok(response)),
                    Ok(None) if n < room => return None,
                    Ok(None) => {}
                    Err(failure) => return Some(Err(self.fail(failure))),
                },
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return None,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Some(Err(self.fail(e.into()))),
            }
        }
    }

    /// Where the next read goes: after the head bytes so far, or (once the head is parsed) the
    /// whole buffer, to receive and discard the body.
    fn spare(&mut self) -> &mut [u8] {
        match self.head {
            Some(_) => &mut self.buf,
            None => &mut self.buf[self.filled..],
        }
    }

    /// Takes `n` bytes just read into [`Self::spare`] (0: end of stream). `Some` once the
    /// response is complete; the reader is then ready for the next one.
    fn advance(&mut self, n: usize) -> Result<Option<Response>, Failure> {
        if n == 0 {
            return Err(Failure::Io(io::ErrorKind::UnexpectedEof));
        }
        let (head, received) = match &mut self.head {
            Some((head, received)) => {
                *received += n;
                (*head, *received)
            }
            None => {
                self.filled += n;
                let Some(end) = find_head_end(&self.buf[..self.filled], self.scanned) else {
                    // The terminator may straddle reads: rescan the last 3 bytes.
                    self.scanned = self.filled.saturating_sub(3);
                    if self.filled == self.buf.len() {
                        return Err(Failure::Parse(ParseError::HeadTooLarge));
                    }
                    return Ok(None);
                };
                let head = parse_head(&self.buf[..end])?;
                self.head = Some((head, self.filled));
                (head, self.filled)
            }
        };
        let total = head.head_len + head.body_len;
        if received < total {
            return Ok(None);
        }
        if received > total {
            return Err(Failure::Parse(ParseError::TrailingData));
        }
        self.reset();
        Ok(Some(Response {
            status: head.status,
            keep_alive: head.keep_alive,
        }))
    }

    /// Forgets a half-read response (its connection is dropped) and passes `failure` on.
    fn fail(&mut self, failure: Failure) -> Failure {
        self.reset();
        failure
    }

    fn reset(&mut self) {
        self.filled = 0;
        self.scanned = 0;
        self.head = None;
    }
}

/// Index just past `\r\n\r\n`, searching from `from` (memchr's SIMD search: a byte-by-byte
/// window scan here was 3% of a closed-loop worker's CPU).
fn find_head_end(buf: &[u8], from: usize) -> Option<usize> {
    static HEAD_END: LazyLock<memmem::Finder<'static>> =
        LazyLock::new(|| memmem::Finder::new(b"\r\n\r\n"));
    HEAD_END.find(buf.get(from..)?).map(|i| from + i + 4)
}

/// Parses a head that ends with `\r\n\r\n` (the slice includes it).
fn parse_head(head: &[u8]) -> Result<Head, ParseError> {
    // Drop the final "\n\r\n": every line left, the status line included, ends with '\r'.
    // (memchr, not a byte-by-byte split: parsing is a closed-loop worker's main user-space
    // cost.)
    let mut lines = split_lines(&head[..head.len() - 3]);
    let status_line = lines.next().ok_or(ParseError::StatusLine)?;
    let (http10, status) = parse_status_line(strip_cr(status_line, ParseError::StatusLine)?)?;

    let mut content_length: Option<usize> = None;
    let mut close = false;
    let mut keep_alive_token = false;
    for line in lines {
        let line = strip_cr(line, ParseError::Header)?;
        let colon = memchr::memchr(b':', line).ok_or(ParseError::Header)?;
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

/// The pieces of `bytes` between `\n`s (as `split`, an empty last piece included).
fn split_lines(bytes: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut start = Some(0);
    std::iter::from_fn(move || {
        let from = start?;
        let rest = &bytes[from..];
        match memchr::memchr(b'\n', rest) {
            Some(i) => {
                start = Some(from + i + 1);
                Some(&rest[..i])
            }
            None => {
                start = None;
                Some(rest)
            }
        }
    })
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

    use super::*;

    /// Chunks as a non-blocking socket: each chunk is one readiness, and a read between chunks
    /// would block.
    struct NonBlocking {
        chunks: VecDeque<Vec<u8>>,
        ready: bool,
    }

    impl io::Read for NonBlocking {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if !self.ready {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            let Some(mut chunk) = self.chunks.pop_front() else {
                return Ok(0);
            };
            let n = chunk.len().min(buf.len());
            buf[..n].copy_from_slice(&chunk[..n]);
            if n < chunk.len() {
                self.chunks.push_front(chunk.split_off(n));
            } else {
                self.ready = false;
            }
            Ok(n)
        }
    }

    /// Reads every response from `chunks`, one readable event per chunk; end of stream after
    /// the last.
    fn read_all(chunks: &[&[u8]]) -> Vec<Result<Response, Failure>> {
        let mut io = NonBlocking {
            chunks: chunks.iter().map(|c| c.to_vec()).collect(),
            ready: true,
        };
        let mut reader = ResponseReader::default();
        let mut out = Vec::new();
        while !io.chunks.is_empty() {
            match reader.read_available(&mut io) {
                // The next readable event.
                None => io.ready = true,
                Some(r) => {
                    let stop = r.is_err();
                    out.push(r);
                    if stop {
                        return out;
                    }
                }
            }
        }
        if reader.head.is_some() || reader.filled > 0 {
            // Chunks ran out mid-response: the reader sees end of stream.
            io.ready = true;
            out.extend(reader.read_available(&mut io));
        }
        out
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
    fn lines_split_as_slice_split_does() {
        for bytes in [&b""[..], b"a", b"a\n", b"\n", b"a\nb", b"a\n\nb\n"] {
            let want: Vec<&[u8]> = bytes.split(|&b| b == b'\n').collect();
            assert_eq!(split_lines(bytes).collect::<Vec<_>>(), want, "{bytes:?}");
        }
    }

    #[test]
    fn request_names_path_and_host() {
        let req = build_request("/hello", "127.0.0.1:8080".parse().expect("addr"));
        assert_eq!(req, b"GET /hello HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n");
    }
}
