//! One attribution run over a window: every opportunity that converts in
//! it (created, for pipeline; won, for revenue) credited to the campaigns
//! that touched its account within the lookback, under every model, in
//! whole micros that sum to its amount; campaign totals; what could not be
//! attributed. Pure: the caller reads the opportunities and touches.

use std::collections::{BTreeMap, HashMap};

use chrono::{Duration, NaiveDate};
use uuid::Uuid;

use crate::markov::{self, Path};
use crate::models::{self, Decay, Model, Moment, SplitScratch, Touch, day_number};

/// One account-day of one campaign as a run reads it: eight bytes, so a
/// million of them stay in the processor's cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Hit {
    /// [`day_number`].
    day: i32,
    /// The campaign's place in [`Touches`]' campaigns.
    campaign: u32,
}

/// A window's touches, each company's in time order (day, then campaign).
#[derive(Debug, Default)]
pub struct Touches {
    /// The campaigns touched, ids sorted: a hit names its campaign by its
    /// place here, so the numbers keep the ids' order.
    campaigns: Vec<Uuid>,
    companies: HashMap<String, Company>,
}

#[derive(Debug, Default)]
struct Company {
    hits: Vec<Hit>,
    /// Impressions and clicks of each hit (what explaining shows).
    counts: Vec<(i64, i64)>,
}

impl Touches {
    /// The table of `touches` (company, touch), in any order.
    pub fn new(touches: impl IntoIterator<Item = (String, Touch)>) -> Touches {
        let mut by: HashMap<String, Vec<Touch>> = HashMap::new();
        for (company, t) in touches {
            by.entry(company).or_default().push(t);
        }
        let mut campaigns: Vec<Uuid> = Vec::new();
        let mut last = None;
        for t in by.values().flatten() {
            if last != Some(t.campaign_id) {
                last = Some(t.campaign_id);
                if let Err(i) = campaigns.binary_search(&t.campaign_id) {
                    campaigns.insert(i, t.campaign_id);
                }
            }
        }
        let companies = by
            .into_iter()
            .map(|(company, mut t)| {
                t.sort_unstable_by_key(|x| (x.day, x.campaign_id));
                let hits = t
                    .iter()
                    .map(|x| Hit {
                        day: day_number(x.day),
                        campaign: campaigns.binary_search(&x.campaign_id).unwrap_or(0) as u32,
                    })
                    .collect();
                let counts = t.iter().map(|x| (x.impressions, x.clicks)).collect();
                (company, Company { hits, counts })
            })
            .collect();
        Touches {
            campaigns,
            companies,
        }
    }

    /// `company`'s touches in time order.
    pub fn of(&self, company: &str) -> Vec<Touch> {
        let Some(c) = self.companies.get(company) else {
            return Vec::new();
        };
        c.hits
            .iter()
            .zip(&c.counts)
            .filter_map(|(h, (impressions, clicks))| {
                Some(Touch {
                    campaign_id: *self.campaigns.get(h.campaign as usize)?,
                    day: NaiveDate::from_num_days_from_ce_opt(h.day)?,
                    impressions: *impressions,
                    clicks: *clicks,
                })
            })
            .collect()
    }

    /// How many touches it holds.
    pub fn len(&self) -> usize {
        self.companies.values().map(|c| c.hits.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.companies.is_empty()
    }
}

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

/// [`window`] of a company's hits, on day numbers.
fn window_hits(hits: &[Hit], day: i32, lookback_days: i64) -> &[Hit] {
    let start = i64::from(day) - lookback_days;
    let lo = hits.partition_point(|h| i64::from(h.day) < start);
    let hi = hits.partition_point(|h| h.day <= day);
    &hits[lo..hi.max(lo)]
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
/// `touches` covers at least `[from − lookback, to]`.
///
/// A hundred thousand opportunities of tens of touches each are credited
/// under seven models: campaigns are numbers (in their ids' order), credits
/// are summed into a row per campaign and every buffer is reused, so an
/// opportunity allocates nothing.
pub fn run(opps: &[Opp], touches: &Touches, kind: Kind, rules: Rules) -> Outcome {
    let mut out = Outcome::default();
    let converting = converting(opps, touches, kind, rules);
    let paths = journeys(&converting, touches, rules);
    let effects = markov::removal_effects_keyed(&paths)
        .map(|r| r.effect)
        .unwrap_or_default();
    drop(paths);
    let k = touches.campaigns.len();
    let mut effect = vec![0.0; k];
    for (c, e) in &effects {
        effect[*c as usize] = *e;
        out.removal_effects
            .insert(touches.campaigns[*c as usize], *e);
    }

    let mut crediter = Crediter::new(rules.half_life_days, rules.lookback_days);
    let (mut keys, mut days) = (Vec::new(), Vec::new());
    let mut credited = vec![[0i64; 7]; k];
    let mut influenced = vec![0i64; k];
    // The last opportunity (numbered from 1) each campaign touched.
    let mut touched = vec![0u32; k];
    for (n, c) in converting.iter().enumerate() {
        if c.hits.is_empty() {
            out.unattributed += 1;
            out.unattributed_micros += c.amount;
            continue;
        }
        out.attributed += 1;
        out.attributed_micros += c.amount;
        keys.clear();
        keys.extend(c.hits.iter().map(|h| h.campaign));
        days.clear();
        days.extend(c.hits.iter().map(|h| h.day));
        let at = (c.day, day_number(c.opp.created));
        let parts = crediter.credit(&days, &keys, at, c.amount, |k| effect[k as usize]);
        for (m, parts) in parts.iter().enumerate() {
            for (k, micros) in keys.iter().zip(parts) {
                credited[*k as usize][m] += micros;
            }
        }
        let n = n as u32 + 1;
        for k in &keys {
            let k = *k as usize;
            if touched[k] != n {
                touched[k] = n;
                influenced[k] += c.amount;
            }
        }
    }
    for (k, c) in touches.campaigns.iter().enumerate() {
        if touched[k] == 0 {
            continue;
        }
        for (m, micros) in Model::ALL.into_iter().zip(credited[k]) {
            out.credits.insert((m, *c), micros);
        }
        out.influenced.insert(*c, influenced[k]);
    }
    out
}

/// Credits every model's share of an opportunity's touches, reusing its
/// buffers from one opportunity to the next.
pub struct Crediter {
    decay: Decay,
    weights: Vec<f64>,
    distinct: Vec<(u32, u32, f64)>,
    split: SplitScratch,
    parts: [Vec<i64>; 7],
}

impl Crediter {
    /// For a half-life, and a lookback whose time-decay factors are kept.
    pub fn new(half_life_days: f64, lookback_days: i64) -> Crediter {
        Crediter {
            decay: Decay::new(half_life_days, lookback_days),
            weights: Vec::new(),
            distinct: Vec::new(),
            split: SplitScratch::default(),
            parts: Default::default(),
        }
    }

    /// Every model's credit of each touch (in [`Model::ALL`]'s order), in
    /// micros summing to `amount`: the touches are on `days` (day numbers,
    /// in time order) of the campaigns `keys` (numbered in the order of
    /// their ids), for an opportunity converting and created on the days
    /// of `at`; `effect` gives a campaign's removal effect.
    pub fn credit(
        &mut self,
        days: &[i32],
        keys: &[u32],
        at: (i32, i32),
        amount: i64,
        effect: impl Fn(u32) -> f64,
    ) -> &[Vec<i64>; 7] {
        for (model, parts) in Model::ALL.into_iter().zip(self.parts.iter_mut()) {
            if model == Model::Markov {
                models::markov_weights_into(keys, &effect, &mut self.distinct, &mut self.weights);
            } else {
                models::weights_into(model, days, at, &self.decay, &mut self.weights);
            }
            models::split_into(amount, &self.weights, &mut self.split, parts);
        }
        &self.parts
    }
}

/// A converting opportunity: the day it converts, its amount, its touches.
struct Converting<'a> {
    opp: &'a Opp,
    day: i32,
    amount: i64,
    hits: &'a [Hit],
}

/// The opportunities converting (for `kind`) in the window, with their touches.
fn converting<'a>(
    opps: &'a [Opp],
    touches: &'a Touches,
    kind: Kind,
    rules: Rules,
) -> Vec<Converting<'a>> {
    opps.iter()
        .filter_map(|opp| {
            let day = opp
                .converts(kind)
                .filter(|d| *d >= rules.from && *d <= rules.to)
                .map(day_number)?;
            let hits = opp
                .company
                .as_ref()
                .and_then(|c| touches.companies.get(c))
                .map(|c| window_hits(&c.hits, day, rules.lookback_days))
                .unwrap_or(&[]);
            Some(Converting {
                opp,
                day,
                amount: opp.amount.unwrap_or(0),
                hits,
            })
        })
        .collect()
}

/// The removal effects of the window's Markov chain alone (what
/// explaining one opportunity needs of the others).
pub fn removal_effects(
    opps: &[Opp],
    touches: &Touches,
    kind: Kind,
    rules: Rules,
) -> HashMap<Uuid, f64> {
    let paths = journeys(&converting(opps, touches, kind, rules), touches, rules);
    markov::removal_effects_keyed(&paths)
        .map(|r| r.effect)
        .unwrap_or_default()
        .into_iter()
        .map(|(c, e)| (touches.campaigns[c as usize], e))
        .collect()
}

/// The journeys a run's Markov chain is made of (for comparing it with
/// other implementations).
pub fn journeys_of(opps: &[Opp], touches: &Touches, kind: Kind, rules: Rules) -> Vec<Path<Uuid>> {
    journeys(&converting(opps, touches, kind, rules), touches, rules)
        .into_iter()
        .map(|p| Path {
            steps: p
                .steps
                .into_iter()
                .map(|c| touches.campaigns[c as usize])
                .collect(),
            conversions: p.conversions,
            nulls: p.nulls,
        })
        .collect()
}

/// The Markov chain's journeys: each converting opportunity's touches
/// (ending in conversion), and the touches in the window of every company
/// reached that did not convert (ending in nothing).
fn journeys(converting: &[Converting<'_>], touches: &Touches, rules: Rules) -> Vec<Path<u32>> {
    let converted: std::collections::HashSet<&str> = converting
        .iter()
        .filter(|c| !c.hits.is_empty())
        .filter_map(|c| c.opp.company.as_deref())
        .collect();
    let mut paths: Vec<Path<u32>> = converting
        .iter()
        .filter(|c| !c.hits.is_empty())
        .map(|c| Path {
            steps: c.hits.iter().map(|h| h.campaign).collect(),
            conversions: 1,
            nulls: 0,
        })
        .collect();
    let days = (rules.to - rules.from).num_days() + rules.lookback_days;
    let to = day_number(rules.to);
    for (company, c) in &touches.companies {
        if converted.contains(company.as_str()) {
            continue;
        }
        let hits = window_hits(&c.hits, to, days);
        if !hits.is_empty() {
            paths.push(Path {
                steps: hits.iter().map(|h| h.campaign).collect(),
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
    let (campaigns, keys) = models::keys_of(touches);
    let days: Vec<i32> = touches.iter().map(|t| day_number(t.day)).collect();
    let effect = |k: u32| effects.get(&campaigns[k as usize]).copied().unwrap_or(0.0);
    let parts = Crediter::new(at.half_life_days, 0)
        .credit(
            &days,
            &keys,
            (day_number(at.converted), day_number(at.created)),
            amount,
            effect,
        )
        .clone();
    Model::ALL.into_iter().zip(parts).collect()
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
            let mut all = Vec::new();
            for (i, ts) in companies.iter().enumerate() {
                let mut v: Vec<Touch> = ts.iter().map(|(c, day)| touch(*c, *day)).collect();
                v.sort_by_key(|t| (t.day, t.campaign_id));
                v.dedup_by_key(|t| (t.day, t.campaign_id));
                all.extend(v.into_iter().map(|t| (format!("c{i}.example"), t)));
            }
            let touches = Touches::new(all);
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

                // The run's numbered, buffered path credits exactly what
                // crediting each opportunity on its own (as explaining
                // does) credits.
                let effects: HashMap<Uuid, f64> = out.removal_effects.iter().map(|(c, e)| (*c, *e)).collect();
                let mut one_by_one: HashMap<(Model, Uuid), i64> = HashMap::new();
                for o in &opps {
                    let Some(day) = o.converts(kind).filter(|d| *d >= rules.from && *d <= rules.to) else { continue };
                    let all = touches.of(o.company.as_deref().unwrap_or_default());
                    let t = window(&all, day, rules.lookback_days);
                    let at = Moment { converted: day, created: o.created, half_life_days: rules.half_life_days };
                    for (m, parts) in credits(t, at, o.amount.unwrap_or(0), &effects) {
                        for (touch, micros) in t.iter().zip(parts) {
                            *one_by_one.entry((m, touch.campaign_id)).or_default() += micros;
                        }
                    }
                }
                prop_assert_eq!(&out.credits, &one_by_one);
            }
        }
    }

    #[test]
    fn the_table_gives_back_each_companys_touches_in_time_order() {
        let t = Touches::new([
            ("b.example".to_string(), touch(9, 3)),
            ("a.example".to_string(), touch(7, 5)),
            ("a.example".to_string(), touch(2, 5)),
            ("a.example".to_string(), touch(7, 1)),
        ]);
        assert_eq!(t.len(), 4);
        assert_eq!(t.of("a.example"), [touch(7, 1), touch(2, 5), touch(7, 5)]);
        assert_eq!(t.of("b.example"), [touch(9, 3)]);
        assert!(t.of("c.example").is_empty());
    }
}
