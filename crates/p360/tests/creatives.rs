//! Creatives through the API: images and HTML5 bundles checked from their
//! bytes, stored on the local store and on S3 (moto_server), previewed with
//! the right content type and a sandboxing CSP.

mod common;

use std::io::Write;

use common::*;
use secrecy::SecretString;
use serde_json::{Value, json};

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

const INDEX: &[u8] =
    b"<!doctype html><html><head><meta name=\"ad.size\" content=\"width=300,height=250\"><script src=\"js/ad.js\"></script></head><body>Hi</body></html>";

async fn advertiser(p: &Platform, token: &str) -> String {
    let (s, adv) = p
        .post(
            "/v1/advertisers",
            token,
            json!({"name": "Acme", "domain": "acme.com", "currency": "USD"}),
        )
        .await;
    assert_eq!(s, 201, "{adv}");
    adv["id"].as_str().unwrap().to_string()
}

async fn upload(
    p: &Platform,
    token: &str,
    adv: &str,
    name: &str,
    click: &str,
    file: Vec<u8>,
    filename: &str,
) -> (u16, Value) {
    let form = reqwest::multipart::Form::new()
        .text("advertiser_id", adv.to_string())
        .text("name", name.to_string())
        .text("click_url", click.to_string())
        .part(
            "file",
            reqwest::multipart::Part::bytes(file)
                .file_name(filename.to_string())
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
    (
        res.status().as_u16(),
        res.json().await.unwrap_or(Value::Null),
    )
}

fn codes(body: &Value) -> Vec<String> {
    body["errors"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|e| e["code"].as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// The whole creative flow against whichever store the platform is configured with.
async fn creative_flow(p: &Platform) {
    p.tenant("acme").await;
    let token = p.token("customer_admin", Some("acme"), "admin@acme.test");
    let adv = advertiser(p, &token).await;

    // An image: type and size from the bytes (the client calls it a .gif).
    let (s, img) = upload(
        p,
        &token,
        &adv,
        "Leaderboard",
        "https://acme.com/?utm=1",
        png(728, 90),
        "banner.gif",
    )
    .await;
    assert_eq!(s, 201, "{img}");
    assert_eq!(
        (img["kind"].as_str(), img["mime"].as_str()),
        (Some("image"), Some("image/png"))
    );
    assert_eq!(
        (img["width"].as_i64(), img["height"].as_i64()),
        (Some(728), Some(90))
    );
    let res = p
        .client
        .get(p.app.url(&format!(
            "/v1/creatives/{}/preview",
            img["id"].as_str().unwrap()
        )))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "image/png");
    assert_eq!(res.bytes().await.unwrap().as_ref(), png(728, 90).as_slice());

    // An HTML5 bundle, previewed in a sandbox with its own files.
    let bundle = zip(&[("index.html", INDEX), ("js/ad.js", b"console.log('ad')")]);
    let (s, html) = upload(
        p,
        &token,
        &adv,
        "MPU",
        "https://acme.com/",
        bundle,
        "ad.zip",
    )
    .await;
    assert_eq!(s, 201, "{html}");
    assert_eq!(
        (html["kind"].as_str(), html["width"].as_i64()),
        (Some("html5"), Some(300))
    );
    let id = html["id"].as_str().unwrap();
    let res = p
        .client
        .get(p.app.url(&format!("/v1/creatives/{id}/preview")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let csp = res.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(csp.starts_with("sandbox allow-scripts"), "{csp}");
    assert!(!csp.contains("allow-same-origin"), "{csp}");
    let res = p
        .client
        .get(p.app.url(&format!("/v1/creatives/{id}/preview/js/ad.js")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );
    assert_eq!(
        p.get(
            &format!("/v1/creatives/{id}/preview/..%2F..%2Fetc%2Fpasswd"),
            &token
        )
        .await
        .0,
        404
    );

    // Refusals, each with its code.
    let cases: Vec<(&str, &str, Vec<u8>, &str)> = vec![
        (
            "wrong size",
            "https://acme.com",
            png(301, 250),
            "not_iab_size",
        ),
        (
            "oversize image",
            "https://acme.com",
            {
                let mut v = png(300, 250);
                v.resize(205 * 1024, 0);
                v
            },
            "too_large",
        ),
        ("not https", "http://acme.com", png(300, 250), "not_https"),
        (
            "pdf",
            "https://acme.com",
            b"%PDF-1.7 ...".to_vec(),
            "unsupported_type",
        ),
        (
            "zip bomb",
            "https://acme.com",
            zip(&[
                ("index.html", INDEX),
                ("pad.bin", &vec![0u8; 6 * 1024 * 1024]),
            ]),
            "too_large_unpacked",
        ),
        (
            "no index",
            "https://acme.com",
            zip(&[("ad/index.html", INDEX)]),
            "missing_index",
        ),
    ];
    for (what, click, file, code) in cases {
        let (s, body) = upload(p, &token, &adv, what, click, file, "x").await;
        assert_eq!(s, 422, "{what}: {body}");
        assert!(codes(&body).contains(&code.to_string()), "{what}: {body}");
    }
    let (_, list) = p.get("/v1/creatives", &token).await;
    assert_eq!(
        list["items"].as_array().unwrap().len(),
        2,
        "refused uploads left nothing"
    );
}

#[tokio::test]
async fn creatives_on_the_local_store() {
    let p = Platform::start().await;
    creative_flow(&p).await;
    // The files are under the data dir.
    let objects = p.data.path().join("objects/tenants");
    assert!(objects.is_dir(), "{}", objects.display());
}

#[tokio::test]
async fn creatives_on_s3() {
    let moto = Moto::start().await;
    let endpoint = moto.endpoint.clone();
    let created = reqwest::Client::new()
        .put(format!("{endpoint}/p360-creatives"))
        .send()
        .await
        .unwrap();
    assert!(created.status().is_success());
    let ep = endpoint.clone();
    let p = Platform::start_with(move |c| {
        c.platform.storage.s3_bucket = Some("p360-creatives".into());
        c.platform.storage.s3_endpoint = Some(ep);
        c.platform.storage.s3_region = Some("us-east-1".into());
        c.platform.storage.s3_access_key_id = Some("testing".into());
        c.platform.storage.s3_secret_access_key = Some(SecretString::from("testing"));
    })
    .await;
    creative_flow(&p).await;
    // The objects are in the bucket, not on disk.
    let listing = reqwest::get(format!("{endpoint}/p360-creatives?list-type=2"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(listing.contains("files/index.html"), "{listing}");
    assert!(!p.data.path().join("objects/tenants").exists());
    drop(moto);
}

#[tokio::test]
async fn ad_groups_run_only_their_advertisers_creatives() {
    let p = Platform::start().await;
    p.tenant("acme").await;
    let token = p.token("customer_admin", Some("acme"), "admin@acme.test");
    let adv = advertiser(&p, &token).await;
    let (_, other_adv) = p
        .post(
            "/v1/advertisers",
            &token,
            json!({"name": "Other", "domain": "other.com", "currency": "USD"}),
        )
        .await;
    let (_, mine) = upload(
        &p,
        &token,
        &adv,
        "Mine",
        "https://acme.com",
        png(300, 250),
        "a.png",
    )
    .await;
    let (_, theirs) = upload(
        &p,
        &token,
        other_adv["id"].as_str().unwrap(),
        "Theirs",
        "https://other.com",
        png(300, 250),
        "b.png",
    )
    .await;
    let (_, io) = p
        .post_as_staff(
            "acme",
            "/v1/insertion-orders",
            json!({"advertiser_id": adv, "name": "IO", "budget": {"amount": "1000", "currency": "USD"},
                   "start_date": "2027-01-01", "end_date": "2027-12-31",
                   "pricing": {"model": "cost_plus", "percent": "15"}}),
        )
        .await;
    assert_eq!(
        io["pricing"],
        json!({"model": "cost_plus", "percent": "15"})
    );
    let (_, c) = p
        .post(
            "/v1/campaigns",
            &token,
            json!({"insertion_order_id": io["id"], "name": "C", "objective": "awareness",
                   "budget": {"amount": "100", "currency": "USD"},
                   "flight": {"start": "2027-02-01", "end": "2027-03-01"}, "pacing": "even"}),
        )
        .await;
    let url = format!("/v1/campaigns/{}/ad-groups", c["id"].as_str().unwrap());
    let body = |creatives: Vec<&Value>| {
        json!({"name": "AG", "budget": {"amount": "10", "currency": "USD"},
               "base_bid_cpm": {"amount": "2", "currency": "USD"}, "max_bid_cpm": {"amount": "4", "currency": "USD"},
               "creative_ids": creatives.iter().map(|c| c["id"].clone()).collect::<Vec<_>>()})
    };
    let (s, res) = p.post(&url, &token, body(vec![&theirs])).await;
    assert_eq!(s, 422, "{res}");
    assert!(codes(&res).contains(&"not_found".to_string()));
    let (s, group) = p.post(&url, &token, body(vec![&mine])).await;
    assert_eq!(s, 201, "{group}");
    assert_eq!(group["creative_ids"], json!([mine["id"]]));
}

#[tokio::test]
async fn creatives_can_be_renamed_and_archived() {
    let p = Platform::start().await;
    p.tenant("acme").await;
    let token = p.token("customer_admin", Some("acme"), "admin@acme.test");
    let adv = advertiser(&p, &token).await;
    let (_, c) = upload(
        &p,
        &token,
        &adv,
        "MPU",
        "https://acme.com",
        png(300, 250),
        "a.png",
    )
    .await;
    let url = p
        .app
        .url(&format!("/v1/creatives/{}", c["id"].as_str().unwrap()));
    let res = p
        .client
        .patch(&url)
        .bearer_auth(&token)
        .header("if-match", "\"v1\"")
        .json(&json!({"click_url": "http://acme.com"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    let res = p
        .client
        .patch(&url)
        .bearer_auth(&token)
        .header("if-match", "\"v1\"")
        .json(&json!({"name": "MPU v2"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let res = p
        .client
        .delete(&url)
        .bearer_auth(&token)
        .header("if-match", "\"v2\"")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let archived: Value = res.json().await.unwrap();
    assert_eq!(archived["status"], "archived");
    assert_eq!(archived["name"], "MPU v2");
}

/// The creative ids that have files in the local store (a deleted file's
/// directories may stay).
fn stored_creatives(p: &Platform) -> Vec<String> {
    fn has_file(dir: &std::path::Path) -> bool {
        std::fs::read_dir(dir).unwrap().any(|e| {
            let path = e.unwrap().path();
            path.is_file() || has_file(&path)
        })
    }
    let mut ids = Vec::new();
    for tenant in std::fs::read_dir(p.data.path().join("objects/tenants")).unwrap() {
        let dir = tenant.unwrap().path().join("creatives");
        for c in std::fs::read_dir(dir).into_iter().flatten() {
            let c = c.unwrap();
            if has_file(&c.path()) {
                ids.push(c.file_name().to_string_lossy().into_owned());
            }
        }
    }
    ids.sort();
    ids
}

#[tokio::test]
async fn files_of_a_failed_upload_are_collected_and_live_ones_kept() {
    use campaigns::creatives::orphans::{Collected, GRACE, collect};
    let p = Platform::start().await;
    p.tenant("acme").await;
    let token = p.token("customer_admin", Some("acme"), "admin@acme.test");
    let adv = advertiser(&p, &token).await;
    let (s, kept) = upload(
        &p,
        &token,
        &adv,
        "Banner",
        "https://acme.com/",
        png(300, 250),
        "a.png",
    )
    .await;
    assert_eq!(s, 201, "{kept}");
    let kept = kept["id"].as_str().unwrap().to_string();
    // The same name again: refused after its files were written.
    let bundle = zip(&[("index.html", INDEX), ("js/ad.js", b"1")]);
    let (s, body) = upload(
        &p,
        &token,
        &adv,
        "Banner",
        "https://acme.com/",
        bundle,
        "b.zip",
    )
    .await;
    assert_eq!(s, 409, "{body}");
    assert_eq!(
        stored_creatives(&p).len(),
        2,
        "the refused upload left files"
    );

    let storage = platform::storage::Storage::from_config(&p.config.platform).unwrap();
    let pool = &p.app.state.pool;
    // Within the grace period an upload may still be in flight: kept.
    let c = collect(pool, &storage, GRACE).await.unwrap();
    assert_eq!(
        c,
        Collected {
            creatives: 0,
            files: 0,
            young: 1
        }
    );
    // Past it, the orphan's files (bundle and its two unpacked files) go,
    // the live creative's stay and still serve.
    let c = collect(pool, &storage, std::time::Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(
        c,
        Collected {
            creatives: 1,
            files: 3,
            young: 0
        }
    );
    assert_eq!(stored_creatives(&p), vec![kept.clone()]);
    let res = p
        .client
        .get(p.app.url(&format!("/v1/creatives/{kept}/preview")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    // Nothing left to collect.
    let c = collect(pool, &storage, std::time::Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(c, Collected::default());
}

/// A retried upload is the same request whatever boundary the client's
/// retry picks: replayed, not stored twice; another file under the same
/// key is refused.
#[tokio::test]
async fn a_retried_upload_with_a_new_boundary_is_replayed() {
    let p = Platform::start().await;
    p.tenant("acme").await;
    let token = p.token("customer_admin", Some("acme"), "admin@acme.test");
    let adv = advertiser(&p, &token).await;
    let send = |file: Vec<u8>| {
        // Each Form has a random boundary.
        let form = reqwest::multipart::Form::new()
            .text("advertiser_id", adv.clone())
            .text("name", "Retried")
            .text("click_url", "https://acme.com/")
            .part(
                "file",
                reqwest::multipart::Part::bytes(file)
                    .file_name("a.png")
                    .mime_str("image/png")
                    .unwrap(),
            );
        p.client
            .post(p.app.url("/v1/creatives"))
            .bearer_auth(&token)
            .header("idempotency-key", "upload-1")
            .multipart(form)
            .send()
    };
    let first = send(png(300, 250)).await.unwrap();
    assert_eq!(first.status(), 201);
    assert!(first.headers().get("idempotent-replayed").is_none());
    let first: Value = first.json().await.unwrap();
    let again = send(png(300, 250)).await.unwrap();
    assert_eq!(again.status(), 201);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    let again: Value = again.json().await.unwrap();
    assert_eq!(again["id"], first["id"]);
    let (_, list) = p.get("/v1/creatives", &token).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1, "{list}");
    // Another file under the same key is another request.
    let other = send(png(728, 90)).await.unwrap();
    assert_eq!(other.status(), 422);
}
