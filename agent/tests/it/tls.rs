//! The load generator over TLS against real TLS servers on 127.0.0.1 (tokio-rustls in front of
//! hyper, certificates made by each test): verified against the plan's CA, refused with one
//! error when the certificate does not verify, sessions resumed on reconnects (or not), the
//! handshake and first byte timed per connection, and TLS failing under an exchange counted as
//! `tls`, never as success.

use std::convert::Infallible;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener as StdListener};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use numaload_agent::loadgen::{self, Cancel, LoadConfig, LoadError, Mode, TlsSettings};
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::sync::oneshot;

/// A CA and a server certificate it signed for 127.0.0.1 and `localhost`, PEM.
struct Pki {
    ca_pem: String,
    cert_pem: String,
    key_pem: String,
}

fn pki() -> Pki {
    let ca_key = KeyPair::generate().expect("key");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).expect("ca");
    let issuer = Issuer::new(ca_params, ca_key);
    let key = KeyPair::generate().expect("key");
    let params =
        CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()]).expect("p");
    let cert = params.signed_by(&key, &issuer).expect("leaf");
    Pki {
        ca_pem: ca.pem(),
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    }
}

/// How the test server answers over TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Behaviour {
    /// `200 ok`, keep-alive.
    Ok,
    /// `200 ok` with `Connection: close`: one request per connection, so every request after
    /// the first reconnects (and may resume its TLS session).
    Close,
    /// Right after the handshake, clear-text bytes on the socket: not a TLS record.
    Junk,
}

/// A TLS server on its own thread; stopped on drop.
struct TlsServer {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl TlsServer {
    fn start(pki: &Pki, behaviour: Behaviour) -> Self {
        let chain = vec![CertificateDer::from_pem_slice(pki.cert_pem.as_bytes()).expect("cert")];
        let key = PrivateKeyDer::from_pem_slice(pki.key_pem.as_bytes()).expect("key");
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .expect("identity");
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        let config = Arc::new(config);
        let listener = StdListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let addr = listener.local_addr().expect("addr");
        let (stop, mut stopped) = oneshot::channel();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
                let acceptor = tokio_rustls::TlsAcceptor::from(config);
                loop {
                    let stream = tokio::select! {
                        accepted = listener.accept() => accepted.expect("accept").0,
                        _ = &mut stopped => return,
                    };
                    let acceptor = acceptor.clone();
                    tokio::spawn(async move {
                        let Ok(tls) = acceptor.accept(stream).await else {
                            return;
                        };
                        if behaviour == Behaviour::Junk {
                            use tokio::io::AsyncWriteExt;
                            // The request may sit in rustls's buffer already: answer at once.
                            let (mut tcp, _) = tls.into_inner();
                            let _ = tcp.write_all(b"HTTP/1.1 200 OK\r\n\r\n").await;
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            return;
                        }
                        let service = service_fn(move |_req: Request<hyper::body::Incoming>| {
                            let mut response = Response::new(Full::new(Bytes::from_static(b"ok")));
                            if behaviour == Behaviour::Close {
                                response.headers_mut().insert(
                                    hyper::header::CONNECTION,
                                    "close".parse().expect("header"),
                                );
                            }
                            async move { Ok::<_, Infallible>(response) }
                        });
                        let _ = http1::Builder::new()
                            .keep_alive(true)
                            .serve_connection(TokioIo::new(tls), service)
                            .await;
                    });
                }
            });
        });
        Self {
            addr,
            stop: Some(stop),
            thread: Some(thread),
        }
    }
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn config(mode: Mode, target: SocketAddr, tls: TlsSettings) -> LoadConfig {
    LoadConfig {
        warmup: Duration::from_millis(200),
        duration: Duration::from_secs(1),
        tls: Some(tls),
        ..crate::loadgen::config(mode, vec![target], 4)
    }
}

fn verified(pki: &Pki) -> TlsSettings {
    TlsSettings {
        server_name: None,
        ca_pem: Some(pki.ca_pem.clone().into_bytes()),
        insecure_skip_verify: false,
        alpn: vec!["http/1.1".into()],
        resume: true,
    }
}

#[test]
fn a_verified_tls_load_times_each_handshake_and_first_byte_in_both_modes() {
    let _turn = crate::turns::beside_others();
    let pki = pki();
    let server = TlsServer::start(&pki, Behaviour::Ok);
    for mode in [
        Mode::Closed,
        Mode::Open {
            rate_per_sec: 500.0,
        },
    ] {
        let report = loadgen::run(&config(mode, server.addr, verified(&pki)), &Cancel::new())
            .expect("the CA verifies the server");
        crate::loadgen::assert_no_errors_but_late(
            &report.errors(),
            report.requests(),
            &format!("{mode:?}"),
        );
        assert!(report.requests() > 100, "{mode:?}: {}", report.requests());
        let replica = &report.per_replica()[0];
        let setup = &replica.setup;
        assert_eq!(
            setup.connect.len(),
            4,
            "{mode:?}: one connect per connection"
        );
        assert_eq!(setup.tls_handshake.len(), 4, "{mode:?}: one handshake each");
        assert_eq!(setup.first_byte.len(), 4, "{mode:?}: one first byte each");
        assert_eq!(
            setup.resumed, 0,
            "{mode:?}: first connections resume nothing"
        );
        // The first byte comes after the handshake, which comes after the connect.
        assert!(setup.first_byte.min() > setup.tls_handshake.min());
        assert!(setup.tls_handshake.min() > 0 && setup.connect.min() > 0);
        if matches!(mode, Mode::Open { .. }) {
            assert!(
                report.workers[0].counts.stamped > 0,
                "responses over TLS are read late and timed by the kernel's stamp"
            );
        }
    }
}

#[test]
fn reconnects_resume_their_session_unless_resume_is_off() {
    let _turn = crate::turns::beside_others();
    let pki = pki();
    let server = TlsServer::start(&pki, Behaviour::Close);
    for resume in [true, false] {
        let settings = TlsSettings {
            resume,
            ..verified(&pki)
        };
        let report = loadgen::run(&config(Mode::Closed, server.addr, settings), &Cancel::new())
            .expect("verified");
        assert_eq!(report.errors().total(), 0, "{:?}", report.errors());
        let replica = &report.per_replica()[0];
        let handshakes = replica.setup.tls_handshake.len();
        assert!(
            handshakes > 20,
            "one handshake per request (Connection: close): {handshakes}"
        );
        assert!(replica.counts.reconnects > 10);
        if resume {
            // All but each connection's first one: a cache per worker, tickets from TLS 1.3.
            assert!(
                replica.setup.resumed * 10 >= handshakes * 9,
                "resumed {} of {handshakes}",
                replica.setup.resumed
            );
        } else {
            assert_eq!(
                replica.setup.resumed, 0,
                "resume = false: all full handshakes"
            );
        }
    }
}

#[test]
fn a_certificate_that_does_not_verify_is_one_error_naming_the_target_and_the_fix() {
    let _turn = crate::turns::beside_others();
    let server = TlsServer::start(&pki(), Behaviour::Ok);
    // Another CA than the server's, the system's roots, and a name the certificate lacks.
    let other = pki();
    let cases = [
        verified(&other),
        TlsSettings {
            ca_pem: None,
            ..verified(&other)
        },
        TlsSettings {
            server_name: Some("elsewhere.example".into()),
            ..verified(&other)
        },
    ];
    for settings in cases {
        let error = loadgen::run(&config(Mode::Closed, server.addr, settings), &Cancel::new())
            .expect_err("nothing is measured as success");
        assert!(matches!(error, LoadError::Tls(_)), "{error:?}");
        let message = error.to_string();
        assert!(message.contains(&server.addr.to_string()), "{message}");
        assert!(message.contains("certificate"), "{message}");
        assert!(message.contains("load.ca") && message.contains("insecure_skip_verify"));
        assert!(!message.contains('\n'), "one line: {message}");
    }
    let skip = TlsSettings {
        ca_pem: None,
        insecure_skip_verify: true,
        ..verified(&other)
    };
    let report = loadgen::run(&config(Mode::Closed, server.addr, skip), &Cancel::new())
        .expect("insecure_skip_verify accepts it");
    assert!(report.requests() > 0 && report.errors().total() == 0);
}

#[test]
fn tls_failing_under_an_exchange_counts_as_tls_never_as_success() {
    let _turn = crate::turns::beside_others();
    let pki = pki();
    let server = TlsServer::start(&pki, Behaviour::Junk);
    let report = loadgen::run(
        &config(Mode::Closed, server.addr, verified(&pki)),
        &Cancel::new(),
    )
    .expect("the handshake itself verifies");
    let errors = report.errors();
    assert_eq!(
        report.requests(),
        0,
        "nothing answered over TLS: {errors:?}"
    );
    assert!(errors.tls > 0, "{errors:?}");
    assert_eq!(errors.tls, errors.total(), "{errors:?}");
}

#[test]
fn a_clear_text_server_is_a_tls_error_not_a_hang() {
    let _turn = crate::turns::beside_others();
    // Answers anything with an HTTP/1.1 response in clear text, then closes.
    let listener = StdListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let thread = std::thread::spawn(move || {
        listener.set_nonblocking(false).expect("blocking");
        if let Ok((mut stream, _)) = listener.accept() {
            let mut buf = [0u8; 1024];
            let _ = stream.read(&mut buf);
            let _ = stream.write_all(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n");
        }
    });
    let settings = TlsSettings {
        insecure_skip_verify: true,
        ..verified(&pki())
    };
    let error =
        loadgen::run(&config(Mode::Closed, addr, settings), &Cancel::new()).expect_err("not TLS");
    assert!(matches!(error, LoadError::Tls(_)), "{error:?}");
    let _ = thread.join();
}
