//! The permission matrix from the outside: every operation of the OpenAPI
//! document is called over HTTP as every role, and the answer (403 or not)
//! is compared with [`TABLE`], written here by hand from the product's policy
//! (`docs/permissions.md`, the handlers). It is deliberately not computed from
//! `Role::allows`, the function under test. A new operation, a new role, or
//! a row naming an operation the document no longer has fails the test until
//! the table says who may call what.

use std::collections::BTreeSet;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::common::*;

/// The columns of [`TABLE`], in order.
const ROLES: [&str; 8] = [
    "platform_admin",
    "account_manager",
    "ad_ops",
    "finance",
    "analyst",
    "customer_admin",
    "marketer",
    "viewer",
];

const Y: bool = true;
const N: bool = false;

/// Who may call each authenticated operation. A row is an operationId,
/// optionally followed by the variant of the call when the permission needed
/// depends on its arguments (the campaign action, the audit scope).
#[rustfmt::skip]
const TABLE: &[(&str, [bool; 8])] = &[
    // platform_admin, account_manager, ad_ops, finance, analyst | customer_admin, marketer, viewer
    ("me_get",                            [Y, Y, Y, Y, Y,  Y, Y, Y]),
    // Tenants: staff list them, platform admins create them.
    ("tenants_list",                      [Y, Y, Y, Y, Y,  N, N, N]),
    ("tenants_create",                    [Y, N, N, N, N,  N, N, N]),
    // Users: finance and viewers do not see the team; admins manage it.
    ("users_list",                        [Y, Y, Y, N, Y,  Y, Y, N]),
    ("users_invite",                      [Y, N, N, N, N,  Y, N, N]),
    ("users_update",                      [Y, N, N, N, N,  Y, N, N]),
    ("users_revoke_invitation",           [Y, N, N, N, N,  Y, N, N]),
    ("users_assign_tenants",              [Y, N, N, N, N,  N, N, N]),
    ("staff_set_status",                  [Y, N, N, N, N,  N, N, N]),
    // API keys: the agency's campaign staff may look, admins manage.
    ("api_keys_list",                     [Y, Y, Y, N, N,  Y, N, N]),
    ("api_keys_get",                      [Y, Y, Y, N, N,  Y, N, N]),
    ("api_keys_create",                   [Y, N, N, N, N,  Y, N, N]),
    ("api_keys_revoke",                   [Y, N, N, N, N,  Y, N, N]),
    // The audit log: everyone but marketers and viewers; the platform's own
    // chain (deployments, job retries) for platform admins only.
    ("audit_events_list",                 [Y, Y, Y, Y, Y,  Y, N, N]),
    ("audit_events_list scope=platform",  [Y, N, N, N, N,  N, N, N]),
    // Background jobs span every tenant: platform admins only.
    ("jobs_list",                         [Y, N, N, N, N,  N, N, N]),
    ("jobs_retry",                        [Y, N, N, N, N,  N, N, N]),
    // Campaigns and what they are made of: everyone reads; finance, analysts
    // and viewers do not write; approval is for admins and campaign staff.
    ("advertisers_list",                  [Y, Y, Y, Y, Y,  Y, Y, Y]),
    ("advertisers_get",                   [Y, Y, Y, Y, Y,  Y, Y, Y]),
    ("advertisers_create",                [Y, Y, Y, N, N,  Y, Y, N]),
    ("advertisers_update",                [Y, Y, Y, N, N,  Y, Y, N]),
    ("insertion_orders_list",             [Y, Y, Y, Y, Y,  Y, Y, Y]),
    ("insertion_orders_get",              [Y, Y, Y, Y, Y,  Y, Y, Y]),
    ("insertion_orders_create",           [Y, Y, N, Y, N,  N, N, N]), // its terms are the contract
    ("insertion_orders_update",           [Y, Y, Y, Y, N,  Y, Y, N]), // finance: commercial terms only
    ("campaigns_list",                    [Y, Y, Y, Y, Y,  Y, Y, Y]),
    ("campaigns_get",                     [Y, Y, Y, Y, Y,  Y, Y, Y]),
    ("campaigns_create",                  [Y, Y, Y, N, N,  Y, Y, N]),
    ("campaigns_update",                  [Y, Y, Y, N, N,  Y, Y, N]),
    ("campaigns_transition submit",       [Y, Y, Y, N, N,  Y, Y, N]),
    ("campaigns_transition approve",      [Y, Y, Y, N, N,  Y, N, N]),
    ("campaigns_transition reject",       [Y, Y, Y, N, N,  Y, N, N]),
    ("campaigns_transition pause",        [Y, Y, Y, N, N,  Y, Y, N]),
    ("campaigns_transition resume",       [Y, Y, Y, N, N,  Y, Y, N]),
    ("campaigns_transition archive",      [Y, Y, Y, N, N,  Y, Y, N]),
    ("ad_groups_list",                    [Y, Y, Y, Y, Y,  Y, Y, Y]),
    ("ad_groups_get",                     [Y, Y, Y, Y, Y,  Y, Y, Y]),
    ("ad_groups_create",                  [Y, Y, Y, N, N,  Y, Y, N]),
    ("ad_groups_update",                  [Y, Y, Y, N, N,  Y, Y, N]),
    ("ad_groups_archive",                 [Y, Y, Y, N, N,  Y, Y, N]),
    ("creatives_list",                    [Y, Y, Y, Y, Y,  Y, Y, Y]),
    ("creatives_get",                     [Y, Y, Y, Y, Y,  Y, Y, Y]),
    ("creatives_preview",                 [Y, Y, Y, Y, Y,  Y, Y, Y]),
    ("creatives_preview_file",            [Y, Y, Y, Y, Y,  Y, Y, Y]),
    ("creatives_create",                  [Y, Y, Y, N, N,  Y, Y, N]),
    ("creatives_update",                  [Y, Y, Y, N, N,  Y, Y, N]),
    ("creatives_archive",                 [Y, Y, Y, N, N,  Y, Y, N]),
    // The company universe is reference data: everyone reads it.
    ("companies_search",                  [Y, Y, Y, Y, Y,  Y, Y, Y]),
    ("companies_get",                     [Y, Y, Y, Y, Y,  Y, Y, Y]),
    // Loading it is for platform admins (it belongs to no tenant).
    ("companies_import",                  [Y, N, N, N, N,  N, N, N]),
    ("companies_import_ip_ranges",        [Y, N, N, N, N,  N, N, N]),
    // Account lists are campaign planning: everyone reads, campaign
    // writers upload them and fix their rows.
    ("account_lists_list",                [Y, Y, Y, Y, Y,  Y, Y, Y]),
    ("account_lists_get",                 [Y, Y, Y, Y, Y,  Y, Y, Y]),
    ("account_lists_rows",                [Y, Y, Y, Y, Y,  Y, Y, Y]),
    ("account_lists_unmatched",           [Y, Y, Y, Y, Y,  Y, Y, Y]),
    ("account_lists_create",              [Y, Y, Y, N, N,  Y, Y, N]),
    ("account_lists_match_row",           [Y, Y, Y, N, N,  Y, Y, N]),
    // Intent data is reference data like the universe: everyone reads it,
    // platform admins load it.
    ("intent_weeks",                      [Y, Y, Y, Y, Y,  Y, Y, Y]),
    ("intent_topics",                     [Y, Y, Y, Y, Y,  Y, Y, Y]),
    ("companies_intent",                  [Y, Y, Y, Y, Y,  Y, Y, Y]),
    ("intent_import",                     [Y, N, N, N, N,  N, N, N]),
    // Audiences are campaign planning, like account lists.
    ("audiences_list",                    [Y, Y, Y, Y, Y,  Y, Y, Y]),
    ("audiences_get",                     [Y, Y, Y, Y, Y,  Y, Y, Y]),
    ("audiences_members",                 [Y, Y, Y, Y, Y,  Y, Y, Y]),
    ("audiences_builds",                  [Y, Y, Y, Y, Y,  Y, Y, Y]),
    ("audiences_build_diff",              [Y, Y, Y, Y, Y,  Y, Y, Y]),
    ("audiences_activations",             [Y, Y, Y, Y, Y,  Y, Y, Y]),
    ("audiences_preview",                 [Y, Y, Y, Y, Y,  Y, Y, Y]),
    ("audiences_create",                  [Y, Y, Y, N, N,  Y, Y, N]),
    // Delivery reports: everyone reads them; the tenant's reporting rules
    // (engagement, pacing tolerance) are set by those who write campaigns.
    ("reports_delivery",                  [Y, Y, Y, Y, Y,  Y, Y, Y]),
    ("reports_accounts",                  [Y, Y, Y, Y, Y,  Y, Y, Y]),
    ("reports_account_targets",           [Y, Y, Y, Y, Y,  Y, Y, Y]),
    ("reports_pacing",                    [Y, Y, Y, Y, Y,  Y, Y, Y]),
    ("reports_alerts",                    [Y, Y, Y, Y, Y,  Y, Y, Y]),
    ("reports_settings_get",              [Y, Y, Y, Y, Y,  Y, Y, Y]),
    ("reports_settings_put",              [Y, Y, Y, N, N,  Y, Y, N]),
    // Salesforce: the tenant's admins and its account managers connect,
    // sync and disconnect the org; everyone who reads reports sees it.
    ("salesforce_connect",                [Y, Y, N, N, N,  Y, N, N]),
    ("salesforce_get",                    [Y, Y, Y, Y, Y,  Y, Y, Y]),
    ("salesforce_disconnect",             [Y, Y, N, N, N,  Y, N, N]),
    ("salesforce_sync",                   [Y, Y, N, N, N,  Y, N, N]),
    ("salesforce_match_report",           [Y, Y, Y, Y, Y,  Y, Y, Y]),
    // Attribution reads as reports do; its rules are changed as the
    // reporting rules are.
    ("attribution_campaigns",             [Y, Y, Y, Y, Y,  Y, Y, Y]),
    ("attribution_opportunity",           [Y, Y, Y, Y, Y,  Y, Y, Y]),
    ("attribution_lift",                  [Y, Y, Y, Y, Y,  Y, Y, Y]),
    ("attribution_settings_get",          [Y, Y, Y, Y, Y,  Y, Y, Y]),
    ("attribution_settings_put",          [Y, Y, Y, N, N,  Y, Y, N]),
    // Billing: whoever may see the money reads invoices (customers once
    // issued); finance states them and closes months; the margin (the
    // agency's cost) is the staff's.
    ("invoices_list",                     [Y, Y, Y, Y, N,  Y, N, N]),
    ("invoices_get",                      [Y, Y, Y, Y, N,  Y, N, N]),
    ("invoices_csv",                      [Y, Y, Y, Y, N,  Y, N, N]),
    ("invoices_pdf",                      [Y, Y, Y, Y, N,  Y, N, N]),
    ("invoices_issue",                    [Y, N, N, Y, N,  N, N, N]),
    ("invoices_mark_paid",                [Y, N, N, Y, N,  N, N, N]),
    ("invoices_void",                     [Y, N, N, Y, N,  N, N, N]),
    ("invoices_add_line",                 [Y, N, N, Y, N,  N, N, N]),
    ("invoices_remove_line",              [Y, N, N, Y, N,  N, N, N]),
    ("billing_period_close",              [Y, N, N, Y, N,  N, N, N]),
    ("billing_period_draft",              [Y, N, N, Y, N,  N, N, N]),
    ("billing_margin",                    [Y, Y, Y, Y, N,  N, N, N]),
];

/// Operations that take no credentials at all (a creative's public file is
/// what TTD fetches; `public_creatives.rs` tests what it shows).
const PUBLIC: [&str; 5] = [
    "health_live",
    "health_ready",
    "metrics_get",
    "creatives_public_file",
    "creatives_public_file_head",
];

/// One operation of the document.
struct Op {
    id: String,
    method: Method,
    path: String,
    secured: bool,
    body_required: bool,
}

fn operations(doc: &Value) -> Vec<Op> {
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            ops.push(Op {
                id: op["operationId"].as_str().unwrap().to_string(),
                method: method.to_uppercase().parse().unwrap(),
                path: path.clone(),
                secured: op["security"].as_array().is_some_and(|s| !s.is_empty()),
                body_required: op["requestBody"]["required"] == true,
            });
        }
    }
    ops
}

/// Real objects in tenant `acme`, so that a refusal is not a 404 in disguise
/// and an allowed read is a 200.
struct Objects {
    /// Path prefix of the OpenAPI template → the id to put in it.
    ids: Vec<(&'static str, String)>,
    advertiser: String,
    io: String,
    /// A draft campaign; `pending` was submitted by someone outside the table.
    draft: String,
    pending: String,
}

async fn objects(p: &Platform) -> Objects {
    let owner = p.token("customer_admin", Some("acme"), "owner@acme.test");
    let created = |what: &str, (s, v): (StatusCode, Value)| {
        assert_eq!(s, 201, "{what}: {v}");
        v["id"].as_str().unwrap().to_string()
    };
    let advertiser = created(
        "advertiser",
        p.post(
            "/v1/advertisers",
            &owner,
            json!({"name": "A", "domain": "a.example", "currency": "USD"}),
        )
        .await,
    );
    let io = created(
        "insertion order",
        p.post_as_staff("acme", "/v1/insertion-orders", io_body(&advertiser, "IO"))
            .await,
    );
    let draft = created(
        "campaign",
        p.post("/v1/campaigns", &owner, campaign_body(&io, "Draft"))
            .await,
    );
    let pending = created(
        "campaign",
        p.post("/v1/campaigns", &owner, campaign_body(&io, "Pending"))
            .await,
    );
    let submitter = p.token("marketer", Some("acme"), "submitter@acme.test");
    let (s, v) = p
        .post(
            &format!("/v1/campaigns/{pending}/submit"),
            &submitter,
            json!({}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let ad_group = created(
        "ad group",
        p.post(
            &format!("/v1/campaigns/{draft}/ad-groups"),
            &owner,
            ad_group_body("AG"),
        )
        .await,
    );
    let res = p
        .client
        .post(p.app.url("/v1/creatives"))
        .bearer_auth(&owner)
        .multipart(
            reqwest::multipart::Form::new()
                .text("advertiser_id", advertiser.clone())
                .text("name", "MPU")
                .text("click_url", "https://a.example/")
                .part("file", reqwest::multipart::Part::bytes(png())),
        )
        .send()
        .await
        .unwrap();
    let creative = created(
        "creative",
        (res.status(), res.json().await.unwrap_or(Value::Null)),
    );
    let key = created(
        "api key",
        p.post(
            "/v1/api-keys",
            &owner,
            json!({"name": "etl", "role": "viewer"}),
        )
        .await,
    );
    let user = created(
        "invitation",
        p.post(
            "/v1/users",
            &owner,
            json!({"email": "invited@acme.test", "role": "viewer"}),
        )
        .await,
    );
    // A staff member to assign (the ad_ops column's user, assigned already).
    let (_, me) = p.get("/v1/me", &token(p, "ad_ops")).await;
    let staff = me["id"].as_str().unwrap().to_string();
    // A company of the (global) universe.
    let mut conn = p.db.pool.acquire().await.unwrap();
    accounts::companies::service::import(&mut conn, b"domain,name\nacme.example,Acme\n")
        .await
        .unwrap();
    let res = p
        .client
        .post(p.app.url("/v1/account-lists?name=targets"))
        .bearer_auth(&owner)
        .header("content-type", "text/csv")
        .body("domain\nacme.example\n")
        .send()
        .await
        .unwrap();
    let list = created("account list", (res.status(), res.json().await.unwrap()));
    let audience = created(
        "audience",
        p.post(
            "/v1/audiences",
            &owner,
            json!({"name": "A", "include_lists": [list.clone()]}),
        )
        .await,
    );
    let tenant = tenancy::scope::tenant_by_slug(&p.db.pool, "acme")
        .await
        .unwrap()
        .unwrap();
    let invoice =
        crate::common::invoices::issued_invoice(&p.db.pool, tenant.0, advertiser.parse().unwrap())
            .await;
    Objects {
        ids: vec![
            ("/v1/invoices/{id}", invoice.to_string()),
            ("/v1/users/{id}/tenants", staff.clone()),
            ("/v1/staff/{id}/status", staff),
            ("/v1/users/{id}", user),
            ("/v1/api-keys/{id}", key),
            ("/v1/advertisers/{id}", advertiser.clone()),
            ("/v1/insertion-orders/{id}", io.clone()),
            ("/v1/campaigns/{id}", draft.clone()),
            ("/v1/ad-groups/{id}", ad_group),
            ("/v1/creatives/{id}", creative),
            // Jobs are platform-wide and none need exist: the permission is
            // checked before the look-up (a refusal cannot be a 404).
            ("/v1/jobs/{id}", uuid::Uuid::now_v7().to_string()),
            ("/v1/companies/{domain}", "acme.example".to_string()),
            ("/v1/account-lists/{id}", list),
            ("/v1/audiences/{id}", audience),
        ],
        advertiser,
        io,
        draft,
        pending,
    }
}

fn png() -> Vec<u8> {
    let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
    png.extend(300u32.to_be_bytes());
    png.extend(250u32.to_be_bytes());
    png.extend([8, 6, 0, 0, 0, 0, 0, 0, 0]);
    png
}

pub(super) fn io_body(advertiser: &str, name: &str) -> Value {
    json!({"advertiser_id": advertiser, "name": name, "budget": {"amount": "1000", "currency": "USD"},
           "start_date": "2027-01-01", "end_date": "2027-12-31",
           "pricing": {"model": "cpm", "rate": {"amount": "5", "currency": "USD"}}})
}

pub(super) fn campaign_body(io: &str, name: &str) -> Value {
    json!({"insertion_order_id": io, "name": name, "objective": "awareness",
           "budget": {"amount": "100", "currency": "USD"},
           "flight": {"start": "2027-02-01", "end": "2027-03-01"}, "pacing": "even"})
}

fn ad_group_body(name: &str) -> Value {
    json!({"name": name, "budget": {"amount": "10", "currency": "USD"},
           "base_bid_cpm": {"amount": "2", "currency": "USD"},
           "max_bid_cpm": {"amount": "4", "currency": "USD"}})
}

fn is_staff(role: &str) -> bool {
    let role = tenancy::roles::Role::parse(role).unwrap();
    role.kind() == tenancy::roles::UserKind::Staff
}

/// The token of the table's user in `role`: staff of the agency, or a
/// customer of `acme`.
fn token(p: &Platform, role: &str) -> String {
    if is_staff(role) {
        p.token(role, None, &format!("{role}@agency.test"))
    } else {
        p.token(role, Some("acme"), &format!("{role}@acme.test"))
    }
}

/// A request body that passes extraction (so the handler runs and checks the
/// permission) but, where it can, fails validation afterwards (so an allowed
/// call changes nothing). Updates go without `If-Match`: 428 once allowed.
enum Body {
    None,
    Json(Value),
    Form,
    Csv(&'static str),
}

fn body(op: &str, variant: &str, o: &Objects) -> Body {
    Body::Json(match op {
        "tenants_create" => json!({"slug": "", "name": ""}),
        "users_invite" => json!({"email": "", "role": "viewer"}),
        "users_update" => json!({"role": "viewer"}),
        "users_assign_tenants" => json!({"tenants": ["acme"]}),
        "staff_set_status" => json!({"status": "placeholder"}),
        "api_keys_create" => json!({"name": "", "role": "viewer"}),
        "advertisers_create" => json!({"name": "", "domain": "a.example", "currency": "USD"}),
        "insertion_orders_create" => io_body(&o.advertiser, ""),
        "campaigns_create" => campaign_body(&o.io, ""),
        "ad_groups_create" => ad_group_body(""),
        "advertisers_update"
        | "insertion_orders_update"
        | "campaigns_update"
        | "ad_groups_update"
        | "creatives_update" => json!({"name": "renamed"}),
        "campaigns_transition" if variant == "reject" => json!({"reason": "placeholder"}),
        "creatives_create" => return Body::Form,
        "companies_import" => return Body::Csv("domain,name\n"),
        "companies_import_ip_ranges" => return Body::Csv("domain,cidr\n"),
        "account_lists_create" => return Body::Csv("domain\n"),
        "intent_import" => return Body::Csv("Domain,Topic\n"),
        "audiences_create" | "audiences_preview" => json!({"name": ""}),
        "account_lists_match_row" => json!({"company": ""}),
        "reports_settings_put" => json!({"engaged_min_clicks": 0, "engaged_min_impressions": 0,
                                          "pacing_tolerance_pct": 0}),
        "salesforce_connect" => json!({"consumer_key": "k", "username": "u@acme.example",
                                        "login_host": "evil.example", "private_key": ""}),
        "attribution_settings_put" => {
            json!({"lookback_days": 0, "half_life_days": 0, "currency": "x"})
        }
        "invoices_add_line" => json!({"description": "", "amount_micros": 0}),
        _ => return Body::None,
    })
}

fn url(op: &Op, variant: &str, o: &Objects) -> String {
    if op.id == "audit_events_list" && !variant.is_empty() {
        return format!("{}?{variant}", op.path);
    }
    if op.id == "campaigns_transition" {
        let id = if matches!(variant, "approve" | "reject") {
            &o.pending
        } else {
            &o.draft
        };
        return format!("/v1/campaigns/{id}/{variant}");
    }
    if op.id == "account_lists_create" {
        return format!("{}?name=placeholder", op.path);
    }
    if op.id == "intent_import" {
        return format!("{}?week=2026-11-30", op.path);
    }
    if matches!(op.id.as_str(), "reports_delivery" | "attribution_campaigns") {
        return format!("{}?from=2026-11-01&to=2026-11-30", op.path);
    }
    // No opportunity is synced and no such audience exists: found or not,
    // the permission is checked first.
    if op.id == "attribution_opportunity" {
        return "/v1/attribution/opportunities/006000000000000AAA".into();
    }
    if op.id == "attribution_lift" {
        return format!(
            "{}?audience_id=01900000-0000-7000-8000-000000000000&from=2026-11-01&to=2026-11-30",
            op.path
        );
    }
    if matches!(
        op.id.as_str(),
        "reports_accounts" | "reports_account_targets"
    ) {
        return format!(
            "{}?campaign_id={}&from=2026-11-01&to=2026-11-30",
            op.path, o.draft
        );
    }
    if op.id == "billing_margin" {
        return format!("{}?from=2026-10&to=2026-11", op.path);
    }
    if op.path.starts_with("/v1/billing/periods/") {
        return op.path.replace("{month}", "2026-11");
    }
    if !op.path.contains('{') {
        return op.path.clone();
    }
    let (_, id) = o
        .ids
        .iter()
        .find(|(prefix, _)| op.path.starts_with(prefix))
        .unwrap_or_else(|| panic!("{}: add the object it addresses to this test", op.path));
    op.path
        .replace("{id}", id)
        .replace("{domain}", id)
        .replace("{path}", "index.html")
        .replace("{line}", "2")
        .replace("{n}", "1")
        .replace("{position}", "1")
}

async fn call(
    p: &Platform,
    op: &Op,
    url: &str,
    token: Option<&str>,
    staff: bool,
    body: Body,
) -> (StatusCode, Value) {
    let mut req = p.client.request(op.method.clone(), p.app.url(url));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if staff {
        req = req.header("p360-tenant", "acme");
    }
    req = match body {
        Body::None => req,
        Body::Json(v) => req.json(&v),
        Body::Form => req.multipart(reqwest::multipart::Form::new().text("name", "")),
        Body::Csv(text) => req.header("content-type", "text/csv").body(text),
    };
    let res = req.send().await.unwrap();
    let status = res.status();
    let text = res.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

#[tokio::test]
async fn every_operation_answers_every_role_as_the_table_says() {
    // Many unauthenticated calls from one address: above the anonymous limit.
    let p = Platform::start_with(|c| {
        c.platform.rate_limit.anonymous = platform::config::RateRule {
            per_minute: 6000,
            burst: 1000,
        };
    })
    .await;
    let roles: Vec<&str> = tenancy::roles::Role::ALL
        .iter()
        .map(|r| r.as_str())
        .collect();
    assert_eq!(
        roles, ROLES,
        "a role was added or renamed: give it a column"
    );

    let doc: Value = get(&p.app.url("/openapi.json")).await.json().await.unwrap();
    let ops = operations(&doc);
    let in_doc: BTreeSet<&str> = ops.iter().map(|o| o.id.as_str()).collect();
    let in_table: BTreeSet<&str> = TABLE
        .iter()
        .map(|(row, _)| row.split(' ').next().unwrap())
        .chain(PUBLIC)
        .collect();
    let missing: Vec<_> = in_doc.difference(&in_table).collect();
    let stale: Vec<_> = in_table.difference(&in_doc).collect();
    assert!(
        missing.is_empty() && stale.is_empty(),
        "operations without a row: {missing:?}; rows for operations the API lacks: {stale:?}"
    );
    let rows: BTreeSet<&str> = TABLE.iter().map(|(row, _)| *row).collect();
    assert_eq!(rows.len(), TABLE.len(), "a row appears twice");
    // Every campaign action has its row (approval is a permission of its own).
    let actions: BTreeSet<&str> = rows
        .iter()
        .filter_map(|row| row.strip_prefix("campaigns_transition "))
        .collect();
    let known: BTreeSet<&str> = campaigns::campaigns::workflow::Action::ALL
        .iter()
        .map(|a| a.as_str())
        .collect();
    assert_eq!(actions, known, "campaign actions in the table");
    let public: BTreeSet<&str> = ops
        .iter()
        .filter(|o| !o.secured)
        .map(|o| o.id.as_str())
        .collect();
    assert_eq!(
        public,
        BTreeSet::from(PUBLIC),
        "operations without security"
    );

    p.tenant("acme").await;
    // Staff other than platform_admin and finance act in assigned tenants only.
    let admin = p.admin();
    for role in ["account_manager", "ad_ops", "analyst"] {
        let (_, me) = p.get("/v1/me", &token(&p, role)).await;
        let id = me["id"].as_str().unwrap();
        let (s, body) = p
            .call(
                Method::PUT,
                &format!("/v1/users/{id}/tenants"),
                Some(&admin),
                Some(json!({"tenants": ["acme"]})),
            )
            .await;
        assert_eq!(s, 200, "{body}");
    }
    let o = objects(&p).await;

    let mut wrong = Vec::new();
    let mut calls = 0;
    for (row, allowed) in TABLE {
        let (id, variant) = row.split_once(' ').unwrap_or((row, ""));
        let op = ops.iter().find(|o| o.id == id).unwrap();
        let target = url(op, variant, &o);
        let make_body = || body(id, variant, &o);
        assert!(
            !op.body_required || !matches!(make_body(), Body::None),
            "{id}: give it a placeholder body"
        );
        // Without credentials: 401, whatever the role table says.
        let (s, _) = call(&p, op, &target, None, false, make_body()).await;
        if s != 401 {
            wrong.push(format!("{row}: {s} without credentials, not 401"));
        }
        for (role, may) in ROLES.iter().zip(allowed) {
            let bearer = token(&p, role);
            let (s, res) = call(&p, op, &target, Some(&bearer), is_staff(role), make_body()).await;
            calls += 1;
            let refused = s == 403 && res["type"] == "urn:p360:problem:forbidden";
            let expected = if *may {
                // Allowed: anything but a refusal; reads of real objects succeed
                // (a PNG creative has no files to preview; acme has connected
                // no Salesforce org).
                let read_ok = op.method != Method::GET
                    || s.is_success()
                    || (id == "creatives_preview_file" && s == 404)
                    || (matches!(
                        id,
                        "salesforce_get" | "attribution_opportunity" | "attribution_lift"
                    ) && s == 404);
                !refused && read_ok && !matches!(s.as_u16(), 401 | 403 | 429 | 500..)
            } else {
                refused
            };
            if !expected {
                let verdict = if *may { "allowed" } else { "refused" };
                wrong.push(format!(
                    "{role} {} {target} ({row}) should be {verdict}: {s} {res}",
                    op.method
                ));
            }
        }
    }
    for id in PUBLIC {
        let op = ops.iter().find(|o| o.id == id).unwrap();
        let (s, _) = call(&p, op, &op.path, None, false, Body::None).await;
        // A template with no object in it names nothing: found or not, never 401.
        let answered = if op.path.contains('{') {
            s == 404
        } else {
            s.is_success()
        };
        if !answered {
            wrong.push(format!("{id}: {s} without credentials"));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {calls}:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}
