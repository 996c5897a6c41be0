//! Tenants: the customer organisations. The agency is the operator, not a
//! tenant. Platform admins create them; staff list the ones they may see.

pub mod api;
pub mod store;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::scope::TenantId;

platform::text_enum! {
    /// Whether a tenant's users and keys may act.
    pub enum TenantStatus { Active = "active", Suspended = "suspended" }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Tenant {
    pub id: TenantId,
    pub slug: String,
    pub name: String,
    pub status: TenantStatus,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTenant {
    /// Lower-case letters, digits and inner hyphens, 1 to 63 characters.
    pub slug: String,
    pub name: String,
}

/// A valid tenant slug.
pub fn slug_is_valid(s: &str) -> bool {
    let b = s.as_bytes();
    (1..=63).contains(&b.len())
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
}

#[cfg(test)]
mod tests {
    #[test]
    fn slugs_are_lower_case_words_with_inner_hyphens() {
        for ok in ["acme", "acme-corp", "a1", "x"] {
            assert!(super::slug_is_valid(ok), "{ok}");
        }
        for bad in ["", "-acme", "acme-", "Acme", "acme corp", &"a".repeat(64)] {
            assert!(!super::slug_is_valid(bad), "{bad}");
        }
    }
}
