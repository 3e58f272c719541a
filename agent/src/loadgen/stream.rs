//! A connection's byte stream: the TCP socket, and TLS over it when the plan asks
//! (`tls.rs`). The socket-level work (registering, options, receive timestamps) uses the TCP
//! socket itself; writes and reads of the exchange go through [`Stream::write_some`] and
//! [`Stream::read_response`], which cost a plain connection one branch each.

use std::io::{self, Write};

use mio::net::TcpStream;

use super::arrival::Arrivals;
use super::http::{Failure, Response, ResponseReader};
use super::tls::{Handshake, TlsLink};

/// The socket, and its TLS side if any.
#[derive(Debug)]
pub(super) struct Stream {
    pub(super) tcp: TcpStream,
    pub(super) tls: Option<Box<TlsLink>>,
}

/// What one read of a response gave: the reader's verdict (`None`: not complete yet) and the
/// kernel's timestamp of the newest bytes read, when `arrivals` asked for one.
pub(super) struct ReadOutcome {
    pub(super) response: Option<Result<Response, Failure>>,
    pub(super) stamp: Option<std::time::Duration>,
}

impl Stream {
    pub(super) fn plain(tcp: TcpStream) -> Self {
        Self { tcp, tls: None }
    }

    /// Moves the TLS handshake on (a plain stream has none: done at once, not resumed).
    pub(super) fn handshake(&mut self) -> io::Result<Handshake> {
        match &mut self.tls {
            None => Ok(Handshake::Done { resumed: false }),
            Some(link) => link.handshake(&mut self.tcp),
        }
    }

    /// Writes what the socket takes now of `bytes`: `Ok(0)` if it would block. Over TLS a
    /// request counts as written once all its ciphertext is out (see `tls.rs`).
    pub(super) fn write_some(&mut self, bytes: &[u8]) -> io::Result<usize> {
        if let Some(link) = &mut self.tls {
            return link.write(&mut self.tcp, bytes);
        }
        loop {
            match self.tcp.write(bytes) {
                Ok(0) if !bytes.is_empty() => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(0),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Reads what has come of the response `reader` is reading, through TLS if any, with the
    /// kernel's receive timestamps when `arrivals` is given.
    pub(super) fn read_response(
        &mut self,
        reader: &mut ResponseReader,
        bodiless: bool,
        arrivals: Option<&mut Arrivals>,
    ) -> ReadOutcome {
        match (arrivals, &mut self.tls) {
            (None, None) => ReadOutcome {
                response: reader.read_available(&mut self.tcp, bodiless),
                stamp: None,
            },
            (None, Some(link)) => ReadOutcome {
                response: reader.read_available(&mut link.reader(&self.tcp), bodiless),
                stamp: None,
            },
            (Some(arrivals), None) => {
                let mut stamped = arrivals.reader(&self.tcp);
                let response = reader.read_available(&mut stamped, bodiless);
                ReadOutcome {
                    response,
                    stamp: stamped.stamp,
                }
            }
            (Some(arrivals), Some(link)) => {
                let mut stamped = arrivals.reader(&self.tcp);
                let response = reader.read_available(&mut link.reader(&mut stamped), bodiless);
                ReadOutcome {
                    response,
                    stamp: stamped.stamp,
                }
            }
        }
    }
}
