//! The request middleware every route runs behind.

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tracing::Instrument;

use super::AppState;
use super::problem::{self, Problem};

pub static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
/// Error bodies larger than this are not inspected when turned into problem+json.
const ERROR_BODY_LIMIT: usize = 16 * 1024;

/// The id of the current request, available to handlers as an extension.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// Request id, structured log line, metrics, timeout, body-size check, and
/// problem+json for every error response whoever produced it.
pub async fn observe(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let started = Instant::now();
    let request_id = req
        .headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| is_acceptable_request_id(v))
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
    req.extensions_mut().insert(RequestId(request_id.clone()));
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());

    let _in_flight = InFlight::new(&route);
    let span = tracing::info_span!("request", request_id = %request_id);
    let limit = state.config.http.body_limit_bytes;
    let timeout = Duration::from_millis(state.config.http.request_timeout_ms);

    let declared_len = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let response = if declared_len.is_some_and(|n| n > limit as u64) {
        Problem::for_status(StatusCode::PAYLOAD_TOO_LARGE)
            .with_detail(format!("request bodies are limited to {limit} bytes"))
            .into_response()
    } else {
        match tokio::time::timeout(timeout, next.run(req).instrument(span.clone())).await {
            Ok(res) => res,
            Err(_) => Problem::service_unavailable(format!(
                "the request did not complete within {} ms",
                timeout.as_millis()
            ))
            .into_response(),
        }
    };
    let mut response = if response.status().is_client_error() || response.status().is_server_error()
    {
        as_problem(response, &request_id).await
    } else {
        response
    };
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert(REQUEST_ID.clone(), v);
    }

    let status = response.status().as_u16();
    let latency = started.elapsed();
    let labels = [
        ("route", route.clone()),
        ("method", method.to_string()),
        ("status", status.to_string()),
    ];
    metrics::counter!("p360_http_requests_total", &labels).increment(1);
    metrics::histogram!(
        "p360_http_request_duration_seconds",
        "route" => route.clone(),
        "method" => method.to_string()
    )
    .record(latency.as_secs_f64());
    span.in_scope(|| {
        tracing::info!(
            target: "p360::http",
            method = %method,
            route = %route,
            path = %path,
            status,
            latency_ms = latency.as_secs_f64() * 1000.0,
            "request"
        )
    });
    response
}

/// Request ids from clients are echoed back, so keep them short and printable.
fn is_acceptable_request_id(v: &str) -> bool {
    !v.is_empty()
        && v.len() <= 128
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
}

/// Make an error response a problem document carrying the request id.
async fn as_problem(response: Response, request_id: &str) -> Response {
    let (parts, body) = response.into_parts();
    let is_problem = parts
        .headers
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(problem::CONTENT_TYPE.as_bytes()));
    let bytes = axum::body::to_bytes(body, ERROR_BODY_LIMIT)
        .await
        .unwrap_or_default();
    let mut doc: serde_json::Value = if is_problem {
        serde_json::from_slice(&bytes).unwrap_or_else(|_| {
            serde_json::to_value(Problem::for_status(parts.status)).unwrap_or_default()
        })
    } else {
        let mut p = Problem::for_status(parts.status);
        let text = String::from_utf8_lossy(&bytes).trim().to_string();
        if !text.is_empty() && !parts.status.is_server_error() {
            p = p.with_detail(text);
        }
        serde_json::to_value(p).unwrap_or_default()
    };
    if let Some(obj) = doc.as_object_mut() {
        obj.insert("request_id".into(), request_id.into());
    }
    let mut out = Response::from_parts(
        parts,
        Body::from(serde_json::to_vec(&doc).unwrap_or_default()),
    );
    out.headers_mut().remove(header::CONTENT_LENGTH);
    out.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(problem::CONTENT_TYPE),
    );
    out
}

/// The fallback for unknown routes.
pub async fn not_found(req: Request) -> Problem {
    Problem::not_found().with_detail(format!(
        "no route for {} {}",
        req.method(),
        req.uri().path()
    ))
}

/// Counts a request in flight for as long as it lives, even if the client goes away.
struct InFlight(metrics::Gauge);

impl InFlight {
    fn new(route: &str) -> InFlight {
        let g = metrics::gauge!("p360_http_requests_in_flight", "route" => route.to_owned());
        g.increment(1.0);
        InFlight(g)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.decrement(1.0);
    }
}
