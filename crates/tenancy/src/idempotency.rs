//! `Idempotency-Key` on POST: a retry with the same key and the same request
//! gets the original response (with `Idempotent-Replayed: true`); the same key
//! with a different request is 422; while the first is still running, 409.
//!
//! Keys belong to the authenticated actor. The first response is stored unless
//! it is a 5xx (so a failure can be retried). A key whose first request never
//! finished (the process died) is taken over after a minute.

use std::sync::Arc;

use aws_lc_rs::digest::{SHA256, digest};
use axum::body::Body;
use axum::extract::{FromRequestParts, Request};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use platform::http::problem::Problem;

use crate::auth::{AuthService, Principal};

pub static IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");
pub static REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");
/// Largest response body that is stored for replay.
const MAX_STORED: usize = 1024 * 1024;
/// An unfinished first request older than this is considered dead.
macro_rules! abandoned_after {
    () => {
        "60 seconds"
    };
}

#[derive(sqlx::FromRow)]
struct Stored {
    request_hash: Vec<u8>,
    status: Option<i64>,
    content_type: Option<String>,
    location: Option<String>,
    etag: Option<String>,
    body: Option<Vec<u8>>,
}

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
    let limit = 16 * 1024 * 1024;
    let bytes = match axum::body::to_bytes(body, limit).await {
        Ok(b) => b,
        Err(_) => {
            return Problem::for_status(StatusCode::PAYLOAD_TOO_LARGE).into_response();
        }
    };
    let mut input = Vec::with_capacity(bytes.len() + 64);
    input.extend(parts.uri.to_string().as_bytes());
    input.push(0);
    input.extend(&bytes);
    let hash = digest(&SHA256, &input).as_ref().to_vec();
    let (kind, id) = principal.actor.audit_parts();
    let actor = format!("{kind}:{}", id.unwrap_or_default());
    let pool = auth.pool().clone();

    let claimed = sqlx::query(concat!(
        "INSERT INTO idempotency_keys (actor, key, request_hash) VALUES ($1, $2, $3) \
         ON CONFLICT (actor, key) DO UPDATE SET request_hash = EXCLUDED.request_hash, \
         created_at = now(), status = NULL, body = NULL \
         WHERE idempotency_keys.status IS NULL \
           AND idempotency_keys.created_at < now() - interval '",
        abandoned_after!(),
        "' AND idempotency_keys.request_hash = EXCLUDED.request_hash"
    ))
    .bind(&actor)
    .bind(&key)
    .bind(&hash)
    .execute(&pool)
    .await;
    match claimed {
        Ok(r) if r.rows_affected() == 1 => {}
        Ok(_) => return replay(&pool, &actor, &key, &hash).await,
        Err(e) => return platform::http::problem::ApiError::from(e).into_response(),
    }

    let response = next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await;
    if response.status().is_server_error() {
        forget(&pool, &actor, &key).await;
        return response;
    }
    let (res_parts, res_body) = response.into_parts();
    let body = match axum::body::to_bytes(res_body, MAX_STORED).await {
        Ok(b) => b,
        Err(_) => {
            forget(&pool, &actor, &key).await;
            return Problem::internal().into_response();
        }
    };
    let text = |h: HeaderName| {
        res_parts
            .headers
            .get(h)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let stored = sqlx::query(
        "UPDATE idempotency_keys SET status = $3, content_type = $4, location = $5, etag = $6, body = $7 \
         WHERE actor = $1 AND key = $2",
    )
    .bind(&actor)
    .bind(&key)
    .bind(i64::from(res_parts.status.as_u16()))
    .bind(text(header::CONTENT_TYPE))
    .bind(text(header::LOCATION))
    .bind(text(header::ETAG))
    .bind(body.as_ref())
    .execute(&pool)
    .await;
    if let Err(e) = stored {
        tracing::warn!(error = %e, "could not store the idempotent response; a retry will run again");
        forget(&pool, &actor, &key).await;
    }
    Response::from_parts(res_parts, Body::from(body))
}

async fn forget(pool: &sqlx::PgPool, actor: &str, key: &str) {
    if let Err(e) = sqlx::query("DELETE FROM idempotency_keys WHERE actor = $1 AND key = $2")
        .bind(actor)
        .bind(key)
        .execute(pool)
        .await
    {
        tracing::warn!(error = %e, "could not release an idempotency key; it expires by itself");
    }
}

async fn replay(pool: &sqlx::PgPool, actor: &str, key: &str, hash: &[u8]) -> Response {
    let stored: Result<Option<Stored>, _> = sqlx::query_as(
        "SELECT request_hash, status, content_type, location, etag, body FROM idempotency_keys \
         WHERE actor = $1 AND key = $2",
    )
    .bind(actor)
    .bind(key)
    .fetch_optional(pool)
    .await;
    let stored = match stored {
        Ok(Some(s)) => s,
        Ok(None) => {
            return Problem::conflict("the first request with this Idempotency-Key failed; retry")
                .into_response();
        }
        Err(e) => return platform::http::problem::ApiError::from(e).into_response(),
    };
    if stored.request_hash != hash {
        return Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency-key-reused",
            "Idempotency-Key reused",
        )
        .with_detail("this Idempotency-Key was used for a different request")
        .into_response();
    }
    let Some(status) = stored.status else {
        return Problem::conflict("a request with this Idempotency-Key is still being processed")
            .into_response();
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

/// Delete keys older than a day (run periodically).
pub async fn expire(pool: &sqlx::PgPool) -> Result<u64, sqlx::Error> {
    Ok(
        sqlx::query("DELETE FROM idempotency_keys WHERE created_at < now() - interval '24 hours'")
            .execute(pool)
            .await?
            .rows_affected(),
    )
}
