//! An audience's definition and its checks.

use accounts::companies::SizeBand;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The most topics an intent rule may name.
pub const MAX_TOPICS: usize = 200;

/// How many of the chosen topics a company must surge on.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Threshold {
    /// At least this many topics.
    Topics(u16),
    /// At least this percentage of the chosen topics (rounded up; Bombora's
    /// guidance is 25).
    Percent(u8),
}

/// Companies surging on the chosen topics.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct IntentRule {
    /// Topic names, as `GET /v1/intent/topics` lists them.
    pub topics: Vec<String>,
    /// The score from which a topic counts (default 60, "surging").
    #[serde(default = "default_min_score")]
    pub min_score: u8,
    #[serde(default = "default_threshold")]
    pub threshold: Threshold,
}

fn default_min_score() -> u8 {
    60
}

fn default_threshold() -> Threshold {
    Threshold::Percent(25)
}

/// Firmographic filters; an empty list filters nothing.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct Firmographics {
    pub sizes: Vec<SizeBand>,
    /// Industries, any case.
    pub industries: Vec<String>,
    /// Countries, any case.
    pub countries: Vec<String>,
}

/// Who is in an audience: the companies of the included lists and those the
/// intent rule selects (a union), less the excluded lists' companies, all
/// passing the firmographic filters, the highest intent first up to the cap;
/// then a stable share held out as a control group that is never activated.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct Rule {
    pub intent: Option<IntentRule>,
    pub firmographics: Firmographics,
    /// At most this many companies (highest intent first; list companies
    /// without intent last).
    pub cap: Option<u32>,
    /// Percent (0 to 50) of the members held out as a control group.
    pub holdout_percent: u8,
}

impl Rule {
    /// What is wrong with the rule, as (field, message) pairs.
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        if let Some(i) = &self.intent {
            if i.topics.is_empty() || i.topics.len() > MAX_TOPICS {
                out.push(("intent.topics", format!("1 to {MAX_TOPICS} topics")));
            }
            if i.topics
                .iter()
                .any(|t| t.trim().is_empty() || t.len() > 200)
            {
                out.push((
                    "intent.topics",
                    "each a topic name of 1 to 200 characters".into(),
                ));
            }
            if i.min_score > 100 {
                out.push(("intent.min_score", "0 to 100".into()));
            }
            match i.threshold {
                Threshold::Topics(n) if n == 0 || usize::from(n) > i.topics.len() => out.push((
                    "intent.threshold",
                    "1 to the number of topics chosen".into(),
                )),
                Threshold::Percent(p) if p == 0 || p > 100 => {
                    out.push(("intent.threshold", "1 to 100 percent".into()))
                }
                _ => {}
            }
        }
        if self.holdout_percent > 50 {
            out.push(("holdout_percent", "0 to 50".into()));
        }
        if self.cap == Some(0) {
            out.push(("cap", "at least 1 (or none)".into()));
        }
        let f = &self.firmographics;
        if f.industries.len() + f.countries.len() > 500 {
            out.push((
                "firmographics",
                "at most 500 industries and countries".into(),
            ));
        }
        out
    }

    /// How many chosen topics a company must surge on.
    pub fn topics_needed(&self) -> usize {
        let Some(i) = &self.intent else { return 0 };
        match i.threshold {
            Threshold::Topics(n) => usize::from(n),
            Threshold::Percent(p) => (i.topics.len() * usize::from(p)).div_ceil(100).max(1),
        }
    }
}
