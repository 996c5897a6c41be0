//! An invoice's lines, assembled: for each insertion order of the
//! advertiser, the postings on this month's invoice — its own month's
//! line and the adjustments of closed months — and, under the month's line,
//! one detail line per campaign sharing its billed amount.
//!
//! The total is the sum of the order lines (and manual lines, added by
//! finance); detail lines are shares of their order line and sum to it
//! exactly (largest remainders, [`allocate`]), so they never count twice.

use serde::Serialize;

use crate::ledger::{Kind, Posting};
use crate::pricing::{Delivered, Month, Pricing, Terms, price};

/// An insertion order's part of an invoice: its terms, its campaigns'
/// delivery in the month, and its postings on this invoice.
#[derive(Debug, Clone)]
pub struct OrderPart<Id> {
    pub order: Id,
    pub terms: Terms,
    pub campaigns: Vec<(Id, Delivered)>,
    pub postings: Vec<Posting>,
}

/// What a line is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LineKind {
    /// An insertion order's delivery in the invoice's month.
    Delivery,
    /// A closed month's late delivery (`corrects`).
    Adjustment,
    /// A campaign's share of its order's delivery line (not in the total).
    Detail,
    /// Added by finance (a credit or a charge).
    Manual,
}

/// One line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Line<Id> {
    pub kind: LineKind,
    pub order: Id,
    /// For a detail line.
    pub campaign: Option<Id>,
    /// For an adjustment: the month it corrects.
    pub corrects: Option<Month>,
    pub units: i64,
    pub amount_micros: i64,
    pub over_delivery_micros: i64,
}

/// The lines of `month`'s invoice from its orders' parts, and its total.
pub fn lines<Id: Clone>(month: Month, parts: &[OrderPart<Id>]) -> (Vec<Line<Id>>, i64) {
    let mut out = Vec::new();
    let mut total = 0i64;
    for part in parts {
        for p in &part.postings {
            let kind = match p.kind {
                Kind::Delivery if p.month == month => LineKind::Delivery,
                Kind::Delivery => continue,
                Kind::Adjustment => LineKind::Adjustment,
            };
            total += p.billed_micros;
            out.push(Line {
                kind,
                order: part.order.clone(),
                campaign: None,
                corrects: (kind == LineKind::Adjustment).then_some(p.month),
                units: p.priced.units,
                amount_micros: p.billed_micros,
                over_delivery_micros: p.over_delivery_micros,
            });
            if kind == LineKind::Delivery && !part.campaigns.is_empty() {
                out.extend(detail(month, part, p));
            }
        }
    }
    (out, total)
}

/// The campaigns' shares of an order's delivery line: by what each
/// campaign's delivery prices at (a flat fee: by impressions), evenly when
/// none prices at anything.
fn detail<Id: Clone>(month: Month, part: &OrderPart<Id>, line: &Posting) -> Vec<Line<Id>> {
    let weight = |d: &Delivered| match part.terms.pricing {
        Pricing::FlatFee { .. } => d.impressions,
        _ => price(&part.terms, month, *d).amount_micros,
    };
    let weights: Vec<i64> = part.campaigns.iter().map(|(_, d)| weight(d)).collect();
    // In whole minor units when the line is (as priced lines are).
    let unit = part.terms.unit_micros.max(1);
    let share = |amount: i64| {
        if amount % unit == 0 {
            allocate(amount / unit, &weights)
                .into_iter()
                .map(|a| a * unit)
                .collect()
        } else {
            allocate(amount, &weights)
        }
    };
    let billed = share(line.billed_micros);
    let over = share(line.over_delivery_micros);
    part.campaigns
        .iter()
        .zip(billed.into_iter().zip(over))
        .map(|((c, d), (amount, over))| Line {
            kind: LineKind::Detail,
            order: part.order.clone(),
            campaign: Some(c.clone()),
            corrects: None,
            units: match part.terms.pricing {
                Pricing::Cpm { .. } | Pricing::FlatFee { .. } => d.impressions,
                Pricing::Cpc { .. } => d.clicks,
                Pricing::CostPlus { .. } => d.cost_micros,
            },
            amount_micros: amount,
            over_delivery_micros: over,
        })
        .collect()
}

/// `amount` shared by non-negative integer `weights` in whole micros that
/// sum to it exactly: each share the floor of its exact part, the micros
/// left one each to the largest remainders (the earlier on a tie); evenly
/// when the weights are all zero. A negative amount is shared as its
/// magnitude, negated.
pub fn allocate(amount: i64, weights: &[i64]) -> Vec<i64> {
    if weights.is_empty() {
        return Vec::new();
    }
    let w: Vec<i128> = weights.iter().map(|w| i128::from((*w).max(0))).collect();
    let total: i128 = w.iter().sum();
    let (w, total) = if total == 0 {
        (vec![1; w.len()], w.len() as i128)
    } else {
        (w, total)
    };
    let magnitude = i128::from(amount).abs();
    let mut parts: Vec<i128> = w.iter().map(|x| magnitude * x / total).collect();
    let mut order: Vec<usize> = (0..w.len()).collect();
    order.sort_by_key(|i| (std::cmp::Reverse(magnitude * w[*i] % total), *i));
    let left = magnitude - parts.iter().sum::<i128>();
    for i in order.into_iter().take(left as usize) {
        parts[i] += 1;
    }
    parts
        .into_iter()
        .map(|p| if amount < 0 { -(p as i64) } else { p as i64 })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::{Book, postings};
    use chrono::NaiveDate;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    #[test]
    fn allocate_gives_the_left_micros_to_the_largest_remainders() {
        assert_eq!(allocate(100, &[1, 1, 1]), [34, 33, 33]);
        assert_eq!(allocate(-100, &[1, 1, 1]), [-34, -33, -33]);
        assert_eq!(allocate(10, &[0, 0]), [5, 5]);
        assert_eq!(allocate(7, &[3, 0, 1]), [5, 0, 2]);
        assert!(allocate(7, &[]).is_empty());
    }

    fn m(s: &str) -> Month {
        Month::parse(s).unwrap()
    }

    #[test]
    fn an_invoice_has_order_lines_adjustments_and_campaign_detail() {
        let terms = Terms {
            pricing: Pricing::Cpm {
                rate_micros: 7_000_000,
            },
            budget_micros: 1_000_000_000,
            start: NaiveDate::from_ymd_opt(2026, 10, 1).unwrap(),
            end: NaiveDate::from_ymd_opt(2026, 11, 30).unwrap(),
            unit_micros: 10_000,
        };
        let delivered = |i| Delivered {
            impressions: i,
            ..Delivered::default()
        };
        let months: BTreeMap<Month, Delivered> = [
            (m("2026-10"), delivered(1_000)),
            (m("2026-11"), delivered(3_001)),
        ]
        .into();
        let mut book = Book::default();
        book.posted.insert(
            m("2026-10"),
            crate::pricing::Priced {
                units: 900,
                amount_micros: 6_300_000,
            },
        );
        book.billed_micros = 6_300_000;
        let p = postings(&terms, &months, &book, &[m("2026-11")]);
        let part = OrderPart {
            order: "io",
            terms,
            campaigns: vec![("a", delivered(1_000)), ("b", delivered(2_001))],
            postings: p,
        };
        let (lines, total) = lines(m("2026-11"), &[part]);
        let kinds: Vec<(LineKind, Option<&str>, i64)> = lines
            .iter()
            .map(|l| (l.kind, l.campaign, l.amount_micros))
            .collect();
        // October's 100 late impressions ($0.70); November's 3,001
        // ($21.007, billed $21.01), shared by what each campaign prices at
        // ($7.00 and $14.01), in cents.
        assert_eq!(
            kinds,
            [
                (LineKind::Adjustment, None, 700_000),
                (LineKind::Delivery, None, 21_010_000),
                (LineKind::Detail, Some("a"), 7_000_000),
                (LineKind::Detail, Some("b"), 14_010_000),
            ]
        );
        assert_eq!(lines[0].corrects, Some(m("2026-10")));
        assert_eq!(total, 21_710_000);
    }

    proptest! {
        /// An invoice's total is the sum of its order lines, and each order
        /// line's campaign detail sums to it, to the micro.
        #[test]
        fn totals_equal_their_lines_and_detail_sums_to_its_line(
            rate in 0i64..100_000_000,
            budget in 1i64..10_000_000_000,
            campaigns in proptest::collection::vec((0i64..5_000_000, 0i64..5_000), 1..6),
            model in 0usize..4,
        ) {
            let terms = Terms {
                pricing: match model {
                    0 => Pricing::Cpm { rate_micros: rate },
                    1 => Pricing::Cpc { rate_micros: rate },
                    2 => Pricing::FlatFee { fee_micros: rate * 1000 },
                    _ => Pricing::CostPlus { markup_micro_percent: rate },
                },
                budget_micros: budget,
                start: NaiveDate::from_ymd_opt(2026, 11, 10).unwrap(),
                end: NaiveDate::from_ymd_opt(2027, 1, 20).unwrap(),
                unit_micros: 10_000,
            };
            let campaigns: Vec<(usize, Delivered)> = campaigns.iter().enumerate()
                .map(|(i, (imps, clicks))| (i, Delivered { impressions: *imps, clicks: *clicks, cost_micros: imps * 1_500 }))
                .collect();
            let month = m("2026-12");
            let total = campaigns.iter().fold(Delivered::default(), |a, (_, d)| a + *d);
            let p = postings(&terms, &[(month, total)].into(), &Book::default(), &[month]);
            let (lines, sum) = lines(month, &[OrderPart { order: 0usize, terms, campaigns, postings: p }]);
            let order_lines: i64 = lines.iter().filter(|l| l.kind != LineKind::Detail).map(|l| l.amount_micros).sum();
            prop_assert_eq!(sum, order_lines);
            let detail: i64 = lines.iter().filter(|l| l.kind == LineKind::Detail).map(|l| l.amount_micros).sum();
            prop_assert_eq!(detail, lines[0].amount_micros);
            let detail_over: i64 = lines.iter().filter(|l| l.kind == LineKind::Detail).map(|l| l.over_delivery_micros).sum();
            prop_assert_eq!(detail_over, lines[0].over_delivery_micros);
        }
    }
}
