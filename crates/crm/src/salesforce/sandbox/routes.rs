//! The sandbox's HTTP surface: Salesforce's endpoints and `/_sandbox`.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::{App, Fault, Org, Sandbox, SandboxOptions, Shared, data, lock, soql};
use crate::salesforce::jwt;

/// The sandbox's router.
pub fn router(options: SandboxOptions) -> Router {
    let shared: Shared = Arc::new(Sandbox::new(options));
    Router::new()
        .route("/services/oauth2/token", post(token))
        .route("/services/data/", get(versions))
        .route("/services/data/{version}/query", get(query))
        .route("/services/data/{version}/query/", get(query))
        .route("/services/data/{version}/queryAll", get(query_all))
        .route("/services/data/{version}/queryAll/", get(query_all))
        .route("/services/data/{version}/query/{cursor}", get(more))
        .route("/services/data/{version}/queryAll/{cursor}", get(more))
        .route(
            "/services/data/{version}/sobjects/{object}/describe",
            get(describe),
        )
        .route("/_sandbox/apps", post(register_app))
        .route("/_sandbox/orgs/{username}/{object}", post(write))
        .route("/_sandbox/orgs/{username}/{object}/{id}", delete(remove))
        .route("/_sandbox/faults", post(add_fault))
        .route("/_sandbox/sessions/expire", post(expire))
        .route("/_sandbox/stats", get(stats))
        .with_state(shared)
}

/// Salesforce's REST error body.
fn api_error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        Json(json!([{ "message": message, "errorCode": code }])),
    )
        .into_response()
}

/// The OAuth endpoints' error body.
fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        Json(json!({ "error": error, "error_description": description })),
    )
        .into_response()
}

#[derive(Deserialize)]
struct TokenForm {
    grant_type: Option<String>,
    assertion: Option<String>,
}

async fn token(
    State(s): State<Shared>,
    headers: HeaderMap,
    Form(form): Form<TokenForm>,
) -> Response {
    let refuse = |error: &str, description: &str| {
        lock(&s.stats).tokens_refused += 1;
        oauth_error(StatusCode::BAD_REQUEST, error, description)
    };
    if form.grant_type.as_deref() != Some(jwt::GRANT_TYPE) {
        return refuse("unsupported_grant_type", "grant type not supported");
    }
    let Some(assertion) = form.assertion else {
        return refuse("invalid_request", "assertion is required");
    };
    // The issuer names the app whose certificate verifies the rest.
    let iss = assertion
        .split('.')
        .nth(1)
        .and_then(|p| {
            use base64::Engine as _;
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(p)
                .ok()
        })
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
        .and_then(|c| c["iss"].as_str().map(str::to_string));
    let Some(iss) = iss else {
        return refuse("invalid_grant", "invalid assertion");
    };
    let Some(app) = lock(&s.apps).get(&iss).cloned() else {
        return refuse("invalid_client_id", "client identifier invalid");
    };
    let claims = match jwt::verify(&assertion, &app.spki) {
        Ok(c) => c,
        Err(_) => return refuse("invalid_grant", "invalid assertion"),
    };
    if claims.aud.trim_end_matches('/') != app.audience {
        return refuse("invalid_grant", "audience is invalid");
    }
    let now = chrono::Utc::now().timestamp();
    // Salesforce takes an assertion that expires within three minutes
    // (and allows a little clock skew).
    if claims.exp < now - 5 || claims.exp > now + 180 + 5 {
        return refuse("invalid_grant", "expired authorization code");
    }
    if claims.sub != app.username {
        return refuse("invalid_grant", "user hasn't approved this consumer");
    }
    let org_id = {
        let mut orgs = lock(&s.orgs);
        let org = orgs.entry(app.username.clone()).or_insert_with(|| Org {
            id: format!("00D5g00000{:05}", orgs_len_seed(&app.username)),
            ..Org::default()
        });
        org.id.clone()
    };
    let access = s.token();
    lock(&s.sessions).insert(access.clone(), app.username.clone());
    lock(&s.stats).tokens_issued += 1;
    Json(json!({
        "access_token": access,
        "scope": "api",
        "instance_url": instance_url(&s.options, &headers),
        "id": format!("{}/id/{org_id}/0055g00000{:08}", app.audience, 1),
        "token_type": "Bearer",
    }))
    .into_response()
}

/// Where this sandbox is reached.
fn instance_url(options: &SandboxOptions, headers: &HeaderMap) -> String {
    match &options.instance_url {
        Some(u) => u.trim_end_matches('/').to_string(),
        None => format!(
            "http://{}{}",
            headers
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .unwrap_or("127.0.0.1"),
            options.mount_path.trim_end_matches('/')
        ),
    }
}

fn orgs_len_seed(username: &str) -> u32 {
    username
        .bytes()
        .fold(0u32, |a, b| a.wrapping_mul(31).wrapping_add(b as u32))
        % 100_000
}

async fn versions() -> Json<Value> {
    Json(json!([
        { "label": "Winter '25", "url": "/services/data/v62.0", "version": "62.0" },
        { "label": "Spring '25", "url": "/services/data/v63.0", "version": "63.0" }
    ]))
}

/// The 401 Salesforce answers a call without a valid session.
fn invalid_session() -> Response {
    api_error(
        StatusCode::UNAUTHORIZED,
        "INVALID_SESSION_ID",
        "Session expired or invalid",
    )
}

/// The session's user.
fn session(s: &Sandbox, headers: &HeaderMap) -> Option<String> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("OAuth "))
        });
    token.and_then(|t| lock(&s.sessions).get(t).cloned())
}

/// The fault this request meets, as Salesforce answers it.
async fn faulted(s: &Sandbox) -> Option<Response> {
    Some(match s.fault()?.as_str() {
        "limit" => api_error(
            StatusCode::FORBIDDEN,
            "REQUEST_LIMIT_EXCEEDED",
            "TotalRequests Limit exceeded.",
        ),
        "unavailable" => api_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "SERVER_UNAVAILABLE",
            "Server temporarily unavailable.",
        ),
        "invalid_session" => {
            lock(&s.sessions).clear();
            api_error(
                StatusCode::UNAUTHORIZED,
                "INVALID_SESSION_ID",
                "Session expired or invalid",
            )
        }
        "timeout" => {
            tokio::time::sleep(Duration::from_millis(s.options.hang_ms)).await;
            api_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "SERVER_UNAVAILABLE",
                "Server temporarily unavailable.",
            )
        }
        _ => api_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "UNKNOWN_EXCEPTION",
            "An unexpected error occurred. Please include this ErrorId if you contact support: 1234567890-12345 (-1234567890)",
        ),
    })
}

#[derive(Deserialize)]
struct Q {
    q: Option<String>,
}

async fn query(
    State(s): State<Shared>,
    Path(version): Path<String>,
    headers: HeaderMap,
    Query(q): Query<Q>,
) -> Response {
    run_query(&s, &version, &headers, q.q, false).await
}

async fn query_all(
    State(s): State<Shared>,
    Path(version): Path<String>,
    headers: HeaderMap,
    Query(q): Query<Q>,
) -> Response {
    run_query(&s, &version, &headers, q.q, true).await
}

/// The batch size a client asked for (`Sforce-Query-Options: batchSize=N`,
/// 200 to 2,000; 2,000 by default).
fn batch_size(headers: &HeaderMap) -> usize {
    headers
        .get("sforce-query-options")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.split(',')
                .find_map(|p| p.trim().strip_prefix("batchSize=")?.parse::<usize>().ok())
        })
        .map_or(2000, |n| n.clamp(200, 2000))
}

async fn run_query(
    s: &Sandbox,
    version: &str,
    headers: &HeaderMap,
    q: Option<String>,
    all: bool,
) -> Response {
    let Some(user) = session(s, headers) else {
        return invalid_session();
    };
    if let Some(r) = faulted(s).await {
        return r;
    }
    let Some(q) = q else {
        return api_error(
            StatusCode::BAD_REQUEST,
            "MALFORMED_QUERY",
            "A query string has to be specified",
        );
    };
    let parsed = match soql::parse(&q) {
        Ok(p) => p,
        Err(e) => return api_error(StatusCode::BAD_REQUEST, "MALFORMED_QUERY", &e),
    };
    let records = {
        let orgs = lock(&s.orgs);
        let Some(org) = orgs.get(&user) else {
            return api_error(
                StatusCode::UNAUTHORIZED,
                "INVALID_SESSION_ID",
                "Session expired or invalid",
            );
        };
        let Some(fields) = data::schema(&parsed.object, org.multi_currency) else {
            return api_error(
                StatusCode::BAD_REQUEST,
                "INVALID_TYPE",
                &format!(
                    "sObject type '{}' is not supported. If you are attempting to use a custom object, be sure to append the '__c' after the entity name.",
                    parsed.object
                ),
            );
        };
        if let Err((code, message)) = data::check(&parsed, &fields) {
            return api_error(StatusCode::BAD_REQUEST, code, &message);
        }
        let empty = data::Table::new();
        let table = org.tables.get(&parsed.object).unwrap_or(&empty);
        let mut hits: Vec<&Map<String, Value>> = table
            .values()
            .filter(|r| all || r.get("IsDeleted") != Some(&Value::Bool(true)))
            .filter(|r| {
                parsed
                    .filter
                    .as_ref()
                    .is_none_or(|c| data::meets(c, r, &fields))
            })
            .collect();
        data::order(&mut hits, &parsed, &fields);
        if let Some(n) = parsed.limit {
            hits.truncate(n);
        }
        hits.into_iter()
            .map(|r| project(r, &parsed, &fields, version))
            .collect::<Vec<Value>>()
    };
    lock(&s.stats).queries += 1;
    let total = records.len();
    page(s, version, all, records, total, batch_size(headers))
}

/// A record as the API shows it: `attributes`, then the fields asked for,
/// under their canonical names.
fn project(
    r: &Map<String, Value>,
    q: &soql::Query,
    fields: &[(&'static str, data::FieldType)],
    version: &str,
) -> Value {
    let mut out = Map::new();
    let id = r.get("Id").and_then(Value::as_str).unwrap_or_default();
    out.insert(
        "attributes".into(),
        json!({ "type": q.object, "url": format!("/services/data/{version}/sobjects/{}/{id}", q.object) }),
    );
    for f in &q.fields {
        if let Some((name, _)) = fields.iter().find(|(n, _)| n.eq_ignore_ascii_case(f)) {
            out.insert(
                (*name).to_string(),
                r.get(*name).cloned().unwrap_or(Value::Null),
            );
        }
    }
    Value::Object(out)
}

/// The first `batch` records, and a cursor for the rest.
fn page(
    s: &Sandbox,
    version: &str,
    all: bool,
    mut records: Vec<Value>,
    total: usize,
    batch: usize,
) -> Response {
    let rest = if records.len() > batch {
        records.split_off(batch)
    } else {
        Vec::new()
    };
    {
        let mut st = lock(&s.stats);
        st.pages += 1;
        st.records_served += records.len() as u64;
    }
    let mut body = json!({ "totalSize": total, "done": rest.is_empty(), "records": records });
    if !rest.is_empty() {
        let served = total - rest.len();
        let id = format!("01g5g{:013x}", s.random() >> 12);
        let key = format!("{id}-{served}");
        let mut cursors = lock(&s.cursors);
        // Cursors are kept until there are many (a page may be asked again).
        if cursors.len() > 10_000 {
            cursors.clear();
        }
        cursors.insert(
            key.clone(),
            super::Cursor {
                records: rest,
                total,
                all,
            },
        );
        body["nextRecordsUrl"] = Value::String(format!(
            "/services/data/{version}/{}/{key}",
            if all { "queryAll" } else { "query" }
        ));
    }
    Json(body).into_response()
}

async fn more(
    State(s): State<Shared>,
    Path((version, cursor)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    if session(&s, &headers).is_none() {
        return invalid_session();
    }
    if let Some(r) = faulted(&s).await {
        return r;
    }
    // A cursor can be read again until it is done (a retried page gets the
    // same records); the cursor of the next page replaces it.
    let Some((records, total, all)) = lock(&s.cursors)
        .get(&cursor)
        .map(|c| (c.records.clone(), c.total, c.all))
    else {
        return api_error(
            StatusCode::BAD_REQUEST,
            "INVALID_QUERY_LOCATOR",
            "invalid query locator",
        );
    };
    page(&s, &version, all, records, total, batch_size(&headers))
}

async fn describe(
    State(s): State<Shared>,
    Path((_, object)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let Some(user) = session(&s, &headers) else {
        return invalid_session();
    };
    let multi = lock(&s.orgs).get(&user).is_some_and(|o| o.multi_currency);
    match data::schema(&object, multi) {
        Some(fields) => Json(json!({
            "name": object,
            "fields": fields.iter().map(|(n, t)| json!({"name": n, "type": format!("{t:?}").to_lowercase()})).collect::<Vec<_>>(),
        }))
        .into_response(),
        None => api_error(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            "The requested resource does not exist",
        ),
    }
}

#[derive(Deserialize)]
struct NewApp {
    consumer_key: String,
    username: String,
    /// The connected app's certificate (or public key), PEM.
    certificate: String,
    /// `https://login.salesforce.com` (a production org, the default) or
    /// `https://test.salesforce.com` (a Salesforce sandbox org).
    #[serde(default)]
    audience: Option<String>,
    /// The org has multiple currencies (`CurrencyIsoCode` on opportunities).
    #[serde(default)]
    multi_currency: bool,
}

async fn register_app(State(s): State<Shared>, Json(app): Json<NewApp>) -> Response {
    let spki = match jwt::public_key(&app.certificate) {
        Ok(k) => k,
        Err(e) => return oauth_error(StatusCode::BAD_REQUEST, "invalid_request", &e.to_string()),
    };
    let audience = app
        .audience
        .unwrap_or_else(|| "https://login.salesforce.com".into())
        .trim_end_matches('/')
        .to_string();
    lock(&s.apps).insert(
        app.consumer_key.clone(),
        App {
            spki,
            username: app.username.clone(),
            audience,
        },
    );
    let mut orgs = lock(&s.orgs);
    let org = orgs.entry(app.username.clone()).or_insert_with(|| Org {
        id: format!("00D5g00000{:05}", orgs_len_seed(&app.username)),
        ..Org::default()
    });
    org.multi_currency |= app.multi_currency;
    (
        StatusCode::CREATED,
        Json(json!({"consumer_key": app.consumer_key})),
    )
        .into_response()
}

async fn write(
    State(s): State<Shared>,
    Path((username, object)): Path<(String, String)>,
    Json(records): Json<Vec<Map<String, Value>>>,
) -> Response {
    match s.write(&username, &object, records) {
        Ok(ids) => (StatusCode::OK, Json(json!({ "ids": ids }))).into_response(),
        Err(e) => api_error(StatusCode::BAD_REQUEST, "INVALID_FIELD", &e),
    }
}

async fn remove(
    State(s): State<Shared>,
    Path((username, object, id)): Path<(String, String, String)>,
) -> Response {
    match s.delete(&username, &object, &id) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => api_error(StatusCode::NOT_FOUND, "ENTITY_IS_DELETED", &e),
    }
}

async fn add_fault(State(s): State<Shared>, Json(fault): Json<Fault>) -> Response {
    if ![
        "limit",
        "server_error",
        "unavailable",
        "invalid_session",
        "timeout",
    ]
    .contains(&fault.kind.as_str())
        || fault.count == 0
    {
        return api_error(StatusCode::BAD_REQUEST, "INVALID_FIELD", "unknown fault");
    }
    lock(&s.faults).push_back(fault);
    StatusCode::NO_CONTENT.into_response()
}

async fn expire(State(s): State<Shared>) -> StatusCode {
    lock(&s.sessions).clear();
    StatusCode::NO_CONTENT
}

async fn stats(State(s): State<Shared>) -> Json<Value> {
    Json(serde_json::to_value(lock(&s.stats).clone()).unwrap_or_default())
}
