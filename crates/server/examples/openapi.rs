//! Prints the OpenAPI document the server serves at `/v1/openapi.json`, as
//! committed in `docs/openapi.json`:
//! `cargo run -p latchkey-server --example openapi > docs/openapi.json`.

fn main() {
    print!("{}", latchkey_server::openapi::pretty());
}
