//! Identity and tenancy against the real app: authentication failures,
//! API keys, the audit log; isolation between tenants in `tenancy/isolation.rs`,
//! the permission matrix in `tenancy/permissions.rs`.

mod common;
#[path = "tenancy/isolation.rs"]
mod isolation;
#[path = "tenancy/permissions.rs"]
mod permissions;

use common::*;
use reqwest::Method;
use serde_json::{Value, json};

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn claims(p: &Platform) -> Value {
    let _ = p;
    json!({
        "iss": "p360-dev", "aud": "p360-api", "sub": "dev|forger@acme.test",
        "email": "forger@acme.test", "roles": ["customer_admin"], "tenant": "acme",
        "iat": now(), "exp": now() + 600,
    })
}

fn b64(v: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v)
}

#[tokio::test]
async fn every_forged_token_is_401_problem_json() {
    let p = Platform::start().await;
    p.tenant("acme").await;
    // The genuine article works.
    let good = p.dev.sign(&claims(&p)).unwrap();
    assert_eq!(p.get("/v1/me", &good).await.0, 200);

    let mut forged: Vec<(&str, String)> = Vec::new();
    let mut c = claims(&p);
    c["exp"] = json!(now() - 3600);
    forged.push(("expired", p.dev.sign(&c).unwrap()));
    let mut c = claims(&p);
    c["nbf"] = json!(now() + 3600);
    forged.push(("not yet valid", p.dev.sign(&c).unwrap()));
    let mut c = claims(&p);
    c["iss"] = json!("https://evil.example/");
    forged.push(("wrong issuer", p.dev.sign(&c).unwrap()));
    let mut c = claims(&p);
    c["aud"] = json!("someone-else");
    forged.push(("wrong audience", p.dev.sign(&c).unwrap()));
    let mut c = claims(&p);
    c.as_object_mut().unwrap().remove("exp");
    forged.push(("no exp", p.dev.sign(&c).unwrap()));

    // Payload changed after signing.
    let parts: Vec<&str> = good.split('.').collect();
    let mut c = claims(&p);
    c["roles"] = json!(["platform_admin"]);
    forged.push((
        "tampered payload",
        format!(
            "{}.{}.{}",
            parts[0],
            b64(c.to_string().as_bytes()),
            parts[2]
        ),
    ));
    // alg: none, no signature.
    let none_header = b64(br#"{"alg":"none","typ":"JWT"}"#);
    forged.push((
        "alg none",
        format!("{none_header}.{}.", b64(claims(&p).to_string().as_bytes())),
    ));
    // HS256 with the issuer's public key as the HMAC secret (algorithm confusion).
    let jwks = p.dev.jwks();
    let public = serde_json::to_vec(&jwks["keys"][0]).unwrap();
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    header.kid = Some(p.dev.kid().to_string());
    forged.push((
        "HMAC with the public key",
        jsonwebtoken::encode(
            &header,
            &claims(&p),
            &jsonwebtoken::EncodingKey::from_secret(&public),
        )
        .unwrap(),
    ));
    // Signed by another key: unknown kid, and a known kid with the wrong key.
    let other_dir = TempDir::new("other-key");
    let other = tenancy::auth::dev::DevIssuer::load_or_create(other_dir.path()).unwrap();
    forged.push(("unknown kid", other.sign(&claims(&p)).unwrap()));
    let stolen_kid = {
        let t = other.sign(&claims(&p)).unwrap();
        let parts: Vec<&str> = t.split('.').collect();
        let h = json!({"alg": "ES256", "typ": "JWT", "kid": p.dev.kid()});
        format!(
            "{}.{}.{}",
            b64(h.to_string().as_bytes()),
            parts[1],
            parts[2]
        )
    };
    forged.push(("known kid, wrong key", stolen_kid));
    forged.push(("garbage", "not-a-token".into()));
    forged.push(("three garbage segments", "a.b.c".into()));

    for (what, token) in forged {
        let res = p
            .client
            .get(p.app.url("/v1/me"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 401, "{what}");
        assert!(is_problem(&res), "{what}");
        assert_eq!(
            res.headers()["www-authenticate"],
            "Bearer error=\"invalid_token\"",
            "{what}"
        );
    }

    // No credentials at all: 401 with a bare challenge.
    let res = p.client.get(p.app.url("/v1/me")).send().await.unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(res.headers()["www-authenticate"], "Bearer");
}

#[tokio::test]
async fn api_keys_viewers_cannot_create_and_revocation_is_immediate() {
    let p = Platform::start().await;
    p.tenant("acme").await;
    let admin = p.token("customer_admin", Some("acme"), "admin@acme.test");
    let viewer = p.token("viewer", Some("acme"), "viewer@acme.test");
    let marketer = p.token("marketer", Some("acme"), "marketer@acme.test");

    let (s, body) = p
        .post(
            "/v1/api-keys",
            &viewer,
            json!({"name": "mine", "role": "viewer"}),
        )
        .await;
    assert_eq!(s, 403, "{body}");
    assert_eq!(body["type"], "urn:p360:problem:forbidden");
    let (s, _) = p
        .post(
            "/v1/api-keys",
            &marketer,
            json!({"name": "mine", "role": "viewer"}),
        )
        .await;
    assert_eq!(s, 403);

    // Validation lists every failing field.
    let (s, body) = p
        .post(
            "/v1/api-keys",
            &admin,
            json!({"name": "", "role": "platform_admin"}),
        )
        .await;
    assert_eq!(s, 422, "{body}");
    let fields: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["name", "role"]);

    let (s, created) = p
        .post(
            "/v1/api-keys",
            &admin,
            json!({"name": "ci", "role": "marketer"}),
        )
        .await;
    assert_eq!(s, 201, "{created}");
    let secret = created["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("p360_"));
    let id = created["id"].as_str().unwrap().to_string();

    // The secret is not stored: only its hash.
    let stored: Vec<u8> =
        sqlx::query_scalar("SELECT secret_hash FROM api_keys WHERE id = $1::uuid")
            .bind(&id)
            .fetch_one(&p.db.pool)
            .await
            .unwrap();
    assert_eq!(stored.len(), 32);
    let (_, listed) = p.get("/v1/api-keys", &admin).await;
    assert!(!listed.to_string().contains(&secret));

    let (s, me) = p.get("/v1/me", &secret).await;
    assert_eq!(s, 200);
    assert_eq!(me["actor_type"], "api_key");
    assert_eq!(me["role"], "marketer");
    let (_, k) = p.get(&format!("/v1/api-keys/{id}"), &admin).await;
    assert!(k["last_used_at"].is_string(), "last use recorded: {k}");

    // Same name again while active: 409.
    let (s, _) = p
        .post(
            "/v1/api-keys",
            &admin,
            json!({"name": "ci", "role": "viewer"}),
        )
        .await;
    assert_eq!(s, 409);

    let (s, _) = p
        .call(
            Method::DELETE,
            &format!("/v1/api-keys/{id}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(s, 204);
    let (s, body) = p.get("/v1/me", &secret).await;
    assert_eq!(s, 401, "{body}");
    assert_eq!(p.get("/v1/me", "p360_not-a-key").await.0, 401);
}

#[tokio::test]
async fn deactivated_users_are_refused_and_invitations_are_joined() {
    let p = Platform::start().await;
    p.tenant("acme").await;
    let admin = p.token("customer_admin", Some("acme"), "admin@acme.test");
    // Invited as a viewer; the token claims no role and no tenant.
    let (s, invited) = p
        .post(
            "/v1/users",
            &admin,
            json!({"email": "Ann@Acme.test", "role": "viewer"}),
        )
        .await;
    assert_eq!(s, 201, "{invited}");
    let ann = p
        .dev
        .sign(&json!({
            "iss": "p360-dev", "aud": "p360-api", "sub": "idp|ann", "email": "ann@acme.test",
            "email_verified": true, "iat": now(), "exp": now() + 600,
        }))
        .unwrap();
    let (s, me) = p.get("/v1/me", &ann).await;
    assert_eq!(s, 200, "{me}");
    assert_eq!(me["role"], "viewer");
    assert_eq!(me["id"], invited["id"]);

    // Someone with neither an invitation nor a tenant in the token: 403.
    let stranger = p
        .dev
        .sign(&json!({
            "iss": "p360-dev", "aud": "p360-api", "sub": "idp|x", "email": "x@nowhere.test",
            "iat": now(), "exp": now() + 600,
        }))
        .unwrap();
    assert_eq!(p.get("/v1/me", &stranger).await.0, 403);

    let id = invited["id"].as_str().unwrap();
    let (s, body) = p
        .call(
            Method::PATCH,
            &format!("/v1/users/{id}"),
            Some(&admin),
            Some(json!({"status": "deactivated"})),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    let (s, body) = p.get("/v1/me", &ann).await;
    assert_eq!(s, 403, "{body}");
}

#[tokio::test]
async fn audit_events_are_per_tenant_paginated_exported_and_verified() {
    let p = Platform::start().await;
    p.tenant("acme").await;
    let admin = p.token("customer_admin", Some("acme"), "admin@acme.test");
    for i in 0..5 {
        let (s, _) = p
            .post(
                "/v1/api-keys",
                &admin,
                json!({"name": format!("k{i}"), "role": "viewer"}),
            )
            .await;
        assert_eq!(s, 201);
    }
    let (s, page) = p
        .get("/v1/audit-events?action=api_key.created&limit=2", &admin)
        .await;
    assert_eq!(s, 200, "{page}");
    let mut seen: Vec<String> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["target_id"].as_str().unwrap().to_string())
        .collect();
    let mut cursor = page["next_cursor"].as_str().map(str::to_owned);
    while let Some(c) = cursor {
        let (_, page) = p
            .get(
                &format!("/v1/audit-events?action=api_key.created&limit=2&cursor={c}"),
                &admin,
            )
            .await;
        seen.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["target_id"].as_str().unwrap().to_string()),
        );
        cursor = page["next_cursor"].as_str().map(str::to_owned);
    }
    assert_eq!(seen.len(), 5);
    let first = &page["items"][0];
    assert_eq!(first["actor_type"], "user");
    assert!(first["request_id"].is_string());
    assert_eq!(first["source_ip"], "127.0.0.1");

    let res = p
        .client
        .get(p.app.url("/v1/audit-events?format=ndjson"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["content-type"], "application/x-ndjson");
    let text = res.text().await.unwrap();
    assert!(text.lines().count() >= 7, "{text}");
    for line in text.lines() {
        serde_json::from_str::<Value>(line).unwrap();
    }
    let (s, _) = p.get("/v1/audit-events?cursor=bogus", &admin).await;
    assert_eq!(s, 422);

    // Untouched: verifies. The table refuses updates and deletes.
    let report = tenancy::audit::verify(&p.db.pool).await.unwrap();
    assert!(report.broken.is_empty(), "{:?}", report.broken);
    assert!(report.events >= 7);
    let refused = sqlx::query("DELETE FROM audit_events")
        .execute(&p.db.pool)
        .await;
    assert!(refused.is_err() || refused.unwrap().rows_affected() == 0);
    let mut conn = p.db.pool.acquire().await.unwrap();
    let refused =
        sqlx::raw_sql("SET p360.all_tenants = 'on'; UPDATE audit_events SET action = 'x'")
            .execute(&mut *conn)
            .await;
    assert!(refused.is_err(), "UPDATE must be refused");

    // A superuser who disables the trigger and deletes from the middle is caught.
    sqlx::raw_sql(
        "BEGIN; ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_update_delete; \
         SET LOCAL p360.all_tenants = 'on'; \
         DELETE FROM audit_events WHERE tenant_id IS NOT NULL AND seq = 3; \
         ALTER TABLE audit_events ENABLE TRIGGER audit_events_no_update_delete; COMMIT;",
    )
    .execute(&mut *conn)
    .await
    .unwrap();
    let report = tenancy::audit::verify(&p.db.pool).await.unwrap();
    assert_eq!(report.broken.len(), 1, "{:?}", report.broken);
    assert!(
        report.broken[0].contains("#3 is missing"),
        "{:?}",
        report.broken
    );
}

#[tokio::test]
async fn tenant_slugs_are_validated_and_unique() {
    let p = Platform::start().await;
    let admin = p.admin();
    let (s, body) = p
        .post(
            "/v1/tenants",
            &admin,
            json!({"slug": "Bad Slug!", "name": ""}),
        )
        .await;
    assert_eq!(s, 422, "{body}");
    assert_eq!(body["errors"].as_array().unwrap().len(), 2);
    p.tenant("acme").await;
    let (s, _) = p
        .post(
            "/v1/tenants",
            &admin,
            json!({"slug": "acme", "name": "Again"}),
        )
        .await;
    assert_eq!(s, 409);
    let (s, _) = p
        .post("/v1/tenants", &admin, json!({"slug": "x", "nme": "typo"}))
        .await;
    assert_eq!(s, 422, "unknown fields are refused");
    let (s, list) = p.get("/v1/tenants", &admin).await;
    assert_eq!(s, 200);
    assert_eq!(list.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn revocation_reaches_every_instance() {
    let p = Platform::start().await;
    // A second instance on the same database, with its own principal cache.
    let other = p360::spawn_app(p.app.state.pool.clone(), p.config.clone())
        .await
        .unwrap();
    p.tenant("acme").await;
    let admin = p.token("customer_admin", Some("acme"), "admin@acme.test");
    let (_, created) = p
        .post(
            "/v1/api-keys",
            &admin,
            json!({"name": "etl", "role": "viewer"}),
        )
        .await;
    let secret = created["secret"].as_str().unwrap();
    let me_on_other = || async {
        p.client
            .get(other.url("/v1/me"))
            .bearer_auth(secret)
            .send()
            .await
            .unwrap()
            .status()
    };
    assert_eq!(me_on_other().await, 200, "now cached on the other instance");
    let id = created["id"].as_str().unwrap();
    let (s, _) = p
        .call(
            Method::DELETE,
            &format!("/v1/api-keys/{id}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(s, 204);
    // The other instance hears of it through LISTEN/NOTIFY within moments.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
    loop {
        if me_on_other().await == 401 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "revocation did not reach the other instance"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    other.stop().await.unwrap();
}

#[tokio::test]
async fn staff_access_follows_the_identity_provider_and_platform_admins_can_remove_it() {
    let p = Platform::start().await;
    p.tenant("acme").await;
    let admin = p.admin();
    // Dana signs in as ad_ops, then the identity provider takes the role away.
    let dana_ops = p.token("ad_ops", None, "dana@agency.test");
    let (s, me) = p.get("/v1/me", &dana_ops).await;
    assert_eq!(
        (s.as_u16(), me["role"].as_str()),
        (200, Some("ad_ops")),
        "{me}"
    );
    let dana_id = me["id"].as_str().unwrap().to_string();
    let no_role = p
        .dev
        .sign(&json!({
            "iss": "p360-dev", "aud": "p360-api", "sub": "dev|dana@agency.test",
            "email": "dana@agency.test", "iat": now(), "exp": now() + 600,
        }))
        .unwrap();
    let (s, body) = p.get("/v1/me", &no_role).await;
    assert_eq!(s, 403, "a staff token without a staff role: {body}");
    assert!(
        body["detail"].as_str().unwrap().contains("staff role"),
        "{body}"
    );
    // A changed role at sign-in is the new role, audited.
    let dana_analyst = p.token("analyst", None, "dana@agency.test");
    let (s, me) = p.get("/v1/me", &dana_analyst).await;
    assert_eq!(
        (s.as_u16(), me["role"].as_str()),
        (200, Some("analyst")),
        "{me}"
    );
    let (_, events) = p
        .get(
            &format!("/v1/audit-events?scope=platform&target_id={dana_id}"),
            &admin,
        )
        .await;
    let actions: Vec<&str> = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert!(actions.contains(&"user.access_refused"), "{events}");
    assert!(actions.contains(&"user.role_changed"), "{events}");

    // Only platform admins deactivate staff, not staff themselves.
    let path = format!("/v1/staff/{dana_id}/status");
    let (s, _) = p
        .call(
            Method::PUT,
            &path,
            Some(&dana_analyst),
            Some(json!({"status": "deactivated"})),
        )
        .await;
    assert_eq!(s, 403);
    let manager = p.token("account_manager", None, "am@agency.test");
    let (s, _) = p
        .call(
            Method::PUT,
            &path,
            Some(&manager),
            Some(json!({"status": "deactivated"})),
        )
        .await;
    assert_eq!(s, 403);
    // Deactivation takes effect at once, even for a sign-in cached a moment ago.
    assert_eq!(p.get("/v1/me", &dana_analyst).await.0, 200);
    let (s, body) = p
        .call(
            Method::PUT,
            &path,
            Some(&admin),
            Some(json!({"status": "deactivated"})),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    let (s, body) = p.get("/v1/me", &dana_analyst).await;
    assert_eq!(s, 403, "{body}");
    // A fresh token from the identity provider does not bring her back.
    let again = p.token("ad_ops", None, "dana@agency.test");
    assert_eq!(p.get("/v1/me", &again).await.0, 403);
    // Customers are not staff; nobody deactivates themselves.
    let customer = p.token("viewer", Some("acme"), "v@acme.test");
    let (_, c) = p.get("/v1/me", &customer).await;
    let (s, body) = p
        .call(
            Method::PUT,
            &format!("/v1/staff/{}/status", c["id"].as_str().unwrap()),
            Some(&admin),
            Some(json!({"status": "deactivated"})),
        )
        .await;
    assert_eq!(s, 422, "{body}");
    let (_, me) = p.get("/v1/me", &admin).await;
    let (s, _) = p
        .call(
            Method::PUT,
            &format!("/v1/staff/{}/status", me["id"].as_str().unwrap()),
            Some(&admin),
            Some(json!({"status": "deactivated"})),
        )
        .await;
    assert_eq!(s, 409);
    // Reactivated, she signs in again.
    let (s, _) = p
        .call(
            Method::PUT,
            &path,
            Some(&admin),
            Some(json!({"status": "active"})),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(p.get("/v1/me", &again).await.0, 200);
}

#[tokio::test]
async fn invitations_need_a_verified_address_expire_and_can_be_revoked() {
    let p = Platform::start().await;
    p.tenant("acme").await;
    let admin = p.token("customer_admin", Some("acme"), "admin@acme.test");
    let invite = |email: &'static str| {
        let (p, admin) = (&p, admin.clone());
        async move {
            let (s, invited) = p
                .post(
                    "/v1/users",
                    &admin,
                    json!({"email": email, "role": "customer_admin"}),
                )
                .await;
            assert_eq!(s, 201, "{invited}");
            invited["id"].as_str().unwrap().to_string()
        }
    };
    let sign = |sub: &str, claims: Value| {
        let mut c = json!({
            "iss": "p360-dev", "aud": "p360-api", "sub": sub,
            "iat": now(), "exp": now() + 600,
        });
        c.as_object_mut()
            .unwrap()
            .extend(claims.as_object().unwrap().clone());
        p.dev.sign(&c).unwrap()
    };

    // An address the issuer did not verify cannot take an admin invitation.
    invite("eve@acme.test").await;
    let unverified = sign("idp|eve", json!({"email": "eve@acme.test"}));
    let (s, body) = p.get("/v1/me", &unverified).await;
    assert_eq!(s, 403, "{body}");
    assert!(
        body["detail"].as_str().unwrap().contains("verified"),
        "{body}"
    );
    let said_false = sign(
        "idp|eve",
        json!({"email": "eve@acme.test", "email_verified": false}),
    );
    assert_eq!(p.get("/v1/me", &said_false).await.0, 403);
    // A preferred_username that looks like the address is not an address.
    let username = sign(
        "idp|mallory",
        json!({"preferred_username": "eve@acme.test", "email_verified": true}),
    );
    assert_eq!(p.get("/v1/me", &username).await.0, 403);
    // Verified, it is accepted (Cognito sends the flag as a string).
    let verified = sign(
        "idp|eve",
        json!({"email": "eve@acme.test", "email_verified": "true"}),
    );
    let (s, me) = p.get("/v1/me", &verified).await;
    assert_eq!(
        (s.as_u16(), me["role"].as_str()),
        (200, Some("customer_admin")),
        "{me}"
    );

    // An invitation older than auth.invitation_ttl_days (7) is refused.
    let old = invite("olga@acme.test").await;
    let old: uuid::Uuid = old.parse().unwrap();
    sqlx::query!(
        "UPDATE users SET created_at = now() - interval '8 days' WHERE id = $1",
        old
    )
    .execute(&p.db.pool)
    .await
    .unwrap();
    let olga = sign(
        "idp|olga",
        json!({"email": "olga@acme.test", "email_verified": true}),
    );
    let (s, body) = p.get("/v1/me", &olga).await;
    assert_eq!(s, 403, "{body}");
    assert!(
        body["detail"].as_str().unwrap().contains("expired"),
        "{body}"
    );

    // Listed until revoked; a revoked invitation cannot be accepted.
    let pat = invite("pat@acme.test").await;
    let (_, users) = p.get("/v1/users", &admin).await;
    assert!(users.to_string().contains("pat@acme.test"), "{users}");
    let marketer = p.token("marketer", Some("acme"), "m@acme.test");
    let (s, _) = p
        .call(
            Method::DELETE,
            &format!("/v1/users/{pat}"),
            Some(&marketer),
            None,
        )
        .await;
    assert_eq!(s, 403, "marketers do not manage users");
    let (s, body) = p
        .call(
            Method::DELETE,
            &format!("/v1/users/{pat}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(s, 204, "{body}");
    let pat_token = sign(
        "idp|pat",
        json!({"email": "pat@acme.test", "email_verified": true}),
    );
    assert_eq!(p.get("/v1/me", &pat_token).await.0, 403);
    let (_, events) = p
        .get("/v1/audit-events?action=user.invitation_revoked", &admin)
        .await;
    assert_eq!(events["items"].as_array().unwrap().len(), 1, "{events}");
    // An accepted invitation is an account: deactivate it instead.
    let (s, body) = p
        .call(
            Method::DELETE,
            &format!("/v1/users/{}", me["id"].as_str().unwrap()),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(s, 409, "{body}");
}

#[tokio::test]
async fn the_audit_export_streams_every_event_in_order_across_batches() {
    let p = Platform::start().await;
    let acme = p.tenant("acme").await;
    p.tenant("globex").await;
    let admin = p.token("customer_admin", Some("acme"), "admin@acme.test");
    // 1,234 events of acme (more than two batches of 500) and some of
    // globex, which the export must not carry.
    for (tenant, n) in [(acme.as_str(), 1234), ("globex", 40)] {
        sqlx::query!(
            "INSERT INTO audit_events (id, chain_id, seq, tenant_id, occurred_at, actor_type, \
             action, changes, outcome, prev_hash, hash) \
             SELECT gen_random_uuid(), gen_random_uuid(), 1, \
                    (SELECT id FROM tenants WHERE id::text = $1 OR slug = $1), \
                    now() - g * interval '1 millisecond', 'system', 'test.bulk', \
                    jsonb_build_object('n', g), 'success', '\\x00', '\\x00' \
             FROM generate_series(1, $2::int) g",
            tenant,
            n
        )
        .execute(&p.db.pool)
        .await
        .unwrap();
    }
    let res = p
        .client
        .get(p.app.url("/v1/audit-events?format=ndjson&action=test.bulk"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        res.headers().get("content-length").is_none(),
        "a streamed body has no length up front: {:?}",
        res.headers()
    );
    let text = res.text().await.unwrap();
    let ns: Vec<i64> = text
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["changes"]["n"]
                .as_i64()
                .unwrap()
        })
        .collect();
    assert_eq!(ns.len(), 1234, "every event of acme, none of globex");
    assert_eq!(
        ns,
        (1..=1234).collect::<Vec<_>>(),
        "newest first, none twice"
    );
    // A limit still cuts it, across a batch boundary.
    let res = p
        .client
        .get(
            p.app
                .url("/v1/audit-events?format=ndjson&action=test.bulk&limit=700"),
        )
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(res.text().await.unwrap().lines().count(), 700);
}

#[tokio::test]
async fn an_idempotency_key_is_the_actors_in_one_tenant_only() {
    let p = Platform::start().await;
    p.tenant("acme").await;
    p.tenant("globex").await;
    let admin = p.admin();
    let ops = p.token("ad_ops", None, "ops@agency.test");
    let (_, me) = p.get("/v1/me", &ops).await;
    let (s, body) = p
        .call(
            Method::PUT,
            &format!("/v1/users/{}/tenants", me["id"].as_str().unwrap()),
            Some(&admin),
            Some(json!({"tenants": ["acme", "globex"]})),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    let create = |tenant: &'static str| {
        p.client
            .post(p.app.url("/v1/advertisers"))
            .bearer_auth(&ops)
            .header("p360-tenant", tenant)
            .header("idempotency-key", "nightly-import-1")
            .json(&json!({"name": "Initech", "domain": "initech.example", "currency": "USD"}))
            .send()
    };
    let first = create("acme").await.unwrap();
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await.unwrap();
    // The same key and body in another tenant is another request: it runs
    // there, and does not replay acme's advertiser.
    let second = create("globex").await.unwrap();
    assert_eq!(second.status(), 201);
    assert!(second.headers().get("idempotent-replayed").is_none());
    let second: Value = second.json().await.unwrap();
    assert_ne!(first["id"], second["id"]);
    let seen_in = |tenant: &'static str, id: String| {
        p.client
            .get(p.app.url(&format!("/v1/advertisers/{id}")))
            .bearer_auth(&ops)
            .header("p360-tenant", tenant)
            .send()
    };
    let second_id = second["id"].as_str().unwrap().to_string();
    assert_eq!(
        seen_in("globex", second_id.clone()).await.unwrap().status(),
        200
    );
    assert_eq!(seen_in("acme", second_id).await.unwrap().status(), 404);
    // In acme it still replays.
    let again = create("acme").await.unwrap();
    assert_eq!(again.headers()["idempotent-replayed"], "true");
}

/// In AWS the checkpoints go to the audit archive, a bucket under Object
/// Lock (whose writes must carry a checksum): taken there, read back, and a
/// chain checked against it.
#[tokio::test]
async fn audit_checkpoints_are_written_to_an_object_locked_bucket() {
    let moto = Moto::start().await;
    let endpoint = moto.endpoint.clone();
    let http = reqwest::Client::new();
    let created = http
        .put(format!("{endpoint}/p360-audit-archive"))
        .header("x-amz-bucket-object-lock-enabled", "true")
        .send()
        .await
        .unwrap();
    assert!(created.status().is_success());
    let locked = http
        .put(format!("{endpoint}/p360-audit-archive?object-lock"))
        .body(
            "<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled>\
             <Rule><DefaultRetention><Mode>GOVERNANCE</Mode><Days>1</Days></DefaultRetention></Rule>\
             </ObjectLockConfiguration>",
        )
        .send()
        .await
        .unwrap();
    assert!(
        locked.status().is_success(),
        "{}",
        locked.text().await.unwrap()
    );
    let ep = endpoint.clone();
    let p = Platform::start_with(move |c| {
        c.platform.storage.s3_endpoint = Some(ep);
        c.platform.storage.s3_region = Some("us-east-1".into());
        c.platform.storage.s3_access_key_id = Some("testing".into());
        c.platform.storage.s3_secret_access_key = Some("testing".to_string().into());
        c.audit.checkpoint_bucket = Some("p360-audit-archive".into());
    })
    .await;
    p.tenant("acme").await;
    let checkpoints =
        tenancy::audit::checkpoint::Checkpoints::from_config(&p.config.audit, &p.config.platform)
            .unwrap();
    let (name, taken) = checkpoints.take(&p.db.pool).await.unwrap();
    assert!(!taken.chains.is_empty());
    let (latest, read) = checkpoints.latest().await.unwrap().unwrap();
    assert_eq!(latest, name);
    assert_eq!(read.chains, taken.chains);
    assert_eq!(
        checkpoints.check(&p.db.pool, &read).await.unwrap(),
        Vec::new()
    );
    let listing = reqwest::get(format!("{endpoint}/p360-audit-archive?list-type=2"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(listing.contains(&name), "{listing}");
    // Nothing on the local disk.
    assert!(!p.data.path().join("objects/audit").exists());
    drop(moto);
}
