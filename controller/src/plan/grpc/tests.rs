//! A plan's gRPC calls from TOML to the wire: validation (pure), then the files read and the
//! message encoded, each mistake one line naming its key.

use std::path::{Path, PathBuf};

use crate::plan::{load, parse, PlanError};

fn plan(load_keys: &str) -> String {
    format!(
        "name = \"t\"\n[target]\nname = \"async\"\n[load]\nmode = \"closed\"\n\
         duration = \"1s\"\n{load_keys}\n[[layouts]]\nname = \"one\"\nreplicas = 1\n"
    )
}

const WORK: &str = "numaload.bench.v1.Bench/Work";

fn error(load_keys: &str) -> String {
    parse(&plan(load_keys), "p.toml")
        .expect_err("refused")
        .to_string()
}

#[test]
fn a_call_is_a_post_of_its_framed_message_with_the_grpc_headers() {
    let text = plan(&format!(
        "grpc = {{ method = \"{WORK}\", descriptors = \"b.protoset\" }}"
    ));
    let parsed = parse(&text, "p.toml").expect("valid");
    let request = &parsed.load.requests[0];
    assert_eq!(request.name, WORK);
    assert_eq!(request.method, "POST");
    assert_eq!(request.path, format!("/{WORK}"));
    let call = request.grpc.as_ref().expect("a call");
    assert_eq!(call.expect_status, [0]);
    let wire = parsed.load.to_spec().requests.remove(0);
    let headers: Vec<(&str, &str)> = wire
        .headers
        .iter()
        .map(|h| (h.name.as_str(), h.value.as_str()))
        .collect();
    assert_eq!(
        headers,
        [("content-type", "application/grpc"), ("te", "trailers")]
    );
    // Not read yet: the default message, which encodes to nothing.
    assert_eq!(wire.body, b"\0\0\0\0\0");
    assert_eq!(wire.grpc.expect("a call on the wire").expect_status, [0]);
    let spec = parsed.load.to_spec();
    assert_eq!(
        spec.protocol,
        numaload_proto::v1::HttpProtocol::H2c as i32,
        "gRPC implies h2c"
    );
    let tls = plan(&format!(
        "tls = true\ninsecure_skip_verify = true\n\
         grpc = {{ method = \"{WORK}\", descriptors = \"b\" }}"
    ));
    let spec = parse(&tls, "p.toml").expect("valid").load.to_spec();
    assert_eq!(
        spec.protocol,
        numaload_proto::v1::HttpProtocol::H2 as i32,
        "and h2 over TLS"
    );
}

#[test]
fn a_mix_of_calls_keeps_names_weights_and_statuses() {
    let text = plan(&format!(
        "[[load.requests]]\nweight = 3\ngrpc = {{ method = \"{WORK}\", descriptors = \"b\" }}\n\
         [[load.requests]]\nname = \"fails\"\nheaders = {{ x-tenant = \"a\" }}\n\
         grpc = {{ method = \"{WORK}\", descriptors = \"b\", expect_status = [5, 0, 5] }}\n\
         [[load.requests]]\npath = \"/plain\"\n"
    ));
    let parsed = parse(&text, "p.toml").expect("valid");
    let names: Vec<&str> = parsed
        .load
        .requests
        .iter()
        .map(|r| r.name.as_str())
        .collect();
    assert_eq!(names, [WORK, "fails", "GET /plain"]);
    let wire = parsed.load.to_spec();
    assert_eq!(wire.requests[0].weight, 3);
    assert_eq!(
        wire.requests[1].grpc.as_ref().expect("call").expect_status,
        [0, 5]
    );
    assert_eq!(wire.requests[1].headers[0].name, "x-tenant");
    assert!(wire.requests[2].grpc.is_none());
}

#[test]
fn mistakes_name_their_key() {
    let call = |keys: &str| format!("grpc = {{ {keys} }}");
    let cases = [
        (call("descriptors = \"b\""), "load.grpc.method is missing"),
        ("grpc = 5".to_owned(), "must be a table, e.g. grpc = {"),
        (
            format!(
                "protocol = \"h1\"\n{}",
                call(&format!("method = \"{WORK}\", descriptors = \"b\""))
            ),
            "load.protocol = \"h1\": gRPC runs over HTTP/2",
        ),
        (
            call("method = 5, descriptors = \"b\""),
            "must be \"package.Service/Method\"",
        ),
        (
            call("method = \"Work\", descriptors = \"b\""),
            "load.grpc.method = \"Work\": must be \"package.Service/Method\"",
        ),
        (
            call("method = \"a.B/C.D\", descriptors = \"b\""),
            "load.grpc.method = \"a.B/C.D\"",
        ),
        (call(&format!("method = \"{WORK}\"")), "load.grpc.descriptors is missing"),
        (
            call(&format!(
                "method = \"{WORK}\", descriptors = \"b\", request = \"r.json\", request_bin = \"r.bin\""
            )),
            "load.grpc.request_bin = \"r.bin\": a call has one request",
        ),
        (
            call(&format!("method = \"{WORK}\", descriptors = \"b\", expect_status = [17]")),
            "load.grpc.expect_status[0] = 17: must be a list of gRPC status codes from 0 to 16",
        ),
        (
            call(&format!("method = \"{WORK}\", descriptors = \"b\", expect_status = []")),
            "load.grpc.expect_status = []",
        ),
        (
            call(&format!("method = \"{WORK}\", descriptors = \"b\", zz = 1")),
            "unknown key \"zz\"",
        ),
        (
            format!("path = \"/x\"\n{}", call(&format!("method = \"{WORK}\", descriptors = \"b\""))),
            "load.path: not used with grpc",
        ),
        (
            format!(
                "headers = {{ Content-Type = \"a\" }}\n{}",
                call(&format!("method = \"{WORK}\", descriptors = \"b\""))
            ),
            "load.headers.Content-Type: a gRPC call sets Content-Type itself",
        ),
        (
            format!(
                "{}\n[[load.requests]]\npath = \"/\"",
                call(&format!("method = \"{WORK}\", descriptors = \"b\""))
            ),
            "load.grpc: not used with load.requests",
        ),
    ];
    for (keys, want) in cases {
        let got = error(&keys);
        assert!(got.contains(want), "{keys}\n  got: {got}\n want: {want}");
    }
}

/// A folder holding the built-in target's descriptors and the given files.
struct Dir(PathBuf);

impl Dir {
    fn new(tag: &str, files: &[(&str, &[u8])]) -> Self {
        let dir = std::env::temp_dir().join(format!("numaload-grpc-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let protoset =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../target-server/proto/bench.protoset");
        std::fs::copy(protoset, dir.join("bench.protoset")).expect("protoset");
        for (name, bytes) in files {
            std::fs::write(dir.join(name), bytes).expect("file");
        }
        Dir(dir)
    }

    fn load(&self, load_keys: &str) -> Result<crate::plan::Plan, PlanError> {
        let path = self.0.join("plan.toml");
        std::fs::write(&path, plan(load_keys)).expect("plan");
        load(&path)
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn loading_reads_the_descriptors_and_encodes_each_request_once() {
    let dir = Dir::new(
        "ok",
        &[
            ("work.json", br#"{"payload": "aGk=", "replyStatus": 5}"#),
            ("work.bin", b"\x10\x07"),
        ],
    );
    let keys = format!(
        "[[load.requests]]\ngrpc = {{ method = \"{WORK}\", request = \"work.json\", descriptors = \"bench.protoset\" }}\n\
         [[load.requests]]\nname = \"bin\"\ngrpc = {{ method = \"{WORK}\", request_bin = \"work.bin\", descriptors = \"bench.protoset\" }}\n\
         [[load.requests]]\nname = \"empty\"\ngrpc = {{ method = \"{WORK}\", descriptors = \"bench.protoset\" }}\n"
    );
    let loaded = dir.load(&keys).expect("valid");
    let wire = loaded.load.to_spec();
    assert_eq!(wire.requests[0].body, b"\0\0\0\0\x06\x0a\x02hi\x10\x05");
    assert_eq!(wire.requests[1].body, b"\0\0\0\0\x02\x10\x07");
    assert_eq!(wire.requests[2].body, b"\0\0\0\0\0");
}

#[test]
fn loading_refuses_what_does_not_fit_the_descriptors_naming_the_key() {
    let dir = Dir::new(
        "bad",
        &[
            ("typo.json", br#"{"payloud": "aGk="}"#),
            ("cut.bin", b"\x0a\x09h"),
            ("garbage.protoset", b"not protobuf"),
        ],
    );
    let call = |rest: &str| format!("grpc = {{ {rest} }}");
    let cases = [
        (
            call("method = \"numaload.bench.v1.Nope/Work\", descriptors = \"bench.protoset\""),
            "load.grpc.method = \"numaload.bench.v1.Nope/Work\": unknown service numaload.bench.v1.Nope (the descriptors hold: numaload.bench.v1.Bench)",
        ),
        (
            call("method = \"numaload.bench.v1.Bench/Play\", descriptors = \"bench.protoset\""),
            "load.grpc.method = \"numaload.bench.v1.Bench/Play\": unknown method Play of numaload.bench.v1.Bench (it has: Work, Echo)",
        ),
        (
            call(&format!("method = \"{WORK}\", descriptors = \"bench.protoset\", request = \"typo.json\"")),
            "load.grpc.request = \"typo.json\": does not hold a numaload.bench.v1.WorkRequest in JSON",
        ),
        (
            call(&format!("method = \"{WORK}\", descriptors = \"bench.protoset\", request_bin = \"cut.bin\"")),
            "load.grpc.request_bin = \"cut.bin\": does not hold an encoded numaload.bench.v1.WorkRequest",
        ),
        (
            call(&format!("method = \"{WORK}\", descriptors = \"missing.protoset\"")),
            "load.grpc.descriptors = \"missing.protoset\": cannot be read",
        ),
        (
            call(&format!("method = \"{WORK}\", descriptors = \"garbage.protoset\"")),
            "load.grpc.descriptors = \"garbage.protoset\": is not a file descriptor set",
        ),
        (
            format!(
                "[[load.requests]]\nname = \"r\"\n{}",
                call(&format!("method = \"{WORK}\", descriptors = \"bench.protoset\", request = \"none.json\""))
            ),
            "load.requests.r.grpc.request = \"none.json\": cannot be read",
        ),
    ];
    for (keys, want) in cases {
        let got = dir.load(&keys).expect_err("refused").to_string();
        assert!(got.contains(want), "{keys}\n  got: {got}\n want: {want}");
        assert!(!got.contains('\n'), "one line: {got}");
    }
    // The JSON error names the field at fault.
    let got = dir
        .load(&call(&format!(
            "method = \"{WORK}\", descriptors = \"bench.protoset\", request = \"typo.json\""
        )))
        .expect_err("refused")
        .to_string();
    assert!(got.contains("payloud"), "{got}");
}
