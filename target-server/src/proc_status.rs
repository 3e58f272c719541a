//! Fields of `/proc/self/status` (`Threads`, `VmRSS`, `Cpus_allowed_list`).

/// The value of `field` in a `/proc/<pid>/status` text, trimmed (`"0-3,8"` for
/// `Cpus_allowed_list:\t0-3,8`).
pub fn field<'a>(status: &'a str, field: &str) -> Option<&'a str> {
    status.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        (name == field).then(|| value.trim())
    })
}

/// This process's `/proc/self/status`, or `None` where there is no procfs.
pub fn read_self() -> Option<String> {
    std::fs::read_to_string("/proc/self/status").ok()
}

/// The leading number of `field` (`"7"` of `Threads:\t7`, `"1024"` of `VmRSS:\t1024 kB`).
pub fn field_u64(status: &str, name: &str) -> Option<u64> {
    field(status, name)?.split_whitespace().next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATUS: &str = "Name:\tnumaload\nThreads:\t7\nCpus_allowed:\t3\n\
        Cpus_allowed_list:\t0-1\nMems_allowed_list:\t0\n";

    #[test]
    fn finds_exact_field() {
        assert_eq!(field(STATUS, "Threads"), Some("7"));
        assert_eq!(field(STATUS, "Cpus_allowed_list"), Some("0-1"));
        assert_eq!(field(STATUS, "Cpus_allowed"), Some("3"));
        assert_eq!(field(STATUS, "Missing"), None);
        assert_eq!(field_u64(STATUS, "Threads"), Some(7));
        assert_eq!(field_u64("VmRSS:\t  1024 kB\n", "VmRSS"), Some(1024));
    }

    #[test]
    fn reads_this_process() {
        let status = read_self().expect("procfs");
        assert!(field_u64(&status, "Threads").is_some_and(|n| n >= 1));
    }
}
