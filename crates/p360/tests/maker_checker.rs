//! Maker-checker cannot be walked around: the attacks of issue 15, each
//! performed through the public API and shown refused. The rule compares
//! people, not credentials; whoever last changed a pending version is its
//! maker; an API key acts for the user who created it and stops with them.

mod common;

use common::*;
use reqwest::Method;
use serde_json::{Value, json};

struct Acme {
    p: Platform,
    /// Customer admin "Alice", who will try to approve her own work.
    alice: String,
    /// A second customer admin, the legitimate checker.
    bob: String,
    marketer: String,
    io: String,
}

async fn acme() -> Acme {
    let p = Platform::start().await;
    p.tenant("acme").await;
    let alice = p.token("customer_admin", Some("acme"), "alice@acme.test");
    let bob = p.token("customer_admin", Some("acme"), "bob@acme.test");
    let marketer = p.token("marketer", Some("acme"), "m@acme.test");
    let (s, adv) = p
        .post(
            "/v1/advertisers",
            &alice,
            json!({"name": "Acme Cloud", "domain": "acmecloud.com", "currency": "USD", "industry": "software"}),
        )
        .await;
    assert_eq!(s, 201, "{adv}");
    let (s, io) = p
        .post_as_staff(
            "acme",
            "/v1/insertion-orders",
            json!({
                "advertiser_id": adv["id"], "name": "FY27 H1", "number": "IO-001",
                "budget": {"amount": "100000.00", "currency": "USD"},
                "start_date": "2027-01-01", "end_date": "2027-06-30",
                "pricing": {"model": "cpm", "rate": {"amount": "12.50", "currency": "USD"}}
            }),
        )
        .await;
    assert_eq!(s, 201, "{io}");
    Acme {
        alice,
        bob,
        marketer,
        io: io["id"].as_str().unwrap().to_string(),
        p,
    }
}

impl Acme {
    async fn campaign(&self, by: &str, name: &str) -> String {
        let (s, c) = self
            .p
            .post(
                "/v1/campaigns",
                by,
                json!({
                    "insertion_order_id": self.io, "name": name, "objective": "pipeline",
                    "budget": {"amount": "5000", "currency": "USD"},
                    "flight": {"start": "2027-01-15", "end": "2027-03-31"}, "pacing": "even"
                }),
            )
            .await;
        assert_eq!(s, 201, "{c}");
        c["id"].as_str().unwrap().to_string()
    }

    async fn act(&self, token: &str, id: &str, action: &str) -> (u16, Value) {
        let (s, v) = self
            .p
            .call(
                Method::POST,
                &format!("/v1/campaigns/{id}/{action}"),
                Some(token),
                None,
            )
            .await;
        (s.as_u16(), v)
    }

    /// The campaign's current ETag.
    async fn etag(&self, id: &str) -> String {
        let res = self
            .p
            .client
            .get(self.p.app.url(&format!("/v1/campaigns/{id}")))
            .bearer_auth(&self.bob)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        res.headers()["etag"].to_str().unwrap().to_string()
    }

    /// A customer_admin API key minted by `by`; returns (id, secret).
    async fn key(&self, by: &str, name: &str) -> (String, String) {
        let (s, k) = self
            .p
            .post(
                "/v1/api-keys",
                by,
                json!({"name": name, "role": "customer_admin"}),
            )
            .await;
        assert_eq!(s, 201, "{k}");
        (
            k["id"].as_str().unwrap().to_string(),
            k["secret"].as_str().unwrap().to_string(),
        )
    }

    async fn user_id(&self, token: &str) -> String {
        let (s, me) = self.p.get("/v1/me", token).await;
        assert_eq!(s, 200, "{me}");
        me["id"].as_str().unwrap().to_string()
    }

    async fn audit_actions(&self, campaign: &str) -> Vec<(String, String)> {
        let (s, page) = self
            .p
            .get(
                &format!("/v1/audit-events?target_id={campaign}&limit=50"),
                &self.bob,
            )
            .await;
        assert_eq!(s, 200, "{page}");
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    e["action"].as_str().unwrap_or_default().to_string(),
                    e["actor_type"].as_str().unwrap_or_default().to_string(),
                )
            })
            .collect()
    }
}

#[tokio::test]
async fn an_api_key_is_the_person_who_minted_it() {
    let a = acme().await;
    let (_, alice_key) = a.key(&a.alice, "alice-automation").await;
    let alice_id = a.user_id(&a.alice).await;

    // Attack 1: submit with her own sign-in, approve with her key.
    let id = a.campaign(&a.marketer, "Launch").await;
    assert_eq!(a.act(&a.alice, &id, "submit").await.0, 200);
    let (s, body) = a.act(&alice_key, &id, "approve").await;
    assert_eq!(s, 403, "approving her own submission through a key: {body}");
    assert_eq!(body["type"], "urn:p360:problem:forbidden");

    // Attack 2: submit with the key, approve with her sign-in.
    let id2 = a.campaign(&a.marketer, "Second").await;
    let (s, c) = a.act(&alice_key, &id2, "submit").await;
    assert_eq!(s, 200, "{c}");
    assert_eq!(c["submitted_by"], format!("user:{alice_id}"), "{c}");
    let (s, body) = a.act(&a.alice, &id2, "approve").await;
    assert_eq!(s, 403, "{body}");

    // A second person approves either, with a key of their own too.
    let (_, bob_key) = a.key(&a.bob, "bob-automation").await;
    let (s, c) = a.act(&bob_key, &id, "approve").await;
    assert_eq!((s, c["status"].as_str()), (200, Some("approved")), "{c}");
    let (s, c) = a.act(&a.bob, &id2, "approve").await;
    assert_eq!((s, c["status"].as_str()), (200, Some("approved")), "{c}");
    // The audit trail still names the credential that acted.
    assert!(
        a.audit_actions(&id2)
            .await
            .contains(&("campaign.submitted".into(), "api_key".into())),
        "{:?}",
        a.audit_actions(&id2).await
    );
}

#[tokio::test]
async fn a_key_that_acts_for_no_one_can_never_approve() {
    let a = acme().await;
    let (key_id, key) = a.key(&a.alice, "service").await;
    // A service identity: a key no user created.
    let key_uuid: uuid::Uuid = key_id.parse().unwrap();
    sqlx::query!(
        "UPDATE api_keys SET created_by = NULL WHERE id = $1",
        key_uuid
    )
    .execute(&a.p.db.pool)
    .await
    .unwrap();
    let id = a.campaign(&a.marketer, "Launch").await;
    assert_eq!(a.act(&a.marketer, &id, "submit").await.0, 200);
    let (s, body) = a.act(&key, &id, "approve").await;
    assert_eq!(s, 403, "{body}");
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("acts for no user"),
        "{body}"
    );
    // It may still do what its role allows short of approving.
    let (s, c) = a.act(&key, &id, "reject").await;
    assert_eq!(
        s, 422,
        "a rejection needs a reason, so the role got that far: {c}"
    );
}

#[tokio::test]
async fn an_approver_who_edits_a_pending_version_becomes_its_maker() {
    let a = acme().await;
    let id = a.campaign(&a.marketer, "Launch").await;
    let (s, c) = a.act(&a.marketer, &id, "submit").await;
    assert_eq!(s, 200, "{c}");
    let marketer_ref = c["submitted_by"].as_str().unwrap().to_string();

    // Attack: the approver raises the budget of the pending version, then
    // approves her own change.
    let res =
        a.p.client
            .patch(a.p.app.url(&format!("/v1/campaigns/{id}")))
            .bearer_auth(&a.alice)
            .header("if-match", a.etag(&id).await)
            .json(&json!({"budget": {"amount": "90000", "currency": "USD"}}))
            .send()
            .await
            .unwrap();
    assert_eq!(res.status(), 200);
    let edited: Value = res.json().await.unwrap();
    assert_eq!(edited["status"], "pending_approval", "{edited}");
    let alice_id = a.user_id(&a.alice).await;
    assert_eq!(edited["submitted_by"], format!("user:{alice_id}"));
    assert_ne!(edited["submitted_by"], marketer_ref.as_str());
    let (s, body) = a.act(&a.alice, &id, "approve").await;
    assert_eq!(s, 403, "{body}");

    // Even a name-only edit makes her the maker of what is approved.
    let id2 = a.campaign(&a.marketer, "Other").await;
    assert_eq!(a.act(&a.marketer, &id2, "submit").await.0, 200);
    let res =
        a.p.client
            .patch(a.p.app.url(&format!("/v1/campaigns/{id2}")))
            .bearer_auth(&a.bob)
            .header("if-match", a.etag(&id2).await)
            .json(&json!({"name": "Other, renamed"}))
            .send()
            .await
            .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(a.act(&a.bob, &id2, "approve").await.0, 403);

    // The marketer, who did not make the last change, may not approve (role);
    // the other admin may.
    let (s, c) = a.act(&a.bob, &id, "approve").await;
    assert_eq!((s, c["status"].as_str()), (200, Some("approved")), "{c}");
    let (s, c) = a.act(&a.alice, &id2, "approve").await;
    assert_eq!((s, c["status"].as_str()), (200, Some("approved")), "{c}");

    // The same holds for a pending change of a live campaign: the marketer
    // proposes a budget, Alice raises it further, and may not approve it.
    let proposed = a
        .patch(
            &format!("/v1/campaigns/{id}"),
            json!({"budget": {"amount": "20000", "currency": "USD"}}),
        )
        .await;
    assert_eq!(proposed["status"], "approved", "{proposed}");
    let res =
        a.p.client
            .patch(a.p.app.url(&format!("/v1/campaigns/{id}")))
            .bearer_auth(&a.alice)
            .header("if-match", a.etag(&id).await)
            .json(&json!({"budget": {"amount": "95000", "currency": "USD"}}))
            .send()
            .await
            .unwrap();
    assert_eq!(res.status(), 200);
    let edited: Value = res.json().await.unwrap();
    let change = &edited["pending_change"];
    assert_eq!(
        change["submitted_by"],
        format!("user:{alice_id}"),
        "{edited}"
    );
    assert_eq!(change["changes"]["budget"]["after"]["amount"], "95000.00");
    let (s, body) = a.act(&a.alice, &id, "approve").await;
    assert_eq!(s, 403, "{body}");
    let (s, c) = a.act(&a.bob, &id, "approve").await;
    assert_eq!(
        (s, c["budget"]["amount"].as_str()),
        (200, Some("95000.00")),
        "{c}"
    );

    // Attack: Bob proposes a change, Alice adds to it (so she is its last
    // maker), and Bob approves his own part. Everyone who had a hand in a
    // change is its maker: neither may approve; a third approver may.
    for (who, change) in [
        (&a.bob, json!({"pacing": "asap"})),
        (
            &a.alice,
            json!({"daily_cap": {"amount": "500", "currency": "USD"}}),
        ),
    ] {
        let res =
            a.p.client
                .patch(a.p.app.url(&format!("/v1/campaigns/{id}")))
                .bearer_auth(who)
                .header("if-match", a.etag(&id).await)
                .json(&change)
                .send()
                .await
                .unwrap();
        assert_eq!(res.status(), 200);
    }
    let (_, c) = a.p.get(&format!("/v1/campaigns/{id}"), &a.bob).await;
    let bob_id = a.user_id(&a.bob).await;
    assert_eq!(
        c["pending_change"]["makers"],
        json!([format!("user:{bob_id}"), format!("user:{alice_id}")]),
        "{c}"
    );
    assert_eq!(a.act(&a.bob, &id, "approve").await.0, 403);
    assert_eq!(a.act(&a.alice, &id, "approve").await.0, 403);
    let carol = a.p.token("customer_admin", Some("acme"), "carol@acme.test");
    let (s, c) = a.act(&carol, &id, "approve").await;
    assert_eq!((s, c["pacing"].as_str()), (200, Some("asap")), "{c}");
}

#[tokio::test]
async fn api_keys_stop_at_once_with_their_deactivated_creator() {
    let a = acme().await;
    let (_, alice_key) = a.key(&a.alice, "alice-automation").await;
    let alice_id = a.user_id(&a.alice).await;
    // The key works, and is cached as working.
    for _ in 0..2 {
        let (s, body) = a.p.get("/v1/campaigns", &alice_key).await;
        assert_eq!(s, 200, "{body}");
    }
    let (s, body) =
        a.p.call(
            Method::PATCH,
            &format!("/v1/users/{alice_id}"),
            Some(&a.bob),
            Some(json!({"status": "deactivated"})),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    // At once: no cache entry outlives the deactivation.
    let (s, body) = a.p.get("/v1/campaigns", &alice_key).await;
    assert_eq!(s, 401, "{body}");
    assert!(
        body["detail"].as_str().unwrap().contains("deactivated"),
        "{body}"
    );
    // Bob's keys are untouched.
    let (_, bob_key) = a.key(&a.bob, "bob-automation").await;
    assert_eq!(a.p.get("/v1/campaigns", &bob_key).await.0, 200);
}

#[tokio::test]
async fn a_maker_recorded_as_a_key_before_the_upgrade_is_its_creator() {
    let a = acme().await;
    let (key_id, _) = a.key(&a.alice, "alice-automation").await;
    let id = a.campaign(&a.marketer, "Launch").await;
    assert_eq!(a.act(&a.marketer, &id, "submit").await.0, 200);
    // What an earlier version recorded when Alice submitted with her key.
    let campaign: uuid::Uuid = id.parse().unwrap();
    sqlx::query!(
        "UPDATE campaigns SET submitted_by = 'api_key:' || $1 WHERE id = $2",
        key_id,
        campaign
    )
    .execute(&a.p.db.pool)
    .await
    .unwrap();
    let (s, body) = a.act(&a.alice, &id, "approve").await;
    assert_eq!(s, 403, "{body}");
    let (s, c) = a.act(&a.bob, &id, "approve").await;
    assert_eq!((s, c["status"].as_str()), (200, Some("approved")), "{c}");
}

impl Acme {
    /// A staff member with `role`, assigned to acme.
    async fn assigned_staff(&self, role: &str, email: &str) -> String {
        let token = self.p.token(role, None, email);
        let id = self.user_id(&token).await;
        let (s, body) = self
            .p
            .call(
                Method::PUT,
                &format!("/v1/users/{id}/tenants"),
                Some(&self.p.admin()),
                Some(json!({"tenants": ["acme"]})),
            )
            .await;
        assert_eq!(s, 200, "{body}");
        token
    }

    /// PATCH the insertion order as `token` (staff name the tenant), with
    /// its current ETag.
    async fn patch_io(&self, token: &str, staff: bool, body: Value) -> (u16, Value) {
        let url = self.p.app.url(&format!("/v1/insertion-orders/{}", self.io));
        let etag = self
            .p
            .client
            .get(&url)
            .bearer_auth(&self.bob)
            .send()
            .await
            .unwrap()
            .headers()["etag"]
            .to_str()
            .unwrap()
            .to_string();
        let mut req = self
            .p
            .client
            .patch(&url)
            .bearer_auth(token)
            .header("if-match", etag)
            .json(&body);
        if staff {
            req = req.header("p360-tenant", "acme");
        }
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }
}

/// An insertion order's pricing and budget are the customer's contract:
/// customers and ad ops cannot change them, finance and account staff can,
/// audited with before and after, and a pricing change sends the approved
/// campaigns under it back to approval, with the staff member as maker.
#[tokio::test]
async fn customers_cannot_write_themselves_a_contract() {
    let a = acme().await;
    let (_, adv) = a.p.get("/v1/advertisers", &a.alice).await;
    let adv = adv["items"][0]["id"].as_str().unwrap().to_string();
    let bargain = json!({
        "advertiser_id": adv, "name": "Our own terms",
        "budget": {"amount": "10000000", "currency": "USD"},
        "start_date": "2027-01-01", "end_date": "2027-12-31",
        "pricing": {"model": "cpm", "rate": {"amount": "0.01", "currency": "USD"}}
    });
    let count = async || {
        let (_, ios) = a.p.get("/v1/insertion-orders", &a.bob).await;
        ios["items"].as_array().unwrap().len()
    };
    let before = count().await;
    // Attack: the customer's admin, a marketer and ad ops (who run
    // campaigns but sign no contracts) each try to open an insertion order
    // at a price of their choosing.
    let ad_ops = a.assigned_staff("ad_ops", "ops@agency.test").await;
    for (token, staff) in [(&a.alice, false), (&a.marketer, false), (&ad_ops, true)] {
        let mut req =
            a.p.client
                .post(a.p.app.url("/v1/insertion-orders"))
                .bearer_auth(token)
                .json(&bargain);
        if staff {
            req = req.header("p360-tenant", "acme");
        }
        let res = req.send().await.unwrap();
        assert_eq!(res.status().as_u16(), 403);
        let problem: Value = res.json().await.unwrap();
        assert!(
            problem["detail"]
                .as_str()
                .is_some_and(|d| d.contains("commercial_terms.manage")),
            "{problem}"
        );
    }
    assert_eq!(count().await, before, "nothing was created");
    // Finance writes the contract.
    let finance = a.p.token("finance", None, "fin@agency.test");
    let res =
        a.p.client
            .post(a.p.app.url("/v1/insertion-orders"))
            .bearer_auth(&finance)
            .header("p360-tenant", "acme")
            .json(&bargain)
            .send()
            .await
            .unwrap();
    assert_eq!(res.status().as_u16(), 201);
    assert_eq!(count().await, before + 1);
}

#[tokio::test]
async fn commercial_terms_are_finance_and_account_staffs_and_reopen_approval() {
    let a = acme().await;
    let id = a.campaign(&a.marketer, "Launch").await;
    assert_eq!(a.act(&a.marketer, &id, "submit").await.0, 200);
    let (s, c) = a.act(&a.bob, &id, "approve").await;
    assert_eq!((s, c["status"].as_str()), (200, Some("approved")), "{c}");
    let cheaper =
        json!({"pricing": {"model": "cpm", "rate": {"amount": "2.00", "currency": "USD"}}});
    let bigger = json!({"budget": {"amount": "150000", "currency": "USD"}});

    // Attack: the customer's own people rewrite the contract.
    for token in [&a.marketer, &a.alice] {
        for body in [&cheaper, &bigger] {
            let (s, v) = a.patch_io(token, false, body.clone()).await;
            assert_eq!(s, 403, "{v}");
        }
    }
    // Ad ops run campaigns but do not sign contracts.
    let ad_ops = a.assigned_staff("ad_ops", "ops@agency.test").await;
    let (s, v) = a.patch_io(&ad_ops, true, cheaper.clone()).await;
    assert_eq!(s, 403, "{v}");
    // What is not a term stays theirs, and sending the terms unchanged is
    // no change.
    let (s, v) = a
        .patch_io(
            &a.alice,
            false,
            json!({"name": "FY27 H1 (signed)",
                   "budget": {"amount": "100000.00", "currency": "USD"}}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let (_, c) = a.p.get(&format!("/v1/campaigns/{id}"), &a.bob).await;
    assert_eq!(c["status"], "approved", "{c}");

    // Finance changes the budget: audited as a terms change; the campaign's
    // own approval is untouched.
    let finance = a.p.token("finance", None, "fin@agency.test");
    let (s, v) = a.patch_io(&finance, true, bigger.clone()).await;
    assert_eq!(s, 200, "{v}");
    let (_, c) = a.p.get(&format!("/v1/campaigns/{id}"), &a.bob).await;
    assert_eq!(c["status"], "approved", "{c}");

    // Finance changes the pricing: the approved campaign keeps running and
    // gets a pending change saying why, with finance as its maker; a
    // customer admin signs it off.
    let (s, v) = a.patch_io(&finance, true, cheaper.clone()).await;
    assert_eq!(s, 200, "{v}");
    let (_, c) = a.p.get(&format!("/v1/campaigns/{id}"), &a.bob).await;
    let finance_id = a.user_id(&finance).await;
    assert_eq!(c["status"], "approved", "{c}");
    let change = &c["pending_change"];
    assert_eq!(
        change["reasons"],
        json!(["insertion order pricing changed"]),
        "{c}"
    );
    assert_eq!(change["submitted_by"], format!("user:{finance_id}"), "{c}");
    let (s, events) =
        a.p.get(
            &format!("/v1/audit-events?target_id={}&limit=50", a.io),
            &a.bob,
        )
        .await;
    assert_eq!(s, 200, "{events}");
    let terms: Vec<&Value> = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "insertion_order.terms_changed")
        .collect();
    assert_eq!(terms.len(), 2, "{events}");
    let pricing = terms
        .iter()
        .find(|e| e["changes"]["after"]["pricing"]["rate"]["amount"] == "2.00")
        .unwrap_or_else(|| panic!("{events}"));
    assert_eq!(
        pricing["changes"]["before"]["pricing"]["rate"]["amount"],
        "12.50"
    );
    assert_eq!(pricing["actor_id"], finance_id.as_str());
    assert!(
        a.audit_actions(&id)
            .await
            .iter()
            .any(|(action, _)| action == "campaign.change_submitted"),
        "the campaign's log says why it waits for approval"
    );
    let (s, c) = a.act(&a.bob, &id, "approve").await;
    assert_eq!((s, c["status"].as_str()), (200, Some("approved")), "{c}");
    assert!(c["pending_change"].is_null(), "{c}");

    // An account manager assigned to the tenant may change terms too.
    let manager = a.p.token("account_manager", None, "am@agency.test");
    let manager_id = a.user_id(&manager).await;
    let (s, body) =
        a.p.call(
            Method::PUT,
            &format!("/v1/users/{manager_id}/tenants"),
            Some(&a.p.admin()),
            Some(json!({"tenants": ["acme"]})),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    let (s, v) = a.patch_io(&manager, true, bigger).await;
    assert_eq!(s, 200, "{v}");
}

impl Acme {
    /// Give `campaign` an ad group running `creative`, and make it live
    /// (the marketer submits, Bob approves).
    async fn live_running(&self, campaign: &str, creative: &Value) {
        let (s, group) = self
            .p
            .post(
                &format!("/v1/campaigns/{campaign}/ad-groups"),
                &self.marketer,
                json!({"name": "AG", "budget": {"amount": "10", "currency": "USD"},
                       "base_bid_cpm": {"amount": "2", "currency": "USD"},
                       "max_bid_cpm": {"amount": "4", "currency": "USD"},
                       "creative_ids": [creative]}),
            )
            .await;
        assert_eq!(s, 201, "{group}");
        assert_eq!(self.act(&self.marketer, campaign, "submit").await.0, 200);
        assert_eq!(self.act(&self.bob, campaign, "approve").await.0, 200);
    }

    /// PATCH `path` as the marketer with the object's current ETag.
    async fn patch(&self, path: &str, body: Value) -> Value {
        let url = self.p.app.url(path);
        let etag = self
            .p
            .client
            .get(&url)
            .bearer_auth(&self.bob)
            .send()
            .await
            .unwrap()
            .headers()["etag"]
            .to_str()
            .unwrap()
            .to_string();
        let res = self
            .p
            .client
            .patch(&url)
            .bearer_auth(&self.marketer)
            .header("if-match", etag)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        res.json().await.unwrap()
    }
}

/// Every field that reaches TTD goes through approval: the daily cap and
/// pacing of a live campaign, and the click URL of a creative it runs.
#[tokio::test]
async fn daily_cap_pacing_and_click_urls_of_a_live_campaign_need_approval() {
    let a = acme().await;
    let id = a.campaign(&a.marketer, "Live").await;
    let (_, io) =
        a.p.get(&format!("/v1/insertion-orders/{}", a.io), &a.bob)
            .await;
    let png = {
        let mut v = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
        v.extend(300u32.to_be_bytes());
        v.extend(250u32.to_be_bytes());
        v.extend([8, 6, 0, 0, 0, 0, 0, 0, 0]);
        v
    };
    let res =
        a.p.client
            .post(a.p.app.url("/v1/creatives"))
            .bearer_auth(&a.marketer)
            .multipart(
                reqwest::multipart::Form::new()
                    .text(
                        "advertiser_id",
                        io["advertiser_id"].as_str().unwrap().to_string(),
                    )
                    .text("name", "MPU")
                    .text("click_url", "https://acmecloud.com/")
                    .part("file", reqwest::multipart::Part::bytes(png)),
            )
            .send()
            .await
            .unwrap();
    assert_eq!(res.status(), 201);
    let creative: Value = res.json().await.unwrap();
    a.live_running(&id, &creative["id"]).await;

    // Attack: change what TTD spends by once the campaign is approved.
    for change in [
        json!({"daily_cap": {"amount": "100", "currency": "USD"}}),
        json!({"pacing": "asap"}),
    ] {
        let after = a
            .patch(&format!("/v1/campaigns/{id}"), change.clone())
            .await;
        assert!(
            after["pending_change"].is_object(),
            "{change} waits for approval: {after}"
        );
        let (s, c) = a.act(&a.bob, &id, "approve").await;
        assert_eq!((s, c["status"].as_str()), (200, Some("approved")), "{c}");
        assert!(c["pending_change"].is_null(), "{c}");
        // The same value again is no change.
        let again = a.patch(&format!("/v1/campaigns/{id}"), change).await;
        assert!(again["pending_change"].is_null(), "{again}");
    }

    // A second live campaign runs the same creative.
    let other = a.campaign(&a.marketer, "Live too").await;
    a.live_running(&other, &creative["id"]).await;

    // Attack: send the viewers of the approved ads somewhere else. The
    // creative keeps the approved URL; the new one waits in both campaigns.
    let creative_id = creative["id"].as_str().unwrap();
    let url = format!("/v1/creatives/{creative_id}");
    let changed = a
        .patch(&url, json!({"click_url": "https://elsewhere.example/"}))
        .await;
    assert_eq!(changed["click_url"], "https://acmecloud.com/", "{changed}");
    assert_eq!(changed["pending_click_url"], "https://elsewhere.example/");
    for c in [&id, &other] {
        let (_, c) = a.p.get(&format!("/v1/campaigns/{c}"), &a.bob).await;
        assert_eq!(c["status"], "approved", "{c}");
        assert_eq!(
            c["pending_change"]["creatives"][creative_id], "https://elsewhere.example/",
            "{c}"
        );
    }
    // Its maker cannot approve it; approving it in one campaign makes it
    // live for both (TTD has one creative), and the other stops waiting.
    assert_eq!(a.act(&a.marketer, &id, "approve").await.0, 403);
    let (s, c) = a.act(&a.bob, &id, "approve").await;
    assert_eq!(s, 200, "{c}");
    let (_, live) = a.p.get(&url, &a.bob).await;
    assert_eq!(live["click_url"], "https://elsewhere.example/", "{live}");
    assert!(live["pending_click_url"].is_null());
    let (_, c) = a.p.get(&format!("/v1/campaigns/{other}"), &a.bob).await;
    assert!(c["pending_change"].is_null(), "{c}");

    // A rejected URL never shows.
    a.patch(&url, json!({"click_url": "https://phishing.example/"}))
        .await;
    let (s, c) =
        a.p.call(
            Method::POST,
            &format!("/v1/campaigns/{other}/reject"),
            Some(&a.bob),
            Some(json!({"reason": "not our domain"})),
        )
        .await;
    assert_eq!(s, 200, "{c}");
    let (_, live) = a.p.get(&url, &a.bob).await;
    assert_eq!(live["click_url"], "https://elsewhere.example/", "{live}");
    assert!(live["pending_click_url"].is_null());
    let (_, c) = a.p.get(&format!("/v1/campaigns/{id}"), &a.bob).await;
    assert!(c["pending_change"].is_null(), "{c}");

    // A renamed creative changes nothing TTD shows.
    a.patch(&url, json!({"name": "MPU v2"})).await;
    let (_, c) = a.p.get(&format!("/v1/campaigns/{id}"), &a.bob).await;
    assert!(c["pending_change"].is_null(), "{c}");
}
