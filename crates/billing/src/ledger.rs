//! An insertion order's months, billed in order and never above its
//! budget.
//!
//! Every amount that reaches an invoice is a *posting*: a month's own line
//! (its delivery priced), or an adjustment (a closed month's delivery priced
//! again after late data, less what was posted for it before, on the next
//! open month's invoice with a reference to the month it corrects).
//! Postings are billed in the order they reach invoices by the cumulative
//! cap: after a posting, the order has billed `min(priced so far, budget)`
//! in all; the posting bills the difference from what was billed before it
//! and the rest of its priced amount is over-delivery ("delivered, not
//! billable"). So, to the micro and whatever the order of late data:
//! billed + over-delivery = priced delivery, per posting and in total, and
//! the billed total never passes the budget (a budget lowered below what
//! was billed is given back by the next posting, as a credit).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::pricing::{Delivered, Month, Priced, Terms, price};

/// What a posting is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// The month's own delivery.
    Delivery,
    /// Late delivery of a closed month (`Posting::month`).
    Adjustment,
}

/// One amount on an invoice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Posting {
    pub kind: Kind,
    /// The month whose delivery it prices (for an adjustment, the closed
    /// month it corrects).
    pub month: Month,
    /// Units and amount priced (an adjustment's: the change, either sign).
    pub priced: Priced,
    pub billed_micros: i64,
    /// Priced but over the budget: shown, not billed.
    pub over_delivery_micros: i64,
}

/// What closed (issued) invoices already hold for the order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Book {
    /// Per closed month, what was priced for it in all (its line and the
    /// adjustments since): units and micros.
    pub posted: BTreeMap<Month, Priced>,
    /// Everything billed so far, and priced over the budget.
    pub billed_micros: i64,
    pub over_delivery_micros: i64,
}

impl Book {
    fn priced_micros(&self) -> i64 {
        self.posted.values().map(|p| p.amount_micros).sum()
    }
}

/// The postings of the next invoices: first the adjustments of closed
/// months whose delivery (`delivered`, as known now) prices differently
/// from what was posted, then each open month's own line, in month order.
/// `open` are the months not closed yet, the adjustments going on the first
/// of them.
pub fn postings(
    terms: &Terms,
    delivered: &BTreeMap<Month, Delivered>,
    book: &Book,
    open: &[Month],
) -> Vec<Posting> {
    let mut drafts: Vec<(Kind, Month, Priced)> = Vec::new();
    for (month, posted) in &book.posted {
        let now = price(
            terms,
            *month,
            delivered.get(month).copied().unwrap_or_default(),
        );
        let change = Priced {
            units: now.units - posted.units,
            amount_micros: now.amount_micros - posted.amount_micros,
        };
        if change
            != (Priced {
                units: 0,
                amount_micros: 0,
            })
        {
            drafts.push((Kind::Adjustment, *month, change));
        }
    }
    let mut open = open.to_vec();
    open.sort_unstable();
    open.dedup();
    for month in open {
        let p = price(
            terms,
            month,
            delivered.get(&month).copied().unwrap_or_default(),
        );
        drafts.push((Kind::Delivery, month, p));
    }
    let cap = |priced: i64| priced.clamp(0, terms.budget_micros.max(0));
    let (mut priced, mut billed) = (book.priced_micros(), book.billed_micros);
    drafts
        .into_iter()
        .map(|(kind, month, p)| {
            priced += p.amount_micros;
            let bill = cap(priced) - billed;
            billed += bill;
            Posting {
                kind,
                month,
                priced: p,
                billed_micros: bill,
                over_delivery_micros: p.amount_micros - bill,
            }
        })
        .collect()
}

/// `book` after closing the postings of `month`'s invoice (its own line,
/// and the adjustments it carries).
pub fn close(book: &mut Book, month: Month, postings: &[Posting]) {
    for p in postings {
        let on_this_invoice = match p.kind {
            Kind::Delivery => p.month == month,
            Kind::Adjustment => true,
        };
        if !on_this_invoice {
            continue;
        }
        let posted = book.posted.entry(p.month).or_insert(Priced {
            units: 0,
            amount_micros: 0,
        });
        posted.units += p.priced.units;
        posted.amount_micros += p.priced.amount_micros;
        book.billed_micros += p.billed_micros;
        book.over_delivery_micros += p.over_delivery_micros;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pricing::Pricing;
    use chrono::NaiveDate;
    use proptest::prelude::*;

    fn m(s: &str) -> Month {
        Month::parse(s).unwrap()
    }

    fn cpm(budget: i64) -> Terms {
        Terms {
            pricing: Pricing::Cpm {
                rate_micros: 10_000_000,
            },
            budget_micros: budget,
            start: NaiveDate::from_ymd_opt(2026, 10, 15).unwrap(),
            end: NaiveDate::from_ymd_opt(2026, 12, 15).unwrap(),
            unit_micros: 10_000,
        }
    }

    fn imps(n: i64) -> Delivered {
        Delivered {
            impressions: n,
            ..Delivered::default()
        }
    }

    fn amounts(p: &[Posting]) -> Vec<(Kind, String, i64, i64, i64)> {
        p.iter()
            .map(|p| {
                (
                    p.kind,
                    p.month.to_string(),
                    p.priced.amount_micros,
                    p.billed_micros,
                    p.over_delivery_micros,
                )
            })
            .collect()
    }

    #[test]
    fn the_budget_caps_what_is_billed_across_months_and_the_rest_is_shown() {
        // $10 CPM, budget $25: October 1,000 impressions ($10), November
        // 1,200 ($12), December 800 ($8): December bills $3, $5 over.
        let t = cpm(25_000_000);
        let delivered: BTreeMap<Month, Delivered> = [
            (m("2026-10"), imps(1_000)),
            (m("2026-11"), imps(1_200)),
            (m("2026-12"), imps(800)),
        ]
        .into();
        let mut book = Book::default();
        let p = postings(&t, &delivered, &book, &[m("2026-10"), m("2026-11")]);
        assert_eq!(
            amounts(&p),
            [
                (Kind::Delivery, "2026-10".into(), 10_000_000, 10_000_000, 0),
                (Kind::Delivery, "2026-11".into(), 12_000_000, 12_000_000, 0),
            ]
        );
        close(&mut book, m("2026-10"), &p);
        close(&mut book, m("2026-11"), &p);
        let p = postings(&t, &delivered, &book, &[m("2026-12")]);
        assert_eq!(
            amounts(&p),
            [(
                Kind::Delivery,
                "2026-12".into(),
                8_000_000,
                3_000_000,
                5_000_000
            )]
        );
        close(&mut book, m("2026-12"), &p);
        assert_eq!(
            (book.billed_micros, book.over_delivery_micros),
            (25_000_000, 5_000_000)
        );
    }

    #[test]
    fn late_data_for_a_closed_month_is_an_adjustment_on_the_next_open_one() {
        let t = cpm(1_000_000_000);
        let mut delivered: BTreeMap<Month, Delivered> =
            [(m("2026-10"), imps(1_000)), (m("2026-11"), imps(500))].into();
        let mut book = Book::default();
        let p = postings(&t, &delivered, &book, &[m("2026-10")]);
        close(&mut book, m("2026-10"), &p);
        // 300 more October impressions arrive after October closed; then
        // 100 of them are taken back.
        delivered.insert(m("2026-10"), imps(1_300));
        let p = postings(&t, &delivered, &book, &[m("2026-11"), m("2026-12")]);
        assert_eq!(
            amounts(&p),
            [
                (Kind::Adjustment, "2026-10".into(), 3_000_000, 3_000_000, 0),
                (Kind::Delivery, "2026-11".into(), 5_000_000, 5_000_000, 0),
                (Kind::Delivery, "2026-12".into(), 0, 0, 0),
            ]
        );
        assert_eq!(p[0].priced.units, 300);
        close(&mut book, m("2026-11"), &p);
        assert_eq!(book.posted[&m("2026-10")].units, 1_300);
        delivered.insert(m("2026-10"), imps(1_200));
        let p = postings(&t, &delivered, &book, &[m("2026-12")]);
        assert_eq!(
            amounts(&p)[0],
            (
                Kind::Adjustment,
                "2026-10".into(),
                -1_000_000,
                -1_000_000,
                0
            ),
            "a credit"
        );
        // Nothing changed: no adjustment.
        close(&mut book, m("2026-12"), &p);
        assert!(
            postings(&t, &delivered, &book, &[m("2027-01")])
                .iter()
                .all(|p| p.kind == Kind::Delivery)
        );
    }

    #[test]
    fn a_budget_lowered_below_what_was_billed_is_given_back() {
        let mut t = cpm(100_000_000);
        let delivered: BTreeMap<Month, Delivered> =
            [(m("2026-10"), imps(3_000)), (m("2026-11"), imps(1_000))].into();
        let mut book = Book::default();
        let p = postings(&t, &delivered, &book, &[m("2026-10")]);
        close(&mut book, m("2026-10"), &p);
        assert_eq!(book.billed_micros, 30_000_000);
        t.budget_micros = 25_000_000;
        let p = postings(&t, &delivered, &book, &[m("2026-11")]);
        // November's $10 bills -$5: the order has billed its $25.
        assert_eq!(
            amounts(&p),
            [(
                Kind::Delivery,
                "2026-11".into(),
                10_000_000,
                -5_000_000,
                15_000_000
            )]
        );
    }

    proptest! {
        /// For random delivery (late data included) and terms: billed +
        /// over-delivery = priced, per posting and in total, to the micro;
        /// what is billed never passes the budget nor goes below zero.
        #[test]
        fn billed_and_over_delivery_add_up_to_the_priced_delivery(
            model in 0usize..4,
            rate in 0i64..50_000_000,
            budget in 1i64..5_000_000_000,
            start in 0i64..60,
            days in 1i64..120,
            steps in proptest::collection::vec((0usize..6, 0i64..2_000_000, 0i64..2_000, 0i64..3_000_000_000, any::<bool>()), 1..40),
        ) {
            let start = NaiveDate::from_ymd_opt(2026, 9, 1).unwrap() + chrono::Duration::days(start);
            let t = Terms {
                pricing: match model {
                    0 => Pricing::Cpm { rate_micros: rate },
                    1 => Pricing::Cpc { rate_micros: rate },
                    2 => Pricing::FlatFee { fee_micros: rate * 100 },
                    _ => Pricing::CostPlus { markup_micro_percent: rate },
                },
                budget_micros: budget,
                start,
                end: start + chrono::Duration::days(days),
                unit_micros: 10_000,
            };
            let months: Vec<Month> = {
                let mut v = vec![Month::of(t.start)];
                while *v.last().unwrap() < Month::of(t.end) { let n = v.last().unwrap().next(); v.push(n); }
                v.push(v.last().unwrap().next());
                v
            };
            let mut delivered: BTreeMap<Month, Delivered> = BTreeMap::new();
            let mut book = Book::default();
            let mut next_open = 0usize;
            for (month, i, c, cost, close_one) in steps {
                // Delivery (or a restatement) for any month of the flight,
                // closed or not.
                let month = months[month % months.len()];
                let e = delivered.entry(month).or_default();
                e.impressions = (e.impressions + i - 500_000).max(0);
                e.clicks = (e.clicks + c - 500).max(0);
                e.cost_micros = (e.cost_micros + cost - 1_000_000_000).max(0);
                let open = &months[next_open.min(months.len() - 1)..];
                let p = postings(&t, &delivered, &book, open);
                let mut billed = book.billed_micros;
                for x in &p {
                    prop_assert_eq!(x.billed_micros + x.over_delivery_micros, x.priced.amount_micros);
                    prop_assert_eq!(x.priced.amount_micros % 10_000, 0, "whole cents");
                    billed += x.billed_micros;
                    prop_assert!((0..=budget).contains(&billed), "billed to date {billed} of {budget}");
                }
                if close_one && next_open < months.len() - 1 {
                    close(&mut book, months[next_open], &p);
                    next_open += 1;
                }
            }
            // Close everything, the last month carrying the adjustments.
            while next_open < months.len() {
                let p = postings(&t, &delivered, &book, &months[next_open..]);
                close(&mut book, months[next_open], &p);
                next_open += 1;
            }
            let priced: i64 = months.iter()
                .map(|m| price(&t, *m, delivered.get(m).copied().unwrap_or_default()).amount_micros)
                .sum();
            prop_assert_eq!(book.billed_micros + book.over_delivery_micros, priced);
            prop_assert_eq!(book.billed_micros, priced.min(budget));
        }
    }
}
