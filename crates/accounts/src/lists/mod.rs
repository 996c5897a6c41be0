//! Account lists: the companies a customer brings, as a CSV export of its
//! CRM or a spreadsheet ([`parse`]), each row matched to the company
//! universe ([`matching`]: by registrable domain, else by a name that names
//! exactly one company) and kept as given with its outcome: **matched**,
//! **ambiguous** (the candidates listed, for a user to pick one) or
//! **unmatched** (with the reason). The list carries its match report: the
//! counts, the match rate, and the rows not matched as a CSV.

pub mod api;
pub mod matching;
pub mod parse;
pub mod service;
pub mod store;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::ids::AccountListId;

platform::text_enum! {
    /// How a row of an account list ended.
    pub enum RowStatus {
        Matched = "matched",
        Ambiguous = "ambiguous",
        Unmatched = "unmatched",
    }
}

platform::text_enum! {
    /// How a matched row found its company.
    pub enum MatchedBy {
        Domain = "domain",
        Name = "name",
        /// A user picked it (a candidate of an ambiguous row, or any company
        /// for an unmatched one).
        Picked = "picked",
    }
}

/// An account list and its match report.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct AccountList {
    pub id: AccountListId,
    pub name: String,
    /// Rows read from the file (blank lines not counted).
    pub rows: i64,
    pub matched: i64,
    pub ambiguous: i64,
    pub unmatched: i64,
    /// Distinct companies matched (two rows may name one company).
    pub companies: i64,
    /// matched / rows, 0 to 1.
    pub match_rate: f64,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i64,
}

/// A row of an account list: what the file said and how it matched.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq, Eq)]
pub struct ListRow {
    /// Its line in the uploaded file (the header is line 1).
    pub line: i64,
    pub domain: Option<String>,
    pub name: Option<String>,
    pub salesforce_id: Option<String>,
    pub status: RowStatus,
    pub matched_by: Option<MatchedBy>,
    /// The matched company's domain.
    pub company: Option<String>,
    /// An ambiguous row's candidates (domains), for a user to pick from.
    pub candidates: Vec<String>,
    /// Why an ambiguous or unmatched row did not match.
    pub reason: Option<String>,
}

/// A user's answer for a row: the company it means.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RowMatch {
    /// The company's domain (any form: `www.acme.com` is `acme.com`).
    pub company: String,
}
