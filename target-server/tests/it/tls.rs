//! TLS on the server's one port: a client that opens with a TLS handshake is served over TLS
//! with the certificate `--tls-cert`/`--tls-key` name (verified here against the CA that
//! signed it, ALPN `http/1.1`), and a clear-text client on the same port as before.

use std::sync::Arc;

use numaload_target::tls::{acceptor, Identity};
use numaload_target::{Server, ServerConfig};
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// GET / on `stream`, the response's head and body as text (the server keeps the connection).
async fn get<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(stream: &mut S) -> String {
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: test\r\n\r\n")
        .await
        .expect("write");
    let mut buf = vec![0u8; 1024];
    let mut text = String::new();
    while !text.ends_with("ok\n") {
        let n = stream.read(&mut buf).await.expect("read");
        assert!(n > 0, "closed after {text:?}");
        text.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_and_clear_text_are_served_on_the_same_port() {
    let _turn = crate::turns::beside_others();
    let dir = std::env::temp_dir().join(format!("numaload-target-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let ca_key = KeyPair::generate().expect("key");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).expect("ca");
    let issuer = Issuer::new(ca_params, ca_key);
    let key = KeyPair::generate().expect("key");
    let cert = CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .expect("params")
        .signed_by(&key, &issuer)
        .expect("cert");
    let (cert_path, key_path) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert_path, cert.pem()).expect("cert");
    std::fs::write(&key_path, key.serialize_pem()).expect("key");

    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let identity = Identity::Files {
        cert: cert_path,
        key: key_path,
    };
    let server = Server::new(ServerConfig::async_spin(0))
        .expect("server")
        .with_tls(acceptor(&identity, addr).expect("acceptor"));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(server.serve(listener, async {
        let _ = stopped.await;
    }));

    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(ca.pem().as_bytes()).expect("ca der"))
        .expect("root");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = TcpStream::connect(addr).await.expect("connect");
    let name = ServerName::try_from("127.0.0.1").expect("name");
    let mut tls = connector
        .connect(name, tcp)
        .await
        .expect("verified handshake");
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));
    for _ in 0..2 {
        assert!(
            get(&mut tls).await.starts_with("HTTP/1.1 200"),
            "keep-alive over TLS"
        );
    }
    let mut plain = TcpStream::connect(addr).await.expect("connect");
    assert!(
        get(&mut plain).await.starts_with("HTTP/1.1 200"),
        "clear text"
    );

    drop((tls, plain));
    let _ = stop.send(());
    serving.await.expect("joined").expect("served");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_generated_certificate_needs_no_files_and_missing_files_are_named() {
    let _turn = crate::turns::beside_others();
    let addr = "127.0.0.1:8443".parse().expect("addr");
    assert!(acceptor(&Identity::Generated, addr).is_ok());
    let missing = Identity::Files {
        cert: "/nonexistent/cert.pem".into(),
        key: "/nonexistent/key.pem".into(),
    };
    let Err(error) = acceptor(&missing, addr) else {
        panic!("an acceptor without its files");
    };
    let error = format!("{error:#}");
    assert!(
        error.contains("--tls-cert /nonexistent/cert.pem"),
        "{error}"
    );
}
