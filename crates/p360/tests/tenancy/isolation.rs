//! Isolation between tenants, from the outside: another tenant's objects
//! answer 404 whatever the route and method, and row-level security holds
//! even for a query without a WHERE clause.

use crate::common::*;
use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

#[tokio::test]
async fn another_tenants_objects_answer_404() {
    let p = Platform::start().await;
    p.tenant("acme").await;
    p.tenant("globex").await;
    let acme = p.token("customer_admin", Some("acme"), "admin@acme.test");
    let globex = p.token("customer_admin", Some("globex"), "admin@globex.test");

    let (s, key) = p
        .post(
            "/v1/api-keys",
            &acme,
            json!({"name": "etl", "role": "marketer"}),
        )
        .await;
    assert_eq!(s, 201, "{key}");
    let key_id = key["id"].as_str().unwrap();
    let (s, invited) = p
        .post(
            "/v1/users",
            &acme,
            json!({"email": "new@acme.test", "role": "viewer"}),
        )
        .await;
    assert_eq!(s, 201, "{invited}");
    let user_id = invited["id"].as_str().unwrap();
    let (_, key_before) = p.get(&format!("/v1/api-keys/{key_id}"), &acme).await;
    let user_before = user_entry(&p, &acme, user_id).await;

    // Globex sees none of it: reads, updates and deletes all answer 404.
    let (s, _) = p.get(&format!("/v1/api-keys/{key_id}"), &globex).await;
    assert_eq!(s, 404);
    let (s, _) = p
        .call(
            Method::DELETE,
            &format!("/v1/api-keys/{key_id}"),
            Some(&globex),
            None,
        )
        .await;
    assert_eq!(s, 404);
    let (s, _) = p
        .call(
            Method::PATCH,
            &format!("/v1/users/{user_id}"),
            Some(&globex),
            Some(json!({"role": "customer_admin"})),
        )
        .await;
    assert_eq!(s, 404);
    let (_, keys) = p.get("/v1/api-keys", &globex).await;
    assert_eq!(keys.as_array().unwrap().len(), 0);
    let (_, users) = p.get("/v1/users", &globex).await;
    assert!(
        users
            .as_array()
            .unwrap()
            .iter()
            .all(|u| u["email"] != "new@acme.test")
    );
    let (_, events) = p.get("/v1/audit-events", &globex).await;
    assert!(
        events["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["action"] != "api_key.created"),
        "{events}"
    );

    // The key is intact for its owner, and the user is still a viewer.
    let (s, k) = p.get(&format!("/v1/api-keys/{key_id}"), &acme).await;
    assert_eq!(s, 200);
    assert!(k["revoked_at"].is_null());
    assert_eq!(k, key_before);
    let u = user_entry(&p, &acme, user_id).await;
    assert_eq!(u["role"], "viewer", "{u}");
    assert_eq!(u, user_before);

    // Staff see a tenant only once assigned; unknown or unassigned tenants are 404.
    let ops = p.token("ad_ops", None, "ops@agency.test");
    let res = p
        .client
        .get(p.app.url("/v1/api-keys"))
        .bearer_auth(&ops)
        .header("p360-tenant", "acme")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
}

/// Every route that addresses one object by id, taken from the OpenAPI
/// document (so a new route cannot be forgotten), answers 404 when another
/// tenant's object is named, whatever the method; and after the foreign
/// writes the owner reads every object exactly as before.
#[tokio::test]
async fn every_route_with_an_object_id_hides_other_tenants_objects() {
    let p = Platform::start().await;
    p.tenant("acme").await;
    p.tenant("globex").await;
    let acme = p.token("customer_admin", Some("acme"), "admin@acme.test");
    let globex = p.token("customer_admin", Some("globex"), "admin@globex.test");
    let (_, key) = p
        .post(
            "/v1/api-keys",
            &acme,
            json!({"name": "etl", "role": "viewer"}),
        )
        .await;
    let (_, user) = p
        .post(
            "/v1/users",
            &acme,
            json!({"email": "u@acme.test", "role": "viewer"}),
        )
        .await;
    let (s, adv) = p
        .post(
            "/v1/advertisers",
            &acme,
            json!({"name": "A", "domain": "a.example", "currency": "USD"}),
        )
        .await;
    assert_eq!(s, 201, "{adv}");
    let (s, io) = p
        .post_as_staff(
            "acme",
            "/v1/insertion-orders",
            json!({"advertiser_id": adv["id"], "name": "IO", "budget": {"amount": "1000", "currency": "USD"},
                   "start_date": "2027-01-01", "end_date": "2027-12-31",
                   "pricing": {"model": "cpm", "rate": {"amount": "5", "currency": "USD"}}}),
        )
        .await;
    assert_eq!(s, 201, "{io}");
    let (s, campaign) = p
        .post(
            "/v1/campaigns",
            &acme,
            json!({"insertion_order_id": io["id"], "name": "C", "objective": "awareness",
                   "budget": {"amount": "100", "currency": "USD"},
                   "flight": {"start": "2027-02-01", "end": "2027-03-01"}, "pacing": "even"}),
        )
        .await;
    assert_eq!(s, 201, "{campaign}");
    let ad_group_body = json!({"name": "AG", "budget": {"amount": "10", "currency": "USD"},
        "base_bid_cpm": {"amount": "2", "currency": "USD"}, "max_bid_cpm": {"amount": "4", "currency": "USD"}});
    let (s, ad_group) = p
        .post(
            &format!(
                "/v1/campaigns/{}/ad-groups",
                campaign["id"].as_str().unwrap()
            ),
            &acme,
            ad_group_body.clone(),
        )
        .await;
    assert_eq!(s, 201, "{ad_group}");
    let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
    png.extend(300u32.to_be_bytes());
    png.extend(250u32.to_be_bytes());
    png.extend([8, 6, 0, 0, 0, 0, 0, 0, 0]);
    let form = reqwest::multipart::Form::new()
        .text("advertiser_id", adv["id"].as_str().unwrap().to_string())
        .text("name", "MPU")
        .text("click_url", "https://a.example/")
        .part("file", reqwest::multipart::Part::bytes(png));
    let creative: Value = p
        .client
        .post(p.app.url("/v1/creatives"))
        .bearer_auth(&acme)
        .multipart(form)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut conn = p.db.pool.acquire().await.unwrap();
    accounts::companies::service::import(&mut conn, b"domain,name\nacme.example,Acme\n")
        .await
        .unwrap();
    drop(conn);
    let list: Value = p
        .client
        .post(p.app.url("/v1/account-lists?name=targets"))
        .bearer_auth(&acme)
        .header("content-type", "text/csv")
        .body("name\nNobody\n")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let audience: Value = p
        .client
        .post(p.app.url("/v1/audiences"))
        .bearer_auth(&acme)
        .json(&json!({"name": "targets", "include_lists": [list["id"]]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    // An opportunity synced from acme's Salesforce org.
    let acme_id = tenancy::scope::tenant_by_slug(&p.db.pool, "acme")
        .await
        .unwrap()
        .unwrap();
    sqlx::query!(
        "INSERT INTO crm_opportunities (tenant_id, id, name, currency, stage, is_closed, is_won,
                                        created_at, system_modstamp)
         VALUES ($1, '006ISOLATION00000A', 'Deal', 'USD', 'Prospecting', false, false, now(), now())",
        acme_id.0
    )
    .execute(&p.db.pool)
    .await
    .unwrap();
    let id = |v: &Value| v["id"].as_str().unwrap().to_string();
    let invoice =
        crate::common::invoices::issued_invoice(&p.db.pool, acme_id.0, id(&adv).parse().unwrap())
            .await;
    // The acme object each kind of route addresses.
    let objects: Vec<(&str, String)> = vec![
        ("/v1/api-keys/{id}", id(&key)),
        ("/v1/users/{id}", id(&user)),
        ("/v1/staff/{id}", id(&user)),
        ("/v1/advertisers/{id}", id(&adv)),
        ("/v1/insertion-orders/{id}", id(&io)),
        ("/v1/campaigns/{id}", id(&campaign)),
        ("/v1/ad-groups/{id}", id(&ad_group)),
        ("/v1/creatives/{id}", id(&creative)),
        ("/v1/account-lists/{id}", id(&list)),
        ("/v1/audiences/{id}", id(&audience)),
        ("/v1/jobs/{id}", uuid::Uuid::now_v7().to_string()),
        ("/v1/invoices/{id}", invoice.to_string()),
        // A month of acme's: only finance closes or drafts one.
        ("/v1/billing/periods/{month}", "2026-10".to_string()),
        (
            "/v1/attribution/opportunities/{id}",
            "006ISOLATION00000A".to_string(),
        ),
        // Public once a running campaign runs it; this one is in none.
        ("/creatives/{name}", id(&creative)),
    ];
    // Routes for staff only: customers are refused before any lookup.
    let staff_only = [
        "/v1/users/{id}/tenants",
        "/v1/jobs/{id}/retry",
        "/v1/staff/{id}/status",
    ];
    // Routes for finance only: refused to globex's admin before any
    // lookup (billing's tests check that finance acting in another tenant
    // gets 404).
    let finance_only = [
        "/v1/invoices/{id}/issue",
        "/v1/invoices/{id}/mark-paid",
        "/v1/invoices/{id}/void",
        "/v1/invoices/{id}/lines",
        "/v1/invoices/{id}/lines/{position}",
        "/v1/billing/periods/{month}/close",
        "/v1/billing/periods/{month}/draft",
    ];
    // What acme sees of each object before globex tries anything. The user
    // has no route of its own: it is read from the list.
    let mut reads: Vec<String> = objects
        .iter()
        .filter(|(prefix, _)| {
            prefix.starts_with("/v1/")
                && !prefix.starts_with("/v1/jobs")
                && !prefix.starts_with("/v1/users")
                && !prefix.starts_with("/v1/staff")
                && !prefix.starts_with("/v1/billing")
        })
        .map(|(prefix, id)| prefix.replace("{id}", id))
        .collect();
    reads.push(format!("/v1/campaigns/{}/ad-groups", id(&campaign)));
    let before = owner_view(&p, &acme, &reads).await;
    let user_before = user_entry(&p, &acme, &id(&user)).await;
    let etag = |url: &str| {
        before
            .iter()
            .find(|(read, ..)| url.starts_with(read.as_str()))
            .and_then(|(_, _, tag, _)| tag.clone())
    };

    let doc: Value = get(&p.app.url("/openapi.json")).await.json().await.unwrap();
    let mut walked = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        // No tenant's objects: a route without an id, or the company
        // universe (global reference data, the same for every tenant).
        if !path.contains('{') || path.starts_with("/v1/companies/") {
            continue;
        }
        let template = objects
            .iter()
            .find(|(prefix, _)| path.starts_with(prefix))
            .unwrap_or_else(|| panic!("{path}: add the object it addresses to this test"));
        let url = path
            .replace("{id}", &template.1)
            .replace("{name}", &template.1)
            .replace("{month}", &template.1)
            .replace("{position}", "1")
            .replace("{action}", "submit")
            .replace("{path}", "index.html")
            .replace("{line}", "2")
            .replace("{n}", "1");
        for method in item.as_object().unwrap().keys() {
            let method: Method = method.to_uppercase().parse().unwrap();
            // Each write is one that would change the object if it landed.
            let body = if path.ends_with("/ad-groups") {
                let mut other = ad_group_body.clone();
                other["name"] = json!("planted");
                Some(other)
            } else if path.ends_with("/lines") {
                Some(json!({"description": "planted", "amount_micros": 1000000}))
            } else if path.ends_with("/match") {
                Some(json!({"company": "acme.example"}))
            } else if path.ends_with("/tenants") {
                Some(json!({"tenants": ["globex"]}))
            } else if path.starts_with("/v1/staff") {
                Some(json!({"status": "deactivated"}))
            } else if path.starts_with("/v1/users") {
                Some(json!({"role": "customer_admin"}))
            } else if matches!(method, Method::PATCH) {
                Some(json!({"name": "taken over"}))
            } else {
                None
            };
            let mut req = p
                .client
                .request(method.clone(), p.app.url(&url))
                .bearer_auth(&globex);
            // With the object's current ETag: only tenancy stands in the way.
            if let Some(tag) = etag(&url).filter(|_| method != Method::GET) {
                req = req.header("if-match", tag);
            }
            if let Some(b) = body {
                req = req.json(&b);
            }
            let res = req.send().await.unwrap();
            let status = res.status();
            let res = res.text().await.unwrap();
            let expected =
                if staff_only.contains(&path.as_str()) || finance_only.contains(&path.as_str()) {
                    403
                } else {
                    404
                };
            assert_eq!(status, expected, "{method} {path} as another tenant: {res}");
            walked += 1;
        }
    }
    assert!(walked >= 4, "walked {walked} routes");

    // Nothing globex sent landed: acme reads every object exactly as before.
    let after = owner_view(&p, &acme, &reads).await;
    for (b, a) in before.iter().zip(&after) {
        assert_eq!(a, b, "{} changed after the foreign writes", b.0);
    }
    let user_after = user_entry(&p, &acme, &id(&user)).await;
    assert_eq!(user_after["role"], "viewer");
    assert_eq!(user_after, user_before);
}

/// Status, ETag and body of each of `urls` as `token` reads them.
async fn owner_view(
    p: &Platform,
    token: &str,
    urls: &[String],
) -> Vec<(String, reqwest::StatusCode, Option<String>, Value)> {
    let mut seen = Vec::new();
    for url in urls {
        let res = p
            .client
            .get(p.app.url(url))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        let status = res.status();
        assert_eq!(status, 200, "{url}");
        let tag = res
            .headers()
            .get("etag")
            .map(|v| v.to_str().unwrap().to_string());
        seen.push((url.clone(), status, tag, res.json().await.unwrap()));
    }
    seen
}

/// The user `id` as `token` sees it in the tenant's list.
async fn user_entry(p: &Platform, token: &str, id: &str) -> Value {
    let (s, users) = p.get("/v1/users", token).await;
    assert_eq!(s, 200, "{users}");
    users
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["id"] == id)
        .unwrap_or_else(|| panic!("user {id} not listed: {users}"))
        .clone()
}

/// Row-level security is a real second lock: the application role sees only
/// the tenants its transaction is scoped to, even without a WHERE clause.
#[tokio::test]
async fn row_level_security_scopes_the_application_role() {
    let p = Platform::start().await;
    let acme = p.tenant("acme").await;
    p.tenant("globex").await;
    for (tenant, email) in [("acme", "a@acme.test"), ("globex", "g@globex.test")] {
        let token = p.token("customer_admin", Some(tenant), email);
        let (s, _) = p
            .post(
                "/v1/api-keys",
                &token,
                json!({"name": "k", "role": "viewer"}),
            )
            .await;
        assert_eq!(s, 201);
    }
    let pool = &p.app.state.pool;
    let role: String = sqlx::query_scalar("SELECT current_user::text")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(role, "p360_app");
    async fn count(conn: &mut sqlx::PgConnection) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM api_keys")
            .fetch_one(conn)
            .await
            .unwrap()
    }
    let acme_id = tenancy::scope::TenantId(acme.parse().unwrap());
    let mut one = tenancy::TenantTx::begin(pool, acme_id).await.unwrap();
    assert_eq!(count(&mut one).await, 1);
    // A staff member assigned to no tenant sees none.
    let unassigned = tenancy::Principal {
        actor: tenancy::principal::Actor::System,
        person: None,
        role: tenancy::roles::Role::AdOps,
        tenant: None,
        assigned: Vec::new(),
        email: None,
        meta: Default::default(),
    };
    let mut none = unassigned.begin_visible(pool).await.unwrap();
    assert_eq!(count(&mut none).await, 0);
    let mut all = tenancy::scope::ScopedTx::all(pool, tenancy::scope::AllTenants::system())
        .await
        .unwrap();
    assert_eq!(count(&mut all).await, 2);
    // Outside a scoped transaction nothing tenant-owned is visible.
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM api_keys")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(n, 0);
    // The application role cannot rewrite the audit log, trigger or not.
    let mut tx = tenancy::scope::ScopedTx::all(pool, tenancy::scope::AllTenants::system())
        .await
        .unwrap();
    let denied = sqlx::query("DELETE FROM audit_events")
        .execute(&mut *tx)
        .await;
    let err = denied.unwrap_err().to_string();
    assert!(err.contains("permission denied"), "{err}");
}

/// A tenant's advertiser and campaign, through the API: (advertiser, campaign).
async fn advertiser_and_campaign(p: &Platform, tenant: &str) -> (Uuid, Uuid) {
    let owner = p.token(
        "customer_admin",
        Some(tenant),
        &format!("owner@{tenant}.test"),
    );
    let id = |(s, v): (reqwest::StatusCode, Value)| {
        assert_eq!(s, 201, "{v}");
        v["id"].as_str().unwrap().parse::<Uuid>().unwrap()
    };
    let advertiser = id(p
        .post(
            "/v1/advertisers",
            &owner,
            json!({"name": "A", "domain": "a.example", "currency": "USD"}),
        )
        .await);
    let io = id(p
        .post_as_staff(
            tenant,
            "/v1/insertion-orders",
            super::permissions::io_body(&advertiser.to_string(), "IO"),
        )
        .await);
    let campaign = id(p
        .post(
            "/v1/campaigns",
            &owner,
            super::permissions::campaign_body(&io.to_string(), "C"),
        )
        .await);
    (advertiser, campaign)
}

/// References follow tenancy in the database itself: a foreign key check
/// ignores row-level security, so the keys carry the tenant, and the
/// creatives an ad group runs are checked by a trigger. Each write below is
/// made as the application role, scoped to acme, naming globex's rows.
#[tokio::test]
async fn references_never_cross_tenants_in_the_database() {
    let p = Platform::start().await;
    let acme = Uuid::parse_str(&p.tenant("acme").await).unwrap();
    let globex = Uuid::parse_str(&p.tenant("globex").await).unwrap();
    let (acme_adv, acme_campaign) = advertiser_and_campaign(&p, "acme").await;
    let (globex_adv, globex_campaign) = advertiser_and_campaign(&p, "globex").await;
    let pool = &p.app.state.pool;
    let scoped = |t: Uuid| tenancy::TenantTx::begin(pool, tenancy::scope::TenantId(t));
    let refused = |e: sqlx::Error, constraint: &str| match e {
        sqlx::Error::Database(db) => {
            assert_eq!(db.code().as_deref(), Some("23503"), "{db}");
            assert_eq!(db.constraint(), Some(constraint), "{db}");
        }
        other => panic!("{other}"),
    };
    async fn creative(
        tx: &mut sqlx::PgConnection,
        tenant: Uuid,
        advertiser: Uuid,
    ) -> Result<Uuid, sqlx::Error> {
        let id = Uuid::now_v7();
        sqlx::query!(
            "INSERT INTO creatives (id, tenant_id, advertiser_id, name, click_url, kind, mime,
                 width, height, size_bytes, sha256, storage_prefix)
             VALUES ($1, $2, $3, $4, 'https://a.example/', 'image', 'image/png', 300, 250, 1,
                 'x', 'none')",
            id,
            tenant,
            advertiser,
            id.to_string()
        )
        .execute(tx)
        .await?;
        Ok(id)
    }
    async fn ad_group(
        tx: &mut sqlx::PgConnection,
        tenant: Uuid,
        campaign: Uuid,
        creatives: &[Uuid],
    ) -> Result<(), sqlx::Error> {
        sqlx::query!(
            "INSERT INTO ad_groups (id, tenant_id, campaign_id, name, budget_micros,
                 base_bid_cpm_micros, max_bid_cpm_micros, creative_ids)
             VALUES ($1, $2, $3, 'AG', 1, 1, 1, $4)",
            Uuid::now_v7(),
            tenant,
            campaign,
            creatives
        )
        .execute(tx)
        .await?;
        Ok(())
    }

    // An acme creative of globex's advertiser.
    let mut tx = scoped(acme).await.unwrap();
    refused(
        creative(&mut tx, acme, globex_adv).await.unwrap_err(),
        "creatives_tenant_advertiser_fkey",
    );
    // An acme ad group under globex's campaign.
    let mut tx = scoped(acme).await.unwrap();
    refused(
        ad_group(&mut tx, acme, globex_campaign, &[])
            .await
            .unwrap_err(),
        "ad_groups_tenant_campaign_fkey",
    );
    // An acme ad group running globex's creative.
    let mut tx = scoped(globex).await.unwrap();
    let theirs = creative(&mut tx, globex, globex_adv).await.unwrap();
    tx.commit().await.unwrap();
    let mut tx = scoped(acme).await.unwrap();
    refused(
        ad_group(&mut tx, acme, acme_campaign, &[theirs])
            .await
            .unwrap_err(),
        "ad_groups_creatives_fkey",
    );
    // The same writes within acme pass, and a later swap to globex's
    // creative is refused too.
    let mut tx = scoped(acme).await.unwrap();
    let ours = creative(&mut tx, acme, acme_adv).await.unwrap();
    ad_group(&mut tx, acme, acme_campaign, &[ours])
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let mut tx = scoped(acme).await.unwrap();
    let swapped = sqlx::query!(
        "UPDATE ad_groups SET creative_ids = array_append(creative_ids, $1) WHERE campaign_id = $2",
        theirs,
        acme_campaign
    )
    .execute(&mut *tx)
    .await;
    refused(swapped.unwrap_err(), "ad_groups_creatives_fkey");
}

/// The application logs in as a role that owns nothing: no statement sent
/// on its connections (an injected one included) can switch back to the
/// owner, alter a table or disable the audit log's triggers.
#[tokio::test]
async fn the_application_login_cannot_become_the_owner() {
    let p = Platform::start().await;
    let mut conn = p.app.state.pool.acquire().await.unwrap();
    sqlx::query!("RESET ROLE")
        .execute(&mut *conn)
        .await
        .unwrap();
    let who = sqlx::query!(r#"SELECT current_user AS "current!", session_user AS "session!""#)
        .fetch_one(&mut *conn)
        .await
        .unwrap();
    assert_eq!(
        (who.current.as_str(), who.session.as_str()),
        ("p360_app", "p360_app")
    );
    let refused = |e: sqlx::Error| {
        let text = e.to_string();
        assert!(
            text.contains("permission denied") || text.contains("must be owner"),
            "{text}"
        );
    };
    refused(
        sqlx::query!("SET ROLE postgres")
            .execute(&mut *conn)
            .await
            .unwrap_err(),
    );
    refused(
        sqlx::query!("ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_update_delete")
            .execute(&mut *conn)
            .await
            .unwrap_err(),
    );
    refused(
        sqlx::query!("ALTER TABLE campaigns NO FORCE ROW LEVEL SECURITY")
            .execute(&mut *conn)
            .await
            .unwrap_err(),
    );
}
