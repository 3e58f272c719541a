//! A throw-away PostgreSQL cluster for one test: Debian's server (installed by
//! `scripts/setup-system.sh` when missing), a data directory under the system's temporary
//! directory, a free loopback port, run as an unprivileged user (the server refuses root).
//! Dropping it stops the server and removes the directory, also when the test panics.

use std::path::{Path, PathBuf};
use std::process::Command;

#[derive(Debug)]
pub struct Cluster {
    bin: PathBuf,
    dir: PathBuf,
    pub port: u16,
    /// Whom the server runs as when the tests run as root.
    user: Option<&'static str>,
}

/// The newest `/usr/lib/postgresql/N/bin` with `initdb`.
fn server_bin() -> Option<PathBuf> {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .flatten()
        .filter_map(|e| {
            let version: u32 = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, bin)| bin)
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
}

impl Cluster {
    pub fn start(name: &str) -> Cluster {
        let bin = server_bin().unwrap_or_else(|| {
            let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/setup-system.sh");
            let status = Command::new("bash").arg(&script).status();
            server_bin().unwrap_or_else(|| {
                panic!(
                    "PostgreSQL is not installed and {} could not install it ({status:?}): \
                     install Debian's postgresql package to run the store tests",
                    script.display()
                )
            })
        });
        let dir = std::env::temp_dir().join(format!("numaload-pg-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("cluster dir");
        let user = is_root().then_some("nobody");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let cluster = Cluster {
            bin,
            dir,
            port,
            user,
        };
        if let Some(user) = user {
            let chown = Command::new("chown")
                .args([&format!("{user}:"), cluster.dir.to_str().expect("utf8")])
                .status()
                .expect("chown");
            assert!(chown.success(), "chown {user} {}", cluster.dir.display());
        }
        let data = cluster.dir.join("data");
        cluster.run(
            "initdb",
            &[
                "-D",
                data.to_str().expect("utf8"),
                "-U",
                "numaload",
                "-A",
                "trust",
                "--no-sync",
                "--no-locale",
                "-E",
                "UTF8",
            ],
        );
        let options = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            cluster.dir.display()
        );
        let log = cluster.dir.join("server.log");
        cluster.run(
            "pg_ctl",
            &[
                "-D",
                data.to_str().expect("utf8"),
                "-l",
                log.to_str().expect("utf8"),
                "-w",
                "-t",
                "60",
                "-o",
                &options,
                "start",
            ],
        );
        cluster
    }

    /// Runs a server program as the cluster's user; panics with its output when it fails.
    fn run(&self, program: &str, args: &[&str]) {
        let path = self.bin.join(program);
        let mut command = match self.user {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(&path);
                c
            }
            None => Command::new(&path),
        };
        let out = command
            .args(args)
            .current_dir(&self.dir)
            .output()
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let log = std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default();
        assert!(
            out.status.success(),
            "{program} {args:?} failed: {}{}\nserver log:\n{log}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// A new, empty database on the cluster, and its URL.
    pub fn database(&self, name: &str) -> String {
        let admin = format!("postgres://numaload@127.0.0.1:{}/postgres", self.port);
        let mut client = postgres::Client::connect(&admin, postgres::NoTls).expect("connect");
        client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .expect("create database");
        format!("postgres://numaload@127.0.0.1:{}/{name}", self.port)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let data = self.dir.join("data");
        let path = self.bin.join("pg_ctl");
        let mut command = match self.user {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(&path);
                c
            }
            None => Command::new(&path),
        };
        let _ = command
            .args([
                "-D",
                data.to_str().unwrap_or(""),
                "-m",
                "immediate",
                "-w",
                "stop",
            ])
            .current_dir(&self.dir)
            .output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
