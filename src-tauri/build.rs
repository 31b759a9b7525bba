//! Generates the Tauri context (config, assets, capabilities) at build time.
//! Capabilities live under src-tauri/ because the manifest sits at the repo root.

fn main() {
    let attributes =
        tauri_build::Attributes::new().capabilities_path_pattern("src-tauri/capabilities/**/*");
    if let Err(error) = tauri_build::try_build(attributes) {
        // A build script reports failure by exiting non-zero with a message.
        eprintln!("tauri build step failed: {error:#}");
        std::process::exit(1);
    }
}
