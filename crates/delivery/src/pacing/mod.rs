//! Pacing: is a campaign (or an insertion order) spending on plan? Spend
//! to date (TTD's advertiser cost from the merged campaign hours) against
//! the plan of its pacing mode at the same moment, the spend projected at
//! the flight's end from the last three days' run rate, and a state:
//! under- or over-pacing when spend is further from plan than the tenant's
//! tolerance (default ±20 %).
//!
//! The plans, over a flight from its first day 00:00 UTC to the end of its
//! last day (both dates included):
//! - **even**: linear over the flight;
//! - **ahead** (TTD's "pace ahead", front-loaded so the budget is spent
//!   before the flight ends): linear over the first 90 % of the flight;
//! - **asap**: the whole budget is due at once; with a daily cap, one cap
//!   per started day.
//!
//! A daily cap also bounds the even and ahead plans (a cap per elapsed
//! day). The moment compared is when the delivery data ends (the end of
//! the last hour ingested), not the wall clock, so a feed that runs an hour
//! or two behind does not read as under-pacing.

pub mod api;
mod service;
mod store;

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use serde::Serialize;
use utoipa::ToSchema;

pub use service::{CampaignPacing, IoPacing, campaign, insertion_order, live, moment};
pub use store::data_until;

use crate::report::ratio;

/// The share of the flight an "ahead" plan spends the budget over.
const AHEAD_SHARE: f64 = 0.9;

/// How a budget is meant to be spent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    Even,
    Ahead,
    Asap,
}

/// What is to be spent, and when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    pub budget: i64,
    pub daily_cap: Option<i64>,
    pub start: NaiveDate,
    /// The last day of the flight (included).
    pub end: NaiveDate,
    pub mode: Mode,
}

/// What was spent (micro-dollars), up to the moment compared.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Spent {
    pub to_date: i64,
    /// In the 72 hours before the moment.
    pub last_3_days: i64,
    /// In the 24 hours before the moment.
    pub last_24_hours: i64,
}

/// Where spend stands against plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// The flight has not started.
    NotStarted,
    OnTrack,
    UnderPacing,
    OverPacing,
    /// The flight is over (spent against budget is final).
    Ended,
    /// The budget is not in US dollars, TTD's reporting currency.
    NotComparable,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::NotStarted => "not_started",
            State::OnTrack => "on_track",
            State::UnderPacing => "under_pacing",
            State::OverPacing => "over_pacing",
            State::Ended => "ended",
            State::NotComparable => "not_comparable",
        }
    }
}

/// The pacing of a budget at a moment.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, ToSchema)]
pub struct Pace {
    /// The moment compared: the end of the delivery data.
    pub as_of: DateTime<Utc>,
    /// How much of the flight has passed, 0 to 1.
    pub elapsed: f64,
    /// What the mode plans to have spent by `as_of`, micros.
    pub planned_to_date_micros: i64,
    pub spent_to_date_usd_micros: i64,
    /// Spent / planned (absent while nothing is planned).
    pub pace_ratio: Option<f64>,
    /// Spent so far plus the last three days' hourly run rate over the
    /// hours left (absent before the flight or after it).
    pub projected_spend_micros: Option<i64>,
    /// Projected / budget.
    pub projected_ratio: Option<f64>,
    pub spent_last_24_hours_usd_micros: i64,
    pub state: State,
}

/// The flight's first and last instants (the end excluded).
fn bounds(b: &Budget) -> (DateTime<Utc>, DateTime<Utc>) {
    let start = b.start.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc();
    let end = (b.end + TimeDelta::days(1))
        .and_hms_opt(0, 0, 0)
        .unwrap_or_default()
        .and_utc();
    (start, end)
}

/// What `b`'s mode plans to have spent at `at`.
pub fn planned(b: &Budget, at: DateTime<Utc>) -> i64 {
    let (start, end) = bounds(b);
    if at <= start {
        return 0;
    }
    let total = (end - start).num_seconds().max(1) as f64;
    let gone = (at.min(end) - start).num_seconds() as f64;
    let f = gone / total;
    let budget = b.budget as f64;
    let days = gone / 86_400.0;
    let plan = match b.mode {
        Mode::Even => budget * f,
        Mode::Ahead => budget * (f / AHEAD_SHARE).min(1.0),
        Mode::Asap => match b.daily_cap {
            Some(cap) => (cap as f64 * days.ceil()).min(budget),
            None => budget,
        },
    };
    let plan = match (b.mode, b.daily_cap) {
        (Mode::Even | Mode::Ahead, Some(cap)) => plan.min(cap as f64 * days),
        _ => plan,
    };
    plan.round() as i64
}

/// The pacing of `b` with `spent`, at `at`, with a tolerance of
/// `tolerance_pct` percent of plan.
pub fn pace(b: &Budget, spent: Spent, at: DateTime<Utc>, tolerance_pct: i64) -> Pace {
    let (start, end) = bounds(b);
    let total = (end - start).num_seconds().max(1) as f64;
    let elapsed = ((at - start).num_seconds() as f64 / total).clamp(0.0, 1.0);
    let plan = planned(b, at);
    let in_flight = at > start && at < end;
    let projected = in_flight.then(|| {
        let hours_gone = (at - start).num_seconds() as f64 / 3600.0;
        let window = hours_gone.min(72.0);
        let rate = spent.last_3_days as f64 / window;
        let left = (end - at).num_seconds() as f64 / 3600.0;
        spent.to_date + (rate * left).round() as i64
    });
    let tolerance = tolerance_pct as f64 / 100.0;
    let pace_ratio = (plan > 0).then(|| spent.to_date as f64 / plan as f64);
    let state = if at <= start {
        State::NotStarted
    } else if at >= end {
        State::Ended
    } else {
        match pace_ratio {
            Some(r) if r < 1.0 - tolerance => State::UnderPacing,
            Some(r) if r > 1.0 + tolerance => State::OverPacing,
            _ => State::OnTrack,
        }
    };
    Pace {
        as_of: at,
        elapsed,
        planned_to_date_micros: plan,
        spent_to_date_usd_micros: spent.to_date,
        pace_ratio,
        projected_spend_micros: projected,
        projected_ratio: projected.and_then(|p| {
            ratio(i128::from(p) * 1_000_000, i128::from(b.budget)).map(|r| r as f64 / 1e6)
        }),
        spent_last_24_hours_usd_micros: spent.last_24_hours,
        state,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn budget(mode: Mode, cap: Option<i64>) -> Budget {
        // Ten days, 1,000 dollars.
        Budget {
            budget: 1_000_000_000,
            daily_cap: cap,
            start: NaiveDate::from_ymd_opt(2026, 12, 1).unwrap(),
            end: NaiveDate::from_ymd_opt(2026, 12, 10).unwrap(),
            mode,
        }
    }

    fn at(day: u32, hour: u32) -> DateTime<Utc> {
        NaiveDate::from_ymd_opt(2026, 12, day)
            .unwrap()
            .and_hms_opt(hour, 0, 0)
            .unwrap()
            .and_utc()
    }

    #[test]
    fn each_mode_plans_the_flight_at_its_start_middle_and_end() {
        let even = budget(Mode::Even, None);
        let ahead = budget(Mode::Ahead, None);
        let asap = budget(Mode::Asap, None);
        let capped = budget(Mode::Asap, Some(150_000_000));
        // Before the flight: nothing planned.
        for b in [&even, &ahead, &asap, &capped] {
            assert_eq!(planned(b, at(1, 0)), 0);
        }
        // Twelve hours in: a twentieth evenly, more ahead, all at once.
        assert_eq!(planned(&even, at(1, 12)), 50_000_000);
        assert_eq!(planned(&ahead, at(1, 12)), 55_555_556);
        assert_eq!(planned(&asap, at(1, 12)), 1_000_000_000);
        assert_eq!(planned(&capped, at(1, 12)), 150_000_000);
        // Halfway.
        assert_eq!(planned(&even, at(6, 0)), 500_000_000);
        assert_eq!(planned(&ahead, at(6, 0)), 555_555_556);
        assert_eq!(planned(&capped, at(6, 0)), 750_000_000);
        // Ahead is done at 90 % of the flight; the capped ASAP on day 7.
        assert_eq!(planned(&ahead, at(10, 0)), 1_000_000_000);
        assert_eq!(planned(&capped, at(7, 1)), 1_000_000_000);
        // The end: everything, in every mode.
        for b in [&even, &ahead, &asap, &capped] {
            assert_eq!(planned(b, at(11, 0)), 1_000_000_000);
        }
        // A daily cap bounds the even plan too.
        let tight = budget(Mode::Even, Some(50_000_000));
        assert_eq!(planned(&tight, at(3, 0)), 100_000_000);
    }

    #[test]
    fn states_follow_the_tolerance_and_the_projection_the_run_rate() {
        let b = budget(Mode::Even, None);
        let spent = |to_date, last_3_days| Spent {
            to_date,
            last_3_days,
            last_24_hours: last_3_days / 3,
        };
        // Halfway, 500 planned.
        let on = pace(&b, spent(450_000_000, 300_000_000), at(6, 0), 20);
        assert_eq!(on.state, State::OnTrack);
        assert_eq!(on.pace_ratio, Some(0.9));
        // 100 a day lately, five days left: 450 + 500.
        assert_eq!(on.projected_spend_micros, Some(950_000_000));
        assert_eq!(on.projected_ratio, Some(0.95));
        let under = pace(&b, spent(390_000_000, 0), at(6, 0), 20);
        assert_eq!(under.state, State::UnderPacing);
        assert_eq!(under.projected_spend_micros, Some(390_000_000));
        assert_eq!(
            pace(&b, spent(610_000_000, 0), at(6, 0), 20).state,
            State::OverPacing
        );
        assert_eq!(
            pace(&b, spent(610_000_000, 0), at(6, 0), 25).state,
            State::OnTrack
        );
        // At the start nothing is planned yet; after the end it is final.
        let start = pace(&b, spent(0, 0), at(1, 0), 20);
        assert_eq!((start.state, start.pace_ratio), (State::NotStarted, None));
        let end = pace(&b, spent(990_000_000, 0), at(11, 0), 20);
        assert_eq!(
            (end.state, end.projected_spend_micros, end.elapsed),
            (State::Ended, None, 1.0)
        );
        // Two hours in, the run rate is over the two hours, not three days.
        let early = pace(&b, spent(10_000_000, 10_000_000), at(1, 2), 20);
        assert_eq!(
            early.projected_spend_micros,
            Some(10_000_000 + 5_000_000 * 238)
        );
    }
}
