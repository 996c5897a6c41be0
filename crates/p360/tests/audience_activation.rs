//! Audiences on The Trade Desk, end to end: the sample universe with IP
//! ranges, a week of Company Surge fetched from the Bombora sandbox, an
//! audience of a list and an intent rule with a holdout, targeted by an ad
//! group of an approved campaign. The TTD sandbox, asked through its own
//! API, then holds one segment with exactly the CIDR blocks of the members
//! not held out, in a data group inside the audience the ad group targets;
//! the next week changes the membership and only the difference is sent;
//! under a 0.3 fault rate it converges to the same with no duplicates.
//! Without faults the app runs on embedded defaults, syncing to the TTD
//! sandbox it mounts itself.

mod common;

use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use activation::ttd::model::{AdGroup, DataGroup, TtdAudience};
use activation::ttd::sandbox::SandboxOptions;
use common::ttd::*;
use common::*;
use intent::bombora::BomboraClient;
use intent::bombora::client::Settings;
use intent::bombora::fetch::Fetcher;
use secrecy::SecretString;
use serde_json::{Value, json};

const HEADER: &str = "Company Name,Domain,Size,Industry,Category,Topic,Composite Score,\
    Bucket Code,Metro Area,Metro Composite Score,Metro Bucket Code,Domain Origin Country\n";

/// The sample universe's domains, in file order.
fn sample_domains() -> Vec<String> {
    let csv = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/sample/companies.csv"),
    )
    .unwrap();
    csv.lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap().to_string())
        .collect()
}

/// Company `i`'s ranges as imported: a /20, a start–end range that is no
/// CIDR block, and for even `i` an IPv6 /48.
fn ranges_of(i: usize) -> (String, (Ipv4Addr, Ipv4Addr), Option<String>) {
    (
        format!("10.{i}.0.0/20"),
        (
            Ipv4Addr::new(10, i as u8, 32, 5),
            Ipv4Addr::new(10, i as u8, 33, 200),
        ),
        i.is_multiple_of(2).then(|| format!("2001:db8:{i:x}::/48")),
    )
}

/// The CIDR blocks TTD should hold for company `i` (worked out here with
/// ipnet, not with the code under test).
fn blocks_of(i: usize) -> Vec<String> {
    let (cidr, (a, b), v6) = ranges_of(i);
    let mut out = vec![cidr];
    out.extend(ipnet::Ipv4Subnets::new(a, b, 0).map(|n| n.to_string()));
    out.extend(v6.map(|n| n.parse::<ipnet::IpNet>().unwrap().to_string()));
    out
}

fn ranges_csv(domains: &[String]) -> String {
    let mut f = "domain,cidr,start_ip,end_ip\n".to_string();
    for (i, d) in domains.iter().enumerate() {
        let (cidr, (a, b), v6) = ranges_of(i);
        f.push_str(&format!("{d},{cidr},,\n{d},,{a},{b}\n"));
        if let Some(v6) = v6 {
            f.push_str(&format!("{d},{v6},,\n"));
        }
    }
    f
}

/// A week where companies `surging` surge on both topics and the others
/// on one.
fn week(domains: &[String], surging: impl Fn(usize) -> bool) -> String {
    let mut f = HEADER.to_string();
    for (i, d) in domains.iter().enumerate() {
        let (a, b) = if surging(i) { (82, 71) } else { (64, 20) };
        f.push_str(&format!(
            "{d},{d},,,Security,Firewalls,{a},,,,,\n{d},{d},,,Security,Zero Trust,{b},,,,,\n"
        ));
    }
    f
}

async fn bombora() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = intent::bombora::sandbox::router(intent::bombora::sandbox::SandboxOptions {
        client_id: Some("p360".into()),
        client_secret: Some("s3cret".into()),
        generated_weeks: 0,
        ..Default::default()
    });
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

/// Publish `body` as week `w` in the Bombora sandbox and fetch it.
async fn publish_and_fetch(p: &Platform, base: &str, w: &str, body: String) {
    put_week(base, w, body).await;
    let client = BomboraClient::new(Settings {
        base_url: base.to_string(),
        client_id: "p360".into(),
        client_secret: SecretString::from("s3cret".to_string()),
        timeout: Duration::from_secs(10),
        read_timeout: Duration::from_secs(5),
        max_retries: 3,
    })
    .unwrap();
    let fetcher = Fetcher {
        client: Arc::new(client),
        storage: platform::storage::Storage::from_config(&p.config.platform).unwrap(),
        weeks_back: 8,
        scratch: p.data.path().join("tmp"),
        create_companies: false,
    };
    let done = fetcher.run(&p.db.pool).await.unwrap();
    assert_eq!(done.ingested.len(), 1, "{done:?}");
}

/// The audience's members not held out, and those held out (indexes into
/// the sample domains).
async fn members(f: &Fixture, id: &str, domains: &[String]) -> (Vec<usize>, Vec<usize>) {
    let page = f
        .api
        .get(&format!("/v1/audiences/{id}/members?limit=500"), &f.admin)
        .await;
    let (mut active, mut held) = (Vec::new(), Vec::new());
    for m in page["items"].as_array().unwrap() {
        let i = domains
            .iter()
            .position(|d| d == m["domain"].as_str().unwrap())
            .unwrap();
        if m["holdout"] == true {
            held.push(i);
        } else {
            active.push(i);
        }
    }
    (active, held)
}

fn blocks(companies: &[usize]) -> BTreeSet<String> {
    companies.iter().flat_map(|i| blocks_of(*i)).collect()
}

/// The segment as the sandbox holds it: its live entries and how many lines
/// it was ever sent.
async fn segment(ttd: &str, owner: &str, name: &str) -> (i64, BTreeSet<String>, u64) {
    let v: Value = reqwest::get(format!("{ttd}/_sandbox/data/firstparty/{owner}/{name}"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let entries = v["Entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap().to_string())
        .collect();
    (
        v["FirstPartyDataId"].as_i64().unwrap(),
        entries,
        v["LinesReceived"].as_u64().unwrap(),
    )
}

/// Wait until the audience's activation on TTD shows build `n` synced.
async fn wait_build_synced(f: &Fixture, id: &str, n: i64, limit: Duration) -> Value {
    let started = Instant::now();
    loop {
        let a = f
            .api
            .get(&format!("/v1/audiences/{id}/activations"), &f.admin)
            .await;
        if a.as_array()
            .is_some_and(|i| !i.is_empty() && i.iter().all(|s| s["synced_build"] == n))
        {
            return a;
        }
        assert!(
            started.elapsed() < limit,
            "build {n} not on TTD within {limit:?}: {a}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// PATCH `path` with its current ETag.
async fn patch(f: &Fixture, path: &str, body: Value) -> (u16, Value) {
    let url = format!("{}{path}", f.api.base);
    let res = f
        .api
        .client
        .get(&url)
        .bearer_auth(&f.admin)
        .send()
        .await
        .unwrap();
    let etag = res.headers()["etag"].to_str().unwrap().to_string();
    let res = f
        .api
        .client
        .patch(&url)
        .bearer_auth(&f.admin)
        .header("if-match", etag)
        .json(&body)
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.json().await.unwrap_or_default())
}

async fn end_to_end(fault_rate: f64) {
    let bombora = bombora().await;
    let p = Platform::start().await;
    // Without faults: embedded defaults, the TTD sandbox the app mounts
    // itself; with them, a sandbox of its own injecting them.
    let ttd = if fault_rate > 0.0 {
        sandbox(SandboxOptions {
            fault_rate,
            seed: 7,
            lost_hang: Duration::from_millis(1500),
            slow: Duration::from_millis(300),
            ..Default::default()
        })
        .await
    } else {
        p.app.url(activation::SANDBOX_PATH)
    };
    let (stop, handle) = worker(&p, |c| {
        if fault_rate > 0.0 {
            c.ttd.base_url = Some(ttd.clone());
            c.ttd.timeout_ms = 1000;
        }
        c.bombora.weeks_back = 0;
    });
    p.sample_universe().await;
    let domains = sample_domains();
    let mut conn = p.db.pool.acquire().await.unwrap();
    let report = accounts::ranges::service::import(&mut conn, ranges_csv(&domains).as_bytes())
        .await
        .unwrap();
    assert!(report.skipped.is_empty(), "{:?}", report.skipped);
    drop(conn);
    // Week one: companies 0-29 surge on both topics.
    publish_and_fetch(&p, &bombora, "2026-11-23", week(&domains, |i| i < 30)).await;

    let f = Fixture::new(
        Api {
            base: p.app.url(""),
            client: reqwest::Client::new(),
        },
        &p.admin(),
        p.token("customer_admin", Some("acme"), "admin@acme.test"),
        p.token("customer_admin", Some("acme"), "boss@acme.test"),
    )
    .await;
    let (s, list) = p
        .post_csv(
            "/v1/account-lists?name=named",
            &f.admin,
            format!("domain\n{}\n{}\n", domains[40], domains[41]).into_bytes(),
        )
        .await;
    assert_eq!(s, 201, "{list}");
    let audience = f
        .api
        .post(
            "/v1/audiences",
            &f.admin,
            json!({
                "name": "Security surge", "include_lists": [list["id"]],
                "rule": {"intent": {"topics": ["Firewalls", "Zero Trust"], "min_score": 60,
                                    "threshold": {"topics": 2}},
                         "holdout_percent": 20}
            }),
        )
        .await;
    let id = audience["id"].as_str().unwrap().to_string();
    let (active, held) = members(&f, &id, &domains).await;
    assert_eq!(active.len() + held.len(), 32, "30 surging + 2 listed");
    assert!(!held.is_empty() && !active.is_empty(), "{held:?}");

    // A campaign whose ad group targets the audience, approved.
    let c = f
        .api
        .post(
            "/v1/campaigns",
            &f.admin,
            json!({
                "insertion_order_id": f.io, "name": "ABM Q1", "objective": "pipeline",
                "budget": {"amount": "5000", "currency": "USD"},
                "flight": {"start": "2027-01-15", "end": "2027-03-31"}, "pacing": "even"
            }),
        )
        .await;
    let campaign = c["id"].as_str().unwrap().to_string();
    let group = f
        .api
        .post(
            &format!("/v1/campaigns/{campaign}/ad-groups"),
            &f.admin,
            json!({
                "name": "Surging accounts", "budget": {"amount": "3000", "currency": "USD"},
                "base_bid_cpm": {"amount": "4.25", "currency": "USD"},
                "max_bid_cpm": {"amount": "9", "currency": "USD"},
                "targeting": {"audiences": {"include": [id]}},
                "creative_ids": [f.creative]
            }),
        )
        .await;
    f.api
        .post(
            &format!("/v1/campaigns/{campaign}/submit"),
            &f.admin,
            json!({}),
        )
        .await;
    // Submitted, not approved: nothing reaches TTD yet.
    let pending = f
        .api
        .get(&format!("/v1/audiences/{id}/activations"), &f.admin)
        .await;
    assert_eq!(pending, json!([]), "only approved ad groups activate");
    f.approve(&campaign).await;
    let synced = f
        .wait_synced(std::slice::from_ref(&campaign), Duration::from_secs(150))
        .await;
    let owner = synced[0]["ttd"]["advertiser_id"]
        .as_str()
        .unwrap()
        .to_string();
    let ttd_group = synced[0]["ttd"]["ad_group_ids"][group["id"].as_str().unwrap()]
        .as_str()
        .unwrap()
        .to_string();
    let activations = wait_build_synced(&f, &id, 1, Duration::from_secs(60)).await;
    let name = format!("p360-audience-{id}");
    assert_eq!(activations[0]["segment"], name, "{activations}");

    // The segment holds exactly the blocks of the members not held out.
    let (segment_id, held_blocks, lines) = segment(&ttd, &owner, &name).await;
    let expected = blocks(&active);
    assert_eq!(held_blocks, expected);
    assert!(
        blocks(&held).is_disjoint(&held_blocks),
        "no holdout block sent"
    );
    // ... inside the data group of the audience the ad group targets.
    let client = common::ttd::ttd(&ttd, 10);
    let ad_group: AdGroup = client.get(&ttd_group).await.unwrap();
    let target = ad_group
        .rtb_attributes
        .audience_targeting
        .and_then(|t| t.audience_id)
        .expect("the ad group targets an audience");
    let ttd_audience: TtdAudience = client.get(&target).await.unwrap();
    assert_eq!(ttd_audience.included_data_group_ids.len(), 1);
    let data_group: DataGroup = client
        .get(&ttd_audience.included_data_group_ids[0])
        .await
        .unwrap();
    assert_eq!(data_group.first_party_data_ids, [segment_id]);
    if fault_rate == 0.0 {
        assert_eq!(lines, expected.len() as u64, "each block sent once");
    }

    // Week two: companies 0-4 cool off, 30-34 surge. The rebuild sends
    // only the difference.
    publish_and_fetch(
        &p,
        &bombora,
        "2026-11-30",
        week(&domains, |i| (5..35).contains(&i)),
    )
    .await;
    let storage = platform::storage::Storage::from_config(&p.config.platform).unwrap();
    assert_eq!(
        audiences::jobs::rebuild_stale(&p.db.pool, &storage)
            .await
            .unwrap(),
        1
    );
    wait_build_synced(&f, &id, 2, Duration::from_secs(120)).await;
    let (active2, _) = members(&f, &id, &domains).await;
    let expected2 = blocks(&active2);
    assert_ne!(expected2, expected, "the membership changed");
    let (_, held2, lines2) = segment(&ttd, &owner, &name).await;
    assert_eq!(held2, expected2);
    let changed = expected.symmetric_difference(&expected2).count() as u64;
    if fault_rate == 0.0 {
        assert_eq!(lines2 - lines, changed, "only the difference was sent");
    } else {
        assert!(lines2 - lines >= changed);
    }

    // Twenty-five days on, the blocks near the end of their 30-day TTL:
    // the hourly refresh sends each again once, and the segment stays whole.
    sqlx::query!("UPDATE audience_segment_entries SET expires_at = now() + interval '5 days'")
        .execute(&p.db.pool)
        .await
        .unwrap();
    let refreshed_from = lines2;
    assert_eq!(
        audiences::activate::jobs::queue_due(&p.db.pool, 7 * 24 * 60)
            .await
            .unwrap(),
        1
    );
    // Done when TTD has every block again and each is recorded with its new
    // expiry (recorded just after TTD took it).
    let started = Instant::now();
    let lines3 = loop {
        let (_, held3, lines3) = segment(&ttd, &owner, &name).await;
        let fresh: i64 = sqlx::query_scalar!(
            r#"SELECT count(*) AS "n!" FROM audience_segment_entries
               WHERE expires_at > now() + interval '29 days'"#
        )
        .fetch_one(&p.db.pool)
        .await
        .unwrap();
        if fresh == expected2.len() as i64 {
            assert_eq!(held3, expected2);
            assert!(lines3 >= refreshed_from + expected2.len() as u64);
            break lines3;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "not refreshed: {fresh} of {} blocks",
            expected2.len()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    if fault_rate == 0.0 {
        assert_eq!(lines3 - refreshed_from, expected2.len() as u64, "each once");
    }

    // Targeting names only the tenant's own audiences.
    let gid = group["id"].as_str().unwrap().to_string();
    let (s, body) = patch(
        &f,
        &format!("/v1/ad-groups/{gid}"),
        json!({"targeting": {"audiences": {"include": [uuid::Uuid::now_v7()]}}}),
    )
    .await;
    assert_eq!(s, 422, "{body}");
    assert_eq!(body["errors"][0]["field"], "targeting.audiences", "{body}");
    p.tenant("globex").await;
    let theirs = p.token("customer_admin", Some("globex"), "a@globex.test");
    let (s, foreign) = p
        .post(
            "/v1/audiences",
            &theirs,
            json!({"name": "Theirs", "rule": {"intent": {"topics": ["Firewalls"]}}}),
        )
        .await;
    assert_eq!(s, 201, "{foreign}");
    let (s, body) = patch(
        &f,
        &format!("/v1/ad-groups/{gid}"),
        json!({"targeting": {"audiences": {"include": [foreign["id"]]}}}),
    )
    .await;
    assert_eq!(s, 422, "another tenant's audience is unknown here: {body}");

    // Excluding a second audience is a change the approver signs off: TTD
    // keeps the approved targeting until then.
    let (s, list2) = p
        .post_csv(
            "/v1/account-lists?name=customers",
            &f.admin,
            format!("domain\n{}\n{}\n", domains[3], domains[45]).into_bytes(),
        )
        .await;
    assert_eq!(s, 201, "{list2}");
    let customers = f
        .api
        .post(
            "/v1/audiences",
            &f.admin,
            json!({"name": "Customers", "include_lists": [list2["id"]]}),
        )
        .await;
    let (s, changed) = patch(
        &f,
        &format!("/v1/ad-groups/{gid}"),
        json!({"targeting": {"audiences": {"include": [id], "exclude": [customers["id"]]}}}),
    )
    .await;
    assert_eq!(s, 200, "{changed}");
    assert_eq!(
        changed["targeting"]["audiences"]["exclude"],
        json!([]),
        "the live targeting stays until approved: {changed}"
    );
    f.wait_synced(std::slice::from_ref(&campaign), Duration::from_secs(60))
        .await;
    let ttd_audience: TtdAudience = client.get(&target).await.unwrap();
    assert!(ttd_audience.excluded_data_group_ids.is_empty());
    f.approve(&campaign).await;
    let customers_id = customers["id"].as_str().unwrap();
    wait_build_synced(&f, customers_id, 1, Duration::from_secs(120)).await;
    f.wait_synced(std::slice::from_ref(&campaign), Duration::from_secs(120))
        .await;
    let ttd_audience: TtdAudience = client.get(&target).await.unwrap();
    assert_eq!(ttd_audience.excluded_data_group_ids.len(), 1);
    let excluded: DataGroup = client
        .get(&ttd_audience.excluded_data_group_ids[0])
        .await
        .unwrap();
    let customer_segment = format!("p360-audience-{customers_id}");
    let (excluded_segment, customer_blocks, _) = segment(&ttd, &owner, &customer_segment).await;
    assert_eq!(excluded.first_party_data_ids, [excluded_segment]);
    assert_eq!(customer_blocks, blocks(&[3, 45]));

    // One of each, whatever failed on the way.
    let segments = client.first_party_segments(&owner).await.unwrap();
    assert_eq!(segments.len(), 2, "{segments:?}");
    let groups: Vec<DataGroup> = client.query_all(&owner).await.unwrap();
    assert_eq!(groups.len(), 2, "{groups:?}");
    let audiences: Vec<TtdAudience> = client.query_all(&owner).await.unwrap();
    assert_eq!(audiences.len(), 1, "{audiences:?}");
    let h = holdings(&client).await;
    assert_eq!((h.campaigns.len(), h.ad_groups.len()), (1, 1));
    if fault_rate > 0.0 {
        let faults = sandbox_faults(&ttd).await;
        let total: u64 = faults
            .as_object()
            .unwrap()
            .values()
            .filter_map(Value::as_u64)
            .sum();
        assert!(total > 0, "the faults happened: {faults}");
    }
    stop.trigger();
    handle.await.unwrap().unwrap();
}

#[tokio::test]
async fn an_audience_reaches_ttd_without_its_holdout_and_then_only_its_changes() {
    end_to_end(0.0).await;
}

#[tokio::test]
async fn under_a_thirty_percent_fault_rate_the_audience_converges_without_duplicates() {
    end_to_end(0.3).await;
}
