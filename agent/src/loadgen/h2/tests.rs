//! The client session against byte sequences a server sends (RFC 9113 frames written by hand),
//! in whole frames and a byte at a time.

use std::net::SocketAddr;

use super::event::{ConnectionError, Event};
use super::frame::{self, Header, HEADER_LEN};
use super::request::{prebuild, H2Request};
use super::session::Session;
use crate::loadgen::config::RequestTemplate;

fn target() -> SocketAddr {
    "127.0.0.1:8080".parse().expect("addr")
}

fn get() -> std::rc::Rc<[H2Request]> {
    prebuild(&[], target(), false)
}

/// Every frame in `bytes` (after the preface, if it starts with it), with its payload.
fn frames(mut bytes: &[u8]) -> Vec<(Header, Vec<u8>)> {
    if bytes.starts_with(frame::PREFACE) {
        bytes = &bytes[frame::PREFACE.len()..];
    }
    let mut out = Vec::new();
    while let Some(h) = Header::parse(bytes) {
        out.push((h, bytes[HEADER_LEN..HEADER_LEN + h.len].to_vec()));
        bytes = &bytes[HEADER_LEN + h.len..];
    }
    assert!(bytes.is_empty(), "a partial frame was written");
    out
}

/// What the session wrote since the last call, as frames.
fn written(session: &mut Session<u32>) -> Vec<(Header, Vec<u8>)> {
    let out = frames(session.pending());
    let n = session.pending().len();
    session.wrote(n);
    out
}

/// Feeds `bytes` to the session `chunk` bytes at a time; the events.
fn feed(
    session: &mut Session<u32>,
    requests: &[H2Request],
    bytes: &[u8],
    chunk: usize,
) -> Result<Vec<Event<u32>>, ConnectionError> {
    let mut events = Vec::new();
    for piece in bytes.chunks(chunk) {
        let mut reader = piece;
        session.read_from(&mut reader).expect("read");
        session.process(requests, &mut events)?;
    }
    Ok(events)
}

fn frame_bytes(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    frame::put_header(&mut out, payload.len(), kind, flags, stream);
    out.extend_from_slice(payload);
    out
}

#[test]
fn a_new_session_says_the_preface_no_push_and_the_largest_windows() {
    let mut session = Session::new(4, 0u32);
    assert!(session.pending().starts_with(frame::PREFACE));
    let out = written(&mut session);
    assert_eq!(out.len(), 2);
    assert_eq!(out[0].0.kind, frame::SETTINGS);
    assert_eq!(out[0].1, [0, 2, 0, 0, 0, 0, 0, 4, 0x7f, 0xff, 0xff, 0xff]);
    assert_eq!(out[1].0.kind, frame::WINDOW_UPDATE);
    assert_eq!(frame::u32_at(&out[1].1, 0), frame::MAX_WINDOW - 65_535);
    assert!(session.pending().is_empty());
}

#[test]
fn settings_are_acknowledged_pings_answered_and_the_servers_stream_limit_kept() {
    let requests = get();
    let mut session = Session::new(4, 0u32);
    written(&mut session);
    let mut server = frame_bytes(frame::SETTINGS, 0, 0, &[0, 3, 0, 0, 0, 1]);
    server.extend(frame_bytes(frame::PING, 0, 0, b"abcdefgh"));
    assert_eq!(feed(&mut session, &requests, &server, 5), Ok(vec![]));
    let out = written(&mut session);
    assert_eq!(
        (out[0].0.kind, out[0].0.flags),
        (frame::SETTINGS, frame::ACK)
    );
    assert_eq!((out[1].0.kind, out[1].0.flags), (frame::PING, frame::ACK));
    assert_eq!(out[1].1, b"abcdefgh");
    let slot = session.free_slot().expect("a free stream");
    session.open(slot, &requests, 0, 7);
    assert_eq!(
        session.free_slot(),
        None,
        "the server allows one stream at a time"
    );
    let out = written(&mut session);
    assert_eq!((out[0].0.kind, out[0].0.stream), (frame::HEADERS, 1));
}

#[test]
fn responses_end_at_end_stream_in_whole_frames_or_byte_by_byte() {
    let requests = get();
    for chunk in [usize::MAX, 1] {
        let mut session = Session::new(2, 0u32);
        session.open(0, &requests, 0, 10);
        session.open(1, &requests, 0, 11);
        // Stream 3: a 100 Continue, then 204 with END_STREAM. Stream 1: 200 split over a
        // CONTINUATION (`:status` 200, then `content-length: 2` as a literal), then DATA.
        let mut server = frame_bytes(
            frame::HEADERS,
            frame::END_HEADERS,
            3,
            &[0x08, 0x03, b'1', b'0', b'0'],
        );
        server.extend(frame_bytes(
            frame::HEADERS,
            frame::END_HEADERS | frame::END_STREAM,
            3,
            &[0x89],
        ));
        server.extend(frame_bytes(frame::HEADERS, 0, 1, &[0x88, 0x0f]));
        server.extend(frame_bytes(
            frame::CONTINUATION,
            frame::END_HEADERS,
            1,
            &[0x0d, 0x01, b'2'],
        ));
        server.extend(frame_bytes(frame::DATA, 0, 1, b"o"));
        server.extend(frame_bytes(frame::DATA, frame::END_STREAM, 1, b"k"));
        let events = feed(&mut session, &requests, &server, chunk).expect("valid frames");
        assert_eq!(
            events,
            [
                Event::Response {
                    tag: 11,
                    status: 204,
                    grpc: None
                },
                Event::Response {
                    tag: 10,
                    status: 200,
                    grpc: None
                }
            ],
            "read {chunk} bytes at a time"
        );
        assert_eq!(session.in_flight(), 0);
    }
}

#[test]
fn a_goaway_refuses_the_streams_above_its_last_and_resets_are_told_apart() {
    let requests = get();
    let mut session = Session::new(3, 0u32);
    for (slot, tag) in [(0, 1), (1, 3), (2, 5)] {
        session.open(slot, &requests, 0, tag);
    }
    let mut goaway = Vec::new();
    frame::put_goaway(&mut goaway, 3, frame::NO_ERROR);
    let events = feed(&mut session, &requests, &goaway, usize::MAX).expect("goaway");
    assert_eq!(events, [Event::Refused { tag: 5 }, Event::GoAway]);
    assert!(session.closing());
    assert_eq!(session.free_slot(), None, "no new stream after GOAWAY");
    let mut resets = frame_bytes(
        frame::RST_STREAM,
        0,
        1,
        &frame::REFUSED_STREAM.to_be_bytes(),
    );
    resets.extend(frame_bytes(frame::RST_STREAM, 0, 3, &2u32.to_be_bytes()));
    let events = feed(&mut session, &requests, &resets, usize::MAX).expect("resets");
    assert_eq!(
        events,
        [Event::Refused { tag: 1 }, Event::Reset { tag: 3, code: 2 }]
    );
    assert_eq!(session.in_flight(), 0);
}

#[test]
fn a_body_larger_than_the_servers_window_waits_for_window_updates_and_is_counted() {
    let template = RequestTemplate {
        name: "post".into(),
        method: "POST".into(),
        path: "/".into(),
        headers: Vec::new(),
        body: vec![b'x'; 100_000],
        weight: 1,
        grpc_expect: None,
    };
    let requests = prebuild(&[template], target(), false);
    let mut session = Session::new(1, 0u32);
    written(&mut session);
    session.open(0, &requests, 0, 1);
    assert_eq!(session.flow_blocked, 1);
    let sent: usize = written(&mut session)
        .iter()
        .filter(|(h, _)| h.kind == frame::DATA)
        .map(|(h, _)| h.len)
        .sum();
    assert_eq!(sent, 65_535, "the default window, no more");
    let mut updates = Vec::new();
    frame::put_window_update(&mut updates, 0, 50_000);
    frame::put_window_update(&mut updates, 1, 50_000);
    feed(&mut session, &requests, &updates, usize::MAX).expect("updates");
    let rest = written(&mut session);
    let sent: usize = rest.iter().map(|(h, _)| h.len).sum();
    assert_eq!(sent, 100_000 - 65_535);
    assert!(rest.last().expect("data").0.has(frame::END_STREAM));
    assert!(rest.iter().all(|(h, _)| h.len <= frame::DEFAULT_MAX_FRAME));
}

#[test]
fn a_push_an_oversized_frame_or_a_broken_block_end_the_connection() {
    let requests = get();
    let cases = [
        frame_bytes(
            frame::PUSH_PROMISE,
            frame::END_HEADERS,
            1,
            &[0, 0, 0, 2, 0x88],
        ),
        frame_bytes(frame::DATA, 0, 1, &vec![0; frame::DEFAULT_MAX_FRAME + 1]),
        frame_bytes(
            frame::HEADERS,
            frame::END_HEADERS,
            1,
            &[0xff, 0xff, 0xff, 0x7f],
        ),
        // A HEADERS without END_HEADERS followed by anything but its CONTINUATION.
        [
            frame_bytes(frame::HEADERS, 0, 1, &[0x88]),
            frame_bytes(frame::DATA, 0, 1, b"x"),
        ]
        .concat(),
    ];
    for bytes in cases {
        let mut session = Session::new(1, 0u32);
        session.open(0, &requests, 0, 1);
        assert_eq!(
            feed(&mut session, &requests, &bytes, usize::MAX),
            Err(ConnectionError)
        );
    }
}

#[test]
fn a_stream_that_outlives_many_newer_ones_is_still_found() {
    let requests = get();
    let mut session = Session::new(2, 0u32);
    session.open(0, &requests, 0, 1);
    // Twenty streams open and end on the other slot (ids 3 to 41) while stream 1 waits.
    for tag in 0..20u32 {
        let slot = session.free_slot().expect("one free");
        session.open(slot, &requests, 0, 100 + tag);
        let id = 3 + 2 * tag;
        let end = frame_bytes(
            frame::HEADERS,
            frame::END_HEADERS | frame::END_STREAM,
            id,
            &[0x88],
        );
        let events = feed(&mut session, &requests, &end, usize::MAX).expect("response");
        assert_eq!(
            events,
            [Event::Response {
                tag: 100 + tag,
                status: 200,
                grpc: None
            }]
        );
    }
    let end = frame_bytes(
        frame::HEADERS,
        frame::END_HEADERS | frame::END_STREAM,
        1,
        &[0x8d],
    );
    let events = feed(&mut session, &requests, &end, usize::MAX).expect("response");
    assert_eq!(
        events,
        [Event::Response {
            tag: 1,
            status: 404,
            grpc: None
        }]
    );
}

#[test]
fn a_grpc_status_is_read_from_the_trailers_or_a_trailers_only_response() {
    // A literal field without indexing, new name (RFC 7541 §6.2.2).
    let field = |name: &str, value: &str| {
        let mut out = vec![0x00, name.len() as u8];
        out.extend_from_slice(name.as_bytes());
        out.push(value.len() as u8);
        out.extend_from_slice(value.as_bytes());
        out
    };
    let requests = get();
    let mut session = Session::new(3, 0u32);
    for (slot, tag) in [(0, 1), (1, 2), (2, 3)] {
        session.open(slot, &requests, 0, tag);
    }
    let headers = |stream, flags, block: &[u8]| frame_bytes(frame::HEADERS, flags, stream, block);
    let end = frame::END_HEADERS | frame::END_STREAM;
    let server = [
        // Stream 1: headers, a message, trailers with the status.
        headers(1, frame::END_HEADERS, &[0x88]),
        frame_bytes(frame::DATA, 0, 1, b"\0\0\0\0\0"),
        headers(
            1,
            end,
            &[field("grpc-status", "5"), field("grpc-message", "gone")].concat(),
        ),
        // Stream 3: trailers-only (the status in the one header block).
        headers(3, end, &[vec![0x88], field("grpc-status", "14")].concat()),
        // Stream 5: a plain response, no grpc-status at all.
        headers(5, end, &[0x88]),
    ]
    .concat();
    let events = feed(&mut session, &requests, &server, usize::MAX).expect("valid frames");
    assert_eq!(
        events,
        [
            Event::Response {
                tag: 1,
                status: 200,
                grpc: Some(5)
            },
            Event::Response {
                tag: 2,
                status: 200,
                grpc: Some(14)
            },
            Event::Response {
                tag: 3,
                status: 200,
                grpc: None
            }
        ]
    );
}
