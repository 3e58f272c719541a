//! What happens before serving: arguments, the readiness line, bind errors.

use std::net::{SocketAddr, TcpListener};
use std::num::NonZeroUsize;

use clap::Parser;
use numaload_target::{
    run, write_ready_line, Dispatch, ServerConfig, TargetArgs, Variant, WorkMode,
};

#[derive(Parser, Debug)]
struct Cli {
    #[command(flatten)]
    target: TargetArgs,
}

fn parse(args: &[&str]) -> Result<TargetArgs, clap::Error> {
    Cli::try_parse_from(std::iter::once("numaload-target").chain(args.iter().copied()))
        .map(|cli| cli.target)
}

#[test]
fn the_agents_command_line_parses() {
    let _turn = crate::turns::beside_others();
    let args = parse(&[
        "--variant",
        "async",
        "--listen",
        "127.0.0.1:0",
        "--work-us",
        "50",
        "--threads",
        "2",
    ])
    .expect("valid arguments");
    assert_eq!(args.variant, Variant::Async);
    assert_eq!(
        args.listen,
        "127.0.0.1:0".parse::<SocketAddr>().expect("addr")
    );
    assert_eq!((args.work_us, args.threads), (50, Some(2)));

    let defaults = parse(&[]).expect("defaults");
    assert_eq!(defaults.listen.to_string(), "127.0.0.1:8080");
    assert_eq!((defaults.work_us, defaults.threads), (0, None));
}

#[test]
fn the_ffi_command_line_parses_and_resolves() {
    let _turn = crate::turns::beside_others();
    let args = parse(&[
        "--variant",
        "ffi",
        "--work-us",
        "2000",
        "--work-mode",
        "sleep",
        "--dispatch",
        "bounded",
        "--limit",
        "8",
        "--max-blocking-threads",
        "64",
        "--threads",
        "2",
    ])
    .expect("valid arguments");
    assert_eq!(args.variant, Variant::Ffi);
    let config = args.resolve().expect("resolves");
    assert_eq!(
        config.server,
        ServerConfig::ffi(
            WorkMode::Sleep,
            2000,
            Dispatch::Bounded {
                limit: NonZeroUsize::new(8).expect("8")
            }
        )
    );
    assert_eq!(config.max_blocking_threads, Some(64));
    let pool = parse(&[
        "--variant",
        "ffi",
        "--dispatch",
        "pinned-pool",
        "--pool-threads",
        "4",
    ])
    .expect("valid")
    .resolve()
    .expect("resolves");
    assert_eq!(
        pool.server.dispatch,
        Dispatch::PinnedPool {
            threads: NonZeroUsize::new(4).expect("4")
        }
    );
    let error = parse(&["--dispatch", "nope"]).expect_err("unknown dispatch");
    assert!(error.to_string().contains("--dispatch"), "{error}");
}

#[test]
fn the_async_variant_refuses_to_sleep_before_listening() {
    let _turn = crate::turns::beside_others();
    let args = parse(&["--work-mode", "sleep", "--listen", "127.0.0.1:0"]).expect("parses");
    let error = format!("{:#}", run(args).expect_err("async never blocks"));
    assert!(error.starts_with("--work-mode sleep"), "{error}");
}

#[test]
fn a_bad_address_names_listen() {
    let _turn = crate::turns::beside_others();
    let error = parse(&["--listen", "localhost:http"]).expect_err("not a socket address");
    let text = error.to_string();
    assert!(
        text.contains("--listen") && text.contains("localhost:http"),
        "{text}"
    );
}

#[test]
fn a_port_in_use_names_listen_and_the_address() {
    let _turn = crate::turns::beside_others();
    let taken = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("addr");
    let args = parse(&["--listen", &addr.to_string(), "--threads", "1"]).expect("valid");
    let error = run(args).expect_err("address in use");
    let text = format!("{error:#}");
    assert!(
        text.contains("--listen") && text.contains(&addr.to_string()),
        "{text}"
    );
}

#[test]
fn the_readiness_line_is_exact_and_flushed() {
    let _turn = crate::turns::beside_others();
    /// A writer that records what reached it only when flushed.
    #[derive(Default)]
    struct Flushed {
        pending: Vec<u8>,
        flushed: Vec<u8>,
    }
    impl std::io::Write for Flushed {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.pending.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            self.flushed.append(&mut self.pending);
            Ok(())
        }
    }
    let mut out = Flushed::default();
    write_ready_line(&mut out, "127.0.0.1:43210".parse().expect("addr")).expect("write");
    assert_eq!(
        String::from_utf8(out.flushed).expect("utf-8"),
        "numaload-target listening on 127.0.0.1:43210\n"
    );
    let mut v6 = Vec::new();
    write_ready_line(&mut v6, "[::1]:80".parse().expect("addr")).expect("write");
    assert_eq!(v6, b"numaload-target listening on [::1]:80\n");
}
