//! The account view: of the companies a campaign, an audience or an
//! advertiser targets, which were **reached** (at least one impression in
//! the window) and **engaged** (at least N clicks or M impressions, the
//! tenant's rule, by default 1 click or 10 impressions), with reach,
//! frequency, spend per reached account, the top accounts and the list of
//! those not reached. The targets are the current members of the audiences
//! the campaigns' ad groups include; members held out (kept from the
//! targeting to measure lift) are counted apart, and a held-out account
//! that was reached anyway is shown, since it weakens the lift measured.

pub mod api;
mod service;
mod store;

use std::collections::HashMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

pub use service::{Scope, account_view, accounts, settings, tolerance, update_settings};

/// A tenant's reporting rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Settings {
    /// A reached account with at least this many clicks is engaged.
    pub engaged_min_clicks: i64,
    /// ... or with at least this many impressions.
    pub engaged_min_impressions: i64,
    /// How far (percent of plan) spend may be from plan before a campaign
    /// is under- or over-pacing.
    pub pacing_tolerance_pct: i64,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            engaged_min_clicks: 1,
            engaged_min_impressions: 10,
            pacing_tolerance_pct: 20,
        }
    }
}

/// Where a target account stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Reached and engaged.
    Engaged,
    /// Reached, not (yet) engaged.
    Reached,
    Unreached,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Engaged => "engaged",
            Status::Reached => "reached",
            Status::Unreached => "unreached",
        }
    }
}

/// What one company received in the window.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Delivered {
    pub impressions: i64,
    pub clicks: i64,
    pub spend: i64,
}

impl Settings {
    pub fn status(&self, d: Option<&Delivered>) -> Status {
        match d {
            Some(d) if d.impressions > 0 || d.clicks > 0 => {
                if d.clicks >= self.engaged_min_clicks
                    || d.impressions >= self.engaged_min_impressions
                {
                    Status::Engaged
                } else {
                    Status::Reached
                }
            }
            _ => Status::Unreached,
        }
    }
}

/// A target account and what it received.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct AccountRow {
    pub domain: String,
    pub name: Option<String>,
    pub status: Status,
    pub impressions: i64,
    pub clicks: i64,
    pub spend_usd_micros: i64,
}

/// The account view.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct AccountView {
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// The campaigns counted.
    pub campaigns: Vec<Uuid>,
    /// The audiences whose members are the targets.
    pub audiences: Vec<Uuid>,
    pub target_accounts: i64,
    pub reached: i64,
    pub engaged: i64,
    /// Reached / target accounts (absent without targets).
    pub reach_rate: Option<f64>,
    pub engaged_rate: Option<f64>,
    /// Impressions, clicks and spend on target accounts.
    pub impressions: i64,
    pub clicks: i64,
    pub spend_usd_micros: i64,
    /// Impressions per reached target account.
    pub frequency: Option<f64>,
    pub spend_per_reached_usd_micros: Option<i64>,
    /// Everything the campaigns delivered, on targets or not.
    pub all_impressions: i64,
    pub all_spend_usd_micros: i64,
    /// Impressions from addresses in no company's range.
    pub unresolved_impressions: i64,
    /// Companies reached that are not targets.
    pub other_accounts_reached: i64,
    /// Members held out of the targeting, and how many were reached anyway.
    pub holdout_accounts: i64,
    pub holdout_reached: i64,
    pub rule: Settings,
    /// The ten target accounts with the most impressions.
    pub top_accounts: Vec<AccountRow>,
}

/// The view from the targets and what each company received (`""`: the
/// unresolved impressions).
pub fn view(
    targets: &[(String, bool)],
    delivered: &HashMap<String, Delivered>,
    rule: Settings,
) -> AccountView {
    let mut v = AccountView {
        from: NaiveDate::default(),
        to: NaiveDate::default(),
        campaigns: Vec::new(),
        audiences: Vec::new(),
        target_accounts: 0,
        reached: 0,
        engaged: 0,
        reach_rate: None,
        engaged_rate: None,
        impressions: 0,
        clicks: 0,
        spend_usd_micros: 0,
        frequency: None,
        spend_per_reached_usd_micros: None,
        all_impressions: 0,
        all_spend_usd_micros: 0,
        unresolved_impressions: delivered.get("").map_or(0, |d| d.impressions),
        other_accounts_reached: 0,
        holdout_accounts: 0,
        holdout_reached: 0,
        rule,
        top_accounts: Vec::new(),
    };
    for d in delivered.values() {
        v.all_impressions += d.impressions;
        v.all_spend_usd_micros += d.spend;
    }
    let mut named = 0;
    let mut top = Vec::new();
    for (domain, holdout) in targets {
        let d = delivered.get(domain);
        let status = rule.status(d);
        if *holdout {
            v.holdout_accounts += 1;
            v.holdout_reached += i64::from(status != Status::Unreached);
            continue;
        }
        v.target_accounts += 1;
        if let Some(d) = d {
            named += 1;
            v.impressions += d.impressions;
            v.clicks += d.clicks;
            v.spend_usd_micros += d.spend;
        }
        match status {
            Status::Engaged => {
                v.reached += 1;
                v.engaged += 1;
            }
            Status::Reached => v.reached += 1,
            Status::Unreached => continue,
        }
        let d = d.copied().unwrap_or_default();
        top.push(AccountRow {
            domain: domain.clone(),
            name: None,
            status,
            impressions: d.impressions,
            clicks: d.clicks,
            spend_usd_micros: d.spend,
        });
    }
    let resolved = delivered.len() as i64 - i64::from(delivered.contains_key(""));
    v.other_accounts_reached = resolved - named - v.holdout_reached;
    if v.target_accounts > 0 {
        v.reach_rate = Some(v.reached as f64 / v.target_accounts as f64);
        v.engaged_rate = Some(v.engaged as f64 / v.target_accounts as f64);
    }
    if v.reached > 0 {
        v.frequency = Some(v.impressions as f64 / v.reached as f64);
        v.spend_per_reached_usd_micros =
            crate::report::ratio(i128::from(v.spend_usd_micros), i128::from(v.reached));
    }
    top.sort_by(|a, b| {
        b.impressions
            .cmp(&a.impressions)
            .then_with(|| a.domain.cmp(&b.domain))
    });
    top.truncate(10);
    v.top_accounts = top;
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reach_engagement_and_holdouts_are_counted_apart() {
        let targets: Vec<(String, bool)> = [
            ("a.example", false),
            ("b.example", false),
            ("c.example", false),
            ("d.example", false),
            ("h.example", true),
        ]
        .iter()
        .map(|(d, h)| (d.to_string(), *h))
        .collect();
        let d = |impressions, clicks, spend| Delivered {
            impressions,
            clicks,
            spend,
        };
        let delivered: HashMap<String, Delivered> = [
            ("a.example", d(12, 0, 120)), // engaged by impressions
            ("b.example", d(2, 1, 20)),   // engaged by a click
            ("c.example", d(3, 0, 30)),   // reached
            ("h.example", d(1, 0, 10)),   // a held-out account reached
            ("x.example", d(5, 0, 50)),   // not a target
            ("", d(100, 2, 1000)),        // unresolved
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), *v))
        .collect();
        let v = view(&targets, &delivered, Settings::default());
        assert_eq!(
            (v.target_accounts, v.reached, v.engaged),
            (4, 3, 2),
            "{v:?}"
        );
        assert_eq!((v.impressions, v.clicks, v.spend_usd_micros), (17, 1, 170));
        assert_eq!(v.reach_rate, Some(0.75));
        assert_eq!(v.spend_per_reached_usd_micros, Some(57));
        assert_eq!((v.holdout_accounts, v.holdout_reached), (1, 1));
        assert_eq!(v.other_accounts_reached, 1);
        assert_eq!(
            (v.all_impressions, v.unresolved_impressions),
            (12 + 2 + 3 + 1 + 5 + 100, 100)
        );
        let top: Vec<_> = v.top_accounts.iter().map(|a| a.domain.as_str()).collect();
        assert_eq!(top, ["a.example", "c.example", "b.example"]);
        // A stricter rule: 2 clicks or 20 impressions.
        let strict = Settings {
            engaged_min_clicks: 2,
            engaged_min_impressions: 20,
            ..Settings::default()
        };
        assert_eq!(view(&targets, &delivered, strict).engaged, 0);
    }
}
