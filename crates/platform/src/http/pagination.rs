//! Cursor pagination over a stable (time, id) order: the cursor is the
//! position of the last item of the previous page, opaque to clients.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use super::problem::{ApiError, FieldError, Problem};

/// Where a page starts: after the item with this (time, id).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub at: DateTime<Utc>,
    pub id: Uuid,
}

impl Cursor {
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!("{}:{}", self.at.timestamp_micros(), self.id))
    }

    /// `None` for anything this API did not produce.
    pub fn decode(s: &str) -> Option<Cursor> {
        let raw = String::from_utf8(URL_SAFE_NO_PAD.decode(s).ok()?).ok()?;
        let (micros, id) = raw.split_once(':')?;
        Some(Cursor {
            at: DateTime::from_timestamp_micros(micros.parse().ok()?)?,
            id: id.parse().ok()?,
        })
    }
}

/// Page sizes: default and maximum.
pub const DEFAULT_LIMIT: i64 = 50;
pub const MAX_LIMIT: i64 = 500;

/// The query of a list that takes nothing but a page: `limit` and `cursor`.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// `limit` and `cursor` of a list request, validated (422 listing both).
pub fn page(limit: Option<i64>, cursor: Option<&str>) -> Result<(i64, Option<Cursor>), ApiError> {
    page_up_to(limit, cursor, DEFAULT_LIMIT, MAX_LIMIT)
}

/// As [`page`], with another default and maximum (e.g. exports).
pub fn page_up_to(
    limit: Option<i64>,
    cursor: Option<&str>,
    default: i64,
    max: i64,
) -> Result<(i64, Option<Cursor>), ApiError> {
    let mut errors = Vec::new();
    let parsed = parse_page(limit, cursor, default, max, &mut errors);
    if errors.is_empty() {
        Ok(parsed)
    } else {
        Err(Problem::validation(errors).into())
    }
}

/// `limit` (default `default`, 1 to `max`) and `cursor`, adding a field
/// error for each that is wrong (for handlers checking other fields too).
pub fn parse_page(
    limit: Option<i64>,
    cursor: Option<&str>,
    default: i64,
    max: i64,
    errors: &mut Vec<FieldError>,
) -> (i64, Option<Cursor>) {
    let limit = limit.unwrap_or(default);
    if !(1..=max).contains(&limit) {
        errors.push(FieldError::new(
            "limit",
            "out_of_range",
            format!("1 to {max}"),
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
    (limit, cursor)
}

/// A page of a list.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// The same page with each item converted.
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            next_cursor: self.next_cursor,
        }
    }

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

/// A keyset page: `rows` as read with `limit + 1`, cut to `limit`, and the
/// key of its last row when there is more (the next page starts after it).
pub fn keyset<T, K>(mut rows: Vec<T>, limit: i64, key: impl Fn(&T) -> K) -> (Vec<T>, Option<K>) {
    if rows.len() as i64 > limit {
        rows.truncate(limit.max(0) as usize);
        let next = rows.last().map(key);
        (rows, next)
    } else {
        (rows, None)
    }
}

/// Check free-text query parameters: each at most `max` characters and
/// without NUL (which PostgreSQL refuses in text), else a field error.
pub fn check_texts(fields: &[(&str, Option<&str>)], max: usize, errors: &mut Vec<FieldError>) {
    for (field, value) in fields {
        if value.is_some_and(|v| v.contains('\0') || v.chars().count() > max) {
            errors.push(FieldError::new(
                field,
                "invalid",
                format!("up to {max} characters, no NUL"),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        let c = Cursor {
            at: DateTime::from_timestamp_micros(1_795_000_000_123_456).unwrap(),
            id: Uuid::now_v7(),
        };
        assert_eq!(Cursor::decode(&c.encode()), Some(c));
        assert_eq!(Cursor::decode("bogus"), None);
        assert_eq!(Cursor::decode(""), None);
    }
}
