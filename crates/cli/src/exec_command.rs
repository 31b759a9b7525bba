//! `latchkey exec`: runs a command with fresh tokens in its environment. The
//! tokens never appear on a command line (where `ps` shows them to every user
//! of the computer); the variable names come from the catalog.

use std::process::Command;

use latchkey_device::{Session, SessionError};

/// Runs `command` with the variables of every integration; returns when it
/// ends, exiting with its status.
pub async fn run(
    session: &Session,
    integrations: &[String],
    command: &[String],
) -> Result<(), SessionError> {
    let mut vars = Vec::new();
    for id in integrations {
        vars.extend(session.exec_env(id, None).await?);
    }
    let Some((program, args)) = command.split_first() else {
        return Ok(());
    };
    let mut child = Command::new(program);
    child.args(args);
    for (name, value) in &vars {
        child.env(name, value.expose());
    }
    let status = match child.status() {
        Ok(status) => status,
        Err(e) => {
            eprintln!("latchkey: could not run {program} ({e})");
            std::process::exit(127);
        }
    };
    drop(vars);
    std::process::exit(status.code().unwrap_or(1));
}
