//! The Bombora sandbox: OAuth 2.0 client credentials, the topic taxonomy,
//! and weekly Company Surge files to download, in memory, with faults on
//! request — 429 with `Retry-After`, 500, 503, and a file whose download
//! is cut short (the ingest must refuse it and a retry get it whole).
//!
//! Weeks are published two ways: generated (the most recent
//! `generated_weeks` Mondays, scores drawn for the sandbox's companies from
//! a hash of week, company and topic, so every run sees the same weeks),
//! or put by a test (`PUT /_sandbox/weeks/{week}` with the CSV as the body).
//! Served standalone by `p360 sandbox bombora --listen ADDR`, or mounted by
//! `p360 serve` at `/sandbox/bombora` when no Bombora URL is configured.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use chrono::NaiveDate;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::generate::topic;
use crate::surge::monday_of;

/// The sample universe the in-process sandbox scores (the repository's
/// `data/sample/companies.csv`, compiled in).
const SAMPLE: &str = include_str!("../../../../data/sample/companies.csv");

/// How the sandbox behaves.
#[derive(Debug, Clone)]
pub struct SandboxOptions {
    /// Required credentials; any non-empty pair when `None`.
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    /// Share of requests (0..=1) that meet a fault.
    pub fault_rate: f64,
    pub seed: u64,
    /// How many recent weeks are generated (0: only weeks put by a test).
    pub generated_weeks: u32,
    /// Topics in the taxonomy (`intent::generate::topic` names).
    pub topics: u64,
}

impl Default for SandboxOptions {
    fn default() -> Self {
        SandboxOptions {
            client_id: None,
            client_secret: None,
            fault_rate: 0.0,
            seed: 1,
            generated_weeks: 4,
            topics: 40,
        }
    }
}

struct Sandbox {
    options: SandboxOptions,
    rng: Mutex<accounts::generate::Rng>,
    tokens: Mutex<HashMap<String, std::time::Instant>>,
    /// Weeks put by tests: week -> gzip file.
    put: Mutex<BTreeMap<NaiveDate, Bytes>>,
    /// Generated weeks, made on first download.
    generated: Mutex<HashMap<NaiveDate, Bytes>>,
    requests: Mutex<BTreeMap<String, u64>>,
    faults: Mutex<BTreeMap<&'static str, u64>>,
}

type Shared = Arc<Sandbox>;

/// How long a token lives.
const TOKEN_SECS: u64 = 86_400;

fn message(status: StatusCode, text: &str) -> Response {
    (status, Json(json!({ "message": text }))).into_response()
}

impl Sandbox {
    fn next_random(&self) -> u64 {
        self.rng
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .next_u64()
    }

    fn faulted(&self) -> bool {
        self.options.fault_rate > 0.0
            && ((self.next_random() >> 11) as f64 / (1u64 << 53) as f64) < self.options.fault_rate
    }

    fn count_fault(&self, name: &'static str) {
        *self
            .faults
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(name)
            .or_default() += 1;
    }

    fn authorised(&self, headers: &HeaderMap) -> bool {
        let Some(token) = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
        else {
            return false;
        };
        let tokens = self.tokens.lock().unwrap_or_else(|e| e.into_inner());
        tokens
            .get(token)
            .is_some_and(|at| at.elapsed().as_secs() < TOKEN_SECS)
    }

    /// The weeks published, newest first.
    fn weeks(&self) -> Vec<NaiveDate> {
        let mut weeks: Vec<NaiveDate> = self
            .put
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .keys()
            .copied()
            .collect();
        let this_week = monday_of(chrono::Utc::now().date_naive());
        for back in 1..=u64::from(self.options.generated_weeks) {
            weeks.push(this_week - chrono::Days::new(7 * back));
        }
        weeks.sort_unstable_by(|a, b| b.cmp(a));
        weeks.dedup();
        weeks
    }

    fn file(&self, week: NaiveDate) -> Option<Bytes> {
        if let Some(f) = self
            .put
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&week)
        {
            return Some(f.clone());
        }
        if !self.weeks().contains(&week) {
            return None;
        }
        let mut generated = self.generated.lock().unwrap_or_else(|e| e.into_inner());
        Some(
            generated
                .entry(week)
                .or_insert_with(|| gzip(&generate_week(week, &self.options)))
                .clone(),
        )
    }
}

fn gzip(text: &[u8]) -> Bytes {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    // Writing to a Vec cannot fail.
    let _ = e.write_all(text);
    Bytes::from(e.finish().unwrap_or_default())
}

/// A generated week: each sample company scored on 3 to 12 of the topics,
/// scores drawn from a hash of (seed, week, company, topic).
fn generate_week(week: NaiveDate, options: &SandboxOptions) -> Vec<u8> {
    let mut out = String::from(
        "Company Name,Domain,Size,Industry,Category,Topic,Composite Score,Bucket Code,\
         Metro Area,Metro Composite Score,Metro Bucket Code,Domain Origin Country\n",
    );
    let hash = |parts: &[u64]| {
        parts
            .iter()
            .fold(options.seed ^ 0xcbf2_9ce4_8422_2325, |h, p| {
                (h ^ p).wrapping_mul(0x0100_0000_01b3).rotate_left(29)
            })
    };
    let days = (week - NaiveDate::default()).num_days() as u64;
    let mut reader = csv::Reader::from_reader(SAMPLE.as_bytes());
    for (i, rec) in reader.records().filter_map(Result::ok).enumerate() {
        let field = |n: usize| rec.get(n).unwrap_or_default().replace('"', "");
        let (domain, name, size, industry, country) =
            (field(0), field(1), field(2), field(3), field(4));
        let n = 3 + hash(&[days, i as u64]) % 10;
        for k in 0..n {
            let t = hash(&[i as u64, k]) % options.topics.max(1);
            let (topic, category) = topic(t);
            let score = hash(&[days, i as u64, t]) % 101;
            out.push_str(&format!(
                "{name},{domain},\"{size}\",{industry},{category},{topic},{score},{},,,,{country}\n",
                if score >= 80 { "A" } else if score >= 60 { "B" } else { "C" }
            ));
        }
    }
    out.into_bytes()
}

/// The sandbox's routes.
pub fn router(options: SandboxOptions) -> axum::Router {
    let shared: Shared = Arc::new(Sandbox {
        rng: Mutex::new(accounts::generate::Rng::new(options.seed)),
        options,
        tokens: Mutex::default(),
        put: Mutex::default(),
        generated: Mutex::default(),
        requests: Mutex::default(),
        faults: Mutex::default(),
    });
    axum::Router::new()
        .route("/oauth/token", post(token))
        .route("/reference/v1/topics", get(topics))
        .route("/surge/v1/weeks", get(weeks))
        .route("/surge/v1/weeks/{week}/file", get(file))
        .layer(axum::middleware::from_fn_with_state(shared.clone(), faults))
        .route("/_sandbox/weeks/{week}", put(put_week))
        .route("/_sandbox/requests", get(requests))
        .route("/_sandbox/faults", get(fault_counts))
        .with_state(shared)
}

/// Count every request; answer some with a fault instead.
async fn faults(State(s): State<Shared>, req: Request, next: Next) -> Response {
    let name = format!("{} {}", req.method(), req.uri().path());
    *s.requests
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .entry(name)
        .or_default() += 1;
    if !s.faulted() {
        return next.run(req).await;
    }
    let download = req.uri().path().ends_with("/file");
    match s.next_random() % if download { 4 } else { 3 } {
        0 => {
            s.count_fault("throttled");
            let mut r = message(StatusCode::TOO_MANY_REQUESTS, "Too many requests");
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            r
        }
        1 => {
            s.count_fault("server_error");
            message(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error")
        }
        2 => {
            s.count_fault("unavailable");
            message(StatusCode::SERVICE_UNAVAILABLE, "Service unavailable")
        }
        _ => {
            // The file, cut short: a 200 whose gzip stream ends mid-way.
            s.count_fault("cut_short");
            let res = next.run(req).await;
            let (parts, body) = res.into_parts();
            let bytes = axum::body::to_bytes(body, usize::MAX)
                .await
                .unwrap_or_default();
            let cut = bytes.slice(..bytes.len() / 2);
            let mut res = Response::from_parts(parts, axum::body::Body::from(cut));
            res.headers_mut().remove(header::CONTENT_LENGTH);
            res
        }
    }
}

#[derive(Deserialize)]
struct Credentials {
    client_id: Option<String>,
    client_secret: Option<String>,
}

/// `POST /oauth/token`: client credentials as JSON (or a form) for a bearer
/// token.
async fn token(State(s): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let form = headers.get(header::CONTENT_TYPE).is_some_and(|v| {
        v.as_bytes()
            .starts_with(b"application/x-www-form-urlencoded")
    });
    let creds: Option<Credentials> = if form {
        let mut c = Credentials {
            client_id: None,
            client_secret: None,
        };
        for (k, v) in url::form_urlencoded::parse(&body) {
            match k.as_ref() {
                "client_id" => c.client_id = Some(v.into_owned()),
                "client_secret" => c.client_secret = Some(v.into_owned()),
                _ => {}
            }
        }
        Some(c)
    } else {
        serde_json::from_slice(&body).ok()
    };
    let Some(Credentials {
        client_id: Some(id),
        client_secret: Some(secret),
    }) = creds
    else {
        return message(
            StatusCode::BAD_REQUEST,
            "client_id and client_secret are required",
        );
    };
    let wanted =
        |want: &Option<String>, got: &str| want.as_deref().map_or(!got.is_empty(), |w| w == got);
    if !wanted(&s.options.client_id, &id) || !wanted(&s.options.client_secret, &secret) {
        return message(StatusCode::UNAUTHORIZED, "Invalid client credentials");
    }
    let token = crate::random_hex(24);
    s.tokens
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(token.clone(), std::time::Instant::now());
    Json(json!({"access_token": token, "token_type": "Bearer", "expires_in": TOKEN_SECS}))
        .into_response()
}

#[derive(Deserialize)]
struct TopicFilter {
    id: Option<String>,
    name: Option<String>,
    theme: Option<String>,
    category: Option<String>,
}

/// `GET /reference/v1/topics`: the taxonomy, filtered (any filter matching).
async fn topics(
    State(s): State<Shared>,
    headers: HeaderMap,
    Query(f): Query<TopicFilter>,
) -> Response {
    if !s.authorised(&headers) {
        return message(StatusCode::UNAUTHORIZED, "Unauthorized");
    }
    let list = |v: &Option<String>| -> Vec<String> {
        v.as_deref()
            .unwrap_or_default()
            .split(',')
            .map(|p| p.trim().to_lowercase())
            .filter(|p| !p.is_empty())
            .collect()
    };
    let (ids, names, themes, categories) = (
        list(&f.id),
        list(&f.name),
        list(&f.theme),
        list(&f.category),
    );
    let any_filter =
        !(ids.is_empty() && names.is_empty() && themes.is_empty() && categories.is_empty());
    let topics: Vec<Value> = (0..s.options.topics)
        .filter_map(|t| {
            let (name, category) = topic(t);
            let id = 1_500_000 + t;
            let theme = category;
            let hit = !any_filter
                || ids.contains(&id.to_string())
                || names.iter().any(|n| name.to_lowercase().contains(n))
                || themes.iter().any(|n| theme.to_lowercase().contains(n))
                || categories
                    .iter()
                    .any(|n| category.to_lowercase().contains(n));
            hit.then(|| {
                json!({"id": id, "name": name, "theme": theme, "category": category,
                       "description": format!("Research about {}.", name.to_lowercase())})
            })
        })
        .collect();
    Json(json!({ "topics": topics })).into_response()
}

/// `GET /surge/v1/weeks`: the weeks published, newest first.
async fn weeks(State(s): State<Shared>, headers: HeaderMap) -> Response {
    if !s.authorised(&headers) {
        return message(StatusCode::UNAUTHORIZED, "Unauthorized");
    }
    let weeks: Vec<Value> = s
        .weeks()
        .into_iter()
        .filter_map(|w| {
            let file = s.file(w)?;
            Some(json!({"week": w, "sha256": crate::sha256_hex(&file),
                        "path": format!("/surge/v1/weeks/{w}/file")}))
        })
        .collect();
    Json(json!({ "weeks": weeks })).into_response()
}

/// `GET /surge/v1/weeks/{week}/file`: the week's file, gzip.
async fn file(State(s): State<Shared>, headers: HeaderMap, Path(week): Path<String>) -> Response {
    if !s.authorised(&headers) {
        return message(StatusCode::UNAUTHORIZED, "Unauthorized");
    }
    let Some(file) = week.parse::<NaiveDate>().ok().and_then(|w| s.file(w)) else {
        return message(StatusCode::NOT_FOUND, "No file for that week");
    };
    (
        [
            (header::CONTENT_TYPE, "application/gzip".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"company_surge_{week}.csv.gz\""),
            ),
        ],
        file,
    )
        .into_response()
}

/// `PUT /_sandbox/weeks/{week}`: publish a week's file (the CSV; gzip is
/// kept as sent).
async fn put_week(State(s): State<Shared>, Path(week): Path<NaiveDate>, body: Bytes) -> Response {
    let file = if body.starts_with(&[0x1f, 0x8b]) {
        body
    } else {
        gzip(&body)
    };
    s.put
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(monday_of(week), file);
    StatusCode::NO_CONTENT.into_response()
}

async fn requests(State(s): State<Shared>) -> Json<BTreeMap<String, u64>> {
    Json(s.requests.lock().unwrap_or_else(|e| e.into_inner()).clone())
}

async fn fault_counts(State(s): State<Shared>) -> Json<BTreeMap<&'static str, u64>> {
    Json(s.faults.lock().unwrap_or_else(|e| e.into_inner()).clone())
}
