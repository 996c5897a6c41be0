//! The loader, through a configuration made of the platform's sections only.

use super::*;

crate::app_config! {
struct Config {}
}

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn load(pairs: &[(&str, &str)]) -> Result<PlatformConfig, ConfigError> {
    super::load::<Config>(None, env(pairs), &CliOverrides::default()).map(|c| c.platform)
}

#[test]
fn environment_overrides_nested_keys_with_types() {
    let c = load(&[
        ("P360_DATABASE__MAX_CONNECTIONS", "7"),
        ("P360_HTTP__LISTEN", "0.0.0.0:9000"),
        ("P360_LOG__LEVEL", "debug"),
        ("P360_CONFIG", "ignored.toml"),
        ("P360_TEST_DATABASE_URL", "postgres://x"),
        ("HOME", "/root"),
    ])
    .unwrap();
    assert_eq!(c.database.max_connections, 7);
    assert_eq!(c.http.listen.to_string(), "0.0.0.0:9000");
    assert_eq!(c.log.level, "debug");
}

#[test]
fn unknown_environment_key_is_named() {
    let e = load(&[("P360_DATABASE__MAX_CONECTIONS", "7")]).unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("database.max_conections"), "{msg}");
    assert!(msg.contains("P360_DATABASE__MAX_CONECTIONS"), "{msg}");
    assert!(!msg.contains('\n'));
}

#[test]
fn wrong_type_names_key_and_reason() {
    let msg = load(&[("P360_DATABASE__MAX_CONNECTIONS", "many")])
        .unwrap_err()
        .to_string();
    assert!(
        msg.starts_with("config key `database.max_connections`"),
        "{msg}"
    );
    assert!(msg.contains("invalid type"), "{msg}");
}

#[test]
fn file_layer_sits_between_defaults_and_environment() {
    let dir = std::env::temp_dir().join(format!("p360-cfg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("p360.toml");
    std::fs::write(
        &file,
        "[database]\nmax_connections = 3\nmin_connections = 2\n[http]\nrequest_timeout_ms = 100\n",
    )
    .unwrap();
    let c = super::load::<Config>(
        Some(&file),
        env(&[("P360_DATABASE__MAX_CONNECTIONS", "5")]),
        &CliOverrides::default(),
    )
    .unwrap();
    assert_eq!(c.platform.database.max_connections, 5);
    assert_eq!(c.platform.database.min_connections, 2);
    assert_eq!(c.platform.http.request_timeout_ms, 100);

    std::fs::write(&file, "[database\nmax = 1").unwrap();
    let msg = super::load::<Config>(Some(&file), env(&[]), &CliOverrides::default())
        .unwrap_err()
        .to_string();
    assert!(msg.contains("not valid TOML"), "{msg}");
    assert!(!msg.contains('\n'), "{msg}");

    std::fs::write(&file, "[http]\nlisten = \"nowhere\"\n").unwrap();
    let msg = super::load::<Config>(Some(&file), env(&[]), &CliOverrides::default())
        .unwrap_err()
        .to_string();
    assert!(msg.contains("`http.listen`"), "{msg}");
    assert!(msg.contains("p360.toml"), "{msg}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn validation_rejects_inconsistent_values() {
    let msg = load(&[
        ("P360_DATABASE__MAX_CONNECTIONS", "2"),
        ("P360_DATABASE__MIN_CONNECTIONS", "3"),
    ])
    .unwrap_err()
    .to_string();
    assert!(msg.contains("database.min_connections"), "{msg}");
    let msg = load(&[("P360_MODE", "production")])
        .unwrap_err()
        .to_string();
    assert!(msg.contains("database.url"), "{msg}");
    for weak in [
        "postgres://db/p360",
        "postgres://db/p360?sslmode=require",
        "postgres://db/p360?sslmode=verify-ca",
    ] {
        let msg = load(&[("P360_MODE", "production"), ("P360_DATABASE__URL", weak)])
            .unwrap_err()
            .to_string();
        assert!(msg.contains("sslmode=verify-full"), "{weak}: {msg}");
    }
    // Production also needs the application's own login, as strictly.
    let owner = (
        "P360_DATABASE__URL",
        "postgres://db/p360?sslmode=verify-full",
    );
    let msg = load(&[("P360_MODE", "production"), owner])
        .unwrap_err()
        .to_string();
    assert!(msg.contains("database.app_url"), "{msg}");
    let msg = load(&[
        ("P360_MODE", "production"),
        owner,
        (
            "P360_DATABASE__APP_URL",
            "postgres://p360_app@db/p360?sslmode=require",
        ),
    ])
    .unwrap_err()
    .to_string();
    assert!(
        msg.contains("database.app_url") && msg.contains("sslmode=verify-full"),
        "{msg}"
    );
    // The API and worker tasks: the application's login alone will do.
    load(&[
        ("P360_MODE", "production"),
        (
            "P360_DATABASE__APP_URL",
            "postgres://p360_app@db/p360?sslmode=verify-full",
        ),
    ])
    .unwrap();
    let msg = load(&[("P360_DATABASE__URL", "mysql://x")])
        .unwrap_err()
        .to_string();
    assert!(msg.contains("scheme"), "{msg}");
}

#[test]
fn secrets_are_redacted_in_rendered_config() {
    let c = load(&[(
        "P360_DATABASE__URL",
        "postgres://app:hunter2@db.internal:5432/p360?password=hunter3",
    )])
    .unwrap();
    let out = Config {
        platform: c.clone(),
    }
    .to_redacted_toml();
    assert!(!out.contains("hunter2"), "{out}");
    assert!(!out.contains("hunter3"), "{out}");
    assert!(out.contains("db.internal"), "{out}");
    assert!(!format!("{c:?}").contains("hunter2"));
}

#[test]
fn numeric_value_reaches_a_string_key_as_a_string() {
    let msg = load(&[("P360_DATABASE__URL", "12345")])
        .unwrap_err()
        .to_string();
    assert!(msg.contains("not a URL"), "{msg}");
    assert!(!msg.contains("12345"), "secret echoed: {msg}");
}

#[test]
fn string_keys_take_environment_text_verbatim() {
    let c = load(&[
        ("P360_JOBS__SQS__QUEUE_PREFIX", "0x1F"),
        ("P360_JOBS__SQS__ACCESS_KEY_ID", "1234567"),
        ("P360_JOBS__SQS__SECRET_ACCESS_KEY", "1e3"),
        ("P360_STORAGE__S3_ACCESS_KEY_ID", "007"),
        ("P360_STORAGE__S3_SECRET_ACCESS_KEY", "1_000"),
        ("P360_LOG__LEVEL", "true"),
        ("P360_DATABASE__APP_ROLE", "nan"),
        ("P360_DATABASE__POSTGRES_BIN_DIR", "15"),
        ("P360_RELEASE", "42"),
        ("P360_DATABASE__MAX_CONNECTIONS", "0x10"),
    ])
    .unwrap();
    assert_eq!(c.jobs.sqs.queue_prefix, "0x1F");
    assert_eq!(c.jobs.sqs.access_key_id.as_deref(), Some("1234567"));
    let secret = c.jobs.sqs.secret_access_key.as_ref().unwrap();
    assert_eq!(secret.expose_secret(), "1e3");
    assert_eq!(c.storage.s3_access_key_id.as_deref(), Some("007"));
    let secret = c.storage.s3_secret_access_key.as_ref().unwrap();
    assert_eq!(secret.expose_secret(), "1_000");
    assert_eq!(c.log.level, "true");
    assert_eq!(c.database.app_role, "nan");
    assert_eq!(c.database.postgres_bin_dir, Some(PathBuf::from("15")));
    assert_eq!(c.release.as_deref(), Some("42"));
    // A numeric key still reads TOML syntax.
    assert_eq!(c.database.max_connections, 16);
}

#[test]
fn file_scalars_are_accepted_for_string_keys() {
    let dir = std::env::temp_dir().join(format!("p360-cfg-scalar-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("p360.toml");
    std::fs::write(
        &file,
        "[storage]\ns3_access_key_id = 1234567\n[jobs.sqs]\nqueue_prefix = true\n",
    )
    .unwrap();
    let c = super::load::<Config>(Some(&file), env(&[]), &CliOverrides::default()).unwrap();
    assert_eq!(
        c.platform.storage.s3_access_key_id.as_deref(),
        Some("1234567")
    );
    assert_eq!(c.platform.jobs.sqs.queue_prefix, "true");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn wrong_types_are_still_named() {
    for (key, value, named, reason) in [
        (
            "P360_DATABASE__MAX_CONNECTIONS",
            "ten",
            "database.max_connections",
            "invalid type: string \"ten\", expected u32",
        ),
        (
            "P360_RATE_LIMIT__ENABLED",
            "yes",
            "rate_limit.enabled",
            "invalid type: string \"yes\", expected a boolean",
        ),
        (
            "P360_HTTP__REQUEST_TIMEOUT_MS",
            "-5",
            "http.request_timeout_ms",
            "invalid value: integer `-5`, expected u64",
        ),
        (
            "P360_LOG__FORMAT",
            "7",
            "log.format",
            "unknown variant `7`, expected `json` or `pretty`",
        ),
        (
            "P360_HTTP__LISTEN",
            "8080",
            "http.listen",
            "invalid socket address syntax",
        ),
    ] {
        let msg = load(&[(key, value)]).unwrap_err().to_string();
        assert!(
            msg.starts_with(&format!("config key `{named}` (from {key}): ")),
            "{msg}"
        );
        assert!(msg.contains(reason), "{key}={value}: {msg}");
    }
    // A section given a value, and a value given a section.
    let msg = load(&[("P360_HTTP", "1")]).unwrap_err().to_string();
    assert!(msg.contains("`http`"), "{msg}");
    let msg = load(&[("P360_LOG__LEVEL__X", "1")])
        .unwrap_err()
        .to_string();
    assert!(msg.contains("log.level"), "{msg}");
}

#[test]
fn trusted_proxies_come_from_the_environment_as_a_list() {
    let cfg = load(&[
        (
            "P360_HTTP__TRUSTED_PROXIES",
            r#"["10.10.0.0/16", "fd00::/8"]"#,
        ),
        ("P360_HTTP__FORWARDED_HOPS", "1"),
    ])
    .unwrap();
    assert_eq!(cfg.http.trusted_proxies, ["10.10.0.0/16", "fd00::/8"]);
    assert_eq!(cfg.http.forwarded_hops, 1);
    let msg = load(&[("P360_HTTP__TRUSTED_PROXIES", r#"["10.10.0.0/99"]"#)])
        .unwrap_err()
        .to_string();
    assert!(msg.contains("http.trusted_proxies[0]"), "{msg}");
}
