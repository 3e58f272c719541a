//! The checked-in descriptors of the target's gRPC service (`target-server/proto/bench.protoset`,
//! what a plan's `[load] grpc.descriptors` names) are rebuilt here from descriptors written
//! out in Rust with `prost-types` (no `protoc` at build time; both methods, `Work` and `Echo`) and must equal the file: a stale
//! file is rewritten and the test fails, asking for the new one to be committed. The same
//! descriptors must be what `protoc -o` makes of `bench.proto` beside it, and the server's
//! own messages must encode by their field numbers.

use std::path::PathBuf;

use numaload_target::grpc::{
    EchoReply, EchoRequest, WorkReply, WorkRequest, ECHO_PATH, SERVICE, WORK_PATH,
};
use prost::Message as _;
use prost_types::field_descriptor_proto::{Label, Type};
use prost_types::{
    DescriptorProto, FieldDescriptorProto, FileDescriptorProto, FileDescriptorSet,
    MethodDescriptorProto, ServiceDescriptorProto,
};

fn proto_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("proto")
}

fn field(name: &str, number: i32, kind: Type, json_name: &str) -> FieldDescriptorProto {
    FieldDescriptorProto {
        name: Some(name.to_owned()),
        number: Some(number),
        label: Some(Label::Optional as i32),
        r#type: Some(kind as i32),
        json_name: Some(json_name.to_owned()),
        ..FieldDescriptorProto::default()
    }
}

fn message(name: &str, fields: Vec<FieldDescriptorProto>) -> DescriptorProto {
    DescriptorProto {
        name: Some(name.to_owned()),
        field: fields,
        ..DescriptorProto::default()
    }
}

/// The unary method at `path` (`/package.Service/Method`), its input and output types named
/// `MethodRequest` and `MethodReply` in `package`.
fn unary(path: &str, package: &str) -> MethodDescriptorProto {
    let method = path.rsplit_once('/').expect("/service/method").1;
    MethodDescriptorProto {
        name: Some(method.to_owned()),
        input_type: Some(format!(".{package}.{method}Request")),
        output_type: Some(format!(".{package}.{method}Reply")),
        ..MethodDescriptorProto::default()
    }
}

/// `bench.proto`'s descriptors.
fn bench_descriptors() -> FileDescriptorSet {
    let (package, service) = SERVICE.rsplit_once('.').expect("package.Service");
    let payload = || field("payload", 1, Type::Bytes, "payload");
    FileDescriptorSet {
        file: vec![FileDescriptorProto {
            name: Some("bench.proto".to_owned()),
            package: Some(package.to_owned()),
            message_type: vec![
                message(
                    "WorkRequest",
                    vec![
                        payload(),
                        field("reply_status", 2, Type::Uint32, "replyStatus"),
                    ],
                ),
                message("WorkReply", vec![payload()]),
                message("EchoRequest", vec![payload()]),
                message("EchoReply", vec![payload()]),
            ],
            service: vec![ServiceDescriptorProto {
                name: Some(service.to_owned()),
                method: vec![unary(WORK_PATH, package), unary(ECHO_PATH, package)],
                ..ServiceDescriptorProto::default()
            }],
            syntax: Some("proto3".to_owned()),
            ..FileDescriptorProto::default()
        }],
    }
}

#[test]
fn the_checked_in_protoset_is_up_to_date() {
    let _turn = crate::turns::beside_others();
    let path = proto_dir().join("bench.protoset");
    let before = std::fs::read(&path).unwrap_or_default();
    let after = bench_descriptors().encode_to_vec();
    if before != after {
        std::fs::write(&path, &after).expect("writing the protoset");
    }
    assert!(
        before == after,
        "{} was out of date and has been rewritten: review and commit it",
        path.display()
    );
}

#[test]
fn protoc_makes_the_same_descriptors_of_bench_proto() {
    let _turn = crate::turns::beside_others();
    let out = std::env::temp_dir().join(format!("numaload-bench-{}.pb", std::process::id()));
    let status = std::process::Command::new("protoc")
        .current_dir(proto_dir())
        .arg(format!("--descriptor_set_out={}", out.display()))
        .arg("bench.proto")
        .status()
        .expect("protoc must be installed (Debian: protobuf-compiler)");
    assert!(status.success(), "protoc failed on bench.proto");
    let made = std::fs::read(&out).expect("protoc's output");
    let _ = std::fs::remove_file(&out);
    assert_eq!(
        FileDescriptorSet::decode(&made[..]).expect("a descriptor set"),
        bench_descriptors()
    );
}

#[test]
fn the_servers_messages_encode_by_the_descriptors_field_numbers() {
    let _turn = crate::turns::beside_others();
    let request = WorkRequest {
        payload: b"p"[..].into(),
        reply_status: 5,
    };
    // Field 1 as bytes (tag 0x0a), field 2 as a varint (tag 0x10).
    assert_eq!(request.encode_to_vec(), b"\x0a\x01p\x10\x05");
    let reply = WorkReply {
        payload: b"p"[..].into(),
    };
    assert_eq!(reply.encode_to_vec(), b"\x0a\x01p");
    let echo = EchoRequest {
        payload: b"p"[..].into(),
    };
    assert_eq!(echo.encode_to_vec(), b"\x0a\x01p");
    let echoed = EchoReply {
        payload: b"p"[..].into(),
    };
    assert_eq!(echoed.encode_to_vec(), b"\x0a\x01p");
}
