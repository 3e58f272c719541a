//! The protocol side of a plan's `[load]`, read from the wire and checked again (the wire is
//! untrusted): TLS ([`tls_settings`]).

use numaload_proto::v1;

use super::error::{LoadSpecError, RequestFault};
use crate::loadgen::{Protocol, TlsSettings};

/// Largest `ca` PEM accepted (a bundle of a few hundred roots fits).
const MAX_CA_PEM: usize = 1 << 20;
/// Most ALPN protocols offered.
const MAX_ALPN: usize = 8;

/// The generator's protocol from the wire's.
pub(super) fn protocol(wire: i32) -> Result<Protocol, LoadSpecError> {
    match v1::HttpProtocol::try_from(wire) {
        Ok(v1::HttpProtocol::Unspecified | v1::HttpProtocol::H1) => Ok(Protocol::H1),
        Ok(v1::HttpProtocol::H2) => Ok(Protocol::H2),
        Ok(v1::HttpProtocol::H2c) => Ok(Protocol::H2c),
        Err(_) => Err(LoadSpecError::Protocol(wire)),
    }
}

/// The generator's TLS settings from the wire's, `None` for clear text.
pub(super) fn tls_settings(
    spec: Option<&v1::TlsSpec>,
) -> Result<Option<TlsSettings>, LoadSpecError> {
    let Some(spec) = spec else {
        return Ok(None);
    };
    if spec.ca_pem.len() > MAX_CA_PEM {
        return Err(LoadSpecError::Tls(format!(
            "ca: {} bytes of PEM, at most {MAX_CA_PEM}",
            spec.ca_pem.len()
        )));
    }
    if spec.alpn.len() > MAX_ALPN {
        return Err(LoadSpecError::Tls(format!(
            "alpn: {} protocols, at most {MAX_ALPN}",
            spec.alpn.len()
        )));
    }
    if let Some(bad) = spec
        .alpn
        .iter()
        .find(|p| p.is_empty() || p.len() > 255 || !p.bytes().all(|b| b.is_ascii_graphic()))
    {
        return Err(LoadSpecError::Tls(format!(
            "alpn: {bad:?} is not a protocol name (1 to 255 printable characters, e.g. \"http/1.1\")"
        )));
    }
    let server_name = (!spec.server_name.is_empty()).then(|| spec.server_name.clone());
    if let Some(name) = &server_name {
        if rustls::pki_types::ServerName::try_from(name.as_str()).is_err() {
            return Err(LoadSpecError::Tls(format!(
                "sni = {name:?}: not a DNS name or IP address"
            )));
        }
    }
    Ok(Some(TlsSettings {
        server_name,
        ca_pem: (!spec.ca_pem.is_empty()).then(|| spec.ca_pem.clone()),
        insecure_skip_verify: spec.insecure_skip_verify,
        alpn: spec.alpn.clone(),
        resume: !spec.no_resume,
    }))
}

/// A gRPC call's expected `grpc-status` codes, a bit each (none given: `OK` only); `None`
/// for a request that is not a gRPC call.
pub(super) fn grpc_expect(call: Option<&v1::GrpcCall>) -> Result<Option<u32>, RequestFault> {
    let Some(call) = call else {
        return Ok(None);
    };
    if call.expect_status.is_empty() {
        return Ok(Some(1));
    }
    let bits = call
        .expect_status
        .iter()
        .try_fold(0u32, |bits, &code| match code {
            0..=16 => Ok(bits | 1 << code),
            _ => Err(RequestFault::GrpcStatus(code)),
        })?;
    Ok(Some(bits))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_from_the_wire_is_checked_and_defaults_to_resuming() {
        assert_eq!(tls_settings(None).expect("clear text"), None);
        let spec = v1::TlsSpec {
            server_name: "api.example".into(),
            alpn: vec!["http/1.1".into()],
            ..Default::default()
        };
        let settings = tls_settings(Some(&spec)).expect("valid").expect("tls");
        assert_eq!(settings.server_name.as_deref(), Some("api.example"));
        assert!(settings.resume, "resumption unless no_resume");
        assert_eq!(settings.ca_pem, None, "empty PEM: the system's roots");
        let refused = [
            v1::TlsSpec {
                server_name: "not a name".into(),
                ..Default::default()
            },
            v1::TlsSpec {
                alpn: vec![String::new()],
                ..Default::default()
            },
            v1::TlsSpec {
                alpn: vec!["h2".into(); 9],
                ..Default::default()
            },
            v1::TlsSpec {
                ca_pem: vec![b'-'; MAX_CA_PEM + 1],
                ..Default::default()
            },
        ];
        for spec in refused {
            let message = tls_settings(Some(&spec)).expect_err("refused").to_string();
            assert!(message.starts_with("load."), "{message}");
        }
    }
}
