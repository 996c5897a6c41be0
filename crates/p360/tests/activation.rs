//! Activation on The Trade Desk: the sandbox speaks TTD's API, approved
//! campaigns reach it with the right fields, and the sync converges to
//! exactly one TTD object per P360 object under injected faults and when the
//! worker is killed mid-sync.

mod common;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use activation::ttd::model::{Advertiser, Campaign, Money};
use activation::ttd::sandbox::SandboxOptions;
use activation::ttd::{TtdClient, TtdError, TtdSettings};
use common::ttd::*;
use common::*;
use serde_json::{Value, json};

#[tokio::test]
async fn the_sandbox_speaks_ttds_api() {
    let base = sandbox(SandboxOptions {
        login: Some("p360".into()),
        password: Some("s3cret".into()),
        ..Default::default()
    })
    .await;
    let http = reqwest::Client::new();

    // No token: 403 in TTD's error shape.
    let res = http
        .post(format!("{base}/v3/campaign"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let body: Value = res.json().await.unwrap();
    assert!(
        body["Message"].as_str().unwrap().contains("token"),
        "{body}"
    );

    // Validation errors name the property.
    let res = http
        .post(format!("{base}/v3/authentication"))
        .json(&json!({"Login": "", "Password": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["ErrorDetails"][0]["Property"], "Login", "{body}");

    // Wrong credentials are refused.
    let wrong = TtdClient::new(TtdSettings {
        login: "p360".into(),
        password: "nope".to_string().into(),
        ..settings(&base)
    })
    .unwrap();
    let err = wrong.query_all::<Advertiser>("p").await.unwrap_err();
    assert!(matches!(err, TtdError::Auth(_)), "{err}");

    let client = TtdClient::new(settings(&base)).unwrap();
    let adv = client
        .create(&Advertiser {
            advertiser_id: None,
            partner_id: "p1".into(),
            advertiser_name: "Acme".into(),
            description: None,
            currency_code: "USD".into(),
            domain_address: "acme.com".into(),
            attribution_click_lookback_window_in_seconds: 86_400,
            attribution_impression_lookback_window_in_seconds: 86_400,
            click_dedup_window_in_seconds: 60,
            conversion_dedup_window_in_seconds: 60,
            availability: None,
        })
        .await
        .unwrap();
    let adv_id = adv.advertiser_id.clone().unwrap();
    assert_eq!(adv.availability.as_deref(), Some("Available"));
    let campaign = |name: &str| Campaign {
        campaign_id: None,
        advertiser_id: adv_id.clone(),
        campaign_name: name.into(),
        description: None,
        budget: Money {
            amount: 1000.5,
            currency_code: "USD".into(),
        },
        daily_budget: None,
        start_date: "2027-01-01T00:00:00Z".into(),
        end_date: Some("2027-02-01T00:00:00Z".into()),
        pacing_mode: "PaceEvenly".into(),
        availability: "Available".into(),
    };
    let mut bad = campaign("Bad");
    bad.pacing_mode = "Fast".into();
    bad.end_date = Some("2026-01-01T00:00:00Z".into());
    bad.budget.currency_code = "EUR".into();
    match client.create(&bad).await.unwrap_err() {
        TtdError::Rejected {
            status, message, ..
        } => {
            assert_eq!(status, 400);
            for property in ["PacingMode", "EndDate", "Budget.CurrencyCode"] {
                assert!(message.contains(property), "{message}");
            }
        }
        e => panic!("expected a rejection, got {e}"),
    }

    for i in 0..5 {
        client.create(&campaign(&format!("C{i}"))).await.unwrap();
    }
    let page = client.query_page::<Campaign>(&adv_id, 0, 2).await.unwrap();
    assert_eq!((page.result_count, page.total_filtered_count), (2, 5));
    let page = client.query_page::<Campaign>(&adv_id, 4, 2).await.unwrap();
    assert_eq!(page.result.len(), 1);
    assert_eq!(page.result[0].campaign_name, "C4");
    let all = client.query_all::<Campaign>(&adv_id).await.unwrap();
    assert_eq!(all.len(), 5);

    // PUT changes what it names and keeps the rest.
    let id = all[0].campaign_id.clone().unwrap();
    let mut paused = all[0].clone();
    paused.availability = "Paused".into();
    client.update(&id, &paused).await.unwrap();
    let got: Campaign = client.get(&id).await.unwrap();
    assert_eq!(got.availability, "Paused");
    assert_eq!(got.budget.amount, 1000.5);
    assert!(matches!(
        client.get::<Campaign>("nope").await.unwrap_err(),
        TtdError::Rejected { status: 404, .. }
    ));

    // A revoked token is renewed once, transparently.
    let res = http
        .post(format!("{base}/_sandbox/expire-tokens"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert_eq!(
        client.query_all::<Campaign>(&adv_id).await.unwrap().len(),
        5
    );
}

fn settings(base: &str) -> TtdSettings {
    TtdSettings {
        base_url: base.to_string(),
        data_url: base.to_string(),
        login: "p360".into(),
        password: "s3cret".to_string().into(),
        token_minutes: 60,
        timeout: Duration::from_secs(5),
        max_concurrency: 4,
        max_retries: 3,
    }
}

#[tokio::test]
async fn an_approved_campaign_reaches_ttd_and_follows_its_changes() {
    let p = Platform::start().await;
    let (stop, handle) = worker(&p, |_| {});
    let f = platform_fixture(&p).await;
    let id = f.submitted_campaign("Launch").await;
    assert!(
        f.activation(&id).await.is_null(),
        "not activated before approval"
    );

    let approved = f.approve(&id).await;
    assert_eq!(approved["activation"]["status"], "pending", "{approved}");
    let started = Instant::now();
    let activation = f
        .wait_synced(std::slice::from_ref(&id), Duration::from_secs(20))
        .await;
    let synced_in = started.elapsed();
    let a = &activation[0];
    assert!(
        a["synced_at"].is_string() && a["last_error"].is_null(),
        "{a}"
    );

    // The in-process sandbox, asked through its own TTD API.
    let client = ttd(&p.app.url("/sandbox/ttd"), 3);
    let h = holdings(&client).await;
    assert_eq!(h.advertisers.len(), 1);
    let adv = &h.advertisers[0];
    assert_eq!(adv.advertiser_name, "Acme Cloud");
    assert_eq!(adv.currency_code, "USD");
    assert_eq!(
        adv.advertiser_id.as_deref(),
        a["ttd"]["advertiser_id"].as_str()
    );
    assert_eq!(h.campaigns.len(), 1);
    let c = &h.campaigns[0];
    assert_eq!(c.campaign_id.as_deref(), a["ttd"]["campaign_id"].as_str());
    assert_eq!(c.campaign_name, "Launch");
    assert_eq!(c.budget.amount, 5000.0);
    assert_eq!(c.daily_budget.as_ref().map(|m| m.amount), Some(250.0));
    assert_eq!(c.start_date, "2027-01-15T00:00:00Z");
    assert_eq!(c.end_date.as_deref(), Some("2027-03-31T23:59:59Z"));
    assert_eq!(c.pacing_mode, "PaceEvenly");
    assert_eq!(c.availability, "Available");
    assert_eq!(h.creatives.len(), 1);
    let cr = &h.creatives[0];
    assert_eq!(cr.creative_name, "Banner");
    assert_eq!(
        cr.image_attributes.as_ref().unwrap().clickthrough_url,
        "https://acmecloud.com/demo"
    );
    assert_eq!(h.ad_groups.len(), 1);
    let g = &h.ad_groups[0];
    assert_eq!(g.ad_group_name, "Enterprise");
    assert_eq!(g.rtb_attributes.base_bid_cpm.amount, 4.25);
    assert_eq!(g.rtb_attributes.max_bid_cpm.amount, 9.0);
    assert_eq!(g.rtb_attributes.budget_settings.budget.amount, 3000.0);
    assert_eq!(
        g.rtb_attributes
            .frequency_settings
            .as_ref()
            .map(|f| (f.frequency_cap, f.frequency_period_in_minutes)),
        Some((3, 1440))
    );
    assert_eq!(
        g.rtb_attributes.creative_ids,
        vec![cr.creative_id.clone().unwrap()]
    );
    assert_eq!(
        a["ttd"]["ad_group_ids"]
            .as_object()
            .unwrap()
            .values()
            .next()
            .and_then(Value::as_str),
        g.ad_group_id.as_deref()
    );

    // What the sandbox (this app's own) and the app had counted so far.
    let sandbox_url = p.app.url("/sandbox/ttd");
    let sent_before = sandbox_requests(&sandbox_url).await;
    assert_eq!(
        sent(&sent_before, "POST /v3/advertiser"),
        1,
        "the advertiser was created once: {sent_before}"
    );
    let metrics_before = scrape(&p.app).await;

    // Pausing reaches TTD as Availability.
    f.api
        .post(&format!("/v1/campaigns/{id}/pause"), &f.admin, json!({}))
        .await;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let a = f.activation(&id).await;
        let got: Campaign = client.get(c.campaign_id.as_deref().unwrap()).await.unwrap();
        if a["status"] == "synced" && got.availability == "Paused" {
            break;
        }
        assert!(Instant::now() < deadline, "pause not synced: {a}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Still one of each; and the unchanged advertiser was not sent again.
    let h = holdings(&client).await;
    assert_eq!(
        (
            h.advertisers.len(),
            h.campaigns.len(),
            h.ad_groups.len(),
            h.creatives.len()
        ),
        (1, 1, 1, 1)
    );
    let sent_after = sandbox_requests(&sandbox_url).await;
    let moved = |endpoint: &str| sent(&sent_after, endpoint) - sent(&sent_before, endpoint);
    assert!(
        moved("PUT /v3/campaign") >= 1,
        "the pause was sent: {sent_after}"
    );
    for endpoint in ["POST /v3/advertiser", "PUT /v3/advertiser"] {
        assert_eq!(moved(endpoint), 0, "{endpoint} sent again: {sent_after}");
    }
    // The app's counters say the same (deltas: the recorder is process-wide).
    let metrics = scrape(&p.app).await;
    let grew = |series: &str| delta(&metrics_before, &metrics, series);
    assert!(grew(r#"p360_ttd_objects_total{object="advertiser",action="unchanged"}"#) >= 1.0);
    assert!(grew(r#"p360_ttd_sync_total{object="campaign",outcome="synced"}"#) >= 1.0);
    assert!(grew(r#"p360_ttd_requests_total{endpoint="PUT /v3/campaign",status="200"}"#) >= 1.0);
    eprintln!("first sync took {synced_in:?}");
    stop.trigger();
    handle.await.unwrap().unwrap();
}

/// A change to a live campaign waits beside it: the campaign keeps its status
/// and TTD keeps spending by the approved version, while the API shows the
/// pending change (diff, maker, time). Its maker cannot approve it; another
/// approver's approval pushes it (with its ad groups' changes and a
/// creative's new click URL); a rejection drops it. Pausing still works
/// meanwhile.
#[tokio::test]
async fn a_change_to_a_live_campaign_waits_beside_the_version_ttd_runs() {
    let p = Platform::start().await;
    let (stop, handle) = worker(&p, |_| {});
    let f = platform_fixture(&p).await;
    let id = f.submitted_campaign("Live").await;
    f.approve(&id).await;
    f.wait_synced(std::slice::from_ref(&id), Duration::from_secs(20))
        .await;
    let client = ttd(&p.app.url("/sandbox/ttd"), 3);
    let in_ttd = || {
        let client = &client;
        async move {
            let h = holdings(client).await;
            assert_eq!(h.campaigns.len(), 1);
            let c = &h.campaigns[0];
            (
                c.budget.amount,
                c.pacing_mode.clone(),
                c.availability.clone(),
            )
        }
    };
    assert_eq!(
        in_ttd().await,
        (5000.0, "PaceEvenly".into(), "Available".into())
    );
    let patch_at = |token: &str, path: String, body: Value| {
        let (api, token) = (&f.api, token.to_string());
        async move {
            let res = api
                .client
                .get(format!("{}{path}", api.base))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap();
            let etag = res.headers()["etag"].to_str().unwrap().to_string();
            let res = api
                .client
                .patch(format!("{}{path}", api.base))
                .bearer_auth(&token)
                .header("if-match", etag)
                .json(&body)
                .send()
                .await
                .unwrap();
            (res.status().as_u16(), res.json::<Value>().await.unwrap())
        }
    };
    let patch = |token: &str, body: Value| patch_at(token, format!("/v1/campaigns/{id}"), body);
    let act = |token: &str, action: &str, body: Value| {
        let path = format!("/v1/campaigns/{id}/{action}");
        let (api, token) = (&f.api, token.to_string());
        async move {
            api.call(reqwest::Method::POST, &path, &token, Some(body))
                .await
        }
    };
    let admin_ref = f.api.get("/v1/me", &f.admin).await["id"].clone();

    // The change waits beside the live version.
    let (s, c) = patch(
        &f.admin,
        json!({"budget": {"amount": "6000", "currency": "USD"}, "pacing": "asap", "name": "Live (renamed)"}),
    )
    .await;
    assert_eq!(s, 200, "{c}");
    assert_eq!(c["status"], "approved", "the live version's status: {c}");
    assert_eq!(c["budget"]["amount"], "5000.00");
    assert_eq!(c["pacing"], "even");
    assert_eq!(c["name"], "Live (renamed)", "a rename needs no approval");
    let change = &c["pending_change"];
    assert_eq!(
        change["changes"]["budget"]["before"]["amount"], "5000.00",
        "{c}"
    );
    assert_eq!(change["changes"]["budget"]["after"]["amount"], "6000.00");
    assert_eq!(
        change["changes"]["pacing"],
        json!({"before": "even", "after": "asap"})
    );
    assert_eq!(
        change["submitted_by"],
        format!("user:{}", admin_ref.as_str().unwrap())
    );
    assert!(change["submitted_at"].is_string());
    // TTD keeps spending by the approved version.
    f.wait_synced(std::slice::from_ref(&id), Duration::from_secs(20))
        .await;
    assert_eq!(in_ttd().await.0, 5000.0);

    // Its maker cannot approve it; a pause still reaches TTD meanwhile.
    let (s, body) = act(&f.admin, "approve", json!({})).await;
    assert_eq!(s, 403, "{body}");
    let (s, c) = act(&f.admin, "pause", json!({})).await;
    assert_eq!((s, c["status"].as_str()), (200, Some("paused")), "{c}");
    assert!(
        c["pending_change"].is_object(),
        "the change still waits: {c}"
    );
    f.wait_synced(std::slice::from_ref(&id), Duration::from_secs(20))
        .await;
    assert_eq!(
        in_ttd().await,
        (5000.0, "PaceEvenly".into(), "Paused".into())
    );
    // A new bid for its ad group joins the change; TTD keeps the old one.
    let groups = f
        .api
        .get(&format!("/v1/campaigns/{id}/ad-groups"), &f.admin)
        .await;
    let gid = groups[0]["id"].as_str().unwrap().to_string();
    let res = f
        .api
        .client
        .patch(format!("{}/v1/ad-groups/{gid}", f.api.base))
        .bearer_auth(&f.admin)
        .header("if-match", "\"v1\"")
        .json(&json!({"base_bid_cpm": {"amount": "5", "currency": "USD"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let c = f.api.get(&format!("/v1/campaigns/{id}"), &f.admin).await;
    assert_eq!(c["pending_change"]["ad_groups"][&gid], "update", "{c}");
    f.wait_synced(std::slice::from_ref(&id), Duration::from_secs(20))
        .await;
    let bid = || {
        let client = &client;
        async move {
            holdings(client).await.ad_groups[0]
                .rtb_attributes
                .base_bid_cpm
                .amount
        }
    };
    assert_eq!(bid().await, 4.25);

    // Another approver's approval makes it live and pushes it.
    let (s, c) = act(&f.approver, "approve", json!({})).await;
    assert_eq!(s, 200, "{c}");
    assert_eq!(c["status"], "paused");
    assert_eq!(c["budget"]["amount"], "6000.00");
    assert_eq!(c["pacing"], "asap");
    assert!(c["pending_change"].is_null(), "{c}");
    assert_eq!(c["submitted_by"], change["submitted_by"]);
    f.wait_synced(std::slice::from_ref(&id), Duration::from_secs(20))
        .await;
    assert_eq!(
        in_ttd().await,
        (6000.0, "PaceAsSoonAsPossible".into(), "Paused".into())
    );
    assert_eq!(bid().await, 5.0);

    // A rejected change is dropped: nothing of it reaches TTD.
    let (s, c) = patch(
        &f.approver,
        json!({"budget": {"amount": "9000", "currency": "USD"}}),
    )
    .await;
    assert_eq!(
        (s, c["budget"]["amount"].as_str()),
        (200, Some("6000.00")),
        "{c}"
    );
    let (s, body) = act(&f.admin, "reject", json!({})).await;
    assert_eq!(s, 422, "a rejection needs a reason: {body}");
    let (s, c) = act(&f.admin, "reject", json!({"reason": "over plan"})).await;
    assert_eq!(s, 200, "{c}");
    assert!(c["pending_change"].is_null(), "{c}");
    assert_eq!(c["rejection_reason"], "over plan");
    assert_eq!(
        (c["status"].as_str(), c["budget"]["amount"].as_str()),
        (Some("paused"), Some("6000.00"))
    );
    f.wait_synced(std::slice::from_ref(&id), Duration::from_secs(20))
        .await;
    assert_eq!(in_ttd().await.0, 6000.0);

    // A new click URL for the creative it runs waits too, and reaches TTD
    // with the approval.
    let click_url = || {
        let client = &client;
        async move {
            holdings(client).await.creatives[0]
                .image_attributes
                .as_ref()
                .unwrap()
                .clickthrough_url
                .clone()
        }
    };
    let (s, cr) = patch_at(
        &f.admin,
        format!("/v1/creatives/{}", f.creative),
        json!({"click_url": "https://acmecloud.com/spring"}),
    )
    .await;
    assert_eq!(s, 200, "{cr}");
    assert_eq!(cr["pending_click_url"], "https://acmecloud.com/spring");
    f.wait_synced(std::slice::from_ref(&id), Duration::from_secs(20))
        .await;
    assert_eq!(click_url().await, "https://acmecloud.com/demo");
    let (s, c) = act(&f.approver, "approve", json!({})).await;
    assert_eq!(s, 200, "{c}");
    f.wait_synced(std::slice::from_ref(&id), Duration::from_secs(20))
        .await;
    assert_eq!(click_url().await, "https://acmecloud.com/spring");

    // Each decision is in the audit trail with its before and after.
    let page = f
        .api
        .get(&format!("/v1/audit-events?target_id={id}"), &f.admin)
        .await;
    let actions: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for a in [
        "campaign.change_submitted",
        "campaign.change_approved",
        "campaign.change_rejected",
    ] {
        assert!(actions.contains(&a), "{a} not in {actions:?}");
    }
    stop.trigger();
    handle.await.unwrap().unwrap();
}

#[tokio::test]
async fn twenty_campaigns_converge_under_a_thirty_percent_fault_rate() {
    let base = sandbox(SandboxOptions {
        fault_rate: 0.3,
        seed: 42,
        lost_hang: Duration::from_millis(1500),
        slow: Duration::from_millis(300),
        ..Default::default()
    })
    .await;
    let p = Platform::start().await;
    let (stop, handle) = worker(&p, |c| {
        c.ttd.base_url = Some(base.clone());
        c.ttd.timeout_ms = 1000;
    });
    let f = platform_fixture(&p).await;
    let mut ids = Vec::new();
    for i in 0..20 {
        ids.push(f.submitted_campaign(&format!("Campaign {i:02}")).await);
    }
    // Approve all twenty at once.
    let mut approvals = tokio::task::JoinSet::new();
    for id in ids.clone() {
        let (api, token) = (f.api.clone(), f.approver.clone());
        approvals.spawn(async move {
            api.post(&format!("/v1/campaigns/{id}/approve"), &token, json!({}))
                .await
        });
    }
    while let Some(r) = approvals.join_next().await {
        assert_eq!(r.unwrap()["activation"]["status"], "pending");
    }
    let started = Instant::now();
    let activations = f.wait_synced(&ids, Duration::from_secs(150)).await;
    eprintln!("20 campaigns converged in {:?}", started.elapsed());

    // The queue has drained: nothing waiting, nothing dead.
    let left: Vec<(String, i64)> = sqlx::query_as(
        "SELECT status, count(*) FROM jobs WHERE kind = 'ttd.sync_campaign' GROUP BY status",
    )
    .fetch_all(&p.db.pool)
    .await
    .unwrap();
    for (status, n) in &left {
        assert!(
            status == "succeeded" || status == "superseded",
            "{left:?} ({n})"
        );
    }

    let client = ttd(&base, 10);
    let h = holdings(&client).await;
    assert_eq!(h.advertisers.len(), 1, "one advertiser");
    assert_eq!(h.campaigns.len(), 20, "exactly 20 campaigns");
    assert_eq!(
        distinct(h.campaigns.iter().map(|c| c.description.as_deref())),
        20
    );
    assert_eq!(h.ad_groups.len(), 20, "one ad group per campaign");
    assert_eq!(h.creatives.len(), 1, "the shared creative once");
    let ttd_ids: HashSet<&str> = activations
        .iter()
        .map(|a| a["ttd"]["campaign_id"].as_str().unwrap())
        .collect();
    let held: HashSet<&str> = h
        .campaigns
        .iter()
        .map(|c| c.campaign_id.as_deref().unwrap())
        .collect();
    assert_eq!(
        ttd_ids, held,
        "every P360 campaign maps to the one TTD campaign it created"
    );

    // The faults really happened, lost answers included.
    let faults = sandbox_faults(&base).await;
    let n = |k: &str| faults[k].as_u64().unwrap_or(0);
    assert!(n("lost_answer") + n("lost_hang") > 0, "{faults}");
    assert!(
        n("throttle") + n("unavailable") + n("server_error") > 0,
        "{faults}"
    );
    let adopted = reqwest::get(p.app.url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    eprintln!(
        "{}",
        adopted
            .lines()
            .filter(
                |l| l.starts_with("p360_ttd_objects_total") || l.starts_with("p360_ttd_sync_total")
            )
            .collect::<Vec<_>>()
            .join("\n")
    );
    stop.trigger();
    handle.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_sync_ttd_refuses_fails_at_once_notifies_and_can_be_retried() {
    let base = sandbox(SandboxOptions {
        login: Some("p360".into()),
        password: Some("right".into()),
        ..Default::default()
    })
    .await;
    // A webhook receiver.
    let received = std::sync::Arc::new(std::sync::Mutex::new(Vec::<Value>::new()));
    let hook = {
        let received = received.clone();
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |axum::Json(v): axum::Json<Value>| {
                let received = received.clone();
                async move {
                    received.lock().unwrap().push(v);
                    "ok"
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        format!("http://{addr}/hook")
    };
    let p = Platform::start().await;
    let ttd_config = |password: &str| {
        let (base, hook, password) = (base.clone(), hook.clone(), password.to_string());
        move |c: &mut p360::Config| {
            c.ttd.base_url = Some(base);
            c.ttd.login = "p360".into();
            c.ttd.password = Some(password.into());
            c.ttd.failure_webhook = Some(hook);
        }
    };
    let (stop, handle) = worker(&p, ttd_config("wrong"));
    let f = platform_fixture(&p).await;
    let id = f.submitted_campaign("Launch").await;
    f.approve(&id).await;

    // Wrong credentials are not retried twelve times: failed at once.
    let deadline = Instant::now() + Duration::from_secs(15);
    let activation = loop {
        let a = f.activation(&id).await;
        if a["status"] == "failed" {
            break a;
        }
        assert!(Instant::now() < deadline, "never failed: {a}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(
        activation["last_error"]
            .as_str()
            .unwrap()
            .contains("authentication"),
        "{activation}"
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while received.lock().unwrap().is_empty() {
        assert!(Instant::now() < deadline, "no webhook call");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let note = received.lock().unwrap()[0].clone();
    assert_eq!(note["event"], "activation.sync_failed");
    assert_eq!(note["campaign_id"], id.as_str());
    stop.trigger();
    handle.await.unwrap().unwrap();

    // The operator sees the dead letter, fixes the credentials and retries it.
    let dead = f
        .api
        .get(
            "/v1/jobs?status=dead&kind=ttd.sync_campaign",
            &f.platform_admin,
        )
        .await;
    let items = dead["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{dead}");
    assert_eq!(items[0]["attempts"], 1, "dead after one attempt: {dead}");
    let job = items[0]["id"].as_str().unwrap().to_string();
    let (s, body) = f
        .api
        .call(reqwest::Method::GET, "/v1/jobs", &f.admin, None)
        .await;
    assert_eq!(s, 403, "customers do not see the platform's jobs: {body}");
    let (s, body) = f
        .api
        .call(
            reqwest::Method::GET,
            "/v1/jobs?status=bogus",
            &f.platform_admin,
            None,
        )
        .await;
    assert_eq!(s, 422, "{body}");

    let (stop, handle) = worker(&p, ttd_config("right"));
    let retried = f
        .api
        .post(
            &format!("/v1/jobs/{job}/retry"),
            &f.platform_admin,
            json!({}),
        )
        .await;
    assert_eq!(retried["status"], "queued");
    assert_eq!(retried["attempts"], 0);
    f.wait_synced(std::slice::from_ref(&id), Duration::from_secs(20))
        .await;
    let (s, body) = f
        .api
        .call(
            reqwest::Method::POST,
            &format!("/v1/jobs/{job}/retry"),
            &f.platform_admin,
            Some(json!({})),
        )
        .await;
    assert_eq!(s, 409, "a succeeded job is not retried: {body}");
    // The retry is on the platform's audit chain.
    let audited: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_events WHERE action = 'job.retried' AND target_id = $1",
    )
    .bind(&job)
    .fetch_one(&p.db.pool)
    .await
    .unwrap();
    assert_eq!(audited, 1);
    stop.trigger();
    handle.await.unwrap().unwrap();
}

/// A child process killed when dropped.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn_worker(var: &str, env: &[(&str, String)], log: &std::path::Path) -> Child {
    let out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    Child(
        p360(&["worker", "--data-dir", var])
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .expect("spawn p360 worker"),
    )
}

/// The binary end to end on embedded defaults: `p360 sandbox ttd` with
/// faults, `p360 serve --no-worker`, and a `p360 worker` that is killed with
/// SIGKILL in the middle of the sync and started again.
#[tokio::test]
async fn killing_the_worker_mid_sync_still_converges() {
    use std::io::BufRead;
    let port = free_port();
    let mut sandbox = Child(
        p360(&[
            "sandbox",
            "ttd",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--fault-rate",
            "0.2",
            "--seed",
            "7",
            "--lost-hang-ms",
            "1500",
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("spawn the sandbox"),
    );
    let mut first = String::new();
    std::io::BufReader::new(sandbox.0.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(first.contains("TTD sandbox listening"), "{first}");
    let base = format!("http://127.0.0.1:{port}");

    let data = TempDir::new("kill9");
    let var = data.path().join("var");
    let var_s = var.to_str().unwrap();
    let env = [
        ("P360_TTD__BASE_URL", base.clone()),
        ("P360_TTD__TIMEOUT_MS", "1000".to_string()),
        ("P360_JOBS__CONCURRENCY", "2".to_string()),
        ("P360_JOBS__LEASE_SECS", "4".to_string()),
        ("P360_JOBS__POLL_MS", "500".to_string()),
    ];
    let served = Served::start_env(&var, &["--no-worker"], &env);
    let token = |role: &str, tenant: Option<&str>, email: &str| {
        let mut args = vec![
            "token",
            "--data-dir",
            var_s,
            "--role",
            role,
            "--email",
            email,
        ];
        if let Some(t) = tenant {
            args.extend(["--tenant", t]);
        }
        p360_ok(&args).trim().to_string()
    };
    let platform_admin = token("platform_admin", None, "admin@agency.test");
    let api = Api {
        base: served.url(""),
        client: reqwest::Client::new(),
    };
    // Tenant first: customer tokens name it.
    api.post(
        "/v1/tenants",
        &platform_admin,
        json!({"slug": "acme", "name": "Acme"}),
    )
    .await;
    let f = Fixture::new_in_tenant(
        api,
        &platform_admin,
        token("customer_admin", Some("acme"), "admin@acme.test"),
        token("customer_admin", Some("acme"), "boss@acme.test"),
    )
    .await;
    let mut ids = Vec::new();
    for i in 0..10 {
        let id = f.submitted_campaign(&format!("Campaign {i}")).await;
        f.approve(&id).await;
        ids.push(id);
    }

    let log = data.path().join("worker.log");
    let mut worker = spawn_worker(var_s, &env, &log);
    // Kill it once the sync is under way but not done.
    let deadline = Instant::now() + Duration::from_secs(60);
    let synced_at_kill = loop {
        let page = f.api.get("/v1/campaigns?limit=500", &f.admin).await;
        let synced = page["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["activation"]["status"] == "synced")
            .count();
        if synced >= 1 {
            break synced;
        }
        assert!(
            Instant::now() < deadline,
            "the worker synced nothing: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    worker.0.kill().unwrap(); // SIGKILL
    worker.0.wait().unwrap();
    eprintln!("killed the worker with {synced_at_kill}/10 campaigns synced");
    assert!(synced_at_kill < 10, "killed too late to prove anything");

    let mut worker = spawn_worker(var_s, &env, &log);
    let started = Instant::now();
    let activations = f.wait_synced(&ids, Duration::from_secs(120)).await;
    eprintln!("converged {:?} after the restart", started.elapsed());

    let h = holdings(&ttd(&base, 10)).await;
    assert_eq!(h.advertisers.len(), 1);
    assert_eq!(h.campaigns.len(), 10, "exactly 10 campaigns");
    assert_eq!(
        distinct(h.campaigns.iter().map(|c| c.description.as_deref())),
        10
    );
    assert_eq!(h.ad_groups.len(), 10);
    assert_eq!(h.creatives.len(), 1);
    let mapped: HashSet<&str> = activations
        .iter()
        .map(|a| a["ttd"]["campaign_id"].as_str().unwrap())
        .collect();
    assert_eq!(mapped.len(), 10);

    // Operators see the same through the CLI. A job the kill caught after
    // its campaign's outcome was stored but before it was marked done is
    // still `running` until its lease (4 s) expires; it then runs again
    // (finding nothing to change) and succeeds.
    let listed = Instant::now();
    let listing = loop {
        let mut cmd = p360(&[
            "jobs",
            "list",
            "--data-dir",
            var_s,
            "--kind",
            "ttd.sync_campaign",
        ]);
        cmd.envs(env.iter().map(|(k, v)| (*k, v.as_str())));
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let listing = String::from_utf8_lossy(&out.stdout).into_owned();
        let succeeded = listing
            .lines()
            .filter(|l| l.contains(" succeeded "))
            .count();
        if succeeded >= 10 && !listing.contains(" running ") && !listing.contains(" queued ") {
            break listing;
        }
        assert!(
            listed.elapsed() < Duration::from_secs(60),
            "the jobs did not all finish: {listing}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert!(!listing.contains(" dead "), "{listing}");
    let out = p360(&["jobs", "list", "--data-dir", var_s, "--status", "bogus"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--status must be one of"));

    // A planned stop drains and exits cleanly.
    // SAFETY: kill(2) with a pid we spawned.
    unsafe { libc::kill(worker.0.id() as i32, libc::SIGTERM) };
    let status = worker.0.wait().unwrap();
    assert_eq!(status.code(), Some(0));
    drop(served);
}

/// The newcomer's path: `p360 serve` with nothing configured runs the TTD
/// sandbox and a worker in-process; an approved campaign is synced within
/// seconds and TTD's own API (on the sandbox) shows it.
#[tokio::test]
async fn on_embedded_defaults_serve_syncs_to_its_own_sandbox() {
    let data = TempDir::new("embedded-ttd");
    let var = data.path().join("var");
    let var_s = var.to_str().unwrap();
    let served = Served::start(&var, &[]);
    let token = |role: &str, tenant: Option<&str>, email: &str| {
        let mut args = vec![
            "token",
            "--data-dir",
            var_s,
            "--role",
            role,
            "--email",
            email,
        ];
        if let Some(t) = tenant {
            args.extend(["--tenant", t]);
        }
        p360_ok(&args).trim().to_string()
    };
    let platform_admin = token("platform_admin", None, "admin@agency.test");
    let api = Api {
        base: served.url(""),
        client: reqwest::Client::new(),
    };
    api.post(
        "/v1/tenants",
        &platform_admin,
        json!({"slug": "acme", "name": "Acme"}),
    )
    .await;
    let f = Fixture::new_in_tenant(
        api,
        &platform_admin,
        token("customer_admin", Some("acme"), "admin@acme.test"),
        token("customer_admin", Some("acme"), "boss@acme.test"),
    )
    .await;
    let id = f.submitted_campaign("Launch").await;
    f.approve(&id).await;
    let started = Instant::now();
    let a = f
        .wait_synced(std::slice::from_ref(&id), Duration::from_secs(10))
        .await
        .remove(0);
    eprintln!("synced {:?} after the approval", started.elapsed());

    // Ask the sandbox as a TTD API user would.
    let http = reqwest::Client::new();
    let auth: Value = http
        .post(served.url("/sandbox/ttd/v3/authentication"))
        .json(&json!({"Login": "analyst", "Password": "x", "TokenExpirationInMinutes": 10}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ttd_token = auth["Token"].as_str().unwrap();
    let page: Value = http
        .post(served.url("/sandbox/ttd/v3/campaign/query/advertiser"))
        .header("TTD-Auth", ttd_token)
        .json(&json!({"AdvertiserId": a["ttd"]["advertiser_id"], "PageStartIndex": 0, "PageSize": 10}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(page["TotalFilteredCount"], 1, "{page}");
    let c = &page["Result"][0];
    assert_eq!(c["CampaignId"], a["ttd"]["campaign_id"]);
    assert_eq!(c["CampaignName"], "Launch");
    assert_eq!(
        c["Budget"],
        json!({"Amount": 5000.0, "CurrencyCode": "USD"})
    );
    assert_eq!(c["Availability"], "Available");
    let groups: Value = http
        .post(served.url("/sandbox/ttd/v3/adgroup/query/campaign"))
        .header("TTD-Auth", ttd_token)
        .json(&json!({"CampaignId": c["CampaignId"], "PageStartIndex": 0, "PageSize": 10}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(groups["ResultCount"], 1, "{groups}");
    assert_eq!(
        groups["Result"][0]["RTBAttributes"]["CreativeIds"],
        json!([a["ttd"]["creative_ids"][&f.creative]])
    );
    drop(served);
}

/// TTD asks for at most four calls in flight per endpoint: twelve concurrent
/// calls through one client never overlap more than that.
#[tokio::test]
async fn the_client_keeps_at_most_four_calls_in_flight_per_endpoint() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let now = std::sync::Arc::new(AtomicUsize::new(0));
    let peak = std::sync::Arc::new(AtomicUsize::new(0));
    let (n, p) = (now.clone(), peak.clone());
    let app = axum::Router::new()
        .route(
            "/v3/authentication",
            axum::routing::post(|| async { axum::Json(json!({"Token": "t"})) }),
        )
        .route(
            "/v3/campaign/query/advertiser",
            axum::routing::post(move || {
                let (n, p) = (n.clone(), p.clone());
                async move {
                    let inside = n.fetch_add(1, Ordering::SeqCst) + 1;
                    p.fetch_max(inside, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(150)).await;
                    n.fetch_sub(1, Ordering::SeqCst);
                    axum::Json(json!({"Result": [], "ResultCount": 0, "TotalFilteredCount": 0}))
                }
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let client = ttd(&base, 0);
    let started = Instant::now();
    let mut calls = tokio::task::JoinSet::new();
    for _ in 0..12 {
        let client = client.clone();
        calls.spawn(async move { client.query_page::<Campaign>("adv", 0, 10).await });
    }
    while let Some(r) = calls.join_next().await {
        r.unwrap().unwrap();
    }
    assert_eq!(peak.load(Ordering::SeqCst), 4, "peak concurrency");
    // Twelve calls four at a time: three rounds of 150 ms.
    assert!(
        started.elapsed() >= Duration::from_millis(440),
        "{:?}",
        started.elapsed()
    );
}

/// The sync is a consumer of the outbox: approving a campaign writes a
/// `campaign.approved` event in the approval's transaction, the relay hands
/// it to activation (moving activation's cursor past it), and the sync job
/// activation queues names that event. A change rolled back leaves neither
/// an event nor a sync.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sync_is_triggered_by_consuming_the_approved_event() {
    let p = Platform::start().await;
    let (stop, handle) = worker(&p, |_| {});
    let f = platform_fixture(&p).await;
    let id = f.submitted_campaign("Launch").await;
    f.approve(&id).await;
    f.wait_synced(std::slice::from_ref(&id), Duration::from_secs(20))
        .await;
    let db = &p.db.pool;
    let campaign: uuid::Uuid = id.parse().unwrap();
    let (event, event_tx, event_seq): (uuid::Uuid, String, i64) = sqlx::query_as(
        "SELECT id, tx_id::text, seq FROM domain_events \
         WHERE aggregate_id = $1 AND event_type = 'campaign.approved'",
    )
    .bind(campaign)
    .fetch_one(db)
    .await
    .unwrap();
    let syncs: Vec<Value> = sqlx::query_scalar(
        "SELECT payload FROM jobs WHERE kind = 'ttd.sync_campaign' AND payload->>'campaign_id' = $1",
    )
    .bind(&id)
    .fetch_all(db)
    .await
    .unwrap();
    assert_eq!(syncs.len(), 1, "{syncs:?}");
    assert_eq!(syncs[0]["event_id"], json!(event), "{syncs:?}");
    let consumed: bool = sqlx::query_scalar(
        "SELECT (last_tx, last_seq) >= ($1::text::xid8, $2) FROM event_consumers WHERE name = 'activation'",
    )
    .bind(&event_tx)
    .bind(event_seq)
    .fetch_one(db)
    .await
    .unwrap();
    assert!(consumed, "activation's cursor is past the approved event");

    // The same service the API calls, in a transaction that is rolled back.
    let tenant: uuid::Uuid = sqlx::query_scalar("SELECT tenant_id FROM campaigns WHERE id = $1")
        .bind(campaign)
        .fetch_one(db)
        .await
        .unwrap();
    let campaign_events = || {
        sqlx::query_scalar!(
            r#"SELECT count(*) AS "n!" FROM domain_events WHERE aggregate_id = $1"#,
            campaign
        )
        .fetch_one(db)
    };
    let events_before = campaign_events().await.unwrap();
    let syncs_jobs = "SELECT count(*) FROM jobs WHERE kind = 'ttd.sync_campaign'";
    let jobs_before: i64 = sqlx::query_scalar(syncs_jobs).fetch_one(db).await.unwrap();
    let ops_id = tenancy::principal::UserId::new();
    let ops = tenancy::Principal {
        actor: tenancy::principal::Actor::User(ops_id),
        person: Some(ops_id),
        role: tenancy::roles::Role::CustomerAdmin,
        tenant: Some(tenancy::TenantId(tenant)),
        assigned: Vec::new(),
        email: None,
        meta: Default::default(),
    };
    let mut tx = tenancy::TenantTx::begin(&p.app.state.pool, tenancy::TenantId(tenant))
        .await
        .unwrap();
    let paused = campaigns::campaigns::service::transition(
        &mut tx,
        &ops,
        campaigns::CampaignId(campaign),
        campaigns::campaigns::Action::Pause,
        None,
    )
    .await
    .unwrap();
    assert_eq!(paused.status, campaigns::campaigns::CampaignStatus::Paused);
    drop(tx); // rolled back
    // A committed change after it (a campaign submitted, which needs no
    // sync): once activation's cursor is past that one's events, the relay
    // has run after the rollback and would have seen anything it left.
    let control: uuid::Uuid = f.submitted_campaign("Control").await.parse().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let past = sqlx::query_scalar!(
            r#"SELECT coalesce(bool_and((c.last_tx, c.last_seq) >= (e.tx_id, e.seq)), false) AS "past!"
               FROM domain_events e, event_consumers c
               WHERE e.aggregate_id = $1 AND c.name = 'activation'"#,
            control
        )
        .fetch_one(db)
        .await
        .unwrap();
        if past {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "activation never consumed the later change"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let events_after = campaign_events().await.unwrap();
    let jobs_after: i64 = sqlx::query_scalar(syncs_jobs).fetch_one(db).await.unwrap();
    assert_eq!(
        events_after, events_before,
        "no event from a rolled-back change"
    );
    assert_eq!(jobs_after, jobs_before, "no relay, no sync");
    let shown = f.api.get(&format!("/v1/campaigns/{id}"), &f.admin).await;
    assert_eq!(shown["status"], "approved");
    assert_eq!(shown["activation"]["status"], "synced", "{shown}");
    stop.trigger();
    handle.await.unwrap().unwrap();
}

/// TTD applies a campaign create only after the client gave up on it (504)
/// and after the next attempt's look-up found nothing, so the sync creates
/// the campaign again. The duplicate check archives the one P360 does not
/// map: TTD ends with one live campaign, and the duplicate is visible as such.
#[tokio::test]
async fn a_create_ttd_applies_late_leaves_one_live_object() {
    let base = sandbox(SandboxOptions::default()).await;
    let p = Platform::start().await;
    let (stop, handle) = worker(&p, |c| {
        c.ttd.base_url = Some(base.clone());
        // Well after the sync's retry (backoff 1-1.5 s, polled every 0.5 s):
        // the check's own look-up would otherwise land the held create
        // first, and the retry would adopt it (one object, no duplicate).
        c.ttd.duplicate_check_after_ms = 5000;
    });
    let f = platform_fixture(&p).await;
    let id = f.submitted_campaign("Late").await;
    let armed = reqwest::Client::new()
        .post(format!("{base}/_sandbox/faults/arm"))
        .json(&json!({"fault": "late_apply", "path": "campaign"}))
        .send()
        .await
        .unwrap();
    assert_eq!(armed.status(), 204);
    let archived = "p360_ttd_duplicates_archived_total{object=\"campaign\"}";
    let before = scrape(&p.app).await;
    f.approve(&id).await;
    let activation = f
        .wait_synced(std::slice::from_ref(&id), Duration::from_secs(30))
        .await
        .remove(0);
    let mapped = activation["ttd"]["campaign_id"]
        .as_str()
        .unwrap()
        .to_owned();

    // The late create landed: two campaigns carry the marker, until the
    // check archives one.
    let client = ttd(&base, 3);
    let marker = format!("p360:campaign:{id}");
    let started = Instant::now();
    let h = loop {
        let h = holdings(&client).await;
        if h.campaigns.iter().any(|c| c.availability == "Archived") {
            break h;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no duplicate archived: {:#?}",
            h.campaigns
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(h.campaigns.len(), 2, "the sync's create and the late one");
    let live: Vec<&Campaign> = h
        .campaigns
        .iter()
        .filter(|c| c.availability != "Archived")
        .collect();
    assert_eq!(live.len(), 1, "{:#?}", h.campaigns);
    assert_eq!(live[0].campaign_id.as_deref(), Some(mapped.as_str()));
    assert_eq!(live[0].description.as_deref(), Some(marker.as_str()));
    let duplicate = h
        .campaigns
        .iter()
        .find(|c| c.availability == "Archived")
        .unwrap();
    assert_ne!(duplicate.campaign_id.as_deref(), Some(mapped.as_str()));
    assert_eq!(
        duplicate.description.as_deref(),
        Some(format!("{marker}:duplicate").as_str())
    );
    assert_eq!(h.advertisers.len(), 1);
    assert_eq!(h.creatives.len(), 1);
    assert_eq!(
        h.ad_groups.len(),
        1,
        "ad groups only under the live campaign"
    );
    assert_eq!(h.ad_groups[0].campaign_id, mapped);
    assert_eq!(delta(&before, &scrape(&p.app).await, archived), 1.0);

    let faults = sandbox_faults(&base).await;
    assert_eq!(faults["late_apply"], 1, "{faults}");
    // The campaign still shows synced to its one live TTD campaign.
    let shown = f.activation(&id).await;
    assert_eq!(shown["status"], "synced");
    assert_eq!(shown["ttd"]["campaign_id"], mapped);
    stop.trigger();
    handle.await.unwrap().unwrap();
}
