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

use chrono::NaiveDate;
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

/// The weight of each of `touches` (in time order) under `model`: they sum
/// to 1, or are empty when there are no touches. `Model::Markov` needs the
/// removal effects ([`crate::markov`]): use [`markov_weights`].
pub fn weights(model: Model, touches: &[Touch], at: Moment) -> Vec<f64> {
    let n = touches.len();
    if n == 0 {
        return Vec::new();
    }
    let mut w = vec![0.0; n];
    match model {
        Model::FirstTouch => w[0] = 1.0,
        Model::LastTouch => w[n - 1] = 1.0,
        Model::Linear | Model::Markov => w.fill(1.0 / n as f64),
        Model::TimeDecay => {
            for (wi, t) in w.iter_mut().zip(touches) {
                let days = (at.converted - t.day).num_days().max(0) as f64;
                *wi = 0.5f64.powf(days / at.half_life_days);
            }
            normalise(&mut w);
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
            let created = touches
                .iter()
                .rposition(|t| t.day <= at.created)
                .unwrap_or(0);
            let milestones = [0, created, n - 1];
            for m in milestones {
                w[m] += 0.3;
            }
            let rest: Vec<usize> = (0..n).filter(|i| !milestones.contains(i)).collect();
            if rest.is_empty() {
                let mut distinct = milestones.to_vec();
                distinct.dedup();
                for m in &distinct {
                    w[*m] += 0.1 / distinct.len() as f64;
                }
            } else {
                for i in &rest {
                    w[*i] += 0.1 / rest.len() as f64;
                }
            }
        }
    }
    w
}

/// The Markov model's weights for an opportunity's touches: each campaign
/// on the path gets its removal effect's share among the path's
/// campaigns, spread evenly over its touches. A path whose campaigns all
/// have no removal effect falls back to linear.
pub fn markov_weights(touches: &[Touch], removal_effect: impl Fn(Uuid) -> f64) -> Vec<f64> {
    let mut campaigns: Vec<Uuid> = touches.iter().map(|t| t.campaign_id).collect();
    campaigns.sort_unstable();
    campaigns.dedup();
    let total: f64 = campaigns.iter().map(|c| removal_effect(*c).max(0.0)).sum();
    if total.is_nan() || total <= 0.0 {
        return weights(
            Model::Linear,
            touches,
            Moment {
                converted: NaiveDate::MIN,
                created: NaiveDate::MIN,
                half_life_days: 1.0,
            },
        );
    }
    // Each campaign's weight per touch, worked out once.
    let count = |c: Uuid| touches.iter().filter(|u| u.campaign_id == c).count() as f64;
    let per: Vec<(Uuid, f64)> = campaigns
        .iter()
        .map(|c| (*c, removal_effect(*c).max(0.0) / total / count(*c)))
        .collect();
    touches
        .iter()
        .map(|t| {
            per.iter()
                .find(|(c, _)| *c == t.campaign_id)
                .map_or(0.0, |(_, w)| *w)
        })
        .collect()
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
    if weights.is_empty() {
        return Vec::new();
    }
    let total: f64 = weights.iter().map(|w| w.max(0.0)).sum();
    let even = total.is_nan() || total <= 0.0;
    let n = weights.len() as f64;
    let magnitude = amount.unsigned_abs() as u128;
    // Exact shares in 2^-52 units, so the floors and remainders are integer
    // arithmetic and cannot round the sum past the amount.
    const SCALE: f64 = (1u64 << 52) as f64;
    let units: Vec<u128> = weights
        .iter()
        .map(|w| {
            let share = if even { 1.0 / n } else { w.max(0.0) / total };
            (share * SCALE).round() as u128
        })
        .collect();
    let unit_total: u128 = units.iter().sum::<u128>().max(1);
    let mut parts: Vec<u128> = Vec::with_capacity(units.len());
    let mut rem: Vec<(u128, usize)> = Vec::with_capacity(units.len());
    for (i, u) in units.iter().enumerate() {
        let x = magnitude * u;
        parts.push(x / unit_total);
        rem.push((x % unit_total, i));
    }
    let left = (magnitude - parts.iter().sum::<u128>()) as usize;
    if left > 0 {
        // The `left` largest remainders (the earlier part on a tie), without
        // sorting them all.
        let order = |a: &(u128, usize), b: &(u128, usize)| b.0.cmp(&a.0).then(a.1.cmp(&b.1));
        if left < rem.len() {
            rem.select_nth_unstable_by(left - 1, order);
        }
        for (_, i) in &rem[..left.min(rem.len())] {
            parts[*i] += 1;
        }
    }
    parts
        .into_iter()
        .map(|p| if amount < 0 { -(p as i64) } else { p as i64 })
        .collect()
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
