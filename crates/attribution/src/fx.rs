//! Exchange rates: opportunities in another currency than the report's are
//! converted at the rate of their day (or the latest before it) through US
//! dollars; an amount with no rate is not converted and is reported as
//! such, never mixed in. Rates are loaded by staff (`p360 fx import`: a CSV
//! of `date,currency,usd_per_unit`).

use std::collections::HashMap;

use chrono::NaiveDate;

/// Rates by currency, in day order.
#[derive(Debug, Default, Clone)]
pub struct Rates(HashMap<String, Vec<(NaiveDate, i64)>>);

impl Rates {
    pub fn new(rows: Vec<(String, NaiveDate, i64)>) -> Rates {
        let mut m: HashMap<String, Vec<(NaiveDate, i64)>> = HashMap::new();
        for (c, d, r) in rows {
            m.entry(c).or_default().push((d, r));
        }
        for v in m.values_mut() {
            v.sort_unstable();
        }
        Rates(m)
    }

    /// USD per unit × 10⁹ of `currency` on `day` (USD is 10⁹).
    fn rate(&self, currency: &str, day: NaiveDate) -> Option<i64> {
        if currency == "USD" {
            return Some(1_000_000_000);
        }
        let v = self.0.get(currency)?;
        let i = v.partition_point(|(d, _)| *d <= day);
        (i > 0).then(|| v[i - 1].1)
    }

    /// `micros` of `from` in micros of `to` on `day`, rounded half to even;
    /// `None` without a rate.
    pub fn convert(&self, micros: i64, from: &str, to: &str, day: NaiveDate) -> Option<i64> {
        if from == to {
            return Some(micros);
        }
        let num = micros as i128 * self.rate(from, day)? as i128;
        let den = self.rate(to, day)? as i128;
        let q = num.div_euclid(den);
        let r = num.rem_euclid(den);
        let q = match (2 * r).cmp(&den) {
            std::cmp::Ordering::Greater => q + 1,
            std::cmp::Ordering::Equal if q % 2 != 0 => q + 1,
            _ => q,
        };
        i64::try_from(q).ok()
    }
}

/// One line of a rates file.
#[derive(Debug, PartialEq, Eq)]
pub struct RateLine {
    pub currency: String,
    pub day: NaiveDate,
    pub usd_per_unit_e9: i64,
}

/// Read `date,currency,usd_per_unit` lines (a header first); a line that
/// does not read is an error naming it, and nothing is loaded.
pub fn parse(text: &str) -> Result<Vec<RateLine>, String> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate().skip(1) {
        let n = i + 1;
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let f: Vec<&str> = line.split(',').map(str::trim).collect();
        let [date, currency, rate] = f[..] else {
            return Err(format!("line {n}: expected date,currency,usd_per_unit"));
        };
        let day = NaiveDate::parse_from_str(date, "%Y-%m-%d")
            .map_err(|_| format!("line {n}: {date} is not a date (YYYY-MM-DD)"))?;
        let currency = currency.to_ascii_uppercase();
        if currency.len() != 3 || !currency.chars().all(|c| c.is_ascii_alphabetic()) {
            return Err(format!("line {n}: {currency} is not an ISO 4217 code"));
        }
        let usd_per_unit_e9 = e9(rate).filter(|r| *r > 0).ok_or_else(|| {
            format!("line {n}: {rate} is not a positive rate (US dollars per unit)")
        })?;
        out.push(RateLine {
            currency,
            day,
            usd_per_unit_e9,
        });
    }
    Ok(out)
}

/// A decimal as an integer × 10⁹ (at most nine decimals).
fn e9(text: &str) -> Option<i64> {
    let (int, frac) = text.split_once('.').unwrap_or((text, ""));
    if int.is_empty()
        || frac.len() > 9
        || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let mut v: i64 = int.parse::<i64>().ok()?.checked_mul(1_000_000_000)?;
    let mut scale = 100_000_000;
    for b in frac.bytes() {
        v = v.checked_add((b - b'0') as i64 * scale)?;
        scale /= 10;
    }
    Some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn amounts_convert_at_the_rate_of_their_day_through_dollars() {
        let lines = parse("date,currency,usd_per_unit\n2026-10-01,EUR,1.08\n2026-11-01,eur,1.10\n2026-10-01,GBP,1.25\n").unwrap();
        let rates = Rates::new(
            lines
                .into_iter()
                .map(|l| (l.currency, l.day, l.usd_per_unit_e9))
                .collect(),
        );
        // 100 EUR in October: 108 USD; in November: 110 USD.
        assert_eq!(
            rates.convert(100_000_000, "EUR", "USD", d("2026-10-15")),
            Some(108_000_000)
        );
        assert_eq!(
            rates.convert(100_000_000, "EUR", "USD", d("2026-11-02")),
            Some(110_000_000)
        );
        // 100 EUR in GBP in October: 108 / 1.25 = 86.4 GBP.
        assert_eq!(
            rates.convert(100_000_000, "EUR", "GBP", d("2026-10-02")),
            Some(86_400_000)
        );
        // Before the first rate, or a currency without one: not converted.
        assert_eq!(rates.convert(1, "EUR", "USD", d("2026-09-30")), None);
        assert_eq!(rates.convert(1, "JPY", "USD", d("2026-10-30")), None);
        assert_eq!(rates.convert(5, "JPY", "JPY", d("2026-10-30")), Some(5));
    }

    #[test]
    fn a_bad_line_is_named() {
        assert!(
            parse("h\n2026-13-01,EUR,1\n")
                .unwrap_err()
                .starts_with("line 2")
        );
        assert!(
            parse("h\n2026-10-01,EURO,1\n")
                .unwrap_err()
                .contains("ISO 4217")
        );
        assert!(
            parse("h\n2026-10-01,EUR,-1\n")
                .unwrap_err()
                .contains("positive")
        );
        assert!(parse("h\n2026-10-01,EUR\n").is_err());
        assert_eq!(e9("0.0067"), Some(6_700_000));
    }
}
