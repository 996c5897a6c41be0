//! Billing's invoice states against PostgreSQL (issue 19): gap-free
//! numbers under concurrent issuing, voiding with a credit note, the
//! finance role, tenant isolation, and the database refusing — as the
//! application's own role — any change to an issued invoice or its lines.

mod common;

use common::*;
use serde_json::json;
use tenancy::principal::{Actor, UserId};
use tenancy::roles::Role;
use tenancy::{Principal, TenantId, TenantTx};
use uuid::Uuid;

fn person(role: Role, tenant: TenantId) -> Principal {
    let id = UserId::new();
    let customer = matches!(role, Role::CustomerAdmin | Role::Marketer | Role::Viewer);
    Principal {
        actor: Actor::User(id),
        person: Some(id),
        role,
        tenant: customer.then_some(tenant),
        assigned: if customer { Vec::new() } else { vec![tenant] },
        email: None,
        meta: Default::default(),
    }
}

struct World {
    p: Platform,
    tenant: TenantId,
    advertiser: Uuid,
}

async fn world(slug: &str) -> World {
    let p = Platform::start().await;
    let tenant = TenantId(p.tenant(slug).await.parse().unwrap());
    let admin = p.token("customer_admin", Some(slug), "admin@acme.test");
    let (s, adv) = p
        .post(
            "/v1/advertisers",
            &admin,
            json!({"name": "Acme Cloud", "domain": "acmecloud.example", "currency": "USD"}),
        )
        .await;
    assert_eq!(s, 201, "{adv}");
    let advertiser = adv["id"].as_str().unwrap().parse().unwrap();
    World {
        p,
        tenant,
        advertiser,
    }
}

/// A draft invoice of `month` (closed) with two lines; its id.
async fn draft(w: &World, month: &str, closed: bool) -> Uuid {
    let month = chrono::NaiveDate::parse_from_str(&format!("{month}-01"), "%Y-%m-%d").unwrap();
    let id = Uuid::now_v7();
    sqlx::query!(
        "INSERT INTO invoices (id, tenant_id, advertiser_id, currency, month, total_micros, over_delivery_micros)
         VALUES ($1, $2, $3, 'USD', $4, 1250000000, 10000000)",
        id,
        w.tenant.0,
        w.advertiser,
        month
    )
    .execute(&w.p.db.pool)
    .await
    .unwrap();
    sqlx::query!(
        "INSERT INTO invoice_lines (invoice_id, position, tenant_id, kind, description, units, amount_micros, over_delivery_micros)
         VALUES ($1, 1, $2, 'delivery', 'IO FY27', 100000, 1250000000, 10000000),
                ($1, 2, $2, 'detail', 'Campaign A', 100000, 1250000000, 10000000)",
        id,
        w.tenant.0
    )
    .execute(&w.p.db.pool)
    .await
    .unwrap();
    if closed {
        sqlx::query!(
            "INSERT INTO billing_periods (tenant_id, month, closed_by) VALUES ($1, $2, 'test')
             ON CONFLICT DO NOTHING",
            w.tenant.0,
            month
        )
        .execute(&w.p.db.pool)
        .await
        .unwrap();
    }
    id
}

/// The HTTP status an error would answer with.
fn status(e: platform::http::problem::ApiError) -> u16 {
    match e {
        platform::http::problem::ApiError::Problem(p) => p.status_code().as_u16(),
        other => panic!("not a problem: {other:?}"),
    }
}

async fn tx(w: &World) -> TenantTx {
    TenantTx::begin(&w.p.app.state.pool, w.tenant)
        .await
        .unwrap()
}

#[tokio::test]
async fn concurrent_issuing_numbers_invoices_without_gaps() {
    let w = world("acme").await;
    let mut drafts = Vec::new();
    for m in 1..=12 {
        drafts.push(draft(&w, &format!("2025-{m:02}"), true).await);
    }
    for m in 1..=8 {
        drafts.push(draft(&w, &format!("2026-{m:02}"), true).await);
    }
    assert_eq!(drafts.len(), 20);
    let finance = person(Role::Finance, w.tenant);
    let pool = w.p.app.state.pool.clone();
    // Twenty issuers at once, and five more that take a number and roll
    // back (a failure after numbering): their numbers are given back.
    let mut tasks = Vec::new();
    for (i, id) in drafts.iter().enumerate() {
        let (pool, finance, id, tenant) = (pool.clone(), finance.clone(), *id, w.tenant);
        tasks.push(tokio::spawn(async move {
            if i % 4 == 0 {
                let mut tx = TenantTx::begin(&pool, tenant).await.unwrap();
                billing::service::issue(&mut tx, &finance, id)
                    .await
                    .unwrap();
                drop(tx);
            }
            let mut tx = TenantTx::begin(&pool, tenant).await.unwrap();
            let n = billing::service::issue(&mut tx, &finance, id)
                .await
                .unwrap();
            tx.commit().await.unwrap();
            n
        }));
    }
    let mut numbers = Vec::new();
    for t in tasks {
        numbers.push(t.await.unwrap());
    }
    numbers.sort_unstable();
    assert_eq!(numbers, (1..=20).collect::<Vec<i64>>());
    let stored: Vec<i64> = sqlx::query_scalar!(
        r#"SELECT number AS "number!" FROM invoices WHERE status = 'issued' ORDER BY number"#
    )
    .fetch_all(&w.p.db.pool)
    .await
    .unwrap();
    assert_eq!(stored, (1..=20).collect::<Vec<i64>>());
    let audited = sqlx::query_scalar!(
        r#"SELECT count(*) AS "n!" FROM audit_events WHERE action = 'billing.invoice_issued'"#
    )
    .fetch_one(&w.p.db.pool)
    .await
    .unwrap();
    assert_eq!(audited, 20, "every issue audited, none of the rolled back");

    // Issued once only; a draft of an open month is not issued.
    let mut t = tx(&w).await;
    let again = billing::service::issue(&mut t, &finance, drafts[0]).await;
    assert_eq!(status(again.unwrap_err()), 409);
    drop(t);
    let open = draft(&w, "2026-11", false).await;
    let mut t = tx(&w).await;
    let err = billing::service::issue(&mut t, &finance, open)
        .await
        .unwrap_err();
    assert_eq!(status(err), 409);
    drop(t);
}

#[tokio::test]
async fn voiding_issues_a_credit_note_and_only_finance_changes_states() {
    let w = world("acme").await;
    let finance = person(Role::Finance, w.tenant);
    let a = draft(&w, "2026-09", true).await;
    let b = draft(&w, "2026-10", true).await;

    // The customer's own admin and the agency's ad-ops may not issue.
    for role in [Role::CustomerAdmin, Role::AdOps, Role::Viewer] {
        let mut t = tx(&w).await;
        let err = billing::service::issue(&mut t, &person(role, w.tenant), a)
            .await
            .unwrap_err();
        assert_eq!(status(err), 403, "{role:?}");
    }
    // Another tenant does not see it.
    let other = TenantId(w.p.tenant("globex").await.parse().unwrap());
    let mut t = TenantTx::begin(&w.p.app.state.pool, other).await.unwrap();
    let err = billing::service::issue(&mut t, &person(Role::Finance, other), a)
        .await
        .unwrap_err();
    assert_eq!(status(err), 404);
    drop(t);

    let mut t = tx(&w).await;
    assert_eq!(
        billing::service::issue(&mut t, &finance, a).await.unwrap(),
        1
    );
    assert_eq!(
        billing::service::issue(&mut t, &finance, b).await.unwrap(),
        2
    );
    billing::service::mark_paid(&mut t, &finance, b)
        .await
        .unwrap();
    let (note, number) = billing::service::void(&mut t, &finance, a).await.unwrap();
    t.commit().await.unwrap();
    assert_eq!(number, 3, "the credit note takes the next number");
    let r = sqlx::query!(
        r#"SELECT status, number, kind, credits, total_micros FROM invoices WHERE id = ANY($1) ORDER BY number"#,
        &[a, b, note]
    )
    .fetch_all(&w.p.db.pool)
    .await
    .unwrap();
    let seen: Vec<(String, Option<i64>, String, i64)> = r
        .into_iter()
        .map(|r| (r.status, r.number, r.kind, r.total_micros))
        .collect();
    assert_eq!(
        seen,
        [
            ("void".into(), Some(1), "invoice".into(), 1_250_000_000),
            ("paid".into(), Some(2), "invoice".into(), 1_250_000_000),
            (
                "issued".into(),
                Some(3),
                "credit_note".into(),
                -1_250_000_000
            ),
        ]
    );
    let net = sqlx::query_scalar!(
        r#"SELECT sum(amount_micros)::int8 AS "n!" FROM invoice_lines WHERE invoice_id = ANY($1)"#,
        &[a, note]
    )
    .fetch_one(&w.p.db.pool)
    .await
    .unwrap();
    assert_eq!(net, 0, "the credit note's lines net the voided invoice's");
    // A void or paid invoice changes no further.
    let mut t = tx(&w).await;
    for (id, what) in [(a, "paid"), (b, "void")] {
        let err = if what == "paid" {
            billing::service::mark_paid(&mut t, &finance, id).await
        } else {
            billing::service::void(&mut t, &finance, id)
                .await
                .map(|_| ())
        };
        assert_eq!(status(err.unwrap_err()), 409, "{what}");
    }
}

#[tokio::test]
async fn the_database_refuses_to_change_an_issued_invoice_as_the_application() {
    let w = world("acme").await;
    let finance = person(Role::Finance, w.tenant);
    let a = draft(&w, "2026-09", true).await;
    let mut t = tx(&w).await;
    billing::service::issue(&mut t, &finance, a).await.unwrap();
    t.commit().await.unwrap();
    // Each attack in its own transaction, as the application's role.
    let mut t = tx(&w).await;
    let r = sqlx::query!("UPDATE invoices SET total_micros = 1 WHERE id = $1", a)
        .execute(t.conn())
        .await;
    assert!(format!("{:?}", r.unwrap_err()).contains("only its state may change"));
    drop(t);
    let mut t = tx(&w).await;
    let r = sqlx::query!(
        "UPDATE invoices SET status = 'draft', number = NULL WHERE id = $1",
        a
    )
    .execute(t.conn())
    .await;
    assert!(r.is_err(), "an issued invoice does not go back to draft");
    drop(t);
    let mut t = tx(&w).await;
    let r = sqlx::query!("DELETE FROM invoice_lines WHERE invoice_id = $1", a)
        .execute(t.conn())
        .await;
    assert!(format!("{:?}", r.unwrap_err()).contains("is final"));
    drop(t);
    let mut t = tx(&w).await;
    let r = sqlx::query!(
        "INSERT INTO invoice_lines (invoice_id, position, tenant_id, kind, description, amount_micros)
         VALUES ($1, 9, $2, 'manual', 'extra', 1)",
        a,
        w.tenant.0
    )
    .execute(t.conn())
    .await;
    assert!(format!("{:?}", r.unwrap_err()).contains("is final"));
    drop(t);
    // Nor may it add to a draft of a closed month.
    let closed_draft = draft(&w, "2026-08", true).await;
    let mut t = tx(&w).await;
    let r = sqlx::query!(
        "INSERT INTO invoice_lines (invoice_id, position, tenant_id, kind, description, amount_micros)
         VALUES ($1, 9, $2, 'manual', 'extra', 1)",
        closed_draft,
        w.tenant.0
    )
    .execute(t.conn())
    .await;
    assert!(format!("{:?}", r.unwrap_err()).contains("is final"));
    drop(t);
    // The numbers cannot be edited by the application.
    let mut t = tx(&w).await;
    let r = sqlx::query!("DELETE FROM invoice_numbers")
        .execute(t.conn())
        .await;
    assert!(r.is_err(), "no DELETE on the counter");
}

/// `n` impressions of `campaign` on `day` (as the merge leaves them), a
/// click per hundred, at $4 CPM of TTD's advertiser cost.
async fn delivered(w: &World, campaign: Uuid, day: &str, n: i64) {
    let day = chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d").unwrap();
    sqlx::query!("SELECT delivery_month_partitions($1)", day)
        .execute(&w.p.db.pool)
        .await
        .unwrap();
    sqlx::query!(
        "INSERT INTO delivery_accounts (day, tenant_id, campaign_id, company, impressions, clicks,
                                        advertiser_cost_micros, media_cost_micros)
         VALUES ($1, $2, $3, $4, $5::int8, $5::int8 / 100, $5::int8 * 4000, $5::int8 * 3000)",
        day,
        w.tenant.0,
        campaign,
        format!("c{}.example", Uuid::now_v7().simple()),
        n
    )
    .execute(&w.p.db.pool)
    .await
    .unwrap();
}

/// A draft's lines: (kind, description, amount, over-delivery).
async fn lines_of(w: &World, id: Uuid) -> Vec<(String, String, i64, i64)> {
    sqlx::query!(
        "SELECT kind, description, amount_micros, over_delivery_micros FROM invoice_lines
         WHERE invoice_id = $1 ORDER BY position",
        id
    )
    .fetch_all(&w.p.db.pool)
    .await
    .unwrap()
    .into_iter()
    .map(|r| {
        (
            r.kind,
            r.description,
            r.amount_micros,
            r.over_delivery_micros,
        )
    })
    .collect()
}

#[tokio::test]
async fn months_are_drafted_from_delivery_closed_capped_and_corrected() {
    let w = world("acme").await;
    let (s, io) =
        w.p.post_as_staff(
            "acme",
            "/v1/insertion-orders",
            json!({
                "advertiser_id": w.advertiser, "name": "Q4 ABM", "number": "IO-7",
                "budget": {"amount": "25.00", "currency": "USD"},
                "start_date": "2026-10-15", "end_date": "2026-12-15",
                "pricing": {"model": "cpm", "rate": {"amount": "10.00", "currency": "USD"}}
            }),
        )
        .await;
    assert_eq!(s, 201, "{io}");
    let admin = w.p.token("customer_admin", Some("acme"), "admin@acme.test");
    let (s, c) =
        w.p.post(
            "/v1/campaigns",
            &admin,
            json!({
                "insertion_order_id": io["id"], "name": "Surging accounts", "objective": "pipeline",
                "budget": {"amount": "25.00", "currency": "USD"},
                "flight": {"start": "2026-10-15", "end": "2026-12-15"}, "pacing": "even"
            }),
        )
        .await;
    assert_eq!(s, 201, "{c}");
    let campaign: Uuid = c["id"].as_str().unwrap().parse().unwrap();
    let finance = person(Role::Finance, w.tenant);
    let month = |s: &str| billing::pricing::Month::parse(s).unwrap();
    let today = chrono::NaiveDate::from_ymd_opt(2026, 12, 6).unwrap();

    // October: 1,000 impressions at $10 CPM.
    delivered(&w, campaign, "2026-10-20", 1_000).await;
    let mut t = tx(&w).await;
    let oct = billing::draft::close(&mut t, &finance, month("2026-10"), today)
        .await
        .unwrap();
    t.commit().await.unwrap();
    assert_eq!(oct.len(), 1);
    assert_eq!(
        lines_of(&w, oct[0]).await,
        [
            ("delivery".into(), "Q4 ABM".into(), 10_000_000, 0),
            ("detail".into(), "Surging accounts".into(), 10_000_000, 0),
        ]
    );
    let mut t = tx(&w).await;
    assert_eq!(
        billing::service::issue(&mut t, &finance, oct[0])
            .await
            .unwrap(),
        1
    );
    // Closed once; a closed month is not drafted again; December is not over.
    assert_eq!(
        status(
            billing::draft::close(&mut t, &finance, month("2026-10"), today)
                .await
                .unwrap_err()
        ),
        409
    );
    assert_eq!(
        status(
            billing::draft::draft(&mut t, &finance, month("2026-10"))
                .await
                .unwrap_err()
        ),
        409
    );
    assert_eq!(
        status(
            billing::draft::close(&mut t, &finance, month("2026-12"), today)
                .await
                .unwrap_err()
        ),
        409
    );
    t.commit().await.unwrap();

    // 300 October impressions arrive late, and November delivers 1,200:
    // November's invoice corrects October ($3.00) and bills November
    // ($12.00) — $25.00 in all, the budget.
    delivered(&w, campaign, "2026-10-25", 300).await;
    delivered(&w, campaign, "2026-11-10", 1_200).await;
    let mut t = tx(&w).await;
    let nov = billing::draft::close(&mut t, &finance, month("2026-11"), today)
        .await
        .unwrap();
    t.commit().await.unwrap();
    assert_eq!(
        lines_of(&w, nov[0]).await,
        [
            (
                "adjustment".into(),
                "Q4 ABM: delivery of 2026-10 after it closed".into(),
                3_000_000,
                0
            ),
            ("delivery".into(), "Q4 ABM".into(), 12_000_000, 0),
            ("detail".into(), "Surging accounts".into(), 12_000_000, 0),
        ]
    );
    // December's 800 impressions ($8.00) are over the budget: shown, not
    // billed. Late November data lands on December's invoice too.
    delivered(&w, campaign, "2026-12-02", 800).await;
    delivered(&w, campaign, "2026-11-28", 100).await;
    let mut t = tx(&w).await;
    let dec = billing::draft::draft(&mut t, &finance, month("2026-12"))
        .await
        .unwrap();
    t.commit().await.unwrap();
    assert_eq!(
        lines_of(&w, dec[0]).await,
        [
            (
                "adjustment".into(),
                "Q4 ABM: delivery of 2026-11 after it closed".into(),
                0,
                1_000_000
            ),
            ("delivery".into(), "Q4 ABM".into(), 0, 8_000_000),
            ("detail".into(), "Surging accounts".into(), 0, 8_000_000),
        ]
    );
    let billed = sqlx::query_scalar!(
        r#"SELECT sum(total_micros)::int8 AS "n!" FROM invoices WHERE kind = 'invoice'"#
    )
    .fetch_one(&w.p.db.pool)
    .await
    .unwrap();
    assert_eq!(billed, 25_000_000, "never above the budget");
    // Drafting again replaces the draft, it does not add another.
    let mut t = tx(&w).await;
    let again = billing::draft::draft(&mut t, &finance, month("2026-12"))
        .await
        .unwrap();
    t.commit().await.unwrap();
    assert_eq!(again, dec);
    assert_eq!(lines_of(&w, dec[0]).await.len(), 3);
}

/// A call as `role` staff acting in `tenant`.
async fn staff(
    w: &World,
    role: &str,
    tenant: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<serde_json::Value>,
) -> (reqwest::StatusCode, serde_json::Value) {
    let mut req =
        w.p.client
            .request(method, w.p.app.url(path))
            .bearer_auth(w.p.token(role, None, &format!("{role}@agency.test")))
            .header(tenancy::principal::TENANT_HEADER, tenant);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let res = req.send().await.unwrap();
    let status = res.status();
    (status, res.json().await.unwrap_or(serde_json::Value::Null))
}

#[tokio::test]
async fn the_api_shows_drafts_to_staff_takes_manual_lines_and_refuses_bad_input() {
    use reqwest::Method;
    let w = world("acme").await;
    w.p.tenant("globex").await;
    let customer = w.p.token("customer_admin", Some("acme"), "admin@acme.test");
    let open = draft(&w, "2026-11", false).await;
    let issued = common::invoices::issued_invoice(&w.p.db.pool, w.tenant.0, w.advertiser).await;

    // Customers see issued invoices only: a draft is not theirs to see yet.
    let (s, page) = w.p.get("/v1/invoices", &customer).await;
    assert_eq!(s, 200, "{page}");
    let ids: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![issued.to_string()], "{page}");
    assert_eq!(page["items"][0]["advertiser_name"], "Acme Cloud");
    let (s, _) = w.p.get(&format!("/v1/invoices/{open}"), &customer).await;
    assert_eq!(s, 404);
    let (s, _) =
        w.p.get(&format!("/v1/invoices/{open}/pdf"), &customer)
            .await;
    assert_eq!(s, 404);
    let (s, page) = staff(
        &w,
        "finance",
        "acme",
        Method::GET,
        "/v1/invoices?status=draft",
        None,
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(page["items"].as_array().unwrap().len(), 1, "{page}");
    // Pages follow each other without repeats.
    let (_, first) = staff(
        &w,
        "finance",
        "acme",
        Method::GET,
        "/v1/invoices?limit=1",
        None,
    )
    .await;
    let cursor = first["next_cursor"].as_str().unwrap();
    let (_, second) = staff(
        &w,
        "finance",
        "acme",
        Method::GET,
        &format!("/v1/invoices?limit=1&cursor={cursor}"),
        None,
    )
    .await;
    assert_ne!(first["items"][0]["id"], second["items"][0]["id"]);
    assert!(second["next_cursor"].is_null(), "{second}");

    // A manual line: in whole cents, on a draft of an open month, audited.
    let lines = format!("/v1/invoices/{open}/lines");
    let (s, bad) = staff(
        &w,
        "finance",
        "acme",
        Method::POST,
        &lines,
        Some(json!({"description": " ", "amount_micros": 1})),
    )
    .await;
    assert_eq!(s, 422, "{bad}");
    let fields: Vec<&str> = bad["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, vec!["description", "amount_micros"], "{bad}");
    let (s, with) = staff(
        &w,
        "finance",
        "acme",
        Method::POST,
        &lines,
        Some(json!({"description": "Creative production", "amount_micros": 150_000_000})),
    )
    .await;
    assert_eq!(s, 201, "{with}");
    assert_eq!(with["total_micros"], 1_250_000_000 + 150_000_000, "{with}");
    let manual = with["lines"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (manual["kind"].as_str(), manual["position"].as_i64()),
        (Some("manual"), Some(3))
    );
    // Not on an issued invoice; not removing a line drafting wrote.
    let (s, _) = staff(
        &w,
        "finance",
        "acme",
        Method::POST,
        &format!("/v1/invoices/{issued}/lines"),
        Some(json!({"description": "Fee", "amount_micros": 1_000_000})),
    )
    .await;
    assert_eq!(s, 409);
    let (s, _) = staff(
        &w,
        "finance",
        "acme",
        Method::DELETE,
        &format!("{lines}/1"),
        None,
    )
    .await;
    assert_eq!(s, 404);
    let (s, without) = staff(
        &w,
        "finance",
        "acme",
        Method::DELETE,
        &format!("{lines}/3"),
        None,
    )
    .await;
    assert_eq!(s, 200, "{without}");
    assert_eq!(without["total_micros"], 1_250_000_000);
    let audited = sqlx::query_scalar!(
        r#"SELECT count(*) AS "n!" FROM audit_events WHERE action LIKE 'billing.manual_line_%'"#
    )
    .fetch_one(&w.p.db.pool)
    .await
    .unwrap();
    assert_eq!(audited, 2);

    // Finance acting in another tenant finds nothing of acme's.
    for (method, path) in [
        (Method::GET, format!("/v1/invoices/{issued}")),
        (Method::GET, format!("/v1/invoices/{issued}/csv")),
        (Method::POST, format!("/v1/invoices/{issued}/void")),
        (Method::POST, format!("/v1/invoices/{issued}/mark-paid")),
        (Method::POST, format!("/v1/invoices/{open}/issue")),
        (Method::DELETE, format!("/v1/invoices/{open}/lines/1")),
    ] {
        let (s, res) = staff(&w, "finance", "globex", method.clone(), &path, None).await;
        assert_eq!(s, 404, "{method} {path}: {res}");
    }
    let (s, page) = staff(&w, "finance", "globex", Method::GET, "/v1/invoices", None).await;
    assert_eq!(
        (s.as_u16(), page["items"].as_array().unwrap().len()),
        (200, 0)
    );

    // Void answers with the credit note; paying a void invoice is refused.
    let (s, voided) = staff(
        &w,
        "finance",
        "acme",
        Method::POST,
        &format!("/v1/invoices/{issued}/void"),
        None,
    )
    .await;
    assert_eq!(s, 200, "{voided}");
    assert_eq!(voided["invoice"]["status"], "void");
    assert_eq!(voided["credit_note"]["number"], 2);
    assert_eq!(voided["credit_note"]["total_micros"], -12_500_000);
    let (s, _) = staff(
        &w,
        "finance",
        "acme",
        Method::POST,
        &format!("/v1/invoices/{issued}/mark-paid"),
        None,
    )
    .await;
    assert_eq!(s, 409);

    // Bad input: one clear problem each.
    for (method, path, status) in [
        (Method::GET, "/v1/invoices?month=November", 422),
        (Method::GET, "/v1/invoices?status=sent", 422),
        (Method::GET, "/v1/invoices?cursor=bogus", 422),
        (
            Method::GET,
            "/v1/billing/margin?from=2026-11&to=2026-10",
            422,
        ),
        (
            Method::GET,
            "/v1/billing/margin?from=2020-01&to=2026-10",
            422,
        ),
        (Method::POST, "/v1/billing/periods/2026-13/close", 422),
        (Method::POST, "/v1/billing/periods/2999-01/close", 409),
        (Method::POST, "/v1/billing/periods/2026-10/close", 409),
        (Method::POST, "/v1/billing/periods/2026-10/draft", 409),
    ] {
        let (s, res) = staff(&w, "finance", "acme", method.clone(), path, None).await;
        assert_eq!(s, status, "{method} {path}: {res}");
        assert!(
            res["detail"].is_string() || res["errors"].is_array(),
            "{res}"
        );
    }
    // The margin is the agency's: not the customer's, even its admin.
    let (s, _) =
        w.p.get("/v1/billing/margin?from=2026-10&to=2026-11", &customer)
            .await;
    assert_eq!(s, 403);
}

/// An insertion order of the world's advertiser over `flight` priced by
/// `pricing`, with one campaign: the campaign's id.
async fn order_with_campaign(
    w: &World,
    name: &str,
    pricing: serde_json::Value,
    flight: (&str, &str),
) -> Uuid {
    let (s, io) =
        w.p.post_as_staff(
            "acme",
            "/v1/insertion-orders",
            json!({
                "advertiser_id": w.advertiser, "name": name,
                "budget": {"amount": "1000.00", "currency": "USD"},
                "start_date": flight.0, "end_date": flight.1, "pricing": pricing
            }),
        )
        .await;
    assert_eq!(s, 201, "{io}");
    let admin = w.p.token("customer_admin", Some("acme"), "admin@acme.test");
    let (s, c) = w
        .p
        .post(
            "/v1/campaigns",
            &admin,
            json!({
                "insertion_order_id": io["id"], "name": format!("{name} campaign"), "objective": "pipeline",
                "budget": {"amount": "100.00", "currency": "USD"},
                "flight": {"start": flight.0, "end": flight.1}, "pacing": "even"
            }),
        )
        .await;
    assert_eq!(s, 201, "{c}");
    c["id"].as_str().unwrap().parse().unwrap()
}

#[tokio::test]
async fn every_pricing_model_bills_a_flight_from_mid_month_to_mid_month_over_three_months() {
    let w = world("acme").await;
    let usd = |a: &str| json!({"amount": a, "currency": "USD"});
    // September 15th to November 14th: 16 + 31 + 14 = 61 flight days.
    let flight = ("2026-09-15", "2026-11-14");
    let campaigns = [
        order_with_campaign(
            &w,
            "A CPM",
            json!({"model": "cpm", "rate": usd("12.50")}),
            flight,
        )
        .await,
        order_with_campaign(
            &w,
            "B CPC",
            json!({"model": "cpc", "rate": usd("0.75")}),
            flight,
        )
        .await,
        order_with_campaign(
            &w,
            "C flat fee",
            json!({"model": "flat_fee", "rate": usd("1000.00")}),
            flight,
        )
        .await,
        order_with_campaign(
            &w,
            "D cost plus",
            json!({"model": "cost_plus", "percent": "20"}),
            flight,
        )
        .await,
    ];
    // Each campaign on the flight's and the months' first and last days:
    // 2,000 impressions in September, 4,000 in October, 2,000 in November
    // (a click per hundred, $4 CPM of cost).
    for c in campaigns {
        for (day, n) in [
            ("2026-09-15", 1_000),
            ("2026-09-30", 1_000),
            ("2026-10-01", 3_000),
            ("2026-10-31", 1_000),
            ("2026-11-01", 500),
            ("2026-11-14", 1_500),
        ] {
            delivered(&w, c, day, n).await;
        }
    }
    let finance = person(Role::Finance, w.tenant);
    let today = chrono::NaiveDate::from_ymd_opt(2026, 12, 6).unwrap();
    let (mut totals, mut fee) = (Vec::new(), 0);
    for (month, expected) in [
        // CPM $12.50 × 2 thousand; CPC $0.75 × 20; the fee × 16/61 =
        // 262.2950… → 262.30; cost $8.00 + 20 %.
        ("2026-09", [25_000_000, 15_000_000, 262_300_000, 9_600_000]),
        // The fee through October × 47/61 = 770.4918… → 770.49, less
        // September's 262.30.
        ("2026-10", [50_000_000, 30_000_000, 508_190_000, 19_200_000]),
        // The fee's rest: 1,000 − 770.49.
        ("2026-11", [25_000_000, 15_000_000, 229_510_000, 9_600_000]),
    ] {
        let mut t = tx(&w).await;
        let ids = billing::draft::close(
            &mut t,
            &finance,
            billing::pricing::Month::parse(month).unwrap(),
            today,
        )
        .await
        .unwrap();
        t.commit().await.unwrap();
        assert_eq!(ids.len(), 1, "one invoice for the advertiser's {month}");
        let lines = lines_of(&w, ids[0]).await;
        let orders: Vec<i64> = lines
            .iter()
            .filter(|l| l.0 == "delivery")
            .map(|l| l.2)
            .collect();
        assert_eq!(orders, expected, "{month}: {lines:?}");
        fee += orders[2];
        // Each order's campaign detail is its whole line (one campaign).
        let details: Vec<i64> = lines
            .iter()
            .filter(|l| l.0 == "detail")
            .map(|l| l.2)
            .collect();
        assert_eq!(details, expected, "{month}");
        let total = sqlx::query_scalar!("SELECT total_micros FROM invoices WHERE id = $1", ids[0])
            .fetch_one(&w.p.db.pool)
            .await
            .unwrap();
        assert_eq!(total, expected.iter().sum::<i64>(), "{month}");
        totals.push(total);
    }
    // The flat fee adds up to the fee exactly across the three months.
    assert_eq!(fee, 1_000_000_000);
    assert_eq!(totals, [311_900_000, 607_390_000, 279_110_000]);

    // The recurring run, as the worker runs it (the application's role,
    // every tenant): the closed months stay as they are.
    use platform::jobs::{Job, JobContext};
    billing::jobs::RunBilling
        .run(JobContext {
            pool: w.p.app.state.pool.clone(),
            job_id: Uuid::now_v7(),
            attempt: 1,
            max_attempts: 1,
            services: billing::BillingConfig::default(),
        })
        .await
        .unwrap();
    let after = sqlx::query_scalar!(
        r#"SELECT sum(total_micros)::int8 AS "n!" FROM invoices WHERE tenant_id = $1"#,
        w.tenant.0
    )
    .fetch_one(&w.p.db.pool)
    .await
    .unwrap();
    assert_eq!(after, totals.iter().sum::<i64>());
}
