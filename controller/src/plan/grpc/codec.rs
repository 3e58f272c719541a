//! The gRPC encoding of a plan's calls, pure: a file descriptor set (what `protoc -o` writes)
//! read with `prost-reflect`, a method found in it ([`unary_method`]), its request message made
//! from JSON ([`encode_json`], protobuf's JSON mapping) or checked from bytes ([`check_bin`]),
//! and framed as gRPC sends it ([`frame`]). Each error is the text after the key it is about.

use prost::Message as _;
use prost_reflect::{DescriptorPool, DynamicMessage, MessageDescriptor, MethodDescriptor};

/// The descriptors of a file descriptor set.
pub(super) fn descriptors(bytes: &[u8]) -> Result<DescriptorPool, String> {
    DescriptorPool::decode(bytes).map_err(|e| {
        format!("is not a file descriptor set ({e}); make one with protoc --include_imports -o")
    })
}

/// The unary method `method` (`package.Service/Method`) of `pool`.
pub(super) fn unary_method(
    pool: &DescriptorPool,
    method: &str,
) -> Result<MethodDescriptor, String> {
    let (service_name, method_name) = method
        .split_once('/')
        .ok_or_else(|| "must be \"package.Service/Method\"".to_owned())?;
    let Some(service) = pool.get_service_by_name(service_name) else {
        let known: Vec<String> = pool.services().map(|s| s.full_name().to_owned()).collect();
        return Err(format!(
            "unknown service {service_name} (the descriptors hold: {})",
            list(&known)
        ));
    };
    let Some(found) = service.methods().find(|m| m.name() == method_name) else {
        let known: Vec<String> = service.methods().map(|m| m.name().to_owned()).collect();
        return Err(format!(
            "unknown method {method_name} of {service_name} (it has: {})",
            list(&known)
        ));
    };
    let streaming = match (found.is_client_streaming(), found.is_server_streaming()) {
        (false, false) => return Ok(found),
        (true, true) => "bidirectional-streaming",
        (true, false) => "client-streaming",
        (false, true) => "server-streaming",
    };
    Err(format!(
        "{method} is a {streaming} method; only unary methods can be loaded"
    ))
}

fn list(names: &[String]) -> String {
    if names.is_empty() {
        "none".to_owned()
    } else {
        names.join(", ")
    }
}

/// `json` (protobuf's JSON mapping of `input`) encoded; the error names the field at fault.
pub(super) fn encode_json(input: &MessageDescriptor, json: &str) -> Result<Vec<u8>, String> {
    let refuse = |why: String| format!("does not hold a {} in JSON: {why}", input.full_name());
    let mut deserializer = serde_json::Deserializer::from_str(json);
    let message = DynamicMessage::deserialize(input.clone(), &mut deserializer)
        .and_then(|message| deserializer.end().map(|()| message));
    match message {
        Ok(message) => Ok(message.encode_to_vec()),
        Err(e) => {
            // serde's own text names an unknown field but not one whose value is wrong.
            let field = serde_json::from_str(json)
                .ok()
                .and_then(|value| culprit(input, &value, ""));
            Err(refuse(match field {
                Some(field) => format!("field {field}: {e}"),
                None => e.to_string(),
            }))
        }
    }
}

/// The path (`a.b`) of the first field of the JSON object `value` that `input` refuses,
/// followed into nested messages.
fn culprit(input: &MessageDescriptor, value: &serde_json::Value, prefix: &str) -> Option<String> {
    let serde_json::Value::Object(fields) = value else {
        return None;
    };
    for (key, inner) in fields {
        let alone = serde_json::Value::Object([(key.clone(), inner.clone())].into_iter().collect());
        if DynamicMessage::deserialize(input.clone(), &alone).is_ok() {
            continue;
        }
        let path = format!("{prefix}{key}");
        let field = input
            .get_field_by_json_name(key)
            .or_else(|| input.get_field_by_name(key));
        if let Some(field) = field.filter(|f| !f.is_list() && !f.is_map()) {
            if let prost_reflect::Kind::Message(nested) = field.kind() {
                if let Some(deeper) = culprit(&nested, inner, &format!("{path}.")) {
                    return Some(deeper);
                }
            }
        }
        return Some(path);
    }
    None
}

/// `bytes` if they decode as an `input` message.
pub(super) fn check_bin(input: &MessageDescriptor, bytes: Vec<u8>) -> Result<Vec<u8>, String> {
    match DynamicMessage::decode(input.clone(), &bytes[..]) {
        Ok(_) => Ok(bytes),
        Err(e) => Err(format!(
            "does not hold an encoded {} ({e})",
            input.full_name()
        )),
    }
}

/// `message` as one gRPC frame: a compression flag (0), the length as a big-endian u32, the
/// message.
pub fn frame(message: &[u8]) -> Vec<u8> {
    let mut framed = Vec::with_capacity(5 + message.len());
    framed.push(0);
    // A request file over 4 GiB is refused when it is read.
    framed.extend_from_slice(
        &u32::try_from(message.len())
            .unwrap_or(u32::MAX)
            .to_be_bytes(),
    );
    framed.extend_from_slice(message);
    framed
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost_reflect::prost_types::field_descriptor_proto::{Label, Type};
    use prost_reflect::prost_types::{
        DescriptorProto, FieldDescriptorProto, FileDescriptorProto, FileDescriptorSet,
        MethodDescriptorProto, ServiceDescriptorProto,
    };

    /// The built-in target's service (`numaload.bench.v1.Bench`: `Work` and `Echo`).
    const BENCH: &[u8] = include_bytes!("../../../../target-server/proto/bench.protoset");

    fn bench() -> DescriptorPool {
        descriptors(BENCH).expect("the target's protoset")
    }

    /// A service `s.Stream` with one method of each streaming kind.
    fn streaming() -> DescriptorPool {
        let method = |name: &str, client: bool, server: bool| MethodDescriptorProto {
            name: Some(name.to_owned()),
            input_type: Some(".s.M".to_owned()),
            output_type: Some(".s.M".to_owned()),
            client_streaming: Some(client),
            server_streaming: Some(server),
            ..MethodDescriptorProto::default()
        };
        let set = FileDescriptorSet {
            file: vec![FileDescriptorProto {
                name: Some("s.proto".to_owned()),
                package: Some("s".to_owned()),
                message_type: vec![DescriptorProto {
                    name: Some("M".to_owned()),
                    ..DescriptorProto::default()
                }],
                service: vec![ServiceDescriptorProto {
                    name: Some("Stream".to_owned()),
                    method: vec![
                        method("Up", true, false),
                        method("Down", false, true),
                        method("Both", true, true),
                        method("One", false, false),
                    ],
                    ..ServiceDescriptorProto::default()
                }],
                syntax: Some("proto3".to_owned()),
                ..FileDescriptorProto::default()
            }],
        };
        descriptors(&set.encode_to_vec()).expect("valid descriptors")
    }

    #[test]
    fn methods_are_found_or_refused_with_what_there_is() {
        let cases: [(DescriptorPool, &str, Result<&str, &str>); 8] = [
            (bench(), "numaload.bench.v1.Bench/Work", Ok("Work")),
            (streaming(), "s.Stream/One", Ok("One")),
            (
                bench(),
                "numaload.bench.v1.Nope/Work",
                Err("unknown service numaload.bench.v1.Nope (the descriptors hold: numaload.bench.v1.Bench)"),
            ),
            (
                bench(),
                "numaload.bench.v1.Bench/Play",
                Err("unknown method Play of numaload.bench.v1.Bench (it has: Work, Echo)"),
            ),
            (bench(), "numaload.bench.v1.Bench", Err("must be \"package.Service/Method\"")),
            (
                streaming(),
                "s.Stream/Up",
                Err("s.Stream/Up is a client-streaming method; only unary methods can be loaded"),
            ),
            (
                streaming(),
                "s.Stream/Down",
                Err("s.Stream/Down is a server-streaming method; only unary methods can be loaded"),
            ),
            (
                streaming(),
                "s.Stream/Both",
                Err("s.Stream/Both is a bidirectional-streaming method; only unary methods can be loaded"),
            ),
        ];
        for (pool, method, want) in cases {
            let got = unary_method(&pool, method);
            match want {
                Ok(name) => assert_eq!(got.map(|m| m.name().to_owned()), Ok(name.to_owned())),
                Err(text) => assert_eq!(got.map(|m| m.name().to_owned()), Err(text.to_owned())),
            }
        }
    }

    #[test]
    fn json_is_encoded_by_the_input_type_or_the_field_at_fault_named() {
        let input = unary_method(&bench(), "numaload.bench.v1.Bench/Work")
            .expect("method")
            .input();
        let cases: [(&str, Result<&[u8], &str>); 8] = [
            ("{}", Ok(b"")),
            // bytes are base64 in protobuf's JSON mapping: "aGk=" is "hi".
            (
                r#"{"payload": "aGk=", "replyStatus": 5}"#,
                Ok(b"\x0a\x02hi\x10\x05"),
            ),
            // The proto field name is accepted too.
            (r#"{"reply_status": 5}"#, Ok(b"\x10\x05")),
            (r#"{"payloud": "aGk="}"#, Err("payloud")),
            (r#"{"replyStatus": "five"}"#, Err("field replyStatus: ")),
            (
                r#"{"payload": "aGk=", "replyStatus": -1}"#,
                Err("field replyStatus: "),
            ),
            (r#"{"payload": 5}"#, Err("field payload: ")),
            (r#"{} {}"#, Err("trailing characters")),
        ];
        for (json, want) in cases {
            let got = encode_json(&input, json);
            match want {
                Ok(bytes) => assert_eq!(got.as_deref(), Ok(bytes), "{json}"),
                Err(named) => {
                    let error = got.expect_err(json);
                    assert!(
                        error.starts_with("does not hold a numaload.bench.v1.WorkRequest in JSON")
                            && error.contains(named),
                        "{json}: {error}"
                    );
                }
            }
        }
    }

    /// `n.Outer { n.Inner inner = 1; }`, `n.Inner { int32 count = 1; }`.
    fn nested() -> MessageDescriptor {
        let field = |name: &str, kind: Type, type_name: Option<&str>| FieldDescriptorProto {
            name: Some(name.to_owned()),
            number: Some(1),
            label: Some(Label::Optional as i32),
            r#type: Some(kind as i32),
            type_name: type_name.map(str::to_owned),
            json_name: Some(name.to_owned()),
            ..FieldDescriptorProto::default()
        };
        let message = |name: &str, field| DescriptorProto {
            name: Some(name.to_owned()),
            field: vec![field],
            ..DescriptorProto::default()
        };
        let set = FileDescriptorSet {
            file: vec![FileDescriptorProto {
                name: Some("n.proto".to_owned()),
                package: Some("n".to_owned()),
                message_type: vec![
                    message("Outer", field("inner", Type::Message, Some(".n.Inner"))),
                    message("Inner", field("count", Type::Int32, None)),
                ],
                syntax: Some("proto3".to_owned()),
                ..FileDescriptorProto::default()
            }],
        };
        descriptors(&set.encode_to_vec())
            .expect("valid descriptors")
            .get_message_by_name("n.Outer")
            .expect("Outer")
    }

    #[test]
    fn a_wrong_value_in_a_nested_message_is_named_by_its_path() {
        let outer = nested();
        assert_eq!(
            encode_json(&outer, r#"{"inner": {"count": 3}}"#),
            Ok(b"\x0a\x02\x08\x03".to_vec())
        );
        let error = encode_json(&outer, r#"{"inner": {"count": "x"}}"#).expect_err("a string");
        assert!(error.contains("field inner.count: "), "{error}");
        let error = encode_json(&outer, r#"{"inner": {"cont": 1}}"#).expect_err("a typo");
        assert!(
            error.contains("field inner.cont: ") && error.contains("cont"),
            "{error}"
        );
    }

    #[test]
    fn binary_requests_must_decode_as_the_input_type() {
        let input = unary_method(&bench(), "numaload.bench.v1.Bench/Work")
            .expect("method")
            .input();
        assert_eq!(
            check_bin(&input, b"\x10\x05".to_vec()),
            Ok(b"\x10\x05".to_vec())
        );
        assert_eq!(check_bin(&input, Vec::new()), Ok(Vec::new()));
        // Field 1 as bytes of length 9, but only 1 byte follows.
        let error = check_bin(&input, b"\x0a\x09h".to_vec()).expect_err("cut short");
        assert!(
            error.starts_with("does not hold an encoded numaload.bench.v1.WorkRequest"),
            "{error}"
        );
    }

    #[test]
    fn a_descriptor_set_that_is_not_one_is_refused() {
        let error = descriptors(b"not protobuf").expect_err("garbage");
        assert!(error.starts_with("is not a file descriptor set"), "{error}");
    }

    #[test]
    fn a_frame_is_flag_length_and_message() {
        assert_eq!(frame(b"abc"), b"\0\0\0\0\x03abc");
        assert_eq!(frame(b""), b"\0\0\0\0\0");
    }
}
