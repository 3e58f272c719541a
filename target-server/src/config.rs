//! What the server is told to do: the command line ([`TargetArgs`]) resolved into a
//! [`RunConfig`] with every default filled in, the variants and dispatch modes it names, and the
//! errors that name the flag at fault.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::num::NonZeroUsize;

/// The largest `--work-us` accepted (10 s): more is a typo, not an experiment.
pub const MAX_WORK_US: u64 = 10_000_000;

/// Command-line arguments of `numaload target`.
#[derive(clap::Args, Debug, Clone)]
pub struct TargetArgs {
    /// Which server to run.
    #[arg(long, value_enum, default_value_t = Variant::Async)]
    pub variant: Variant,
    /// Address to listen on; port 0 picks a free port (printed on stdout when ready).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Microseconds of work per request (see --work-mode).
    #[arg(long, default_value_t = 0)]
    pub work_us: u64,
    /// tokio worker threads [default: the CPUs this process may run on].
    #[arg(long)]
    pub threads: Option<usize>,
    /// How a request spends --work-us: burning CPU (spin) or blocked (sleep; ffi only).
    #[arg(long, value_enum, default_value_t = WorkMode::Spin)]
    pub work_mode: WorkMode,
    /// ffi only: how the C call is run [default: spawn-blocking].
    #[arg(long, value_enum)]
    pub dispatch: Option<DispatchMode>,
    /// --dispatch bounded: the most C calls at once.
    #[arg(long)]
    pub limit: Option<usize>,
    /// --dispatch pinned-pool: OS threads in the pool [default: the CPUs this process may
    /// run on].
    #[arg(long)]
    pub pool_threads: Option<usize>,
    /// Cap on tokio's blocking pool (the runtime builder's max_blocking_threads) [default:
    /// `--limit` with `--dispatch bounded`, else tokio's, 512].
    #[arg(long)]
    pub max_blocking_threads: Option<usize>,
    /// TLS certificate chain (PEM) served to connections that open with a TLS handshake, on
    /// the same port [default: a self-signed one generated at start]. Needs --tls-key.
    #[arg(long, requires = "tls_key")]
    pub tls_cert: Option<std::path::PathBuf>,
    /// The private key (PEM) of --tls-cert.
    #[arg(long, requires = "tls_cert")]
    pub tls_key: Option<std::path::PathBuf>,
}

/// The server variants.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    /// Pure tokio + hyper; the handler spins `--work-us` on the worker and never blocks.
    Async,
    /// Each request calls a C function that sleeps or spins for `--work-us`, dispatched as
    /// `--dispatch` says.
    Ffi,
}

impl fmt::Display for Variant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Variant::Async => "async",
            Variant::Ffi => "ffi",
        })
    }
}

/// How a request spends its `--work-us`.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WorkMode {
    /// Burn CPU on the thread doing the work.
    #[default]
    Spin,
    /// Block the thread doing the work (nanosleep); the `ffi` variant only.
    Sleep,
}

impl fmt::Display for WorkMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            WorkMode::Spin => "spin",
            WorkMode::Sleep => "sleep",
        })
    }
}

/// `--dispatch` as typed; [`Dispatch`] once resolved with its parameters.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum DispatchMode {
    /// `tokio::task::spawn_blocking` per call: unbounded up to the blocking pool's cap.
    SpawnBlocking,
    /// A semaphore of `--limit` permits around `spawn_blocking`.
    Bounded,
    /// Called directly on the async worker thread, blocking it (on purpose).
    Inline,
    /// A fixed pool of `--pool-threads` OS threads, each pinned to one CPU, with per-thread C
    /// state.
    PinnedPool,
}

/// How the `ffi` variant runs each C call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dispatch {
    /// `tokio::task::spawn_blocking` per call.
    SpawnBlocking,
    /// At most `limit` calls at once, each on `spawn_blocking`.
    Bounded { limit: NonZeroUsize },
    /// On the async worker that polls the request.
    Inline,
    /// On a pool of `threads` pinned OS threads, each with its own C state.
    PinnedPool { threads: NonZeroUsize },
}

impl fmt::Display for Dispatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Dispatch::SpawnBlocking => f.write_str("spawn-blocking"),
            Dispatch::Bounded { limit } => write!(f, "bounded (limit {limit})"),
            Dispatch::Inline => f.write_str("inline"),
            Dispatch::PinnedPool { threads } => write!(f, "pinned-pool ({threads} threads)"),
        }
    }
}

/// What [`serve`](crate::serve) needs: the variant and its per-request work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerConfig {
    pub variant: Variant,
    pub work_us: u64,
    pub work_mode: WorkMode,
    /// How the `ffi` variant runs its C calls; the `async` variant has no C call and ignores
    /// it.
    pub dispatch: Dispatch,
}

impl ServerConfig {
    /// The `async` variant spinning `work_us` per request.
    pub fn async_spin(work_us: u64) -> Self {
        ServerConfig {
            variant: Variant::Async,
            work_us,
            work_mode: WorkMode::Spin,
            dispatch: Dispatch::SpawnBlocking,
        }
    }

    /// The `ffi` variant.
    pub fn ffi(work_mode: WorkMode, work_us: u64, dispatch: Dispatch) -> Self {
        ServerConfig {
            variant: Variant::Ffi,
            work_us,
            work_mode,
            dispatch,
        }
    }

    /// Rejects what no server can do: a sleeping `async` handler, too much work.
    pub fn validate(&self) -> Result<(), TargetError> {
        if self.work_us > MAX_WORK_US {
            return Err(TargetError::WorkTooLong(self.work_us));
        }
        if self.variant == Variant::Async && self.work_mode == WorkMode::Sleep {
            return Err(TargetError::AsyncSleep);
        }
        Ok(())
    }
}

/// [`TargetArgs`] validated and with every default resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunConfig {
    pub listen: SocketAddr,
    pub worker_threads: usize,
    /// tokio's blocking-pool cap; `None` keeps tokio's default (512).
    pub max_blocking_threads: Option<usize>,
    pub server: ServerConfig,
    /// The certificate of TLS connections.
    pub tls: crate::tls::Identity,
}

/// Errors a caller may want to tell apart; each names the flag at fault.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    #[error("--listen {addr}: cannot listen on this address: {source}")]
    Bind { addr: SocketAddr, source: io::Error },
    #[error("--threads 0: the runtime needs at least one worker thread")]
    ZeroThreads,
    #[error("--work-us {0}: more than the maximum of {MAX_WORK_US} (10 s per request)")]
    WorkTooLong(u64),
    #[error("--work-mode sleep: the async variant must never block; use --variant ffi to sleep")]
    AsyncSleep,
    #[error("--{flag}: applies to --variant ffi only")]
    FfiOnly { flag: &'static str },
    #[error("--{flag}: applies to --dispatch {dispatch} only")]
    WrongDispatch {
        flag: &'static str,
        dispatch: &'static str,
    },
    #[error("--dispatch bounded needs --limit N (the most C calls at once)")]
    MissingLimit,
    #[error("--{flag} 0: must be at least 1")]
    Zero { flag: &'static str },
    #[error("--{flag}: --tls-cert and --tls-key go together; give both or neither")]
    TlsPair { flag: &'static str },
}

/// `Some(n)` as a `NonZeroUsize`, or the error naming `flag`.
fn non_zero(flag: &'static str, value: usize) -> Result<NonZeroUsize, TargetError> {
    NonZeroUsize::new(value).ok_or(TargetError::Zero { flag })
}

impl TargetArgs {
    /// Validates the arguments; `--threads` defaults to the CPUs this process may run on
    /// (`available_parallelism`, which follows the affinity mask and a cgroup v1 quota).
    /// `--pool-threads` defaults the same way. Flags of the `ffi` variant or of another
    /// dispatch mode are errors, not silently ignored.
    pub fn resolve(self) -> Result<RunConfig, TargetError> {
        let allowed_cpus = || std::thread::available_parallelism().map_or(1, NonZeroUsize::get);
        let worker_threads = match self.threads {
            Some(0) => return Err(TargetError::ZeroThreads),
            Some(n) => n,
            None => allowed_cpus(),
        };
        let max_blocking_threads = self
            .max_blocking_threads
            .map(|n| non_zero("max-blocking-threads", n).map(NonZeroUsize::get))
            .transpose()?;
        let dispatch = match self.variant {
            Variant::Async => {
                for (flag, given) in [
                    ("dispatch", self.dispatch.is_some()),
                    ("limit", self.limit.is_some()),
                    ("pool-threads", self.pool_threads.is_some()),
                ] {
                    if given {
                        return Err(TargetError::FfiOnly { flag });
                    }
                }
                Dispatch::SpawnBlocking
            }
            Variant::Ffi => {
                let mode = self.dispatch.unwrap_or(DispatchMode::SpawnBlocking);
                if self.limit.is_some() && mode != DispatchMode::Bounded {
                    return Err(TargetError::WrongDispatch {
                        flag: "limit",
                        dispatch: "bounded",
                    });
                }
                if self.pool_threads.is_some() && mode != DispatchMode::PinnedPool {
                    return Err(TargetError::WrongDispatch {
                        flag: "pool-threads",
                        dispatch: "pinned-pool",
                    });
                }
                match mode {
                    DispatchMode::SpawnBlocking => Dispatch::SpawnBlocking,
                    DispatchMode::Inline => Dispatch::Inline,
                    DispatchMode::Bounded => Dispatch::Bounded {
                        limit: non_zero("limit", self.limit.ok_or(TargetError::MissingLimit)?)?,
                    },
                    DispatchMode::PinnedPool => Dispatch::PinnedPool {
                        threads: non_zero(
                            "pool-threads",
                            self.pool_threads.unwrap_or_else(allowed_cpus),
                        )?,
                    },
                }
            }
        };
        // Bounded means bounded threads too: with only the semaphore, a call that takes a
        // permit just released can reach the pool before the thread that released it is idle
        // again, and the pool adds a thread each time that race is lost, so it grows well past
        // the limit. Capping the pool at the limit queues such a call for a moment instead.
        let max_blocking_threads = max_blocking_threads.or(match dispatch {
            Dispatch::Bounded { limit } => Some(limit.get()),
            _ => None,
        });
        let server = ServerConfig {
            variant: self.variant,
            work_us: self.work_us,
            work_mode: self.work_mode,
            dispatch,
        };
        server.validate()?;
        let tls = match (self.tls_cert, self.tls_key) {
            (Some(cert), Some(key)) => crate::tls::Identity::Files { cert, key },
            (Some(_), None) => return Err(TargetError::TlsPair { flag: "tls-key" }),
            (None, Some(_)) => return Err(TargetError::TlsPair { flag: "tls-cert" }),
            (None, None) => crate::tls::Identity::Generated,
        };
        Ok(RunConfig {
            listen: self.listen,
            worker_threads,
            max_blocking_threads,
            server,
            tls,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(threads: Option<usize>, work_us: u64) -> TargetArgs {
        TargetArgs {
            variant: Variant::Async,
            listen: ([127, 0, 0, 1], 0).into(),
            work_us,
            threads,
            work_mode: WorkMode::Spin,
            dispatch: None,
            limit: None,
            pool_threads: None,
            max_blocking_threads: None,
            tls_cert: None,
            tls_key: None,
        }
    }

    fn ffi(dispatch: Option<DispatchMode>) -> TargetArgs {
        TargetArgs {
            variant: Variant::Ffi,
            dispatch,
            ..args(Some(2), 100)
        }
    }

    /// The error's text, which must start with the flag at fault.
    fn error_of(args: TargetArgs) -> String {
        args.resolve().expect_err("invalid").to_string()
    }

    #[test]
    fn resolve_defaults_and_limits() {
        let config = args(None, 50).resolve().expect("valid");
        assert!(config.worker_threads >= 1);
        assert_eq!(config.server.work_us, 50);
        assert_eq!(args(Some(3), 0).resolve().expect("valid").worker_threads, 3);
        let zero = args(Some(0), 0).resolve().expect_err("0 threads");
        assert!(zero.to_string().starts_with("--threads"));
        let long = args(None, MAX_WORK_US + 1).resolve().expect_err("too long");
        assert!(long.to_string().starts_with("--work-us"));
    }

    #[test]
    fn the_async_variant_never_sleeps_nor_dispatches() {
        let sleep = TargetArgs {
            work_mode: WorkMode::Sleep,
            ..args(None, 50)
        };
        assert!(error_of(sleep).starts_with("--work-mode sleep"));
        let dispatch = TargetArgs {
            dispatch: Some(DispatchMode::Inline),
            ..args(None, 50)
        };
        assert!(error_of(dispatch).starts_with("--dispatch"));
        let limit = TargetArgs {
            limit: Some(8),
            ..args(None, 50)
        };
        assert!(error_of(limit).starts_with("--limit"));
    }

    #[test]
    fn ffi_dispatch_resolves_with_its_parameters() {
        let nz = |n| NonZeroUsize::new(n).expect("non-zero");
        let dispatch = |args: TargetArgs| args.resolve().expect("valid").server.dispatch;
        assert_eq!(dispatch(ffi(None)), Dispatch::SpawnBlocking);
        assert_eq!(dispatch(ffi(Some(DispatchMode::Inline))), Dispatch::Inline);
        let bounded = TargetArgs {
            limit: Some(8),
            ..ffi(Some(DispatchMode::Bounded))
        };
        let bounded = bounded.resolve().expect("valid");
        assert_eq!(bounded.server.dispatch, Dispatch::Bounded { limit: nz(8) });
        assert_eq!(
            bounded.max_blocking_threads,
            Some(8),
            "the blocking pool is capped at the limit unless told otherwise"
        );
        assert_eq!(
            ffi(None).resolve().expect("valid").max_blocking_threads,
            None
        );
        let pool = TargetArgs {
            pool_threads: Some(3),
            max_blocking_threads: Some(16),
            work_mode: WorkMode::Sleep,
            ..ffi(Some(DispatchMode::PinnedPool))
        };
        let config = pool.resolve().expect("valid");
        assert_eq!(
            config.server.dispatch,
            Dispatch::PinnedPool { threads: nz(3) }
        );
        assert_eq!(config.server.work_mode, WorkMode::Sleep);
        assert_eq!(config.max_blocking_threads, Some(16));
        let default_pool = dispatch(ffi(Some(DispatchMode::PinnedPool)));
        assert!(matches!(default_pool, Dispatch::PinnedPool { .. }));
    }

    #[test]
    fn ffi_flag_errors_name_the_flag() {
        assert!(error_of(ffi(Some(DispatchMode::Bounded))).starts_with("--dispatch bounded"));
        let zero_limit = TargetArgs {
            limit: Some(0),
            ..ffi(Some(DispatchMode::Bounded))
        };
        assert!(error_of(zero_limit).starts_with("--limit 0"));
        let stray_limit = TargetArgs {
            limit: Some(8),
            ..ffi(Some(DispatchMode::Inline))
        };
        assert!(error_of(stray_limit).starts_with("--limit"));
        let stray_pool = TargetArgs {
            pool_threads: Some(2),
            ..ffi(None)
        };
        assert!(error_of(stray_pool).starts_with("--pool-threads"));
        let zero_pool = TargetArgs {
            pool_threads: Some(0),
            ..ffi(Some(DispatchMode::PinnedPool))
        };
        assert!(error_of(zero_pool).starts_with("--pool-threads 0"));
        let zero_cap = TargetArgs {
            max_blocking_threads: Some(0),
            ..ffi(None)
        };
        assert!(error_of(zero_cap).starts_with("--max-blocking-threads 0"));
    }
}
