//! Embeds the admin console's compiled files (`console/dist/`, committed, rebuilt
//! by `scripts/build-console.sh`) into the binary, so the server stays one file
//! to deploy and a fresh clone builds without Node. Writes a table of
//! `(path, bytes)` pairs to `$OUT_DIR/console_assets.rs`.

use std::error::Error;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn collect(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect(&path, out)?;
        } else {
            out.push(path);
        }
    }
    Ok(())
}

fn main() -> Result<(), Box<dyn Error>> {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
    let dist = manifest.join("console").join("dist");
    println!("cargo:rerun-if-changed=console/dist");
    let mut files = Vec::new();
    if dist.is_dir() {
        collect(&dist, &mut files)?;
    }
    files.sort();
    let mut code = String::from("pub static ASSETS: &[(&str, &[u8])] = &[\n");
    for file in &files {
        let rel = file
            .strip_prefix(&dist)?
            .to_str()
            .ok_or("console/dist holds a non-UTF-8 file name")?
            .replace('\\', "/");
        let abs = file.to_str().ok_or("non-UTF-8 path")?;
        writeln!(code, "    ({rel:?}, include_bytes!({abs:?})),")?;
    }
    code.push_str("];\n");
    let out = PathBuf::from(std::env::var("OUT_DIR")?).join("console_assets.rs");
    std::fs::write(out, code)?;
    Ok(())
}
