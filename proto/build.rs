//! Compiles `concordat/**/*.proto` with protox (no system protoc) and writes the encoded file
//! descriptor set next to the generated code, for gRPC reflection.

use std::path::{Path, PathBuf};

fn protos(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            protos(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "proto") {
            out.push(path);
        }
    }
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=concordat");
    println!("cargo:rerun-if-changed=google");
    let mut files = Vec::new();
    protos(Path::new("concordat"), &mut files)?;
    files.sort();
    let mut compiler = protox::Compiler::new(["."])?;
    compiler.include_imports(true).include_source_info(true);
    compiler.open_files(&files)?;
    let fds = compiler.file_descriptor_set();
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(
        out.join("concordat_descriptor.bin"),
        compiler.encode_file_descriptor_set(),
    )?;
    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        .codec_path("crate::codec::Codec")
        .compile_fds_with_config(fds, {
            let mut config = tonic_prost_build::Config::new();
            config.enable_type_names();
            // Values are written from JSON straight into the wire format (see `value.rs`).
            config.extern_path(".google.protobuf.Value", "crate::value::Value");
            config
        })?;
    Ok(())
}
