//! Single objects with optimistic concurrency: a `version` column shown as a
//! strong `ETag` (`"vN"`), and `If-Match` required on updates (428 without,
//! 412 when stale or not one of ours).

use axum::Json;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::problem::{ApiError, Problem};

/// A single object with its version as a strong `ETag`.
pub struct Versioned<T> {
    pub status: StatusCode,
    pub version: i64,
    pub body: T,
}

impl<T> Versioned<T> {
    /// 200 with `body` at `version`.
    pub fn ok(version: i64, body: T) -> Versioned<T> {
        Versioned {
            status: StatusCode::OK,
            version,
            body,
        }
    }

    /// 201 with `body` at `version`.
    pub fn created(version: i64, body: T) -> Versioned<T> {
        Versioned {
            status: StatusCode::CREATED,
            version,
            body,
        }
    }
}

impl<T: Serialize> IntoResponse for Versioned<T> {
    fn into_response(self) -> Response {
        let mut res = (self.status, Json(self.body)).into_response();
        if let Ok(v) = HeaderValue::from_str(&etag(self.version)) {
            res.headers_mut().insert(header::ETAG, v);
        }
        res
    }
}

pub fn etag(version: i64) -> String {
    format!("\"v{version}\"")
}

/// The version an update is conditioned on: `If-Match` is required (428), and
/// must be an ETag this API issued (412 otherwise, like a stale one).
pub fn if_match(headers: &HeaderMap) -> Result<i64, ApiError> {
    let value = headers.get(header::IF_MATCH).ok_or_else(|| {
        Problem::new(
            StatusCode::PRECONDITION_REQUIRED,
            "precondition-required",
            "Precondition required",
        )
        .with_detail("send If-Match with the ETag of the version you are changing")
    })?;
    value
        .to_str()
        .ok()
        .and_then(|v| v.trim().strip_prefix("\"v"))
        .and_then(|v| v.strip_suffix('"'))
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| stale().into())
}

/// The version a change is conditioned on (`If-Match`), checked only once
/// the object is found, so that another tenant's object still answers 404.
#[derive(Debug, Clone)]
pub struct Precondition(Result<i64, Problem>);

impl Precondition {
    /// Read from `If-Match` (missing: 428 when checked; not ours: 412).
    pub fn from_headers(headers: &HeaderMap) -> Precondition {
        Precondition(if_match(headers).map_err(|e| match e {
            ApiError::Problem(p) => *p,
            _ => stale(),
        }))
    }

    /// A change made at a known version (jobs, the console).
    pub fn version(v: i64) -> Precondition {
        Precondition(Ok(v))
    }

    /// 428 without a precondition, 412 unless `current` is the expected version.
    pub fn check(&self, current: i64) -> Result<(), ApiError> {
        match &self.0 {
            Ok(v) if *v == current => Ok(()),
            Ok(_) => Err(stale().into()),
            Err(p) => Err(p.clone().into()),
        }
    }
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Precondition {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(Precondition::from_headers(&parts.headers))
    }
}

/// 412: the object changed since the client read it.
pub fn stale() -> Problem {
    Problem::new(
        StatusCode::PRECONDITION_FAILED,
        "precondition-failed",
        "Precondition failed",
    )
    .with_detail("the object was changed by someone else; fetch it again and retry")
}
