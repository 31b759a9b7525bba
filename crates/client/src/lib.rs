//! The device side of the Latchkey server API.
//!
//! A device enrolls with a one-time code (from a `latchkey://enroll` link),
//! receives a device token, and from then on reads the integrations its admin
//! enabled and reads and writes its **sealed** connection records with
//! version compare-and-swap. This crate never sees a plaintext OAuth token:
//! it moves envelopes the vault sealed.
//!
//! Every body it sends or reads is a `latchkey_protocol` type, the same ones the
//! server builds, so a change to the contract fails to compile on both sides.

mod change_feed;
mod enroll_link;
mod error;

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use latchkey_protocol::device::{
    ConnectionValuesInput, EnrollRequest, EnrollResponse, GrantList, IntegrationList, Me,
    PutRecordRequest, Record, RecordList, RevocationOrderList, RevocationReceipt, SsoInfo,
    SsoRedeemRequest,
};
use latchkey_secret::SecretString;
use url::Url;

pub use change_feed::ChangeEvent;
pub use enroll_link::EnrollLink;
pub use error::ClientError;
/// The wire contract, for callers that need a body or id type by name.
pub use latchkey_protocol as protocol;
pub use latchkey_protocol::device::{
    ChangeKind, IntegrationKind, ProviderOutcome, RevocationOrder, RevocationReason,
};
pub use latchkey_protocol::error::ErrorCode;
pub use latchkey_protocol::ids::{DeviceId, EnvironmentName, IntegrationId, UserId};

/// Largest response accepted from the server.
const MAX_BODY: usize = 4 * 1024 * 1024;

/// A Latchkey server, optionally with this device's token.
pub struct ServerClient {
    origin: Url,
    token: Option<SecretString>,
    http: reqwest::Client,
}

impl std::fmt::Debug for ServerClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerClient")
            .field("origin", &self.origin.as_str())
            .field("token", &self.token.as_ref().map(|_| "[set]"))
            .finish()
    }
}

/// The result of enrolling this device.
#[derive(Debug)]
pub struct Enrollment {
    /// The device's bearer token (keep it in the keychain).
    pub device_token: SecretString,
    /// The server's canonical origin.
    pub server: String,
    /// Who this device belongs to.
    pub user: RemoteUser,
    /// The new device's id.
    pub device_id: DeviceId,
}

impl From<EnrollResponse> for Enrollment {
    fn from(body: EnrollResponse) -> Self {
        Self {
            device_token: body.device_token,
            server: body.server,
            user: body.user,
            device_id: body.device.id,
        }
    }
}

/// A user as the server describes them.
pub type RemoteUser = latchkey_protocol::device::UserInfo;

/// An integration the admin enabled for this user, with its public settings.
pub type RemoteIntegration = latchkey_protocol::device::IntegrationConfig;

/// What an API-key provider answered through the server's proxy.
#[derive(Debug, Clone)]
pub struct ProxyAnswer {
    /// The provider's status (or the proxy's own, for a refused path).
    pub status: u16,
    /// The provider's content type.
    pub content_type: Option<String>,
    /// The body.
    pub body: Vec<u8>,
    /// The provider URL that answered, without its query, when the proxy names one
    /// (`latchkey-upstream-url`): links in the body are resolved there.
    pub upstream_url: Option<url::Url>,
}

/// Largest proxied answer read (the server caps it too).
const MAX_PROXY_BODY: usize = 16 * 1024 * 1024;

/// A sealed record as stored on the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteRecord {
    /// The compare-and-swap version.
    pub version: u64,
    /// The sealed envelope.
    pub envelope: Vec<u8>,
    /// The device that wrote it.
    pub device_id: DeviceId,
}

/// A record slot on the server: integration, environment, vault key id.
#[derive(Debug, Clone, Copy)]
pub struct RecordSlot<'a> {
    /// Catalog id.
    pub integration: &'a str,
    /// `production`, `sandbox` or a custom host.
    pub environment: &'a str,
    /// The vault key id (hex) the envelope was sealed under.
    pub vault_key_id: &'a str,
}

impl ServerClient {
    /// A client for `origin` (https, or http on a loopback address).
    pub fn new(origin: &str) -> Result<Self, ClientError> {
        let origin = enroll_link::checked_origin(origin)?;
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!("Latchkey/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ClientError::Network {
                reason: e.to_string(),
            })?;
        Ok(Self {
            origin,
            token: None,
            http,
        })
    }

    /// A second handle on the same server, with the same token (connections are shared).
    pub fn duplicate(&self) -> Self {
        Self {
            origin: self.origin.clone(),
            token: self.token.as_ref().map(SecretString::duplicate),
            http: self.http.clone(),
        }
    }

    /// The same client, authenticated as an enrolled device.
    pub fn with_token(mut self, token: SecretString) -> Self {
        self.token = Some(token);
        self
    }

    /// The server origin, e.g. `https://latchkey.acme.com`.
    pub fn origin(&self) -> &str {
        self.origin.as_str().trim_end_matches('/')
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.origin())
    }

    fn authed(
        &self,
        builder: reqwest::RequestBuilder,
    ) -> Result<reqwest::RequestBuilder, ClientError> {
        let token = self.token.as_ref().ok_or(ClientError::NotEnrolled)?;
        Ok(builder.bearer_auth(token.expose()))
    }

    /// Trades a one-time enrollment code for a device token.
    pub async fn enroll(
        &self,
        code: &SecretString,
        device_name: &str,
    ) -> Result<Enrollment, ClientError> {
        let body = EnrollRequest {
            code: code.duplicate(),
            device_name: device_name.to_owned(),
        };
        let response = self
            .send(self.http.post(self.url("/v1/enroll")).json(&body))
            .await?;
        Ok(parse::<EnrollResponse>(&response.1)?.into())
    }

    /// The address where a browser starts enrolling this device by company sign-in,
    /// coming back to the device's loopback listener at `redirect_uri` (RFC 8252).
    pub fn sso_start_url(
        &self,
        redirect_uri: &str,
        state: &str,
        code_challenge: &str,
    ) -> Result<url::Url, ClientError> {
        let mut url = url::Url::parse(&self.url("/v1/enroll/sso/start")).map_err(|e| {
            ClientError::InvalidServer {
                reason: e.to_string(),
            }
        })?;
        url.query_pairs_mut()
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("state", state)
            .append_pair("code_challenge", code_challenge)
            .append_pair("code_challenge_method", "S256");
        Ok(url)
    }

    /// Whether this server offers company sign-in (`GET /v1/console/sso`), and the
    /// sign-in button's label when it does.
    pub async fn sso_label(&self) -> Result<Option<String>, ClientError> {
        let response = self
            .send(self.http.get(self.url("/v1/console/sso")))
            .await?;
        let body: SsoInfo = parse(&response.1)?;
        Ok(body.enabled.then(|| {
            body.label
                .unwrap_or_else(|| "your company account".to_owned())
        }))
    }

    /// Trades the one-time code a company sign-in sent to the loopback listener (and the
    /// PKCE verifier only this device knows) for a device token.
    pub async fn enroll_sso(
        &self,
        code: &SecretString,
        code_verifier: &SecretString,
        device_name: &str,
    ) -> Result<Enrollment, ClientError> {
        let body = SsoRedeemRequest {
            code: code.duplicate(),
            code_verifier: code_verifier.duplicate(),
            device_name: device_name.to_owned(),
        };
        let response = self
            .send(
                self.http
                    .post(self.url("/v1/enroll/sso/redeem"))
                    .json(&body),
            )
            .await?;
        Ok(parse::<EnrollResponse>(&response.1)?.into())
    }

    /// Who this device is: itself, its user and its org (`GET /v1/me`).
    pub async fn me(&self) -> Result<Me, ClientError> {
        let response = self
            .send(self.authed(self.http.get(self.url("/v1/me")))?)
            .await?;
        parse(&response.1)
    }

    /// The integrations enabled for this user.
    pub async fn integrations(&self) -> Result<Vec<RemoteIntegration>, ClientError> {
        let response = self
            .send(self.authed(self.http.get(self.url("/v1/integrations")))?)
            .await?;
        Ok(parse::<IntegrationList>(&response.1)?.integrations)
    }

    /// Gives the values the connection `id` asks at connect (a login host, a subdomain);
    /// answers the connection as this user now sees it, the values filled in.
    pub async fn put_connection_values(
        &self,
        id: &str,
        values: std::collections::BTreeMap<String, String>,
    ) -> Result<RemoteIntegration, ClientError> {
        let body = ConnectionValuesInput { values };
        let url = self.url(&format!("/v1/integrations/{id}/values"));
        let response = self
            .send(self.authed(self.http.put(url))?.json(&body))
            .await?;
        parse::<RemoteIntegration>(&response.1)
    }

    /// This user's live records (envelopes included), optionally of one integration only.
    pub async fn list_records(
        &self,
        integration: Option<&str>,
    ) -> Result<Vec<Record>, ClientError> {
        let mut url =
            Url::parse(&self.url("/v1/records")).map_err(|e| ClientError::InvalidServer {
                reason: e.to_string(),
            })?;
        if let Some(integration) = integration {
            url.query_pairs_mut()
                .append_pair("integration", integration);
        }
        let response = self.send(self.authed(self.http.get(url))?).await?;
        Ok(parse::<RecordList>(&response.1)?.records)
    }

    /// Which of this user's devices hold a grant of connection `integration`, oldest
    /// first, and the provider's approval limit (`GET /v1/integrations/{id}/grants`).
    pub async fn list_grants(&self, integration: &str) -> Result<GrantList, ClientError> {
        let mut url = self.origin.clone();
        url.path_segments_mut()
            .map_err(|_| ClientError::InvalidServer {
                reason: "the server address cannot have a path".to_owned(),
            })?
            .clear()
            .extend(["v1", "integrations", integration, "grants"]);
        let response = self.send(self.authed(self.http.get(url))?).await?;
        parse(&response.1)
    }

    fn record_url(&self, slot: RecordSlot<'_>) -> Result<String, ClientError> {
        let mut url = self.origin.clone();
        url.path_segments_mut()
            .map_err(|_| ClientError::InvalidServer {
                reason: "the server address cannot have a path".to_owned(),
            })?
            .clear()
            .extend([
                "v1",
                "records",
                slot.integration,
                slot.environment,
                slot.vault_key_id,
            ]);
        Ok(url.into())
    }

    /// The record in `slot`, if there is one.
    pub async fn get_record(
        &self,
        slot: RecordSlot<'_>,
    ) -> Result<Option<RemoteRecord>, ClientError> {
        let request = self.authed(self.http.get(self.record_url(slot)?))?;
        match self.send(request).await {
            Ok((_, bytes)) => {
                let body: Record = parse(&bytes)?;
                let envelope = body
                    .envelope
                    .as_deref()
                    .ok_or(ClientError::InvalidResponse {
                        reason: "the record has no envelope".to_owned(),
                    })?;
                let envelope = STANDARD.decode(envelope.as_bytes()).map_err(|_| {
                    ClientError::InvalidResponse {
                        reason: "the envelope is not base64".to_owned(),
                    }
                })?;
                Ok(Some(RemoteRecord {
                    version: version(body.version)?,
                    envelope,
                    device_id: body.device_id,
                }))
            }
            Err(ClientError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Writes `envelope` to `slot` with compare-and-swap: `expected` is the
    /// version this device read (`None`: the slot must be empty). Returns the
    /// new version; a stale write fails with [`ClientError::Conflict`].
    ///
    /// `new_grant` says the tokens come from a sign-in the user just made: only such a
    /// write may fill a slot an admin emptied (else 410 `revoked_by_admin`).
    pub async fn put_record(
        &self,
        slot: RecordSlot<'_>,
        envelope: &[u8],
        expected: Option<u64>,
        new_grant: bool,
    ) -> Result<u64, ClientError> {
        let body = PutRecordRequest {
            envelope: STANDARD.encode(envelope),
            new_grant,
        };
        let mut request = self
            .authed(self.http.put(self.record_url(slot)?))?
            .json(&body);
        request = match expected {
            Some(version) => request.header("If-Match", format!("\"{version}\"")),
            None => request.header("If-None-Match", "*"),
        };
        let (_, bytes) = self.send(request).await?;
        version(parse::<Record>(&bytes)?.version)
    }

    /// Deletes `slot` if it is still at `version`.
    pub async fn delete_record(
        &self,
        slot: RecordSlot<'_>,
        version: u64,
    ) -> Result<(), ClientError> {
        let request = self
            .authed(self.http.delete(self.record_url(slot)?))?
            .header("If-Match", format!("\"{version}\""));
        match self.send(request).await {
            Ok(_) | Err(ClientError::NotFound { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// The kill switch: orders this device has not answered yet (an admin took a
    /// connection away), oldest first.
    pub async fn revocation_orders(&self) -> Result<Vec<RevocationOrder>, ClientError> {
        let response = self
            .send(self.authed(self.http.get(self.url("/v1/revocation-orders")))?)
            .await?;
        Ok(parse::<RevocationOrderList>(&response.1)?.orders)
    }

    /// Answers one order: what the provider said and whether the local copy was wiped.
    pub async fn revocation_receipt(
        &self,
        order_id: &str,
        provider: ProviderOutcome,
        detail: &str,
        local_wiped: bool,
    ) -> Result<(), ClientError> {
        let mut url = self.origin.clone();
        url.path_segments_mut()
            .map_err(|_| ClientError::InvalidServer {
                reason: "the server address cannot have a path".to_owned(),
            })?
            .clear()
            .extend(["v1", "revocation-orders", order_id, "receipt"]);
        let body = RevocationReceipt {
            provider,
            detail: detail.to_owned(),
            local_wiped,
        };
        self.send(self.authed(self.http.post(url))?.json(&body))
            .await?;
        Ok(())
    }

    /// Calls an API-key integration through the server's proxy
    /// (`/v1/proxy/{integration}/{path}`): the server adds the key, which never
    /// reaches this device. `path_and_query` starts with `/`. Any answer is
    /// returned, the provider's errors included.
    pub async fn proxy(
        &self,
        integration: &str,
        method: reqwest::Method,
        path_and_query: &str,
        headers: &[(String, String)],
        body: Option<Vec<u8>>,
    ) -> Result<ProxyAnswer, ClientError> {
        let mut url = self.origin.clone();
        let (path, query) = match path_and_query.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (path_and_query, None),
        };
        url.path_segments_mut()
            .map_err(|_| ClientError::InvalidServer {
                reason: "the server address cannot have a path".to_owned(),
            })?
            .clear()
            .extend(["v1", "proxy", integration])
            .extend(path.trim_start_matches('/').split('/'));
        url.set_query(query);
        let mut request = self.authed(self.http.request(method, url))?;
        for (name, value) in headers {
            request = request.header(name.as_str(), value.as_str());
        }
        if let Some(body) = body {
            request = request.body(body);
        }
        let mut response = request.send().await.map_err(|e| ClientError::Network {
            reason: if e.is_timeout() {
                "the server did not answer in time".to_owned()
            } else {
                "could not connect to the server".to_owned()
            },
        })?;
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        // Only a web URL is taken; anything else is as if none was named.
        let upstream_url = response
            .headers()
            .get(latchkey_protocol::device::UPSTREAM_URL_HEADER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| url::Url::parse(v).ok())
            .filter(|u| matches!(u.scheme(), "https" | "http") && u.has_host());
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|_| ClientError::Network {
            reason: "the connection broke".to_owned(),
        })? {
            if body.len() + chunk.len() > MAX_PROXY_BODY {
                return Err(ClientError::InvalidResponse {
                    reason: "the answer is too large".to_owned(),
                });
            }
            body.extend_from_slice(&chunk);
        }
        if status == 401 {
            // The proxy answers 401 only for this device's own token.
            return Err(ClientError::from_status(status, &body, None));
        }
        Ok(ProxyAnswer {
            status,
            content_type,
            body,
            upstream_url,
        })
    }

    async fn send(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<(reqwest::StatusCode, Vec<u8>), ClientError> {
        let mut response = request.send().await.map_err(|e| ClientError::Network {
            reason: if e.is_timeout() {
                "the server did not answer in time".to_owned()
            } else {
                "could not connect to the server".to_owned()
            },
        })?;
        let status = response.status();
        let retry_after = response
            .headers()
            .get("Retry-After")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|_| ClientError::Network {
            reason: "the connection broke".to_owned(),
        })? {
            if body.len() + chunk.len() > MAX_BODY {
                return Err(ClientError::InvalidResponse {
                    reason: "the answer is too large".to_owned(),
                });
            }
            body.extend_from_slice(&chunk);
        }
        if status.is_success() {
            return Ok((status, body));
        }
        Err(ClientError::from_status(
            status.as_u16(),
            &body,
            retry_after,
        ))
    }
}

/// A record version from the server (always positive) as the device keeps it.
fn version(v: i64) -> Result<u64, ClientError> {
    u64::try_from(v).map_err(|_| ClientError::InvalidResponse {
        reason: format!("the record version {v} is negative"),
    })
}

fn parse<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, ClientError> {
    serde_json::from_slice(bytes).map_err(|e| ClientError::InvalidResponse {
        reason: format!("unexpected JSON at line {} column {}", e.line(), e.column()),
    })
}
