//! What the generator sends: [`RequestTemplate`]s checked once ([`validate`]), their bytes
//! pre-built once per target ([`prebuild`]), and the per-connection weighted draw ([`Mix`]).
//!
//! Nothing here runs per request except [`Mix::next`] (only when there is a mix to draw from):
//! one add, one 128-bit multiply and a scan of a few cumulative weights.

use std::net::SocketAddr;
use std::rc::Rc;

use super::config::{LoadError, RequestTemplate};
use super::rng::{splitmix64, GOLDEN_STEP};

/// The bytes written for one template to one target, and whether its response has no body.
#[derive(Debug)]
pub(super) struct Prebuilt {
    pub(super) bytes: Box<[u8]>,
    /// `HEAD`: the response carries a head only, whatever its length headers say.
    pub(super) bodiless: bool,
}

/// Checks the templates (method and header tokens, path, header values, a `Content-Length` that
/// matches the body, at least one weight above 0), naming the first field at fault.
pub(super) fn validate(templates: &[RequestTemplate]) -> Result<(), LoadError> {
    let invalid = |index, field, reason: String| LoadError::InvalidRequest {
        index,
        field,
        reason,
    };
    for (index, t) in templates.iter().enumerate() {
        if !is_token(&t.method) {
            return Err(invalid(
                index,
                "method",
                format!("must be an HTTP token, got {:?}", t.method),
            ));
        }
        let path_ok = t.path.starts_with('/')
            && !t
                .path
                .bytes()
                .any(|b| b.is_ascii_whitespace() || b.is_ascii_control());
        if !path_ok {
            return Err(invalid(
                index,
                "path",
                format!(
                    "must start with '/' and hold no spaces or control characters, got {:?}",
                    t.path
                ),
            ));
        }
        for (name, value) in &t.headers {
            if !is_token(name) {
                return Err(invalid(
                    index,
                    "headers",
                    format!("{name:?} is not a header name"),
                ));
            }
            if value.bytes().any(|b| b.is_ascii_control() && b != b'\t') {
                return Err(invalid(
                    index,
                    "headers",
                    format!("the value of {name} holds a control character: {value:?}"),
                ));
            }
            if name.eq_ignore_ascii_case("transfer-encoding") {
                return Err(invalid(
                    index,
                    "headers",
                    "Transfer-Encoding is not sent: bodies go with Content-Length".into(),
                ));
            }
            if name.eq_ignore_ascii_case("content-length")
                && value.trim().parse::<usize>().ok() != Some(t.body.len())
            {
                return Err(invalid(
                    index,
                    "headers",
                    format!(
                        "Content-Length {value:?} does not match the {}-byte body",
                        t.body.len()
                    ),
                ));
            }
        }
    }
    if !templates.is_empty() && templates.iter().all(|t| t.weight == 0) {
        return Err(LoadError::NoWeight);
    }
    Ok(())
}

/// RFC 9110 `token`: what a method or header name may be.
fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// Each template's bytes for `target`, indexed like `templates`; one `GET /` when there are
/// none. Built once per target and worker, shared by its connections.
pub(super) fn prebuild(templates: &[RequestTemplate], target: SocketAddr) -> Rc<[Prebuilt]> {
    if templates.is_empty() {
        return Rc::new([Prebuilt {
            bytes: default_request(target).into_boxed_slice(),
            bodiless: false,
        }]);
    }
    templates
        .iter()
        .map(|t| Prebuilt {
            bytes: build(t, target).into_boxed_slice(),
            bodiless: t.method == "HEAD",
        })
        .collect()
}

/// The default request: only what HTTP/1.1 requires (wrk sends the same), since every header
/// is work for the server under test.
fn default_request(target: SocketAddr) -> Vec<u8> {
    format!("GET / HTTP/1.1\r\nHost: {target}\r\n\r\n").into_bytes()
}

/// One template's request line, headers (`Host` first unless given), and body.
fn build(t: &RequestTemplate, target: SocketAddr) -> Vec<u8> {
    let has = |name: &str| t.headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(name));
    let mut head = format!("{} {} HTTP/1.1\r\n", t.method, t.path);
    if !has("host") {
        head.push_str(&format!("Host: {target}\r\n"));
    }
    for (name, value) in &t.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    // A method that defines a body gets its length even when empty (servers answer 411
    // otherwise); others only when they carry one.
    let body_method = matches!(t.method.as_str(), "POST" | "PUT" | "PATCH");
    if !has("content-length") && (!t.body.is_empty() || body_method) {
        head.push_str(&format!("Content-Length: {}\r\n", t.body.len()));
    }
    head.push_str("\r\n");
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(&t.body);
    bytes
}

/// The template index every request of a run uses when only one can be drawn (none given, or
/// one weight above 0): then no connection draws, and per-request stats are the totals.
pub(super) fn only(templates: &[RequestTemplate]) -> Option<usize> {
    let mut drawable = templates
        .iter()
        .enumerate()
        .filter(|(_, t)| t.weight > 0)
        .map(|(i, _)| i);
    match (drawable.next(), drawable.next()) {
        (None, _) => Some(0),
        (Some(i), None) => Some(i),
        (Some(_), Some(_)) => None,
    }
}

/// One connection's weighted draw: a Weyl sequence (golden-ratio steps through the 64-bit
/// circle), scaled onto the cumulative weights. Deterministic, no allocation, and evenly spread:
/// over any `n` draws each template's count is within a few of `n × its share`, unlike a
/// random draw's √n. Each connection starts at its own point, so connections do not send the
/// same request at the same moment.
#[derive(Debug, Clone)]
pub(super) struct Mix {
    /// (running total of weights up to and including this template, template index); templates
    /// of weight 0 are left out.
    cumulative: Rc<[(u64, usize)]>,
    total: u64,
    point: u64,
}

impl Mix {
    /// The mix of `templates` (at least two of weight above 0), for connection `global`.
    pub(super) fn new(templates: &[RequestTemplate], global: u32) -> Self {
        let mut total = 0;
        let cumulative: Rc<[(u64, usize)]> = templates
            .iter()
            .enumerate()
            .filter(|(_, t)| t.weight > 0)
            .map(|(i, t)| {
                total += u64::from(t.weight);
                (total, i)
            })
            .collect();
        Self {
            cumulative,
            total,
            point: splitmix64(u64::from(global)),
        }
    }

    /// The template index of this connection's next request.
    pub(super) fn next(&mut self) -> usize {
        self.point = self.point.wrapping_add(GOLDEN_STEP);
        // The point scaled to [0, total).
        let at = ((u128::from(self.point) * u128::from(self.total)) >> 64) as u64;
        self.cumulative
            .iter()
            .find(|&&(upto, _)| at < upto)
            .map_or(0, |&(_, index)| index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template(method: &str, path: &str, weight: u32) -> RequestTemplate {
        RequestTemplate {
            name: format!("{method} {path}"),
            method: method.into(),
            path: path.into(),
            headers: Vec::new(),
            body: Vec::new(),
            weight,
            grpc_expect: None,
        }
    }

    fn target() -> SocketAddr {
        "127.0.0.1:8080".parse().expect("addr")
    }

    fn text(t: &RequestTemplate) -> String {
        String::from_utf8(build(t, target())).expect("utf-8")
    }

    #[test]
    fn default_request_is_a_bare_get() {
        let built = prebuild(&[], target());
        assert_eq!(built.len(), 1);
        assert_eq!(
            &*built[0].bytes,
            b"GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n"
        );
        assert!(!built[0].bodiless);
    }

    #[test]
    fn templates_are_built_with_host_and_content_length() {
        let mut post = template("POST", "/items?x=1", 1);
        post.headers = vec![("Content-Type".into(), "application/json".into())];
        post.body = b"{\"a\":1}".to_vec();
        let mut own_host = template("GET", "/", 1);
        own_host.headers = vec![("host".into(), "example.test".into())];
        let mut own_length = template("PUT", "/p", 1);
        own_length.headers = vec![("content-length".into(), "2".into())];
        own_length.body = b"hi".to_vec();
        let cases = [
            (
                template("GET", "/a", 1),
                "GET /a HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n",
            ),
            (
                post,
                "POST /items?x=1 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nContent-Type: \
                 application/json\r\nContent-Length: 7\r\n\r\n{\"a\":1}",
            ),
            (
                template("POST", "/empty", 1),
                "POST /empty HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nContent-Length: 0\r\n\r\n",
            ),
            (own_host, "GET / HTTP/1.1\r\nhost: example.test\r\n\r\n"),
            (
                own_length,
                "PUT /p HTTP/1.1\r\nHost: 127.0.0.1:8080\r\ncontent-length: 2\r\n\r\nhi",
            ),
        ];
        for (t, want) in cases {
            assert_eq!(text(&t), want);
        }
        let built = prebuild(&[template("HEAD", "/", 1)], target());
        assert!(built[0].bodiless);
    }

    #[test]
    fn bad_templates_are_refused_naming_the_field() {
        type Mutation = fn(&mut RequestTemplate);
        let cases: Vec<(&str, Mutation)> = vec![
            ("requests[1].method", |t| t.method = String::new()),
            ("requests[1].method", |t| t.method = "GET /x".into()),
            ("requests[1].path", |t| t.path = "no-slash".into()),
            ("requests[1].path", |t| t.path = "/a b".into()),
            ("requests[1].path", |t| {
                t.path = "/a\r\nX-Injected: 1".into()
            }),
            ("requests[1].headers", |t| {
                t.headers = vec![("Bad Name".into(), "v".into())]
            }),
            ("requests[1].headers", |t| {
                t.headers = vec![("X-A".into(), "v\r\nX-Injected: 1".into())]
            }),
            ("requests[1].headers", |t| {
                t.headers = vec![("Transfer-Encoding".into(), "chunked".into())]
            }),
            ("requests[1].headers", |t| {
                t.headers = vec![("Content-Length".into(), "3".into())]
            }),
        ];
        for (field, mutate) in cases {
            let mut templates = vec![template("GET", "/", 1), template("POST", "/", 1)];
            mutate(&mut templates[1]);
            let message = validate(&templates).expect_err(field).to_string();
            assert!(
                message.starts_with(field),
                "{message:?} should name {field}"
            );
        }
        let zero = [template("GET", "/", 0), template("GET", "/b", 0)];
        let message = validate(&zero).expect_err("weights").to_string();
        assert!(message.contains("weight"), "{message}");
        assert!(validate(&[]).is_ok());
        let mut fine = template("POST", "/", 1);
        fine.headers = vec![("X-Tab".into(), "a\tb".into())];
        assert!(validate(&[fine, template("GET", "/", 0)]).is_ok());
    }

    #[test]
    fn one_drawable_template_needs_no_draw() {
        assert_eq!(only(&[]), Some(0));
        assert_eq!(only(&[template("GET", "/", 3)]), Some(0));
        let one_of_three = [
            template("GET", "/a", 0),
            template("GET", "/b", 5),
            template("GET", "/c", 0),
        ];
        assert_eq!(only(&one_of_three), Some(1));
        assert_eq!(
            only(&[template("GET", "/", 1), template("GET", "/", 1)]),
            None
        );
    }

    #[test]
    fn draws_match_the_weights_closely_and_never_pick_weight_zero() {
        let weights = [1u32, 0, 2, 7, 0];
        let templates: Vec<_> = weights.iter().map(|&w| template("GET", "/", w)).collect();
        let total: u32 = weights.iter().sum();
        for global in [0, 1, 17, 4_000] {
            let mut mix = Mix::new(&templates, global);
            for n in [100u32, 1_000, 10_000] {
                let mut counts = [0u32; 5];
                for _ in 0..n {
                    counts[mix.next()] += 1;
                }
                for (i, &w) in weights.iter().enumerate() {
                    let want = f64::from(n * w) / f64::from(total);
                    let got = f64::from(counts[i]);
                    // An evenly spread sequence, not a random one: off by a few at most.
                    assert!(
                        (got - want).abs() <= 3.0,
                        "connection {global}, {n} draws: template {i} {got} times, want {want}"
                    );
                }
            }
        }
    }

    #[test]
    fn connections_start_at_different_points() {
        let templates = [template("GET", "/a", 1), template("GET", "/b", 1)];
        let firsts: Vec<usize> = (0..16).map(|g| Mix::new(&templates, g).next()).collect();
        assert!(firsts.contains(&0) && firsts.contains(&1), "{firsts:?}");
    }
}
