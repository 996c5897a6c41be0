//! HTTP helpers shared by the campaign resources: versioned single-object
//! responses (`ETag`), `If-Match` preconditions, list queries.

use axum::Json;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use platform::http::pagination::{Cursor, DEFAULT_LIMIT, MAX_LIMIT};
use platform::http::problem::{ApiError, FieldError, Problem};
use serde::Serialize;

/// A single object with its version as a strong `ETag`.
pub struct Versioned<T> {
    pub status: StatusCode,
    pub version: i64,
    pub body: T,
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

/// 412: the object changed since the client read it.
pub fn stale() -> Problem {
    Problem::new(
        StatusCode::PRECONDITION_FAILED,
        "precondition-failed",
        "Precondition failed",
    )
    .with_detail("the object was changed by someone else; fetch it again and retry")
}

/// `limit` and `cursor` of a list request, validated (422 listing both).
pub fn page(limit: Option<i64>, cursor: Option<&str>) -> Result<(i64, Option<Cursor>), ApiError> {
    let mut errors = Vec::new();
    let limit = limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        errors.push(FieldError::new(
            "limit",
            "out_of_range",
            format!("1 to {MAX_LIMIT}"),
        ));
    }
    let cursor = match cursor.map(Cursor::decode) {
        Some(Some(c)) => Some(c),
        Some(None) => {
            errors.push(FieldError::new(
                "cursor",
                "invalid",
                "not a cursor from this API",
            ));
            None
        }
        None => None,
    };
    if errors.is_empty() {
        Ok((limit, cursor))
    } else {
        Err(Problem::validation(errors).into())
    }
}

/// A page of a list.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// Build a page from up to `limit + 1` rows.
    pub fn from_rows(mut rows: Vec<T>, limit: i64, position: impl Fn(&T) -> Cursor) -> Page<T> {
        let next_cursor = if rows.len() as i64 > limit {
            rows.truncate(limit as usize);
            rows.last().map(|r| position(r).encode())
        } else {
            None
        };
        Page {
            items: rows,
            next_cursor,
        }
    }
}
