//! The capabilities' sections, through the composed loader.

use platform::config::{AppConfig, CliOverrides, ConfigError};
use release::config::DeployTraffic;

use super::Config;

fn load(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let env = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string()));
    platform::config::load(None, env, &CliOverrides::default())
}

#[test]
fn faults_are_refused_in_production_and_bounded() {
    let c = load(&[("P360_FAULTS__ERROR_RATE", "0.2")]).unwrap();
    assert!(c.faults.active());
    let msg = load(&[
        ("P360_MODE", "production"),
        (
            "P360_DATABASE__URL",
            "postgres://db/p360?sslmode=verify-full",
        ),
        (
            "P360_DATABASE__APP_URL",
            "postgres://p360_app@db/p360?sslmode=verify-full",
        ),
        ("P360_TTD__BASE_URL", "https://api.thetradedesk.com"),
        ("P360_TTD__DATA_URL", "https://use-data.adsrvr.org"),
        ("P360_TTD__PASSWORD", "x"),
        ("P360_BOMBORA__BASE_URL", "https://api.bombora.com"),
        ("P360_BOMBORA__CLIENT_SECRET", "x"),
        (
            "P360_TTD__CREATIVE_BASE_URL",
            "https://app.example/creatives",
        ),
        (
            "P360_AUDIT__CHECKPOINT_KEY",
            "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
        ),
        (
            "P360_SECRETS__KMS_KEY_ID",
            "alias/p360-production-tenant-secrets",
        ),
        ("P360_FAULTS__LATENCY_MS", "500"),
    ])
    .unwrap_err()
    .to_string();
    assert!(msg.contains("faults"), "{msg}");
    let msg = load(&[("P360_FAULTS__ERROR_RATE", "1.5")])
        .unwrap_err()
        .to_string();
    assert!(msg.contains("faults.error_rate"), "{msg}");
}

#[test]
fn deploy_settings_are_checked() {
    let c = load(&[
        ("P360_DEPLOY__STEPS", "[10, 100]"),
        ("P360_DEPLOY__TRAFFIC", "alb"),
        ("P360_RELEASE", "2.0.0-rc.1"),
    ])
    .unwrap();
    assert_eq!(c.deploy.steps, [10, 100]);
    assert_eq!(c.deploy.traffic, DeployTraffic::Alb);
    for (key, value, named) in [
        ("P360_DEPLOY__STEPS", "[50, 25, 100]", "deploy.steps"),
        ("P360_DEPLOY__STEPS", "[5, 50]", "deploy.steps"),
        ("P360_DEPLOY__MAX_ERROR_RATE", "2", "deploy.max_error_rate"),
        (
            "P360_DEPLOY__METRICS",
            "prometheus",
            "deploy.prometheus_url",
        ),
        ("P360_RELEASE", "1.0 beta", "release"),
        ("P360_DEPLOY__TRAFFIC", "nginx", "deploy.traffic"),
    ] {
        let msg = load(&[(key, value)]).unwrap_err().to_string();
        assert!(msg.contains(named), "{key}={value}: {msg}");
        assert!(!msg.contains('\n'), "{msg}");
    }
}

#[test]
fn capability_sections_name_their_keys_and_origin() {
    let msg = load(&[("P360_TTD__BASE_URL", "ftp://ttd")])
        .unwrap_err()
        .to_string();
    assert!(msg.contains("ttd.base_url"), "{msg}");
    let msg = load(&[("P360_TTD__MAX_CONCURENCY", "3")])
        .unwrap_err()
        .to_string();
    assert!(msg.contains("ttd.max_concurency"), "{msg}");
    assert!(msg.contains("(from P360_TTD__MAX_CONCURENCY)"), "{msg}");
    let msg = load(&[
        ("P360_MODE", "production"),
        ("P360_AUTH__DEV_ISSUER", "true"),
    ])
    .unwrap_err()
    .to_string();
    // The platform's own check comes first: production needs a database URL.
    assert!(msg.contains("database.url"), "{msg}");
    let msg = load(&[
        ("P360_MODE", "production"),
        (
            "P360_DATABASE__URL",
            "postgres://db/p360?sslmode=verify-full",
        ),
        (
            "P360_DATABASE__APP_URL",
            "postgres://p360_app@db/p360?sslmode=verify-full",
        ),
        ("P360_AUTH__DEV_ISSUER", "true"),
    ])
    .unwrap_err()
    .to_string();
    assert!(msg.contains("auth.dev_issuer"), "{msg}");
    let msg = load(&[("P360_BILLING__GRACE_DAYS", "99")])
        .unwrap_err()
        .to_string();
    assert!(msg.contains("billing.grace_days"), "{msg}");
    assert!(load(&[("P360_BILLING__GRACE_DAYS", "3")]).is_ok());
    let msg = load(&[("P360_INVOICING__GRACE_DAYS", "5")])
        .unwrap_err()
        .to_string();
    assert!(msg.contains("unknown field"), "{msg}");
}

#[test]
fn every_section_is_rendered_with_secrets_redacted() {
    let c = load(&[
        ("P360_TTD__PASSWORD", "hunter2"),
        ("P360_DEPLOY__ALB__SECRET_ACCESS_KEY", "hunter3"),
        ("P360_BOMBORA__CLIENT_SECRET", "hunter4"),
    ])
    .unwrap();
    let out = c.to_redacted_toml();
    for section in [
        "[http]",
        "[auth]",
        "[ttd]",
        "[bombora]",
        "[delivery]",
        "[deploy]",
        "[faults]",
        "[jobs]",
    ] {
        assert!(out.contains(section), "{section} missing: {out}");
    }
    assert!(
        !out.contains("hunter2") && !out.contains("hunter3") && !out.contains("hunter4"),
        "{out}"
    );
    assert!(!format!("{c:?}").contains("hunter2"));
}

#[test]
fn numeric_ids_and_secrets_from_the_environment_stay_strings() {
    use secrecy::ExposeSecret;

    let c = load(&[
        ("P360_TTD__PARTNER_ID", "1234567"),
        ("P360_TTD__LOGIN", "0042"),
        ("P360_TTD__PASSWORD", "31415926535"),
        ("P360_AUTH__ISSUERS", "[]"),
        ("P360_DEPLOY__HAPROXY__BACKEND", "8080"),
        ("P360_DEPLOY__ALB__LISTENER_ARN", "123"),
        ("P360_TTD__MAX_RETRIES", "3"),
    ])
    .unwrap();
    assert_eq!(c.ttd.partner_id, "1234567");
    assert_eq!(c.ttd.login, "0042");
    assert_eq!(
        c.ttd.password.as_ref().unwrap().expose_secret(),
        "31415926535"
    );
    assert_eq!(c.deploy.haproxy.backend, "8080");
    assert_eq!(c.deploy.alb.listener_arn, "123");
    assert_eq!(c.ttd.max_retries, 3);

    let msg = load(&[("P360_TTD__MAX_RETRIES", "lots")])
        .unwrap_err()
        .to_string();
    assert!(
        msg.starts_with("config key `ttd.max_retries` (from P360_TTD__MAX_RETRIES): invalid type"),
        "{msg}"
    );
    let msg = load(&[("P360_TTD__TOKEN_MINUTES", "1.5")])
        .unwrap_err()
        .to_string();
    assert!(msg.contains("`ttd.token_minutes`"), "{msg}");
    assert!(msg.contains("float"), "{msg}");
}

#[test]
fn production_needs_the_public_creative_base_url() {
    let production = [
        ("P360_MODE", "production"),
        (
            "P360_DATABASE__URL",
            "postgres://db/p360?sslmode=verify-full",
        ),
        (
            "P360_DATABASE__APP_URL",
            "postgres://p360_app@db/p360?sslmode=verify-full",
        ),
        ("P360_TTD__BASE_URL", "https://api.thetradedesk.com"),
        ("P360_TTD__DATA_URL", "https://use-data.adsrvr.org"),
        ("P360_TTD__PASSWORD", "x"),
        ("P360_BOMBORA__BASE_URL", "https://api.bombora.com"),
        ("P360_BOMBORA__CLIENT_SECRET", "x"),
        (
            "P360_AUDIT__CHECKPOINT_KEY",
            "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
        ),
        (
            "P360_SECRETS__KMS_KEY_ID",
            "alias/p360-production-tenant-secrets",
        ),
    ];
    let msg = load(&production).unwrap_err().to_string();
    assert!(msg.contains("ttd.creative_base_url"), "{msg}");
    let mut env = production.to_vec();
    env.push((
        "P360_TTD__CREATIVE_BASE_URL",
        "https://app.example/creatives",
    ));
    let c = load(&env).unwrap();
    assert_eq!(c.ttd.creative_base_url, "https://app.example/creatives");
}

#[test]
fn production_needs_an_audit_checkpoint_key_of_32_bytes() {
    let production = [
        ("P360_MODE", "production"),
        (
            "P360_DATABASE__URL",
            "postgres://db/p360?sslmode=verify-full",
        ),
        (
            "P360_DATABASE__APP_URL",
            "postgres://p360_app@db/p360?sslmode=verify-full",
        ),
        ("P360_TTD__BASE_URL", "https://api.thetradedesk.com"),
        ("P360_TTD__DATA_URL", "https://use-data.adsrvr.org"),
        ("P360_TTD__PASSWORD", "x"),
        ("P360_BOMBORA__BASE_URL", "https://api.bombora.com"),
        ("P360_BOMBORA__CLIENT_SECRET", "x"),
        (
            "P360_TTD__CREATIVE_BASE_URL",
            "https://app.example/creatives",
        ),
        (
            "P360_SECRETS__KMS_KEY_ID",
            "alias/p360-production-tenant-secrets",
        ),
    ];
    let msg = load(&production).unwrap_err().to_string();
    assert!(msg.contains("audit.checkpoint_key"), "{msg}");
    // Without the KMS key tenants' secrets could not be opened: refused.
    let without_kms: Vec<_> = production
        .iter()
        .copied()
        .filter(|(k, _)| *k != "P360_SECRETS__KMS_KEY_ID")
        .chain([(
            "P360_AUDIT__CHECKPOINT_KEY",
            "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
        )])
        .collect();
    let msg = load(&without_kms).unwrap_err().to_string();
    assert!(msg.contains("secrets.kms_key_id"), "{msg}");
    // The database refuses to drop an audit month younger than 30 days.
    let msg = load(&[("P360_AUDIT__ARCHIVE_AFTER_DAYS", "29")])
        .unwrap_err()
        .to_string();
    assert!(msg.contains("audit.archive_after_days"), "{msg}");
    let c = load(&[("P360_AUDIT__ARCHIVE_AFTER_DAYS", "30")]).unwrap();
    assert!(c.audit.drop_archived_months);
    let msg = load(&[("P360_SALESFORCE__SANDBOX_URL", "ftp://x")])
        .unwrap_err()
        .to_string();
    assert!(msg.contains("salesforce.sandbox_url"), "{msg}");
    for short in ["c2hvcnQ=", "not base64!"] {
        let msg = load(&[("P360_AUDIT__CHECKPOINT_KEY", short)])
            .unwrap_err()
            .to_string();
        assert!(msg.contains("at least 32 bytes"), "{msg}");
    }
    let mut env = production.to_vec();
    env.push((
        "P360_AUDIT__CHECKPOINT_KEY",
        "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
    ));
    let c = load(&env).unwrap();
    assert!(c.audit.checkpoint_key.is_some());
    // Rendered, the key is redacted.
    let out = c.to_redacted_toml();
    assert!(
        out.contains("[audit]") && !out.contains("MDEyMzQ1"),
        "{out}"
    );
}
