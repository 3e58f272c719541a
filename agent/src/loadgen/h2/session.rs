//! One HTTP/2 connection's client state, with no I/O: the caller hands it the bytes read
//! ([`Session::read_from`], then [`Session::process`]) and writes what it has to say
//! ([`Session::pending`], [`Session::wrote`]). It opens streams on free slots
//! ([`Session::open`]), answers SETTINGS and PING, keeps both flow-control directions
//! (announcing the largest windows and giving them back as DATA arrives, so the peer never
//! waits on this client; sending bodies as the peer's windows allow, counting the requests
//! that had to wait in [`Session::flow_blocked`]), and reports each stream's end as an
//! [`Event`] carrying the caller's tag.

use std::io;

use super::event::{ConnectionError, Event};
use super::frame::{self, Header, HEADER_LEN, MAX_WINDOW};
use super::hpack::{Head, StatusDecoder};
use super::request::H2Request;

/// Bytes of the input buffer: one frame of the largest size this client accepts, and more.
const INPUT_BYTES: usize = 64 * 1024;

/// Received bytes given back by WINDOW_UPDATE once this many are owed.
const GIVE_BACK: u32 = MAX_WINDOW / 2;

#[derive(Debug)]
struct Slot<T> {
    /// 0: free.
    id: u32,
    tag: T,
    request: usize,
    status: Option<u16>,
    /// The `grpc-status` its header blocks held, if any (the trailers' comes last).
    grpc: Option<u32>,
    /// The peer's window for this stream's DATA, and how much of the body is sent.
    send_window: i64,
    body_sent: usize,
    /// DATA bytes received on this stream not yet given back.
    owed: u32,
}

/// A connection's client state; `T` is what the caller tags each stream with.
#[derive(Debug)]
pub(super) struct Session<T> {
    out: Vec<u8>,
    written: usize,
    input: Box<[u8]>,
    start: usize,
    filled: usize,
    decoder: StatusDecoder,
    /// A header block spread over CONTINUATION frames: its stream, its END_STREAM, its bytes.
    block: Option<(u32, bool)>,
    block_bytes: Vec<u8>,
    peer_max_streams: usize,
    peer_initial_window: i64,
    peer_max_frame: usize,
    send_window: i64,
    owed: u32,
    next_id: u32,
    goaway: bool,
    slots: Vec<Slot<T>>,
    /// The free slots, the next to use last.
    free: Vec<usize>,
    /// Slot by stream id: entry `(id >> 1) & mask` holds the slot of the stream opened last
    /// with that hash (ids are handed out in order, so a stream is overwritten only once four
    /// times as many newer ones have opened; a lookup that misses scans the slots).
    by_id: Vec<usize>,
    in_flight: usize,
    /// Requests whose body had to wait for the peer's flow-control window.
    pub(super) flow_blocked: u64,
}

impl<T: Copy> Session<T> {
    /// A new connection with room for `streams` streams: the preface, this client's SETTINGS
    /// (no push; the largest stream window) and the connection window raised to the largest,
    /// ready in [`Session::pending`]. `blank` fills the tags of free slots.
    pub(super) fn new(streams: usize, blank: T) -> Self {
        let mut out = Vec::with_capacity(4096);
        out.extend_from_slice(frame::PREFACE);
        frame::put_settings(
            &mut out,
            &[
                (frame::SETTINGS_ENABLE_PUSH, 0),
                (frame::SETTINGS_INITIAL_WINDOW_SIZE, MAX_WINDOW),
            ],
        );
        frame::put_window_update(&mut out, 0, MAX_WINDOW - frame::DEFAULT_WINDOW as u32);
        let slots: Vec<Slot<T>> = (0..streams.max(1))
            .map(|_| Slot {
                id: 0,
                tag: blank,
                request: 0,
                status: None,
                grpc: None,
                send_window: 0,
                body_sent: 0,
                owed: 0,
            })
            .collect();
        Self {
            out,
            written: 0,
            input: vec![0; INPUT_BYTES].into_boxed_slice(),
            start: 0,
            filled: 0,
            decoder: StatusDecoder::default(),
            block: None,
            block_bytes: Vec::new(),
            peer_max_streams: usize::MAX,
            peer_initial_window: frame::DEFAULT_WINDOW,
            peer_max_frame: frame::DEFAULT_MAX_FRAME,
            send_window: frame::DEFAULT_WINDOW,
            owed: 0,
            next_id: 1,
            goaway: false,
            free: (0..slots.len()).rev().collect(),
            slots,
            by_id: vec![0; (streams.max(1) * 4).next_power_of_two()],
            in_flight: 0,
            flow_blocked: 0,
        }
    }

    /// Bytes waiting to be written.
    pub(super) fn pending(&self) -> &[u8] {
        &self.out[self.written..]
    }

    /// `n` bytes of [`Session::pending`] are on the socket.
    pub(super) fn wrote(&mut self, n: usize) {
        self.written += n;
        if self.written >= self.out.len() {
            self.out.clear();
            self.written = 0;
        }
    }

    pub(super) fn in_flight(&self) -> usize {
        self.in_flight
    }

    /// Whether a GOAWAY came (or the stream ids ran out): no new stream may open.
    pub(super) fn closing(&self) -> bool {
        self.goaway
    }

    /// A slot a new stream may use now, if any: not closing, under both this client's and the
    /// server's limit of concurrent streams.
    pub(super) fn free_slot(&self) -> Option<usize> {
        if self.goaway || self.in_flight >= self.peer_max_streams {
            return None;
        }
        self.free.last().copied()
    }

    /// The tags of the streams open now, by slot.
    pub(super) fn open_tags(&self) -> impl Iterator<Item = (usize, T)> + '_ {
        self.slots
            .iter()
            .enumerate()
            .filter(|(_, s)| s.id != 0)
            .map(|(i, s)| (i, s.tag))
    }

    /// Opens a stream on free `slot` for `requests[request]`: its HEADERS, then as much of its
    /// body as the windows allow.
    pub(super) fn open(&mut self, slot: usize, requests: &[H2Request], request: usize, tag: T) {
        let id = self.next_id;
        self.next_id += 2;
        if self.next_id > MAX_WINDOW {
            self.goaway = true;
        }
        requests[request].head_for(id, &mut self.out);
        match self.free.last() {
            Some(&last) if last == slot => {
                self.free.pop();
            }
            _ => self.free.retain(|&f| f != slot),
        }
        let mask = self.by_id.len() - 1;
        self.by_id[(id >> 1) as usize & mask] = slot;
        let s = &mut self.slots[slot];
        *s = Slot {
            id,
            tag,
            request,
            status: None,
            grpc: None,
            send_window: self.peer_initial_window,
            body_sent: 0,
            owed: 0,
        };
        self.in_flight += 1;
        if !requests[request].body.is_empty() && !self.send_body(slot, requests) {
            self.flow_blocked += 1;
        }
    }

    /// Gives up the stream on `slot` (its deadline passed): RST_STREAM(CANCEL); its tag.
    pub(super) fn cancel(&mut self, slot: usize) -> T {
        let id = self.slots[slot].id;
        frame::put_rst_stream(&mut self.out, id, frame::CANCEL);
        self.free(slot)
    }

    fn free(&mut self, slot: usize) -> T {
        self.slots[slot].id = 0;
        self.free.push(slot);
        self.in_flight -= 1;
        self.slots[slot].tag
    }

    /// Sends what the windows allow of `slot`'s body; whether it is all sent.
    fn send_body(&mut self, slot: usize, requests: &[H2Request]) -> bool {
        let s = &mut self.slots[slot];
        let body = &requests[s.request].body;
        while s.body_sent < body.len() {
            let room = s
                .send_window
                .min(self.send_window)
                .min(self.peer_max_frame as i64);
            if room <= 0 {
                return false;
            }
            let n = (room as usize).min(body.len() - s.body_sent);
            let end = s.body_sent + n == body.len();
            frame::put_data(
                &mut self.out,
                s.id,
                &body[s.body_sent..s.body_sent + n],
                end,
            );
            s.body_sent += n;
            s.send_window -= n as i64;
            self.send_window -= n as i64;
        }
        true
    }

    /// Sends what the windows now allow of every body still waiting.
    fn send_bodies(&mut self, requests: &[H2Request]) {
        for slot in 0..self.slots.len() {
            let s = &self.slots[slot];
            if s.id != 0 && s.body_sent < requests[s.request].body.len() {
                self.send_body(slot, requests);
            }
        }
    }

    /// Reads once from `io` into the input buffer: the bytes read (0: the end of the stream)
    /// and whether the read filled the room it had (so more may be waiting).
    pub(super) fn read_from<R: io::Read>(&mut self, io: &mut R) -> io::Result<(usize, bool)> {
        if self.start > 0
            && (self.filled == self.start
                || self.input.len() - self.filled < HEADER_LEN + frame::DEFAULT_MAX_FRAME)
        {
            self.input.copy_within(self.start..self.filled, 0);
            self.filled -= self.start;
            self.start = 0;
        }
        let room = self.input.len() - self.filled;
        let n = io.read(&mut self.input[self.filled..])?;
        self.filled += n;
        Ok((n, n == room))
    }

    /// Takes every complete frame read so far, pushing the streams that ended onto `events`.
    pub(super) fn process(
        &mut self,
        requests: &[H2Request],
        events: &mut Vec<Event<T>>,
    ) -> Result<(), ConnectionError> {
        while let Some(header) = Header::parse(&self.input[self.start..self.filled]) {
            if header.len > frame::DEFAULT_MAX_FRAME {
                return Err(ConnectionError);
            }
            let begin = self.start + HEADER_LEN;
            if self.filled - begin < header.len {
                break;
            }
            self.start = begin + header.len;
            self.frame(header, begin, requests, events)?;
        }
        Ok(())
    }

    fn frame(
        &mut self,
        h: Header,
        at: usize,
        requests: &[H2Request],
        events: &mut Vec<Event<T>>,
    ) -> Result<(), ConnectionError> {
        if self.block.is_some() && h.kind != frame::CONTINUATION {
            return Err(ConnectionError);
        }
        let payload = at..at + h.len;
        match h.kind {
            frame::DATA => self.data(h, events),
            frame::HEADERS => {
                let inner =
                    frame::block_fragment(&self.input[payload], h).ok_or(ConnectionError)?;
                self.headers(h, at + inner.start..at + inner.end, events)
            }
            frame::CONTINUATION => {
                let Some((stream, end_stream)) = self.block else {
                    return Err(ConnectionError);
                };
                if h.stream != stream {
                    return Err(ConnectionError);
                }
                self.block_bytes.extend_from_slice(&self.input[payload]);
                if h.has(frame::END_HEADERS) {
                    self.block = None;
                    let head = self.decoder.head(&self.block_bytes);
                    self.head_done(
                        stream,
                        head.map_err(|_| ConnectionError)?,
                        end_stream,
                        events,
                    );
                }
                Ok(())
            }
            frame::RST_STREAM if h.len == 4 => {
                let code = frame::u32_at(&self.input, at);
                if let Some(slot) = self.slot_of(h.stream) {
                    let tag = self.free(slot);
                    events.push(if code == frame::REFUSED_STREAM {
                        Event::Refused { tag }
                    } else {
                        Event::Reset { tag, code }
                    });
                }
                Ok(())
            }
            frame::SETTINGS if h.has(frame::ACK) => Ok(()),
            frame::SETTINGS if h.len.is_multiple_of(6) && h.stream == 0 => {
                self.settings(payload, requests)
            }
            frame::PING if h.len == 8 && !h.has(frame::ACK) => {
                let mut data = [0; 8];
                data.copy_from_slice(&self.input[payload]);
                frame::put_ping_ack(&mut self.out, &data);
                Ok(())
            }
            frame::GOAWAY if h.len >= 8 => {
                let last = frame::u32_at(&self.input, at) & MAX_WINDOW;
                self.goaway = true;
                for slot in 0..self.slots.len() {
                    if self.slots[slot].id > last {
                        let tag = self.free(slot);
                        events.push(Event::Refused { tag });
                    }
                }
                events.push(Event::GoAway);
                Ok(())
            }
            frame::WINDOW_UPDATE if h.len == 4 => {
                let increment = i64::from(frame::u32_at(&self.input, at) & MAX_WINDOW);
                if h.stream == 0 {
                    self.send_window += increment;
                } else if let Some(slot) = self.slot_of(h.stream) {
                    self.slots[slot].send_window += increment;
                }
                self.send_bodies(requests);
                Ok(())
            }
            frame::PUSH_PROMISE => Err(ConnectionError),
            frame::RST_STREAM
            | frame::SETTINGS
            | frame::PING
            | frame::GOAWAY
            | frame::WINDOW_UPDATE => Err(ConnectionError),
            // PRIORITY, a PING's ACK, and frame types this client does not know: ignored.
            _ => Ok(()),
        }
    }

    fn data(&mut self, h: Header, events: &mut Vec<Event<T>>) -> Result<(), ConnectionError> {
        let len = h.len as u32;
        self.owed += len;
        if self.owed >= GIVE_BACK {
            frame::put_window_update(&mut self.out, 0, std::mem::take(&mut self.owed));
        }
        let Some(slot) = self.slot_of(h.stream) else {
            return Ok(());
        };
        if h.has(frame::END_STREAM) {
            self.finish(slot, events);
            return Ok(());
        }
        let s = &mut self.slots[slot];
        s.owed += len;
        if s.owed >= GIVE_BACK {
            frame::put_window_update(&mut self.out, s.id, std::mem::take(&mut s.owed));
        }
        Ok(())
    }

    fn headers(
        &mut self,
        h: Header,
        fragment: std::ops::Range<usize>,
        events: &mut Vec<Event<T>>,
    ) -> Result<(), ConnectionError> {
        let end_stream = h.has(frame::END_STREAM);
        if !h.has(frame::END_HEADERS) {
            self.block = Some((h.stream, end_stream));
            self.block_bytes.clear();
            self.block_bytes.extend_from_slice(&self.input[fragment]);
            return Ok(());
        }
        let head = self
            .decoder
            .head(&self.input[fragment])
            .map_err(|_| ConnectionError)?;
        self.head_done(h.stream, head, end_stream, events);
        Ok(())
    }

    /// A whole header block of `stream` decoded: a final status kept, an interim one skipped,
    /// a `grpc-status` kept, the stream ended with END_STREAM.
    fn head_done(&mut self, stream: u32, head: Head, end_stream: bool, events: &mut Vec<Event<T>>) {
        let Some(slot) = self.slot_of(stream) else {
            return;
        };
        if let Some(status) = head.status.filter(|s| *s >= 200) {
            self.slots[slot].status = Some(status);
        }
        if head.grpc.is_some() {
            self.slots[slot].grpc = head.grpc;
        }
        if end_stream {
            self.finish(slot, events);
        }
    }

    /// The stream of `slot` ended (END_STREAM): its response, or malformed without a final
    /// status.
    fn finish(&mut self, slot: usize, events: &mut Vec<Event<T>>) {
        let (status, grpc) = (self.slots[slot].status, self.slots[slot].grpc);
        let tag = self.free(slot);
        events.push(match status {
            Some(status) => Event::Response { tag, status, grpc },
            None => Event::Malformed { tag },
        });
    }

    fn settings(
        &mut self,
        payload: std::ops::Range<usize>,
        requests: &[H2Request],
    ) -> Result<(), ConnectionError> {
        for at in payload.step_by(6) {
            let id = u16::from_be_bytes([self.input[at], self.input[at + 1]]);
            let value = frame::u32_at(&self.input, at + 2);
            match id {
                frame::SETTINGS_MAX_CONCURRENT_STREAMS => self.peer_max_streams = value as usize,
                frame::SETTINGS_INITIAL_WINDOW_SIZE if value <= MAX_WINDOW => {
                    let delta = i64::from(value) - self.peer_initial_window;
                    self.peer_initial_window = i64::from(value);
                    for s in self.slots.iter_mut().filter(|s| s.id != 0) {
                        s.send_window += delta;
                    }
                }
                frame::SETTINGS_INITIAL_WINDOW_SIZE => return Err(ConnectionError),
                frame::SETTINGS_MAX_FRAME_SIZE if (16_384..=16_777_215).contains(&value) => {
                    self.peer_max_frame = value as usize;
                }
                frame::SETTINGS_MAX_FRAME_SIZE => return Err(ConnectionError),
                // The header table size, push and the rest need nothing of this client.
                _ => {}
            }
        }
        frame::put_settings_ack(&mut self.out);
        self.send_bodies(requests);
        Ok(())
    }

    fn slot_of(&self, stream: u32) -> Option<usize> {
        if stream == 0 {
            return None;
        }
        let slot = self.by_id[(stream >> 1) as usize & (self.by_id.len() - 1)];
        if self.slots[slot].id == stream {
            return Some(slot);
        }
        self.slots.iter().position(|s| s.id == stream)
    }
}
