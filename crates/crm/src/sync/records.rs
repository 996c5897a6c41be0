//! Salesforce's records as P360 keeps them, read from the API's JSON with
//! amounts taken exactly from their decimal text.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::salesforce::sandbox::soql::parse_datetime;

/// The objects synced, in order (accounts before the opportunities that
/// name them).
pub const OBJECTS: [&str; 3] = ["Account", "Opportunity", "OpportunityHistory"];

/// The fields P360 asks for.
pub fn fields(object: &str, multi_currency: bool) -> &'static str {
    match (object, multi_currency) {
        ("Account", _) => {
            "Id, Name, Website, Industry, NumberOfEmployees, BillingCountry, SystemModstamp, IsDeleted"
        }
        ("Opportunity", false) => {
            "Id, AccountId, Name, Amount, StageName, CloseDate, IsClosed, IsWon, CreatedDate, SystemModstamp, IsDeleted"
        }
        ("Opportunity", true) => {
            "Id, AccountId, Name, Amount, CurrencyIsoCode, StageName, CloseDate, IsClosed, IsWon, CreatedDate, SystemModstamp, IsDeleted"
        }
        _ => {
            "Id, OpportunityId, StageName, Amount, CloseDate, CreatedDate, SystemModstamp, IsDeleted"
        }
    }
}

fn stamp<'de, D: serde::Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
    let s = String::deserialize(d)?;
    parse_datetime(&s).ok_or_else(|| serde::de::Error::custom(format!("not a date-time: {s}")))
}

fn date<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<NaiveDate>, D::Error> {
    Option::<String>::deserialize(d)?
        .map(|s| {
            NaiveDate::parse_from_str(&s, "%Y-%m-%d")
                .map_err(|_| serde::de::Error::custom(format!("not a date: {s}")))
        })
        .transpose()
}

fn amount<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    let raw = Option::<Box<RawValue>>::deserialize(d)?;
    match raw.as_deref().map(RawValue::get) {
        None | Some("null") => Ok(None),
        Some(text) => decimal_micros(text)
            .map(Some)
            .ok_or_else(|| serde::de::Error::custom(format!("not an amount: {text}"))),
    }
}

/// A JSON number's decimal text in millionths, exact to the sixth place
/// and rounded half away from zero beyond it (`125000.5` -> 125000500000).
pub fn decimal_micros(text: &str) -> Option<i64> {
    let (negative, t) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (mantissa, exp) = match t.find(['e', 'E']) {
        Some(i) => (&t[..i], t[i + 1..].parse::<i32>().ok()?),
        None => (t, 0),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if int.is_empty() || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    // All digits, and where the decimal point falls among them.
    let digits: Vec<u8> = int.bytes().chain(frac.bytes()).map(|b| b - b'0').collect();
    let point = int.len() as i64 + exp as i64 + 6;
    let mut value: i128 = 0;
    for (i, d) in digits.iter().enumerate() {
        if (i as i64) < point {
            value = value.checked_mul(10)?.checked_add(*d as i128)?;
        }
    }
    for _ in digits.len() as i64..point.max(0) {
        value = value.checked_mul(10)?;
    }
    if point >= 0 && (point as usize) < digits.len() && digits[point as usize] >= 5 {
        value += 1;
    }
    let value = if negative { -value } else { value };
    i64::try_from(value).ok()
}

#[derive(Debug, Deserialize)]
pub struct Account {
    #[serde(rename = "Id")]
    pub id: String,
    #[serde(rename = "Name")]
    pub name: String,
    #[serde(rename = "Website")]
    pub website: Option<String>,
    #[serde(rename = "Industry")]
    pub industry: Option<String>,
    #[serde(rename = "NumberOfEmployees")]
    pub employees: Option<i64>,
    #[serde(rename = "BillingCountry")]
    pub billing_country: Option<String>,
    #[serde(rename = "SystemModstamp", deserialize_with = "stamp")]
    pub system_modstamp: DateTime<Utc>,
    #[serde(rename = "IsDeleted")]
    pub is_deleted: bool,
}

#[derive(Debug, Deserialize)]
pub struct Opportunity {
    #[serde(rename = "Id")]
    pub id: String,
    #[serde(rename = "AccountId")]
    pub account_id: Option<String>,
    #[serde(rename = "Name")]
    pub name: String,
    #[serde(rename = "Amount", deserialize_with = "amount", default)]
    pub amount_micros: Option<i64>,
    #[serde(rename = "CurrencyIsoCode", default)]
    pub currency: Option<String>,
    #[serde(rename = "StageName")]
    pub stage: String,
    #[serde(rename = "CloseDate", deserialize_with = "date", default)]
    pub close_date: Option<NaiveDate>,
    #[serde(rename = "IsClosed")]
    pub is_closed: bool,
    #[serde(rename = "IsWon")]
    pub is_won: bool,
    #[serde(rename = "CreatedDate", deserialize_with = "stamp")]
    pub created_at: DateTime<Utc>,
    #[serde(rename = "SystemModstamp", deserialize_with = "stamp")]
    pub system_modstamp: DateTime<Utc>,
    #[serde(rename = "IsDeleted")]
    pub is_deleted: bool,
}

#[derive(Debug, Deserialize)]
pub struct History {
    #[serde(rename = "Id")]
    pub id: String,
    #[serde(rename = "OpportunityId")]
    pub opportunity_id: String,
    #[serde(rename = "StageName")]
    pub stage: String,
    #[serde(rename = "Amount", deserialize_with = "amount", default)]
    pub amount_micros: Option<i64>,
    #[serde(rename = "CloseDate", deserialize_with = "date", default)]
    pub close_date: Option<NaiveDate>,
    #[serde(rename = "CreatedDate", deserialize_with = "stamp")]
    pub created_at: DateTime<Utc>,
    #[serde(rename = "SystemModstamp", deserialize_with = "stamp")]
    pub system_modstamp: DateTime<Utc>,
    #[serde(rename = "IsDeleted")]
    pub is_deleted: bool,
}

#[cfg(test)]
mod tests {
    use super::decimal_micros;

    #[test]
    fn amounts_are_exact_micros() {
        assert_eq!(decimal_micros("125000.5"), Some(125_000_500_000));
        assert_eq!(decimal_micros("0.1"), Some(100_000));
        assert_eq!(decimal_micros("19.99"), Some(19_990_000));
        assert_eq!(decimal_micros("-3"), Some(-3_000_000));
        assert_eq!(decimal_micros("1.25E5"), Some(125_000_000_000));
        assert_eq!(decimal_micros("1E-7"), Some(0));
        assert_eq!(decimal_micros("0.0000005"), Some(1));
        // Beyond what an f64 holds exactly.
        assert_eq!(
            decimal_micros("90071992547.01"),
            Some(90_071_992_547_010_000)
        );
        assert_eq!(decimal_micros("abc"), None);
        assert_eq!(decimal_micros("1e400"), None);
    }
}
