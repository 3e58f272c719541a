//! Choosing a free port for each replica.
//!
//! A server nobody here wrote takes its port from its arguments or a file, so the agent must
//! choose it. Binding port 0 and passing the number on is racy in the common way (the kernel may
//! hand the same port to the next `connect`, the load generator's own among them), so the port
//! comes from *below* the kernel's ephemeral range (`net.ipv4.ip_local_port_range`), which the
//! kernel never hands out by itself: only another program choosing the same number by hand could
//! take it. Ports handed out by this agent are not reused until [`release`]d. An agent whose
//! configuration gives `replica_ports` (a firewall lets only those through) draws from that
//! range instead.

use std::collections::BTreeSet;
use std::net::{IpAddr, TcpListener};
use std::ops::RangeInclusive;
use std::sync::Mutex;

/// Lowest port tried (below are well-known and registered services).
const LOWEST: u16 = 10_000;

static HANDED_OUT: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());

/// A port on `address` that nothing listens on now and this agent has not handed out: from
/// `range` when given, else from below the ephemeral range.
pub fn pick(address: IpAddr, range: Option<&RangeInclusive<u16>>) -> std::io::Result<u16> {
    if let Some(range) = range {
        return pick_in(address, range);
    }
    let ephemeral_low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|t| t.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32_768);
    let mut handed = HANDED_OUT
        .lock()
        .map_err(|_| std::io::Error::other("port table poisoned"))?;
    if ephemeral_low > LOWEST + 100 {
        let span = u32::from(ephemeral_low - LOWEST);
        // Start at a point that differs between agents on one host (tests run several).
        let seed = std::process::id().wrapping_mul(2_654_435_761) ^ nanos();
        for i in 0..span {
            let port = LOWEST + ((seed.wrapping_add(i.wrapping_mul(7_919))) % span) as u16;
            if !handed.contains(&port) && TcpListener::bind((address, port)).is_ok() {
                handed.insert(port);
                return Ok(port);
            }
        }
    }
    // No room below the ephemeral range: let the kernel choose (racy, but rare).
    let port = TcpListener::bind((address, 0))?.local_addr()?.port();
    handed.insert(port);
    Ok(port)
}

/// The first port of `range` free on `address` and not handed out.
fn pick_in(address: IpAddr, range: &RangeInclusive<u16>) -> std::io::Result<u16> {
    let mut handed = HANDED_OUT
        .lock()
        .map_err(|_| std::io::Error::other("port table poisoned"))?;
    for port in range.clone() {
        if !handed.contains(&port) && TcpListener::bind((address, port)).is_ok() {
            handed.insert(port);
            return Ok(port);
        }
    }
    Err(std::io::Error::new(
        std::io::ErrorKind::AddrInUse,
        format!(
            "every port of replica_ports {}-{} on {address} is taken; widen the range in the \
             agent's configuration",
            range.start(),
            range.end()
        ),
    ))
}

/// The replica on `port` is gone: the number may be handed out again.
pub fn release(port: u16) {
    if let Ok(mut handed) = HANDED_OUT.lock() {
        handed.remove(&port);
    }
}

fn nanos() -> u32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

    #[test]
    fn ports_are_free_distinct_and_below_the_ephemeral_range() {
        let ports: Vec<u16> = (0..20)
            .map(|_| pick(LOOPBACK, None).expect("a free port"))
            .collect();
        let distinct: BTreeSet<u16> = ports.iter().copied().collect();
        assert_eq!(distinct.len(), ports.len(), "{ports:?}");
        for &port in &ports {
            assert!(port >= LOWEST, "{port}");
            TcpListener::bind((Ipv4Addr::LOCALHOST, port)).expect("still free");
            release(port);
        }
    }

    #[test]
    fn a_configured_range_is_drawn_from_and_runs_out() {
        // Two neighbours from below the ephemeral range, where no connection of a concurrent
        // test can take one by chance; the first is held by a listener of this test.
        let (taken, busy) = (0..100)
            .find_map(|_| {
                let port = pick(LOOPBACK, None).ok()?;
                release(port);
                let held = TcpListener::bind((LOOPBACK, port)).ok()?;
                let next = port.checked_add(1)?;
                TcpListener::bind((LOOPBACK, next)).ok()?;
                Some((held, port))
            })
            .expect("two free neighbouring ports");
        let range = busy..=busy + 1;
        let got = pick(LOOPBACK, Some(&range)).expect("the range's free port");
        assert_eq!(got, busy + 1, "the busy port is skipped");
        let error = pick(LOOPBACK, Some(&range)).expect_err("both are taken now");
        assert!(error.to_string().contains("replica_ports"), "{error}");
        release(got);
        drop(taken);
    }
}
