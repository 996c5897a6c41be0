//! Company Surge: Bombora's weekly intent scores, one score (0–100; 60 and
//! above is "surging") per company and topic. A week is read from the file
//! in one streaming pass ([`parse`]), kept compactly in the object store in
//! P360's own format ([`format`]) and in memory by any instance that needs
//! it: companies by domain in one sorted list (a company's number is its
//! place in it), and per topic the companies scored with their scores, in
//! that order. An audience's intent rule is then a walk over a few topics'
//! arrays, and a company's scores a binary search per topic.

pub mod api;
mod blocks;
pub mod format;
pub mod landed;
mod merge;
pub mod parallel;
pub mod parse;
pub mod read;
pub mod service;
mod split;
pub mod store;
mod topic_ids;

use accounts::companies::SizeBand;

/// How the API ingests uploads (`[bombora]`).
#[derive(Debug, Clone, Copy, Default)]
pub struct IngestOptions {
    /// `bombora.create_unknown_companies`.
    pub create_companies: bool,
}

/// The first date in a file name (`Surge_2026-11-30.csv.gz`,
/// `surge_20261130.csv`): the week a file scores when nobody says.
pub fn date_in(name: &str) -> Option<chrono::NaiveDate> {
    use chrono::NaiveDate;
    let chars: Vec<char> = name.chars().collect();
    (0..chars.len()).find_map(|i| {
        let rest: String = chars[i..].iter().take(10).collect();
        NaiveDate::parse_from_str(rest.get(..10)?, "%Y-%m-%d")
            .ok()
            .or_else(|| NaiveDate::parse_from_str(rest.get(..8)?, "%Y%m%d").ok())
    })
}

/// The score from which Bombora calls a company surging on a topic.
pub const SURGING: u8 = 60;

/// What the week's file said about a company besides its scores.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Profile {
    /// Its registrable domain.
    pub domain: String,
    pub name: Option<String>,
    pub size: Option<SizeBand>,
    pub industry: Option<String>,
    pub country: Option<String>,
}

/// One topic's scores in a week: `companies[i]` scored `scores[i]`,
/// companies ascending.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TopicScores {
    pub name: String,
    pub category: String,
    pub companies: Vec<u32>,
    pub scores: Vec<u8>,
}

impl TopicScores {
    /// The score of company `c`, if the topic scored it.
    pub fn score(&self, c: u32) -> Option<u8> {
        self.companies
            .binary_search(&c)
            .ok()
            .map(|i| self.scores[i])
    }
}

/// A week of Company Surge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Week {
    /// The Monday of the week the scores are for.
    pub week: chrono::NaiveDate,
    /// The companies scored, by domain.
    pub profiles: Vec<Profile>,
    /// The topics, by name.
    pub topics: Vec<TopicScores>,
}

impl Week {
    /// The number of the company with registrable domain `domain`.
    pub fn company(&self, domain: &str) -> Option<u32> {
        self.profiles
            .binary_search_by(|p| p.domain.as_str().cmp(domain))
            .ok()
            .map(|i| i as u32)
    }

    /// The topic named `name`.
    pub fn topic(&self, name: &str) -> Option<&TopicScores> {
        self.topics
            .binary_search_by(|t| t.name.as_str().cmp(name))
            .ok()
            .map(|i| &self.topics[i])
    }

    /// Every (topic, score) of company `c`, by topic name.
    pub fn scores_of(&self, c: u32) -> impl Iterator<Item = (&TopicScores, u8)> {
        self.topics
            .iter()
            .filter_map(move |t| t.score(c).map(|s| (t, s)))
    }

    /// Scores held (company × topic pairs).
    pub fn pairs(&self) -> usize {
        self.topics.iter().map(|t| t.companies.len()).sum()
    }
}

/// The Monday of the ISO week `day` falls in.
pub fn monday_of(day: chrono::NaiveDate) -> chrono::NaiveDate {
    use chrono::Datelike;
    day - chrono::Days::new(u64::from(day.weekday().num_days_from_monday()))
}

#[cfg(test)]
mod tests;
