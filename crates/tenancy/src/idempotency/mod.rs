//! `Idempotency-Key` on POST: a retry with the same key and the same request
//! gets the original response (with `Idempotent-Replayed: true`); the same key
//! with a different request is 422; while the first is still running, 409.
//!
//! Keys belong to the authenticated actor in the tenant it acts in. The key
//! is claimed, the handler's work done and its answer stored in one
//! transaction ([`crate::scope::RequestTx`]), committed once the handler
//! answered: a request whose answer was lost is replayed, never run twice,
//! and one that failed (a 5xx, a timeout, a process that died) leaves
//! nothing behind, so its retry runs at once. Keys expire after a day
//! ([`ExpireIdempotencyKeys`], a recurring job).

use std::sync::Arc;

use aws_lc_rs::digest::{SHA256, digest};
use axum::body::Body;
use axum::extract::{FromRequestParts, Request};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use platform::http::problem::Problem;
use platform::http::shown_once::SecretInResponse;

use crate::auth::AuthService;
use crate::principal::Principal;
use crate::scope::RequestTx;

pub mod store;

pub use store::ExpireIdempotencyKeys;

pub static IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");
pub static REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");
/// Largest response body that is stored for replay.
const MAX_STORED: usize = 1024 * 1024;

pub async fn layer(req: Request, next: Next) -> Response {
    if req.method() != Method::POST || !req.headers().contains_key(&IDEMPOTENCY_KEY) {
        return next.run(req).await;
    }
    let key = match req.headers()[&IDEMPOTENCY_KEY].to_str() {
        Ok(k) if !k.is_empty() && k.len() <= 255 => k.to_string(),
        _ => {
            return Problem::validation(vec![platform::http::problem::FieldError::new(
                "Idempotency-Key",
                "invalid",
                "1 to 255 printable characters",
            )])
            .into_response();
        }
    };
    let (mut parts, body) = req.into_parts();
    let Some(auth) = parts.extensions.get::<Arc<AuthService>>().cloned() else {
        return next.run(Request::from_parts(parts, body)).await;
    };
    // Unauthenticated requests go on to be refused by the handler as usual.
    let principal = match Principal::from_request_parts(&mut parts, &()).await {
        Ok(p) => p,
        Err(rejection) => return rejection.into_response(),
    };
    // No more than any route would read (the configured body limit).
    let bytes = match axum::body::to_bytes(body, auth.body_limit()).await {
        Ok(b) => b,
        Err(_) => {
            return Problem::for_status(StatusCode::PAYLOAD_TOO_LARGE).into_response();
        }
    };
    let hash = request_hash(&parts, &bytes).await;
    // Keys belong to the actor in one tenant: a staff member's key in one
    // tenant never replays (or blocks) a request in another.
    let actor = match parts.headers.get(crate::principal::TENANT_HEADER) {
        Some(t) => format!(
            "{}@{}",
            principal.actor_ref(),
            t.to_str().unwrap_or("?").to_ascii_lowercase()
        ),
        None => principal.actor_ref(),
    };
    let pool = auth.pool().clone();
    // The key is claimed in the transaction the handler then works in (its
    // transactions are this one, lent: `scope::RequestTx`), and the answer
    // is stored in it before the one commit: an effect is never committed
    // without its answer, nor an answer without its effect.
    let mut tx = match pool.begin().await {
        Ok(tx) => tx,
        Err(e) => return platform::http::problem::ApiError::from(e).into_response(),
    };
    // A request that does not claim the key ends its transaction before it
    // answers: a dropped transaction rolls back only when its connection is
    // next used, and until then it holds the key's lock, so the client's
    // next request with the key would find it "still being processed".
    match store::claim(&mut tx, &actor, &key, &hash).await {
        Ok(store::Claim::Ours) => {}
        Ok(store::Claim::Busy) => {
            let _ = tx.rollback().await;
            return still_running();
        }
        Ok(store::Claim::Answered(stored)) => {
            let _ = tx.rollback().await;
            return replay(stored, &hash);
        }
        Err(e) => return platform::http::problem::ApiError::from(e).into_response(),
    }
    let request_tx = RequestTx::new(tx);
    let response = request_tx
        .scope(next.run(Request::from_parts(parts, Body::from(bytes))))
        .await;
    let Some(mut tx) = request_tx.finish().await else {
        // A transaction the handler never handed back is rolled back with
        // its claim: nothing of the request is kept, and a retry runs it.
        tracing::warn!("a handler kept the request's transaction; its idempotency key is released");
        return response;
    };
    if response.status().is_server_error() {
        // Rolled back (dropping it): the failure leaves nothing, a retry runs again.
        return response;
    }
    let (answer, response) = match stored_answer(response, hash).await {
        Some(pair) => pair,
        None => return Problem::internal().into_response(),
    };
    let saved = match store::save(&mut tx, &actor, &key, &answer).await {
        Ok(()) => tx.commit().await,
        Err(e) => Err(e),
    };
    match saved {
        Ok(()) => response,
        // Nothing was committed: the client may retry.
        Err(e) => platform::http::problem::ApiError::from(e).into_response(),
    }
}

/// What is stored for `response`, and the response to send; `None` when its
/// body is too large to store (the request is then rolled back).
async fn stored_answer(response: Response, hash: Vec<u8>) -> Option<(store::Stored, Response)> {
    if let Some(secret) = response.extensions().get::<SecretInResponse>().cloned() {
        // What is stored for replay: a problem naming what was created.
        let problem = Problem::conflict(secret.detail()).into_response();
        let (p_parts, p_body) = problem.into_parts();
        let p_bytes = axum::body::to_bytes(p_body, MAX_STORED).await.ok()?;
        let answer = store::Stored {
            request_hash: hash,
            status: Some(i64::from(p_parts.status.as_u16())),
            content_type: p_parts
                .headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            location: None,
            etag: None,
            body: Some(p_bytes.to_vec()),
        };
        return Some((answer, response));
    }
    let (res_parts, res_body) = response.into_parts();
    let body = axum::body::to_bytes(res_body, MAX_STORED).await.ok()?;
    let text = |h: HeaderName| {
        res_parts
            .headers
            .get(h)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let answer = store::Stored {
        request_hash: hash,
        status: Some(i64::from(res_parts.status.as_u16())),
        content_type: text(header::CONTENT_TYPE),
        location: text(header::LOCATION),
        etag: text(header::ETAG),
        body: Some(body.to_vec()),
    };
    Some((answer, Response::from_parts(res_parts, Body::from(body))))
}

fn still_running() -> Response {
    Problem::conflict("a request with this Idempotency-Key is still being processed")
        .into_response()
}

/// What makes two requests the same: the URI and the body — for a
/// multipart form its fields (names, file names, types and contents in
/// order), not its bytes, since a client's retry picks a new boundary.
async fn request_hash(parts: &axum::http::request::Parts, bytes: &axum::body::Bytes) -> Vec<u8> {
    let mut input = Vec::with_capacity(bytes.len() + 64);
    input.extend(parts.uri.to_string().as_bytes());
    input.push(0);
    match multipart_fields(parts, bytes).await {
        Some(fields) => input.extend(fields),
        None => input.extend(bytes),
    }
    digest(&SHA256, &input).as_ref().to_vec()
}

/// A multipart body's fields, each part length-prefixed; `None` when the
/// body is not a well-formed multipart form (then its bytes count).
async fn multipart_fields(
    parts: &axum::http::request::Parts,
    bytes: &axum::body::Bytes,
) -> Option<Vec<u8>> {
    use axum::extract::{FromRequest, Multipart};
    let content_type = parts.headers.get(header::CONTENT_TYPE)?;
    if !content_type
        .to_str()
        .ok()?
        .to_ascii_lowercase()
        .starts_with("multipart/form-data")
    {
        return None;
    }
    let mut request = Request::new(Body::from(bytes.clone()));
    request
        .headers_mut()
        .insert(header::CONTENT_TYPE, content_type.clone());
    let mut form = Multipart::from_request(request, &()).await.ok()?;
    let mut out = b"multipart\0".to_vec();
    let mut put = |part: &[u8]| {
        out.extend((part.len() as u64).to_be_bytes());
        out.extend(part);
    };
    while let Some(field) = form.next_field().await.ok()? {
        put(field.name().unwrap_or_default().as_bytes());
        put(field.file_name().unwrap_or_default().as_bytes());
        put(field.content_type().unwrap_or_default().as_bytes());
        put(&field.bytes().await.ok()?);
    }
    Some(out)
}

fn replay(stored: store::Stored, hash: &[u8]) -> Response {
    if stored.request_hash != hash {
        return Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency-key-reused",
            "Idempotency-Key reused",
        )
        .with_detail("this Idempotency-Key was used for a different request")
        .into_response();
    }
    // Only a key an earlier version claimed on its own can lack an answer.
    let Some(status) = stored.status else {
        return still_running();
    };
    let mut res = Response::new(Body::from(stored.body.unwrap_or_default()));
    *res.status_mut() = StatusCode::from_u16(status as u16).unwrap_or(StatusCode::OK);
    let h = res.headers_mut();
    for (name, value) in [
        (header::CONTENT_TYPE, stored.content_type),
        (header::LOCATION, stored.location),
        (header::ETAG, stored.etag),
    ] {
        if let Some(v) = value.and_then(|v| HeaderValue::from_str(&v).ok()) {
            h.insert(name, v);
        }
    }
    h.insert(REPLAYED.clone(), HeaderValue::from_static("true"));
    res
}
