//! `latchkey-vault`: checks the vault end to end on this machine against the
//! real OS keychain. `make selfcheck` runs it.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use clap::{Parser, Subcommand};
use latchkey_keychain::OsKeychain;
use latchkey_vault::{
    DEFAULT_KEYCHAIN_SERVICE, SlotId, TokenSet, UserIdentity, Vault, VaultError, VaultOpening,
};

#[derive(Parser)]
#[command(
    version,
    about = "Latchkey vault tools: check the vault against this machine's keychain"
)]
struct Cli {
    /// Where the encrypted cache lives [env: LATCHKEY_DATA_DIR; default: the OS app data dir]
    #[arg(long, env = "LATCHKEY_DATA_DIR", global = true)]
    data_dir: Option<PathBuf>,
    /// Keychain service name the salt is stored under
    #[arg(long, default_value = DEFAULT_KEYCHAIN_SERVICE, global = true)]
    keychain_service: String,
    /// Server origin of the identity to check
    #[arg(
        long,
        default_value = "https://selfcheck.latchkey.invalid",
        global = true
    )]
    server: String,
    /// User id of the identity to check
    #[arg(long, default_value = "selfcheck", global = true)]
    user: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create or unlock the vault, seal a throwaway token set, write it to the
    /// encrypted cache, read it back, and check that tampering is detected
    Selfcheck,
    /// Delete the checked identity's vault from this machine (salt and cache)
    Forget,
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error [{}]: {error}", error.code());
            // 2: the keychain is the problem; 3: the vault needs a reconnect; 1: anything else.
            ExitCode::from(match &error {
                VaultError::Keychain(_) => 2,
                e if e.needs_reconnect() => 3,
                _ => 1,
            })
        }
    }
}

fn data_dir(cli: &Cli) -> PathBuf {
    cli.data_dir
        .clone()
        .unwrap_or_else(latchkey_private_files::default_data_dir)
}

fn run(cli: &Cli) -> Result<(), VaultError> {
    let keychain = OsKeychain::new(&cli.keychain_service);
    let identity = UserIdentity::new(&cli.server, &cli.user)?;
    let dir = data_dir(cli);
    match cli.command {
        Command::Forget => {
            let vault = Vault::open(keychain, identity, &dir)?;
            vault.forget()?;
            println!("Forgot the vault of {} on this machine.", cli.user);
            Ok(())
        }
        Command::Selfcheck => selfcheck(keychain, identity, &dir),
    }
}

fn selfcheck(
    keychain: OsKeychain,
    identity: UserIdentity,
    dir: &std::path::Path,
) -> Result<(), VaultError> {
    println!(
        "Keychain:  {} (service {})",
        latchkey_keychain::Keychain::describe(&keychain),
        keychain.service()
    );
    let vault = Vault::open(keychain, identity, dir)?;
    match vault.opening() {
        VaultOpening::Created => {
            println!("Vault:     created a new vault key (id {})", vault.key_id())
        }
        VaultOpening::Existing => println!(
            "Vault:     unlocked the existing vault key (id {})",
            vault.key_id()
        ),
    }
    let slot = SlotId::new("selfcheck", "production")?;
    let version = vault.cache().get(&slot)?.map_or(1, |r| r.version + 1);
    let tokens = throwaway_tokens()?;
    let sealed = vault.store_tokens(&slot, version, &tokens)?;
    println!(
        "Sealed:    a throwaway token set into {} bytes (record version {version})",
        sealed.len()
    );
    let (read_version, opened) = vault.load_tokens(&slot)?.ok_or(VaultError::CacheCorrupt {
        path: vault.cache().dir().to_path_buf(),
        reason: "the record just written is missing",
    })?;
    if read_version != version || opened.access_token != tokens.access_token {
        return Err(VaultError::Tampered);
    }
    println!(
        "Cache:     read back and opened from {}",
        vault.cache().dir().display()
    );
    let mut tampered = sealed.clone();
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    match vault.open_tokens(&slot, version, &tampered) {
        Err(VaultError::Tampered) => println!("Integrity: a flipped bit is detected and refused"),
        _ => return Err(VaultError::Tampered),
    }
    match vault.open_tokens(&slot, version + 1, &sealed) {
        Err(VaultError::Tampered) => {
            println!("Binding:   the envelope refuses to open as another record version")
        }
        _ => return Err(VaultError::Tampered),
    }
    println!("OK: the vault works on this machine.");
    Ok(())
}

fn throwaway_tokens() -> Result<TokenSet, VaultError> {
    let mut bytes = [0u8; 24];
    rand::TryRngCore::try_fill_bytes(&mut rand::rngs::OsRng, &mut bytes).map_err(|e| {
        VaultError::RandomUnavailable {
            reason: e.to_string(),
        }
    })?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    Ok(TokenSet {
        access_token: format!("selfcheck-access-{}", hex::encode(bytes)).into(),
        refresh_token: Some(format!("selfcheck-refresh-{}", hex::encode(&bytes[..12])).into()),
        id_token: None,
        token_type: "Bearer".into(),
        scopes: vec!["selfcheck".into()],
        expires_at: Some(now + 3600),
        issued_at: now,
        instance_url: None,
        extras: Default::default(),
    })
}
