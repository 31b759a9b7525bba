//! The committed web builds (the admin console's and the menu's `dist/`) are
//! checked against their sources: the build scripts record a fingerprint of
//! the sources (`sha256sum` lines, hashed again) and tests recompute it. The
//! Vite builds are deterministic, so matching sources mean a matching `dist/`.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files(&path, out);
        } else {
            out.push(path);
        }
    }
}

/// The fingerprint `scripts/build-*.sh` computes for the web project at
/// `root`: every file under `src/` and `public/`, plus its build files.
pub fn sources_fingerprint(root: &Path) -> String {
    let mut paths = Vec::new();
    for name in ["src", "public"] {
        files(&root.join(name), &mut paths);
    }
    for name in [
        "index.html",
        "vite.config.ts",
        "package.json",
        "package-lock.json",
    ] {
        paths.push(root.join(name));
    }
    let mut rel: Vec<String> = paths
        .iter()
        .map(|p| {
            p.strip_prefix(root)
                .unwrap()
                .to_str()
                .unwrap()
                .replace('\\', "/")
        })
        .collect();
    rel.sort();
    let listing: String = rel
        .iter()
        .map(|r| {
            let bytes = std::fs::read(root.join(r)).unwrap();
            format!("{}  {r}\n", hex::encode(Sha256::digest(&bytes)))
        })
        .collect();
    hex::encode(Sha256::digest(listing.as_bytes()))
}

/// Panics with the command to run when `root/dist` was not built from the
/// sources as they are now.
pub fn assert_dist_is_fresh(root: &Path, build_script: &str) {
    let recorded = std::fs::read_to_string(root.join("dist-sources.sha256")).unwrap();
    assert_eq!(
        recorded.trim(),
        sources_fingerprint(root),
        "{}/dist is stale: run {build_script} and commit dist/",
        root.display()
    );
}
