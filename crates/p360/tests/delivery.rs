//! Delivery: REDS impression files ingested into rollups per account —
//! idempotent per file, a corrected file replacing its rows exactly, a
//! broken file quarantined with nothing applied, TTD's campaigns mapped to
//! their tenant (unknown ones kept for staff), each tenant seeing its own.

mod common;

use std::io::Write;
use std::path::Path;

use common::*;
use delivery::generate::{Plan, Written};
use delivery::ingest::Outcome;

fn plan() -> Plan {
    let hour = chrono::NaiveDate::from_ymd_opt(2026, 11, 30)
        .unwrap()
        .and_hms_opt(9, 0, 0)
        .unwrap();
    Plan {
        impressions: 20_000,
        companies: 200,
        campaigns: 4,
        ad_groups_per_campaign: 3,
        audience: 30,
        seed: 5,
        ..Plan::at(hour)
    }
}

/// Totals as staff see them: (impressions, advertiser cost, unresolved).
async fn totals(p: &Platform) -> (i64, i64, i64) {
    let t = sqlx::query!(
        r#"SELECT coalesce(sum(impressions), 0)::int8 AS "impressions!",
                  coalesce(sum(advertiser_cost_micros), 0)::int8 AS "cost!",
                  coalesce(sum(impressions) FILTER (WHERE company IS NULL), 0)::int8
                      AS "unresolved!"
           FROM delivery_cells"#
    )
    .fetch_one(&p.db.pool)
    .await
    .unwrap();
    (t.impressions, t.cost, t.unresolved)
}

fn cols() -> delivery::schema::ImpressionColumns {
    delivery::schema::ImpressionColumns::of(delivery::schema::IMPRESSIONS).unwrap()
}

/// Ingest and merge, as the CLI does.
async fn ingest(p: &Platform, key: &str, path: &Path) -> delivery::ingest::Report {
    let r = delivery::ingest::impressions(&p.app.state.pool, key, path, cols())
        .await
        .unwrap();
    delivery::merge::run(&p.app.state.pool).await.unwrap();
    r
}

/// Each merged table's impressions, and the rows files keep: (cells,
/// accounts, campaign hours, per-file days, per-file hours).
async fn merged(p: &Platform) -> [i64; 5] {
    let t = sqlx::query!(
        r#"SELECT (SELECT coalesce(sum(impressions), 0) FROM delivery_cells)::int8 AS "cells!",
                  (SELECT coalesce(sum(impressions), 0) FROM delivery_accounts)::int8
                      AS "accounts!",
                  (SELECT coalesce(sum(impressions), 0) FROM delivery_campaign_hours)::int8
                      AS "hours!",
                  (SELECT coalesce(sum(impressions), 0) FROM delivery_daily)::int8 AS "daily!",
                  (SELECT coalesce(sum(impressions), 0) FROM delivery_hourly)::int8 AS "hourly!""#
    )
    .fetch_one(&p.db.pool)
    .await
    .unwrap();
    [t.cells, t.accounts, t.hours, t.daily, t.hourly]
}

/// TTD's campaign 0 mapped to a campaign of tenant acme (the others P360
/// does not know): (acme, the campaign).
async fn campaign_0_of_acme(p: &Platform) -> (uuid::Uuid, uuid::Uuid) {
    let acme: uuid::Uuid = p.tenant("acme").await.parse().unwrap();
    let campaign = uuid::Uuid::now_v7();
    sqlx::query!(
        "INSERT INTO ttd_objects (object_type, p360_id, tenant_id, ttd_id)
         VALUES ('campaign', $1, $2, $3)",
        campaign,
        acme,
        delivery::generate::campaign_id(0)
    )
    .execute(&p.db.pool)
    .await
    .unwrap();
    (acme, campaign)
}

#[tokio::test]
async fn an_hour_is_rolled_up_once_replaced_exactly_and_a_broken_file_quarantined() {
    let p = Platform::start().await;
    let plan = plan();
    p.generated_universe(plan.companies, plan.seed).await;
    let (acme, p360_campaign) = campaign_0_of_acme(&p).await;
    let other: uuid::Uuid = p.tenant("other").await.parse().unwrap();

    let tmp = TempDir::new("reds");
    let dir = tmp.0.clone();
    let w: Written = delivery::generate::files(&plan, &dir).unwrap();
    let file = dir.join("impressions_2026-11-30T09.log.gz");
    let r = ingest(&p, "reds/impressions_2026-11-30T09", &file).await;
    assert_eq!(r.outcome, Outcome::Applied);
    assert_eq!(
        (r.rows, r.unresolved),
        (w.impressions, w.impressions - w.inside)
    );
    let all = totals(&p).await;
    assert_eq!(
        all,
        (
            w.impressions as i64,
            w.advertiser_cost_micros,
            (w.impressions - w.inside) as i64
        )
    );
    // Acme sees its campaign's rows, mapped; the other tenant nothing.
    let seen = async |tenant: uuid::Uuid| -> (i64, i64) {
        let mut tx = tenancy::TenantTx::begin(&p.app.state.pool, tenancy::TenantId(tenant))
            .await
            .unwrap();
        let s = sqlx::query!(
            r#"SELECT coalesce(sum(impressions), 0)::int8 AS "impressions!",
                      count(*) FILTER (WHERE campaign_id IS DISTINCT FROM $1) AS "not_mapped!"
               FROM delivery_cells"#,
            p360_campaign
        )
        .fetch_one(tx.conn())
        .await
        .unwrap();
        (s.impressions, s.not_mapped)
    };
    let (acme_impressions, not_mapped) = seen(acme).await;
    assert_eq!(not_mapped, 0);
    assert_eq!(
        acme_impressions as u64 + r.unknown_campaigns,
        w.impressions,
        "acme's campaign plus those P360 does not know"
    );
    assert!(acme_impressions > 0 && r.unknown_campaigns > 0);
    assert_eq!(seen(other).await, (0, 0));
    // Merged: the account view holds acme's campaign only; the hours and
    // the files' own rows everything.
    let total = w.impressions as i64;
    assert_eq!(
        merged(&p).await,
        [total, acme_impressions, total, total, total]
    );

    // The same file again changes nothing.
    let again = ingest(&p, "reds/impressions_2026-11-30T09", &file).await;
    assert_eq!((again.outcome, again.file), (Outcome::Unchanged, r.file));
    assert_eq!(totals(&p).await, all);

    // A corrected file under the same key replaces the first exactly: its
    // first 1,000 rows, plain.
    let text = gunzip(&file);
    let first: String = text.lines().take(1_000).map(|l| format!("{l}\n")).collect();
    let corrected = dir.join("corrected.log");
    std::fs::write(&corrected, &first).unwrap();
    let fixed = ingest(&p, "reds/impressions_2026-11-30T09", &corrected).await;
    assert_eq!(fixed.outcome, Outcome::Replaced);
    assert_eq!(totals(&p).await.0, 1_000);
    let [cells, accounts, hours, daily, hourly] = merged(&p).await;
    assert_eq!((cells, hours, daily, hourly), (1_000, 1_000, 1_000, 1_000));
    assert!(accounts < 1_000 && accounts > 0, "{accounts}");
    // Nothing the first file alone made is left at zero.
    let zeros = sqlx::query_scalar!(
        r#"SELECT (SELECT count(*) FROM delivery_cells WHERE impressions = 0)
                + (SELECT count(*) FROM delivery_accounts WHERE impressions = 0)
                + (SELECT count(*) FROM delivery_campaign_hours WHERE impressions = 0)
                AS "n!""#
    )
    .fetch_one(&p.db.pool)
    .await
    .unwrap();
    assert_eq!(zeros, 0);
    // The people of the first file went with it: no row counts more
    // people than impressions, and some count people.
    let people = sqlx::query!(
        r#"SELECT (SELECT count(*) FROM delivery_cells WHERE cardinality(people) > impressions)
                + (SELECT count(*) FROM delivery_accounts
                   WHERE cardinality(people) > impressions) AS "more!",
                  (SELECT count(*) FROM delivery_cells WHERE cardinality(people) > 0) AS "some!""#
    )
    .fetch_one(&p.db.pool)
    .await
    .unwrap();
    assert_eq!(people.more, 0);
    assert!(people.some > 0);

    // A file cut short is quarantined, named, and nothing of it counts.
    let bytes = std::fs::read(&file).unwrap();
    let cut = dir.join("cut.log.gz");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let q = ingest(&p, "reds/impressions_2026-11-30T10", &cut).await;
    let Outcome::Quarantined(reason) = &q.outcome else {
        panic!("{q:?}")
    };
    assert!(reason.contains("cut short"), "{reason}");
    assert_eq!(totals(&p).await.0, 1_000);
    let statuses: Vec<(String, String)> =
        sqlx::query!("SELECT source_key, status FROM delivery_files ORDER BY received_at, id")
            .fetch_all(&p.db.pool)
            .await
            .unwrap()
            .into_iter()
            .map(|r| (r.source_key, r.status))
            .collect();
    assert_eq!(
        statuses,
        [
            ("reds/impressions_2026-11-30T09".into(), "replaced".into()),
            ("reds/impressions_2026-11-30T09".into(), "applied".into()),
            (
                "reds/impressions_2026-11-30T10".into(),
                "quarantined".into()
            ),
        ]
    );
    // A row with a bad amount: the line is named.
    let mut bad = first.clone();
    bad.push_str(&text.lines().nth(2_000).unwrap().replace("\t0.", "\t0,"));
    bad.push('\n');
    let bad_file = dir.join("bad.log");
    std::fs::File::create(&bad_file)
        .unwrap()
        .write_all(bad.as_bytes())
        .unwrap();
    let q = ingest(&p, "reds/impressions_2026-11-30T11", &bad_file).await;
    assert!(
        matches!(&q.outcome, Outcome::Quarantined(r) if r.starts_with("line 1001: ")),
        "{q:?}"
    );
    // New ranges are a new range set: the shared address space the
    // generator's other traffic comes from, given to the first company,
    // resolves every impression of the same file ingested again.
    let first = accounts::generate::company(0, plan.seed).0;
    let mut conn = p.db.pool.acquire().await.unwrap();
    let added = accounts::ranges::service::import(
        &mut conn,
        format!("domain,cidr\n{first},100.64.0.0/10\n").as_bytes(),
    )
    .await
    .unwrap();
    drop(conn);
    assert!(added.skipped.is_empty() && added.added == 1, "{added:?}");
    let again = ingest(&p, "reds/impressions_2026-11-30T09-again", &file).await;
    assert_eq!((again.rows, again.unresolved), (w.impressions, 0));

    // What the alert on quarantined files and the dashboard read.
    let text = scrape(&p.app).await;
    for (outcome, n) in [
        ("applied", 2.0),
        ("unchanged", 1.0),
        ("replaced", 1.0),
        ("quarantined", 2.0),
    ] {
        let series = format!(r#"p360_delivery_files_total{{outcome="{outcome}"}}"#);
        assert_eq!(sample(&text, &series), n, "{series}");
    }
}

fn layouts() -> delivery::ingest::Layouts {
    delivery::DeliveryConfig::default().layouts().unwrap()
}

/// Clicks per (TTD ad group, creative) as the files say: each click's
/// impression looked up by its id in the impression file.
fn clicks_by_cell(
    impressions: &Path,
    clicks: &Path,
) -> std::collections::BTreeMap<(String, String), i64> {
    let col = |layout: &[&str], name: &str| layout.iter().position(|c| *c == name).unwrap();
    let imp = delivery::schema::IMPRESSIONS;
    let (id, group, creative) = (
        col(imp, "ImpressionId"),
        col(imp, "AdGroupId"),
        col(imp, "CreativeId"),
    );
    let of: std::collections::HashMap<String, (String, String)> = gunzip(impressions)
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (
                f[id].to_string(),
                (f[group].to_string(), f[creative].to_string()),
            )
        })
        .collect();
    let joins = col(delivery::schema::CLICKS, "DisplayImpressionId");
    let mut out = std::collections::BTreeMap::new();
    for l in gunzip(clicks).lines() {
        let f: Vec<&str> = l.split('\t').collect();
        *out.entry(of[f[joins]].clone()).or_default() += 1;
    }
    out
}

#[tokio::test]
async fn clicks_join_their_impressions_even_from_a_later_file() {
    let p = Platform::start().await;
    let plan = plan();
    p.generated_universe(plan.companies, plan.seed).await;
    let tmp = TempDir::new("reds-clicks");
    let dir = tmp.0.clone();
    let w = delivery::generate::files(&plan, &dir).unwrap();
    assert!(w.clicks > 20, "{w:?}");
    let impressions = dir.join("impressions_2026-11-30T09.log.gz");
    let clicks = dir.join("clicks_2026-11-30T09.log.gz");
    let sources = delivery::ingest::Sources::default();
    let pool = &p.app.state.pool;
    let key = |f: &Path| format!("file://{}", f.display());
    let i = delivery::ingest::file(pool, &key(&impressions), &impressions, layouts(), &sources)
        .await
        .unwrap();
    assert_eq!(i.kind, delivery::ingest::Kind::Impressions);
    let c = delivery::ingest::file(pool, &key(&clicks), &clicks, layouts(), &sources)
        .await
        .unwrap();
    assert_eq!(c.kind, delivery::ingest::Kind::Clicks);
    assert_eq!((c.rows, c.clicks_joined), (w.clicks, w.clicks), "{c:?}");
    delivery::merge::run(pool).await.unwrap();
    // Every click sits in its impression's cell.
    let got: std::collections::BTreeMap<(String, String), i64> = sqlx::query!(
        r#"SELECT ttd_ad_group, ttd_creative, sum(clicks)::int8 AS "clicks!" FROM delivery_cells
           GROUP BY 1, 2 HAVING sum(clicks) > 0"#
    )
    .fetch_all(&p.db.pool)
    .await
    .unwrap()
    .into_iter()
    .map(|r| ((r.ttd_ad_group, r.ttd_creative), r.clicks))
    .collect();
    assert_eq!(got, clicks_by_cell(&impressions, &clicks));
    let (impressions_total, clicks_total) = sqlx::query!(
        r#"SELECT sum(impressions)::int8 AS "i!", sum(clicks)::int8 AS "c!" FROM delivery_cells"#
    )
    .fetch_one(&p.db.pool)
    .await
    .map(|r| (r.i, r.c))
    .unwrap();
    assert_eq!(
        (impressions_total, clicks_total),
        (w.impressions as i64, w.clicks as i64),
        "clicks add to the cells, impressions stay"
    );

    // The next hour's clicks come before its impressions: they count on
    // their own campaign and address, not joined.
    let later = Plan {
        hour: plan.hour + chrono::TimeDelta::hours(1),
        seed: 6,
        ..plan.clone()
    };
    let dir2 = dir.join("later");
    let w2 = delivery::generate::files(&later, &dir2).unwrap();
    let early = dir2.join("clicks_2026-11-30T10.log.gz");
    let c2 = delivery::ingest::file(pool, &key(&early), &early, layouts(), &sources)
        .await
        .unwrap();
    assert_eq!((c2.rows, c2.clicks_joined), (w2.clicks, 0), "{c2:?}");
    delivery::merge::run(pool).await.unwrap();
    let unjoined = sqlx::query_scalar!(
        r#"SELECT coalesce(sum(clicks), 0)::int8 AS "n!" FROM delivery_cells
           WHERE ttd_ad_group = '(not joined)'"#
    )
    .fetch_one(&p.db.pool)
    .await
    .unwrap();
    assert_eq!(unjoined, w2.clicks as i64);

    // A file of neither layout is quarantined, named.
    let odd = dir.join("odd.tsv");
    std::fs::write(&odd, "a\tb\tc\n").unwrap();
    let q = delivery::ingest::file(pool, &key(&odd), &odd, layouts(), &sources)
        .await
        .unwrap();
    assert!(
        matches!(&q.outcome, Outcome::Quarantined(r) if r.contains("3 columns, neither")),
        "{q:?}"
    );
}

#[tokio::test]
async fn late_files_for_past_hours_count_where_they_belong() {
    let p = Platform::start().await;
    let plan = plan();
    p.generated_universe(plan.companies, plan.seed).await;
    // Campaign 0 is acme's: its rows reach the account grain too.
    campaign_0_of_acme(&p).await;
    let tmp = TempDir::new("reds-late");
    let hour = |d: u32, m: u32, h: u32| {
        chrono::NaiveDate::from_ymd_opt(2026, m, d)
            .unwrap()
            .and_hms_opt(h, 0, 0)
            .unwrap()
    };
    // The newest hour first, then an earlier hour of the same day, then an
    // hour of the month before (a partition no file has made yet).
    let mut written = Vec::new();
    for (n, at) in [hour(30, 11, 9), hour(30, 11, 8), hour(31, 10, 23)]
        .into_iter()
        .enumerate()
    {
        let dir = tmp.0.join(n.to_string());
        let late = Plan {
            hour: at,
            seed: 20 + n as u64,
            ..plan.clone()
        };
        let w = delivery::generate::files(&late, &dir).unwrap();
        let name = format!("impressions_{}.log.gz", at.format("%Y-%m-%dT%H"));
        let r = ingest(&p, &format!("reds/{name}"), &dir.join(&name)).await;
        assert_eq!(r.outcome, Outcome::Applied, "{name}");
        written.push(w.impressions as i64);
    }
    let by_day: Vec<(chrono::NaiveDate, i64)> = sqlx::query!(
        r#"SELECT day, sum(impressions)::int8 AS "n!" FROM delivery_cells GROUP BY day ORDER BY day"#
    )
    .fetch_all(&p.db.pool)
    .await
    .unwrap()
    .into_iter()
    .map(|r| (r.day, r.n))
    .collect();
    assert_eq!(
        by_day,
        [
            (hour(31, 10, 0).date(), written[2]),
            (hour(30, 11, 0).date(), written[0] + written[1]),
        ]
    );
    let by_hour: Vec<(chrono::DateTime<chrono::Utc>, i64)> = sqlx::query!(
        r#"SELECT hour, sum(impressions)::int8 AS "n!" FROM delivery_campaign_hours
           GROUP BY hour ORDER BY hour"#
    )
    .fetch_all(&p.db.pool)
    .await
    .unwrap()
    .into_iter()
    .map(|r| (r.hour, r.n))
    .collect();
    let utc = |t: chrono::NaiveDateTime| t.and_utc();
    assert_eq!(
        by_hour,
        [
            (utc(hour(31, 10, 23)), written[2]),
            (utc(hour(30, 11, 8)), written[1]),
            (utc(hour(30, 11, 9)), written[0]),
        ]
    );
    // The feed still reaches as far as its newest hour: a late file does
    // not move pacing's moment back.
    let mut conn = p.db.pool.acquire().await.unwrap();
    let until = delivery::pacing::data_until(&mut conn).await.unwrap();
    assert_eq!(until, Some(utc(hour(30, 11, 10))));
    drop(conn);

    // The earlier hour corrected (its first 500 rows): the day's rows,
    // which both hours made, keep the other hour's sums and people; every
    // merged row's people are the union of its files' own.
    let name = "impressions_2026-11-30T08.log.gz";
    let first: String = gunzip(&tmp.0.join("1").join(name))
        .lines()
        .take(500)
        .map(|l| format!("{l}\n"))
        .collect();
    let corrected = tmp.0.join("corrected.log");
    std::fs::write(&corrected, first).unwrap();
    let r = ingest(&p, &format!("reds/{name}"), &corrected).await;
    assert_eq!(r.outcome, Outcome::Replaced);
    let day = sqlx::query_scalar!(
        r#"SELECT sum(impressions)::int8 AS "n!" FROM delivery_cells WHERE day = '2026-11-30'"#
    )
    .fetch_one(&p.db.pool)
    .await
    .unwrap();
    assert_eq!(day, written[0] + 500);
    let wrong = sqlx::query!(
        r#"SELECT
             (SELECT count(*) FROM delivery_cells c
              WHERE c.people <> (
                  SELECT p360_people(d.people) FROM delivery_daily d
                  JOIN delivery_files f ON f.id = d.file_id AND f.status = 'applied'
                  WHERE d.day = c.day AND d.ttd_campaign = c.ttd_campaign
                    AND d.ttd_ad_group = c.ttd_ad_group AND d.ttd_creative = c.ttd_creative
                    AND d.company IS NOT DISTINCT FROM c.company)) AS "cells!",
             (SELECT count(*) FROM delivery_accounts a
              WHERE a.people <> (
                  SELECT p360_people(d.people) FROM delivery_daily d
                  JOIN delivery_files f ON f.id = d.file_id AND f.status = 'applied'
                  WHERE d.day = a.day AND d.campaign_id = a.campaign_id
                    AND d.company IS NOT DISTINCT FROM a.company)) AS "accounts!",
             (SELECT count(*) FROM delivery_accounts) AS "rows!""#
    )
    .fetch_one(&p.db.pool)
    .await
    .unwrap();
    assert_eq!((wrong.cells, wrong.accounts), (0, 0));
    assert!(wrong.rows > 0);
}

#[tokio::test]
async fn a_watched_folder_ingests_files_as_they_settle() {
    let p = Platform::start().await;
    let plan = plan();
    p.generated_universe(plan.companies, plan.seed).await;
    let tmp = TempDir::new("reds-folder");
    let dir = tmp.0.join("incoming");
    let w = delivery::generate::files(&plan, &dir).unwrap();
    std::fs::write(dir.join("odd.tsv"), "a\tb\tc\n").unwrap();
    std::fs::write(dir.join("still-writing.log.part"), "x").unwrap();
    std::fs::write(dir.join(".hidden"), "x").unwrap();
    let folder = delivery::folder::Folder {
        dir: dir.clone(),
        layouts: layouts(),
        sources: delivery::ingest::Sources::default(),
    };
    let pool = &p.app.state.pool;
    // Nothing has been left alone for an hour yet.
    let waited = folder
        .scan(pool, std::time::Duration::from_secs(3_600))
        .await
        .unwrap();
    assert!(waited.is_empty());
    let done = folder.scan(pool, std::time::Duration::ZERO).await.unwrap();
    let seen: Vec<(&str, &Outcome)> = done.iter().map(|(n, r)| (n.as_str(), &r.outcome)).collect();
    assert_eq!(seen.len(), 3, "{seen:?}");
    // Impressions before the clicks made on them.
    assert_eq!(
        seen[0],
        ("impressions_2026-11-30T09.log.gz", &Outcome::Applied)
    );
    assert!(
        matches!(seen[1], ("odd.tsv", Outcome::Quarantined(_))),
        "{seen:?}"
    );
    assert_eq!(seen[2], ("clicks_2026-11-30T09.log.gz", &Outcome::Applied));
    assert_eq!(
        done[2].1.clicks_joined, w.clicks,
        "clicks found their impressions"
    );
    let mut left: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(
        left,
        [
            ".hidden",
            "ingested",
            "quarantined",
            "still-writing.log.part"
        ]
    );
    let reason = std::fs::read_to_string(dir.join("quarantined/odd.tsv.reason")).unwrap();
    assert!(reason.contains("3 columns"), "{reason}");

    // The watcher itself: the same bytes dropped again change nothing; a
    // corrected hour under the same name replaces the first.
    let shutdown = platform::shutdown::Shutdown::manual();
    let watching = tokio::spawn(folder.clone().run(
        pool.clone(),
        std::time::Duration::from_millis(100),
        shutdown.clone(),
    ));
    let name = "impressions_2026-11-30T09.log.gz";
    let ingested = dir.join("ingested").join(name);
    let first: String = gunzip(&ingested)
        .lines()
        .take(700)
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(dir.join(name), first).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while dir.join(name).exists() {
        assert!(std::time::Instant::now() < deadline, "not picked up");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    shutdown.trigger();
    watching.await.unwrap();
    delivery::merge::run(pool).await.unwrap();
    let impressions = totals(&p).await.0;
    assert_eq!(impressions, 700, "the corrected hour alone");
    let statuses: Vec<String> = sqlx::query_scalar!(
        "SELECT status FROM delivery_files WHERE source_key = $1 ORDER BY received_at",
        format!("file://{}", ingested.display())
    )
    .fetch_all(&p.db.pool)
    .await
    .unwrap();
    assert_eq!(statuses, ["replaced", "applied"]);
}

#[tokio::test]
async fn an_hour_of_many_cells_is_stored_in_several_statements_whole() {
    let p = Platform::start().await;
    let plan = Plan {
        impressions: 150_000,
        companies: 5_000,
        campaigns: 10,
        ad_groups_per_campaign: 5,
        audience: 1_000,
        ..plan()
    };
    p.generated_universe(plan.companies, plan.seed).await;
    let tmp = TempDir::new("reds-many");
    let w = delivery::generate::files(&plan, &tmp.0).unwrap();
    let file = tmp.0.join("impressions_2026-11-30T09.log.gz");
    let r = ingest(&p, "reds/many", &file).await;
    assert_eq!(r.outcome, Outcome::Applied);
    // More cells than one insert statement carries (50,000): two lanes.
    assert!(r.cells > 50_000, "{r:?}");
    let stored = sqlx::query_scalar!(r#"SELECT count(*) AS "n!" FROM delivery_daily"#)
        .fetch_one(&p.db.pool)
        .await
        .unwrap();
    assert_eq!(stored as u64, r.cells);
    assert_eq!(
        totals(&p).await,
        (
            w.impressions as i64,
            w.advertiser_cost_micros,
            (w.impressions - w.inside) as i64
        )
    );
    // The helper's note went with the file's record.
    let notes = || async {
        sqlx::query_scalar!(r#"SELECT count(*) AS "n!" FROM delivery_loading"#)
            .fetch_one(&p.db.pool)
            .await
            .unwrap()
    };
    assert_eq!(notes().await, 0);

    // An ingest that failed after its helper committed: a note two hours
    // old and rows of a file never recorded. The next merge deletes them;
    // a recent note (an ingest still going) is left alone.
    let (lost, going) = (uuid::Uuid::now_v7(), uuid::Uuid::now_v7());
    for (file, age) in [(lost, "2 hours"), (going, "1 minute")] {
        sqlx::query!(
            "INSERT INTO delivery_loading (file_id, started_at)
             VALUES ($1, now() - $2::text::interval)",
            file,
            age
        )
        .execute(&p.db.pool)
        .await
        .unwrap();
        sqlx::query!(
            "INSERT INTO delivery_daily (day, file_id, ttd_campaign, ttd_ad_group, ttd_creative,
                 impressions, clicks, advertiser_cost_micros, media_cost_micros)
             SELECT day, $1, ttd_campaign, ttd_ad_group, ttd_creative, impressions, clicks,
                    advertiser_cost_micros, media_cost_micros
             FROM delivery_daily WHERE file_id = $2 LIMIT 1000",
            file,
            r.file
        )
        .execute(&p.db.pool)
        .await
        .unwrap();
    }
    delivery::merge::run(&p.app.state.pool).await.unwrap();
    let left: Vec<uuid::Uuid> = sqlx::query_scalar!(
        "SELECT DISTINCT file_id FROM delivery_daily WHERE file_id = ANY($1)",
        &[lost, going]
    )
    .fetch_all(&p.db.pool)
    .await
    .unwrap();
    assert_eq!(left, [going]);
    assert_eq!(notes().await, 1);
    assert_eq!(totals(&p).await.0, w.impressions as i64, "the merged sums");
}
