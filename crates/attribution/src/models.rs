//! Rule-based attribution over one opportunity's touches.
//!
//! A touch is a day an account was reached by a campaign (impressions, and
//! clicks if any). The touches an opportunity counts are its account's
//! within the lookback window before the moment it converts — created (for
//! pipeline) or won (for revenue) — in time order (a day's touches by
//! campaign id, so the order is total and stable).
//!
//! Each model gives every touch a weight; weights sum to 1 and an amount
//! is split in micros by [`split`], so an opportunity's credits add up to
//! its amount exactly.

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// One account-day of one campaign.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Touch {
    pub campaign_id: Uuid,
    pub day: NaiveDate,
    pub impressions: i64,
    pub clicks: i64,
}

/// The attribution models.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Model {
    FirstTouch,
    LastTouch,
    Linear,
    TimeDecay,
    UShaped,
    WShaped,
    Markov,
}

impl Model {
    pub const ALL: [Model; 7] = [
        Model::FirstTouch,
        Model::LastTouch,
        Model::Linear,
        Model::TimeDecay,
        Model::UShaped,
        Model::WShaped,
        Model::Markov,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Model::FirstTouch => "first_touch",
            Model::LastTouch => "last_touch",
            Model::Linear => "linear",
            Model::TimeDecay => "time_decay",
            Model::UShaped => "u_shaped",
            Model::WShaped => "w_shaped",
            Model::Markov => "markov",
        }
    }

    pub fn parse(s: &str) -> Option<Model> {
        Model::ALL.into_iter().find(|m| m.as_str() == s)
    }
}

/// What the rule-based models need besides the touches.
#[derive(Debug, Clone, Copy)]
pub struct Moment {
    /// The day the opportunity converts (created for pipeline, won for
    /// revenue): time decay counts days back from it.
    pub converted: NaiveDate,
    /// The day the opportunity was created: W-shaped's middle milestone is
    /// the last touch on or before it.
    pub created: NaiveDate,
    /// Time decay's half-life, days (> 0).
    pub half_life_days: f64,
}

/// Time decay's factor for a touch `days` before the conversion,
/// `0.5^(days / half-life)`, looked up for the days a run's lookback can
/// hold (the same expression, so the same bits) and computed beyond.
#[derive(Debug, Clone)]
pub struct Decay {
    half_life_days: f64,
    table: Vec<f64>,
}

impl Decay {
    /// Factors kept for 0 to `days` days.
    pub fn new(half_life_days: f64, days: i64) -> Decay {
        let table = (0..=days.clamp(0, 4_000))
            .map(|d| 0.5f64.powf(d as f64 / half_life_days))
            .collect();
        Decay {
            half_life_days,
            table,
        }
    }

    fn factor(&self, days: i64) -> f64 {
        usize::try_from(days)
            .ok()
            .and_then(|d| self.table.get(d).copied())
            .unwrap_or_else(|| 0.5f64.powf(days as f64 / self.half_life_days))
    }
}

/// The weight of each of `touches` (in time order) under `model`: they sum
/// to 1, or are empty when there are no touches. `Model::Markov` needs the
/// removal effects ([`crate::markov`]): use [`markov_weights`].
pub fn weights(model: Model, touches: &[Touch], at: Moment) -> Vec<f64> {
    let days: Vec<i32> = touches.iter().map(|t| day_number(t.day)).collect();
    let mut w = Vec::new();
    weights_into(
        model,
        &days,
        (day_number(at.converted), day_number(at.created)),
        &Decay::new(at.half_life_days, 0),
        &mut w,
    );
    w
}

/// A day as runs compare them: days from the common era.
pub fn day_number(d: NaiveDate) -> i32 {
    d.num_days_from_ce()
}

/// [`weights`] into `w` (cleared first) of touches on `days` (day numbers,
/// [`day_number`], in time order) for an opportunity converting and
/// created on the days of `at`, time decay's factors from `decay`.
pub fn weights_into(model: Model, days: &[i32], at: (i32, i32), decay: &Decay, w: &mut Vec<f64>) {
    let (converted, created) = at;
    let n = days.len();
    w.clear();
    if n == 0 {
        return;
    }
    w.resize(n, 0.0);
    match model {
        Model::FirstTouch => w[0] = 1.0,
        Model::LastTouch => w[n - 1] = 1.0,
        Model::Linear | Model::Markov => w.fill(1.0 / n as f64),
        Model::TimeDecay => {
            for (wi, d) in w.iter_mut().zip(days) {
                *wi = decay.factor(i64::from(converted - d).max(0));
            }
            normalise(w);
        }
        Model::UShaped => match n {
            1 => w[0] = 1.0,
            2 => w.fill(0.5),
            _ => {
                w[0] = 0.4;
                w[n - 1] = 0.4;
                for wi in &mut w[1..n - 1] {
                    *wi = 0.2 / (n - 2) as f64;
                }
            }
        },
        Model::WShaped => {
            // The milestones: first touch, the last touch on or before the
            // opportunity's creation, last touch. Milestones that are the
            // same touch add their shares; the 10 % for the rest is spread
            // over the touches that are no milestone, or, when every touch
            // is one, over the distinct milestones.
            let created = days.iter().rposition(|d| *d <= created).unwrap_or(0);
            let milestones = [0, created, n - 1];
            for m in milestones {
                w[m] += 0.3;
            }
            let distinct = 1 + usize::from(created != 0) + usize::from(n - 1 != created && n > 1);
            let rest = n - distinct;
            for (i, wi) in w.iter_mut().enumerate() {
                let milestone = milestones.contains(&i);
                if rest == 0 && milestone {
                    *wi += 0.1 / distinct as f64;
                } else if rest > 0 && !milestone {
                    *wi += 0.1 / rest as f64;
                }
            }
        }
    }
}

/// The Markov model's weights for an opportunity's touches: each campaign
/// on the path gets its removal effect's share among the path's
/// campaigns, spread evenly over its touches. A path whose campaigns all
/// have no removal effect falls back to linear.
pub fn markov_weights(touches: &[Touch], removal_effect: impl Fn(Uuid) -> f64) -> Vec<f64> {
    let (campaigns, keys) = keys_of(touches);
    let mut w = Vec::new();
    markov_weights_into(
        &keys,
        |k| removal_effect(campaigns[k as usize]),
        &mut Vec::new(),
        &mut w,
    );
    w
}

/// The campaigns of `touches` (ids sorted) and each touch's campaign as its
/// place among them: the keys the `_into` functions take.
pub fn keys_of(touches: &[Touch]) -> (Vec<Uuid>, Vec<u32>) {
    let mut campaigns: Vec<Uuid> = touches.iter().map(|t| t.campaign_id).collect();
    campaigns.sort_unstable();
    campaigns.dedup();
    let keys = touches
        .iter()
        .map(|t| campaigns.binary_search(&t.campaign_id).unwrap_or(0) as u32)
        .collect();
    (campaigns, keys)
}

/// [`markov_weights`] into `w` (cleared first), each touch's campaign
/// given as a key ordered as the campaigns' ids are (so the effects are
/// summed in the same order whatever the keys), `distinct` a scratch
/// buffer.
pub fn markov_weights_into(
    keys: &[u32],
    removal_effect: impl Fn(u32) -> f64,
    distinct: &mut Vec<(u32, u32, f64)>,
    w: &mut Vec<f64>,
) {
    // The path's campaigns, their touches and effects (a path has a few:
    // found by a short scan).
    distinct.clear();
    for k in keys {
        match distinct.iter_mut().find(|(c, _, _)| c == k) {
            Some(d) => d.1 += 1,
            None => distinct.push((*k, 1, 0.0)),
        }
    }
    distinct.sort_unstable_by_key(|d| d.0);
    let mut total = 0.0;
    for d in distinct.iter_mut() {
        d.2 = removal_effect(d.0).max(0.0);
        total += d.2;
    }
    w.clear();
    if total.is_nan() || total <= 0.0 {
        w.resize(keys.len(), 1.0 / keys.len() as f64);
        return;
    }
    // Each campaign's weight per touch, worked out once.
    for d in distinct.iter_mut() {
        d.2 = d.2 / total / f64::from(d.1);
    }
    w.extend(keys.iter().map(|k| {
        distinct
            .iter()
            .find(|(c, _, _)| c == k)
            .map_or(0.0, |d| d.2)
    }));
}

fn normalise(w: &mut [f64]) {
    let s: f64 = w.iter().sum();
    if s > 0.0 {
        for x in w.iter_mut() {
            *x /= s;
        }
    }
}

/// Split `amount` (micros) by `weights` into whole micros that sum to it
/// exactly: each part is the floor of its exact share, and the micros left
/// over go one each to the parts with the largest fractional remainders
/// (the earlier part first on a tie) — the largest-remainder method, so no
/// part is off by more than one micro and none is lost or made up. A
/// negative amount (a credit note) is split as its magnitude, negated.
pub fn split(amount: i64, weights: &[f64]) -> Vec<i64> {
    let mut parts = Vec::new();
    split_into(amount, weights, &mut SplitScratch::default(), &mut parts);
    parts
}

/// The buffers [`split_into`] reuses.
#[derive(Debug, Default)]
pub struct SplitScratch {
    units: Vec<u64>,
    rem: Vec<(u64, u32)>,
}

/// [`split`] into `parts` (cleared first).
pub fn split_into(amount: i64, weights: &[f64], scratch: &mut SplitScratch, parts: &mut Vec<i64>) {
    parts.clear();
    if weights.is_empty() {
        return;
    }
    let total: f64 = weights.iter().map(|w| w.max(0.0)).sum();
    let even = total.is_nan() || total <= 0.0;
    let n = weights.len() as f64;
    let magnitude = u128::from(amount.unsigned_abs());
    // Exact shares in 2^-52 units, so the floors and remainders are integer
    // arithmetic and cannot round the sum past the amount.
    const SCALE: f64 = (1u64 << 52) as f64;
    let units = &mut scratch.units;
    units.clear();
    units.extend(weights.iter().map(|w| {
        let share = if even { 1.0 / n } else { w.max(0.0) / total };
        (share * SCALE).round() as u64
    }));
    let unit_total = u128::from(units.iter().sum::<u64>().max(1));
    let rem = &mut scratch.rem;
    rem.clear();
    let mut given = 0u128;
    for (i, u) in units.iter().enumerate() {
        let x = magnitude * u128::from(*u);
        let part = x / unit_total;
        let r = x - part * unit_total;
        given += part;
        parts.push(part as i64);
        // Below the unit total, so a u64.
        rem.push((r as u64, i as u32));
    }
    let left = (magnitude - given) as usize;
    if left > 0 {
        // The `left` largest remainders (the earlier part on a tie), without
        // sorting them all.
        let order = |a: &(u64, u32), b: &(u64, u32)| b.0.cmp(&a.0).then(a.1.cmp(&b.1));
        if left < rem.len() {
            rem.select_nth_unstable_by(left - 1, order);
        }
        for (_, i) in &rem[..left.min(rem.len())] {
            parts[*i as usize] += 1;
        }
    }
    if amount < 0 {
        for p in parts.iter_mut() {
            *p = -*p;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 10, d).unwrap()
    }

    fn touches(days: &[u32]) -> Vec<Touch> {
        days.iter()
            .enumerate()
            .map(|(i, d)| Touch {
                campaign_id: Uuid::from_u128(i as u128 + 1),
                day: day(*d),
                impressions: 10,
                clicks: 0,
            })
            .collect()
    }

    fn at(converted: u32, created: u32) -> Moment {
        Moment {
            converted: day(converted),
            created: day(created),
            half_life_days: 7.0,
        }
    }

    fn close(a: &[f64], b: &[f64]) {
        assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(b) {
            assert!((x - y).abs() < 1e-12, "{a:?} against {b:?}");
        }
    }

    #[test]
    fn each_model_on_hand_computed_examples() {
        let t = touches(&[1, 8, 15, 22]);
        let m = at(29, 15);
        close(&weights(Model::FirstTouch, &t, m), &[1.0, 0.0, 0.0, 0.0]);
        close(&weights(Model::LastTouch, &t, m), &[0.0, 0.0, 0.0, 1.0]);
        close(&weights(Model::Linear, &t, m), &[0.25; 4]);
        // Touches 28, 21, 14 and 7 days before: weights 1/16, 1/8, 1/4, 1/2
        // of 15/16 in all.
        close(
            &weights(Model::TimeDecay, &t, m),
            &[1.0 / 15.0, 2.0 / 15.0, 4.0 / 15.0, 8.0 / 15.0],
        );
        close(&weights(Model::UShaped, &t, m), &[0.4, 0.1, 0.1, 0.4]);
        // First 30, created (day 15, the third) 30, last 30, the one other 10.
        close(&weights(Model::WShaped, &t, m), &[0.3, 0.1, 0.3, 0.3]);
        // Created before any touch after the first: the milestone is the first.
        close(
            &weights(Model::WShaped, &t, at(29, 2)),
            &[0.6, 0.05, 0.05, 0.3],
        );
        // Two touches, creation at the last: 30+30+5 / 30+5... spread over the
        // distinct milestones.
        close(
            &weights(Model::WShaped, &touches(&[1, 8]), at(9, 9)),
            &[0.35, 0.65],
        );
        close(&weights(Model::UShaped, &touches(&[1, 8]), m), &[0.5, 0.5]);
        close(&weights(Model::UShaped, &touches(&[3]), m), &[1.0]);
        assert!(weights(Model::Linear, &[], m).is_empty());
    }

    #[test]
    fn markov_weights_follow_removal_effects_within_the_path() {
        let mut t = touches(&[1, 2, 3]);
        t[2].campaign_id = t[0].campaign_id;
        let re = |c: Uuid| if c == Uuid::from_u128(1) { 0.3 } else { 0.1 };
        close(&markov_weights(&t, re), &[0.375, 0.25, 0.375]);
        close(&markov_weights(&t, |_| 0.0), &[1.0 / 3.0; 3]);
    }

    #[test]
    fn split_gives_remainders_to_the_largest_fractions() {
        assert_eq!(split(100, &[1.0, 1.0, 1.0]), [34, 33, 33]);
        assert_eq!(split(10, &[0.4, 0.2, 0.4]), [4, 2, 4]);
        assert_eq!(split(1, &[0.4, 0.2, 0.4]), [1, 0, 0]);
        assert_eq!(split(-100, &[1.0, 1.0, 1.0]), [-34, -33, -33]);
        assert_eq!(split(7, &[0.0, 0.0]), [4, 3]);
        assert!(split(5, &[]).is_empty());
    }

    proptest! {
        /// Every model's credits of every opportunity add up to its amount
        /// to the micro, no credit is negative, and no credit is more than
        /// one micro from its exact share.
        #[test]
        fn credits_reconcile_to_the_micro(
            amount in 0i64..=1_000_000_000_000_000,
            days in proptest::collection::vec(1u32..=28, 1..40),
            created in 1u32..=28,
            half_life in 0.5f64..30.0,
        ) {
            let mut days = days;
            days.sort_unstable();
            let t = touches(&days);
            let m = Moment { converted: day(28), created: day(created), half_life_days: half_life };
            for model in Model::ALL {
                let w = if model == Model::Markov {
                    markov_weights(&t, |c| (c.as_u128() % 7) as f64 / 7.0)
                } else {
                    weights(model, &t, m)
                };
                prop_assert!((w.iter().sum::<f64>() - 1.0).abs() < 1e-9, "{model:?} {w:?}");
                let parts = split(amount, &w);
                prop_assert_eq!(parts.iter().sum::<i64>(), amount, "{:?}", model);
                for (p, wi) in parts.iter().zip(&w) {
                    prop_assert!(*p >= 0);
                    let exact = amount as f64 * wi;
                    prop_assert!((*p as f64 - exact).abs() <= 1.0 + exact * 1e-12, "{model:?}: {p} for {exact}");
                }
            }
        }
    }
}
