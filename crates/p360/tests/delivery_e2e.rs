//! Issue 17 end to end on embedded defaults: a campaign targeting an
//! audience syncs to the in-process TTD sandbox, the sandbox's delivery
//! simulator writes three days of REDS files (at half the plan), P360
//! ingests them, and then the account view agrees with an independent
//! count over the same files, the CSV export equals the API, pacing says
//! under-pacing and the delivery watch raises the alert.

mod common;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use common::ttd::*;
use common::*;
use serde_json::{Value, json};

const SEED: u64 = 3;
const COMPANIES: u64 = 200;

/// What the files say campaign `ttd` delivered to each company:
/// (impressions, clicks).
fn count(dir: &Path, ttd: &str) -> BTreeMap<String, (i64, i64)> {
    let mut nets = Vec::new();
    accounts::generate::company_ranges(COMPANIES, SEED, |_, domain, ns| {
        for n in ns {
            nets.push((domain.to_string(), *n));
        }
    });
    let company = |ip: &str| -> String {
        let addr: IpAddr = ip.parse().unwrap();
        nets.iter()
            .find(|(_, n)| n.contains(&addr))
            .map_or("(unresolved)".to_string(), |(d, _)| d.clone())
    };
    let col = |layout: &[&str], name: &str| layout.iter().position(|c| *c == name).unwrap();
    let imp = delivery::schema::IMPRESSIONS;
    let (id, campaign, ip) = (
        col(imp, "ImpressionId"),
        col(imp, "CampaignId"),
        col(imp, "IPAddress"),
    );
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let mut out: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    let mut made: HashMap<String, String> = HashMap::new();
    for f in files
        .iter()
        .filter(|f| f.to_str().unwrap().contains("impressions_"))
    {
        for l in gunzip(f).lines() {
            let v: Vec<&str> = l.split('\t').collect();
            if v[campaign] != ttd {
                continue;
            }
            let c = company(v[ip]);
            made.insert(v[id].to_string(), c.clone());
            out.entry(c).or_default().0 += 1;
        }
    }
    let joins = col(delivery::schema::CLICKS, "DisplayImpressionId");
    for f in files
        .iter()
        .filter(|f| f.to_str().unwrap().contains("clicks_"))
    {
        for l in gunzip(f).lines() {
            let v: Vec<&str> = l.split('\t').collect();
            if let Some(c) = made.get(v[joins]) {
                out.entry(c.clone()).or_default().1 += 1;
            }
        }
    }
    out
}

#[tokio::test]
async fn a_synced_campaigns_delivery_reaches_reports_pacing_and_alerts() {
    let p = Platform::start().await;
    let (stop, handle) = worker(&p, |_| {});
    p.generated_universe(COMPANIES, SEED).await;
    let f = platform_fixture(&p).await;
    // An insertion order over this winter, a campaign spending 3,100
    // dollars evenly over December (100 a day).
    let io = winter_io(&p, &f).await;
    // The audience: 40 listed companies, 10 % held out.
    let listed: Vec<String> = (0..40)
        .map(|i| accounts::generate::company(i * 5, SEED).0)
        .collect();
    let audience = f
        .list_audience("abm", &listed, json!({"holdout_percent": 10}))
        .await;
    let (campaign, synced) = f.december_campaign(&io, "3100", &audience).await;
    let ttd_campaign = synced["ttd"]["campaign_id"].as_str().unwrap().to_string();
    // The segment holds the members' blocks once the audience sync ran.
    let lines = lines_with_blocks(&p).await;
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(!lines[0].blocks.is_empty(), "the audience reached TTD");

    // Three days of delivery at half the plan, from the command line.
    let tmp = TempDir::new("simulated-reds");
    let dir = tmp.path().join("reds");
    let var = tmp.path().join("var").display().to_string();
    let out = simulate_december(&p, &dir, &var, &["--delivery-rate", "0.5"]).await;
    let said = String::from_utf8_lossy(&out.stdout);
    let impressions: u64 = said
        .rsplit_once(": ")
        .and_then(|(_, counts)| counts.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_default();
    assert!(
        said.starts_with("delivery: 72 hours for 1 ad groups") && impressions > 10_000,
        "{said}"
    );
    let bad = p360(&["delivery", "simulate", "--out", "x", "--from", "December"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("December is not an hour"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
    // Ingested as an operator would: every file in one command.
    ingest_all(&p, &dir, &var);

    // The account view agrees with the files.
    let counted = count(&dir, &ttd_campaign);
    let (_, members) = p
        .get(
            &format!("/v1/audiences/{audience}/members?limit=500"),
            &f.admin,
        )
        .await;
    let targets: BTreeSet<String> = members["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["holdout"] == false)
        .map(|m| m["domain"].as_str().unwrap().to_string())
        .collect();
    let reached: Vec<&String> = targets
        .iter()
        .filter(|t| counted.contains_key(*t))
        .collect();
    let engaged = reached
        .iter()
        .filter(|t| {
            let (i, c) = counted[**t];
            c >= 1 || i >= 10
        })
        .count();
    let range = "from=2026-12-01&to=2026-12-03";
    let (s, view) = p
        .get(
            &format!("/v1/reports/accounts?campaign_id={campaign}&{range}"),
            &f.admin,
        )
        .await;
    assert_eq!(s, 200, "{view}");
    assert_eq!(view["target_accounts"], targets.len() as i64, "{view}");
    assert_eq!(view["reached"], reached.len() as i64, "{view}");
    assert_eq!(view["engaged"], engaged as i64, "{view}");
    assert_eq!(
        view["clicks"],
        reached.iter().map(|t| counted[*t].1).sum::<i64>(),
        "{view}"
    );
    assert!(view["reached"].as_i64().unwrap() > 0);

    // The CSV export is the API's rows.
    let (_, page) = p
        .get(
            &format!("/v1/reports/delivery?{range}&group_by=day,company&limit=1000"),
            &f.admin,
        )
        .await;
    let api: Vec<String> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            format!(
                "{},{},{},{}",
                r["day"].as_str().unwrap(),
                r["company"].as_str().unwrap(),
                r["impressions"],
                r["clicks"]
            )
        })
        .collect();
    let res = reqwest::Client::new()
        .get(p.app.url(&format!(
            "/v1/reports/delivery?{range}&group_by=day,company&format=csv"
        )))
        .bearer_auth(&f.admin)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let text = res.text().await.unwrap();
    let csv: Vec<String> = csv::Reader::from_reader(text.as_bytes())
        .records()
        .map(|r| {
            let r = r.unwrap();
            format!("{},{},{},{}", &r[0], &r[1], &r[3], &r[4])
        })
        .collect();
    assert_eq!(csv, api);
    assert!(csv.len() > 3, "{text}");

    // Pacing: by 4 December 00:00 (where the data ends), 300 of the 3,100
    // dollars were planned and about half of it spent.
    let (_, pacing) = p
        .get(
            &format!("/v1/reports/pacing?campaign_id={campaign}"),
            &f.admin,
        )
        .await;
    let pace = &pacing["campaigns"][0];
    assert_eq!(pace["as_of"], "2026-12-04T00:00:00Z", "{pacing}");
    assert_eq!(pace["planned_to_date_micros"], 300_000_000i64, "{pacing}");
    assert_eq!(pace["state"], "under_pacing", "{pacing}");
    let ratio = pace["pace_ratio"].as_f64().unwrap();
    assert!((0.4..0.6).contains(&ratio), "{pacing}");

    // The watch raises the under-pacing alert.
    let watcher =
        delivery::watch::Watcher::from_config(&delivery::DeliveryConfig::default()).unwrap();
    let now = chrono::DateTime::parse_from_rfc3339("2026-12-04T01:00:00Z")
        .unwrap()
        .to_utc();
    let seen = delivery::watch::run(&p.db.pool, &watcher, now)
        .await
        .unwrap();
    let id: uuid::Uuid = campaign.parse().unwrap();
    assert!(
        seen.opened
            .contains(&(Some(id), "under_pacing".to_string())),
        "{seen:?}"
    );
    let (_, alerts) = p.get("/v1/reports/alerts", &f.admin).await;
    assert!(
        alerts
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["kind"] == "under_pacing" && a["campaign_id"] == campaign.as_str()),
        "{alerts}"
    );
    let _: Value = alerts;
    stop.trigger();
    handle.await.unwrap().unwrap();
}
