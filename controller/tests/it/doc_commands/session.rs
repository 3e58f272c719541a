//! A shell session a test types commands into, one line at a time, as a reader types them into
//! a terminal: one `bash` (its own session, job control on, `pipefail`), so what a line leaves
//! behind (an `export`, a job started with `&`, `$!`) is there for the next. Each typed line's
//! output goes to a log file of its own and its exit status comes back; stdin is `/dev/null`.
//! At the end every job still running gets SIGTERM and must be gone, with every process it
//! started, within a grace; whatever is left is killed when the session is dropped.

use std::io::{BufRead as _, BufReader, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

const DONE: &str = "__numaload_doc_session_done__";

pub struct Session {
    bash: Child,
    stdin: ChildStdin,
    said: Receiver<String>,
    logs: PathBuf,
    typed: usize,
}

/// What a line did: its exit status and everything it printed (stdout and stderr).
pub struct Typed {
    pub status: i32,
    pub output: String,
}

impl Session {
    /// A session in `dir` with `env` added to the test's environment (`NUMALOAD_STORE` and
    /// `NUMALOAD_SET` of the test's own environment removed).
    pub fn start(dir: &Path, env: &[(String, String)]) -> Session {
        let logs = dir.join(".session");
        std::fs::create_dir_all(&logs).expect("session log dir");
        let mut bash = Command::new("setsid")
            .args(["bash", "--noprofile", "--norc", "-s"])
            .current_dir(dir)
            .env_remove("NUMALOAD_STORE")
            .env_remove("NUMALOAD_SET")
            .env_remove("TERM")
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start bash (setsid from util-linux)");
        let stdin = bash.stdin.take().expect("bash stdin");
        let stdout = bash.stdout.take().expect("bash stdout");
        let (tx, said) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut session = Session {
            bash,
            stdin,
            said,
            logs,
            typed: 0,
        };
        session.say("set -m -o pipefail");
        session
    }

    /// The session's id: bash's pid (`setsid` made it the leader of a new session).
    fn sid(&self) -> u32 {
        self.bash.id()
    }

    fn say(&mut self, text: &str) {
        writeln!(self.stdin, "{text}").expect("type into bash");
        self.stdin.flush().expect("flush bash stdin");
    }

    /// Waits up to `limit` for the status line of what was just typed.
    fn status(&mut self, limit: Duration, what: &str) -> i32 {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.said.recv_timeout(left) {
                Ok(line) => {
                    if let Some(code) = line.strip_prefix(DONE) {
                        return code.trim().parse().expect("status");
                    }
                }
                Err(_) => panic!("`{what}` did not finish within {limit:?}"),
            }
        }
    }

    fn next_log(&mut self) -> PathBuf {
        self.typed += 1;
        self.logs.join(format!("{}.log", self.typed))
    }

    /// Types `command` and waits up to `limit` for it to end. A command ending in `&` ends at
    /// once, its job left running in the background as a terminal would leave it.
    pub fn run(&mut self, command: &str, limit: Duration) -> Typed {
        let log = self.next_log();
        self.say(&format!(
            "{{ {command}\n}} </dev/null >{} 2>&1; echo \"{DONE} $?\"",
            log.display()
        ));
        let status = self.status(limit, command);
        Typed {
            status,
            output: read(&log),
        }
    }

    /// Types `command` (which serves until Ctrl-C) as a job of its own, waits until `ready`
    /// says it is up, then sends it SIGINT, as Ctrl-C would, and waits for it to end.
    pub fn serve_then_interrupt(&mut self, command: &str, ready: &Ready, limit: Duration) -> Typed {
        let log = self.next_log();
        self.say(&format!(
            "{{ {command}\n}} </dev/null >{} 2>&1 & echo \"{DONE} $!\"",
            log.display()
        ));
        let pid = self.status(limit, command);
        self.await_ready(command, ready, &log, pid);
        self.say(&format!(
            "kill -INT -- -{pid}; wait {pid}; echo \"{DONE} $?\""
        ));
        let status = self.status(limit, command);
        Typed {
            status,
            output: read(&log),
        }
    }

    /// After a line that started a job with `&`: waits until `ready` says the job is up, as a
    /// reader would before typing the next line; its pid.
    pub fn await_background(&mut self, command: &str, ready: &Ready) -> i32 {
        self.say(&format!("echo \"{DONE} $!\""));
        let pid = self.status(Duration::from_secs(5), "echo $!");
        let log = self.logs.join(format!("{}.log", self.typed));
        self.await_ready(command, ready, &log, pid);
        pid
    }

    fn await_ready(&self, command: &str, ready: &Ready, log: &Path, pid: i32) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let up = match ready {
                Ready::Listening(address) => {
                    TcpStream::connect_timeout(address, Duration::from_millis(200)).is_ok()
                }
                Ready::Printed => !read(log).trim().is_empty(),
            };
            if up {
                return;
            }
            assert!(
                alive(pid as u32),
                "`{command}` ended before it was up:\n{}",
                read(log)
            );
            assert!(
                Instant::now() < deadline,
                "`{command}` not up within 60 s ({ready:?}):\n{}",
                read(log)
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Ends every job still running with SIGTERM (as `kill %N` would) and waits up to `grace`
    /// for every process of the session but bash to be gone: the ones left, if any, each as
    /// `PID COMMAND LINE`.
    pub fn end_jobs(&mut self, grace: Duration) -> Vec<String> {
        self.say(&format!(
            "for j in $(jobs -p); do kill -TERM -- -$j 2>/dev/null; done; echo \"{DONE} 0\""
        ));
        self.status(Duration::from_secs(10), "kill the jobs");
        let deadline = Instant::now() + grace;
        loop {
            let left = self.others();
            if left.is_empty() || Instant::now() >= deadline {
                return left
                    .iter()
                    .map(|&pid| format!("{pid} {}", command_line(pid)))
                    .collect();
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The live processes of this session other than bash.
    fn others(&self) -> Vec<u32> {
        let sid = self.sid();
        session_members(sid)
            .into_iter()
            .filter(|&pid| pid != sid)
            .collect()
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        for _ in 0..50 {
            let left = self.others();
            if left.is_empty() {
                break;
            }
            let _ = Command::new("kill")
                .arg("-KILL")
                .args(left.iter().map(u32::to_string))
                .stderr(Stdio::null())
                .status();
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.bash.kill();
        let _ = self.bash.wait();
    }
}

/// When a command that serves is up.
#[derive(Debug)]
pub enum Ready {
    /// Its address accepts a TCP connection.
    Listening(SocketAddr),
    /// It printed something.
    Printed,
}

fn read(path: &Path) -> String {
    std::fs::read(path)
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
        .unwrap_or_default()
}

/// `/proc/PID/stat`'s fields after the command name: state is `[0]`, session `[3]`.
fn stat_fields(pid: u32) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &stat[stat.rfind(')')? + 1..];
    Some(after.split_whitespace().map(str::to_owned).collect())
}

fn alive(pid: u32) -> bool {
    stat_fields(pid).is_some_and(|f| f.first().is_some_and(|state| state != "Z"))
}

/// The live (not zombie) processes whose session is `sid`.
fn session_members(sid: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| {
            stat_fields(pid).is_some_and(|f| {
                f.first().is_some_and(|state| state != "Z")
                    && f.get(3).and_then(|s| s.parse::<u32>().ok()) == Some(sid)
            })
        })
        .collect()
}

fn command_line(pid: u32) -> String {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|raw| String::from_utf8_lossy(&raw).replace('\0', " "))
        .unwrap_or_default()
}
