//! A saved audience: its definition, its builds (each with its members and
//! the changes from the build before), read through `/v1/audiences`.

pub mod api;
pub mod service;
pub mod store;

use accounts::ids::AccountListId;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::ids::AudienceId;
use crate::rule::Rule;

/// The audiences ad groups may target: campaigns checks `targeting.audiences`
/// through it.
pub struct Catalog;

impl campaigns::ad_groups::audiences::AudienceCatalog for Catalog {
    fn existing<'a>(
        &'a self,
        tx: &'a mut tenancy::TenantTx,
        ids: &'a [uuid::Uuid],
    ) -> campaigns::ad_groups::audiences::CatalogFuture<'a> {
        Box::pin(store::existing(tx, ids))
    }
}

/// An audience as the API shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Audience {
    pub id: AudienceId,
    pub name: String,
    pub include_lists: Vec<AccountListId>,
    pub exclude_lists: Vec<AccountListId>,
    pub rule: Rule,
    /// The latest build's number (0: never built).
    pub builds: i64,
    /// The surge week the latest build used.
    pub built_week: Option<NaiveDate>,
    pub built_at: Option<DateTime<Utc>>,
    pub members: i64,
    /// Members in the control group (never activated).
    pub held_out: i64,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i64,
}

/// An audience to save (or preview).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAudience {
    pub name: String,
    #[serde(default)]
    pub include_lists: Vec<AccountListId>,
    #[serde(default)]
    pub exclude_lists: Vec<AccountListId>,
    #[serde(default)]
    pub rule: Rule,
}

/// A topic a member surged on.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct TopicScore {
    pub topic: String,
    pub score: u8,
}

/// A member and why.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq, Eq)]
pub struct MemberView {
    pub domain: String,
    pub holdout: bool,
    pub in_list: bool,
    pub topics: Vec<TopicScore>,
    /// Why it is a member, in words.
    pub reason: String,
}

/// One build.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq, Eq)]
pub struct BuildView {
    pub n: i64,
    pub week: Option<NaiveDate>,
    /// What caused it: `saved`, `week` (a new surge week) or `lists`.
    pub trigger: String,
    pub members: i64,
    pub held_out: i64,
    pub added: i64,
    pub removed: i64,
    /// Chosen topics the week did not have.
    pub unknown_topics: Vec<String>,
    pub built_at: DateTime<Utc>,
}

/// A company that came or went in a build.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq, Eq)]
pub struct ChangeView {
    pub domain: String,
    pub added: bool,
    pub reason: String,
}

/// What an audience would be, before saving it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Preview {
    pub members: usize,
    pub held_out: usize,
    /// The surge week used (absent: none ingested yet).
    pub week: Option<NaiveDate>,
    pub unknown_topics: Vec<String>,
    /// Up to 20 members, highest intent first.
    pub sample: Vec<MemberView>,
}
