//! TLS on the server's one port: a connection whose first byte is a TLS handshake record
//! (`0x16`) is served over TLS, any other in clear text, so every client of the target (a plain
//! or a TLS load, a scrape of `/metrics`) uses the same address.
//!
//! The certificate is the one `--tls-cert`/`--tls-key` name (PEM), else one generated at start
//! (a self-signed ECDSA P-256 certificate for `localhost`, `127.0.0.1`, `::1` and the listen
//! address): a client then has to skip verification (`insecure_skip_verify`), or be given
//! `--tls-cert` signed by a CA it trusts. ALPN: `h2` first, then `http/1.1`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;

/// The first byte of a TLS connection: a handshake record.
const HANDSHAKE_RECORD: u8 = 0x16;

/// Where the server's certificate comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identity {
    /// Generated at start for the listen address (self-signed).
    Generated,
    /// PEM files: the certificate chain and its private key.
    Files { cert: PathBuf, key: PathBuf },
}

/// The acceptor for the TLS connections of a server listening on `listen`.
pub fn acceptor(identity: &Identity, listen: SocketAddr) -> anyhow::Result<TlsAcceptor> {
    let (chain, key) = match identity {
        Identity::Generated => generated(listen)?,
        Identity::Files { cert, key } => (read_chain(cert)?, read_key(key)?),
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .context("--tls-cert/--tls-key: the certificate does not match the key")?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// A self-signed certificate for the local names and `listen`'s address.
fn generated(
    listen: SocketAddr,
) -> anyhow::Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)> {
    let mut names = vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
    ];
    if !listen.ip().is_unspecified() && !listen.ip().is_loopback() {
        names.push(listen.ip().to_string());
    }
    let certified =
        rcgen::generate_simple_self_signed(names).context("generating a certificate")?;
    let key = PrivateKeyDer::try_from(certified.signing_key.serialize_der())
        .map_err(|e| anyhow::anyhow!("generated key: {e}"))?;
    Ok((vec![certified.cert.der().clone()], key))
}

fn read_chain(path: &Path) -> anyhow::Result<Vec<CertificateDer<'static>>> {
    let chain: Vec<_> = CertificateDer::pem_file_iter(path)
        .and_then(Iterator::collect)
        .with_context(|| {
            format!(
                "--tls-cert {}: not a readable PEM certificate",
                path.display()
            )
        })?;
    anyhow::ensure!(
        !chain.is_empty(),
        "--tls-cert {}: holds no certificate",
        path.display()
    );
    Ok(chain)
}

fn read_key(path: &Path) -> anyhow::Result<PrivateKeyDer<'static>> {
    PrivateKeyDer::from_pem_file(path).with_context(|| {
        format!(
            "--tls-key {}: not a readable PEM private key",
            path.display()
        )
    })
}

/// Whether the client opened `stream` with a TLS handshake (waits for its first byte).
pub(crate) async fn starts_with_handshake(stream: &TcpStream) -> bool {
    let mut first = [0u8; 1];
    matches!(stream.peek(&mut first).await, Ok(1) if first[0] == HANDSHAKE_RECORD)
}
