//! What an HTTP/2 connection sends for one template: its HEADERS (and CONTINUATION) frames
//! built once per target before the load, with a stream id of 0 that [`H2Request::head_for`]
//! patches in per send, and its body, sent as DATA as flow control allows.

use std::net::SocketAddr;
use std::rc::Rc;

use super::frame::{self, CONTINUATION, DEFAULT_MAX_FRAME, END_HEADERS, END_STREAM, HEADERS};
use super::hpack;
use crate::loadgen::config::RequestTemplate;

/// One template's frames for one target.
#[derive(Debug)]
pub(in crate::loadgen) struct H2Request {
    /// The header block as frames (stream id 0), each at most the size every peer accepts.
    head: Box<[u8]>,
    /// Where each frame's stream id is in `head`.
    id_at: Box<[usize]>,
    pub(super) body: Box<[u8]>,
}

impl H2Request {
    /// The frames of the header block for stream `id`, written into `out`.
    pub(super) fn head_for(&self, id: u32, out: &mut Vec<u8>) {
        let at = out.len();
        out.extend_from_slice(&self.head);
        for &offset in self.id_at.iter() {
            out[at + offset..at + offset + 4].copy_from_slice(&id.to_be_bytes());
        }
    }
}

/// Each template's frames for `target`, indexed like `templates` (one `GET /` when there are
/// none); `tls` picks the scheme.
pub(in crate::loadgen) fn prebuild(
    templates: &[RequestTemplate],
    target: SocketAddr,
    tls: bool,
) -> Rc<[H2Request]> {
    if templates.is_empty() {
        return Rc::new([build(hpack::request_block(None, target, tls), Vec::new())]);
    }
    templates
        .iter()
        .map(|t| build(hpack::request_block(Some(t), target, tls), t.body.clone()))
        .collect()
}

fn build(block: Vec<u8>, body: Vec<u8>) -> H2Request {
    let mut head = Vec::with_capacity(block.len() + frame::HEADER_LEN);
    let mut id_at = Vec::new();
    let chunks: Vec<&[u8]> = if block.is_empty() {
        vec![&[]]
    } else {
        block.chunks(DEFAULT_MAX_FRAME).collect()
    };
    for (i, chunk) in chunks.iter().enumerate() {
        let kind = if i == 0 { HEADERS } else { CONTINUATION };
        let mut flags = if i + 1 == chunks.len() {
            END_HEADERS
        } else {
            0
        };
        if i == 0 && body.is_empty() {
            flags |= END_STREAM;
        }
        id_at.push(head.len() + 5);
        frame::put_header(&mut head, chunk.len(), kind, flags, 0);
        head.extend_from_slice(chunk);
    }
    H2Request {
        head: head.into_boxed_slice(),
        id_at: id_at.into_boxed_slice(),
        body: body.into_boxed_slice(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::loadgen::h2::frame::Header;

    #[test]
    fn a_large_block_is_split_into_continuations_each_with_the_stream_id() {
        let template = RequestTemplate {
            name: "big".into(),
            method: "POST".into(),
            path: "/".into(),
            headers: vec![("x-big".into(), "a".repeat(40_000))],
            body: b"hello".to_vec(),
            weight: 1,
            grpc_expect: None,
        };
        let target = "127.0.0.1:1".parse().expect("addr");
        let built = prebuild(&[template], target, false);
        let mut out = Vec::new();
        built[0].head_for(5, &mut out);
        let mut frames = Vec::new();
        let mut at = 0;
        while let Some(h) = Header::parse(&out[at..]) {
            frames.push(h);
            at += frame::HEADER_LEN + h.len;
        }
        assert_eq!(at, out.len());
        let kinds: Vec<(u8, u8, u32)> =
            frames.iter().map(|h| (h.kind, h.flags, h.stream)).collect();
        assert_eq!(
            kinds,
            [
                (HEADERS, 0, 5),
                (CONTINUATION, 0, 5),
                (CONTINUATION, END_HEADERS, 5)
            ],
            "no END_STREAM: a body follows"
        );
        assert_eq!(&*built[0].body, b"hello");
        let get = prebuild(&[], target, false);
        let mut out = Vec::new();
        get[0].head_for(1, &mut out);
        let h = Header::parse(&out).expect("header");
        assert_eq!(
            (h.kind, h.flags, h.stream),
            (HEADERS, END_HEADERS | END_STREAM, 1)
        );
    }
}
