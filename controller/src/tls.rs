//! Mutual TLS between the controller and its agents: a private CA for a fleet, an agent
//! certificate (server) and a controller certificate (client), all signed by it.
//!
//! `numaload certs --dir DIR --host H...` writes `ca.pem`, `ca.key`, `agent.pem`, `agent.key`,
//! `controller.pem`, `controller.key` (keys readable by the owner only). Agents load
//! `ca.pem` + `agent.*` and accept only clients whose certificate the CA signed; the controller
//! loads `ca.pem` + `controller.*` and accepts only agents the CA signed for the host it dials.

use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use tonic::transport::{Certificate, ClientTlsConfig, Identity};

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read {path}: {source}; create the fleet's certificates with `numaload certs --dir DIR --host HOST...`")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{dir} already holds a CA (ca.pem): refusing to overwrite it; use another --dir or remove it")]
    Exists { dir: PathBuf },
    #[error("certificate generation failed: {0}")]
    Generate(String),
    #[error("--host `{0}` is not a host name or IP address")]
    BadHost(String),
}

/// The files `numaload certs` writes.
pub const FILES: [&str; 6] = [
    "ca.pem",
    "ca.key",
    "agent.pem",
    "agent.key",
    "controller.pem",
    "controller.key",
];

/// Creates a CA and the agent and controller certificates in `dir`. The agent certificate is
/// valid for every name in `hosts` (host names or IP addresses the controller dials) plus
/// `localhost` and `127.0.0.1`.
pub fn generate(dir: &Path, hosts: &[String]) -> Result<(), TlsError> {
    if dir.join("ca.pem").exists() {
        return Err(TlsError::Exists {
            dir: dir.to_owned(),
        });
    }
    for host in hosts {
        let plausible = !host.is_empty()
            && host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || ".-:".contains(c));
        if !plausible {
            return Err(TlsError::BadHost(host.clone()));
        }
    }
    std::fs::create_dir_all(dir).map_err(|source| TlsError::Write {
        path: dir.to_owned(),
        source,
    })?;
    let fail = |e: rcgen::Error| TlsError::Generate(e.to_string());

    let ca_key = KeyPair::generate().map_err(fail)?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(fail)?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "numaload fleet CA");
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_cert = ca_params.self_signed(&ca_key).map_err(fail)?;
    let issuer = Issuer::new(ca_params, ca_key);

    let mut names: Vec<String> = hosts.to_vec();
    names.extend(["localhost".to_owned(), "127.0.0.1".to_owned()]);
    names.dedup();
    let (agent_cert, agent_key) = leaf(
        &issuer,
        names,
        "numaload agent",
        ExtendedKeyUsagePurpose::ServerAuth,
    )?;
    let (controller_cert, controller_key) = leaf(
        &issuer,
        vec!["numaload-controller".to_owned()],
        "numaload controller",
        ExtendedKeyUsagePurpose::ClientAuth,
    )?;

    write(dir, "ca.pem", &ca_cert.pem(), false)?;
    write(dir, "ca.key", &issuer_key_pem(&issuer), true)?;
    write(dir, "agent.pem", &agent_cert, false)?;
    write(dir, "agent.key", &agent_key, true)?;
    write(dir, "controller.pem", &controller_cert, false)?;
    write(dir, "controller.key", &controller_key, true)?;
    Ok(())
}

fn leaf(
    issuer: &Issuer<'static, KeyPair>,
    names: Vec<String>,
    common_name: &str,
    usage: ExtendedKeyUsagePurpose,
) -> Result<(String, String), TlsError> {
    let fail = |e: rcgen::Error| TlsError::Generate(e.to_string());
    let key = KeyPair::generate().map_err(fail)?;
    let mut params = CertificateParams::new(names).map_err(fail)?;
    params
        .distinguished_name
        .push(DnType::CommonName, common_name);
    params.use_authority_key_identifier_extension = true;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![usage];
    let cert = params.signed_by(&key, issuer).map_err(fail)?;
    Ok((cert.pem(), key.serialize_pem()))
}

fn issuer_key_pem(issuer: &Issuer<'static, KeyPair>) -> String {
    issuer.key().serialize_pem()
}

fn write(dir: &Path, name: &str, text: &str, secret: bool) -> Result<(), TlsError> {
    let path = dir.join(name);
    let fail = |source| TlsError::Write {
        path: path.clone(),
        source,
    };
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(if secret { 0o600 } else { 0o644 })
        .open(&path)
        .map_err(fail)?;
    file.write_all(text.as_bytes()).map_err(fail)
}

/// The controller's side: trust the fleet CA, present the controller certificate.
pub fn client_config(dir: &Path) -> Result<ClientTlsConfig, TlsError> {
    Ok(ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(read(dir, "ca.pem")?))
        .identity(Identity::from_pem(
            read(dir, "controller.pem")?,
            read(dir, "controller.key")?,
        )))
}

fn read(dir: &Path, name: &str) -> Result<Vec<u8>, TlsError> {
    let path = dir.join(name);
    std::fs::read(&path).map_err(|source| TlsError::Read { path, source })
}
