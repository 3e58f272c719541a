//! TLS on the generator's connections, inside the worker's own event loop: rustls does no I/O
//! of its own, so a connection feeds it the socket's bytes (`read_tls`) and hands it back what
//! it has to send (`write_tls`) whenever the poller says the socket is ready. Nothing blocks,
//! nothing runs on another thread, and a plain connection pays nothing for it (`stream.rs`).
//!
//! - **Configuration** ([`client_config`]): built once per worker from [`TlsSettings`], so each
//!   worker keeps its own session cache (resumption never takes a lock another worker holds).
//!   Roots: the plan's `ca` (PEM), else the system's (`/etc/ssl/certs`); `insecure_skip_verify`
//!   accepts any certificate (the handshake still runs in full, so its cost is measured).
//!   ALPN offers the plan's protocols in order; `resume = false` turns resumption off, so every
//!   connect is a full handshake.
//! - **Server name** ([`server_name`]): the plan's `sni`, else the target's IP address (no SNI
//!   is sent for an address; the certificate must then name the IP).
//! - **Reading** ([`TlsRead`]): plaintext is handed out as the HTTP reader asks for it; a read
//!   returns less than asked only once the socket has nothing more (as a plain socket's does),
//!   so an edge-triggered poller never leaves bytes behind. A peer that closes without
//!   `close_notify` reads as the end of the stream (many servers do; the HTTP framing decides
//!   whether the response was complete).
//! - **Writing** ([`TlsLink::write`]): a request counts as written only when all of its
//!   ciphertext is on the socket, so a half-sent request stays half-sent to the driver.
//! - **Failures**: any error rustls reports (a certificate that does not verify, an alert, a
//!   broken record) is an `io::Error` carrying [`TlsFailure`], counted as a `tls` error rather
//!   than `io`. [`preflight`] makes one handshake with every target before the load starts, so
//!   a certificate that does not verify is one clear error naming the target, not a run of
//!   failed connections.

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::Resumption;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    ClientConfig, ClientConnection, DigitallySignedStruct, RootCertStore, SignatureScheme,
};

use super::config::{LoadError, TlsSettings};
use super::report::ErrorKind;

/// The error payload of an `io::Error` that rustls raised: a `tls` error, not an `io` one.
#[derive(Debug)]
pub(super) struct TlsFailure(pub(super) rustls::Error);

impl std::fmt::Display for TlsFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for TlsFailure {}

fn failure(e: rustls::Error) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, TlsFailure(e))
}

/// The kind of a failed write: `tls` when rustls raised it, else `io`.
pub(super) fn error_kind(e: &io::Error) -> ErrorKind {
    if is_tls(e) {
        ErrorKind::Tls
    } else {
        ErrorKind::Io
    }
}

/// Whether `e` is one rustls raised.
pub(super) fn is_tls(e: &io::Error) -> bool {
    e.get_ref().is_some_and(|inner| inner.is::<TlsFailure>())
}

/// A client configuration from `settings`; one per worker (its own session cache).
pub(super) fn client_config(settings: &TlsSettings) -> Result<Arc<ClientConfig>, LoadError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| LoadError::Tls(format!("tls: {e}")))?;
    let mut config = if settings.insecure_skip_verify {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAny(provider)))
            .with_no_client_auth()
    } else {
        builder
            .with_root_certificates(roots(settings.ca_pem.as_deref())?)
            .with_no_client_auth()
    };
    config.alpn_protocols = settings
        .alpn
        .iter()
        .map(|p| p.as_bytes().to_vec())
        .collect();
    config.resumption = if settings.resume {
        Resumption::in_memory_sessions(256)
    } else {
        Resumption::disabled()
    };
    Ok(Arc::new(config))
}

/// The roots certificates are checked against: `ca_pem`'s, else the system's.
fn roots(ca_pem: Option<&[u8]>) -> Result<RootCertStore, LoadError> {
    let mut store = RootCertStore::empty();
    match ca_pem {
        Some(pem) => {
            let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(pem)
                .collect::<Result<_, _>>()
                .map_err(|e| LoadError::Tls(format!("tls.ca: not a PEM certificate file: {e}")))?;
            if certs.is_empty() {
                return Err(LoadError::Tls(
                    "tls.ca: holds no certificate (expected -----BEGIN CERTIFICATE-----)".into(),
                ));
            }
            for cert in certs {
                store
                    .add(cert)
                    .map_err(|e| LoadError::Tls(format!("tls.ca: unusable certificate: {e}")))?;
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            let (added, _unusable) = store.add_parsable_certificates(found.certs);
            if added == 0 {
                return Err(LoadError::Tls(
                    "tls.ca: no trusted roots on this host (install ca-certificates), so no \
                     certificate can verify; name the issuer's PEM in load.ca"
                        .into(),
                ));
            }
        }
    }
    Ok(store)
}

/// A worker's TLS client: its configuration, made once, and the plan's server name.
#[derive(Debug)]
pub(super) struct TlsClient {
    pub(super) config: Arc<rustls::ClientConfig>,
    pub(super) name: Option<ServerName<'static>>,
}

impl TlsClient {
    /// The client `settings` ask for; `run` made the same before the workers start, so an
    /// error here is the machine's, not the plan's.
    pub(super) fn new(settings: &TlsSettings) -> Result<Self, LoadError> {
        let name = match &settings.server_name {
            Some(name) => Some(ServerName::try_from(name.clone()).map_err(|_| {
                LoadError::Tls(format!("tls.sni: {name:?} is not a DNS name or address"))
            })?),
            None => None,
        };
        Ok(Self {
            config: client_config(settings)?,
            name,
        })
    }

    /// A TLS side for a connection to `target`.
    pub(super) fn link(&self, target: std::net::SocketAddr) -> io::Result<Box<TlsLink>> {
        let name = self
            .name
            .clone()
            .unwrap_or_else(|| ServerName::IpAddress(target.ip().into()));
        TlsLink::new(&self.config, name).map(Box::new)
    }
}

/// The TLS side of one connection: rustls's state, and how much of the request being written
/// it has taken but not yet put on the socket.
#[derive(Debug)]
pub(super) struct TlsLink {
    conn: ClientConnection,
    /// Plaintext given to rustls whose ciphertext is not all on the socket yet.
    accepted: usize,
}

/// How a handshake step left the link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Handshake {
    /// Waiting on the socket.
    Pending,
    /// Done: `resumed` tells whether the session was resumed.
    Done { resumed: bool },
}

impl TlsLink {
    pub(super) fn new(config: &Arc<ClientConfig>, name: ServerName<'static>) -> io::Result<Self> {
        let conn = ClientConnection::new(Arc::clone(config), name).map_err(failure)?;
        Ok(Self { conn, accepted: 0 })
    }

    /// Moves the handshake on as far as the socket allows.
    pub(super) fn handshake<S>(&mut self, socket: &mut S) -> io::Result<Handshake>
    where
        S: Read + Write,
    {
        while self.conn.is_handshaking() {
            if self.conn.wants_write() {
                match self.conn.write_tls(socket) {
                    Ok(_) => continue,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(e) => return Err(e),
                }
            }
            if !self.conn.wants_read() {
                // Everything to say is said and nothing is awaited: only the socket can
                // move it on, when it takes the rest.
                return Ok(Handshake::Pending);
            }
            match self.conn.read_tls(socket) {
                Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
                Ok(_) => {
                    self.conn.process_new_packets().map_err(failure)?;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(Handshake::Pending),
                Err(e) => return Err(e),
            }
        }
        let resumed = matches!(
            self.conn.handshake_kind(),
            Some(rustls::HandshakeKind::Resumed)
        );
        Ok(Handshake::Done { resumed })
    }

    /// The protocol the server chose by ALPN, if any.
    pub(super) fn alpn(&self) -> Option<&[u8]> {
        self.conn.alpn_protocol()
    }

    /// Writes what the socket takes now of `bytes`, a request or the rest of one: all of it
    /// once its whole ciphertext is on the socket, else 0 (the rest goes out when the socket
    /// is writable again and this is called with the same bytes).
    pub(super) fn write<S: Write>(&mut self, socket: &mut S, bytes: &[u8]) -> io::Result<usize> {
        if self.accepted == 0 && !bytes.is_empty() {
            self.conn.writer().write_all(bytes)?;
            self.accepted = bytes.len();
        }
        while self.conn.wants_write() {
            match self.conn.write_tls(socket) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(0),
                Err(e) => return Err(e),
            }
        }
        Ok(std::mem::take(&mut self.accepted))
    }

    /// A reader of plaintext that takes its ciphertext from `socket`.
    pub(super) fn reader<R: Read>(&mut self, socket: R) -> TlsRead<'_, R> {
        TlsRead {
            conn: &mut self.conn,
            socket,
        }
    }
}

/// Plaintext of a [`TlsLink`], read from its socket (see the module doc).
#[derive(Debug)]
pub(super) struct TlsRead<'a, R> {
    conn: &'a mut ClientConnection,
    socket: R,
}

impl<R: Read> Read for TlsRead<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut filled = 0;
        loop {
            match self.conn.reader().read(&mut buf[filled..]) {
                Ok(0) => return Ok(filled),
                Ok(n) => {
                    filled += n;
                    if filled == buf.len() {
                        return Ok(filled);
                    }
                    continue;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                // Closed without close_notify: the end of the stream.
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(filled),
                Err(e) => return Err(e),
            }
            match self.conn.read_tls(&mut self.socket) {
                // The end of the stream: the reader says so next turn.
                Ok(_) => {
                    self.conn.process_new_packets().map_err(failure)?;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock && filled > 0 => return Ok(filled),
                Err(e) => return Err(e),
            }
        }
    }
}

/// One blocking handshake with each target, before the load: a TLS failure (a certificate
/// that does not verify, a protocol the server refuses, a protocol chosen by ALPN other than
/// `expect_alpn`) is a [`LoadError::Tls`] naming the target. A target that cannot be reached
/// is left to the load, which counts it.
pub(super) fn preflight(
    settings: &TlsSettings,
    targets: &[SocketAddr],
    expect_alpn: Option<&str>,
    timeout: Duration,
) -> Result<(), LoadError> {
    let client = TlsClient::new(settings)?;
    for &target in targets {
        let Ok(mut tcp) = std::net::TcpStream::connect_timeout(&target, timeout) else {
            continue;
        };
        let deadline = Instant::now() + timeout;
        let _ = tcp.set_read_timeout(Some(timeout));
        let _ = tcp.set_write_timeout(Some(timeout));
        let mut link = client.link(target).map_err(|e| refused(target, &e))?;
        let done = loop {
            match link.handshake(&mut tcp) {
                Ok(Handshake::Done { .. }) => break true,
                Ok(Handshake::Pending) if Instant::now() < deadline => {}
                Ok(Handshake::Pending) => break false,
                Err(e) if is_tls(&e) => return Err(refused(target, &e)),
                // Reset, closed, timed out: the load will count what this target does.
                Err(_) => break false,
            }
        };
        // A server that chose nothing is taken to speak HTTP/1.1; HTTP/2 must be chosen.
        if let (true, Some("h2"), None) = (done, expect_alpn, link.alpn()) {
            return Err(LoadError::Tls(format!(
                "protocol: {target} did not choose \"h2\" by ALPN (it speaks HTTP/1.1 only, or \
                 its TLS listener has no HTTP/2); enable HTTP/2 on the server or use protocol = \"h1\""
            )));
        }
        if let (Some(want), Some(chose)) = (expect_alpn, link.alpn()) {
            if chose != want.as_bytes() {
                let chose = String::from_utf8_lossy(chose);
                return Err(LoadError::Tls(format!(
                    "tls.alpn: {target} chose {chose:?} by ALPN, but the load speaks {want:?}; \
                     offer {want:?} first (alpn) or set protocol to what the server speaks"
                )));
            }
        }
    }
    Ok(())
}

fn refused(target: SocketAddr, e: &io::Error) -> LoadError {
    let fix = match e.get_ref().and_then(|i| i.downcast_ref::<TlsFailure>()) {
        Some(TlsFailure(rustls::Error::InvalidCertificate(_))) => {
            "; name the certificate's issuer (PEM) in load.ca, set load.sni to a name the \
             certificate holds, or set load.insecure_skip_verify = true to skip the check"
        }
        _ => "",
    };
    LoadError::Tls(format!("tls: the handshake with {target} failed: {e}{fix}"))
}

/// `insecure_skip_verify`: every certificate is accepted, signatures are still checked (the
/// handshake costs what a verified one does, less the chain).
#[derive(Debug)]
struct AcceptAny(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for AcceptAny {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
