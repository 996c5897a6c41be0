//! One month of an insertion order's delivery, priced.
//!
//! Amounts are micros of the order's currency, and each priced amount is
//! a whole number of the currency's minor unit (a cent is 10,000 micros; a
//! yen, 1,000,000): rounded once, half to even (banker's rounding: half a
//! cent goes to the even neighbour), from exact integer arithmetic — never
//! from floating point — so an invoice line shows exactly what it bills. A flat fee is spread over the flight's days (first and last day
//! included) by its cumulative share: the fee billed through the end of a
//! month is the fee × the flight's days so far / all its days, rounded; a
//! month bills that less what the months before billed, so the months of a
//! flight add up to the fee exactly.

use chrono::{Datelike, Duration, NaiveDate};
use serde::{Deserialize, Serialize};

/// How an insertion order prices delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "model", rename_all = "snake_case")]
pub enum Pricing {
    /// Micros per 1,000 impressions.
    Cpm { rate_micros: i64 },
    /// Micros per click.
    Cpc { rate_micros: i64 },
    /// Micros for the whole flight.
    FlatFee { fee_micros: i64 },
    /// TTD's advertiser cost × (1 + markup), the markup in micro-percent
    /// (15 % is 15,000,000).
    CostPlus { markup_micro_percent: i64 },
}

/// An insertion order's terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Terms {
    pub pricing: Pricing,
    /// The most that may ever be billed, micros.
    pub budget_micros: i64,
    /// The flight, first and last day included.
    pub start: NaiveDate,
    pub end: NaiveDate,
    /// The currency's minor unit in micros ([`minor_unit_micros`]).
    pub unit_micros: i64,
}

/// The minor unit of a currency the platform accepts, in micros (a cent
/// is 10,000; a yen, 1,000,000): from its digits in
/// [`campaigns::money::currency_digits`], two when unknown.
pub fn minor_unit_micros(currency: &str) -> i64 {
    10i64.pow(
        6 - campaigns::money::currency_digits(currency)
            .unwrap_or(2)
            .min(6),
    )
}

/// What was delivered (a month of one campaign, or of all of an order's).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Delivered {
    pub impressions: i64,
    pub clicks: i64,
    /// TTD's advertiser cost, micros of the order's currency.
    pub cost_micros: i64,
}

impl std::ops::Add for Delivered {
    type Output = Delivered;
    fn add(self, o: Delivered) -> Delivered {
        Delivered {
            impressions: self.impressions + o.impressions,
            clicks: self.clicks + o.clicks,
            cost_micros: self.cost_micros + o.cost_micros,
        }
    }
}

/// A calendar month.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Month {
    pub year: i32,
    /// 1 to 12.
    pub month: u32,
}

impl Month {
    pub fn of(d: NaiveDate) -> Month {
        Month {
            year: d.year(),
            month: d.month(),
        }
    }

    /// `YYYY-MM`, or `None`.
    pub fn parse(s: &str) -> Option<Month> {
        let (y, m) = s.split_once('-')?;
        if y.len() != 4 || m.len() != 2 {
            return None;
        }
        let m = Month {
            year: y.parse().ok()?,
            month: m.parse().ok()?,
        };
        NaiveDate::from_ymd_opt(m.year, m.month, 1).map(|_| m)
    }

    pub fn first(self) -> NaiveDate {
        NaiveDate::from_ymd_opt(self.year, self.month, 1).unwrap_or(NaiveDate::MIN)
    }

    pub fn next(self) -> Month {
        if self.month == 12 {
            Month {
                year: self.year + 1,
                month: 1,
            }
        } else {
            Month {
                year: self.year,
                month: self.month + 1,
            }
        }
    }

    pub fn last(self) -> NaiveDate {
        self.next().first() - Duration::days(1)
    }
}

impl Serialize for Month {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl std::fmt::Display for Month {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

/// `n / d` rounded half to even (`d` > 0).
pub fn div_half_even(n: i128, d: i128) -> i128 {
    let q = n.div_euclid(d);
    let r = n.rem_euclid(d);
    match (2 * r).cmp(&d) {
        std::cmp::Ordering::Less => q,
        std::cmp::Ordering::Greater => q + 1,
        std::cmp::Ordering::Equal => q + (q & 1),
    }
}

/// A month's delivery priced: the units the rate applies to (impressions,
/// clicks, flight days or cost micros) and the amount.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Priced {
    pub units: i64,
    pub amount_micros: i64,
}

/// The flight's days up to and including `through` (0 before it starts).
fn flight_days_through(t: &Terms, through: NaiveDate) -> i64 {
    if through < t.start {
        return 0;
    }
    (through.min(t.end) - t.start).num_days() + 1
}

/// What `delivered` in `month` comes to under `terms`, in whole minor
/// units (saturating at the largest amount rather than wrapping).
pub fn price(terms: &Terms, month: Month, delivered: Delivered) -> Priced {
    let unit = i128::from(terms.unit_micros.max(1));
    // numerator / denominator micros, in whole minor units.
    let round = |n: i128, d: i128| {
        (div_half_even(n, d * unit) * unit).clamp(i64::MIN as i128, i64::MAX as i128) as i64
    };
    match terms.pricing {
        Pricing::Cpm { rate_micros } => Priced {
            units: delivered.impressions,
            amount_micros: round(
                i128::from(delivered.impressions) * i128::from(rate_micros),
                1000,
            ),
        },
        Pricing::Cpc { rate_micros } => Priced {
            units: delivered.clicks,
            amount_micros: round(i128::from(delivered.clicks) * i128::from(rate_micros), 1),
        },
        Pricing::FlatFee { fee_micros } => {
            let total = i128::from(flight_days_through(terms, terms.end).max(1));
            let through = |d: NaiveDate| {
                round(
                    i128::from(fee_micros) * i128::from(flight_days_through(terms, d)),
                    total,
                )
            };
            let before = month.first() - Duration::days(1);
            Priced {
                units: flight_days_through(terms, month.last())
                    - flight_days_through(terms, before),
                amount_micros: through(month.last()) - through(before),
            }
        }
        Pricing::CostPlus {
            markup_micro_percent,
        } => Priced {
            units: delivered.cost_micros,
            amount_micros: round(
                i128::from(delivered.cost_micros)
                    * (100_000_000 + i128::from(markup_micro_percent)),
                100_000_000,
            ),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn terms(pricing: Pricing, start: NaiveDate, end: NaiveDate) -> Terms {
        Terms {
            pricing,
            budget_micros: i64::MAX,
            start,
            end,
            unit_micros: 10_000,
        }
    }

    fn m(s: &str) -> Month {
        Month::parse(s).unwrap()
    }

    #[test]
    fn half_even_rounds_ties_to_the_even_neighbour() {
        assert_eq!(div_half_even(5, 2), 2);
        assert_eq!(div_half_even(7, 2), 4);
        assert_eq!(div_half_even(-5, 2), -2);
        assert_eq!(div_half_even(-7, 2), -4);
        assert_eq!(div_half_even(1499, 1000), 1);
        assert_eq!(div_half_even(1501, 1000), 2);
        assert_eq!(div_half_even(2500, 1000), 2);
        assert_eq!(div_half_even(3500, 1000), 4);
    }

    #[test]
    fn months_parse_and_step() {
        assert_eq!(m("2026-12").next(), m("2027-01"));
        assert_eq!(m("2028-02").last(), day(2028, 2, 29));
        assert_eq!(m("2026-02").to_string(), "2026-02");
        for bad in ["2026-13", "2026-1", "26-01", "2026/01", "", "2026-00"] {
            assert_eq!(Month::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn cpm_and_cpc_price_the_units_rounding_once() {
        let t = terms(
            Pricing::Cpm {
                rate_micros: 12_345_678,
            },
            day(2026, 11, 15),
            day(2027, 1, 15),
        );
        let d = Delivered {
            impressions: 1_234_567,
            clicks: 89,
            cost_micros: 0,
        };
        // 1,234,567 × 12,345,678 micros / 1000 = 15,241,566,651.426 micros:
        // 15,241.57, rounded once.
        assert_eq!(
            price(&t, m("2026-11"), d),
            Priced {
                units: 1_234_567,
                amount_micros: 15_241_570_000
            }
        );
        let t = Terms {
            pricing: Pricing::Cpc {
                rate_micros: 2_500_000,
            },
            ..t
        };
        assert_eq!(price(&t, m("2026-12"), d).amount_micros, 222_500_000);
        // A tie: 500 impressions at a cent per mille is half a cent → 0
        // (even); 1,500 is 1.5 cents → 2.
        let t = Terms {
            pricing: Pricing::Cpm {
                rate_micros: 10_000,
            },
            ..t
        };
        let imps = |n| Delivered {
            impressions: n,
            ..Delivered::default()
        };
        assert_eq!(price(&t, m("2026-12"), imps(500)).amount_micros, 0);
        assert_eq!(price(&t, m("2026-12"), imps(1_500)).amount_micros, 20_000);
        assert_eq!(price(&t, m("2026-12"), imps(2_500)).amount_micros, 20_000);
        // A currency without cents rounds to the yen.
        let t = Terms {
            unit_micros: minor_unit_micros("JPY"),
            ..t
        };
        assert_eq!(
            price(&t, m("2026-12"), imps(150_000)).amount_micros,
            2_000_000
        );
    }

    #[test]
    fn a_flat_fee_spreads_over_the_flight_days_and_adds_up_exactly() {
        // Mid-November to mid-January: 16 + 31 + 15 = 62 days.
        let t = terms(
            Pricing::FlatFee {
                fee_micros: 10_000_000_000,
            },
            day(2026, 11, 15),
            day(2027, 1, 15),
        );
        let none = Delivered::default();
        let nov = price(&t, m("2026-11"), none);
        let dec = price(&t, m("2026-12"), none);
        let jan = price(&t, m("2027-01"), none);
        assert_eq!((nov.units, dec.units, jan.units), (16, 31, 15));
        // 10,000 × 16/62 = 2,580.645161… → 2,580.65; through December
        // 10,000 × 47/62 = 7,580.645161… → 7,580.65; January the rest.
        assert_eq!(nov.amount_micros, 2_580_650_000);
        assert_eq!(dec.amount_micros, 5_000_000_000);
        assert_eq!(jan.amount_micros, 2_419_350_000);
        assert_eq!(price(&t, m("2026-10"), none).amount_micros, 0);
        assert_eq!(price(&t, m("2027-02"), none).amount_micros, 0);
        // A flight inside one month bills the whole fee in it.
        let t = terms(
            Pricing::FlatFee {
                fee_micros: 999_990_000,
            },
            day(2026, 11, 3),
            day(2026, 11, 4),
        );
        assert_eq!(price(&t, m("2026-11"), none).amount_micros, 999_990_000);
    }

    #[test]
    fn cost_plus_adds_the_markup_to_the_cost() {
        let t = terms(
            Pricing::CostPlus {
                markup_micro_percent: 15_000_000,
            },
            day(2026, 11, 1),
            day(2026, 11, 30),
        );
        let d = Delivered {
            cost_micros: 1_000_000_001,
            ..Delivered::default()
        };
        // 1,000,000,001 × 1.15 = 1,150,000,001.15 micros → 1,150.00.
        assert_eq!(price(&t, m("2026-11"), d).amount_micros, 1_150_000_000);
        let d = Delivered {
            cost_micros: 1_004_347_826,
            ..Delivered::default()
        };
        // × 1.15 = 1,154,999,999.9 micros → 1,155.00.
        assert_eq!(price(&t, m("2026-11"), d).amount_micros, 1_155_000_000);
    }
}
