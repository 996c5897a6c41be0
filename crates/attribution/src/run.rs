//! One attribution run over a window: every opportunity that converts in
//! it (created, for pipeline; won, for revenue) credited to the campaigns
//! that touched its account within the lookback, under every model, in
//! whole micros that sum to its amount; campaign totals; what could not be
//! attributed. Pure: the caller reads the opportunities and touches.

use std::collections::{BTreeMap, HashMap};

use chrono::{Duration, NaiveDate};
use uuid::Uuid;

use crate::markov::{self, Path};
use crate::models::{self, Model, Moment, Touch};

/// An opportunity as a run needs it, its amount in the report's currency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opp {
    pub id: String,
    /// The company its account matched.
    pub company: Option<String>,
    /// Micros of the report's currency; `None` when it has no amount.
    pub amount: Option<i64>,
    pub created: NaiveDate,
    /// The close date of a won opportunity.
    pub won: Option<NaiveDate>,
}

/// Pipeline (opportunities created) or revenue (opportunities won).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Pipeline,
    Revenue,
}

impl Opp {
    /// The day it converts for `kind`, if it does.
    pub fn converts(&self, kind: Kind) -> Option<NaiveDate> {
        match kind {
            Kind::Pipeline => Some(self.created),
            Kind::Revenue => self.won,
        }
    }
}

/// How a run counts.
#[derive(Debug, Clone, Copy)]
pub struct Rules {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub lookback_days: i64,
    pub half_life_days: f64,
}

/// The touches that count for a conversion on `day`: those within the
/// lookback up to and including the day.
pub fn window(touches: &[Touch], day: NaiveDate, lookback_days: i64) -> &[Touch] {
    let start = day - Duration::days(lookback_days);
    let lo = touches.partition_point(|t| t.day < start);
    let hi = touches.partition_point(|t| t.day <= day);
    &touches[lo..hi.max(lo)]
}

/// What a run found for one kind.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Outcome {
    /// (model, campaign) -> micros credited.
    pub credits: HashMap<(Model, Uuid), i64>,
    /// campaign -> micros of the converting opportunities it touched
    /// (pipeline: "influenced").
    pub influenced: HashMap<Uuid, i64>,
    /// Opportunities credited, and the sum of their amounts.
    pub attributed: u64,
    pub attributed_micros: i64,
    /// Converting opportunities with no touch (or no matched company).
    pub unattributed: u64,
    pub unattributed_micros: i64,
    /// The Markov chain's removal effects (campaign -> effect), empty when
    /// nothing converted.
    pub removal_effects: BTreeMap<Uuid, f64>,
}

/// Credit every opportunity converting (for `kind`) in the window.
/// `touches` maps a company to its touches in time order (day, then
/// campaign), covering at least `[from − lookback, to]`.
pub fn run(
    opps: &[Opp],
    touches: &HashMap<String, Vec<Touch>>,
    kind: Kind,
    rules: Rules,
) -> Outcome {
    let mut out = Outcome::default();
    let converting = converting(opps, touches, kind, rules);
    let paths = journeys(&converting, touches, rules);
    let effects = markov::removal_effects(&paths)
        .map(|r| r.effect)
        .unwrap_or_default();
    out.removal_effects = effects.iter().map(|(k, v)| (*k, *v)).collect();

    for (o, day, amount, t) in &converting {
        if t.is_empty() {
            out.unattributed += 1;
            out.unattributed_micros += amount;
            continue;
        }
        out.attributed += 1;
        out.attributed_micros += amount;
        let at = Moment {
            converted: *day,
            created: o.created,
            half_life_days: rules.half_life_days,
        };
        // Summed per campaign of this opportunity first (a few campaigns,
        // found by a short scan), then added to the totals once each.
        let mut mine: Vec<(Uuid, [i64; 7])> = Vec::new();
        for (m, (_, parts)) in credits(t, at, *amount, &effects).into_iter().enumerate() {
            for (touch, micros) in t.iter().zip(parts) {
                match mine.iter_mut().find(|(c, _)| *c == touch.campaign_id) {
                    Some((_, sums)) => sums[m] += micros,
                    None => {
                        let mut sums = [0; 7];
                        sums[m] = micros;
                        mine.push((touch.campaign_id, sums));
                    }
                }
            }
        }
        for (c, sums) in mine {
            for (m, micros) in Model::ALL.into_iter().zip(sums) {
                *out.credits.entry((m, c)).or_default() += micros;
            }
            *out.influenced.entry(c).or_default() += amount;
        }
    }
    out
}

/// A converting opportunity: when, its amount, its touches.
type Converting<'a> = (&'a Opp, NaiveDate, i64, &'a [Touch]);

/// The opportunities converting (for `kind`) in the window, with their touches.
fn converting<'a>(
    opps: &'a [Opp],
    touches: &'a HashMap<String, Vec<Touch>>,
    kind: Kind,
    rules: Rules,
) -> Vec<Converting<'a>> {
    opps.iter()
        .filter_map(|o| {
            let day = o
                .converts(kind)
                .filter(|d| *d >= rules.from && *d <= rules.to)?;
            let amount = o.amount.unwrap_or(0);
            let t = o
                .company
                .as_ref()
                .and_then(|c| touches.get(c))
                .map(|t| window(t, day, rules.lookback_days))
                .unwrap_or(&[]);
            Some((o, day, amount, t))
        })
        .collect()
}

/// The removal effects of the window's Markov chain alone (what
/// explaining one opportunity needs of the others).
pub fn removal_effects(
    opps: &[Opp],
    touches: &HashMap<String, Vec<Touch>>,
    kind: Kind,
    rules: Rules,
) -> HashMap<Uuid, f64> {
    markov::removal_effects(&journeys_of(opps, touches, kind, rules))
        .map(|r| r.effect)
        .unwrap_or_default()
}

/// The journeys a run's Markov chain is made of (for comparing it with
/// other implementations).
pub fn journeys_of(
    opps: &[Opp],
    touches: &HashMap<String, Vec<Touch>>,
    kind: Kind,
    rules: Rules,
) -> Vec<Path<Uuid>> {
    journeys(&converting(opps, touches, kind, rules), touches, rules)
}

/// The Markov chain's journeys: each converting opportunity's touches
/// (ending in conversion), and the touches in the window of every company
/// reached that did not convert (ending in nothing).
fn journeys(
    converting: &[Converting<'_>],
    touches: &HashMap<String, Vec<Touch>>,
    rules: Rules,
) -> Vec<Path<Uuid>> {
    let converted: std::collections::HashSet<&str> = converting
        .iter()
        .filter(|(_, _, _, t)| !t.is_empty())
        .filter_map(|(o, _, _, _)| o.company.as_deref())
        .collect();
    let mut paths: Vec<Path<Uuid>> = converting
        .iter()
        .filter(|(_, _, _, t)| !t.is_empty())
        .map(|(_, _, _, t)| Path {
            steps: t.iter().map(|x| x.campaign_id).collect(),
            conversions: 1,
            nulls: 0,
        })
        .collect();
    let days = (rules.to - rules.from).num_days() + rules.lookback_days;
    for (company, t) in touches {
        if converted.contains(company.as_str()) {
            continue;
        }
        let t = window(t, rules.to, days);
        if !t.is_empty() {
            paths.push(Path {
                steps: t.iter().map(|x| x.campaign_id).collect(),
                conversions: 0,
                nulls: 1,
            });
        }
    }
    paths
}

/// Every model's credit of each touch, in micros summing to `amount`
/// (`at`: when the opportunity converted and was created, the half-life).
pub fn credits(
    touches: &[Touch],
    at: Moment,
    amount: i64,
    effects: &HashMap<Uuid, f64>,
) -> Vec<(Model, Vec<i64>)> {
    Model::ALL
        .into_iter()
        .map(|model| {
            let w = if model == Model::Markov {
                models::markov_weights(touches, |c| effects.get(&c).copied().unwrap_or(0.0))
            } else {
                models::weights(model, touches, at)
            };
            (model, models::split(amount, &w))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn d(n: i64) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 1, 1).unwrap() + Duration::days(n)
    }

    fn touch(c: u128, day: i64) -> Touch {
        Touch {
            campaign_id: Uuid::from_u128(c),
            day: d(day),
            impressions: 5,
            clicks: 0,
        }
    }

    #[test]
    fn the_window_is_the_lookback_up_to_the_day() {
        let t = [touch(1, 0), touch(1, 10), touch(2, 20), touch(1, 30)];
        assert_eq!(window(&t, d(20), 10), &t[1..3]);
        assert_eq!(window(&t, d(9), 5), &[] as &[Touch]);
        assert_eq!(window(&t, d(100), 1000), &t[..]);
    }

    proptest! {
        /// For random worlds: every model's campaign totals sum to the
        /// attributed amount exactly, attributed + unattributed is every
        /// converting opportunity's amount, and no credit is negative.
        #[test]
        fn campaign_totals_reconcile_to_the_micro(
            companies in proptest::collection::vec(proptest::collection::vec((1u128..6, 0i64..120), 0..12), 1..8),
            opps in proptest::collection::vec((0usize..10, 0i64..120, proptest::option::of(0i64..120), 0i64..5_000_000_000_000), 1..30),
            lookback in 1i64..100,
        ) {
            let mut touches = HashMap::new();
            for (i, ts) in companies.iter().enumerate() {
                let mut v: Vec<Touch> = ts.iter().map(|(c, day)| touch(*c, *day)).collect();
                v.sort_by_key(|t| (t.day, t.campaign_id));
                v.dedup_by_key(|t| (t.day, t.campaign_id));
                touches.insert(format!("c{i}.example"), v);
            }
            let opps: Vec<Opp> = opps.iter().enumerate().map(|(i, (company, created, won, amount))| Opp {
                id: format!("006{i}"),
                company: Some(format!("c{company}.example")),
                amount: Some(*amount),
                created: d(*created),
                won: won.map(|w| d(w.max(*created))),
            }).collect();
            let rules = Rules { from: d(30), to: d(90), lookback_days: lookback, half_life_days: 7.0 };
            for kind in [Kind::Pipeline, Kind::Revenue] {
                let out = run(&opps, &touches, kind, rules);
                let converting: i64 = opps.iter()
                    .filter(|o| o.converts(kind).is_some_and(|day| day >= rules.from && day <= rules.to))
                    .map(|o| o.amount.unwrap_or(0)).sum();
                prop_assert_eq!(out.attributed_micros + out.unattributed_micros, converting);
                for model in Model::ALL {
                    let total: i64 = out.credits.iter().filter(|((m, _), _)| *m == model).map(|(_, v)| *v).sum();
                    prop_assert_eq!(total, out.attributed_micros, "{:?} {:?}", kind, model);
                }
                prop_assert!(out.credits.values().all(|v| *v >= 0));
            }
        }
    }
}
