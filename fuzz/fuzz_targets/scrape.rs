//! Fuzz target: arbitrary bytes through the sampler's `/metrics` reading
//! (`numaload_agent::scrape`), which takes untrusted text from any server a user brings,
//! 10 times a second: the HTTP response framing, then every parser of the body. None may
//! panic; the bucket read-back must stay consistent with itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use numaload_agent::scrape::{
    complete_body, interval_p99_ns, parse_buckets, parse_gauges, parse_series,
};

fuzz_target!(|data: &[u8]| {
    // As the scraper sees it: a response, whose body (when complete) is parsed.
    let _ = complete_body(data);
    let text = String::from_utf8_lossy(data);
    let _ = parse_gauges(&text);
    // Names to look for: the words of the first line, so the fuzzer can make them match.
    let names: Vec<String> = text
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    let values = parse_series(&text, &names);
    assert_eq!(values.len(), names.len());
    // Two snapshots: the text's first and second halves (on a char boundary).
    let middle = (0..=text.len() / 2)
        .rev()
        .find(|&i| text.is_char_boundary(i))
        .unwrap_or(0);
    let before = parse_buckets(&text[..middle]);
    let after = parse_buckets(&text[middle..]);
    let _ = interval_p99_ns(&before, &after);
    let whole = parse_buckets(&text);
    assert_eq!(interval_p99_ns(&whole, &whole), None, "nothing new between equal snapshots");
});
