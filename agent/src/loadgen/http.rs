//! Just enough HTTP/1.1 for a keep-alive load generator: a reader for one response at a time
//! (status line, headers, body framed by `Content-Length`, `Transfer-Encoding: chunked` or the
//! end of the stream), as servers really send them. Requests are built in `request.rs`.
//!
//! The reader owns one fixed buffer per connection and never allocates. The body is read and
//! discarded as it arrives, whatever its size: only the head must fit in the buffer. Interim
//! `1xx` responses are skipped. A response without a length (HTTP/1.0 or not) ends when the
//! server closes the connection; a response after which the connection cannot be reused
//! (`Connection: close`, HTTP/1.0 without keep-alive, or delimited by the close) says so in
//! [`Response::keep_alive`]. What the generator cannot frame (a broken head or chunk framing,
//! bytes after the response although no second request was sent) is a [`Failure::Parse`]: the
//! connection is dropped and the error counted, nothing more.

use std::io;
use std::sync::LazyLock;

use memchr::memmem;

use super::chunked::Chunked;

/// Bytes of buffer per connection; also the largest response head accepted.
pub(crate) const READ_BUFFER_BYTES: usize = 16 * 1024;

/// A complete response, body consumed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Response {
    pub(crate) status: u16,
    /// False when the connection must not be reused: the server said `Connection: close`,
    /// spoke HTTP/1.0 without keep-alive, or ended the body by closing.
    pub(crate) keep_alive: bool,
}

/// Why an exchange failed. Kinds only: errors are counted, never stored per request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Failure {
    Io(io::ErrorKind),
    Parse(ParseError),
    /// TLS failed under the exchange (an alert, a broken record: see `tls.rs`).
    Tls,
}

impl From<io::Error> for Failure {
    fn from(e: io::Error) -> Self {
        if super::tls::is_tls(&e) {
            Failure::Tls
        } else {
            Failure::Io(e.kind())
        }
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
    /// Not `HTTP/1.x NNN`, or `101 Switching Protocols` (no upgrade is ever asked for).
    StatusLine,
    Header,
    ContentLength,
    /// Broken `Transfer-Encoding: chunked` framing.
    Chunked,
    HeadTooLarge,
    /// Bytes after the end of the response although no second request was sent.
    TrailingData,
}

/// How the body of the response being read ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    /// After this many more bytes.
    Length(u64),
    /// Where the chunk framing says.
    Chunked(Chunked),
    /// At the end of the stream: the server gave no length.
    UntilEof,
}

/// A parsed final head and what is left of its body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Body {
    status: u16,
    keep_alive: bool,
    framing: Framing,
}

/// What a head turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Head {
    /// `1xx` (not 101): the final response follows.
    Interim,
    Final(Body),
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
    /// Once the head is parsed: the status and the body still to come.
    body: Option<Body>,
    /// Bytes of the current response read so far, and the size of the last complete one.
    received: usize,
    last_size: usize,
}

impl Default for ResponseReader {
    fn default() -> Self {
        Self {
            buf: vec![0; READ_BUFFER_BYTES].into_boxed_slice(),
            filled: 0,
            scanned: 0,
            body: None,
            received: 0,
            last_size: 0,
        }
    }
}

impl ResponseReader {
    /// Reads from a non-blocking socket until one response is complete (`Some(Ok)`), the
    /// exchange failed (`Some(Err)`), or no more bytes are there yet (`None`: wait for the next
    /// readable event). `bodiless`: the request was `HEAD`, so the response has no body. A read
    /// that leaves room in the buffer drained the socket, so it does not read again just to be
    /// told `WouldBlock` (an edge-triggered poll reports new bytes), except for a body that ends
    /// at the end of the stream: the close may have come with the last bytes, and no new event
    /// would report it.
    pub(crate) fn read_available<R: io::Read>(
        &mut self,
        io: &mut R,
        bodiless: bool,
    ) -> Option<Result<Response, Failure>> {
        loop {
            let spare = self.spare();
            let room = spare.len();
            match io.read(spare) {
                Ok(n) => match self.advance(n, bodiless) {
                    Ok(Some(response)) => return Some(Ok(response)),
                    Ok(None) if n < room && !self.until_eof() => return None,
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
        match self.body {
            Some(_) => &mut self.buf,
            None => &mut self.buf[self.filled..],
        }
    }

    fn until_eof(&self) -> bool {
        matches!(
            self.body,
            Some(Body {
                framing: Framing::UntilEof,
                ..
            })
        )
    }

    /// Takes `n` bytes just read into [`Self::spare`] (0: end of stream). `Some` once the
    /// response is complete; the reader is then ready for the next one.
    fn advance(&mut self, n: usize, bodiless: bool) -> Result<Option<Response>, Failure> {
        self.received += n;
        if n == 0 {
            return match self.body {
                Some(body) if body.framing == Framing::UntilEof => Ok(Some(self.finish(body))),
                _ => Err(Failure::Io(io::ErrorKind::UnexpectedEof)),
            };
        }
        let body_bytes = if self.body.is_some() {
            0..n
        } else {
            self.filled += n;
            match self.parse_heads(bodiless)? {
                Some(head_len) => head_len..self.filled,
                None => return Ok(None),
            }
        };
        let Some(body) = &mut self.body else {
            return Ok(None);
        };
        let complete = match &mut body.framing {
            Framing::Length(remaining) => {
                let len = (body_bytes.end - body_bytes.start) as u64;
                if len > *remaining {
                    return Err(Failure::Parse(ParseError::TrailingData));
                }
                *remaining -= len;
                *remaining == 0
            }
            Framing::Chunked(decoder) => match decoder.feed(&self.buf[body_bytes.clone()]) {
                Ok(Some(used)) if used < body_bytes.len() => {
                    return Err(Failure::Parse(ParseError::TrailingData))
                }
                Ok(Some(_)) => true,
                Ok(None) => false,
                Err(_) => return Err(Failure::Parse(ParseError::Chunked)),
            },
            Framing::UntilEof => false,
        };
        let body = *body;
        Ok(complete.then(|| self.finish(body)))
    }

    /// Looks for a complete head in the bytes so far, skipping interim ones: `Some(its length)`
    /// once a final head is parsed (the body's first bytes follow it in the buffer).
    fn parse_heads(&mut self, bodiless: bool) -> Result<Option<usize>, ParseError> {
        loop {
            let Some(end) = find_head_end(&self.buf[..self.filled], self.scanned) else {
                // The terminator may straddle reads: rescan the last 3 bytes.
                self.scanned = self.filled.saturating_sub(3);
                if self.filled == self.buf.len() {
                    return Err(ParseError::HeadTooLarge);
                }
                return Ok(None);
            };
            match parse_head(&self.buf[..end], bodiless)? {
                Head::Final(body) => {
                    self.body = Some(body);
                    return Ok(Some(end));
                }
                Head::Interim => {
                    self.buf.copy_within(end..self.filled, 0);
                    self.filled -= end;
                    self.scanned = 0;
                }
            }
        }
    }

    /// The response `body` belongs to is complete; the reader is ready for the next one.
    fn finish(&mut self, body: Body) -> Response {
        self.last_size = self.received;
        self.reset();
        Response {
            status: body.status,
            keep_alive: body.keep_alive && body.framing != Framing::UntilEof,
        }
    }

    /// Whether part of a response has been read and the rest is still to come.
    pub(crate) fn is_partial(&self) -> bool {
        self.filled > 0 || self.body.is_some()
    }

    /// The largest of the response being read (so far) and the last complete one, in bytes.
    pub(crate) fn response_bytes(&self) -> usize {
        self.received.max(self.last_size)
    }

    /// Forgets a half-read response (its connection is dropped) and passes `failure` on.
    fn fail(&mut self, failure: Failure) -> Failure {
        self.reset();
        failure
    }

    fn reset(&mut self) {
        self.filled = 0;
        self.scanned = 0;
        self.body = None;
        self.received = 0;
    }
}

/// Index just past `\r\n\r\n`, searching from `from` (memchr's SIMD search: a byte-by-byte
/// window scan here was 3% of a closed-loop worker's CPU).
fn find_head_end(buf: &[u8], from: usize) -> Option<usize> {
    static HEAD_END: LazyLock<memmem::Finder<'static>> =
        LazyLock::new(|| memmem::Finder::new(b"\r\n\r\n"));
    HEAD_END.find(buf.get(from..)?).map(|i| from + i + 4)
}

/// Parses a head that ends with `\r\n\r\n` (the slice includes it); `bodiless`: the request
/// was `HEAD`.
fn parse_head(head: &[u8], bodiless: bool) -> Result<Head, ParseError> {
    // Drop the final "\n\r\n": every line left, the status line included, ends with '\r'.
    // (memchr, not a byte-by-byte split: parsing is a closed-loop worker's main user-space
    // cost.)
    let mut lines = split_lines(&head[..head.len() - 3]);
    let status_line = lines.next().ok_or(ParseError::StatusLine)?;
    let (http10, status) = parse_status_line(strip_cr(status_line, ParseError::StatusLine)?)?;

    let mut content_length: Option<u64> = None;
    // Some once `Transfer-Encoding` is seen: whether its final coding is chunked.
    let mut chunked: Option<bool> = None;
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
            let last = value.rsplit(|&b| b == b',').next().map(trim);
            chunked = Some(last.is_some_and(|c| c.eq_ignore_ascii_case(b"chunked")));
        } else if name.eq_ignore_ascii_case(b"connection") {
            for token in value.split(|&b| b == b',').map(trim) {
                close |= token.eq_ignore_ascii_case(b"close");
                keep_alive_token |= token.eq_ignore_ascii_case(b"keep-alive");
            }
        }
    }
    // RFC 9112 §6.3, in its order: no body for HEAD, 204 and 304; then Transfer-Encoding
    // (over any Content-Length), chunked or else until the close; then Content-Length; else
    // until the close.
    if status < 200 {
        return match status {
            100 | 102..=199 => Ok(Head::Interim),
            _ => Err(ParseError::StatusLine),
        };
    }
    let framing = if bodiless || status == 204 || status == 304 {
        Framing::Length(0)
    } else {
        match chunked {
            Some(true) => Framing::Chunked(Chunked::default()),
            Some(false) => Framing::UntilEof,
            None => content_length.map_or(Framing::UntilEof, Framing::Length),
        }
    };
    Ok(Head::Final(Body {
        status,
        keep_alive: !close && (!http10 || keep_alive_token),
        framing,
    }))
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

fn parse_decimal(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() || digits.len() > 18 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(
        digits
            .iter()
            .fold(0u64, |acc, &d| acc * 10 + u64::from(d - b'0')),
    )
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;

    use super::*;

    /// Chunks as a non-blocking socket: each chunk is one readiness, and a read between chunks
    /// would block. After the last chunk: end of stream, at once (the close came with the last
    /// bytes) or only at the next readiness.
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
    /// the last (reported by one more readable event, as epoll does for a close).
    fn read_all_of(chunks: &[&[u8]], bodiless: bool) -> Vec<Result<Response, Failure>> {
        let mut io = NonBlocking {
            chunks: chunks.iter().map(|c| c.to_vec()).collect(),
            ready: true,
        };
        let mut reader = ResponseReader::default();
        let mut out = Vec::new();
        while !io.chunks.is_empty() {
            match reader.read_available(&mut io, bodiless) {
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
        if reader.body.is_some() || reader.filled > 0 {
            // Chunks ran out mid-response: the reader sees end of stream.
            io.ready = true;
            out.extend(reader.read_available(&mut io, bodiless));
        }
        out
    }

    fn read_all(chunks: &[&[u8]]) -> Vec<Result<Response, Failure>> {
        read_all_of(chunks, false)
    }

    #[test]
    fn the_reader_knows_how_large_a_response_is_while_and_after_reading_it() {
        let head = b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n";
        let body = vec![b'x'; 100_000];
        let mut io = NonBlocking {
            chunks: [[&head[..], &body[..40_000]].concat()].into(),
            ready: true,
        };
        let mut reader = ResponseReader::default();
        assert_eq!(reader.response_bytes(), 0);
        assert!(reader.read_available(&mut io, false).is_none());
        assert!(reader.is_partial());
        assert_eq!(reader.response_bytes(), head.len() + 40_000);
        io.chunks.push_back(body[40_000..].to_vec());
        io.ready = true;
        let done = reader.read_available(&mut io, false).expect("complete");
        assert_eq!(done.expect("ok").status, 200);
        assert!(!reader.is_partial());
        // The last complete response's size stays until a larger one is being read.
        assert_eq!(reader.response_bytes(), head.len() + 100_000);
        io.chunks
            .push_back(b"HTTP/1.1 204 No Content\r\n\r\n".to_vec());
        io.ready = true;
        assert!(reader.read_available(&mut io, false).is_some());
        assert_eq!(reader.response_bytes(), 27);
    }

    fn read_one(chunks: &[&[u8]]) -> Result<Response, Failure> {
        read_all(chunks).remove(0)
    }

    const OK: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\ndate: x\r\n\r\nok";

    fn ok(status: u16, keep_alive: bool) -> Result<Response, Failure> {
        Ok(Response { status, keep_alive })
    }

    /// Responses as servers send them, each what it reads as.
    fn framed_cases() -> Vec<(&'static str, Vec<u8>, Result<Response, Failure>)> {
        let mut big_chunks = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
        for size in [1usize, 15, 16, 255, 4096, READ_BUFFER_BYTES + 3] {
            big_chunks.extend_from_slice(format!("{size:x}\r\n").as_bytes());
            big_chunks.extend(std::iter::repeat_n(b'c', size));
            big_chunks.extend_from_slice(b"\r\n");
        }
        big_chunks.extend_from_slice(b"0\r\n\r\n");
        let t = |s: &str| s.as_bytes().to_vec();
        vec![
            ("content-length", OK.to_vec(), ok(200, true)),
            (
                "content-length 0",
                t("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
                ok(200, true),
            ),
            ("204", t("HTTP/1.1 204 No Content\r\n\r\n"), ok(204, true)),
            (
                "304 with a length",
                t("HTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\n\r\n"),
                ok(304, true),
            ),
            (
                "non-2xx",
                t("HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\n\r\nbusy"),
                ok(503, true),
            ),
            (
                "chunked",
                t("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n"),
                ok(200, true),
            ),
            (
                "chunked, extensions and trailers",
                t(
                    "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, Chunked\r\nTrailer: X-Sum\r\n\
                   \r\n5;a=b\r\nhello\r\n0;end=\"1\"\r\nX-Sum: 5\r\nX-More: y\r\n\r\n",
                ),
                ok(200, true),
            ),
            (
                "chunked over a content-length",
                t(
                    "HTTP/1.1 200 OK\r\nContent-Length: 50\r\nTransfer-Encoding: chunked\r\n\
                   \r\n1\r\nx\r\n0\r\n\r\n",
                ),
                ok(200, true),
            ),
            ("chunks of many sizes", big_chunks, ok(200, true)),
            (
                "connection close",
                t("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok"),
                ok(200, false),
            ),
            (
                "http/1.0 with a length",
                t("HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok"),
                ok(200, false),
            ),
            (
                "http/1.0 keep-alive",
                t("HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 0\r\n\r\n"),
                ok(200, true),
            ),
            (
                "http/1.0 until the close",
                t("HTTP/1.0 200 OK\r\nServer: old\r\n\r\nall of this until the close"),
                ok(200, false),
            ),
            (
                "http/1.1 until the close",
                t("HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\nnothing here"),
                ok(404, false),
            ),
            (
                "no length and no body",
                t("HTTP/1.1 200 OK\r\n\r\n"),
                ok(200, false),
            ),
            (
                "unknown transfer coding: until the close",
                t("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n\x1f\x0b"),
                ok(200, false),
            ),
            (
                "interim responses first",
                t(
                    "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n\
                   HTTP/1.1 201 Created\r\nContent-Length: 1\r\n\r\n!",
                ),
                ok(201, true),
            ),
        ]
    }

    #[test]
    fn responses_read_whole_in_one_read() {
        for (name, bytes, want) in framed_cases() {
            assert_eq!(read_all(&[&bytes]), vec![want], "{name}");
        }
    }

    #[test]
    fn responses_split_across_reads_at_every_byte() {
        for (name, bytes, want) in framed_cases() {
            // Long bodies: every split in the head and the framing's first bytes, then every
            // 97th.
            let splits = (1..bytes.len()).filter(|&i| i < 400 || i % 97 == 0);
            for split in splits {
                let got = read_all(&[&bytes[..split], &bytes[split..]]);
                assert_eq!(got, vec![want], "{name}: split at {split}");
            }
            if bytes.len() < 400 {
                let bytes: Vec<&[u8]> = bytes.chunks(1).collect();
                assert_eq!(read_all(&bytes), vec![want], "{name}: a byte per read");
            }
        }
    }

    #[test]
    fn keep_alive_responses_follow_each_other_in_the_same_buffer() {
        let cases = framed_cases();
        let reusable: Vec<_> = cases
            .iter()
            .filter(|(_, _, want)| want.is_ok_and(|r| r.keep_alive))
            .collect();
        let chunks: Vec<&[u8]> = reusable.iter().map(|(_, b, _)| b.as_slice()).collect();
        let wants: Vec<_> = reusable.iter().map(|(_, _, w)| *w).collect();
        assert_eq!(read_all(&chunks), wants);
    }

    #[test]
    fn large_bodies_stream_through_the_fixed_buffer() {
        let body = vec![b'x'; 10 * 1024 * 1024 + 17];
        let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", body.len());
        let reads: Vec<&[u8]> = std::iter::once(head.as_bytes())
            .chain(body.chunks(100_000))
            .collect();
        assert_eq!(read_all(&reads), vec![ok(200, true)]);
    }

    #[test]
    fn head_responses_have_no_body_whatever_the_headers_say() {
        let cases: &[&[u8]] = &[
            b"HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
            b"HTTP/1.1 200 OK\r\n\r\n",
        ];
        for &bytes in cases {
            let got = read_all_of(&[bytes, bytes], true);
            assert_eq!(got, vec![ok(200, true), ok(200, true)]);
        }
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
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
                ParseError::Chunked,
            ),
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nokk\r\n",
                ParseError::Chunked,
            ),
            (
                b"HTTP/1.1 101 Switching Protocols\r\n\r\n",
                ParseError::StatusLine,
            ),
            (b"HTTP/1.1 099 Odd\r\n\r\n", ParseError::StatusLine),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nextra",
                ParseError::TrailingData,
            ),
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nextra",
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
        let cases: &[&[u8]] = &[
            b"HTTP/1.1 200 OK\r\nContent-Le",
            &OK[..OK.len() - 1],
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n",
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n",
        ];
        for &bytes in cases {
            assert_eq!(
                read_one(&[bytes]),
                eof,
                "{}",
                String::from_utf8_lossy(bytes)
            );
        }
    }

    #[test]
    fn a_body_until_the_close_ends_at_a_close_that_came_with_its_last_bytes() {
        // The socket has the bytes and the close at once: one readable event in all, and a
        // short read that does not mean "drained".
        struct BytesThenEof(Option<&'static [u8]>);
        impl io::Read for BytesThenEof {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                let bytes = self.0.take().unwrap_or_default();
                buf[..bytes.len()].copy_from_slice(bytes);
                Ok(bytes.len())
            }
        }
        let mut io = BytesThenEof(Some(b"HTTP/1.0 200 OK\r\n\r\nbody"));
        let mut reader = ResponseReader::default();
        assert_eq!(reader.read_available(&mut io, false), Some(ok(200, false)));
    }

    #[test]
    fn lines_split_as_slice_split_does() {
        for bytes in [&b""[..], b"a", b"a\n", b"\n", b"a\nb", b"a\n\nb\n"] {
            let want: Vec<&[u8]> = bytes.split(|&b| b == b'\n').collect();
            assert_eq!(split_lines(bytes).collect::<Vec<_>>(), want, "{bytes:?}");
        }
    }
}
