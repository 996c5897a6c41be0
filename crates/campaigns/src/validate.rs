//! Field checks shared by the campaign capability's resources: names and
//! amounts of money, each adding a field error the 422 answer lists.

use platform::http::problem::FieldError;

use crate::money::{self, MoneyError, MoneyWire};

/// Object names: 1 to 200 characters once trimmed.
pub fn check_name(name: &str, errors: &mut Vec<FieldError>) {
    if name.trim().is_empty() || name.chars().count() > 200 {
        errors.push(FieldError::new("name", "length", "1 to 200 characters"));
    }
}

/// A positive amount in `currency` (the parent's), or a field error.
pub fn check_money(
    field: &str,
    m: &MoneyWire,
    currency: Option<&str>,
    errors: &mut Vec<FieldError>,
) -> Option<i64> {
    if let Some(c) = currency
        && c != m.currency
    {
        errors.push(FieldError::new(
            &format!("{field}.currency"),
            "currency_mismatch",
            format!("must be the advertiser's currency, {c}"),
        ));
        return None;
    }
    match m.positive_micros() {
        Ok(v) => Some(v),
        Err(e) => {
            let sub = if e == MoneyError::Currency {
                "currency"
            } else {
                "amount"
            };
            errors.push(FieldError::new(
                &format!("{field}.{sub}"),
                e.code(),
                e.to_string(),
            ));
            None
        }
    }
}

/// A bid or rate in `currency`: greater than zero, finer than the minor unit allowed.
pub fn check_rate(
    field: &str,
    m: &MoneyWire,
    currency: &str,
    errors: &mut Vec<FieldError>,
) -> Option<i64> {
    if m.currency != currency {
        errors.push(FieldError::new(
            &format!("{field}.currency"),
            "currency_mismatch",
            format!("must be the advertiser's currency, {currency}"),
        ));
        return None;
    }
    match m.rate_micros() {
        Ok(0) => {
            errors.push(FieldError::new(
                &format!("{field}.amount"),
                "not_positive",
                "must be greater than zero",
            ));
            None
        }
        Ok(v) => Some(v),
        Err(e) => {
            errors.push(FieldError::new(
                &format!("{field}.amount"),
                e.code(),
                e.to_string(),
            ));
            None
        }
    }
}

/// A closed-set value named by the client, or a field error naming the allowed ones.
pub fn check_enum<T: std::str::FromStr<Err = platform::types::UnknownValue>>(
    field: &str,
    value: &str,
    errors: &mut Vec<FieldError>,
) -> Option<T> {
    match value.parse() {
        Ok(v) => Some(v),
        Err(e) => {
            errors.push(FieldError::new(field, "invalid_value", e.allowed));
            None
        }
    }
}

pub use platform::db::escape_like;

/// Amounts for error messages.
pub fn format(micros: i64) -> String {
    money::format_micros(micros, 2)
}
