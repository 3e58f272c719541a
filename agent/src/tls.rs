//! The agent's side of mutual TLS: present the agent certificate, accept only controllers whose
//! client certificate the fleet CA signed (files made by `numaload certs`).

use std::path::{Path, PathBuf};

use tonic::transport::{Certificate, Identity, ServerTlsConfig};

#[derive(Debug, thiserror::Error)]
#[error("cannot read {path}: {source}; create the fleet's certificates with `numaload certs --dir DIR --host HOST...` and give that DIR")]
pub struct TlsFilesError {
    path: PathBuf,
    source: std::io::Error,
}

/// Server TLS from `dir/ca.pem`, `dir/agent.pem`, `dir/agent.key`, client certificates required.
pub fn server_config(dir: &Path) -> Result<ServerTlsConfig, TlsFilesError> {
    let read = |name: &str| {
        let path = dir.join(name);
        std::fs::read(&path).map_err(|source| TlsFilesError { path, source })
    };
    Ok(ServerTlsConfig::new()
        .identity(Identity::from_pem(read("agent.pem")?, read("agent.key")?))
        .client_ca_root(Certificate::from_pem(read("ca.pem")?))
        .client_auth_optional(false))
}
