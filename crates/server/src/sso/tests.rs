use super::*;

#[test]
fn only_loopback_ip_literals_with_a_port_are_device_redirects() {
    assert!(loopback_redirect("http://127.0.0.1:4711/sso").is_some());
    assert!(loopback_redirect("http://[::1]:4711/sso").is_some());
    for bad in [
        "http://localhost:4711/sso",
        "http://127.0.0.1/sso",
        "https://127.0.0.1:4711/sso",
        "http://127.0.0.2:4711/sso",
        "http://evil.example:4711/sso",
        "http://user@127.0.0.1:4711/sso",
        "http://127.0.0.1:4711/sso?x=1",
        "http://127.0.0.1:4711/sso#f",
    ] {
        assert!(loopback_redirect(bad).is_none(), "{bad}");
    }
}

#[test]
fn sealed_pending_and_codes_open_only_with_their_key_and_context() {
    let key = ServerKey::from_hex(&SecretString::new("11".repeat(32))).unwrap();
    let pending = Pending::new(None).unwrap();
    let sealed = pending.seal(&key).unwrap();
    let opened = Pending::open(&key, &sealed).unwrap();
    assert_eq!(opened.state, pending.state);
    let other = ServerKey::from_hex(&SecretString::new("22".repeat(32))).unwrap();
    assert!(Pending::open(&other, &sealed).is_none());
    let code = DeviceCode {
        enrollment_code: "lke_x".into(),
        code_challenge: s256("v"),
        expires_at: 1,
    }
    .seal(&key)
    .unwrap();
    assert!(DeviceCode::open(&key, code.expose()).is_some());
    // A sealed sign-in cookie is not a device code, nor the reverse.
    assert!(DeviceCode::open(&key, &format!("lko_{sealed}")).is_none());
    assert!(Pending::open(&key, &code.expose()[4..]).is_none());
    assert!(verifier_matches("v", &s256("v")));
    assert!(!verifier_matches("w", &s256("v")));
}

#[test]
fn the_config_file_reads_the_client_secret_from_its_file_and_env_wins() {
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("sso-secret");
    std::fs::write(&secret, "from-the-file\n").unwrap();
    let file = dir.path().join("server.toml");
    std::fs::write(
        &file,
        format!(
            "[sso]\nissuer = \"https://login.acme.example\"\nclient_id = \"latchkey\"\nclient_secret_file = {:?}\nadmin_group = \"admins\"\njit_users = true\nallowed_domains = [\"acme.example\"]\n",
            secret.display().to_string()
        ),
    )
    .unwrap();
    let flags = crate::config::Flags {
        config: Some(file),
        data_dir: Some(dir.path().into()),
        ..crate::config::Flags::default()
    };
    let env = |k: &str| (k == "LATCHKEY_SSO__LABEL").then(|| "Acme".to_owned());
    let config = crate::config::Config::load(&flags, &env).unwrap();
    let sso = config.sso.as_ref().unwrap();
    assert_eq!(sso.client_secret.expose(), "from-the-file");
    assert_eq!(sso.label, "Acme", "the environment wins over the file");
    assert_eq!(sso.admin_group.as_deref(), Some("admins"));
    assert!(sso.jit_users);
    assert!(!format!("{config:?}").contains("from-the-file"));
    // SSO stays off without an issuer.
    let none = crate::config::Config::load(&crate::config::Flags::default(), &|_| None).unwrap();
    assert!(none.sso.is_none());
}

#[test]
fn settings_need_an_id_and_a_secret_and_never_print_the_secret() {
    let layer = SsoLayer {
        issuer: Some("https://login.acme.example".into()),
        client_id: Some("latchkey".into()),
        ..SsoLayer::default()
    };
    let err = layer.finish().err().unwrap().to_string();
    assert!(err.contains("sso.client_secret"), "{err}");
    let env = |k: &str| match k {
        "LATCHKEY_SSO__ISSUER" => Some("https://login.acme.example".to_owned()),
        "LATCHKEY_SSO__CLIENT_ID" => Some("latchkey".to_owned()),
        "LATCHKEY_SSO__CLIENT_SECRET" => Some("hunter2".to_owned()),
        "LATCHKEY_SSO__ALLOWED_DOMAINS" => Some("Acme.example, @corp.example".to_owned()),
        "LATCHKEY_SSO__PASSWORD_SIGN_IN" => Some("owner_only".to_owned()),
        _ => None,
    };
    let config = SsoLayer::from_env(&env)
        .unwrap()
        .unwrap()
        .finish()
        .unwrap()
        .unwrap();
    assert_eq!(config.allowed_domains, ["acme.example", "corp.example"]);
    assert_eq!(config.password_sign_in, PasswordSignIn::OwnerOnly);
    assert!(config.domain_allowed("ada@acme.example"));
    assert!(!config.domain_allowed("eve@evil.example"));
    assert!(!format!("{config:?}").contains("hunter2"));
}
