//! The creative URLs the TTD sync sends are ones the app serves: an approved
//! campaign's image and HTML5 creatives are synced to the in-process TTD
//! sandbox, and the URLs the sandbox holds, pointed at the app, answer the
//! uploaded bytes publicly; anything the public may not see is 404.

mod common;

use std::io::Write;
use std::time::{Duration, Instant};

use activation::ttd::model::{Advertiser, Creative};
use activation::ttd::{TtdClient, TtdSettings};
use common::ttd::worker;
use common::*;
use serde_json::{Value, json};

/// What the sync is configured to send: the app's public URL + `/creatives`.
const PUBLIC_BASE: &str = "https://ads.p360.example/creatives";

fn png(w: u32, h: u32) -> Vec<u8> {
    let mut v = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
    v.extend(w.to_be_bytes());
    v.extend(h.to_be_bytes());
    v.extend([8, 6, 0, 0, 0, 0, 0, 0, 0]);
    v
}

fn zip(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    {
        let mut z = zip::ZipWriter::new(&mut out);
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        for (name, bytes) in files {
            z.start_file(*name, opts).unwrap();
            z.write_all(bytes).unwrap();
        }
        z.finish().unwrap();
    }
    out.into_inner()
}

const INDEX: &[u8] = b"<!doctype html><html><head><meta name=\"ad.size\" content=\"width=300,height=250\"></head><body>Hi</body></html>";

async fn post(p: &Platform, path: &str, token: &str, body: Value) -> Value {
    let (s, v) = p.post(path, token, body).await;
    assert!(s == 200 || s == 201, "POST {path}: {s} {v}");
    v
}

async fn upload(p: &Platform, token: &str, adv: &str, name: &str, file: Vec<u8>) -> String {
    let form = reqwest::multipart::Form::new()
        .text("advertiser_id", adv.to_string())
        .text("name", name.to_string())
        .text("click_url", "https://acmecloud.com/demo")
        .part(
            "file",
            reqwest::multipart::Part::bytes(file)
                .file_name("upload")
                .mime_str("application/octet-stream")
                .unwrap(),
        );
    let res = p
        .client
        .post(p.app.url("/v1/creatives"))
        .bearer_auth(token)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let v: Value = res.json().await.unwrap();
    v["id"].as_str().unwrap().to_string()
}

/// A campaign with one ad group running `creatives`, submitted.
async fn submitted_campaign(
    p: &Platform,
    token: &str,
    io: &str,
    name: &str,
    creatives: &[&str],
) -> String {
    let c = post(
        p,
        "/v1/campaigns",
        token,
        json!({
            "insertion_order_id": io, "name": name, "objective": "pipeline",
            "budget": {"amount": "5000", "currency": "USD"},
            "flight": {"start": "2027-01-15", "end": "2027-03-31"}, "pacing": "even"
        }),
    )
    .await;
    let id = c["id"].as_str().unwrap().to_string();
    post(
        p,
        &format!("/v1/campaigns/{id}/ad-groups"),
        token,
        json!({
            "name": "Enterprise", "budget": {"amount": "3000", "currency": "USD"},
            "base_bid_cpm": {"amount": "4.25", "currency": "USD"},
            "max_bid_cpm": {"amount": "9", "currency": "USD"},
            "creative_ids": creatives
        }),
    )
    .await;
    post(p, &format!("/v1/campaigns/{id}/submit"), token, json!({})).await;
    id
}

async fn wait_synced(p: &Platform, token: &str, id: &str) {
    let started = Instant::now();
    loop {
        let (s, c) = p.get(&format!("/v1/campaigns/{id}"), token).await;
        assert_eq!(s, 200, "{c}");
        if c["activation"]["status"] == "synced" {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "not synced: {c}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// The creatives the in-process sandbox holds, as TTD's API shows them.
async fn sandbox_creatives(p: &Platform) -> Vec<Creative> {
    let client = TtdClient::new(TtdSettings {
        base_url: p.app.url("/sandbox/ttd"),
        data_url: p.app.url("/sandbox/ttd"),
        login: "checker".into(),
        password: "secret".to_string().into(),
        token_minutes: 60,
        timeout: Duration::from_secs(5),
        max_concurrency: 4,
        max_retries: 3,
    })
    .unwrap();
    let mut all = Vec::new();
    for a in client.query_all::<Advertiser>("p360partner").await.unwrap() {
        let id = a.advertiser_id.as_deref().unwrap();
        all.extend(client.query_all::<Creative>(id).await.unwrap());
    }
    all
}

/// `url` with its scheme and host replaced by the test app's.
fn at_app(p: &Platform, url: &str) -> String {
    let u = reqwest::Url::parse(url).unwrap();
    assert_eq!(
        format!("{}://{}", u.scheme(), u.host_str().unwrap()),
        "https://ads.p360.example"
    );
    let mut path = u.path().to_string();
    if let Some(q) = u.query() {
        path = format!("{path}?{q}");
    }
    p.app.url(&path)
}

async fn assert_not_found(p: &Platform, path: &str) {
    let res = p.client.get(p.app.url(path)).send().await.unwrap();
    assert_eq!(res.status(), 404, "{path}");
    assert!(is_problem(&res), "{path}: {:?}", res.headers());
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["status"], 404, "{body}");
    let text = body.to_string();
    assert!(!text.contains("tenants/"), "leaks a storage key: {text}");
}

#[tokio::test]
async fn the_creative_urls_ttd_gets_are_served_publicly() {
    let p = Platform::start_with(|c| {
        // Few anonymous requests, so that the limit is reached below.
        c.platform.rate_limit.anonymous.burst = 20;
        c.platform.rate_limit.anonymous.per_minute = 1;
    })
    .await;
    let (stop, handle) = worker(&p, |c| c.ttd.creative_base_url = PUBLIC_BASE.into());
    let admin = p.admin();
    post(
        &p,
        "/v1/tenants",
        &admin,
        json!({"slug": "acme", "name": "Acme"}),
    )
    .await;
    let token = p.token("customer_admin", Some("acme"), "admin@acme.test");
    let approver = p.token("customer_admin", Some("acme"), "boss@acme.test");
    let adv = post(
        &p,
        "/v1/advertisers",
        &token,
        json!({"name": "Acme Cloud", "domain": "acmecloud.com", "currency": "USD"}),
    )
    .await;
    let adv = adv["id"].as_str().unwrap();
    let (s, io) = p
        .post_as_staff(
            "acme",
            "/v1/insertion-orders",
            json!({
                "advertiser_id": adv, "name": "FY27", "number": "IO-1",
                "budget": {"amount": "1000000", "currency": "USD"},
                "start_date": "2027-01-01", "end_date": "2027-12-31",
                "pricing": {"model": "cpm", "rate": {"amount": "12.50", "currency": "USD"}}
            }),
        )
        .await;
    assert_eq!(s, 201, "{io}");
    let io = io["id"].as_str().unwrap();
    let image_bytes = png(300, 250);
    let bundle = zip(&[("index.html", INDEX), ("img/a.txt", b"x")]);
    let image = upload(&p, &token, adv, "Banner", image_bytes.clone()).await;
    let html5 = upload(&p, &token, adv, "Rich", bundle.clone()).await;
    let drafted = upload(&p, &token, adv, "Draft only", png(728, 90)).await;
    let loose = upload(&p, &token, adv, "Unused", png(160, 600)).await;

    // Not public before its campaign is approved, nor in a draft campaign.
    let live = submitted_campaign(&p, &token, io, "Launch", &[&image, &html5]).await;
    let (s, draft) = p
        .post(
            "/v1/campaigns",
            &token,
            json!({
                "insertion_order_id": io, "name": "Later", "objective": "pipeline",
                "budget": {"amount": "100", "currency": "USD"},
                "flight": {"start": "2027-01-15", "end": "2027-03-31"}, "pacing": "even"
            }),
        )
        .await;
    assert_eq!(s, 201, "{draft}");
    post(
        &p,
        &format!("/v1/campaigns/{}/ad-groups", draft["id"].as_str().unwrap()),
        &token,
        json!({
            "name": "G", "budget": {"amount": "50", "currency": "USD"},
            "base_bid_cpm": {"amount": "1", "currency": "USD"},
            "max_bid_cpm": {"amount": "2", "currency": "USD"},
            "creative_ids": [drafted]
        }),
    )
    .await;
    assert_not_found(&p, &format!("/creatives/{image}")).await;

    post(
        &p,
        &format!("/v1/campaigns/{live}/approve"),
        &approver,
        json!({}),
    )
    .await;
    wait_synced(&p, &token, &live).await;

    // The URLs TTD (the sandbox) was sent, pointed at this app.
    let sent = sandbox_creatives(&p).await;
    assert_eq!(sent.len(), 2, "{sent:?}");
    let image_url = sent
        .iter()
        .find_map(|c| c.image_attributes.as_ref().map(|a| a.image_url.clone()))
        .expect("the image creative");
    let zip_url = sent
        .iter()
        .find_map(|c| c.html5_attributes.as_ref().map(|a| a.html5_zip_url.clone()))
        .expect("the HTML5 creative");
    assert_eq!(image_url, format!("{PUBLIC_BASE}/{image}"));
    assert_eq!(zip_url, format!("{PUBLIC_BASE}/{html5}.zip"));

    let before = scrape(&p.app).await;
    let mut etag = String::new();
    for (url, bytes, content_type) in [
        (&image_url, &image_bytes, "image/png"),
        (&zip_url, &bundle, "application/zip"),
    ] {
        // No credentials: TTD and browsers fetch these.
        let res = p.client.get(at_app(&p, url)).send().await.unwrap();
        assert_eq!(res.status(), 200, "{url}");
        let h = res.headers().clone();
        assert_eq!(h["content-type"], content_type, "{url}");
        assert_eq!(h["cache-control"], "public, max-age=3600");
        assert_eq!(h["x-content-type-options"], "nosniff");
        etag = h["etag"].to_str().unwrap().to_string();
        assert!(etag.starts_with('"') && etag.len() == 66, "{etag}");
        assert_eq!(
            res.bytes().await.unwrap().as_ref(),
            bytes.as_slice(),
            "{url}"
        );

        let head = p.client.head(at_app(&p, url)).send().await.unwrap();
        assert_eq!(head.status(), 200);
        assert_eq!(head.headers()["content-type"], content_type);
        assert_eq!(head.headers()["etag"], etag.as_str());
        assert_eq!(
            head.headers()["content-length"],
            bytes.len().to_string().as_str()
        );
        assert!(head.bytes().await.unwrap().is_empty());
    }
    // Revalidation: the HTML5 zip has not changed.
    let res = p
        .client
        .get(at_app(&p, &zip_url))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 304);
    assert_eq!(res.headers()["etag"], etag.as_str());
    assert!(res.bytes().await.unwrap().is_empty());

    // Counted per route, as every route.
    let after = scrape(&p.app).await;
    let served = delta(
        &before,
        &after,
        r#"p360_http_requests_total{route="/creatives/{name}",method="GET",status="200"}"#,
    );
    assert_eq!(served, 2.0);
    assert_eq!(
        delta(
            &before,
            &after,
            r#"p360_http_requests_total{route="/creatives/{name}",method="HEAD",status="200"}"#,
        ),
        2.0
    );

    // What the public may not see: 404, the same whatever the reason.
    let unknown = uuid::Uuid::now_v7();
    for path in [
        format!("/creatives/{unknown}"),
        format!("/creatives/{unknown}.zip"),
        format!("/creatives/{drafted}"),
        format!("/creatives/{loose}"),
        format!("/creatives/{image}.zip"),
        format!("/creatives/{html5}"),
        format!("/creatives/{}", image.to_uppercase()),
        "/creatives/not-an-id".to_string(),
    ] {
        assert_not_found(&p, &path).await;
    }

    // Anonymous callers share the per-address limit.
    let mut limited = None;
    for _ in 0..40 {
        let res = p.client.get(at_app(&p, &image_url)).send().await.unwrap();
        if res.status() == 429 {
            limited = Some(res);
            break;
        }
        assert_eq!(res.status(), 200);
    }
    let limited = limited.expect("rate limited within 40 requests");
    assert!(is_problem(&limited));
    assert!(limited.headers().contains_key("retry-after"));

    stop.trigger();
    handle.await.unwrap().unwrap();
}
