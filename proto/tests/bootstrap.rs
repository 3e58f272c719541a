//! Regenerates the checked-in gRPC code from `proto/` and fails if it differs, so the generated
//! code never drifts from the `.proto` files and a normal build needs no `protoc`
//! (the pattern of tokio-rs/console's `tests/bootstrap.rs`).

use std::path::PathBuf;

#[test]
fn generated_code_is_up_to_date() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let out_dir = root.join("src/generated");
    let proto = root.join("proto/numaload/v1/agent.proto");
    let before = std::fs::read_to_string(out_dir.join("numaload.v1.rs")).unwrap_or_default();

    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .out_dir(&out_dir)
        .compile_protos(&[proto], &[root.join("proto")])
        .expect("protoc must be installed to regenerate (Debian: protobuf-compiler)");

    let after = std::fs::read_to_string(out_dir.join("numaload.v1.rs")).expect("generated file");
    assert!(
        before == after,
        "the generated code in proto/src/generated was out of date and has been rewritten: \
         review and commit it"
    );
}
