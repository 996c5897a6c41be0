//! Attribution: which campaigns an opportunity's pipeline and revenue are
//! credited to, and whether the campaigns caused any of it.
//!
//! - [`models`]: the rule-based models (first, last, linear, time decay,
//!   U-shaped, W-shaped) over an opportunity's touches, and the split of an
//!   amount into credits that sum to it exactly (largest remainder).
//! - [`markov`]: the data-driven model, a first-order Markov chain over
//!   accounts' paths of campaigns, whose removal effects are computed
//!   exactly from the absorbing chain's fundamental matrix.
//! - [`lift`]: treated against held-out accounts, with confidence
//!   intervals and p-values, or "not enough data".

pub mod lift;
pub mod markov;
pub mod models;
