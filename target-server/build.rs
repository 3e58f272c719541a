//! Builds the C side of the `ffi` variant (`csrc/numaload_ffi.c`) into a static library.

fn main() {
    println!("cargo:rerun-if-changed=csrc/numaload_ffi.c");
    cc::Build::new()
        .file("csrc/numaload_ffi.c")
        .flag_if_supported("-std=gnu11")
        .warnings(true)
        .extra_warnings(true)
        .warnings_into_errors(true)
        .compile("numaload_ffi");
}
