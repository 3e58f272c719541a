//! `run` as the agent uses it: its own runtime, serving until SIGTERM, then returning `Ok`.
//! Alone in this file because the signal goes to the whole test process.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use numaload_target::{run, TargetArgs, Variant, WorkMode};

fn get_root(addr: SocketAddr) -> std::io::Result<String> {
    let mut stream = TcpStream::connect(addr)?;
    stream.write_all(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")?;
    let mut reply = String::new();
    stream.read_to_string(&mut reply)?;
    Ok(reply)
}

#[test]
fn serves_until_sigterm_then_returns_ok() {
    let _turn = crate::turns::alone();
    // A port that was free a moment ago (run prints the real one on stdout, which a test in
    // this process cannot read).
    let addr = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port");
    let args = TargetArgs {
        variant: Variant::Async,
        listen: addr,
        work_us: 100,
        threads: Some(2),
        work_mode: WorkMode::Spin,
        dispatch: None,
        limit: None,
        pool_threads: None,
        max_blocking_threads: None,
        tls_cert: None,
        tls_key: None,
    };
    let (done_tx, done) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = done_tx.send(run(args).map_err(|e| format!("{e:#}")));
    });

    let deadline = Instant::now() + Duration::from_secs(5);
    let reply = loop {
        match get_root(addr) {
            Ok(reply) => break reply,
            Err(e) if Instant::now() < deadline => {
                assert!(done.try_recv().is_err(), "run ended early: {e}");
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => panic!("server never answered: {e}"),
        }
    };
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");

    kill(Pid::this(), Signal::SIGTERM).expect("send SIGTERM");
    let result = done
        .recv_timeout(Duration::from_secs(5))
        .expect("run returns after SIGTERM");
    assert_eq!(result, Ok(()));
}
