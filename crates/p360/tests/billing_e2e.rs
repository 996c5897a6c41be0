//! Issue 19 end to end on embedded defaults: a campaign over the turn of
//! November into December syncs to the in-process TTD sandbox, its
//! simulator writes four days of REDS files, P360 ingests them, and then
//! the recurring billing run drafts both months, leaves November open
//! within its grace period and closes it after; finance issues November's
//! invoice for exactly what the files say at the order's CPM; its CSV and
//! PDF say what the API says; the margin report sets the files' media cost
//! against it; and November delivery arriving after the close is billed
//! on December's invoice as an adjustment.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use chrono::NaiveDate;
use common::ttd::*;
use common::*;
use reqwest::Method;
use serde_json::{Value, json};

const SEED: u64 = 3;
const COMPANIES: u64 = 200;
/// The winter order's CPM, micros.
const CPM: i64 = 12_500_000;

/// Per month (`YYYY-MM`) of the files in `dir`: impressions and TTD's
/// advertiser cost (micros), read from the impression files themselves.
fn delivered(dir: &Path) -> BTreeMap<String, (i64, i64)> {
    let imp = delivery::schema::IMPRESSIONS;
    let col = |name: &str| imp.iter().position(|c| *c == name).unwrap();
    let (time, cost) = (col("LogEntryTime"), col("AdvertiserCostInUSDollars"));
    let mut out: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let path = e.unwrap().path();
        if !path.to_str().unwrap().contains("impressions_") {
            continue;
        }
        for l in gunzip(&path).lines() {
            let v: Vec<&str> = l.split('\t').collect();
            let month = v[time][..7].to_string();
            let e = out.entry(month).or_default();
            e.0 += 1;
            e.1 += campaigns::money::parse_micros(v[cost], 6).unwrap();
        }
    }
    out
}

/// `impressions` at the CPM, rounded once to the cent, half to even.
fn billed(impressions: i64) -> i64 {
    let micros = impressions as i128 * CPM as i128 / 1000;
    billing::pricing::div_half_even(micros, 10_000) as i64 * 10_000
}

/// `micros` of dollars as the PDF prints them: `1,234.50`.
fn printed(micros: i64) -> String {
    billing::pdf::format_amount(micros, 10_000)
}

/// A call as finance, acting in acme.
async fn finance(p: &Platform, method: Method, path: &str) -> (reqwest::StatusCode, Value) {
    let res = p
        .client
        .request(method, p.app.url(path))
        .bearer_auth(p.token("finance", None, "finance@agency.test"))
        .header(tenancy::principal::TENANT_HEADER, "acme")
        .send()
        .await
        .unwrap();
    let status = res.status();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// A file download as finance: its content type and bytes.
async fn download(p: &Platform, path: &str) -> (String, Vec<u8>) {
    let res = p
        .client
        .get(p.app.url(path))
        .bearer_auth(p.token("finance", None, "finance@agency.test"))
        .header(tenancy::principal::TENANT_HEADER, "acme")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{path}");
    let kind = res.headers()["content-type"].to_str().unwrap().to_string();
    (kind, res.bytes().await.unwrap().to_vec())
}

fn poppler(tool: &str, args: &[&str]) -> String {
    let out = Command::new(tool).args(args).output().unwrap_or_else(|e| {
        panic!("{tool} (Debian poppler-utils, scripts/lib.sh installs it): {e}")
    });
    assert!(
        out.status.success(),
        "{tool}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The tenant's invoice of `month` as finance lists it.
async fn invoice_of(p: &Platform, month: &str) -> Value {
    let (s, page) = finance(
        p,
        Method::GET,
        &format!("/v1/invoices?month={month}&kind=invoice"),
    )
    .await;
    assert_eq!(s, 200, "{page}");
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "one invoice of {month}: {page}");
    let (s, inv) = finance(
        p,
        Method::GET,
        &format!("/v1/invoices/{}", items[0]["id"].as_str().unwrap()),
    )
    .await;
    assert_eq!(s, 200, "{inv}");
    inv
}

#[tokio::test]
async fn a_campaign_over_two_months_is_invoiced_for_what_it_delivered() {
    let p = Platform::start().await;
    // The worker's own billing run (at once, on today's date) only drafts:
    // the test runs the job's steps itself, on dates of its choosing.
    let (stop, handle) = worker(&p, |c| c.billing.auto_close = false);
    p.generated_universe(COMPANIES, SEED).await;
    let f = platform_fixture(&p).await;
    let io = winter_io(&p, &f).await;
    let listed: Vec<String> = (0..40)
        .map(|i| accounts::generate::company(i * 5, SEED).0)
        .collect();
    let audience = f.list_audience("abm", &listed, json!({})).await;
    let (campaign, _) = f
        .campaign_for(
            &io,
            "Year end",
            "3300",
            ("2026-11-29", "2026-12-31"),
            ("Listed", &audience),
        )
        .await;
    f.launch(&campaign).await;
    let lines = lines_with_blocks(&p).await;
    assert!(
        !lines.is_empty() && !lines[0].blocks.is_empty(),
        "{lines:?}"
    );

    // November 30th and December 1st–2nd, ingested as an operator would.
    let tmp = TempDir::new("billing-reds");
    let (dir, late_dir) = (tmp.path().join("reds"), tmp.path().join("late"));
    let var = tmp.path().join("var").display().to_string();
    simulate(&p, &dir, &var, ("2026-11-30T00", 72, 9), &[]).await;
    ingest_all(&p, &dir, &var);
    let files = delivered(&dir);
    let (nov, dec) = (files["2026-11"], files["2026-12"]);
    assert!(nov.0 > 1_000 && dec.0 > 1_000, "{files:?}");

    // The recurring run on December 4th: both months drafted, November
    // still within its 5 days of grace.
    let tenant = tenancy::scope::tenant_by_slug(&p.db.pool, "acme")
        .await
        .unwrap()
        .unwrap();
    let pool = &p.app.state.pool;
    let day = |d: u32| NaiveDate::from_ymd_opt(2026, 12, d).unwrap();
    let ran = billing::jobs::run_tenant(pool, tenant, day(4), Some(5))
        .await
        .unwrap();
    let month = |s: &str| billing::pricing::Month::parse(s).unwrap();
    assert_eq!(ran.closed, vec![]);
    assert!(
        ran.drafted.contains(&month("2026-11")) && ran.drafted.contains(&month("2026-12")),
        "{ran:?}"
    );
    let draft = invoice_of(&p, "2026-11").await;
    assert_eq!(draft["status"], "draft");
    assert_eq!(draft["total_micros"], billed(nov.0), "{draft}");
    // A draft of an open month is not issued.
    let id = draft["id"].as_str().unwrap().to_string();
    let (s, refused) = finance(&p, Method::POST, &format!("/v1/invoices/{id}/issue")).await;
    assert_eq!(s, 409, "{refused}");

    // On December 6th the grace period is over: November closes.
    let ran = billing::jobs::run_tenant(pool, tenant, day(6), Some(5))
        .await
        .unwrap();
    assert_eq!(ran.closed, vec![month("2026-11")], "{ran:?}");
    let (s, issued) = finance(&p, Method::POST, &format!("/v1/invoices/{id}/issue")).await;
    assert_eq!(s, 200, "{issued}");
    assert_eq!(issued["status"], "issued");
    assert_eq!(issued["number"], 1);
    let inv = invoice_of(&p, "2026-11").await;
    assert_eq!(inv["total_micros"], billed(nov.0), "{inv}");
    let lines = inv["lines"].as_array().unwrap();
    let order = &lines[0];
    assert_eq!(order["kind"], "delivery");
    assert_eq!(
        order["units"], nov.0,
        "the order's line bills November's impressions"
    );
    assert_eq!(order["amount_micros"], billed(nov.0));
    assert_eq!(
        (
            order["pricing_model"].as_str(),
            order["rate_micros"].as_i64()
        ),
        (Some("cpm"), Some(CPM))
    );
    assert_eq!(lines[1]["kind"], "detail");
    assert_eq!(lines[1]["campaign_id"], campaign.as_str());
    assert_eq!(
        lines[1]["amount_micros"],
        billed(nov.0),
        "one campaign: all of it"
    );

    // The CSV says what the API says.
    let (kind, csv) = download(&p, &format!("/v1/invoices/{id}/csv")).await;
    assert!(kind.starts_with("text/csv"), "{kind}");
    let mut rows = csv::Reader::from_reader(csv.as_slice());
    let rows: Vec<csv::StringRecord> = rows.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), lines.len());
    for (row, line) in rows.iter().zip(lines) {
        assert_eq!(&row[0], "1");
        assert_eq!(&row[1], "2026-11");
        assert_eq!(&row[4], line["kind"].as_str().unwrap());
        assert_eq!(
            row[9].parse::<i64>().unwrap(),
            line["units"].as_i64().unwrap()
        );
        let amount = campaigns::money::parse_micros(&row[12], 2).unwrap();
        assert_eq!(amount, line["amount_micros"].as_i64().unwrap(), "{row:?}");
    }
    let total: i64 = rows
        .iter()
        .filter(|r| &r[4] != "detail")
        .map(|r| campaigns::money::parse_micros(&r[12], 2).unwrap())
        .sum();
    assert_eq!(total, billed(nov.0));

    // So does the PDF, read back by Poppler and rendered to an image.
    let (kind, pdf) = download(&p, &format!("/v1/invoices/{id}/pdf")).await;
    assert_eq!(kind, "application/pdf");
    let path = tmp.path().join("invoice-1.pdf");
    std::fs::write(&path, &pdf).unwrap();
    let path = path.to_str().unwrap();
    let text = poppler("pdftotext", &["-layout", path, "-"]);
    for said in [
        "Invoice",
        "Period 2026-11",
        "P360 Display",
        "acme",
        "Winter",
        "Year end",
        &printed(billed(nov.0)),
        &format!("{} USD CPM", "12.50"),
    ] {
        assert!(
            text.contains(said),
            "the PDF does not say {said:?}:\n{text}"
        );
    }
    let total_line = text
        .lines()
        .find(|l| l.contains("Total"))
        .unwrap_or_default();
    assert!(total_line.contains(&printed(billed(nov.0))), "{total_line}");
    let png = tmp.path().join("invoice-1");
    poppler(
        "pdftoppm",
        &[
            "-png",
            "-r",
            "50",
            "-singlefile",
            path,
            png.to_str().unwrap(),
        ],
    );
    assert!(
        std::fs::metadata(tmp.path().join("invoice-1.png"))
            .unwrap()
            .len()
            > 1_000
    );

    // The customer sees the issued invoice, not December's draft.
    let (s, page) = p.get("/v1/invoices", &f.admin).await;
    assert_eq!(s, 200, "{page}");
    let seen: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["month"].as_str().unwrap())
        .collect();
    assert_eq!(seen, vec!["2026-11"], "{page}");

    // Margin: what November billed against what its media cost at TTD.
    let (s, margin) = finance(
        &p,
        Method::GET,
        "/v1/billing/margin?from=2026-11&to=2026-12",
    )
    .await;
    assert_eq!(s, 200, "{margin}");
    let rows = margin["rows"].as_array().unwrap();
    let row = |m: &str| {
        rows.iter()
            .find(|r| r["month"] == m && r["insertion_order_id"] == io.as_str())
            .unwrap_or_else(|| panic!("{margin}"))
    };
    assert_eq!(row("2026-11")["billed_micros"], billed(nov.0));
    assert_eq!(row("2026-11")["media_cost_micros"], nov.1);
    assert_eq!(row("2026-11")["margin_micros"], billed(nov.0) - nov.1);
    assert_eq!(row("2026-12")["drafted_micros"], billed(dec.0));
    assert_eq!(row("2026-12")["billed_micros"], 0);

    // November delivery that arrives after the close: an adjustment on
    // December's invoice, November's untouched.
    simulate(&p, &late_dir, &var, ("2026-11-29T12", 2, 21), &[]).await;
    ingest_all(&p, &late_dir, &var);
    let late = delivered(&late_dir)["2026-11"].0;
    assert!(late > 0);
    let (s, drafted) = finance(&p, Method::POST, "/v1/billing/periods/2026-12/draft").await;
    assert_eq!(s, 200, "{drafted}");
    let december = invoice_of(&p, "2026-12").await;
    let adjustment = december["lines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["kind"] == "adjustment")
        .unwrap_or_else(|| panic!("no adjustment: {december}"));
    assert_eq!(adjustment["corrects_month"], "2026-11");
    assert_eq!(adjustment["units"], late);
    // Billed cumulatively: November's whole delivery less what its invoice
    // billed, so rounding never drifts.
    assert_eq!(
        adjustment["amount_micros"],
        billed(nov.0 + late) - billed(nov.0)
    );
    assert_eq!(
        december["total_micros"],
        billed(dec.0) + billed(nov.0 + late) - billed(nov.0),
        "{december}"
    );
    assert_eq!(
        invoice_of(&p, "2026-11").await["total_micros"],
        billed(nov.0)
    );

    stop.trigger();
    handle.await.unwrap().unwrap();
}
