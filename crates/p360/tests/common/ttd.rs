//! The TTD side of the tests: an API caller, a tenant with an advertiser,
//! an IO and a creative ([`Fixture`]) to build campaigns from, a sandbox on
//! a free port, a job worker for the in-process app, and what the sandbox
//! holds.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use activation::ttd::model::{AdGroup, Advertiser, Campaign, Creative};
use activation::ttd::sandbox::{SandboxOptions, router};
use activation::ttd::{TtdClient, TtdSettings};
use platform::shutdown::Shutdown;
use serde_json::{Value, json};

use super::Platform;

/// A JSON API at `base` (the in-process app or a `p360 serve` process).
#[derive(Clone)]
pub struct Api {
    pub base: String,
    pub client: reqwest::Client,
}

impl Api {
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        self.call_in(None, method, path, token, body).await
    }

    /// As [`Api::call`], as agency staff acting in `tenant` (the
    /// `P360-Tenant` header) when given.
    pub async fn call_in(
        &self,
        tenant: Option<&str>,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = self
            .client
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(token);
        if let Some(t) = tenant {
            req = req.header(tenancy::principal::TENANT_HEADER, t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.expect("request");
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> Value {
        let (s, v) = self
            .call(reqwest::Method::POST, path, token, Some(body))
            .await;
        assert!(s == 200 || s == 201, "POST {path}: {s} {v}");
        v
    }

    pub async fn get(&self, path: &str, token: &str) -> Value {
        let (s, v) = self.call(reqwest::Method::GET, path, token, None).await;
        assert_eq!(s, 200, "GET {path}: {v}");
        v
    }
}

pub fn png(w: u32, h: u32) -> Vec<u8> {
    let mut v = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
    v.extend(w.to_be_bytes());
    v.extend(h.to_be_bytes());
    v.extend([8, 6, 0, 0, 0, 0, 0, 0, 0]);
    v
}

/// An advertiser (USD), an IO and one 300x250 creative.
pub struct Fixture {
    pub api: Api,
    pub platform_admin: String,
    pub admin: String,
    pub approver: String,
    pub io: String,
    pub creative: String,
}

impl Fixture {
    pub async fn new(api: Api, platform_admin: &str, admin: String, approver: String) -> Fixture {
        api.post(
            "/v1/tenants",
            platform_admin,
            json!({"slug": "acme", "name": "Acme"}),
        )
        .await;
        Fixture::new_in_tenant(api, platform_admin, admin, approver).await
    }

    /// In an existing tenant `acme`.
    pub async fn new_in_tenant(
        api: Api,
        platform_admin: &str,
        admin: String,
        approver: String,
    ) -> Fixture {
        let adv = api
            .post(
                "/v1/advertisers",
                &admin,
                json!({"name": "Acme Cloud", "domain": "acmecloud.com", "currency": "USD"}),
            )
            .await;
        // The contract is the agency's to write.
        let (s, io) = api
            .call_in(
                Some("acme"),
                reqwest::Method::POST,
                "/v1/insertion-orders",
                platform_admin,
                Some(json!({
                    "advertiser_id": adv["id"], "name": "FY27", "number": "IO-1",
                    "budget": {"amount": "1000000", "currency": "USD"},
                    "start_date": "2027-01-01", "end_date": "2027-12-31",
                    "pricing": {"model": "cpm", "rate": {"amount": "12.50", "currency": "USD"}}
                })),
            )
            .await;
        assert_eq!(s, 201, "{io}");
        let form = reqwest::multipart::Form::new()
            .text("advertiser_id", adv["id"].as_str().unwrap().to_string())
            .text("name", "Banner")
            .text("click_url", "https://acmecloud.com/demo")
            .part(
                "file",
                reqwest::multipart::Part::bytes(png(300, 250))
                    .file_name("banner.png")
                    .mime_str("image/png")
                    .unwrap(),
            );
        let res = api
            .client
            .post(format!("{}/v1/creatives", api.base))
            .bearer_auth(&admin)
            .multipart(form)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 201);
        let creative: Value = res.json().await.unwrap();
        Fixture {
            api,
            platform_admin: platform_admin.to_string(),
            admin,
            approver,
            io: io["id"].as_str().unwrap().to_string(),
            creative: creative["id"].as_str().unwrap().to_string(),
        }
    }

    /// An audience of the companies `domains` (an account list of them
    /// included) by `rule`: its id.
    pub async fn list_audience<'a>(
        &self,
        name: &str,
        domains: impl IntoIterator<Item = &'a String>,
        rule: Value,
    ) -> String {
        let body: String = std::iter::once("domain")
            .chain(domains.into_iter().map(String::as_str))
            .map(|l| format!("{l}\n"))
            .collect();
        let res = self
            .api
            .client
            .post(format!("{}/v1/account-lists?name={name}", self.api.base))
            .bearer_auth(&self.admin)
            .header("content-type", "text/csv")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 201);
        let list: Value = res.json().await.unwrap();
        let audience = self
            .api
            .post(
                "/v1/audiences",
                &self.admin,
                json!({"name": name, "include_lists": [list["id"]], "rule": rule}),
            )
            .await;
        audience["id"]
            .as_str()
            .unwrap_or_else(|| panic!("{audience}"))
            .to_string()
    }

    /// A draft campaign of insertion order `io` (USD `budget` evenly over
    /// `flight`) with one ad group, named `group`, running the creative to
    /// the audience `audience`: (campaign, ad group).
    pub async fn campaign_for(
        &self,
        io: &str,
        name: &str,
        budget: &str,
        (start, end): (&str, &str),
        (group, audience): (&str, &str),
    ) -> (String, String) {
        let c = self
            .api
            .post(
                "/v1/campaigns",
                &self.admin,
                json!({
                    "insertion_order_id": io, "name": name, "objective": "pipeline",
                    "budget": {"amount": budget, "currency": "USD"},
                    "flight": {"start": start, "end": end}, "pacing": "even"
                }),
            )
            .await;
        let campaign = c["id"]
            .as_str()
            .unwrap_or_else(|| panic!("{c}"))
            .to_string();
        let g = self
            .api
            .post(
                &format!("/v1/campaigns/{campaign}/ad-groups"),
                &self.admin,
                json!({
                    "name": group, "budget": {"amount": "3000", "currency": "USD"},
                    "base_bid_cpm": {"amount": "4", "currency": "USD"},
                    "max_bid_cpm": {"amount": "8", "currency": "USD"},
                    "targeting": {"audiences": {"include": [audience]}},
                    "creative_ids": [self.creative]
                }),
            )
            .await;
        let group = g["id"]
            .as_str()
            .unwrap_or_else(|| panic!("{g}"))
            .to_string();
        (campaign, group)
    }

    /// A submitted campaign with one ad group running the creative.
    pub async fn submitted_campaign(&self, name: &str) -> String {
        let c = self
            .api
            .post(
                "/v1/campaigns",
                &self.admin,
                json!({
                    "insertion_order_id": self.io, "name": name, "objective": "pipeline",
                    "budget": {"amount": "5000", "currency": "USD"}, "daily_cap": {"amount": "250", "currency": "USD"},
                    "flight": {"start": "2027-01-15", "end": "2027-03-31"}, "pacing": "even"
                }),
            )
            .await;
        let id = c["id"].as_str().unwrap().to_string();
        self.api
            .post(
                &format!("/v1/campaigns/{id}/ad-groups"),
                &self.admin,
                json!({
                    "name": "Enterprise", "budget": {"amount": "3000", "currency": "USD"},
                    "base_bid_cpm": {"amount": "4.25", "currency": "USD"}, "max_bid_cpm": {"amount": "9", "currency": "USD"},
                    "frequency_cap": {"impressions": 3, "period_hours": 24},
                    "creative_ids": [self.creative]
                }),
            )
            .await;
        self.api
            .post(
                &format!("/v1/campaigns/{id}/submit"),
                &self.admin,
                json!({}),
            )
            .await;
        id
    }

    pub async fn approve(&self, id: &str) -> Value {
        self.api
            .post(
                &format!("/v1/campaigns/{id}/approve"),
                &self.approver,
                json!({}),
            )
            .await
    }

    pub async fn activation(&self, id: &str) -> Value {
        self.api
            .get(&format!("/v1/campaigns/{id}"), &self.admin)
            .await["activation"]
            .clone()
    }

    /// Wait until every campaign shows `synced`; returns their activations.
    pub async fn wait_synced(&self, ids: &[String], limit: Duration) -> Vec<Value> {
        let started = Instant::now();
        loop {
            // One list call per poll, as a dashboard would.
            let page = self.api.get("/v1/campaigns?limit=500", &self.admin).await;
            let by_id: std::collections::HashMap<&str, &Value> = page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| (c["id"].as_str().unwrap(), &c["activation"]))
                .collect();
            let all: Vec<Value> = ids.iter().map(|id| by_id[id.as_str()].clone()).collect();
            if all.iter().all(|a| a["status"] == "synced") {
                return all;
            }
            if started.elapsed() > limit {
                let jobs = self
                    .api
                    .get("/v1/jobs?kind=ttd.sync_campaign", &self.platform_admin)
                    .await;
                panic!("not all synced within {limit:?}: {all:#?}\njobs: {jobs:#}");
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }
}

pub fn ttd(base: &str, retries: u32) -> TtdClient {
    TtdClient::new(TtdSettings {
        base_url: base.to_string(),
        data_url: base.to_string(),
        login: "checker".into(),
        password: "secret".to_string().into(),
        token_minutes: 60,
        timeout: Duration::from_secs(5),
        max_concurrency: 4,
        max_retries: retries,
    })
    .unwrap()
}

/// Serve a sandbox in this process; returns its base URL.
pub async fn sandbox(options: SandboxOptions) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router(options)).await });
    format!("http://{addr}")
}

/// Run a job worker for `p`'s app, with `configure` applied to its configuration.
pub fn worker(
    p: &Platform,
    configure: impl FnOnce(&mut p360::Config),
) -> (Shutdown, tokio::task::JoinHandle<anyhow::Result<()>>) {
    let mut config = p.config.clone();
    config.platform.http.listen = p.app.addr;
    configure(&mut config);
    let registry = p360::job_registry(&config).unwrap();
    let shutdown = Shutdown::manual();
    // A pool of its own, as `p360 serve` gives its worker.
    let pool = platform::db::connect_app(
        &p.db.url,
        &platform::db::worker_pool_config(&config.platform),
    )
    .unwrap();
    let handle = tokio::spawn(platform::jobs::run_worker(
        pool,
        registry,
        platform::jobs::WorkerConfig {
            concurrency: 8,
            lease: Duration::from_secs(30),
            poll: Duration::from_millis(500),
            drain: Duration::from_secs(2),
            ..Default::default()
        },
        shutdown.clone(),
    ));
    (shutdown, handle)
}

pub async fn platform_fixture(p: &Platform) -> Fixture {
    let api = Api {
        base: p.app.url(""),
        client: reqwest::Client::new(),
    };
    Fixture::new(
        api,
        &p.admin(),
        p.token("customer_admin", Some("acme"), "admin@acme.test"),
        p.token("customer_admin", Some("acme"), "boss@acme.test"),
    )
    .await
}

/// What the sandbox holds under the partner: advertisers, and per advertiser
/// its campaigns, their ad groups and its creatives.
pub struct Holdings {
    pub advertisers: Vec<Advertiser>,
    pub campaigns: Vec<Campaign>,
    pub ad_groups: Vec<AdGroup>,
    pub creatives: Vec<Creative>,
}

pub async fn holdings(client: &TtdClient) -> Holdings {
    let advertisers: Vec<Advertiser> = client.query_all("p360partner").await.unwrap();
    let mut h = Holdings {
        advertisers: advertisers.clone(),
        campaigns: vec![],
        ad_groups: vec![],
        creatives: vec![],
    };
    for a in &advertisers {
        let id = a.advertiser_id.as_deref().unwrap();
        h.campaigns
            .extend(client.query_all::<Campaign>(id).await.unwrap());
        h.creatives
            .extend(client.query_all::<Creative>(id).await.unwrap());
    }
    for c in h.campaigns.clone() {
        h.ad_groups.extend(
            client
                .query_all::<AdGroup>(c.campaign_id.as_deref().unwrap())
                .await
                .unwrap(),
        );
    }
    h
}

/// The faults the sandbox at `base` injected, by kind.
pub async fn sandbox_faults(base: &str) -> Value {
    let faults: Value = reqwest::get(format!("{base}/_sandbox/faults"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    eprintln!("faults injected: {faults}");
    faults
}

/// Requests the sandbox at `base` received, by endpoint (`PUT /v3/advertiser`).
pub async fn sandbox_requests(base: &str) -> Value {
    let res = reqwest::get(format!("{base}/_sandbox/requests"))
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

pub fn sent(requests: &Value, endpoint: &str) -> u64 {
    requests[endpoint].as_u64().unwrap_or(0)
}

pub fn distinct<'a>(descriptions: impl Iterator<Item = Option<&'a str>>) -> usize {
    descriptions.flatten().collect::<HashSet<_>>().len()
}

/// The winter insertion order the delivery end-to-end tests run campaigns
/// in (November to March, $12.50 CPM, the fixture's advertiser): its id.
pub async fn winter_io(p: &Platform, f: &Fixture) -> String {
    let advertiser = f
        .api
        .get(&format!("/v1/insertion-orders/{}", f.io), &f.admin)
        .await["advertiser_id"]
        .clone();
    let (s, io) = p
        .post_as_staff(
            "acme",
            "/v1/insertion-orders",
            json!({
                "advertiser_id": advertiser,
                "name": "Winter", "number": "IO-2",
                "budget": {"amount": "100000", "currency": "USD"},
                "start_date": "2026-11-01", "end_date": "2027-03-31",
                "pricing": {"model": "cpm", "rate": {"amount": "12.50", "currency": "USD"}}
            }),
        )
        .await;
    assert_eq!(s, 201, "{io}");
    io["id"].as_str().unwrap().to_string()
}

impl Fixture {
    /// A campaign of `io` over December to `audience`, submitted, approved
    /// and synced to TTD: its id and its activation.
    pub async fn december_campaign(
        &self,
        io: &str,
        budget: &str,
        audience: &str,
    ) -> (String, Value) {
        let (campaign, _) = self
            .campaign_for(
                io,
                "December ABM",
                budget,
                ("2026-12-01", "2026-12-31"),
                ("Listed", audience),
            )
            .await;
        let synced = self.launch(&campaign).await;
        (campaign, synced)
    }

    /// `campaign` submitted, approved and synced to TTD: its activation.
    pub async fn launch(&self, campaign: &str) -> Value {
        self.api
            .post(
                &format!("/v1/campaigns/{campaign}/submit"),
                &self.admin,
                json!({}),
            )
            .await;
        self.approve(campaign).await;
        self.wait_synced(&[campaign.to_string()], Duration::from_secs(60))
            .await
            .remove(0)
    }
}

/// The in-process sandbox's lines once the audience sync has put the
/// members' blocks in its segment (or after 30 s, as they are).
pub async fn lines_with_blocks(p: &Platform) -> Vec<delivery::simulate::Line> {
    let base = p.app.url(activation::SANDBOX_PATH);
    let client = ttd(&base, 0);
    let http = reqwest::Client::new();
    let mut lines = Vec::new();
    for _ in 0..100 {
        lines = delivery::simulate::lines(&client, &http, &base, "p360partner")
            .await
            .unwrap();
        if lines.iter().any(|l| !l.blocks.is_empty()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    lines
}

/// `p360 delivery simulate` of three days from 2026-12-01T00 (seed 9) into
/// `dir` against the in-process sandbox, with `extra` arguments; run
/// without blocking (the sandbox it calls is served by this test). Its
/// output, once it succeeded.
pub async fn simulate_december(
    p: &Platform,
    dir: &std::path::Path,
    var: &str,
    extra: &[&str],
) -> std::process::Output {
    simulate(p, dir, var, ("2026-12-01T00", 72, 9), extra).await
}

/// `p360 delivery simulate` of (first hour, hours, seed) into `dir`, as
/// [`simulate_december`].
pub async fn simulate(
    p: &Platform,
    dir: &std::path::Path,
    var: &str,
    (from, hours, seed): (&str, u32, u64),
    extra: &[&str],
) -> std::process::Output {
    let (hours, seed) = (hours.to_string(), seed.to_string());
    let mut args = vec![
        "delivery",
        "simulate",
        "--out",
        dir.to_str().unwrap(),
        "--from",
        from,
        "--hours",
        &hours,
        "--seed",
        &seed,
        "--data-dir",
        var,
    ];
    args.extend_from_slice(extra);
    let simulate = tokio::process::Command::from(super::p360(&args))
        .env("P360_TTD__BASE_URL", p.app.url(activation::SANDBOX_PATH))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let out = tokio::time::timeout(Duration::from_secs(120), simulate.wait_with_output())
        .await
        .expect("simulate finishes")
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// `p360 delivery ingest` of every file in `dir` in one command, as an
/// operator would.
pub fn ingest_all(p: &Platform, dir: &std::path::Path, var: &str) {
    let files: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path().display().to_string())
        .collect();
    let mut args = vec!["delivery", "ingest", "--data-dir", var];
    args.extend(files.iter().map(String::as_str));
    let out = super::p360(&args)
        .env("P360_DATABASE__URL", &p.db.url)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
