//! Embeds every `providers/*.toml` file into the crate, so adding a provider is
//! adding a data file: no list in the source to forget to update.

use std::error::Error;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::{env, fs};

fn main() -> Result<(), Box<dyn Error>> {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR")?);
    let providers = manifest_dir.join("providers");
    println!("cargo:rerun-if-changed={}", providers.display());

    let mut files = Vec::new();
    for entry in fs::read_dir(&providers)? {
        let path = entry?.path();
        if path.extension().and_then(|e| e.to_str()) == Some("toml") {
            println!("cargo:rerun-if-changed={}", path.display());
            files.push(path);
        }
    }
    // Sorted so the embedded order, and so the catalog's order, is stable.
    files.sort();

    let mut out = String::from("&[\n");
    for path in &files {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or("provider file name is not UTF-8")?;
        let full = path.to_str().ok_or("provider path is not UTF-8")?;
        writeln!(out, "    ({name:?}, include_str!({full:?})),")?;
    }
    out.push_str("]\n");

    let out_dir = PathBuf::from(env::var("OUT_DIR")?);
    fs::write(out_dir.join("embedded_providers.rs"), out)?;
    Ok(())
}
