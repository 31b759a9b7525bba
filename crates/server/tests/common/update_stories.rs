//! The stories of signed app updates (issue 16): what Tauri's updater on a device sees,
//! and what an admin sees uploading, promoting and withdrawing releases.

use super::{Backend, Reply, TestDevice, TestServer};
use latchkey_server::updates::UpdateKey;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// An app update key as `tauri signer generate` makes one (test-peers' `UpdateKey`),
/// with a server that checks uploads against it.
pub struct UpdateSigner {
    pub public_key: String,
    key: latchkey_test_peers::update_key::UpdateKey,
}

impl UpdateSigner {
    pub fn new() -> Self {
        let key = latchkey_test_peers::update_key::UpdateKey::generate();
        Self {
            public_key: key.public_base64(),
            key,
        }
    }

    /// The `.sig` for `artifact` built as `version`, as `tauri signer sign` writes it.
    pub fn sign(&self, artifact: &[u8], version: &str) -> String {
        self.key.sign(artifact, "latchkey.AppImage.tar.gz", version)
    }

    /// A server that checks uploads against this key.
    pub async fn server(&self, backend: &Backend) -> TestServer {
        let key = UpdateKey::parse(&self.public_key).unwrap();
        TestServer::start_with(backend, |c| c.updates.public_key = Some(key)).await
    }
}

/// `POST /v1/admin/releases` with the artifact as the body and the rest in the query.
pub async fn upload(s: &TestServer, artifact: &[u8], params: &[(&str, &str)]) -> Reply {
    let mut url = reqwest::Url::parse(&format!("{}/v1/admin/releases", s.base)).unwrap();
    url.query_pairs_mut().extend_pairs(params);
    let resp = s
        .http
        .post(url)
        .bearer_auth(&s.admin_token)
        .header("content-type", "application/octet-stream")
        .body(artifact.to_vec())
        .send()
        .await
        .unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let text = resp.text().await.unwrap();
    Reply {
        status,
        headers,
        body: serde_json::from_str(&text).unwrap_or(Value::String(text)),
    }
}

/// Uploads a correctly signed release and returns its id.
async fn release(
    s: &TestServer,
    signer: &UpdateSigner,
    artifact: &[u8],
    version: &str,
    target: &str,
    channel: &str,
) -> String {
    let signature = signer.sign(artifact, version);
    let r = upload(
        s,
        artifact,
        &[
            ("version", version),
            ("target", target),
            ("arch", "x86_64"),
            ("channel", channel),
            ("notes", &format!("Notes for {version}")),
            ("signature", &signature),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    assert_eq!(r.body["size"], artifact.len());
    r.body["id"].as_str().unwrap().to_owned()
}

async fn check(s: &TestServer, d: &TestDevice, target: &str, version: &str) -> Reply {
    s.device(
        d,
        Method::GET,
        &format!("/v1/updates/{target}/x86_64/{version}"),
        None,
        &[],
    )
    .await
}

async fn download(s: &TestServer, token: Option<&str>, url: &str) -> (StatusCode, Vec<u8>) {
    let mut req = s.http.get(url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status();
    (status, resp.bytes().await.unwrap().to_vec())
}

async fn device_view(s: &TestServer, id: &str) -> Value {
    let list = s.admin(Method::GET, "/v1/admin/devices", None).await;
    assert_eq!(list.status, StatusCode::OK);
    list.body["devices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["id"] == id)
        .cloned()
        .unwrap()
}

pub async fn updates_offer_the_newest_signed_release_on_the_devices_channel(backend: Backend) {
    let signer = UpdateSigner::new();
    let s = signer.server(&backend).await;
    let ada = s.new_user_device("ada@example.com").await;
    let bob = s.new_user_device("bob@example.com").await;

    // Nothing uploaded: the app is up to date.
    let none = check(&s, &ada, "linux", "0.1.0").await;
    assert_eq!(none.status, StatusCode::NO_CONTENT, "{:?}", none.body);

    // Larger than the global body limit (256 KiB): the upload route has its own.
    let artifact_020: Vec<u8> = (0..300 * 1024).map(|i| (i % 251) as u8).collect();
    let id_020 = release(&s, &signer, &artifact_020, "0.2.0", "linux", "stable").await;
    let offer = check(&s, &ada, "linux", "0.1.0").await;
    assert_eq!(offer.status, StatusCode::OK, "{:?}", offer.body);
    let url = format!("{}/v1/updates/artifacts/{id_020}", s.base);
    let pub_date = offer.body["pub_date"].as_str().unwrap().to_owned();
    assert_eq!(
        offer.body,
        json!({
            "version": "0.2.0",
            "notes": "Notes for 0.2.0",
            "pub_date": pub_date,
            "url": url,
            "signature": signer.sign_check(&artifact_020, &offer.body),
        })
    );
    assert!(
        pub_date.len() == 20 && pub_date.ends_with('Z') && pub_date.as_bytes()[10] == b'T',
        "RFC 3339 in whole seconds: {pub_date}"
    );
    let (status, bytes) = download(&s, Some(&ada.token), &url).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        bytes == artifact_020,
        "the download is the uploaded artifact"
    );
    // Another platform, or the same version, gets nothing.
    assert_eq!(
        check(&s, &ada, "windows", "0.1.0").await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        check(&s, &ada, "linux", "0.2.0").await.status,
        StatusCode::NO_CONTENT
    );

    // The highest semver wins, whatever the upload order.
    let id_0100 = release(&s, &signer, b"ten", "0.10.0", "linux", "stable").await;
    release(&s, &signer, b"three", "0.3.0", "linux", "stable").await;
    let offer = check(&s, &ada, "linux", "0.1.0").await;
    assert_eq!(offer.body["version"], "0.10.0", "{:?}", offer.body);

    // Withdrawn: never offered again, and its artifact is gone.
    let gone = s
        .admin(
            Method::DELETE,
            &format!("/v1/admin/releases/{id_0100}"),
            None,
        )
        .await;
    assert_eq!(gone.status, StatusCode::OK, "{:?}", gone.body);
    assert!(gone.body["withdrawn_at"].is_i64());
    let offer = check(&s, &ada, "linux", "0.1.0").await;
    assert_eq!(offer.body["version"], "0.3.0", "{:?}", offer.body);
    let (status, _) = download(
        &s,
        Some(&ada.token),
        &format!("{}/v1/updates/artifacts/{id_0100}", s.base),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // A beta release is offered only to a device on the beta channel.
    let beta_id = release(&s, &signer, b"beta", "0.4.0-beta.1", "linux", "beta").await;
    // Bob asks on stable first (his device is now in the server's lookup cache).
    assert_eq!(
        check(&s, &bob, "linux", "0.3.0").await.status,
        StatusCode::NO_CONTENT
    );
    let moved = s
        .admin(
            Method::PUT,
            &format!("/v1/admin/devices/{}/update-channel", bob.id),
            Some(json!({ "channel": "beta" })),
        )
        .await;
    assert_eq!(moved.status, StatusCode::OK, "{:?}", moved.body);
    assert_eq!(moved.body["update_channel"], "beta");
    assert_eq!(
        check(&s, &bob, "linux", "0.3.0").await.body["version"],
        "0.4.0-beta.1"
    );
    assert_eq!(
        check(&s, &ada, "linux", "0.3.0").await.status,
        StatusCode::NO_CONTENT,
        "a stable device is not offered the beta"
    );
    // Promoted to stable, it is offered to stable devices (and no longer to beta ones).
    let promoted = s
        .admin(
            Method::PATCH,
            &format!("/v1/admin/releases/{beta_id}"),
            Some(json!({ "channel": "stable" })),
        )
        .await;
    assert_eq!(promoted.status, StatusCode::OK, "{:?}", promoted.body);
    assert_eq!(promoted.body["channel"], "stable");
    assert_eq!(
        check(&s, &ada, "linux", "0.3.0").await.body["version"],
        "0.4.0-beta.1"
    );
    assert_eq!(
        check(&s, &bob, "linux", "0.3.0").await.status,
        StatusCode::NO_CONTENT
    );

    // The admin list: newest first, sizes and digests, never the bytes.
    let list = s.admin(Method::GET, "/v1/admin/releases", None).await;
    assert_eq!(list.status, StatusCode::OK);
    assert_eq!(list.body["update_key"], signer.public_key.as_str());
    let releases = list.body["releases"].as_array().unwrap();
    let versions: Vec<_> = releases.iter().map(|r| r["version"].clone()).collect();
    assert_eq!(
        versions,
        vec![
            json!("0.4.0-beta.1"),
            json!("0.3.0"),
            json!("0.10.0"),
            json!("0.2.0")
        ]
    );
    let first = releases.last().unwrap();
    assert_eq!(first["size"], 300 * 1024);
    assert_eq!(first["sha256"].as_str().unwrap().len(), 64);
    assert!(releases.iter().all(|r| r.get("artifact").is_none()));

    // What each device's app reported is in the admin devices API.
    let seen = device_view(&s, &ada.id).await;
    assert_eq!(seen["app_version"], "0.3.0", "{seen:?}");
    assert_eq!(seen["app_target"], "linux");
    assert_eq!(seen["app_arch"], "x86_64");
    assert!(seen["app_version_seen_at"].is_i64());
    assert_eq!(seen["update_channel"], "stable");
    assert_eq!(device_view(&s, &bob.id).await["update_channel"], "beta");

    // The audit trail names each admin action.
    let audit = s.admin(Method::GET, "/v1/admin/audit?limit=50", None).await;
    let actions: Vec<_> = audit.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_owned())
        .collect();
    for action in [
        "release.upload",
        "release.withdraw",
        "release.channel",
        "device.update_channel",
    ] {
        assert!(actions.iter().any(|a| a == action), "{action}: {actions:?}");
    }
    s.stop().await;
}

impl UpdateSigner {
    /// The manifest's signature, after checking it verifies over `artifact` with this
    /// key (as the updater on the device will).
    fn sign_check(&self, artifact: &[u8], manifest: &Value) -> String {
        let signature = manifest["signature"].as_str().unwrap();
        let key = UpdateKey::parse(&self.public_key).unwrap();
        assert!(key.verifies(artifact, signature), "manifest signature");
        signature.to_owned()
    }
}

pub async fn release_uploads_are_checked_against_the_update_key(backend: Backend) {
    let signer = UpdateSigner::new();
    let s = signer.server(&backend).await;
    let artifact = b"latchkey_0.2.0_amd64.AppImage.tar.gz".to_vec();
    let good = signer.sign(&artifact, "0.2.0");
    let with = |signature: &str, version: &str, target: &str, arch: &str| {
        vec![
            ("version", version.to_owned()),
            ("target", target.to_owned()),
            ("arch", arch.to_owned()),
            ("signature", signature.to_owned()),
        ]
    };
    let send = |params: Vec<(&'static str, String)>, body: Vec<u8>| {
        let s = &s;
        async move {
            let refs: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
            upload(s, &body, &refs).await
        }
    };

    // Signed with another key: refused, and nothing is offered.
    let stranger = UpdateSigner::new();
    let wrong = send(
        with(
            &stranger.sign(&artifact, "0.2.0"),
            "0.2.0",
            "linux",
            "x86_64",
        ),
        artifact.clone(),
    )
    .await;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST, "{:?}", wrong.body);
    assert_eq!(wrong.code(), "release.bad_signature");
    assert!(
        wrong.body["message"]
            .as_str()
            .unwrap()
            .contains("updates.public_key")
    );
    // The right key over other bytes, or a signature that is not one: refused too.
    let tampered = send(
        with(&good, "0.2.0", "linux", "x86_64"),
        b"other bytes".to_vec(),
    )
    .await;
    assert_eq!(tampered.code(), "release.bad_signature");
    let garbage = send(
        with("bm90IGEgc2lnbmF0dXJl", "0.2.0", "linux", "x86_64"),
        artifact.clone(),
    )
    .await;
    assert_eq!(garbage.code(), "release.bad_signature");
    // The right key, but signed as another version (an old build announced as new), or
    // with no version recorded at all: the app would refuse it, so the server does first.
    let as_other = send(
        with(&signer.sign(&artifact, "0.1.0"), "0.2.0", "linux", "x86_64"),
        artifact.clone(),
    )
    .await;
    assert_eq!(
        as_other.status,
        StatusCode::BAD_REQUEST,
        "{:?}",
        as_other.body
    );
    assert_eq!(as_other.code(), "release.version_mismatch");
    let unversioned = send(
        with(
            &signer.key.sign_with_comment(
                &artifact,
                "timestamp:1764400000\tfile:latchkey.AppImage.tar.gz",
            ),
            "0.2.0",
            "linux",
            "x86_64",
        ),
        artifact.clone(),
    )
    .await;
    assert_eq!(unversioned.code(), "release.unsigned_version");

    // Metadata is checked before anything is stored.
    for (params, code) in [
        (
            with(&good, "v0.2.0", "linux", "x86_64"),
            "release.bad_version",
        ),
        (
            with(&good, "0.2.0", "macos", "x86_64"),
            "release.bad_target",
        ),
        (with(&good, "0.2.0", "linux", "x64"), "release.bad_arch"),
    ] {
        let r = send(params, artifact.clone()).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{:?}", r.body);
        assert_eq!(r.code(), code);
    }
    let mut bad_channel = with(&good, "0.2.0", "linux", "x86_64");
    bad_channel.push(("channel", "Beta Testers".to_owned()));
    assert_eq!(
        send(bad_channel, artifact.clone()).await.code(),
        "update.bad_channel"
    );
    let empty = send(with(&good, "0.2.0", "linux", "x86_64"), vec![]).await;
    assert_eq!(empty.code(), "release.empty_artifact");
    let listed = s.admin(Method::GET, "/v1/admin/releases", None).await;
    assert_eq!(
        listed.body["releases"],
        json!([]),
        "nothing refused was kept"
    );

    // The same version for the same platform and channel: 409.
    let first = send(with(&good, "0.2.0", "linux", "x86_64"), artifact.clone()).await;
    assert_eq!(first.status, StatusCode::CREATED, "{:?}", first.body);
    let again = send(with(&good, "0.2.0", "linux", "x86_64"), artifact.clone()).await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{:?}", again.body);
    assert_eq!(again.code(), "release.exists");
    // Withdrawn, it may be uploaded again.
    let id = first.body["id"].as_str().unwrap();
    let gone = s
        .admin(Method::DELETE, &format!("/v1/admin/releases/{id}"), None)
        .await;
    assert_eq!(gone.status, StatusCode::OK);
    let redo = send(with(&good, "0.2.0", "linux", "x86_64"), artifact.clone()).await;
    assert_eq!(redo.status, StatusCode::CREATED, "{:?}", redo.body);
    // A withdrawn release cannot be moved.
    let moved = s
        .admin(
            Method::PATCH,
            &format!("/v1/admin/releases/{id}"),
            Some(json!({ "channel": "beta" })),
        )
        .await;
    assert_eq!(moved.status, StatusCode::NOT_FOUND);
    assert_eq!(moved.code(), "release_not_found");
    s.stop().await;

    // No update key configured: nothing can be checked, so nothing is accepted.
    let keyless = TestServer::start(&backend).await;
    let refused = upload(
        &keyless,
        &artifact,
        &[
            ("version", "0.2.0"),
            ("target", "linux"),
            ("arch", "x86_64"),
            ("signature", good.as_str()),
        ],
    )
    .await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{:?}", refused.body);
    assert_eq!(refused.code(), "release.no_update_key");
    keyless.stop().await;

    // Larger than updates.max_artifact_bytes: 413 with the setting's name.
    let key = UpdateKey::parse(&signer.public_key).unwrap();
    let small = TestServer::start_with(&backend, |c| {
        c.updates.public_key = Some(key);
        c.updates.max_artifact_bytes = 16;
    })
    .await;
    let big = upload(
        &small,
        &artifact,
        &[
            ("version", "0.2.0"),
            ("target", "linux"),
            ("arch", "x86_64"),
            ("signature", good.as_str()),
        ],
    )
    .await;
    assert_eq!(big.status, StatusCode::PAYLOAD_TOO_LARGE, "{:?}", big.body);
    assert_eq!(big.code(), "release.too_large");
    small.stop().await;
}

pub async fn update_checks_need_a_device_and_well_formed_platforms(backend: Backend) {
    let signer = UpdateSigner::new();
    let s = signer.server(&backend).await;
    let ada = s.new_user_device("ada@example.com").await;
    let id = release(&s, &signer, b"artifact", "0.2.0", "linux", "stable").await;

    for (path, code) in [
        ("/v1/updates/macos/x86_64/0.1.0", "update.bad_target"),
        ("/v1/updates/linux/x64/0.1.0", "update.bad_arch"),
        ("/v1/updates/linux/x86_64/v0.1.0", "update.bad_version"),
        ("/v1/updates/linux/x86_64/latest", "update.bad_version"),
    ] {
        let r = s.device(&ada, Method::GET, path, None, &[]).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{path}: {:?}", r.body);
        assert_eq!(r.code(), code, "{path}");
        assert!(r.body["message"].as_str().unwrap().len() > 20);
    }
    assert!(
        device_view(&s, &ada.id).await["app_version"].is_null(),
        "a refused check records nothing"
    );

    let check_path = "/v1/updates/linux/x86_64/0.1.0";
    let artifact_url = format!("{}/v1/updates/artifacts/{id}", s.base);
    let invalid = "lkd_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    for token in [None, Some(invalid), Some(s.admin_token.as_str())] {
        let r = s.call(Method::GET, check_path, token, None, &[]).await;
        assert_eq!(
            r.status,
            StatusCode::UNAUTHORIZED,
            "{token:?}: {:?}",
            r.body
        );
        let (status, bytes) = download(&s, token, &artifact_url).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{token:?}");
        assert!(bytes != b"artifact");
    }
    // A revoked device is refused too.
    let revoked = s
        .admin(
            Method::POST,
            &format!("/v1/admin/devices/{}/revoke", ada.id),
            None,
        )
        .await;
    assert_eq!(revoked.status, StatusCode::OK);
    assert_eq!(
        s.device(&ada, Method::GET, check_path, None, &[])
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    // Admin routes refuse device tokens.
    let bob = s.new_user_device("bob@example.com").await;
    let r = s
        .device(&bob, Method::GET, "/v1/admin/releases", None, &[])
        .await;
    assert!(
        matches!(r.status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN),
        "{:?}",
        r.body
    );
    s.stop().await;
}
