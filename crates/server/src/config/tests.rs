use super::*;
use std::collections::HashMap;

fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    move |k| map.get(k).cloned()
}

#[test]
fn layers_apply_in_order_defaults_file_env_flags() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("server.toml");
    std::fs::write(
        &file,
        "listen = \"127.0.0.1:9000\"\nfeed_poll_millis = 250\nlog = \"debug\"\n",
    )
    .unwrap();
    let env = env_of(&[
        ("LATCHKEY_FEED_POLL_MILLIS", "100"),
        ("LATCHKEY_SECURE_COOKIES", "false"),
        ("LATCHKEY_ADMIN_TOKEN_TTL_DAYS", "30"),
    ]);
    let flags = Flags {
        config: Some(file),
        data_dir: Some(dir.path().into()),
        ..Flags::default()
    };
    let config = Config::load(&flags, &env).unwrap();
    assert_eq!(config.listen.port(), 9000, "file beats default");
    assert_eq!(config.feed_poll_millis, 100, "env beats file");
    assert_eq!(
        config.admin_token_ttl_days, 30,
        "env sets the admin token lifetime"
    );
    assert!(!config.secure_cookies);
    assert_eq!(config.log, "debug");
    assert!(config.database_url.starts_with("sqlite://"));
    assert_eq!(config.public_url, None);

    let flags = Flags {
        listen: Some("127.0.0.1:9100".parse().unwrap()),
        ..flags
    };
    assert_eq!(
        Config::load(&flags, &env).unwrap().listen.port(),
        9100,
        "flag beats all"
    );
}

#[test]
fn trusted_proxies_come_from_the_file_or_a_comma_list_and_bad_ones_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("server.toml");
    std::fs::write(&file, "trusted_proxies = [\"10.0.0.0/8\"]\n").unwrap();
    let flags = Flags {
        config: Some(file),
        data_dir: Some(dir.path().into()),
        ..Flags::default()
    };
    let from_file = Config::load(&flags, &env_of(&[])).unwrap();
    assert_eq!(
        from_file.trusted_proxies,
        TrustedProxies::parse(&["10.0.0.0/8".to_owned()]).unwrap()
    );
    let env = env_of(&[("LATCHKEY_TRUSTED_PROXIES", "192.168.0.0/16, fd00::/8")]);
    let from_env = Config::load(&flags, &env).unwrap();
    assert_eq!(
        from_env.trusted_proxies,
        TrustedProxies::parse(&["192.168.0.0/16".to_owned(), "fd00::/8".to_owned()]).unwrap()
    );
    let env = env_of(&[("LATCHKEY_TRUSTED_PROXIES", "10.0.0.0/99")]);
    let err = Config::load(&flags, &env).unwrap_err().to_string();
    assert!(
        err.contains("trusted_proxies") && err.contains("10.0.0.0/99"),
        "{err}"
    );
    assert!(
        Config::for_tests(dir.path(), None)
            .unwrap()
            .trusted_proxies
            .is_empty()
    );
}

#[test]
fn secrets_come_from_files_and_never_print() {
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("key");
    std::fs::write(&key_file, format!("{}\n", "ab".repeat(32))).unwrap();
    let path = key_file.display().to_string();
    let env = env_of(&[
        ("LATCHKEY_SERVER_KEY_FILE", path.as_str()),
        ("LATCHKEY_DATABASE_URL", "postgres://lk:hunter2@db/lk"),
    ]);
    let config = Config::load(&Flags::default(), &env).unwrap();
    assert_eq!(
        config.server_key.as_ref().unwrap().expose(),
        "ab".repeat(32)
    );
    let printed = format!("{config:?}");
    assert!(
        !printed.contains("abab") && !printed.contains("hunter2"),
        "{printed}"
    );
    assert!(printed.contains("postgres://lk:***@db/lk"));
}

#[test]
fn the_server_key_file_comes_from_the_flag_or_the_environment_and_is_remembered() {
    let dir = tempfile::tempdir().unwrap();
    let env_file = dir.path().join("env.key");
    let flag_file = dir.path().join("flag.key");
    std::fs::write(&env_file, "cd".repeat(32)).unwrap();
    std::fs::write(&flag_file, "ef".repeat(32)).unwrap();
    let env_path = env_file.display().to_string();
    let env = env_of(&[("LATCHKEY_SERVER_KEY_FILE", env_path.as_str())]);
    let config = Config::load(&Flags::default(), &env).unwrap();
    assert_eq!(
        config.server_key.as_ref().unwrap().expose(),
        "cd".repeat(32)
    );
    assert_eq!(config.server_key_file.as_deref(), Some(env_file.as_path()));
    // The flag wins over the environment.
    let flags = Flags {
        server_key_file: Some(flag_file.clone()),
        ..Flags::default()
    };
    let config = Config::load(&flags, &env).unwrap();
    assert_eq!(
        config.server_key.as_ref().unwrap().expose(),
        "ef".repeat(32)
    );
    assert_eq!(config.server_key_file.as_deref(), Some(flag_file.as_path()));
    // A key given inline has no file; none at all means the data dir's.
    let inline = "12".repeat(32);
    let config = Config::load(
        &Flags::default(),
        &env_of(&[("LATCHKEY_SERVER_KEY", &inline)]),
    )
    .unwrap();
    assert!(config.server_key.is_some() && config.server_key_file.is_none());
    let missing = Flags {
        server_key_file: Some(dir.path().join("nope.key")),
        ..Flags::default()
    };
    let err = Config::load(&missing, &env_of(&[]))
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("--server-key-file") && err.contains("nope.key"),
        "{err}"
    );
}

#[test]
fn the_update_key_comes_from_the_updates_table_or_the_environment_and_is_checked() {
    let key = latchkey_test_peers::update_key::UpdateKey::generate().public_base64();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("server.toml");
    std::fs::write(
        &file,
        format!("[updates]\npublic_key = \"{key}\"\nmax_artifact_bytes = 1000\n"),
    )
    .unwrap();
    let flags = Flags {
        config: Some(file),
        data_dir: Some(dir.path().into()),
        ..Flags::default()
    };
    let config = Config::load(&flags, &env_of(&[])).unwrap();
    assert_eq!(
        config.updates.public_key.as_ref().map(|k| k.as_str()),
        Some(key.as_str())
    );
    assert_eq!(config.updates.max_artifact_bytes, 1000);
    let env = env_of(&[("LATCHKEY_UPDATES_MAX_ARTIFACT_BYTES", "2000")]);
    let config = Config::load(&flags, &env).unwrap();
    assert_eq!(config.updates.max_artifact_bytes, 2000, "env beats file");
    assert!(config.updates.public_key.is_some(), "the file's key stays");
    // Defaults: no key, 256 MiB.
    let config = Config::for_tests(dir.path(), None).unwrap();
    assert!(config.updates.public_key.is_none());
    assert_eq!(config.updates.max_artifact_bytes, 256 * 1024 * 1024);
    // A key that is not one is named at start, with what to paste instead.
    let env = env_of(&[("LATCHKEY_UPDATES_PUBLIC_KEY", "bm90IGEga2V5")]);
    let err = Config::load(&Flags::default(), &env)
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("updates.public_key") && err.contains("plugins.updater.pubkey"),
        "{err}"
    );
}

#[test]
fn unknown_keys_and_bad_values_are_rejected_with_their_name() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("server.toml");
    std::fs::write(&file, "lisen = \"127.0.0.1:1\"\n").unwrap();
    let flags = Flags {
        config: Some(file),
        ..Flags::default()
    };
    let err = Config::load(&flags, &env_of(&[]))
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("lisen"), "{err}");

    let err = Config::load(
        &Flags::default(),
        &env_of(&[("LATCHKEY_FEED_POLL_MILLIS", "soon")]),
    )
    .err()
    .unwrap()
    .to_string();
    assert!(err.contains("LATCHKEY_FEED_POLL_MILLIS"), "{err}");
    let err = Config::load(
        &Flags::default(),
        &env_of(&[("LATCHKEY_DATABASE_URL", "mysql://x")]),
    )
    .err()
    .unwrap()
    .to_string();
    assert!(err.contains("database_url"), "{err}");
}
