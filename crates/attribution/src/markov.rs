//! The data-driven model: a first-order Markov chain over paths of
//! campaigns, each path an account's touches in order ending in conversion
//! (an opportunity) or not, with a campaign's contribution measured by its
//! removal effect — how much the probability of converting falls when
//! every transition into it goes nowhere.
//!
//! Computed exactly from the absorbing chain rather than by simulating
//! journeys: with `Q` the transitions among the transient states (the
//! start and the campaigns) and `N = (I − Q)⁻¹` its fundamental matrix,
//! the probability of converting from state `i` is `x = N r` (`r` the
//! one-step conversion probabilities), and since a journey that reaches
//! campaign `c` converts afterwards with probability `x_c` whatever came
//! before (the Markov property), the probability of converting without
//! ever passing `c` is `x_start − h_c x_c`, `h_c = N[start][c] / N[c][c]`
//! the probability of reaching `c` at all. So the removal effect of `c`
//! is `h_c x_c / x_start`, for every campaign from one inversion.
//!
//! Consecutive touches of the same campaign are one step (a self-loop
//! changes no absorption probability, only the time to absorption).

use std::collections::HashMap;
use std::hash::Hash;

/// A journey, and how many accounts made it with and without converting.
#[derive(Debug, Clone)]
pub struct Path<C> {
    pub steps: Vec<C>,
    pub conversions: u64,
    pub nulls: u64,
}

/// Each campaign's removal effect (0 to 1) and its share of their total.
#[derive(Debug, Clone, PartialEq)]
pub struct RemovalEffects<C: Eq + Hash> {
    pub effect: HashMap<C, f64>,
    pub share: HashMap<C, f64>,
    /// The chain's probability of converting from the start.
    pub conversion_rate: f64,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MarkovError {
    #[error("no path converts: removal effects are undefined")]
    NoConversions,
    #[error("the chain is singular (a set of campaigns nothing leaves)")]
    Singular,
}

/// The removal effects of the campaigns on `paths`.
pub fn removal_effects<C: Clone + Eq + Hash + Ord>(
    paths: &[Path<C>],
) -> Result<RemovalEffects<C>, MarkovError> {
    let campaigns = campaigns(paths);
    let keyed: Vec<Path<u32>> = paths
        .iter()
        .map(|p| Path {
            steps: p
                .steps
                .iter()
                .filter_map(|s| campaigns.binary_search(s).ok().map(|k| k as u32))
                .collect(),
            conversions: p.conversions,
            nulls: p.nulls,
        })
        .collect();
    let r = removal_effects_keyed(&keyed)?;
    let name = |m: HashMap<u32, f64>| {
        m.into_iter()
            .map(|(k, v)| (campaigns[k as usize].clone(), v))
            .collect()
    };
    Ok(RemovalEffects {
        effect: name(r.effect),
        share: name(r.share),
        conversion_rate: r.conversion_rate,
    })
}

/// [`removal_effects`] of campaigns numbered in their order (a run's
/// campaigns are: their ids sorted), without looking any up.
pub fn removal_effects_keyed(paths: &[Path<u32>]) -> Result<RemovalEffects<u32>, MarkovError> {
    // States: 0 = start, 1..=n the campaigns on the paths in key order (so
    // the result does not depend on the paths' order).
    let keys = paths
        .iter()
        .flat_map(|p| &p.steps)
        .max()
        .map_or(0, |k| *k as usize + 1);
    let mut state = vec![0usize; keys];
    for step in paths.iter().flat_map(|p| &p.steps) {
        state[*step as usize] = 1;
    }
    let mut campaigns: Vec<u32> = Vec::new();
    for (k, s) in state.iter_mut().enumerate() {
        if *s == 1 {
            campaigns.push(k as u32);
            *s = campaigns.len();
        }
    }
    let n = campaigns.len() + 1;
    // Transition counts among transient states, and into conversion and null.
    let mut counts = vec![vec![0f64; n]; n];
    let mut to_conv = vec![0f64; n];
    let mut to_null = vec![0f64; n];
    let mut converted = 0u64;
    for p in paths {
        let weight_conv = p.conversions as f64;
        let weight_null = p.nulls as f64;
        let total = weight_conv + weight_null;
        if total == 0.0 {
            continue;
        }
        converted += p.conversions;
        let mut from = 0usize;
        for step in &p.steps {
            let to = state[*step as usize];
            if to == from {
                continue;
            }
            counts[from][to] += total;
            from = to;
        }
        to_conv[from] += weight_conv;
        to_null[from] += weight_null;
    }
    if converted == 0 {
        return Err(MarkovError::NoConversions);
    }
    // I − Q, and r.
    let mut a = vec![vec![0f64; n]; n];
    let mut r = vec![0f64; n];
    for i in 0..n {
        let out: f64 = counts[i].iter().sum::<f64>() + to_conv[i] + to_null[i];
        a[i][i] = 1.0;
        if out > 0.0 {
            for j in 0..n {
                a[i][j] -= counts[i][j] / out;
            }
            r[i] = to_conv[i] / out;
        }
    }
    let inv = invert(a).ok_or(MarkovError::Singular)?;
    let x: Vec<f64> = (0..n)
        .map(|i| (0..n).map(|j| inv[i][j] * r[j]).sum())
        .collect();
    let x_start = x[0];
    let mut effect = HashMap::new();
    for (k, c) in campaigns.iter().enumerate() {
        let s = k + 1;
        let reach = inv[0][s] / inv[s][s];
        let e = if x_start > 0.0 {
            (reach * x[s] / x_start).clamp(0.0, 1.0)
        } else {
            0.0
        };
        effect.insert(*c, e);
    }
    // Summed in the campaigns' order, so the shares do not change from one
    // call to the next.
    let total: f64 = campaigns.iter().map(|c| effect[c]).sum();
    let share = effect
        .iter()
        .map(|(c, e)| (*c, if total > 0.0 { e / total } else { 0.0 }))
        .collect();
    Ok(RemovalEffects {
        effect,
        share,
        conversion_rate: x_start,
    })
}

/// The campaigns on `paths`, sorted (a chain has tens of campaigns and
/// millions of steps: each step is looked up, not collected).
pub fn campaigns<C: Clone + Ord>(paths: &[Path<C>]) -> Vec<C> {
    let mut campaigns: Vec<C> = Vec::new();
    let mut last: Option<&C> = None;
    for step in paths.iter().flat_map(|p| &p.steps) {
        if last == Some(step) {
            continue;
        }
        if let Err(i) = campaigns.binary_search(step) {
            campaigns.insert(i, step.clone());
        }
        last = Some(step);
    }
    campaigns
}

/// The inverse of `a` by Gauss–Jordan elimination with partial pivoting.
fn invert(mut a: Vec<Vec<f64>>) -> Option<Vec<Vec<f64>>> {
    let n = a.len();
    let mut inv: Vec<Vec<f64>> = (0..n)
        .map(|i| (0..n).map(|j| if i == j { 1.0 } else { 0.0 }).collect())
        .collect();
    for col in 0..n {
        let pivot = (col..n).max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))?;
        if a[pivot][col].abs() < 1e-12 {
            return None;
        }
        a.swap(col, pivot);
        inv.swap(col, pivot);
        let p = a[col][col];
        for j in 0..n {
            a[col][j] /= p;
            inv[col][j] /= p;
        }
        for i in 0..n {
            if i != col {
                let f = a[i][col];
                if f != 0.0 {
                    for j in 0..n {
                        a[i][j] -= f * a[col][j];
                        inv[i][j] -= f * inv[col][j];
                    }
                }
            }
        }
    }
    Some(inv)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(steps: &[&'static str], conversions: u64, nulls: u64) -> Path<&'static str> {
        Path {
            steps: steps.to_vec(),
            conversions,
            nulls,
        }
    }

    #[test]
    fn the_textbook_example_by_hand() {
        // Paths: C1 > C2 converts, C1 converts, C2 does not.
        // start -> C1 2/3, C2 1/3; C1 -> C2 1/2, conv 1/2; C2 -> conv 1/2, null 1/2.
        // P(conv) = 2/3 (1/2 + 1/2 · 1/2) + 1/3 · 1/2 = 2/3.
        // Without C1: only start -> C2 -> conv: 1/3 · 1/2 = 1/6: effect 1 − 1/4 = 3/4.
        // Without C2: start -> C1 -> conv: 2/3 · 1/2 = 1/3: effect 1 − 1/2 = 1/2.
        let re = removal_effects(&[
            path(&["C1", "C2"], 1, 0),
            path(&["C1"], 1, 0),
            path(&["C2"], 0, 1),
        ])
        .unwrap();
        assert!((re.conversion_rate - 2.0 / 3.0).abs() < 1e-12);
        assert!((re.effect["C1"] - 0.75).abs() < 1e-12, "{re:?}");
        assert!((re.effect["C2"] - 0.5).abs() < 1e-12, "{re:?}");
        assert!((re.share["C1"] - 0.6).abs() < 1e-12);
        assert!((re.share["C2"] - 0.4).abs() < 1e-12);
    }

    #[test]
    fn loops_between_campaigns_are_solved_not_simulated() {
        // A > B > A > conv and B > null: the chain has a cycle A <-> B.
        let re = removal_effects(&[path(&["A", "B", "A"], 3, 0), path(&["B"], 0, 2)]).unwrap();
        // start -> A 3/5, B 2/5; A -> B 1/2, conv 1/2 (A's exits: B 3, conv 3);
        // B -> A 3/5, null 2/5. x_A = 1/2 + 1/2 x_B, x_B = 3/5 x_A:
        // x_A = 1/2 / (1 − 3/10) = 5/7, x_B = 3/7; x_start = 3/5·5/7 + 2/5·3/7 = 3/7 + 6/35 = 21/35 = 3/5.
        assert!((re.conversion_rate - 0.6).abs() < 1e-12, "{re:?}");
        // Without A nothing converts; without B: start -> A -> conv 3/5 · 1/2 = 3/10.
        assert!((re.effect["A"] - 1.0).abs() < 1e-12);
        assert!((re.effect["B"] - 0.5).abs() < 1e-12);
        // Repeated consecutive touches are one step.
        let same = removal_effects(&[
            path(&["A", "A", "B", "B", "A"], 3, 0),
            path(&["B", "B"], 0, 2),
        ])
        .unwrap();
        assert!((same.effect["B"] - 0.5).abs() < 1e-12);
        assert_eq!(
            removal_effects(&[path(&["A"], 0, 4)]).unwrap_err(),
            MarkovError::NoConversions
        );
    }
}
