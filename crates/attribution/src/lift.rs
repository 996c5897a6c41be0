//! Incrementality: accounts an audience targeted against the accounts it
//! held out, over a window.
//!
//! Rates (opportunity creation, win rate) are compared by a two-proportion
//! z-test: the 95 % interval of the difference uses the unpooled standard
//! error (Wald), the p-value the pooled one (the test of "no difference"),
//! and the relative lift's interval is the ratio's, from the log scale
//! (Katz's method). Pipeline per account is a difference of means with
//! Welch's standard error and a normal interval (accounts number in the
//! hundreds or more; below the minimum the report says "not enough data"
//! instead of printing noise).

use serde::Serialize;
use utoipa::ToSchema;

/// The z of a two-sided 95 % interval.
const Z95: f64 = 1.959_963_984_540_054;

/// Fewer accounts than this in either group, or fewer than
/// [`MIN_EVENTS`] successes or failures in either, is not enough data.
pub const MIN_ACCOUNTS: u64 = 30;
pub const MIN_EVENTS: u64 = 5;

/// A rate compared between the groups.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct RateLift {
    pub treated_rate: f64,
    pub holdout_rate: f64,
    /// treated − holdout, and its 95 % interval.
    pub absolute: f64,
    pub absolute_ci: [f64; 2],
    /// (treated − holdout) / holdout, and its 95 % interval (absent when
    /// the holdout's rate is 0).
    pub relative: Option<f64>,
    pub relative_ci: Option<[f64; 2]>,
    /// Two-sided, against no difference.
    pub p_value: f64,
}

/// Why there is no comparison.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct NotEnoughData {
    pub reason: String,
}

/// Compare `treated_hits` of `treated_n` with `holdout_hits` of `holdout_n`.
pub fn rate_lift(
    treated_hits: u64,
    treated_n: u64,
    holdout_hits: u64,
    holdout_n: u64,
) -> Result<RateLift, NotEnoughData> {
    for (group, hits, n) in [
        ("treated", treated_hits, treated_n),
        ("holdout", holdout_hits, holdout_n),
    ] {
        if n < MIN_ACCOUNTS {
            return Err(NotEnoughData {
                reason: format!("{n} {group} accounts; at least {MIN_ACCOUNTS} are needed"),
            });
        }
        if hits < MIN_EVENTS || n - hits < MIN_EVENTS {
            return Err(NotEnoughData {
                reason: format!(
                    "{hits} of {n} {group} accounts converted; at least {MIN_EVENTS} that did and {MIN_EVENTS} that did not are needed"
                ),
            });
        }
    }
    let (nt, nh) = (treated_n as f64, holdout_n as f64);
    let (pt, ph) = (treated_hits as f64 / nt, holdout_hits as f64 / nh);
    let diff = pt - ph;
    let se = (pt * (1.0 - pt) / nt + ph * (1.0 - ph) / nh).sqrt();
    let pooled = (treated_hits + holdout_hits) as f64 / (nt + nh);
    let se0 = (pooled * (1.0 - pooled) * (1.0 / nt + 1.0 / nh)).sqrt();
    let p_value = if se0 > 0.0 {
        2.0 * (1.0 - normal_cdf((diff / se0).abs()))
    } else {
        1.0
    };
    let (relative, relative_ci) = if ph > 0.0 && pt > 0.0 {
        let ratio = pt / ph;
        let se_log = (1.0 / treated_hits as f64 - 1.0 / nt + 1.0 / holdout_hits as f64 - 1.0 / nh)
            .max(0.0)
            .sqrt();
        (
            Some(ratio - 1.0),
            Some([
                (ratio.ln() - Z95 * se_log).exp() - 1.0,
                (ratio.ln() + Z95 * se_log).exp() - 1.0,
            ]),
        )
    } else {
        (None, None)
    };
    Ok(RateLift {
        treated_rate: pt,
        holdout_rate: ph,
        absolute: diff,
        absolute_ci: [diff - Z95 * se, diff + Z95 * se],
        relative,
        relative_ci,
        p_value: p_value.clamp(0.0, 1.0),
    })
}

/// A mean compared between the groups (pipeline per account, in micros).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct MeanLift {
    pub treated_mean: f64,
    pub holdout_mean: f64,
    pub absolute: f64,
    pub absolute_ci: [f64; 2],
    pub p_value: f64,
}

/// Compare the means of two samples (every account's value, zeros included).
pub fn mean_lift(treated: &[f64], holdout: &[f64]) -> Result<MeanLift, NotEnoughData> {
    for (group, v) in [("treated", treated), ("holdout", holdout)] {
        if (v.len() as u64) < MIN_ACCOUNTS {
            return Err(NotEnoughData {
                reason: format!(
                    "{} {group} accounts; at least {MIN_ACCOUNTS} are needed",
                    v.len()
                ),
            });
        }
    }
    let (mt, vt) = mean_var(treated);
    let (mh, vh) = mean_var(holdout);
    let se = (vt / treated.len() as f64 + vh / holdout.len() as f64).sqrt();
    let diff = mt - mh;
    let p_value = if se > 0.0 {
        2.0 * (1.0 - normal_cdf((diff / se).abs()))
    } else if diff == 0.0 {
        1.0
    } else {
        0.0
    };
    Ok(MeanLift {
        treated_mean: mt,
        holdout_mean: mh,
        absolute: diff,
        absolute_ci: [diff - Z95 * se, diff + Z95 * se],
        p_value: p_value.clamp(0.0, 1.0),
    })
}

fn mean_var(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0).max(1.0);
    (mean, var)
}

/// The standard normal distribution function, from `erfc` (W. J. Cody's
/// rational approximations as in Numerical Recipes' `erfcc`, relative
/// error below 1.2e-7 — ample for p-values).
pub fn normal_cdf(x: f64) -> f64 {
    0.5 * erfc(-x / std::f64::consts::SQRT_2)
}

fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let r = t
        * (-z * z - 1.265_512_23
            + t * (1.000_023_68
                + t * (0.374_091_96
                    + t * (0.096_784_18
                        + t * (-0.186_288_06
                            + t * (0.278_868_07
                                + t * (-1.135_203_98
                                    + t * (1.488_515_87
                                        + t * (-0.822_152_23 + t * 0.170_872_77)))))))))
            .exp();
    if x >= 0.0 { r } else { 2.0 - r }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_normal_distribution_at_known_points() {
        for (x, p) in [
            (0.0, 0.5),
            (1.959_964, 0.975),
            (-1.0, 0.158_655_25),
            (3.0, 0.998_650_1),
        ] {
            assert!((normal_cdf(x) - p).abs() < 2e-7, "{x}: {}", normal_cdf(x));
        }
    }

    #[test]
    fn a_two_proportion_comparison_by_hand() {
        // 120 of 1,000 against 80 of 1,000: difference 0.04, unpooled SE
        // sqrt(.12·.88/1000 + .08·.92/1000) = 0.0133866, interval
        // 0.04 ± 0.0262372; pooled 0.1: SE0 0.0134164, z 2.9814, p 0.00287.
        let l = rate_lift(120, 1000, 80, 1000).unwrap();
        assert!((l.absolute - 0.04).abs() < 1e-12);
        assert!((l.absolute_ci[0] - 0.013763).abs() < 1e-5, "{l:?}");
        assert!((l.absolute_ci[1] - 0.066237).abs() < 1e-5, "{l:?}");
        assert!((l.p_value - 0.002869).abs() < 1e-5, "{l:?}");
        assert!((l.relative.unwrap() - 0.5).abs() < 1e-12);
        let [lo, hi] = l.relative_ci.unwrap();
        assert!(lo > 0.0 && lo < 0.5 && hi > 0.5, "{l:?}");
    }

    /// xorshift64*: a deterministic world for each seed.
    struct Rng(u64);
    impl Rng {
        fn unit(&mut self) -> f64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
        }
    }

    /// A world with a planted lift: held-out accounts convert at p, treated
    /// ones at 1.5 p. The interval holds the truth in about 95 % of worlds
    /// (it is an interval, not a guarantee), and in the first world the
    /// estimate is near it.
    #[test]
    fn a_planted_lift_is_recovered_within_its_interval() {
        let (p, treated_n, holdout_n) = (0.05, 18_000u64, 2_000u64);
        let mut covered_abs = 0;
        let mut covered_rel = 0;
        let worlds = 400u32;
        for seed in 1..=worlds as u64 {
            let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
            let t = (0..treated_n).filter(|_| rng.unit() < 1.5 * p).count() as u64;
            let h = (0..holdout_n).filter(|_| rng.unit() < p).count() as u64;
            let l = rate_lift(t, treated_n, h, holdout_n).unwrap();
            covered_abs += u32::from(l.absolute_ci[0] <= 0.5 * p && 0.5 * p <= l.absolute_ci[1]);
            let [lo, hi] = l.relative_ci.unwrap();
            covered_rel += u32::from(lo <= 0.5 && 0.5 <= hi);
            if seed == 1 {
                assert!((l.relative.unwrap() - 0.5).abs() < 0.25, "{l:?}");
                assert!(l.p_value < 0.01, "{l:?}");
            }
        }
        for (what, covered) in [("absolute", covered_abs), ("relative", covered_rel)] {
            let rate = covered as f64 / worlds as f64;
            assert!(
                (0.92..=0.98).contains(&rate),
                "{what} interval held the truth in {rate}"
            );
        }
    }

    #[test]
    fn too_few_accounts_or_events_is_said_not_computed() {
        assert!(
            rate_lift(5, 29, 5, 100)
                .unwrap_err()
                .reason
                .contains("29 treated")
        );
        assert!(
            rate_lift(3, 100, 10, 100)
                .unwrap_err()
                .reason
                .contains("3 of 100 treated")
        );
        assert!(mean_lift(&[1.0; 10], &[1.0; 100]).is_err());
    }
}
