//! Fields of `/proc/self/status` (`Threads`, `Cpus_allowed_list`).

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

/// The number of OS threads of this process.
pub fn os_threads() -> Option<u64> {
    field(&read_self()?, "Threads")?.parse().ok()
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
    }

    #[test]
    fn reads_this_process() {
        assert!(os_threads().is_some_and(|n| n >= 1));
    }
}
