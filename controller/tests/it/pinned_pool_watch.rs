//! Thread-affine work seen from outside: the ffi target's `pinned-pool`
//! dispatch under load, watched with `numaload watch PID --threads --json --interval 100ms` as
//! any process would be. Every sample's thread list comes from `/proc` (tid, allowed CPUs, the
//! CPU it last ran on, migrations, CPU time), not from anything the target says: each pool worker
//! (`numaload-ffi-N`) kept one thread id and ran on one CPU for the whole run, and did the work.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::common::{numaload, BIN};
use serde_json::Value;

const POOL_THREADS: usize = 2;
const REFRESHES: &str = "25";

/// Kills the target on every way out of the test.
struct Target(Child);

impl Drop for Target {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// GET / on one keep-alive connection until `stop`, counting answers.
fn load(address: String, stop: Arc<AtomicBool>, answered: Arc<AtomicU64>) {
    let Ok(mut stream) = TcpStream::connect(&address) else {
        return;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let request = format!("GET / HTTP/1.1\r\nHost: {address}\r\n\r\n");
    let mut buffer = [0u8; 4096];
    while !stop.load(Ordering::Relaxed) {
        if stream.write_all(request.as_bytes()).is_err() {
            return;
        }
        // The responses are small: one read holds a whole one.
        match stream.read(&mut buffer) {
            Ok(n) if n > 0 => answered.fetch_add(1, Ordering::Relaxed),
            _ => return,
        };
    }
}

/// Per pool thread name: (tid, last CPU, allowed CPUs, migrations, CPU time) in each sample.
type Seen = BTreeMap<String, Vec<(u64, u64, Vec<u64>, Option<u64>, u64)>>;

fn pool_threads(samples: &[Value]) -> Seen {
    let mut seen = Seen::new();
    for sample in samples {
        let threads = sample["processes"][0]["thread_details"]
            .as_array()
            .expect("thread_details");
        let pool: Vec<&Value> = threads
            .iter()
            .filter(|t| {
                t["comm"]
                    .as_str()
                    .is_some_and(|c| c.starts_with("numaload-ffi-"))
            })
            .collect();
        assert_eq!(pool.len(), POOL_THREADS, "{threads:?}");
        for t in pool {
            let number = |key: &str| t[key].as_u64().unwrap_or_else(|| panic!("{key}: {t}"));
            let cpus = t["cpus_allowed"]
                .as_array()
                .expect("cpus_allowed")
                .iter()
                .filter_map(Value::as_u64)
                .collect();
            seen.entry(t["comm"].as_str().unwrap_or_default().to_owned())
                .or_default()
                .push((
                    number("tid"),
                    number("last_cpu"),
                    cpus,
                    t["migrations"].as_u64(),
                    number("cpu_time_ns"),
                ));
        }
    }
    seen
}

#[test]
fn each_pinned_pool_worker_stays_on_one_thread_and_one_cpu_as_proc_shows() {
    let _turn = crate::turns::alone();
    let mut child = Command::new(BIN)
        .args(["target", "--variant", "ffi", "--dispatch", "pinned-pool"])
        .args(["--pool-threads", &POOL_THREADS.to_string()])
        .args([
            "--listen",
            "127.0.0.1:0",
            "--work-us",
            "300",
            "--work-mode",
            "spin",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the target");
    let stdout = child.stdout.take().expect("stdout");
    let target = Target(child);
    let address = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .find_map(|l| {
            l.strip_prefix("numaload-target listening on ")
                .map(str::to_owned)
        })
        .expect("the target says where it listens");
    let stop = Arc::new(AtomicBool::new(false));
    let answered = Arc::new(AtomicU64::new(0));
    let clients: Vec<_> = (0..4)
        .map(|_| {
            let (address, stop, answered) = (address.clone(), stop.clone(), answered.clone());
            std::thread::spawn(move || load(address, stop, answered))
        })
        .collect();
    std::thread::sleep(Duration::from_millis(200));
    let pid = target.0.id().to_string();
    let watch = numaload(&[
        "watch",
        &pid,
        "--threads",
        "--json",
        "--interval",
        "100ms",
        "--count",
        REFRESHES,
    ]);
    stop.store(true, Ordering::Relaxed);
    for client in clients {
        let _ = client.join();
    }
    assert!(
        watch.status.success(),
        "{}",
        String::from_utf8_lossy(&watch.stderr)
    );
    let samples: Vec<Value> = String::from_utf8_lossy(&watch.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON document a line"))
        .collect();
    assert_eq!(samples.len().to_string(), REFRESHES);
    assert!(
        answered.load(Ordering::Relaxed) > 100,
        "the load reached it"
    );

    let seen = pool_threads(&samples);
    let mut cpus_used = BTreeSet::new();
    for (name, looks) in &seen {
        let tids: BTreeSet<u64> = looks.iter().map(|l| l.0).collect();
        let cpus: BTreeSet<u64> = looks.iter().map(|l| l.1).collect();
        assert_eq!(tids.len(), 1, "{name} changed threads: {tids:?}");
        assert_eq!(cpus.len(), 1, "{name} ran on several CPUs: {cpus:?}");
        let cpu = *cpus.first().expect("a CPU");
        assert!(
            looks.iter().all(|l| l.2 == [cpu]),
            "{name}: allowed CPUs {:?}, ran on {cpu}",
            looks[0].2
        );
        // Pinned from before the first look: the kernel moved it nowhere while watched.
        let (first, last) = (&looks[0], &looks[looks.len() - 1]);
        if let (Some(a), Some(b)) = (first.3, last.3) {
            assert_eq!(a, b, "{name} migrated while watched");
        }
        assert!(
            last.4 > first.4,
            "{name} did work: CPU time {first:?} → {last:?}"
        );
        cpus_used.insert(cpu);
        println!(
            "{name}: tid {:?}, CPU {cpu}, CPU time {:.0} ms while watched",
            tids,
            (last.4 - first.4) as f64 / 1e6
        );
    }
    let allowed = samples[0]["cpus_allowed"].as_array().map_or(0, Vec::len);
    assert_eq!(
        cpus_used.len(),
        POOL_THREADS.min(allowed),
        "one CPU per worker, round-robin over the allowed set"
    );
}
