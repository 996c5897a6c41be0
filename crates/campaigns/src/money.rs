//! Money: integer micro-units of an ISO 4217 currency in storage, a decimal
//! string plus currency code on the wire (`{"amount": "50000.00", "currency": "USD"}`),
//! never a float.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Micro-units per unit of currency.
pub const MICROS: i64 = 1_000_000;

/// ISO 4217 codes the platform accepts, with their minor-unit digits.
const CURRENCIES: &[(&str, u32)] = &[
    ("AED", 2),
    ("ARS", 2),
    ("AUD", 2),
    ("BGN", 2),
    ("BRL", 2),
    ("CAD", 2),
    ("CHF", 2),
    ("CLP", 0),
    ("CNY", 2),
    ("COP", 2),
    ("CZK", 2),
    ("DKK", 2),
    ("EUR", 2),
    ("GBP", 2),
    ("HKD", 2),
    ("HUF", 2),
    ("IDR", 2),
    ("ILS", 2),
    ("INR", 2),
    ("ISK", 0),
    ("JPY", 0),
    ("KRW", 0),
    ("MXN", 2),
    ("MYR", 2),
    ("NOK", 2),
    ("NZD", 2),
    ("PHP", 2),
    ("PLN", 2),
    ("RON", 2),
    ("SAR", 2),
    ("SEK", 2),
    ("SGD", 2),
    ("THB", 2),
    ("TRY", 2),
    ("TWD", 2),
    ("USD", 2),
    ("ZAR", 2),
];

/// Minor-unit digits of an accepted currency.
pub fn currency_digits(code: &str) -> Option<u32> {
    CURRENCIES.iter().find(|(c, _)| *c == code).map(|(_, d)| *d)
}

/// Money as it travels over the API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MoneyWire {
    /// A decimal string, e.g. `"50000.00"`; never a JSON number.
    #[schema(example = "50000.00")]
    pub amount: String,
    /// ISO 4217 code, e.g. `USD`.
    #[schema(example = "USD")]
    pub currency: String,
}

/// Why an amount was refused; the code goes into the 422 field error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("not a decimal amount")]
    NotDecimal,
    #[error("more decimal places than {0} allows")]
    TooPrecise(String),
    #[error("amount out of range")]
    OutOfRange,
    #[error("must be greater than zero")]
    NotPositive,
    #[error("unknown or unsupported currency")]
    Currency,
}

impl MoneyError {
    pub fn code(&self) -> &'static str {
        match self {
            MoneyError::NotDecimal => "not_decimal",
            MoneyError::TooPrecise(_) => "too_precise",
            MoneyError::OutOfRange => "out_of_range",
            MoneyError::NotPositive => "not_positive",
            MoneyError::Currency => "invalid_currency",
        }
    }
}

/// Parse a decimal string into micro-units, allowing at most `max_decimals`
/// fractional digits (at most 6).
pub fn parse_micros(amount: &str, max_decimals: u32) -> Result<i64, MoneyError> {
    let s = amount.trim();
    let (negative, s) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    if int.is_empty()
        || !int.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
        || (s.contains('.') && frac.is_empty())
    {
        return Err(MoneyError::NotDecimal);
    }
    let frac = frac.trim_end_matches('0');
    if frac.len() as u32 > max_decimals.min(6) {
        return Err(MoneyError::TooPrecise(max_decimals.to_string()));
    }
    let units: i64 = int.parse().map_err(|_| MoneyError::OutOfRange)?;
    let mut micros_frac: i64 = 0;
    for (i, d) in frac.bytes().enumerate() {
        micros_frac += i64::from(d - b'0') * 10i64.pow(5 - i as u32);
    }
    let total = units
        .checked_mul(MICROS)
        .and_then(|v| v.checked_add(micros_frac))
        .ok_or(MoneyError::OutOfRange)?;
    Ok(if negative { -total } else { total })
}

/// Format micro-units with at least `min_decimals` fractional digits (more if
/// the value has them).
pub fn format_micros(micros: i64, min_decimals: u32) -> String {
    let sign = if micros < 0 { "-" } else { "" };
    let abs = micros.unsigned_abs();
    let units = abs / MICROS as u64;
    let frac = format!("{:06}", abs % MICROS as u64);
    let trimmed = frac.trim_end_matches('0');
    let keep = trimmed.len().max(min_decimals as usize);
    if keep == 0 {
        format!("{sign}{units}")
    } else {
        format!("{sign}{units}.{}", &frac[..keep])
    }
}

impl MoneyWire {
    pub fn from_micros(micros: i64, currency: &str) -> MoneyWire {
        MoneyWire {
            amount: format_micros(micros, currency_digits(currency).unwrap_or(2)),
            currency: currency.to_string(),
        }
    }

    /// A positive amount in the currency's minor units.
    pub fn positive_micros(&self) -> Result<i64, MoneyError> {
        let digits = currency_digits(&self.currency).ok_or(MoneyError::Currency)?;
        let m = parse_micros(&self.amount, digits)?;
        if m <= 0 {
            return Err(MoneyError::NotPositive);
        }
        Ok(m)
    }

    /// A rate (bid, CPM), which may be finer than the currency's minor unit.
    pub fn rate_micros(&self) -> Result<i64, MoneyError> {
        currency_digits(&self.currency).ok_or(MoneyError::Currency)?;
        let m = parse_micros(&self.amount, 6)?;
        if m < 0 {
            return Err(MoneyError::NotPositive);
        }
        Ok(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_formats_decimal_strings_exactly() {
        assert_eq!(parse_micros("50000.00", 2), Ok(50_000 * MICROS));
        assert_eq!(parse_micros("0.1", 2), Ok(100_000));
        assert_eq!(
            parse_micros("12.345", 2),
            Err(MoneyError::TooPrecise("2".into()))
        );
        assert_eq!(
            parse_micros("12.340", 2),
            Ok(12_340_000),
            "trailing zeros are not precision"
        );
        assert_eq!(parse_micros("4.255", 6), Ok(4_255_000));
        for bad in ["", ".5", "5.", "1e3", "12,00", "NaN", " ", "--1", "0x10"] {
            assert_eq!(parse_micros(bad, 2), Err(MoneyError::NotDecimal), "{bad:?}");
        }
        assert_eq!(
            parse_micros("99999999999999999", 2),
            Err(MoneyError::OutOfRange)
        );
        assert_eq!(format_micros(50_000 * MICROS, 2), "50000.00");
        assert_eq!(format_micros(4_255_000, 2), "4.255");
        assert_eq!(format_micros(5 * MICROS, 0), "5");
        assert_eq!(MoneyWire::from_micros(1_500_000, "JPY").amount, "1.5");
    }

    #[test]
    fn currencies_and_signs_are_checked() {
        let m = |a: &str, c: &str| MoneyWire {
            amount: a.into(),
            currency: c.into(),
        };
        assert_eq!(m("100", "XXX").positive_micros(), Err(MoneyError::Currency));
        assert_eq!(m("100", "usd").positive_micros(), Err(MoneyError::Currency));
        assert_eq!(
            m("0", "USD").positive_micros(),
            Err(MoneyError::NotPositive)
        );
        assert_eq!(
            m("-5", "USD").positive_micros(),
            Err(MoneyError::NotPositive)
        );
        assert_eq!(
            m("100.5", "JPY").positive_micros(),
            Err(MoneyError::TooPrecise("0".into()))
        );
        assert_eq!(m("100", "JPY").positive_micros(), Ok(100 * MICROS));
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn formatting_and_parsing_are_exact_inverses(m in -9_000_000_000_000_000i64..9_000_000_000_000_000) {
                prop_assert_eq!(parse_micros(&format_micros(m, 0), 6), Ok(m));
                prop_assert_eq!(parse_micros(&format_micros(m, 2), 6), Ok(m));
            }

            #[test]
            fn an_amount_keeps_the_precision_of_its_currency(units in 0i64..1_000_000_000, cents in 0i64..100, extra in 1i64..10) {
                let two = format!("{units}.{cents:02}");
                prop_assert_eq!(parse_micros(&two, 2), Ok(units * MICROS + cents * 10_000));
                // A third decimal that is not zero is refused at two digits.
                let three = format!("{two}{extra}");
                prop_assert_eq!(parse_micros(&three, 2), Err(MoneyError::TooPrecise("2".into())));
                // The wire form of a stored amount reads back to the same micros.
                let wire = MoneyWire::from_micros(units * MICROS + cents * 10_000, "USD");
                prop_assert_eq!(wire.rate_micros(), Ok(units * MICROS + cents * 10_000));
            }
        }
    }
}
