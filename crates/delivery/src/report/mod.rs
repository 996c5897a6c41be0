//! The delivery report: impressions, clicks, CTR, spend, CPM and CPC over
//! a date range, grouped by any of day, campaign, ad group, creative and
//! company, read from the merged rollups ([`crate::merge`]) of the
//! tenant's campaigns. Pages follow the grouping's order (keyset: the
//! cursor is the last row's key); the CSV export streams every page.
//!
//! Money is TTD's advertiser cost (`AdvertiserCostInUSDollars`), in micros
//! of US dollars; CPM and CPC are rounded to the micro, half away from zero.

pub mod api;
mod service;
mod store;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::NaiveDate;
use platform::http::problem::FieldError;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

pub use service::{Request, page};

/// The longest range a report covers.
pub const MAX_DAYS: i64 = 366;

/// What a report can group by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dim {
    Day,
    Campaign,
    AdGroup,
    Creative,
    Company,
}

impl Dim {
    pub const ALL: [Dim; 5] = [
        Dim::Day,
        Dim::Campaign,
        Dim::AdGroup,
        Dim::Creative,
        Dim::Company,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Dim::Day => "day",
            Dim::Campaign => "campaign",
            Dim::AdGroup => "ad_group",
            Dim::Creative => "creative",
            Dim::Company => "company",
        }
    }

    fn parse(s: &str) -> Option<Dim> {
        Dim::ALL.into_iter().find(|d| d.name() == s)
    }
}

/// `group_by` as given (`day,campaign`; empty: one total row): each
/// dimension once, in the order given (the rows' order).
pub fn group_by(text: Option<&str>, errors: &mut Vec<FieldError>) -> Vec<Dim> {
    let text = text.unwrap_or("campaign");
    let mut dims = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match Dim::parse(part) {
            Some(d) if dims.contains(&d) => errors.push(FieldError::new(
                "group_by",
                "duplicate",
                format!("{part} is named twice"),
            )),
            Some(d) => dims.push(d),
            None => errors.push(FieldError::new(
                "group_by",
                "invalid",
                format!("{part} is not one of day, campaign, ad_group, creative, company"),
            )),
        }
    }
    dims
}

/// `from` and `to` (inclusive, `YYYY-MM-DD`, at most [`MAX_DAYS`] apart).
pub fn range(
    from: Option<&str>,
    to: Option<&str>,
    errors: &mut Vec<FieldError>,
) -> Option<(NaiveDate, NaiveDate)> {
    let mut day = |field: &str, v: Option<&str>| match v {
        None => {
            errors.push(FieldError::new(field, "required", "a date, YYYY-MM-DD"));
            None
        }
        Some(v) => match NaiveDate::parse_from_str(v, "%Y-%m-%d") {
            Ok(d) => Some(d),
            Err(_) => {
                errors.push(FieldError::new(
                    field,
                    "invalid",
                    format!("{v} is not a date (YYYY-MM-DD)"),
                ));
                None
            }
        },
    };
    let (from, to) = (day("from", from), day("to", to));
    let (from, to) = (from?, to?);
    if to < from {
        errors.push(FieldError::new("to", "before_from", "to is before from"));
        return None;
    }
    if (to - from).num_days() + 1 > MAX_DAYS {
        errors.push(FieldError::new(
            "to",
            "out_of_range",
            format!("at most {MAX_DAYS} days from from"),
        ));
        return None;
    }
    Some((from, to))
}

/// A uuid query parameter.
pub fn uuid(field: &str, v: Option<&str>, errors: &mut Vec<FieldError>) -> Option<Uuid> {
    let v = v?;
    match v.parse() {
        Ok(id) => Some(id),
        Err(_) => {
            errors.push(FieldError::new(
                field,
                "invalid",
                format!("{v} is not a uuid"),
            ));
            None
        }
    }
}

/// A row's place in the report's order: the values of its grouping, in
/// the grouping's order (TTD's ids for ad groups and creatives, which
/// every row has; `""` for the unresolved company).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum KeyPart {
    Day(NaiveDate),
    Id(Uuid),
    Text(String),
}

impl KeyPart {
    fn encode(&self) -> String {
        match self {
            KeyPart::Day(d) => format!("d{d}"),
            KeyPart::Id(id) => format!("u{id}"),
            KeyPart::Text(t) => format!("t{t}"),
        }
    }

    fn decode(s: &str) -> Option<KeyPart> {
        let rest = s.get(1..)?;
        match s.as_bytes().first()? {
            b'd' => NaiveDate::parse_from_str(rest, "%Y-%m-%d")
                .ok()
                .map(KeyPart::Day),
            b'u' => rest.parse().ok().map(KeyPart::Id),
            b't' => Some(KeyPart::Text(rest.to_string())),
            _ => None,
        }
    }
}

/// The opaque cursor of a row key.
pub fn encode_cursor(key: &[KeyPart]) -> String {
    let parts: Vec<String> = key.iter().map(KeyPart::encode).collect();
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(&parts).unwrap_or_default())
}

/// A cursor this API gave for this grouping, or `None`.
pub fn decode_cursor(s: &str, dims: &[Dim]) -> Option<Vec<KeyPart>> {
    let raw = URL_SAFE_NO_PAD.decode(s).ok()?;
    let parts: Vec<String> = serde_json::from_slice(&raw).ok()?;
    if parts.len() != dims.len() || dims.is_empty() {
        return None;
    }
    let key: Vec<KeyPart> = parts
        .iter()
        .map(|p| KeyPart::decode(p))
        .collect::<Option<_>>()?;
    let fits = key.iter().zip(dims).all(|(k, d)| {
        matches!(
            (k, d),
            (KeyPart::Day(_), Dim::Day)
                | (KeyPart::Id(_), Dim::Campaign)
                | (
                    KeyPart::Text(_),
                    Dim::AdGroup | Dim::Creative | Dim::Company
                )
        )
    });
    fits.then_some(key)
}

pub use crate::days::Sums;

/// `n / d`, rounded to the nearest integer, half away from zero; `None`
/// when `d` is zero.
pub fn ratio(n: i128, d: i128) -> Option<i64> {
    if d == 0 {
        return None;
    }
    let q = (2 * n.abs() + d.abs()) / (2 * d.abs());
    let q = if (n < 0) != (d < 0) { -q } else { q };
    i64::try_from(q).ok()
}

/// The metrics of a row.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct Metrics {
    pub impressions: i64,
    pub clicks: i64,
    /// Clicks per impression (absent without impressions).
    pub ctr: Option<f64>,
    /// TTD's advertiser cost, micro-dollars (USD).
    pub spend_usd_micros: i64,
    /// TTD's media cost, micro-dollars (USD).
    pub media_cost_usd_micros: i64,
    /// Spend per 1,000 impressions, micro-dollars.
    pub cpm_usd_micros: Option<i64>,
    /// Spend per click, micro-dollars.
    pub cpc_usd_micros: Option<i64>,
    /// People reached: distinct TDIDs (TTD's user ids), when asked for
    /// (`people=true`). Exact up to 128 in a row, estimated above (about
    /// 9 % relative standard error; `delivery::people`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub people: Option<i64>,
}

impl From<Sums> for Metrics {
    fn from(s: Sums) -> Metrics {
        Metrics {
            impressions: s.impressions,
            clicks: s.clicks,
            ctr: (s.impressions > 0).then(|| s.clicks as f64 / s.impressions as f64),
            spend_usd_micros: s.spend,
            media_cost_usd_micros: s.media_cost,
            cpm_usd_micros: ratio(i128::from(s.spend) * 1000, i128::from(s.impressions)),
            cpc_usd_micros: ratio(i128::from(s.spend), i128::from(s.clicks)),
            people: None,
        }
    }
}

/// One row of the delivery report: the grouping's values (only those
/// grouped by are present) and the metrics.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct DeliveryRow {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub day: Option<NaiveDate>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub campaign_id: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub campaign_name: Option<String>,
    /// TTD's ad group id (always there when grouped by ad group).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttd_ad_group_id: Option<String>,
    /// P360's, when the activation mapping knows TTD's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ad_group_id: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ad_group_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttd_creative_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub creative_id: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub creative_name: Option<String>,
    /// The company's domain; `(unresolved)` for impressions from addresses
    /// in no company's range.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub company: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub company_name: Option<String>,
    #[serde(flatten)]
    pub metrics: Metrics,
    /// This row's place in the report (the next page's cursor).
    #[serde(skip)]
    pub key: Vec<KeyPart>,
}

/// What the report calls the impressions of no company.
pub const UNRESOLVED: &str = "(unresolved)";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding_is_half_away_from_zero() {
        assert_eq!(ratio(5, 2), Some(3));
        assert_eq!(ratio(-5, 2), Some(-3));
        assert_eq!(ratio(4, 3), Some(1));
        assert_eq!(ratio(1, 0), None);
        // 3 impressions for 10 micro-dollars: 3,333.33 per thousand.
        let m = Metrics::from(Sums {
            impressions: 3,
            clicks: 0,
            spend: 10,
            media_cost: 7,
        });
        assert_eq!((m.cpm_usd_micros, m.cpc_usd_micros), (Some(3333), None));
    }

    #[test]
    fn groupings_and_cursors_are_checked() {
        let mut errors = Vec::new();
        assert_eq!(
            group_by(Some("company, day"), &mut errors),
            [Dim::Company, Dim::Day]
        );
        assert!(errors.is_empty());
        group_by(Some("day,day,week"), &mut errors);
        assert_eq!(errors.len(), 2);
        assert_eq!(group_by(Some(""), &mut Vec::new()), []);

        let key = vec![
            KeyPart::Day(NaiveDate::from_ymd_opt(2026, 11, 30).unwrap()),
            KeyPart::Text("acme.example".into()),
        ];
        let c = encode_cursor(&key);
        assert_eq!(decode_cursor(&c, &[Dim::Day, Dim::Company]), Some(key));
        assert_eq!(decode_cursor(&c, &[Dim::Company, Dim::Day]), None);
        assert_eq!(decode_cursor(&c, &[Dim::Day]), None);
        assert_eq!(decode_cursor("not a cursor", &[Dim::Day]), None);
    }

    #[test]
    fn ranges_are_dates_in_order_and_bounded() {
        let mut errors = Vec::new();
        assert!(range(Some("2026-11-01"), Some("2026-11-30"), &mut errors).is_some());
        assert!(range(Some("2026-11-30"), Some("2026-11-01"), &mut errors).is_none());
        assert!(range(Some("2025-01-01"), Some("2026-11-01"), &mut errors).is_none());
        assert!(range(Some("30/11/2026"), None, &mut errors).is_none());
        let codes: Vec<_> = errors.iter().map(|e| e.code.as_str()).collect();
        assert_eq!(
            codes,
            ["before_from", "out_of_range", "invalid", "required"]
        );
    }
}
