//! Tokens from configured external issuers: a real OIDC provider
//! (panva/oidc-provider, the certified Node.js implementation) issuing RS256
//! JWT access tokens, and an issuer whose JWKS we control to prove the cache
//! rules (refresh on unknown kid at most once a minute; an issuer that is down
//! keeps its cached keys).

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::*;
use serde_json::{Value, json};
use tenancy::config::{IssuerConfig, IssuerKind};

const AUDIENCE: &str = "https://api.p360.example";

fn external_issuer(issuer: &str) -> IssuerConfig {
    IssuerConfig {
        name: "auth0".into(),
        issuer: issuer.into(),
        audience: AUDIENCE.into(),
        jwks_url: None,
        kind: IssuerKind::External,
        tenant_claim: Some("https://p360.example/tenant".into()),
        tenants: [("acme".into(), "acme".into())].into(),
        roles_claim: Some("https://p360.example/roles".into()),
    }
}

struct Node(Child);

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Start tools/oidc-provider on a free port (installing its package on first use).
fn start_oidc_provider(tenant: &str, roles: &str) -> (Node, String) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tools/oidc-provider");
    if !dir.join("node_modules/oidc-provider").exists() {
        let status = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--silent"])
            .current_dir(&dir)
            .status()
            .expect("npm (Debian packages nodejs and npm)");
        assert!(status.success(), "npm ci in tools/oidc-provider failed");
    }
    let port = free_port();
    let child = Command::new("node")
        .arg("server.mjs")
        .current_dir(&dir)
        .env("PORT", port.to_string())
        .env("TENANT", tenant)
        .env("ROLES", roles)
        .env("AUDIENCE", AUDIENCE)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("node");
    let node = Node(child);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "oidc-provider did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    (node, format!("http://127.0.0.1:{port}"))
}

async fn client_credentials_token(issuer: &str) -> String {
    let res = reqwest::Client::new()
        .post(format!("{issuer}/token"))
        .basic_auth("p360-test", Some("p360-test-secret"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "grant_type=client_credentials&scope=api&resource={}",
            AUDIENCE.replace(':', "%3A").replace('/', "%2F")
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    body["access_token"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn tokens_from_a_real_oidc_provider_are_accepted() {
    let (node, issuer) = start_oidc_provider("acme", "marketer");
    let iss = issuer.clone();
    let p = Platform::start_with(move |c| c.auth.issuers = vec![external_issuer(&iss)]).await;
    p.tenant("acme").await;

    let token = client_credentials_token(&issuer).await;
    let header = jsonwebtoken::decode_header(&token).unwrap();
    assert_eq!(header.alg, jsonwebtoken::Algorithm::RS256);
    let (s, me) = p.get("/v1/me", &token).await;
    assert_eq!(s, 200, "{me}");
    assert_eq!(me["role"], "marketer");
    assert!(me["tenant_id"].is_string());

    // Its signature altered: refused.
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    parts[2] = parts[2].chars().rev().collect();
    assert_eq!(
        p.get("/v1/me", &parts.join(".")).await.0,
        401,
        "bad signature"
    );

    // The provider goes down: the keys already fetched keep working.
    drop(node);
    let (s, _) = p.get("/v1/me", &token).await;
    assert_eq!(s, 200);
}

#[tokio::test]
async fn an_external_issuer_cannot_grant_staff_roles() {
    let (_node, issuer) = start_oidc_provider("acme", "platform_admin");
    let iss = issuer.clone();
    let p = Platform::start_with(move |c| c.auth.issuers = vec![external_issuer(&iss)]).await;
    p.tenant("acme").await;
    // A customer issuer cannot mint staff: no customer role, so no account.
    let token = client_credentials_token(&issuer).await;
    assert_eq!(p.get("/v1/me", &token).await.0, 403);
}

/// A JWKS endpoint we control: counts fetches and can rotate keys.
struct Jwks {
    fetches: Arc<AtomicUsize>,
    keys: Arc<std::sync::Mutex<Value>>,
    issuer: String,
    server: tokio::task::JoinHandle<()>,
}

async fn jwks_server(initial: Value) -> Jwks {
    let fetches = Arc::new(AtomicUsize::new(0));
    let keys = Arc::new(std::sync::Mutex::new(initial));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let issuer = format!("http://{}", listener.local_addr().unwrap());
    let (f, k, iss) = (fetches.clone(), keys.clone(), issuer.clone());
    let app = axum::Router::new()
        .route(
            "/.well-known/openid-configuration",
            axum::routing::get(move || {
                let iss = iss.clone();
                async move { axum::Json(json!({"issuer": iss, "jwks_uri": format!("{iss}/jwks")})) }
            }),
        )
        .route(
            "/jwks",
            axum::routing::get(move || {
                f.fetch_add(1, Ordering::SeqCst);
                let body = k.lock().unwrap().clone();
                async move { axum::Json(body) }
            }),
        );
    let server = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    Jwks {
        fetches,
        keys,
        issuer,
        server,
    }
}

#[tokio::test]
async fn jwks_refresh_is_rate_limited_and_survives_an_outage() {
    let key_a_dir = TempDir::new("key-a");
    let key_b_dir = TempDir::new("key-b");
    let a = tenancy::auth::dev::DevIssuer::load_or_create(key_a_dir.path()).unwrap();
    let b = tenancy::auth::dev::DevIssuer::load_or_create(key_b_dir.path()).unwrap();
    let jwks = jwks_server(a.jwks()).await;
    let iss = jwks.issuer.clone();
    let p = Platform::start_with(move |c| c.auth.issuers = vec![external_issuer(&iss)]).await;
    p.tenant("acme").await;
    let claims = |sub: &str| {
        let now = jsonwebtoken::get_current_timestamp();
        json!({
            "iss": jwks.issuer, "aud": AUDIENCE, "sub": sub, "exp": now + 600, "iat": now,
            "https://p360.example/tenant": "acme", "https://p360.example/roles": ["viewer"],
        })
    };
    let token_a = a.sign(&claims("user-a")).unwrap();
    assert_eq!(p.get("/v1/me", &token_a).await.0, 200);
    assert_eq!(p.get("/v1/me", &token_a).await.0, 200);
    assert_eq!(jwks.fetches.load(Ordering::SeqCst), 1, "keys are cached");

    // The issuer rotates to key B. Within a minute of the last fetch an unknown
    // kid does not trigger another fetch, so a flood of bogus kids cannot
    // hammer the issuer.
    *jwks.keys.lock().unwrap() = b.jwks();
    let token_b = b.sign(&claims("user-b")).unwrap();
    assert_eq!(p.get("/v1/me", &token_b).await.0, 401);
    assert_eq!(jwks.fetches.load(Ordering::SeqCst), 1);

    // Issuer down: cached key A still verifies.
    jwks.server.abort();
    assert_eq!(p.get("/v1/me", &token_a).await.0, 200);
}

#[tokio::test]
async fn a_key_the_issuer_removed_stops_verifying_and_an_empty_answer_wipes_nothing() {
    let key_a_dir = TempDir::new("key-a");
    let key_b_dir = TempDir::new("key-b");
    let a = tenancy::auth::dev::DevIssuer::load_or_create(key_a_dir.path()).unwrap();
    let b = tenancy::auth::dev::DevIssuer::load_or_create(key_b_dir.path()).unwrap();
    let jwks = jwks_server(a.jwks()).await;
    let iss = jwks.issuer.clone();
    let p = Platform::start_with(move |c| {
        c.auth.issuers = vec![external_issuer(&iss)];
        c.auth.jwks_max_age_secs = 1;
    })
    .await;
    p.tenant("acme").await;
    let claims = |sub: &str| {
        let now = jsonwebtoken::get_current_timestamp();
        json!({
            "iss": jwks.issuer, "aud": AUDIENCE, "sub": sub, "exp": now + 600, "iat": now,
            "https://p360.example/tenant": "acme", "https://p360.example/roles": ["viewer"],
        })
    };
    let token_a = a.sign(&claims("user-a")).unwrap();
    assert_eq!(p.get("/v1/me", &token_a).await.0, 200);
    assert_eq!(jwks.fetches.load(Ordering::SeqCst), 1);

    // The issuer answers with no key at all (a broken deploy of theirs):
    // once the keys are stale they are refetched, and the empty answer
    // leaves key A in place.
    // (A new token each time: a verified token's principal is cached for up
    // to 30 s, which adds to the keys' maximum age.)
    *jwks.keys.lock().unwrap() = json!({"keys": []});
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let token_a2 = a.sign(&claims("user-a2")).unwrap();
    assert_eq!(p.get("/v1/me", &token_a2).await.0, 200);
    assert_eq!(
        jwks.fetches.load(Ordering::SeqCst),
        2,
        "stale keys are refetched"
    );

    // The issuer removes key A (rotated to B): within the maximum age, a
    // token signed with A is refused although its kid is cached, and B
    // verifies.
    *jwks.keys.lock().unwrap() = b.jwks();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let token_a3 = a.sign(&claims("user-a3")).unwrap();
    let (s, body) = p.get("/v1/me", &token_a3).await;
    assert_eq!(s, 401, "a removed key is no longer trusted: {body}");
    let token_b = b.sign(&claims("user-b")).unwrap();
    assert_eq!(p.get("/v1/me", &token_b).await.0, 200);
}

#[tokio::test]
async fn an_issuer_speaks_only_for_the_tenants_bound_to_it() {
    let key_dir = TempDir::new("key-bound");
    let key = tenancy::auth::dev::DevIssuer::load_or_create(key_dir.path()).unwrap();
    let jwks = jwks_server(key.jwks()).await;
    let iss = jwks.issuer.clone();
    let p = Platform::start_with(move |c| {
        let mut auth0 = external_issuer(&iss);
        auth0.tenant_claim = Some("org_id".into());
        auth0.tenants = [("org_acme".into(), "acme".into())].into();
        c.auth.issuers = vec![auth0];
    })
    .await;
    let acme = p.tenant("acme").await;
    let globex = p.tenant("globex").await;
    let token = |sub: &str, org: Option<&str>, email: &str| {
        let now = jsonwebtoken::get_current_timestamp();
        let mut claims = json!({
            "iss": jwks.issuer, "aud": AUDIENCE, "sub": sub, "exp": now + 600, "iat": now,
            "email": email, "email_verified": true,
            "https://p360.example/roles": ["customer_admin"],
        });
        if let Some(org) = org {
            claims["org_id"] = json!(org);
        }
        key.sign(&claims).unwrap()
    };

    // The organisation bound to acme signs into acme.
    let (s, me) = p
        .get("/v1/me", &token("ann", Some("org_acme"), "ann@acme.test"))
        .await;
    assert_eq!(s, 200, "{me}");
    assert_eq!(me["tenant_id"], acme.as_str());

    // The same issuer naming globex (its slug, as an unmapped claim would):
    // refused, and no account made.
    let (s, body) = p
        .get("/v1/me", &token("mallory", Some("globex"), "m@evil.test"))
        .await;
    assert_eq!(s, 403, "{body}");

    // No claim at all, but a verified address globex invited: the issuer may
    // not sign anyone into globex, so the invitation stays open.
    let globex_admin = p.token("customer_admin", Some("globex"), "admin@globex.test");
    let (s, invited) = p
        .post(
            "/v1/users",
            &globex_admin,
            json!({"email": "bob@globex.test", "role": "customer_admin"}),
        )
        .await;
    assert_eq!(s, 201, "{invited}");
    let (s, body) = p
        .get("/v1/me", &token("bob", None, "bob@globex.test"))
        .await;
    assert_eq!(s, 403, "{body}");
    let (_, users) = p.get("/v1/users", &globex_admin).await;
    let bob = users
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["email"] == "bob@globex.test")
        .unwrap();
    assert_eq!(bob["status"], "invited", "{bob}");
    assert!(!users.to_string().contains("evil.test"), "{users}");

    // Both attempts are in globex's audit chain for its admin to see.
    let (s, events) = p
        .get("/v1/audit-events?action=user.tenant_refused", &globex_admin)
        .await;
    assert_eq!(s, 200, "{events}");
    let events = events["items"].as_array().unwrap();
    assert_eq!(events.len(), 2, "{events:?}");
    assert!(events.iter().all(|e| e["outcome"] == "denied"
        && e["tenant_id"] == globex.as_str()
        && e["target_id"] == jwks.issuer.as_str()));
    assert!(
        events
            .iter()
            .any(|e| e["changes"]["claimed_tenant"] == "globex")
    );
}
