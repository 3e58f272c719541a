//! HTTP/2 frames (RFC 9113 §4, §6) as bytes: the 9-byte header read ([`Header::parse`]) and
//! the few frames a client writes, appended to an output buffer. No I/O, no allocation beyond
//! the buffer's growth.

/// What a client sends first, before its SETTINGS (RFC 9113 §3.4).
pub(super) const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Bytes of a frame header.
pub(super) const HEADER_LEN: usize = 9;

/// The largest frame payload every peer accepts, and the one this client announces.
pub(super) const DEFAULT_MAX_FRAME: usize = 16_384;

/// The window every flow starts with before SETTINGS or WINDOW_UPDATE change it.
pub(super) const DEFAULT_WINDOW: i64 = 65_535;

/// The largest flow-control window (2^31 - 1).
pub(super) const MAX_WINDOW: u32 = 0x7fff_ffff;

pub(super) const DATA: u8 = 0x0;
pub(super) const HEADERS: u8 = 0x1;
pub(super) const RST_STREAM: u8 = 0x3;
pub(super) const SETTINGS: u8 = 0x4;
pub(super) const PUSH_PROMISE: u8 = 0x5;
pub(super) const PING: u8 = 0x6;
pub(super) const GOAWAY: u8 = 0x7;
pub(super) const WINDOW_UPDATE: u8 = 0x8;
pub(super) const CONTINUATION: u8 = 0x9;

pub(super) const END_STREAM: u8 = 0x1;
pub(super) const ACK: u8 = 0x1;
pub(super) const END_HEADERS: u8 = 0x4;
pub(super) const PADDED: u8 = 0x8;
pub(super) const PRIORITY_FLAG: u8 = 0x20;

pub(super) const SETTINGS_ENABLE_PUSH: u16 = 0x2;
pub(super) const SETTINGS_MAX_CONCURRENT_STREAMS: u16 = 0x3;
pub(super) const SETTINGS_INITIAL_WINDOW_SIZE: u16 = 0x4;
pub(super) const SETTINGS_MAX_FRAME_SIZE: u16 = 0x5;

/// RST_STREAM and GOAWAY error codes this client sends or tells apart.
#[cfg(test)]
pub(super) const NO_ERROR: u32 = 0x0;
pub(super) const REFUSED_STREAM: u32 = 0x7;
pub(super) const CANCEL: u32 = 0x8;

/// A frame's header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Header {
    pub(super) len: usize,
    pub(super) kind: u8,
    pub(super) flags: u8,
    pub(super) stream: u32,
}

impl Header {
    /// The header at the start of `bytes`, if all nine bytes are there.
    pub(super) fn parse(bytes: &[u8]) -> Option<Self> {
        let b: &[u8; HEADER_LEN] = bytes.get(..HEADER_LEN)?.try_into().ok()?;
        Some(Self {
            len: usize::from(b[0]) << 16 | usize::from(b[1]) << 8 | usize::from(b[2]),
            kind: b[3],
            flags: b[4],
            stream: u32::from_be_bytes([b[5], b[6], b[7], b[8]]) & MAX_WINDOW,
        })
    }

    pub(super) fn has(&self, flag: u8) -> bool {
        self.flags & flag != 0
    }
}

/// Appends a frame header.
pub(super) fn put_header(out: &mut Vec<u8>, len: usize, kind: u8, flags: u8, stream: u32) {
    let len = len as u32;
    out.extend_from_slice(&len.to_be_bytes()[1..]);
    out.extend_from_slice(&[kind, flags]);
    out.extend_from_slice(&stream.to_be_bytes());
}

/// Appends a SETTINGS frame of `(identifier, value)` pairs.
pub(super) fn put_settings(out: &mut Vec<u8>, settings: &[(u16, u32)]) {
    put_header(out, settings.len() * 6, SETTINGS, 0, 0);
    for (id, value) in settings {
        out.extend_from_slice(&id.to_be_bytes());
        out.extend_from_slice(&value.to_be_bytes());
    }
}

pub(super) fn put_settings_ack(out: &mut Vec<u8>) {
    put_header(out, 0, SETTINGS, ACK, 0);
}

pub(super) fn put_window_update(out: &mut Vec<u8>, stream: u32, increment: u32) {
    put_header(out, 4, WINDOW_UPDATE, 0, stream);
    out.extend_from_slice(&(increment & MAX_WINDOW).to_be_bytes());
}

pub(super) fn put_ping_ack(out: &mut Vec<u8>, payload: &[u8; 8]) {
    put_header(out, 8, PING, ACK, 0);
    out.extend_from_slice(payload);
}

pub(super) fn put_rst_stream(out: &mut Vec<u8>, stream: u32, code: u32) {
    put_header(out, 4, RST_STREAM, 0, stream);
    out.extend_from_slice(&code.to_be_bytes());
}

#[cfg(test)]
pub(super) fn put_goaway(out: &mut Vec<u8>, last_stream: u32, code: u32) {
    put_header(out, 8, GOAWAY, 0, 0);
    out.extend_from_slice(&last_stream.to_be_bytes());
    out.extend_from_slice(&code.to_be_bytes());
}

/// Appends one DATA frame carrying `payload`.
pub(super) fn put_data(out: &mut Vec<u8>, stream: u32, payload: &[u8], end_stream: bool) {
    put_header(
        out,
        payload.len(),
        DATA,
        u8::from(end_stream) * END_STREAM,
        stream,
    );
    out.extend_from_slice(payload);
}

/// The range of a HEADERS payload that is its block fragment: padding and priority fields
/// taken off; `None` when they do not fit.
pub(super) fn block_fragment(payload: &[u8], h: Header) -> Option<std::ops::Range<usize>> {
    let mut begin = 0;
    let mut end = h.len;
    if h.has(PADDED) {
        begin += 1;
        end = end.checked_sub(usize::from(*payload.first()?))?;
    }
    if h.has(PRIORITY_FLAG) {
        begin += 5;
    }
    (begin <= end).then_some(begin..end)
}

/// A 32-bit big-endian number at `at` of `payload` (callers check the length first).
pub(super) fn u32_at(payload: &[u8], at: usize) -> u32 {
    let mut b = [0; 4];
    b.copy_from_slice(&payload[at..at + 4]);
    u32::from_be_bytes(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_header_reads_back_as_written_and_ignores_the_reserved_bit() {
        let mut out = Vec::new();
        put_header(
            &mut out,
            70_000,
            HEADERS,
            END_HEADERS | END_STREAM,
            0x7fff_fffd,
        );
        assert_eq!(
            out,
            [0x01, 0x11, 0x70, 0x01, 0x05, 0x7f, 0xff, 0xff, 0xfd],
            "RFC 9113 §4.1 layout"
        );
        let header = Header::parse(&out).expect("nine bytes");
        assert_eq!(
            header,
            Header {
                len: 70_000,
                kind: HEADERS,
                flags: END_HEADERS | END_STREAM,
                stream: 0x7fff_fffd
            }
        );
        assert!(header.has(END_STREAM) && !header.has(PADDED));
        out[5] |= 0x80;
        assert_eq!(Header::parse(&out).expect("nine").stream, 0x7fff_fffd);
        assert_eq!(
            Header::parse(&out[..8]),
            None,
            "eight bytes are not a header"
        );
    }

    #[test]
    fn control_frames_are_laid_out_as_the_rfc_says() {
        let mut out = Vec::new();
        put_settings(
            &mut out,
            &[
                (SETTINGS_ENABLE_PUSH, 0),
                (SETTINGS_INITIAL_WINDOW_SIZE, MAX_WINDOW),
            ],
        );
        assert_eq!(
            out,
            [
                0, 0, 12, SETTINGS, 0, 0, 0, 0, 0, //
                0, 2, 0, 0, 0, 0, //
                0, 4, 0x7f, 0xff, 0xff, 0xff
            ]
        );
        out.clear();
        put_settings_ack(&mut out);
        put_window_update(&mut out, 3, 1_000);
        put_ping_ack(&mut out, b"12345678");
        put_rst_stream(&mut out, 5, CANCEL);
        put_goaway(&mut out, 7, NO_ERROR);
        put_data(&mut out, 9, b"hi", true);
        let want: Vec<u8> = [
            &[0, 0, 0, SETTINGS, ACK, 0, 0, 0, 0][..],
            &[0, 0, 4, WINDOW_UPDATE, 0, 0, 0, 0, 3, 0, 0, 0x03, 0xe8],
            &[0, 0, 8, PING, ACK, 0, 0, 0, 0],
            b"12345678",
            &[0, 0, 4, RST_STREAM, 0, 0, 0, 0, 5, 0, 0, 0, 8],
            &[0, 0, 8, GOAWAY, 0, 0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 0],
            &[0, 0, 2, DATA, END_STREAM, 0, 0, 0, 9, b'h', b'i'],
        ]
        .concat();
        assert_eq!(out, want);
    }
}
