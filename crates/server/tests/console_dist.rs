//! The committed console build matches its sources (see
//! `latchkey_test_peers::web_dist`).

#[test]
fn console_dist_was_built_from_the_committed_sources() {
    latchkey_test_peers::web_dist::assert_dist_is_fresh(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("console"),
        "scripts/build-console.sh",
    );
}
