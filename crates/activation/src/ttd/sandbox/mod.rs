//! The TTD sandbox: the endpoints of TTD's platform API v3 that P360 uses,
//! with TTD's authentication, field names, validation errors and paging, its
//! state in memory, and faults injected on request — 429 with `Retry-After`,
//! 500/503, slow answers, and creates that succeed but whose answer is lost
//! (502, or no answer until the client gives up). A test can also arm a
//! *late apply* for the next create of a type (`POST /_sandbox/faults/arm`):
//! the gateway answers 504 at once, and the create lands only once the next
//! look-up of that type has been answered — after the client gave up and
//! looked for it, the worst case for a client that looks before creating.
//!
//! Served standalone by `p360 sandbox ttd --listen ADDR`, or mounted by
//! `p360 serve` at `/sandbox/ttd` when no TTD URL is configured. For tests,
//! `/_sandbox/faults` counts the faults injected and `/_sandbox/requests` the
//! requests received per endpoint (`PUT /v3/advertiser`), faulted or not.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::model::{AdGroup, Advertiser, Campaign, Creative, DataGroup, TtdAudience};

mod data;
mod faults;
mod validate;

use faults::{arm, count_requests, fault_counts, inject_faults, request_counts};
use validate::Validate;

/// How the sandbox behaves.
#[derive(Debug, Clone)]
pub struct SandboxOptions {
    /// Required credentials; any non-empty login/password when `None`.
    pub login: Option<String>,
    pub password: Option<String>,
    /// Share of requests (0..=1) that meet a fault.
    pub fault_rate: f64,
    pub seed: u64,
    /// How long a "lost" answer keeps the client waiting before a 502.
    pub lost_hang: Duration,
    /// Extra latency of a "slow" answer.
    pub slow: Duration,
}

impl Default for SandboxOptions {
    fn default() -> Self {
        SandboxOptions {
            login: None,
            password: None,
            fault_rate: 0.0,
            seed: 1,
            lost_hang: Duration::from_secs(15),
            slow: Duration::from_millis(800),
        }
    }
}

#[derive(Default)]
struct Store {
    /// Objects by type path (`campaign`, ...), in creation order.
    objects: HashMap<&'static str, Vec<Value>>,
    index: HashMap<(&'static str, String), usize>,
    tokens: HashMap<String, Instant>,
    next: u64,
    /// First-party IP segments (the Data API).
    first_party: data::FirstParty,
}

struct Sandbox {
    options: SandboxOptions,
    store: Mutex<Store>,
    rng: Mutex<u64>,
    faults: Mutex<HashMap<&'static str, u64>>,
    /// Types (path segments) whose next create is applied late.
    armed: Mutex<Vec<String>>,
    /// Creates answered 504 and not applied yet, by type.
    held: Mutex<Vec<(String, Request, Next)>>,
    /// Requests received, by `METHOD /v3/path` (the route, ids not filled in).
    requests: Mutex<HashMap<String, u64>>,
}

type Shared = Arc<Sandbox>;

/// The sandbox's routes (`/v3/...` and `/_sandbox/...`), ready to serve or nest.
pub fn router(options: SandboxOptions) -> axum::Router {
    let seed = options.seed;
    let sandbox = Arc::new(Sandbox {
        options,
        store: Mutex::new(Store::default()),
        rng: Mutex::new(seed),
        faults: Mutex::new(HashMap::new()),
        armed: Mutex::new(Vec::new()),
        held: Mutex::new(Vec::new()),
        requests: Mutex::new(HashMap::new()),
    });
    let v3 = axum::Router::new()
        .route(
            "/advertiser",
            post(create::<Advertiser>).put(update::<Advertiser>),
        )
        .route("/advertiser/{id}", get(fetch::<Advertiser>))
        .route("/advertiser/query/partner", post(query::<Advertiser>))
        .route(
            "/campaign",
            post(create::<Campaign>).put(update::<Campaign>),
        )
        .route("/campaign/{id}", get(fetch::<Campaign>))
        .route("/campaign/query/advertiser", post(query::<Campaign>))
        .route("/adgroup", post(create::<AdGroup>).put(update::<AdGroup>))
        .route("/adgroup/{id}", get(fetch::<AdGroup>))
        .route("/adgroup/query/campaign", post(query::<AdGroup>))
        .route(
            "/creative",
            post(create::<Creative>).put(update::<Creative>),
        )
        .route("/creative/{id}", get(fetch::<Creative>))
        .route("/creative/query/advertiser", post(query::<Creative>))
        .route("/dmp/firstparty/advertiser", post(data::query))
        .route(
            "/datagroup",
            post(create::<DataGroup>).put(update::<DataGroup>),
        )
        .route("/datagroup/{id}", get(fetch::<DataGroup>))
        .route("/datagroup/query/advertiser", post(query::<DataGroup>))
        .route(
            "/audience",
            post(create::<TtdAudience>).put(update::<TtdAudience>),
        )
        .route("/audience/{id}", get(fetch::<TtdAudience>))
        .route("/audience/query/advertiser", post(query::<TtdAudience>))
        .route_layer(axum::middleware::from_fn_with_state(
            sandbox.clone(),
            authenticate,
        ))
        .route("/authentication", post(authentication));
    let v3 = observed(v3, &sandbox);
    // The Data API (another host at TTD: `{region}-data.adsrvr.org`).
    let data_api = axum::Router::new()
        .route("/firstpartyipaddress", post(data::ingest))
        .route_layer(axum::middleware::from_fn_with_state(
            sandbox.clone(),
            authenticate,
        ));
    let data_api = observed(data_api, &sandbox);
    axum::Router::new()
        .nest("/v3", v3)
        .nest("/data", data_api)
        .route(
            "/_sandbox/data/firstparty/{owner}/{name}",
            get(data::contents),
        )
        .route("/_sandbox/expire-tokens", post(expire_tokens))
        .route("/_sandbox/faults", get(fault_counts))
        .route("/_sandbox/faults/arm", post(arm))
        .route("/_sandbox/requests", get(request_counts))
        .with_state(sandbox)
}

/// `router` with faults injected and every request counted.
fn observed(router: axum::Router<Shared>, sandbox: &Shared) -> axum::Router<Shared> {
    router
        .layer(axum::middleware::from_fn_with_state(
            sandbox.clone(),
            inject_faults,
        ))
        .layer(axum::middleware::from_fn_with_state(
            sandbox.clone(),
            count_requests,
        ))
}

/// TTD's error body.
fn error(status: StatusCode, message: &str, details: Vec<(String, String)>) -> Response {
    let mut body = json!({"Message": message});
    if !details.is_empty() {
        body["ErrorDetails"] = details
            .into_iter()
            .map(|(p, r)| json!({"Property": p, "Reasons": [r]}))
            .collect();
    }
    (status, Json(body)).into_response()
}

fn invalid(details: Vec<(String, String)>) -> Response {
    error(StatusCode::BAD_REQUEST, "The request is invalid.", details)
}

async fn authentication(State(s): State<Shared>, body: axum::body::Bytes) -> Response {
    let Ok(v) = serde_json::from_slice::<Value>(&body) else {
        return invalid(vec![("body".into(), "is not JSON".into())]);
    };
    let field = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
    let (login, password) = (field("Login"), field("Password"));
    let mut details = Vec::new();
    if login.is_empty() {
        details.push(("Login".into(), "The Login field is required.".into()));
    }
    if password.is_empty() {
        details.push(("Password".into(), "The Password field is required.".into()));
    }
    if !details.is_empty() {
        return invalid(details);
    }
    let wrong_login = s.options.login.as_ref().is_some_and(|l| *l != login);
    let wrong_password = s.options.password.as_ref().is_some_and(|p| *p != password);
    if wrong_login || wrong_password {
        return error(
            StatusCode::UNAUTHORIZED,
            "Invalid login or password.",
            vec![],
        );
    }
    let minutes = v
        .get("TokenExpirationInMinutes")
        .and_then(Value::as_u64)
        .unwrap_or(1440)
        .clamp(1, 1440 * 30);
    let token = format!("ttd-sandbox-{}", uuid::Uuid::now_v7().simple());
    s.store
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .tokens
        .insert(
            token.clone(),
            Instant::now() + Duration::from_secs(minutes * 60),
        );
    Json(json!({"Token": token})).into_response()
}

async fn authenticate(State(s): State<Shared>, req: Request, next: Next) -> Response {
    let token = req
        .headers()
        .get("TTD-Auth")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let valid = s
        .store
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .tokens
        .get(token)
        .is_some_and(|exp| Instant::now() < *exp);
    if !valid {
        return error(
            StatusCode::FORBIDDEN,
            "Authentication token is missing, invalid or expired.",
            vec![],
        );
    }
    next.run(req).await
}

async fn expire_tokens(State(s): State<Shared>) -> StatusCode {
    s.store
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .tokens
        .clear();
    StatusCode::NO_CONTENT
}

/// Parse a JSON body as `T`, turning serde's complaint into TTD's error shape.
fn parse<T: DeserializeOwned>(v: &Value) -> Result<T, Box<Response>> {
    serde_json::from_value(v.clone()).map_err(|e| {
        let msg = e.to_string();
        // serde names the missing or mistyped field in backticks.
        let prop = msg.split('`').nth(1).unwrap_or("body").to_owned();
        Box::new(invalid(vec![(prop, msg)]))
    })
}

/// Merge `patch` into `base` (objects field by field; anything else replaced).
fn merge(base: &mut Value, patch: &Value) {
    match (base, patch) {
        (Value::Object(b), Value::Object(p)) => {
            for (k, v) in p {
                merge(b.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
        (b, p) => *b = p.clone(),
    }
}

impl Store {
    fn get(&self, path: &'static str, id: &str) -> Option<&Value> {
        let i = *self.index.get(&(path, id.to_owned()))?;
        self.objects.get(path)?.get(i)
    }

    fn new_id(&mut self) -> String {
        self.next += 1;
        // TTD ids are short lower-case alphanumerics.
        let mut n = self.next * 7_919 + 1_000_003;
        let mut id = String::new();
        while n > 0 {
            let d = (n % 36) as u32;
            id.push(std::char::from_digit(d, 36).unwrap_or('0'));
            n /= 36;
        }
        id
    }
}

async fn create<T: Validate>(State(s): State<Shared>, body: axum::body::Bytes) -> Response {
    let Ok(mut v) = serde_json::from_slice::<Value>(&body) else {
        return invalid(vec![("body".into(), "is not JSON".into())]);
    };
    if v.get(T::ID).is_some_and(|id| !id.is_null()) {
        return invalid(vec![(
            T::ID.into(),
            format!(
                "Must not be set when creating; use PUT /v3/{} to update.",
                T::PATH
            ),
        )]);
    }
    let object: T = match parse(&v) {
        Ok(o) => o,
        Err(r) => return *r,
    };
    let mut store = s.store.lock().unwrap_or_else(|e| e.into_inner());
    let problems = object.check(&store);
    if !problems.is_empty() {
        return invalid(problems);
    }
    let id = store.new_id();
    v[T::ID] = Value::String(id.clone());
    if v.get("Availability").is_none_or(Value::is_null) {
        v["Availability"] = Value::String("Available".into());
    }
    let list = store.objects.entry(T::PATH).or_default();
    list.push(v.clone());
    let at = list.len() - 1;
    store.index.insert((T::PATH, id), at);
    Json(v).into_response()
}

async fn update<T: Validate>(State(s): State<Shared>, body: axum::body::Bytes) -> Response {
    let Ok(patch) = serde_json::from_slice::<Value>(&body) else {
        return invalid(vec![("body".into(), "is not JSON".into())]);
    };
    let Some(id) = patch.get(T::ID).and_then(Value::as_str).map(str::to_owned) else {
        return invalid(vec![(
            T::ID.into(),
            format!("The {} field is required.", T::ID),
        )]);
    };
    let mut store = s.store.lock().unwrap_or_else(|e| e.into_inner());
    let Some(&at) = store.index.get(&(T::PATH, id.clone())) else {
        return error(
            StatusCode::NOT_FOUND,
            &format!("No {} with id {id}.", T::PATH),
            vec![],
        );
    };
    let mut merged = store.objects[T::PATH][at].clone();
    merge(&mut merged, &patch);
    let object: T = match parse(&merged) {
        Ok(o) => o,
        Err(r) => return *r,
    };
    let problems = object.check(&store);
    if !problems.is_empty() {
        return invalid(problems);
    }
    if let Some(list) = store.objects.get_mut(T::PATH) {
        list[at] = merged.clone();
    }
    Json(merged).into_response()
}

async fn fetch<T: Validate>(State(s): State<Shared>, Path(id): Path<String>) -> Response {
    let store = s.store.lock().unwrap_or_else(|e| e.into_inner());
    match store.get(T::PATH, &id) {
        Some(v) => Json(v.clone()).into_response(),
        None => error(
            StatusCode::NOT_FOUND,
            &format!("No {} with id {id}.", T::PATH),
            vec![],
        ),
    }
}

async fn query<T: Validate>(
    State(s): State<Shared>,
    _headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let Ok(q) = serde_json::from_slice::<Value>(&body) else {
        return invalid(vec![("body".into(), "is not JSON".into())]);
    };
    let mut problems = Vec::new();
    let parent = q.get(T::PARENT).and_then(Value::as_str).unwrap_or("");
    if parent.is_empty() {
        problems.push((
            T::PARENT.into(),
            format!("The {} field is required.", T::PARENT),
        ));
    }
    let start = q.get("PageStartIndex").and_then(Value::as_i64).unwrap_or(0);
    let size = q.get("PageSize").and_then(Value::as_i64);
    if start < 0 {
        problems.push(("PageStartIndex".into(), "Must not be negative.".into()));
    }
    match size {
        Some(1..=1000) => {}
        _ => problems.push(("PageSize".into(), "Must be between 1 and 1000.".into())),
    }
    if !problems.is_empty() {
        return invalid(problems);
    }
    let store = s.store.lock().unwrap_or_else(|e| e.into_inner());
    let matching: Vec<&Value> = store
        .objects
        .get(T::PATH)
        .map(|l| {
            l.iter()
                .filter(|o| o[T::PARENT].as_str() == Some(parent))
                .collect()
        })
        .unwrap_or_default();
    let page: Vec<Value> = matching
        .iter()
        .skip(start as usize)
        .take(size.unwrap_or(0) as usize)
        .map(|v| (*v).clone())
        .collect();
    Json(json!({
        "Result": page,
        "ResultCount": page.len(),
        "TotalFilteredCount": matching.len(),
    }))
    .into_response()
}
