//! HTTP/2 for the load generator (`protocol = "h2"` over TLS, `"h2c"` in clear text), in the
//! worker's own mio loop: no thread, runtime or callback of its own.
//!
//! Files, leaf first: `frame.rs` (frame headers and the frames a client writes), `hpack.rs`
//! (request header blocks encoded once before the load; response blocks decoded with
//! `httlib-hpack`), `request.rs` (each template's HEADERS frames per target, the stream id
//! patched in per send), `event.rs` (how a stream ended), `session.rs` (one connection's
//! client state with no I/O: SETTINGS, PING, flow control both ways, streams, GOAWAY,
//! RST_STREAM), `sends.rs` (open loop: a replica's pooled send slots), `ctx.rs` (what the
//! worker's connections share), `conn.rs` (a connection's session over the link `setup.rs`
//! sets up, and its outcomes), `engine.rs` (the worker's loop: closed loop keeps `streams`
//! requests in flight per connection; open loop sends each due slot on any connection to its
//! replica with a free stream).

mod conn;
mod ctx;
mod engine;
mod event;
mod frame;
mod hpack;
mod request;
mod sends;
mod session;
#[cfg(test)]
mod tests;

pub(super) use engine::H2Engine;
