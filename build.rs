//! Compiles `proto/` with protox (pure Rust, no `protoc` needed) and generates the tonic
//! client and server code, plus the encoded descriptor set that server reflection serves.

use std::{env, fs, io, path::PathBuf};

const PROTOS: &[&str] = &[
    "taskflow/v1/tasks.proto",
    "taskflow/v1/notifications.proto",
    "taskflow/v1/activities.proto",
    "taskflow/v1/lists.proto",
    "taskflow/events/v1/events.proto",
];

fn main() -> io::Result<()> {
    println!("cargo:rerun-if-changed=proto");
    let mut compiler = protox::Compiler::new(["proto"]).map_err(io::Error::other)?;
    compiler.include_imports(true).include_source_info(true);
    compiler.open_files(PROTOS).map_err(io::Error::other)?;

    let out_dir = PathBuf::from(env::var("OUT_DIR").map_err(io::Error::other)?);
    fs::write(
        out_dir.join("taskflow_descriptor.bin"),
        compiler.encode_file_descriptor_set(),
    )?;

    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        // Small per-call buffers (src/codec.rs): open streams cost less memory.
        .codec_path("crate::codec::LeanCodec")
        .compile_fds(compiler.file_descriptor_set())
}
