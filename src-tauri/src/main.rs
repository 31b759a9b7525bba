//! The Latchkey desktop binary: everything lives in the library so tests and
//! the mobile entry point can share it.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() -> std::process::ExitCode {
    match latchkey_desktop::run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("Latchkey could not start: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}
