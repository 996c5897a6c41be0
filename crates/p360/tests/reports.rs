//! Delivery reports and the account view over ingested REDS files, checked
//! against an independent count of the same files (each impression's
//! address looked up by a plain scan of the generated ranges); pages, the
//! CSV export, the tenant's engagement rule, refusals and another tenant.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::path::Path;

use common::ttd::*;
use common::*;
use delivery::generate::Plan;
use serde_json::{Value, json};

const SEED: u64 = 11;
const COMPANIES: u64 = 120;

fn plan(day: u32, impressions: u64) -> Plan {
    let month = if day > 30 { 12 } else { 11 };
    let hour = chrono::NaiveDate::from_ymd_opt(2026, month, if day > 30 { day - 30 } else { day })
        .unwrap()
        .and_hms_opt(9, 0, 0)
        .unwrap();
    Plan {
        impressions,
        companies: COMPANIES,
        campaigns: 3,
        ad_groups_per_campaign: 2,
        audience: 25,
        seed: SEED,
        ..Plan::at(hour)
    }
}

/// What campaign 0 delivered per (day, company), counted from the files:
/// (impressions, advertiser cost); company `(unresolved)` for none.
type Count = BTreeMap<(String, String), (i64, i64)>;

fn count(files: &[&Path]) -> Count {
    let mut out = Count::new();
    each_impression(files, |day, company, _, micros| {
        let e = out.entry((day.to_string(), company)).or_default();
        e.0 += 1;
        e.1 += micros;
    });
    out
}

/// Campaign 0's people (distinct TDIDs) per (day, company), from the files.
fn people(files: &[&Path]) -> BTreeMap<(String, String), BTreeSet<String>> {
    let mut out: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    each_impression(files, |day, company, tdid, _| {
        out.entry((day.to_string(), company))
            .or_default()
            .insert(tdid.to_string());
    });
    out
}

/// Each of campaign 0's impressions in `files`: its day, its company
/// (`(unresolved)` for none, each address looked up by a plain scan of the
/// generated ranges), its TDID and its advertiser cost in micros.
fn each_impression(files: &[&Path], mut f: impl FnMut(&str, String, &str, i64)) {
    let mut nets = Vec::new();
    accounts::generate::company_ranges(COMPANIES, SEED, |_, domain, ns| {
        for n in ns {
            nets.push((domain.to_string(), *n));
        }
    });
    let col = |name: &str| {
        delivery::schema::IMPRESSIONS
            .iter()
            .position(|c| *c == name)
            .unwrap()
    };
    let (time, campaign, ip, cost, tdid) = (
        col("LogEntryTime"),
        col("CampaignId"),
        col("IPAddress"),
        col("AdvertiserCostInUSDollars"),
        col("TDID"),
    );
    for file in files {
        for line in gunzip(file).lines() {
            let v: Vec<&str> = line.split('\t').collect();
            if v[campaign] != delivery::generate::campaign_id(0) {
                continue;
            }
            let addr: IpAddr = v[ip].parse().unwrap();
            let company = nets
                .iter()
                .find(|(_, n)| n.contains(&addr))
                .map_or("(unresolved)".to_string(), |(d, _)| d.clone());
            let micros = (v[cost].parse::<f64>().unwrap() * 1e6).round() as i64;
            f(&v[time][..10], company, v[tdid], micros);
        }
    }
}

/// Every page of a report, following its cursors.
async fn all_pages(p: &Platform, query: &str, token: &str) -> Vec<Value> {
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let url = match &cursor {
            Some(c) => format!("/v1/reports/delivery?{query}&cursor={c}"),
            None => format!("/v1/reports/delivery?{query}"),
        };
        let (s, page) = p.get(&url, token).await;
        assert_eq!(s, 200, "{page}");
        items.extend(page["items"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => return items,
        }
    }
}

async fn csv(p: &Platform, url: &str, token: &str) -> (u16, String) {
    let res = reqwest::Client::new()
        .get(p.app.url(url))
        .bearer_auth(token)
        .header("accept", "text/csv")
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.text().await.unwrap())
}

/// Tenant acme with a campaign whose ad group targets an audience of a
/// list (campaign 0's generated targets and five others), mapped to TTD's
/// campaign 0 and its first ad group; two hours of REDS on two days
/// ingested and merged.
struct Setup {
    p: Platform,
    f: Fixture,
    audience: String,
    campaign: String,
    group: String,
    listed: BTreeSet<String>,
    counted: Count,
    people: BTreeMap<(String, String), BTreeSet<String>>,
    _tmp: TempDir,
}

/// The test's database as a read replica: the application's login, every
/// transaction read-only (a write routed there fails).
fn replica_of(db: &TestDb) -> secrecy::SecretString {
    let mut url = reqwest::Url::parse(&db.url).unwrap();
    url.set_username("p360_app").unwrap();
    url.set_password(None).unwrap();
    url.query_pairs_mut()
        .append_pair("options", "-c default_transaction_read_only=on");
    url.to_string().into()
}

async fn setup() -> Setup {
    // Reports read from a read replica (`database.read_url`).
    let p = Platform::start_with_db(|c, db| {
        c.platform.database.read_url = Some(replica_of(db));
    })
    .await;
    p.generated_universe(COMPANIES, SEED).await;
    let f = platform_fixture(&p).await;
    // The list: campaign 0's generated audience and five companies it
    // does not target.
    let targeted = delivery::generate::audience(0, COMPANIES, 25, SEED);
    let others: Vec<u64> = (0..COMPANIES)
        .filter(|i| !targeted.contains(i))
        .take(5)
        .collect();
    let domain = |i: u64| accounts::generate::company(i, SEED).0;
    let listed: BTreeSet<String> = targeted.iter().chain(&others).map(|i| domain(*i)).collect();
    let audience = f.list_audience("targets", &listed, json!({})).await;
    let f_io = f.io.clone();
    let (campaign, group) = f
        .campaign_for(
            &f_io,
            "ABM Q4",
            "5000",
            ("2027-01-15", "2027-03-31"),
            ("Listed accounts", &audience),
        )
        .await;
    // The activation mapping: TTD's campaign 0 and its first ad group are
    // these; campaigns 1 and 2 are no tenant's.
    let acme: uuid::Uuid = sqlx::query_scalar!("SELECT id FROM tenants WHERE slug = 'acme'")
        .fetch_one(&p.db.pool)
        .await
        .unwrap();
    for (kind, id, ttd) in [
        ("campaign", &campaign, delivery::generate::campaign_id(0)),
        ("ad_group", &group, delivery::generate::ad_group_id(0, 0)),
    ] {
        sqlx::query!(
            "INSERT INTO ttd_objects (object_type, p360_id, tenant_id, ttd_id) VALUES ($1, $2, $3, $4)",
            kind,
            id.parse::<uuid::Uuid>().unwrap(),
            acme,
            ttd
        )
        .execute(&p.db.pool)
        .await
        .unwrap();
    }

    // Two hours on two days, across a month's end.
    let tmp = TempDir::new("reports");
    let mut files = Vec::new();
    for (day, n) in [(30, 6_000), (31, 4_000)] {
        let dir = tmp.path().join(format!("d{day}"));
        std::fs::create_dir_all(&dir).unwrap();
        let plan = plan(day, n);
        delivery::generate::files(&plan, &dir).unwrap();
        let name = format!("impressions_{}.log.gz", plan.hour.format("%Y-%m-%dT%H"));
        files.push(dir.join(name));
    }
    for f in &files {
        let key = format!("file://{}", f.display());
        let cols = delivery::schema::ImpressionColumns::of(delivery::schema::IMPRESSIONS).unwrap();
        delivery::ingest::impressions(&p.app.state.pool, &key, f, cols)
            .await
            .unwrap();
    }
    delivery::merge::run(&p.app.state.pool).await.unwrap();
    let paths: Vec<&Path> = files.iter().map(|f| f.as_path()).collect();
    let counted = count(&paths);
    let people = people(&paths);
    Setup {
        p,
        f,
        audience,
        campaign,
        group,
        listed,
        counted,
        people,
        _tmp: tmp,
    }
}

#[tokio::test]
async fn reports_and_the_account_view_agree_with_the_files() {
    let Setup {
        p,
        f,
        audience,
        campaign,
        group,
        listed,
        counted,
        people,
        _tmp,
    } = setup().await;
    let total: i64 = counted.values().map(|v| v.0).sum();
    let spend: i64 = counted.values().map(|v| v.1).sum();
    let range = "from=2026-11-30&to=2026-12-01";

    // By campaign: acme's one campaign, named, nothing of the others.
    let (s, by_campaign) = p
        .get(&format!("/v1/reports/delivery?{range}"), &f.admin)
        .await;
    assert_eq!(s, 200, "{by_campaign}");
    let items = by_campaign["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{by_campaign}");
    assert_eq!(items[0]["campaign_id"], campaign.as_str());
    assert_eq!(items[0]["campaign_name"], "ABM Q4");
    assert_eq!(items[0]["impressions"], total);
    assert_eq!(items[0]["spend_usd_micros"], spend);
    let cpm = items[0]["cpm_usd_micros"].as_i64().unwrap();
    assert!((cpm - spend * 1000 / total).abs() <= 1, "{cpm}");

    // By day and company, seven rows a page: every page together is the
    // independent count, unresolved included.
    let rows = all_pages(
        &p,
        &format!("{range}&group_by=day,company&limit=7"),
        &f.admin,
    )
    .await;
    let got: Count = rows
        .iter()
        .map(|r| {
            (
                (
                    r["day"].as_str().unwrap().to_string(),
                    r["company"].as_str().unwrap().to_string(),
                ),
                (
                    r["impressions"].as_i64().unwrap(),
                    r["spend_usd_micros"].as_i64().unwrap(),
                ),
            )
        })
        .collect();
    assert_eq!(got.len(), rows.len(), "each (day, company) once");
    assert_eq!(got, counted);
    let named = rows
        .iter()
        .find(|r| r["company"] != "(unresolved)")
        .unwrap();
    assert!(named["company_name"].is_string(), "{named}");
    // The CSV export is the same rows.
    let (s, text) = csv(
        &p,
        &format!("/v1/reports/delivery?{range}&group_by=day,company"),
        &f.admin,
    )
    .await;
    assert_eq!(s, 200, "{text}");
    let mut lines = text.lines();
    assert_eq!(
        lines.next().unwrap(),
        "day,company,company_name,impressions,clicks,ctr,spend_usd_micros,media_cost_usd_micros,cpm_usd_micros,cpc_usd_micros"
    );
    let from_csv: Count = lines
        .map(|l| {
            let mut r = csv::ReaderBuilder::new()
                .has_headers(false)
                .from_reader(l.as_bytes());
            let rec = r.records().next().unwrap().unwrap();
            (
                (rec[0].to_string(), rec[1].to_string()),
                (rec[3].parse().unwrap(), rec[6].parse().unwrap()),
            )
        })
        .collect();
    assert_eq!(from_csv, counted);

    // People reached (distinct TDIDs), asked for: exact where a row holds
    // fewer than 128, within three standard errors (27 %) above; across
    // pages, over the two days and by campaign too; in the CSV.
    let rows = all_pages(
        &p,
        &format!("{range}&group_by=day,company&limit=7&people=true"),
        &f.admin,
    )
    .await;
    assert_eq!(rows.len(), people.len());
    let near = |got: i64, want: usize, what: &str| {
        if want < 128 {
            assert_eq!(got, want as i64, "{what}");
        } else {
            let error = (got as f64 - want as f64).abs() / want as f64;
            assert!(error < 0.27, "{what}: {got} for {want}");
        }
    };
    let mut estimated = 0;
    for r in &rows {
        let key = (
            r["day"].as_str().unwrap().to_string(),
            r["company"].as_str().unwrap().to_string(),
        );
        let want = people[&key].len();
        estimated += usize::from(want >= 128);
        near(r["people"].as_i64().unwrap(), want, &format!("{key:?}"));
    }
    assert!(estimated > 0, "the unresolved rows hold more than 128");
    let everyone: BTreeSet<&String> = people.values().flatten().collect();
    let (_, total_row) = p
        .get(
            &format!("/v1/reports/delivery?{range}&people=true"),
            &f.admin,
        )
        .await;
    near(
        total_row["items"][0]["people"].as_i64().unwrap(),
        everyone.len(),
        "the campaign",
    );
    assert!(
        by_campaign["items"][0].get("people").is_none(),
        "only when asked"
    );
    let (_, text) = csv(
        &p,
        &format!("/v1/reports/delivery?{range}&group_by=company&people=true"),
        &f.admin,
    )
    .await;
    assert!(text.lines().next().unwrap().ends_with(",people"), "{text}");
    // By ad group: the mapped one named, the other by TTD's id only.
    let (_, by_group) = p
        .get(
            &format!("/v1/reports/delivery?{range}&group_by=ad_group"),
            &f.admin,
        )
        .await;
    let groups = by_group["items"].as_array().unwrap();
    assert_eq!(groups.len(), 2, "{by_group}");
    let mapped: Vec<&Value> = groups
        .iter()
        .filter(|g| g["ad_group_id"] == group.as_str())
        .collect();
    assert_eq!(mapped.len(), 1, "{by_group}");
    assert_eq!(mapped[0]["ad_group_name"], "Listed accounts");
    assert_eq!(
        groups
            .iter()
            .map(|g| g["impressions"].as_i64().unwrap())
            .sum::<i64>(),
        total
    );

    // A campaign by company (read from its days in memory): the files'
    // sums per company, seven a page.
    let rows = all_pages(
        &p,
        &format!("{range}&group_by=company&campaign_id={campaign}&limit=7"),
        &f.admin,
    )
    .await;
    let per_company = counted
        .iter()
        .fold(BTreeMap::new(), |mut m, ((_, c), (n, s))| {
            let e: &mut (i64, i64) = m.entry(c.clone()).or_default();
            e.0 += n;
            e.1 += s;
            m
        });
    let got: BTreeMap<String, (i64, i64)> = rows
        .iter()
        .map(|r| {
            (
                r["company"].as_str().unwrap().to_string(),
                (
                    r["impressions"].as_i64().unwrap(),
                    r["spend_usd_micros"].as_i64().unwrap(),
                ),
            )
        })
        .collect();
    assert_eq!((got.len(), &got), (rows.len(), &per_company));

    // The account view: the 30 listed companies are the targets.
    let reached: BTreeMap<&str, i64> = counted
        .iter()
        .filter(|((_, c), _)| listed.contains(c))
        .fold(BTreeMap::new(), |mut m, ((_, c), (n, _))| {
            *m.entry(c.as_str()).or_default() += n;
            m
        });
    let engaged = reached.values().filter(|n| **n >= 10).count() as i64;
    let view_url = format!("/v1/reports/accounts?campaign_id={campaign}&{range}");
    let (s, view) = p.get(&view_url, &f.admin).await;
    assert_eq!(s, 200, "{view}");
    assert_eq!(view["target_accounts"], 30, "{view}");
    assert_eq!(view["reached"], reached.len() as i64, "{view}");
    assert_eq!(view["engaged"], engaged, "{view}");
    assert_eq!(view["impressions"], reached.values().sum::<i64>());
    assert_eq!(view["all_impressions"], total);
    assert_eq!(
        view["unresolved_impressions"],
        counted
            .iter()
            .filter(|((_, c), _)| c == "(unresolved)")
            .map(|(_, v)| v.0)
            .sum::<i64>()
    );
    assert_eq!(view["audiences"], json!([audience]));
    let top = view["top_accounts"].as_array().unwrap();
    assert_eq!(top.len(), 10.min(reached.len()));
    let most = reached.values().max().unwrap();
    assert_eq!(&top[0]["impressions"], most);
    assert!(top[0]["name"].is_string());
    // The same through the audience and the advertiser.
    for scope in [
        format!("audience_id={audience}"),
        format!(
            "advertiser_id={}",
            f.api
                .get(&format!("/v1/campaigns/{campaign}"), &f.admin)
                .await["advertiser_id"]
                .as_str()
                .unwrap()
        ),
    ] {
        let (s, v) = p
            .get(&format!("/v1/reports/accounts?{scope}&{range}"), &f.admin)
            .await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(
            (&v["target_accounts"], &v["reached"]),
            (&view["target_accounts"], &view["reached"])
        );
    }
    // The unreached list, as a page and as CSV.
    let unreached: Vec<&String> = listed
        .iter()
        .filter(|d| !reached.contains_key(d.as_str()))
        .collect();
    assert!(!unreached.is_empty(), "the five untargeted companies");
    let (s, page) = p
        .get(
            &format!(
                "/v1/reports/accounts/targets?campaign_id={campaign}&{range}&status=unreached"
            ),
            &f.admin,
        )
        .await;
    assert_eq!(s, 200, "{page}");
    let listed_unreached: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["domain"].as_str().unwrap())
        .collect();
    assert_eq!(listed_unreached, unreached);
    let (_, text) = csv(
        &p,
        &format!("/v1/reports/accounts/targets?campaign_id={campaign}&{range}"),
        &f.admin,
    )
    .await;
    assert_eq!(text.lines().count(), 31, "a header and the 30 targets");

    // A stricter engagement rule counts fewer engaged accounts; a viewer
    // cannot change it.
    let viewer = p.token("viewer", Some("acme"), "viewer@acme.test");
    let rule = json!({"engaged_min_clicks": 1, "engaged_min_impressions": 1000000,
                      "pacing_tolerance_pct": 20});
    let (s, _) = p
        .call(
            reqwest::Method::PUT,
            "/v1/reports/settings",
            Some(&viewer),
            Some(rule.clone()),
        )
        .await;
    assert_eq!(s, 403);
    let (s, saved) = p
        .call(
            reqwest::Method::PUT,
            "/v1/reports/settings",
            Some(&f.admin),
            Some(rule),
        )
        .await;
    assert_eq!(s, 200, "{saved}");
    let (_, strict) = p.get(&view_url, &viewer).await;
    assert_eq!(strict["engaged"], 0, "{strict}");
    assert_eq!(strict["reached"], view["reached"]);

    // Every report above was read through the replica's pool; the rule
    // was written on the primary (the replica refuses writes).
    let readers = sqlx::query_scalar!(
        r#"SELECT count(*) AS "n!" FROM pg_stat_activity
           WHERE application_name = 'p360-read' AND datname = current_database()
             AND usename = 'p360_app'"#
    )
    .fetch_one(&p.db.pool)
    .await
    .unwrap();
    assert!(readers > 0, "reports read through database.read_url");

    // Bad requests are named; another tenant's campaign is not found.
    for (query, field) in [
        ("from=2026-11-30&to=yesterday".to_string(), "to"),
        (format!("{range}&group_by=day,week"), "group_by"),
        (format!("{range}&cursor=bm90IGEgY3Vyc29y"), "cursor"),
        (format!("{range}&limit=0"), "limit"),
        (format!("{range}&campaign_id=12"), "campaign_id"),
    ] {
        let (s, body) = p
            .get(&format!("/v1/reports/delivery?{query}"), &f.admin)
            .await;
        assert_eq!(s, 422, "{query}: {body}");
        assert_eq!(body["errors"][0]["field"], field, "{body}");
    }
    let (s, body) = p
        .get(
            &format!("/v1/reports/accounts?campaign_id={campaign}&audience_id={audience}&{range}"),
            &f.admin,
        )
        .await;
    assert_eq!(s, 422, "{body}");
    p.tenant("other").await;
    let stranger = p.token("customer_admin", Some("other"), "admin@other.test");
    for url in [
        format!("/v1/reports/delivery?{range}&campaign_id={campaign}"),
        view_url.clone(),
    ] {
        let (s, body) = p.get(&url, &stranger).await;
        assert_eq!(s, 404, "{url}: {body}");
    }
    let (s, body) = p
        .get(&format!("/v1/reports/delivery?{range}"), &stranger)
        .await;
    assert_eq!((s.as_u16(), &body["items"]), (200, &json!([])), "{body}");

    // Another hour merged: the view (kept in memory) shows it.
    let later = Plan {
        hour: plan(31, 0).hour + chrono::TimeDelta::hours(1),
        ..plan(31, 2_000)
    };
    let dir = _tmp.path().join("later");
    delivery::generate::files(&later, &dir).unwrap();
    let file = dir.join("impressions_2026-12-01T10.log.gz");
    let cols = delivery::schema::ImpressionColumns::of(delivery::schema::IMPRESSIONS).unwrap();
    delivery::ingest::impressions(&p.app.state.pool, "reports/later", &file, cols)
        .await
        .unwrap();
    delivery::merge::run(&p.app.state.pool).await.unwrap();
    let added: i64 = count(&[&file])
        .iter()
        .filter(|((_, c), _)| listed.contains(c))
        .map(|(_, v)| v.0)
        .sum();
    assert!(added > 0);
    let (_, fresh) = p.get(&view_url, &f.admin).await;
    assert_eq!(
        fresh["impressions"].as_i64().unwrap(),
        view["impressions"].as_i64().unwrap() + added,
        "{fresh}"
    );
}

/// A webhook that keeps what it is sent.
async fn webhook() -> (String, std::sync::Arc<std::sync::Mutex<Vec<Value>>>) {
    let got = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let keep = got.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |axum::Json(v): axum::Json<Value>| {
            let keep = keep.clone();
            async move {
                keep.lock().unwrap().push(v);
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/hook"), got)
}

#[tokio::test]
async fn pacing_follows_the_plan_and_the_watch_raises_and_clears_alerts() {
    let Setup {
        p,
        f,
        campaign,
        counted,
        _tmp,
        ..
    } = setup().await;
    let spend: i64 = counted.values().map(|v| v.1).sum();
    // Even over 15 Jan - 31 Mar 2027 (76 days), 5,000 dollars: on 1 Feb,
    // 17 days in, 17/76 of it is planned; what was spent is far under.
    let (s, before) = p
        .get(
            &format!("/v1/reports/pacing?campaign_id={campaign}&at=2027-02-01T00:00:00Z"),
            &f.admin,
        )
        .await;
    assert_eq!(s, 200, "{before}");
    let c = &before["campaigns"][0];
    assert_eq!(c["mode"], "even");
    assert_eq!(c["planned_to_date_micros"], 1_118_421_053i64, "{c}");
    assert_eq!(c["spent_to_date_usd_micros"], spend);
    assert_eq!(c["state"], "under_pacing");
    // Without `at`, the moment is where the data ends (1 Dec, 10:00):
    // before this flight.
    let (_, now) = p
        .get(
            &format!("/v1/reports/pacing?campaign_id={campaign}"),
            &f.admin,
        )
        .await;
    assert_eq!(
        now["campaigns"][0]["as_of"], "2026-12-01T10:00:00Z",
        "{now}"
    );
    assert_eq!(now["campaigns"][0]["state"], "not_started");
    // The insertion order: its budget evenly over 2027.
    let (s, io) = p
        .get(
            &format!(
                "/v1/reports/pacing?insertion_order_id={}&at=2027-07-02T12:00:00Z",
                f.io
            ),
            &f.admin,
        )
        .await;
    assert_eq!(s, 200, "{io}");
    assert_eq!(io["insertion_order"]["spent_to_date_usd_micros"], spend);
    assert_eq!(io["insertion_order"]["state"], "under_pacing");
    assert_eq!(io["campaigns"].as_array().unwrap().len(), 1);
    for bad in ["at=yesterday", "campaign_id=1"] {
        let (s, _) = p.get(&format!("/v1/reports/pacing?{bad}"), &f.admin).await;
        assert_eq!(s, 422, "{bad}");
    }

    // Live through the data's days: 25 Nov - 20 Dec, so on 1 Dec at 10:00
    // a quarter is planned and a fraction spent.
    sqlx::query!(
        "UPDATE campaigns SET status = 'active', flight_start = '2026-11-25',
             flight_end = '2026-12-20' WHERE id = $1",
        campaign.parse::<uuid::Uuid>().unwrap()
    )
    .execute(&p.db.pool)
    .await
    .unwrap();
    let (url, posted) = webhook().await;
    let watcher = delivery::watch::Watcher::from_config(&delivery::DeliveryConfig {
        alert_webhook_url: Some(url),
        ..Default::default()
    })
    .unwrap();
    let data_until = chrono::DateTime::parse_from_rfc3339("2026-12-01T10:00:00Z")
        .unwrap()
        .to_utc();
    let seen = delivery::watch::run(
        &p.db.pool,
        &watcher,
        data_until + chrono::TimeDelta::hours(1),
    )
    .await
    .unwrap();
    let id: uuid::Uuid = campaign.parse().unwrap();
    assert_eq!(
        seen.opened,
        [(Some(id), "under_pacing".to_string())],
        "{seen:?}"
    );
    assert!(!seen.feed_late);
    assert_eq!(seen.notified, 1);
    {
        let posted = posted.lock().unwrap();
        assert_eq!(posted.len(), 1);
        assert_eq!(posted[0]["alert"], "under_pacing");
        assert_eq!(posted[0]["campaign_id"], campaign.as_str());
    }
    let text = scrape(&p.app).await;
    assert_eq!(
        sample(&text, r#"p360_campaigns_pacing{state="under_pacing"}"#),
        1.0
    );
    assert_eq!(
        sample(&text, r#"p360_delivery_alerts_open{kind="under_pacing"}"#),
        1.0
    );
    // The tenant sees it; another run opens nothing new and posts nothing.
    let (_, open) = p.get("/v1/reports/alerts", &f.admin).await;
    assert_eq!(open.as_array().unwrap().len(), 1, "{open}");
    assert_eq!(open[0]["kind"], "under_pacing");
    let again = delivery::watch::run(
        &p.db.pool,
        &watcher,
        data_until + chrono::TimeDelta::hours(2),
    )
    .await
    .unwrap();
    assert!(again.opened.is_empty() && again.notified == 0, "{again:?}");

    // Five hours without a file: the feed is late (the platform's alert).
    let late = delivery::watch::run(
        &p.db.pool,
        &watcher,
        data_until + chrono::TimeDelta::hours(5),
    )
    .await
    .unwrap();
    assert!(late.feed_late);
    assert_eq!(late.opened, [(None, "feed_late".to_string())]);
    assert_eq!(posted.lock().unwrap().len(), 2);

    // A tolerance of 100 % clears the under-pacing alert; a file in time
    // clears the feed's.
    let rule = json!({"engaged_min_clicks": 1, "engaged_min_impressions": 10,
                      "pacing_tolerance_pct": 100});
    let (s, _) = p
        .call(
            reqwest::Method::PUT,
            "/v1/reports/settings",
            Some(&f.admin),
            Some(rule),
        )
        .await;
    assert_eq!(s, 200);
    let cleared = delivery::watch::run(&p.db.pool, &watcher, data_until)
        .await
        .unwrap();
    assert!(
        cleared.opened.is_empty() && !cleared.feed_late,
        "{cleared:?}"
    );
    let (_, open) = p.get("/v1/reports/alerts", &f.admin).await;
    assert_eq!(open, json!([]));
    let resolved = sqlx::query_scalar!(
        r#"SELECT count(*) AS "n!" FROM delivery_alerts WHERE resolved_at IS NOT NULL"#
    )
    .fetch_one(&p.db.pool)
    .await
    .unwrap();
    assert_eq!(resolved, 2);

    // A day without delivery (the data reaching 3 Dec with nothing for
    // this campaign since 1 Dec): no_delivery.
    sqlx::query!(
        "UPDATE delivery_files SET data_until = '2026-12-03T10:00:00Z' WHERE status = 'applied'"
    )
    .execute(&p.db.pool)
    .await
    .unwrap();
    let quiet = delivery::watch::run(
        &p.db.pool,
        &watcher,
        data_until + chrono::TimeDelta::hours(49),
    )
    .await
    .unwrap();
    assert_eq!(
        quiet.opened,
        [(Some(id), "no_delivery".to_string())],
        "{quiet:?}"
    );
    assert_eq!(quiet.without_delivery, 1);
}
