//! RFC 9457 `application/problem+json` errors: the one error type at the HTTP boundary.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

pub const CONTENT_TYPE: &str = "application/problem+json";

/// A problem details document. `type` is a stable URN per kind of error.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Problem {
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Field-level validation errors.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    /// The request id, to quote when reporting a problem.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

/// One failing field of a validation error.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FieldError {
    /// JSON pointer-like path of the field, e.g. `budget.amount`.
    pub field: String,
    /// Machine-readable code, e.g. `required`, `too_long`.
    pub code: String,
    pub message: String,
}

impl Problem {
    pub fn new(status: StatusCode, slug: &str, title: impl Into<String>) -> Problem {
        Problem {
            kind: format!("urn:p360:problem:{slug}"),
            title: title.into(),
            status: status.as_u16(),
            detail: None,
            errors: Vec::new(),
            request_id: None,
        }
    }

    pub fn with_detail(mut self, detail: impl Into<String>) -> Problem {
        self.detail = Some(detail.into());
        self
    }

    pub fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    pub fn not_found() -> Problem {
        Problem::new(StatusCode::NOT_FOUND, "not-found", "Not found")
    }

    /// 422 listing every failing field.
    pub fn validation(errors: Vec<FieldError>) -> Problem {
        let mut p = Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation",
            "Validation failed",
        )
        .with_detail(format!("{} field(s) failed validation", errors.len()));
        p.errors = errors;
        p
    }

    /// 409: the request conflicts with the current state (e.g. a name taken).
    pub fn conflict(detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::CONFLICT, "conflict", "Conflict").with_detail(detail)
    }

    pub fn service_unavailable(detail: impl Into<String>) -> Problem {
        Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "service-unavailable",
            "Service unavailable",
        )
        .with_detail(detail)
    }

    pub fn internal() -> Problem {
        Problem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Internal server error",
        )
    }

    /// The generic problem for a bare status code produced outside our handlers
    /// (axum's 405, extractor rejections, body limits).
    pub fn for_status(status: StatusCode) -> Problem {
        let slug = match status {
            StatusCode::BAD_REQUEST => "bad-request",
            StatusCode::NOT_FOUND => "not-found",
            StatusCode::METHOD_NOT_ALLOWED => "method-not-allowed",
            StatusCode::PAYLOAD_TOO_LARGE => "payload-too-large",
            StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported-media-type",
            StatusCode::UNPROCESSABLE_ENTITY => "unprocessable",
            StatusCode::REQUEST_TIMEOUT => "timeout",
            StatusCode::SERVICE_UNAVAILABLE => "service-unavailable",
            s if s.is_server_error() => "internal",
            _ => "http-error",
        };
        Problem::new(
            status,
            slug,
            status.canonical_reason().unwrap_or("Error").to_string(),
        )
    }
}

impl FieldError {
    pub fn new(field: &str, code: &str, message: impl Into<String>) -> FieldError {
        FieldError {
            field: field.into(),
            code: code.into(),
            message: message.into(),
        }
    }
}

/// A violation of the named unique constraint becomes a 409 with `detail`;
/// any other database error stays what it is.
pub fn conflict_on<D: Into<String>>(
    e: sqlx::Error,
    constraint: &str,
    detail: impl FnOnce() -> D,
) -> ApiError {
    if is_unique_violation(&e, constraint) {
        Problem::conflict(detail()).into()
    } else {
        e.into()
    }
}

/// Whether a database error is the violation of the named unique constraint.
pub fn is_unique_violation(e: &sqlx::Error, constraint: &str) -> bool {
    matches!(e, sqlx::Error::Database(db)
        if db.code().as_deref() == Some("23505") && db.constraint() == Some(constraint))
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = self.status_code();
        let body = serde_json::to_vec(&self).unwrap_or_else(|_| b"{}".to_vec());
        let mut res = (status, body).into_response();
        res.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
        res
    }
}

/// Errors returned by handlers. Expected failures carry a [`Problem`]; anything
/// else is logged with its cause chain and answered with an opaque 500.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{}", .0.title)]
    Problem(Box<Problem>),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl From<Problem> for ApiError {
    fn from(p: Problem) -> Self {
        ApiError::Problem(Box::new(p))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            ApiError::Problem(p) => (*p).into_response(),
            ApiError::Database(e) if is_unavailable(&e) => {
                tracing::warn!(error = %e, "database unavailable");
                Problem::service_unavailable("the database is unavailable; retry shortly")
                    .into_response()
            }
            ApiError::Database(e) if is_concurrent_conflict(&e) => {
                tracing::warn!(error = %e, "transaction rolled back by a concurrent one");
                Problem::conflict("a concurrent change got in the way; retry").into_response()
            }
            ApiError::Database(e) => {
                tracing::error!(error = ?e, "database error");
                Problem::internal().into_response()
            }
            ApiError::Unexpected(e) => {
                tracing::error!(error = format!("{e:#}"), "unexpected error");
                Problem::internal().into_response()
            }
        }
    }
}

/// Whether the database rolled the transaction back because of a concurrent
/// one (a deadlock, a serialization failure: SQLSTATE class 40): the request
/// did nothing and can be retried.
pub fn is_concurrent_conflict(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.code().is_some_and(|c| c.starts_with("40")))
}

/// Whether a database error means "not reachable right now" rather than a bug.
pub fn is_unavailable(e: &sqlx::Error) -> bool {
    matches!(
        e,
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_)
    ) || matches!(e, sqlx::Error::Database(db) if db.code().is_some_and(|c| c.starts_with("57P") || c.starts_with("08")))
}
