//! Campaign management through the API: the advertiser -> IO -> campaign
//! chain, money and date rules, budgets under concurrency, the approval
//! workflow, optimistic concurrency and the audit trail.

mod common;

use common::*;
use reqwest::Method;
use serde_json::{Value, json};

struct Acme {
    p: Platform,
    admin: String,
    advertiser: String,
    io: String,
}

/// A tenant with an advertiser (USD) and an IO of 100,000.00 for 2027-01-01..2027-06-30.
async fn acme() -> Acme {
    let p = Platform::start().await;
    p.tenant("acme").await;
    let admin = p.token("customer_admin", Some("acme"), "admin@acme.test");
    let (s, adv) = p
        .post(
            "/v1/advertisers",
            &admin,
            json!({"name": "Acme Cloud", "domain": "https://www.AcmeCloud.com/", "currency": "USD", "industry": "software"}),
        )
        .await;
    assert_eq!(s, 201, "{adv}");
    assert_eq!(adv["domain"], "acmecloud.com");
    let advertiser = adv["id"].as_str().unwrap().to_string();
    let (s, io) = p
        .post_as_staff(
            "acme",
            "/v1/insertion-orders",
            json!({
                "advertiser_id": advertiser, "name": "FY27 H1", "number": "IO-001",
                "budget": {"amount": "100000.00", "currency": "USD"},
                "start_date": "2027-01-01", "end_date": "2027-06-30",
                "pricing": {"model": "cpm", "rate": {"amount": "12.50", "currency": "USD"}}
            }),
        )
        .await;
    assert_eq!(s, 201, "{io}");
    let io = io["id"].as_str().unwrap().to_string();
    Acme {
        p,
        admin,
        advertiser,
        io,
    }
}

fn campaign(io: &str, name: &str, amount: &str) -> Value {
    json!({
        "insertion_order_id": io, "name": name, "objective": "pipeline",
        "budget": {"amount": amount, "currency": "USD"},
        "flight": {"start": "2027-01-15", "end": "2027-03-31"}, "pacing": "even"
    })
}

fn field_codes(body: &Value) -> Vec<(String, String)> {
    body["errors"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|e| {
                    (
                        e["field"].as_str().unwrap().to_string(),
                        e["code"].as_str().unwrap().to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn the_chain_works_and_money_is_a_decimal_string() {
    let a = acme().await;
    let (s, c) =
        a.p.post(
            "/v1/campaigns",
            &a.admin,
            campaign(&a.io, "Q1 pipeline", "25000"),
        )
        .await;
    assert_eq!(s, 201, "{c}");
    assert_eq!(
        c["budget"],
        json!({"amount": "25000.00", "currency": "USD"})
    );
    assert_eq!(c["status"], "draft");
    assert_eq!(c["advertiser_id"], a.advertiser.as_str());

    let res =
        a.p.client
            .get(
                a.p.app
                    .url(&format!("/v1/campaigns/{}", c["id"].as_str().unwrap())),
            )
            .bearer_auth(&a.admin)
            .send()
            .await
            .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["etag"], "\"v1\"");

    let (_, io) =
        a.p.get(&format!("/v1/insertion-orders/{}", a.io), &a.admin)
            .await;
    assert_eq!(io["committed"]["amount"], "25000.00");
    assert_eq!(
        io["pricing"],
        json!({"model": "cpm", "rate": {"amount": "12.50", "currency": "USD"}})
    );

    // A float is not money.
    let mut bad = campaign(&a.io, "Float", "1");
    bad["budget"]["amount"] = json!(1000.5);
    let (s, _) = a.p.post("/v1/campaigns", &a.admin, bad).await;
    assert_eq!(s, 422);
    // Every failing field is listed with a code.
    let mut bad = campaign(&a.io, "", "10.001");
    bad["objective"] = json!("fame");
    bad["budget"]["currency"] = json!("EUR");
    let (s, body) = a.p.post("/v1/campaigns", &a.admin, bad).await;
    assert_eq!(s, 422, "{body}");
    let codes = field_codes(&body);
    assert!(
        codes.contains(&("name".into(), "length".into())),
        "{codes:?}"
    );
    assert!(
        codes.contains(&("objective".into(), "invalid_value".into())),
        "{codes:?}"
    );
    assert!(
        codes.contains(&("budget.currency".into(), "currency_mismatch".into())),
        "{codes:?}"
    );

    // Lists filter and page.
    for i in 0..3 {
        let (s, _) =
            a.p.post(
                "/v1/campaigns",
                &a.admin,
                campaign(&a.io, &format!("Wave {i}"), "1000"),
            )
            .await;
        assert_eq!(s, 201);
    }
    let (s, page) = a.p.get("/v1/campaigns?name=wave&limit=2", &a.admin).await;
    assert_eq!(s, 200);
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    let cursor = page["next_cursor"].as_str().unwrap();
    let (_, rest) =
        a.p.get(
            &format!("/v1/campaigns?name=wave&limit=2&cursor={cursor}"),
            &a.admin,
        )
        .await;
    assert_eq!(rest["items"].as_array().unwrap().len(), 1);
    assert!(rest["next_cursor"].is_null());
    let (_, none) =
        a.p.get("/v1/campaigns?flight_from=2027-04-01", &a.admin)
            .await;
    assert_eq!(
        none["items"].as_array().unwrap().len(),
        0,
        "no flight overlaps April"
    );
}

#[tokio::test]
async fn flights_stay_inside_the_insertion_order() {
    let a = acme().await;
    let mut c = campaign(&a.io, "Too long", "1000");
    c["flight"] = json!({"start": "2027-06-01", "end": "2027-07-15"});
    let (s, body) = a.p.post("/v1/campaigns", &a.admin, c).await;
    assert_eq!(s, 422);
    assert!(field_codes(&body).contains(&("flight".into(), "outside_insertion_order".into())));
    let mut c = campaign(&a.io, "Backwards", "1000");
    c["flight"] = json!({"start": "2027-03-01", "end": "2027-02-01"});
    let (s, body) = a.p.post("/v1/campaigns", &a.admin, c).await;
    assert_eq!(s, 422);
    assert!(field_codes(&body).contains(&("flight.end".into(), "before_start".into())));
}

#[tokio::test]
async fn campaign_budgets_never_exceed_the_io_under_concurrency() {
    let a = acme().await;
    // 20 requests of 10,000.00 race for an IO of 100,000.00: exactly 10 fit.
    let mut tasks = Vec::new();
    for i in 0..20 {
        let client = a.p.client.clone();
        let url = a.p.app.url("/v1/campaigns");
        let token = a.admin.clone();
        let body = campaign(&a.io, &format!("Race {i}"), "10000.00");
        tasks.push(tokio::spawn(async move {
            client
                .post(url)
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        10,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 422).count(),
        10,
        "{statuses:?}"
    );
    let (_, io) =
        a.p.get(&format!("/v1/insertion-orders/{}", a.io), &a.admin)
            .await;
    assert_eq!(io["committed"]["amount"], "100000.00");

    // Raising a budget is held to the same rule.
    let (_, page) = a.p.get("/v1/campaigns?limit=1", &a.admin).await;
    let id = page["items"][0]["id"].as_str().unwrap();
    let (s, body) = patch(
        &a.p,
        &a.admin,
        id,
        "\"v1\"",
        json!({"budget": {"amount": "10000.01", "currency": "USD"}}),
    )
    .await;
    assert_eq!(s, 422, "{body}");
    assert!(
        field_codes(&body).contains(&("budget.amount".into(), "exceeds_insertion_order".into()))
    );
}

async fn patch(p: &Platform, token: &str, id: &str, if_match: &str, body: Value) -> (u16, Value) {
    let mut req = p
        .client
        .patch(p.app.url(&format!("/v1/campaigns/{id}")))
        .bearer_auth(token)
        .json(&body);
    if !if_match.is_empty() {
        req = req.header("if-match", if_match);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn act(
    p: &Platform,
    token: &str,
    id: &str,
    action: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let (s, v) = p
        .call(
            Method::POST,
            &format!("/v1/campaigns/{id}/{action}"),
            Some(token),
            body,
        )
        .await;
    (s.as_u16(), v)
}

#[tokio::test]
async fn approval_needs_a_second_person_and_transitions_are_checked() {
    let a = acme().await;
    let marketer = a.p.token("marketer", Some("acme"), "m@acme.test");
    let other_admin = a.p.token("customer_admin", Some("acme"), "boss@acme.test");
    let (_, c) =
        a.p.post(
            "/v1/campaigns",
            &marketer,
            campaign(&a.io, "Launch", "5000"),
        )
        .await;
    let id = c["id"].as_str().unwrap();

    let (s, body) = act(&a.p, &a.admin, id, "approve", None).await;
    assert_eq!(s, 409, "{body}");
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("allowed: submit, archive"),
        "{body}"
    );

    // A JSON content type with no body (curl -H 'Content-Type: application/json'
    // -X POST) is a transition without a reason; a body that is not JSON is 400.
    let raw = |body: &'static str| {
        a.p.client
            .post(a.p.app.url(&format!("/v1/campaigns/{id}/submit")))
            .bearer_auth(&marketer)
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    assert_eq!(raw("{").await.unwrap().status(), 400);
    assert_eq!(raw("").await.unwrap().status(), 200);
    assert_eq!(
        act(&a.p, &marketer, id, "approve", None).await.0,
        403,
        "marketers cannot approve"
    );
    let (s, _) = act(&a.p, &a.admin, id, "reject", None).await;
    assert_eq!(s, 422, "a rejection needs a reason");
    let (s, c) = act(
        &a.p,
        &a.admin,
        id,
        "reject",
        Some(json!({"reason": "wrong KPI"})),
    )
    .await;
    assert_eq!((s, c["status"].as_str()), (200, Some("draft")));
    assert_eq!(c["rejection_reason"], "wrong KPI");

    // The submitter cannot approve their own submission, even with the permission.
    assert_eq!(act(&a.p, &a.admin, id, "submit", None).await.0, 200);
    let (s, body) = act(&a.p, &a.admin, id, "approve", None).await;
    assert_eq!(s, 403, "{body}");
    let (s, c) = act(&a.p, &other_admin, id, "approve", None).await;
    assert_eq!((s, c["status"].as_str()), (200, Some("approved")));
    assert_eq!(act(&a.p, &a.admin, id, "pause", None).await.0, 200);
    assert_eq!(act(&a.p, &a.admin, id, "resume", None).await.0, 200);
    assert_eq!(act(&a.p, &a.admin, id, "teleport", None).await.0, 404);

    // Every transition is in the audit log with before and after.
    let (_, events) =
        a.p.get(
            &format!("/v1/audit-events?target_type=campaign&target_id={id}&limit=50"),
            &a.admin,
        )
        .await;
    let actions: Vec<&str> = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for expected in [
        "campaign.created",
        "campaign.submitted",
        "campaign.rejected",
        "campaign.approved",
        "campaign.paused",
        "campaign.resumed",
    ] {
        assert!(
            actions.contains(&expected),
            "{expected} missing from {actions:?}"
        );
    }
    let approved = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "campaign.approved")
        .unwrap();
    assert_eq!(approved["changes"]["before"]["status"], "pending_approval");
    assert_eq!(approved["changes"]["after"]["status"], "approved");
}

#[tokio::test]
async fn updates_need_a_current_if_match_and_spend_changes_need_reapproval() {
    let a = acme().await;
    let other_admin = a.p.token("customer_admin", Some("acme"), "boss@acme.test");
    let (_, c) =
        a.p.post(
            "/v1/campaigns",
            &a.admin,
            campaign(&a.io, "Evergreen", "5000"),
        )
        .await;
    let id = c["id"].as_str().unwrap();

    let (s, _) = patch(&a.p, &a.admin, id, "", json!({"name": "Renamed"})).await;
    assert_eq!(s, 428, "If-Match is required");
    let (s, c) = patch(&a.p, &a.admin, id, "\"v1\"", json!({"name": "Renamed"})).await;
    assert_eq!((s, c["name"].as_str()), (200, Some("Renamed")));
    let (s, body) = patch(&a.p, &a.admin, id, "\"v1\"", json!({"name": "Lost update"})).await;
    assert_eq!(s, 412, "stale version: {body}");

    act(&a.p, &a.admin, id, "submit", None).await;
    act(&a.p, &other_admin, id, "approve", None).await;
    let (_, cur) = a.p.get(&format!("/v1/campaigns/{id}"), &a.admin).await;
    assert_eq!(cur["status"], "approved");
    // v2 rename, v3 submit, v4 approve.
    let (s, c) = patch(
        &a.p,
        &a.admin,
        id,
        "\"v4\"",
        json!({"budget": {"amount": "6000", "currency": "USD"}}),
    )
    .await;
    assert_eq!(s, 200, "{c}");
    assert_eq!(
        (c["status"].as_str(), c["budget"]["amount"].as_str()),
        (Some("approved"), Some("5000.00")),
        "the live version runs on: {c}"
    );
    assert_eq!(
        c["pending_change"]["changes"]["budget"]["after"]["amount"], "6000.00",
        "a budget change waits for approval: {c}"
    );
}

#[tokio::test]
async fn idempotency_keys_replay_the_first_response_and_refuse_another_body() {
    let a = acme().await;
    let post = |key: &'static str, body: Value, token: String| {
        let client = a.p.client.clone();
        let url = a.p.app.url("/v1/campaigns");
        async move {
            let res = client
                .post(url)
                .bearer_auth(token)
                .header("idempotency-key", key)
                .json(&body)
                .send()
                .await
                .unwrap();
            let replayed = res.headers().contains_key("idempotent-replayed");
            let etag = res
                .headers()
                .get("etag")
                .map(|v| v.to_str().unwrap().to_string());
            (
                res.status().as_u16(),
                replayed,
                etag,
                res.json::<Value>().await.unwrap(),
            )
        }
    };
    let body = campaign(&a.io, "Once", "1000");
    let (s1, r1, e1, first) = post("k-1", body.clone(), a.admin.clone()).await;
    assert_eq!((s1, r1), (201, false), "{first}");
    let (s2, r2, e2, second) = post("k-1", body.clone(), a.admin.clone()).await;
    assert_eq!((s2, r2), (201, true), "{second}");
    assert_eq!(first["id"], second["id"]);
    assert_eq!(e1, e2);
    let (s3, _, _, third) = post("k-1", campaign(&a.io, "Other", "1000"), a.admin.clone()).await;
    assert_eq!(s3, 422, "{third}");
    assert_eq!(third["type"], "urn:p360:problem:idempotency-key-reused");
    // Keys belong to their actor: someone else's k-1 is a new request.
    let other = a.p.token("marketer", Some("acme"), "m@acme.test");
    let (s4, r4, _, _) = post("k-1", campaign(&a.io, "Theirs", "1000"), other).await;
    assert_eq!((s4, r4), (201, false));

    // Concurrent retries of one request create one campaign.
    let body = campaign(&a.io, "Racing retries", "1000");
    let tasks: Vec<_> = (0..5)
        .map(|_| tokio::spawn(post("k-race", body.clone(), a.admin.clone())))
        .collect();
    let mut ok = 0;
    for t in tasks {
        let (s, _, _, _) = t.await.unwrap();
        assert!(s == 201 || s == 409, "{s}");
        ok += usize::from(s == 201);
    }
    assert!(ok >= 1);
    let (_, page) = a.p.get("/v1/campaigns?name=racing", &a.admin).await;
    assert_eq!(
        page["items"].as_array().unwrap().len(),
        1,
        "exactly one campaign"
    );
}

/// An Idempotency-Key is claimed in the transaction that does the work, and
/// its answer stored there before the one commit. Shown from the database
/// while a create waits on its locked insertion order: the backend holding
/// the key's claim is the one doing the work, and neither the key nor the
/// campaign is visible yet (a retry meanwhile is told the request runs).
/// When that backend dies mid-request nothing is left, so the retry runs at
/// once (no stale claim to wait out) and one campaign exists; when the
/// request completes, its key, answer and campaign appear together.
#[tokio::test]
async fn an_idempotent_request_commits_with_its_answer_or_not_at_all() {
    let a = acme().await;
    let db = a.p.db.pool.clone();
    let send = |key: &'static str, name: &'static str| {
        let req =
            a.p.client
                .post(a.p.app.url("/v1/campaigns"))
                .bearer_auth(&a.admin)
                .header("idempotency-key", key)
                .json(&campaign(&a.io, name, "1000"));
        async move {
            let res = req.send().await.unwrap();
            let replayed = res.headers().contains_key("idempotent-replayed");
            (
                res.status().as_u16(),
                replayed,
                res.json::<Value>().await.unwrap(),
            )
        }
    };
    let hold_io = || {
        let db = db.clone();
        let io = a.io.clone();
        async move {
            let mut tx = db.begin().await.unwrap();
            sqlx::query!(
                "SELECT 1 AS one FROM insertion_orders WHERE id = $1::text::uuid FOR UPDATE",
                io
            )
            .fetch_one(&mut *tx)
            .await
            .unwrap();
            tx
        }
    };
    // The backend waiting for the insertion order, once there is one.
    let waiting = || {
        let db = db.clone();
        async move {
            for _ in 0..200 {
                let pid = sqlx::query_scalar!(
                    r#"SELECT pid AS "pid!" FROM pg_stat_activity
                       WHERE datname = current_database() AND wait_event_type = 'Lock'
                         AND query LIKE '%insertion_orders%'"#
                )
                .fetch_optional(&db)
                .await
                .unwrap();
                if let Some(pid) = pid {
                    return pid;
                }
                tokio::time::sleep(std::time::Duration::from_millis(25)).await;
            }
            panic!("no request waited for the insertion order");
        }
    };
    let claim_holder = || {
        let db = db.clone();
        async move {
            sqlx::query_scalar!(
                r#"SELECT pid AS "pid!" FROM pg_locks WHERE locktype = 'advisory' AND granted
                   AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"#
            )
            .fetch_all(&db)
            .await
            .unwrap()
        }
    };
    let visible = |key: &'static str, name: &'static str| {
        let db = db.clone();
        async move {
            let keys = sqlx::query_scalar!(
                r#"SELECT count(*) AS "n!" FROM idempotency_keys WHERE key = $1"#,
                key
            )
            .fetch_one(&db)
            .await
            .unwrap();
            let campaigns = sqlx::query_scalar!(
                r#"SELECT count(*) AS "n!" FROM campaigns WHERE name = $1"#,
                name
            )
            .fetch_one(&db)
            .await
            .unwrap();
            (keys, campaigns)
        }
    };

    // A request that dies mid-flight.
    let lock = hold_io().await;
    let first = tokio::spawn(send("k-dies", "Dies"));
    let pid = waiting().await;
    assert_eq!(claim_holder().await, vec![pid], "the claim is the worker's");
    assert_eq!(visible("k-dies", "Dies").await, (0, 0));
    let (s, _, body) = send("k-dies", "Dies").await;
    assert_eq!(s, 409, "{body}");
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("still being processed")
    );
    sqlx::query!("SELECT pg_terminate_backend($1)", pid)
        .fetch_one(&db)
        .await
        .unwrap();
    let (s, _, body) = first.await.unwrap();
    assert!(s >= 500, "{s} {body}");
    lock.rollback().await.unwrap();
    assert_eq!(visible("k-dies", "Dies").await, (0, 0), "nothing is left");
    let (s, replayed, _) = send("k-dies", "Dies").await;
    assert_eq!((s, replayed), (201, false), "the retry runs at once");
    assert_eq!(visible("k-dies", "Dies").await, (1, 1));

    // A request that completes: its key and its campaign commit together.
    let lock = hold_io().await;
    let second = tokio::spawn(send("k-lands", "Lands"));
    let pid = waiting().await;
    assert_eq!(claim_holder().await, vec![pid]);
    assert_eq!(visible("k-lands", "Lands").await, (0, 0));
    lock.rollback().await.unwrap();
    let (s, replayed, created) = second.await.unwrap();
    assert_eq!((s, replayed), (201, false), "{created}");
    assert_eq!(visible("k-lands", "Lands").await, (1, 1));
    let status = sqlx::query_scalar!("SELECT status FROM idempotency_keys WHERE key = 'k-lands'")
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(status, Some(201), "the answer is stored with the work");
    let (s, replayed, again) = send("k-lands", "Lands").await;
    assert_eq!((s, replayed), (201, true));
    assert_eq!(again["id"], created["id"]);
}

#[tokio::test]
async fn ad_groups_split_the_campaign_budget_and_changes_need_reapproval() {
    let a = acme().await;
    let other_admin = a.p.token("customer_admin", Some("acme"), "boss@acme.test");
    let (_, c) =
        a.p.post("/v1/campaigns", &a.admin, campaign(&a.io, "Split", "1000"))
            .await;
    let id = c["id"].as_str().unwrap().to_string();
    let url = format!("/v1/campaigns/{id}/ad-groups");
    let group = |name: &str, amount: &str| {
        json!({
            "name": name, "budget": {"amount": amount, "currency": "USD"},
            "base_bid_cpm": {"amount": "4.25", "currency": "USD"}, "max_bid_cpm": {"amount": "9", "currency": "USD"},
            "frequency_cap": {"impressions": 3, "period_hours": 24},
            "targeting": {"countries": ["US", "CA"], "regions": ["US-CA"], "devices": ["desktop"],
                          "sites": {"exclude": ["https://www.Example.com/news"]}}
        })
    };
    let (s, g) = a.p.post(&url, &a.admin, group("Enterprise", "600")).await;
    assert_eq!(s, 201, "{g}");
    assert_eq!(g["base_bid_cpm"]["amount"], "4.25");
    assert_eq!(g["targeting"]["sites"]["exclude"], json!(["example.com"]));
    assert_eq!(
        g["frequency_cap"],
        json!({"impressions": 3, "period_hours": 24})
    );

    let (s, body) =
        a.p.post(&url, &a.admin, group("Mid-market", "400.01"))
            .await;
    assert_eq!(s, 422);
    assert!(
        field_codes(&body).contains(&("budget.amount".into(), "exceeds_campaign".into())),
        "{body}"
    );
    let mut bad = group("Bad", "10");
    bad["max_bid_cpm"]["amount"] = json!("1");
    bad["targeting"]["countries"] = json!(["usa"]);
    bad["targeting"]["devices"] = json!(["fridge"]);
    let (s, body) = a.p.post(&url, &a.admin, bad).await;
    assert_eq!(s, 422);
    let codes = field_codes(&body);
    for expected in [
        ("max_bid_cpm.amount", "below_base_bid"),
        ("targeting.countries", "invalid_value"),
        ("targeting.devices", "invalid_value"),
    ] {
        assert!(
            codes.contains(&(expected.0.into(), expected.1.into())),
            "{expected:?} in {codes:?}"
        );
    }
    // The campaign budget cannot drop below what its ad groups hold.
    let (s, body) = patch(
        &a.p,
        &a.admin,
        &id,
        "\"v1\"",
        json!({"budget": {"amount": "500", "currency": "USD"}}),
    )
    .await;
    assert_eq!(s, 422, "{body}");
    assert!(field_codes(&body).contains(&("budget.amount".into(), "below_ad_groups".into())));

    // Approved, then an ad group changes: the change waits with the
    // campaign's, and the live values stay what TTD runs.
    act(&a.p, &a.admin, &id, "submit", None).await;
    act(&a.p, &other_admin, &id, "approve", None).await;
    let gid = g["id"].as_str().unwrap();
    let group_call = |method: Method, if_match: &'static str, body: Option<Value>| {
        let mut req =
            a.p.client
                .request(method, a.p.app.url(&format!("/v1/ad-groups/{gid}")))
                .bearer_auth(&a.admin)
                .header("if-match", if_match);
        if let Some(b) = body {
            req = req.json(&b);
        }
        async move {
            let res = req.send().await.unwrap();
            (res.status().as_u16(), res.json::<Value>().await.unwrap())
        }
    };
    let (s, changed) = group_call(
        Method::PATCH,
        "\"v1\"",
        Some(json!({"targeting": {"countries": ["GB"]}, "name": "Enterprise EMEA"})),
    )
    .await;
    assert_eq!(s, 200, "{changed}");
    assert_eq!(
        changed["targeting"]["countries"],
        json!(["US", "CA"]),
        "{changed}"
    );
    assert_eq!(
        changed["name"], "Enterprise EMEA",
        "a rename needs no approval"
    );
    assert_eq!(changed["pending_change"]["action"], "update");
    assert_eq!(
        changed["pending_change"]["after"]["targeting"]["countries"],
        json!(["GB"])
    );
    let (_, c) = a.p.get(&format!("/v1/campaigns/{id}"), &a.admin).await;
    assert_eq!(c["status"], "approved", "{c}");
    assert_eq!(c["pending_change"]["ad_groups"][gid], "update", "{c}");

    // An ad group proposed for the live campaign counts against its budget.
    let (s, proposed) = a.p.post(&url, &a.admin, group("Mid-market", "400")).await;
    assert_eq!(s, 201, "{proposed}");
    assert_eq!(proposed["status"], "proposed");
    let pid = proposed["id"].as_str().unwrap().to_string();
    let (s, body) = a.p.post(&url, &a.admin, group("One more", "0.01")).await;
    assert_eq!(s, 422, "{body}");
    assert!(field_codes(&body).contains(&("budget.amount".into(), "exceeds_campaign".into())));

    // Archiving waits too; the maker cannot approve; another approver makes
    // it all live, which frees the archived group's share.
    let (s, archived) = group_call(Method::DELETE, "\"v3\"", None).await;
    assert_eq!(s, 200, "{archived}");
    assert_eq!(
        (
            archived["status"].as_str(),
            archived["pending_change"]["action"].as_str()
        ),
        (Some("active"), Some("archive"))
    );
    let (_, c) = a.p.get(&format!("/v1/campaigns/{id}"), &a.admin).await;
    assert_eq!(
        c["pending_change"]["ad_groups"],
        json!({gid: "archive", pid.as_str(): "create"}),
        "{c}"
    );
    assert_eq!(act(&a.p, &a.admin, &id, "approve", None).await.0, 403);
    let (s, c) = act(&a.p, &other_admin, &id, "approve", None).await;
    assert_eq!(s, 200, "{c}");
    assert!(c["pending_change"].is_null(), "{c}");
    let (_, groups) = a.p.get(&url, &a.admin).await;
    let status: Vec<(&str, &str)> = groups
        .as_array()
        .unwrap()
        .iter()
        .map(|g| (g["name"].as_str().unwrap(), g["status"].as_str().unwrap()))
        .collect();
    assert_eq!(
        status,
        [("Enterprise EMEA", "archived"), ("Mid-market", "active")]
    );
    assert!(groups[1]["pending_change"].is_null());

    // A rejected proposal never runs.
    let (s, body) = a.p.post(&url, &a.admin, group("Whole rest", "600")).await;
    assert_eq!(s, 201, "{body}");
    let (s, c) = act(
        &a.p,
        &other_admin,
        &id,
        "reject",
        Some(json!({"reason": "not this quarter"})),
    )
    .await;
    assert_eq!(s, 200, "{c}");
    let (_, groups) = a.p.get(&url, &a.admin).await;
    assert_eq!(groups[2]["status"], "archived", "{groups}");
    assert!(groups[2]["pending_change"].is_null());
}

#[tokio::test]
async fn insertion_orders_can_change_but_not_below_their_campaigns() {
    let a = acme().await;
    let (_, c) =
        a.p.post("/v1/campaigns", &a.admin, campaign(&a.io, "Held", "40000"))
            .await;
    assert!(c["id"].is_string(), "{c}");
    let url = a.p.app.url(&format!("/v1/insertion-orders/{}", a.io));
    // The budget is a commercial term: finance changes it (in the tenant it
    // names); the customer's admin the rest.
    let finance = a.p.token("finance", None, "fin@agency.test");
    let send = |by: &str, if_match: &'static str, body: Value| {
        let req =
            a.p.client
                .patch(url.clone())
                .bearer_auth(by)
                .header("p360-tenant", "acme")
                .header("if-match", if_match)
                .json(&body);
        async move {
            let res = req.send().await.unwrap();
            let status = res.status().as_u16();
            let etag = res
                .headers()
                .get("etag")
                .map(|v| v.to_str().unwrap().to_string());
            (status, etag, res.json::<Value>().await.unwrap())
        }
    };
    let (s, _, body) = send(
        &finance,
        "\"v1\"",
        json!({"budget": {"amount": "39999.99", "currency": "USD"}}),
    )
    .await;
    assert_eq!(s, 422, "{body}");
    assert!(field_codes(&body).contains(&("budget.amount".into(), "below_committed".into())));
    let (s, _, body) = send(&a.admin, "\"v1\"", json!({"start_date": "2027-02-01"})).await;
    assert_eq!(s, 422, "{body}");
    assert!(field_codes(&body).contains(&("start_date".into(), "excludes_campaigns".into())));
    let (s, etag, body) = send(
        &finance,
        "\"v1\"",
        json!({"budget": {"amount": "150000", "currency": "USD"}}),
    )
    .await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(etag.as_deref(), Some("\"v2\""));
    assert_eq!(body["budget"]["amount"], "150000.00");
    let (s, etag, body) = send(
        &a.admin,
        "\"v2\"",
        json!({"billing_contact": "ap@acme.test"}),
    )
    .await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(etag.as_deref(), Some("\"v3\""));
    let (s, _, _) = send(&a.admin, "\"v1\"", json!({"name": "stale"})).await;
    assert_eq!(s, 412);
}

#[tokio::test]
async fn every_campaign_transition_is_a_domain_event_in_its_transaction() {
    let a = acme().await;
    let other_admin = a.p.token("customer_admin", Some("acme"), "boss@acme.test");
    let (_, c) =
        a.p.post(
            "/v1/campaigns",
            &a.admin,
            campaign(&a.io, "Evented", "1000"),
        )
        .await;
    let id = c["id"].as_str().unwrap();
    act(&a.p, &a.admin, id, "submit", None).await;
    act(&a.p, &other_admin, id, "approve", None).await;
    // A refused transition leaves no event behind.
    assert_eq!(act(&a.p, &a.admin, id, "resume", None).await.0, 409);
    let events: Vec<(String, Value)> = sqlx::query_as(
        "SELECT event_type, payload FROM domain_events WHERE aggregate_id = $1::uuid ORDER BY seq",
    )
    .bind(id)
    .fetch_all(&a.p.db.pool)
    .await
    .unwrap();
    let types: Vec<&str> = events.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(
        types,
        [
            "campaign.created",
            "campaign.submitted",
            "campaign.approved"
        ]
    );
    assert_eq!(events[2].1["status"], "approved");
    assert_eq!(events[2].1["previous_status"], "pending_approval");
}
