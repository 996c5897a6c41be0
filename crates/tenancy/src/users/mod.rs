//! Users: provisioning on first sign-in, invitations, role changes and
//! deactivation, and staff members' tenant assignments.
//!
//! Users are identified by (issuer, subject). Customers are provisioned when
//! their token names an active tenant and a customer role, or when an
//! invitation for their e-mail address exists; after that P360's stored role
//! is the one that counts (so `customer_admin` can change it). Staff are
//! provisioned from the issuer's roles claim, which stays authoritative for
//! them (Entra ID app roles); their tenant assignments are kept in P360.

pub mod api;
pub mod provision;
pub mod store;

use chrono::{DateTime, Utc};
use platform::http::problem::FieldError;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::principal::{Principal, UserId};
use crate::roles::{Role, UserKind};
use crate::scope::TenantId;

platform::text_enum! {
    /// Where a user account stands.
    pub enum UserStatus {
        Invited = "invited",
        Active = "active",
        Deactivated = "deactivated",
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct User {
    pub id: UserId,
    pub tenant_id: Option<TenantId>,
    /// `staff` or `customer`.
    pub kind: String,
    pub email: Option<String>,
    pub name: Option<String>,
    pub role: String,
    pub status: UserStatus,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Invitation {
    pub email: String,
    pub role: String,
    pub name: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserPatch {
    pub role: Option<String>,
    /// `active` or `deactivated`.
    pub status: Option<String>,
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StaffStatus {
    /// `active` or `deactivated`.
    pub status: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Assignments {
    /// Slugs of the tenants the staff member works in (replaces the current set).
    pub tenants: Vec<String>,
}

/// A customer role the principal may grant (no higher than their own).
pub(crate) fn customer_role(
    name: &str,
    principal: &Principal,
    errors: &mut Vec<FieldError>,
) -> Option<Role> {
    let Some(role) = Role::parse(name).filter(|r| r.kind() == UserKind::Customer) else {
        errors.push(FieldError::new(
            "role",
            "invalid_value",
            "one of customer_admin, marketer, viewer",
        ));
        return None;
    };
    let allowed = match principal.role.customer_rank() {
        Some(mine) => role.customer_rank().is_some_and(|r| r <= mine),
        None => principal.is_staff(),
    };
    if !allowed {
        errors.push(FieldError::new(
            "role",
            "above_own_role",
            format!(
                "cannot grant {role}, which is above your own role ({})",
                principal.role
            ),
        ));
        return None;
    }
    Some(role)
}

pub(crate) fn email_is_plausible(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && s.len() <= 254
        && !s.chars().any(char::is_whitespace)
}

#[cfg(test)]
mod tests {
    use super::email_is_plausible;

    #[test]
    fn plausible_addresses() {
        assert!(email_is_plausible("ann@acme.example"));
        for bad in [
            "ann",
            "@acme.example",
            "ann@acme",
            "ann@.acme",
            "ann @acme.example",
        ] {
            assert!(!email_is_plausible(bad), "{bad}");
        }
    }
}
