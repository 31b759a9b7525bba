//! This computer's enrollment: the server, the user, and the device token.
//! The token lives only in the OS keychain; the rest in `device.json`.

use std::fs;
use std::path::{Path, PathBuf};

use latchkey_client::{
    ClientError, EnrollLink, EnvironmentName, IntegrationId, IntegrationKind, RemoteIntegration,
    ServerClient,
};
use latchkey_keychain::{Keychain, KeychainError, OsKeychain};
use latchkey_secret::SecretString;
use latchkey_vault::{DEFAULT_KEYCHAIN_SERVICE, UserIdentity, Vault, VaultError};
use serde::{Deserialize, Serialize};

/// Keychain service for device tokens.
const TOKEN_SERVICE: &str = "app.latchkey.device";

#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    #[error(
        "This computer is not enrolled yet. Run `latchkey enroll <link>` with the link from your admin."
    )]
    NotEnrolled,
    #[error(
        "The enrollment file {path} is damaged ({reason}). Enroll again with a new link from your admin."
    )]
    Damaged { path: String, reason: String },
    #[error("Could not write {path}: {reason}. Check that the disk is writable.")]
    Io { path: String, reason: String },
    #[error(
        "This computer's device token is missing from the system keychain. Enroll again with a new link from your admin."
    )]
    TokenMissing,
    #[error(
        "Your admin revoked this computer: it no longer syncs, and the connections stored on it were wiped. Enroll it again with a new link from your admin."
    )]
    RevokedByAdmin,
    #[error(
        "Your admin removed your account from Latchkey: the connections stored on this computer were wiped. Ask your admin if you need access again."
    )]
    RemovedByAdmin,
    /// The company sign-in refused this enrollment; `message` is the server's own words.
    #[error("Company sign-in did not enroll this computer: {message} [{code}]")]
    SsoRefused { code: String, message: String },
    #[error(transparent)]
    Connect(#[from] latchkey_connect::ConnectError),
    #[error(transparent)]
    Keychain(#[from] KeychainError),
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error(transparent)]
    Vault(#[from] VaultError),
}

impl DeviceError {
    pub fn code(&self) -> &str {
        match self {
            Self::NotEnrolled => "device.not_enrolled",
            Self::Damaged { .. } => "device.damaged",
            Self::Io { .. } => "device.io",
            Self::TokenMissing => "device.token_missing",
            Self::RevokedByAdmin => "device.revoked_by_admin",
            Self::RemovedByAdmin => "device.removed_by_admin",
            Self::SsoRefused { .. } => "device.sso_refused",
            Self::Connect(e) => e.code(),
            Self::Keychain(e) => e.code(),
            Self::Client(e) => e.code(),
            Self::Vault(e) => e.code(),
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct DeviceFile {
    server: String,
    user_id: String,
    email: String,
    device_id: String,
}

/// The integrations known from the last sync, so `list` and refreshes work
/// offline. Client secrets are not in this file: they go to the OS keychain
/// (see [`Device::cache_integrations`]).
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CachedIntegration {
    id: IntegrationId,
    /// Absent in files written before named connections (then `id` is the provider).
    #[serde(default)]
    provider: Option<IntegrationId>,
    /// Absent in files written before named connections (then the catalog's name).
    #[serde(default)]
    display_name: Option<String>,
    /// What the connection still asks of the user (absent in older files: nothing).
    #[serde(default)]
    ask: Vec<latchkey_client::protocol::device::AskedValue>,
    kind: IntegrationKind,
    environment: EnvironmentName,
    client_id: Option<String>,
    scopes: Vec<String>,
    params: std::collections::BTreeMap<String, String>,
    /// Absent in files written before it existed (then `127.0.0.1`).
    #[serde(default)]
    redirect_host: Option<String>,
    /// Absent in files written before it existed (then: all the catalog offers).
    #[serde(default)]
    default_widgets: Option<Vec<String>>,
    /// An org connection (absent in older files: false).
    #[serde(default)]
    org_wide: bool,
}

/// An enrolled computer.
pub struct Device {
    file: DeviceFile,
    dir: PathBuf,
}

fn io(path: &Path, e: impl std::fmt::Display) -> DeviceError {
    DeviceError::Io {
        path: path.display().to_string(),
        reason: e.to_string(),
    }
}

/// Latchkey's data folder by this OS's convention
/// ([`latchkey_private_files::default_data_dir`]): where the desktop app and the CLI
/// both keep their data unless told otherwise, so that they share one enrollment.
pub fn default_data_dir() -> std::path::PathBuf {
    latchkey_private_files::default_data_dir()
}

/// Marks an enrollment an admin ended (revoked computer, removed user), with why.
const LEFT_FILE: &str = "left.json";

/// The keychain account of a device token: the server and this enrollment's device id.
fn token_account(server: &str, device_id: &str) -> String {
    format!("{server}#device={device_id}")
}

/// The name the admin sees for this computer: `HOSTNAME` or /etc/hostname on Unix,
/// `COMPUTERNAME` on Windows (which has neither).
pub fn default_device_name() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .or_else(|| fs::read_to_string("/etc/hostname").ok())
        .or_else(|| std::env::var("COMPUTERNAME").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "this computer".to_owned())
}

impl Device {
    /// Enrolls with the server, stores the token in the keychain, and sets up
    /// the vault (this is where the per-user salt is created).
    pub async fn enroll(
        dir: &Path,
        link: &EnrollLink,
        device_name: &str,
    ) -> Result<Device, DeviceError> {
        let client = ServerClient::new(&link.server)?;
        let enrollment = client.enroll(&link.code, device_name).await?;
        Self::enrolled(dir, &client, enrollment)
    }

    /// Enrolls by company sign-in, with no code to type: opens the server's sign-in in
    /// the system browser, receives a one-time code on a loopback listener (RFC 8252:
    /// 127.0.0.1, a fresh port, exact `state`, one callback, `timeout`), and redeems it
    /// with the PKCE verifier only this process knows. `cancel` ends the wait (the
    /// menu's Cancel button).
    pub async fn enroll_sso(
        dir: &Path,
        server: &str,
        device_name: &str,
        browser: &dyn latchkey_connect::BrowserLauncher,
        timeout: std::time::Duration,
        cancel: tokio_util::sync::CancellationToken,
    ) -> Result<Device, DeviceError> {
        use latchkey_connect::loopback::{CallbackListener, Expectation};
        const WHO: &str = "Company sign-in";
        let client = ServerClient::new(server)?;
        // Asked first: a browser sent to a server without company sign-in would show an
        // error page while this waited for its whole timeout.
        if client.sso_label().await?.is_none() {
            return Err(DeviceError::SsoRefused {
                code: "sso.not_configured".to_owned(),
                message: format!(
                    "{server} does not offer sign-in with a company account. Enroll with the code your admin sent you instead."
                ),
            });
        }
        let listener = CallbackListener::bind(WHO, None, "/latchkey/sso").await?;
        let (challenge, verifier) = oauth2::PkceCodeChallenge::new_random_sha256();
        let state = SecretString::new(oauth2::CsrfToken::new_random().secret().clone());
        let url =
            client.sso_start_url(&listener.redirect_uri(), state.expose(), challenge.as_str())?;
        browser.open(&url)?;
        let expect = Expectation {
            provider: WHO,
            state: &state,
            issuer: None,
            require_iss: false,
        };
        let callback = listener
            .wait(expect, timeout, cancel)
            .await
            .map_err(|e| match e {
                // The server sends its refusals (unknown user, not allowed) this way.
                latchkey_connect::ConnectError::AuthorizationDenied {
                    error, description, ..
                } => DeviceError::SsoRefused {
                    code: error,
                    message: description.unwrap_or_default(),
                },
                other => DeviceError::Connect(other),
            })?;
        let verifier = SecretString::new(verifier.secret().clone());
        match client
            .enroll_sso(&callback.code, &verifier, device_name)
            .await
        {
            Ok(enrollment) => {
                callback
                    .responder
                    .finish(
                        true,
                        "This computer is enrolled in Latchkey. You can close this tab.",
                    )
                    .await;
                Self::enrolled(dir, &client, enrollment)
            }
            Err(e) => {
                callback.responder.finish(false, &e.to_string()).await;
                Err(match e {
                    ClientError::Unauthorized { code, message } if code.starts_with("sso.") => {
                        DeviceError::SsoRefused {
                            code: code.into(),
                            message,
                        }
                    }
                    other => other.into(),
                })
            }
        }
    }

    /// Keeps a new enrollment: the token in the keychain, the vault, `device.json`.
    fn enrolled(
        dir: &Path,
        client: &ServerClient,
        enrollment: latchkey_client::Enrollment,
    ) -> Result<Device, DeviceError> {
        let server = client.origin().to_owned();
        let keychain = OsKeychain::new(TOKEN_SERVICE);
        // Keyed by the enrollment, not the server: two data dirs on one OS account enrolled
        // with one server are two devices, and neither may overwrite the other's token.
        keychain.set(
            &token_account(&server, &enrollment.device_id),
            enrollment.device_token.expose().as_bytes(),
        )?;
        let file = DeviceFile {
            server,
            user_id: enrollment.user.id.into(),
            email: enrollment.user.email,
            device_id: enrollment.device_id.into(),
        };
        let device = Device {
            file,
            dir: dir.to_path_buf(),
        };
        device.open_vault(dir)?;
        device.save()?;
        // A new enrollment: whatever ended the last one is over.
        match fs::remove_file(dir.join(LEFT_FILE)) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io(&dir.join(LEFT_FILE), e)),
        }
        Ok(device)
    }

    /// The enrollment of this computer.
    pub fn load(dir: &Path) -> Result<Device, DeviceError> {
        let path = dir.join("device.json");
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(DeviceError::NotEnrolled);
            }
            Err(e) => return Err(io(&path, e)),
        };
        let file = serde_json::from_slice(&bytes).map_err(|e| DeviceError::Damaged {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        Ok(Device {
            file,
            dir: dir.to_path_buf(),
        })
    }

    fn save(&self) -> Result<(), DeviceError> {
        let path = self.dir.join("device.json");
        let bytes = serde_json::to_vec_pretty(&self.file).map_err(|e| io(&path, e))?;
        latchkey_private_files::write(&path, &bytes).map_err(|e| io(&path, e))
    }

    pub fn server(&self) -> &str {
        &self.file.server
    }

    pub fn email(&self) -> &str {
        &self.file.email
    }

    pub fn device_id(&self) -> &str {
        &self.file.device_id
    }

    /// The device token, from the keychain. After an admin revoked this computer or
    /// removed its user, says so (the token is gone on purpose, not missing).
    pub fn token(&self) -> Result<SecretString, DeviceError> {
        if let Some(why) = self.left() {
            return Err(why);
        }
        let keychain = OsKeychain::new(TOKEN_SERVICE);
        let account = token_account(&self.file.server, &self.file.device_id);
        let bytes = match keychain.get(&account)? {
            Some(bytes) => bytes,
            // Enrolled by a release that keyed the token by server: move it over.
            None => {
                let old = keychain
                    .get(&self.file.server)?
                    .ok_or(DeviceError::TokenMissing)?;
                keychain.set(&account, old.expose())?;
                keychain.delete(&self.file.server)?;
                old
            }
        };
        let text = std::str::from_utf8(bytes.expose()).map_err(|_| DeviceError::TokenMissing)?;
        Ok(SecretString::from(text))
    }

    /// Forgets the device token because an admin revoked this computer (`removed`:
    /// removed its user), and remembers why, so every later start says so plainly. The
    /// vault key stays: it belongs to the user on this computer.
    pub fn forget_token(&self, removed: bool) -> Result<(), DeviceError> {
        let path = self.dir.join(LEFT_FILE);
        let why = if removed {
            "removed_by_admin"
        } else {
            "revoked_by_admin"
        };
        let body = serde_json::to_vec(
            &serde_json::json!({ "why": why, "device_id": self.file.device_id }),
        )
        .map_err(|e| io(&path, e))?;
        latchkey_private_files::write(&path, &body).map_err(|e| io(&path, e))?;
        let keychain = OsKeychain::new(TOKEN_SERVICE);
        keychain.delete(&token_account(&self.file.server, &self.file.device_id))?;
        Ok(())
    }

    /// Why this enrollment ended, when an admin ended it.
    fn left(&self) -> Option<DeviceError> {
        let bytes = fs::read(self.dir.join(LEFT_FILE)).ok()?;
        let v: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
        if v["device_id"].as_str() != Some(self.file.device_id.as_str()) {
            return None;
        }
        Some(match v["why"].as_str() {
            Some("removed_by_admin") => DeviceError::RemovedByAdmin,
            _ => DeviceError::RevokedByAdmin,
        })
    }

    /// Opens (or, at enrollment, creates) this user's vault.
    pub fn open_vault(&self, dir: &Path) -> Result<Vault<OsKeychain>, DeviceError> {
        let identity = UserIdentity::new(&self.file.server, &self.file.user_id)?;
        Ok(Vault::open(
            OsKeychain::new(DEFAULT_KEYCHAIN_SERVICE),
            identity,
            dir,
        )?)
    }

    /// Replaces a lost or damaged vault key with a new one. Every token sealed
    /// under the old key is void; the user reconnects each integration.
    pub fn reset_vault(&self, dir: &Path) -> Result<Vault<OsKeychain>, DeviceError> {
        let identity = UserIdentity::new(&self.file.server, &self.file.user_id)?;
        Ok(Vault::reset(
            OsKeychain::new(DEFAULT_KEYCHAIN_SERVICE),
            identity,
            dir,
        )?)
    }

    /// The keychain account of an integration's client secret.
    fn secret_account(&self, integration: &str) -> String {
        format!("client-secret/{}/{integration}", self.file.server)
    }

    /// Remembers the integrations for offline use: their settings in
    /// `integrations.json`, the client secrets some providers demand in the
    /// OS keychain (never in a file), so refreshing works while the server is away.
    pub fn cache_integrations(&self, list: &[RemoteIntegration]) -> Result<(), DeviceError> {
        let keychain = OsKeychain::new(TOKEN_SERVICE);
        for i in list {
            let account = self.secret_account(&i.id);
            match &i.client_secret {
                Some(secret) => {
                    let stored = keychain.get(&account)?;
                    if stored.as_ref().map(|s| s.expose()) != Some(secret.expose().as_bytes()) {
                        keychain.set(&account, secret.expose().as_bytes())?;
                    }
                }
                None => {
                    keychain.delete(&account)?;
                }
            }
        }
        let cached: Vec<CachedIntegration> = list
            .iter()
            .map(|i| CachedIntegration {
                id: i.id.clone(),
                provider: i.provider.clone(),
                display_name: i.display_name.clone(),
                ask: i.ask.clone(),
                kind: i.kind,
                environment: i.environment.clone(),
                client_id: i.client_id.clone(),
                scopes: i.scopes.clone(),
                params: i.params.clone(),
                redirect_host: i.redirect_host.clone(),
                default_widgets: i.default_widgets.clone(),
                org_wide: i.org_wide,
            })
            .collect();
        let path = self.dir.join("integrations.json");
        let bytes = serde_json::to_vec_pretty(&cached).map_err(|e| io(&path, e))?;
        latchkey_private_files::write(&path, &bytes).map_err(|e| io(&path, e))
    }

    /// The integrations from the last sync, with their client secrets from
    /// the keychain (a secret the keychain cannot give is left out; the
    /// refresh that needs it then says so).
    pub fn cached_integrations(&self) -> Vec<RemoteIntegration> {
        let keychain = OsKeychain::new(TOKEN_SERVICE);
        let cached: Vec<CachedIntegration> = fs::read(self.dir.join("integrations.json"))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        cached
            .into_iter()
            .map(|c| {
                let secret = keychain
                    .get(&self.secret_account(&c.id))
                    .ok()
                    .flatten()
                    .and_then(|b| String::from_utf8(b.expose().to_vec()).ok());
                RemoteIntegration {
                    id: c.id,
                    provider: c.provider,
                    display_name: c.display_name,
                    kind: c.kind,
                    environment: c.environment,
                    client_id: c.client_id,
                    client_secret: secret.map(SecretString::new),
                    scopes: c.scopes,
                    params: c.params,
                    redirect_host: c.redirect_host,
                    default_widgets: c.default_widgets,
                    connected: None,
                    updated_at: 0,
                    ask: c.ask,
                    org_wide: c.org_wide,
                }
            })
            .collect()
    }
}
