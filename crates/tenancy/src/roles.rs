//! Roles and the permission matrix: the one place that says who may do what.
//! `docs/permissions.md` is rendered from [`render_matrix`] (a test keeps it in step).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Whether a role belongs to the agency's staff or to a customer's team.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum UserKind {
    Staff,
    Customer,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    // Staff
    PlatformAdmin,
    AccountManager,
    AdOps,
    Finance,
    Analyst,
    // Customers
    CustomerAdmin,
    Marketer,
    Viewer,
}

/// Something a request may be allowed to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Permission {
    /// Create and suspend tenants.
    TenantsManage,
    /// List tenants (staff).
    TenantsRead,
    /// See the users of a tenant.
    UsersRead,
    /// Invite users, change their role, deactivate them.
    UsersManage,
    /// Assign staff to tenants.
    StaffManage,
    /// See a tenant's API keys.
    ApiKeysRead,
    /// Create and revoke API keys.
    ApiKeysManage,
    /// Read the audit log.
    AuditRead,
    /// See campaigns, audiences, creatives.
    CampaignsRead,
    /// Create and edit campaigns, audiences, creatives (drafts).
    CampaignsWrite,
    /// Approve submitted campaigns.
    CampaignsApprove,
    /// Change an insertion order's commercial terms (pricing model, rate,
    /// budget): the customer's contract, so the agency's finance and
    /// account staff only.
    CommercialTermsManage,
    /// See reports and attribution.
    ReportsRead,
    /// See invoices and billing data.
    BillingRead,
    /// Run billing, issue invoices.
    BillingManage,
    /// See background jobs of every tenant and retry them (operators).
    JobsOperate,
    /// Read the platform's own audit chain: deployments, job retries (operators).
    PlatformAuditRead,
    /// Load the company universe and its IP ranges: reference data every
    /// tenant reads (platform admins).
    CompaniesManage,
    /// Connect, sync and disconnect the tenant's CRM (its Salesforce org's
    /// credentials are the tenant's: its admins and its account managers).
    IntegrationsManage,
}

impl Role {
    pub const ALL: [Role; 8] = [
        Role::PlatformAdmin,
        Role::AccountManager,
        Role::AdOps,
        Role::Finance,
        Role::Analyst,
        Role::CustomerAdmin,
        Role::Marketer,
        Role::Viewer,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::PlatformAdmin => "platform_admin",
            Role::AccountManager => "account_manager",
            Role::AdOps => "ad_ops",
            Role::Finance => "finance",
            Role::Analyst => "analyst",
            Role::CustomerAdmin => "customer_admin",
            Role::Marketer => "marketer",
            Role::Viewer => "viewer",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }

    pub fn kind(self) -> UserKind {
        match self {
            Role::PlatformAdmin
            | Role::AccountManager
            | Role::AdOps
            | Role::Finance
            | Role::Analyst => UserKind::Staff,
            Role::CustomerAdmin | Role::Marketer | Role::Viewer => UserKind::Customer,
        }
    }

    /// Staff roles that see every tenant rather than their assigned ones.
    pub fn sees_all_tenants(self) -> bool {
        matches!(self, Role::PlatformAdmin | Role::Finance)
    }

    /// Rank among customer roles, for "no higher than the creator's" checks.
    pub fn customer_rank(self) -> Option<u8> {
        match self {
            Role::CustomerAdmin => Some(3),
            Role::Marketer => Some(2),
            Role::Viewer => Some(1),
            _ => None,
        }
    }

    pub fn allows(self, p: Permission) -> bool {
        use Permission::*;
        match self {
            Role::PlatformAdmin => true,
            Role::AccountManager | Role::AdOps => {
                matches!(
                    p,
                    TenantsRead
                        | UsersRead
                        | ApiKeysRead
                        | AuditRead
                        | CampaignsRead
                        | CampaignsWrite
                        | CampaignsApprove
                        | ReportsRead
                        | BillingRead
                ) || (self == Role::AccountManager
                    && matches!(p, CommercialTermsManage | IntegrationsManage))
            }
            Role::Finance => matches!(
                p,
                TenantsRead
                    | AuditRead
                    | CampaignsRead
                    | CommercialTermsManage
                    | ReportsRead
                    | BillingRead
                    | BillingManage
            ),
            Role::Analyst => matches!(
                p,
                TenantsRead | UsersRead | AuditRead | CampaignsRead | ReportsRead
            ),
            Role::CustomerAdmin => matches!(
                p,
                UsersRead
                    | UsersManage
                    | ApiKeysRead
                    | ApiKeysManage
                    | AuditRead
                    | CampaignsRead
                    | CampaignsWrite
                    | CampaignsApprove
                    | ReportsRead
                    | BillingRead
                    | IntegrationsManage
            ),
            Role::Marketer => matches!(p, UsersRead | CampaignsRead | CampaignsWrite | ReportsRead),
            Role::Viewer => matches!(p, CampaignsRead | ReportsRead),
        }
    }
}

impl Permission {
    pub const ALL: [Permission; 19] = [
        Permission::TenantsManage,
        Permission::TenantsRead,
        Permission::UsersRead,
        Permission::UsersManage,
        Permission::StaffManage,
        Permission::ApiKeysRead,
        Permission::ApiKeysManage,
        Permission::AuditRead,
        Permission::CampaignsRead,
        Permission::CampaignsWrite,
        Permission::CampaignsApprove,
        Permission::CommercialTermsManage,
        Permission::ReportsRead,
        Permission::BillingRead,
        Permission::BillingManage,
        Permission::JobsOperate,
        Permission::PlatformAuditRead,
        Permission::CompaniesManage,
        Permission::IntegrationsManage,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Permission::TenantsManage => "tenants.manage",
            Permission::TenantsRead => "tenants.read",
            Permission::UsersRead => "users.read",
            Permission::UsersManage => "users.manage",
            Permission::StaffManage => "staff.manage",
            Permission::ApiKeysRead => "api_keys.read",
            Permission::ApiKeysManage => "api_keys.manage",
            Permission::AuditRead => "audit.read",
            Permission::CampaignsRead => "campaigns.read",
            Permission::CampaignsWrite => "campaigns.write",
            Permission::CampaignsApprove => "campaigns.approve",
            Permission::CommercialTermsManage => "commercial_terms.manage",
            Permission::ReportsRead => "reports.read",
            Permission::BillingRead => "billing.read",
            Permission::BillingManage => "billing.manage",
            Permission::JobsOperate => "jobs.operate",
            Permission::PlatformAuditRead => "audit.platform_read",
            Permission::CompaniesManage => "companies.manage",
            Permission::IntegrationsManage => "integrations.manage",
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The permission matrix as a Markdown table.
pub fn render_matrix() -> String {
    let mut out = String::from(
        "# Permissions\n\n\
         Rendered from `crates/tenancy/src/roles.rs` (the one place that decides); \
         a test fails when this page and the code differ. Staff roles act in the \
         tenants they are assigned to, except `platform_admin` and `finance`, which \
         see every tenant. Customer roles act in their own tenant only.\n\n| permission |",
    );
    for r in Role::ALL {
        out.push_str(&format!(" {} |", r.as_str()));
    }
    out.push_str("\n| --- |");
    for _ in Role::ALL {
        out.push_str(" :-: |");
    }
    out.push('\n');
    for p in Permission::ALL {
        out.push_str(&format!("| `{}` |", p.as_str()));
        for r in Role::ALL {
            out.push_str(if r.allows(p) { " yes |" } else { " |" });
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docs_show_the_matrix_the_code_enforces() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/permissions.md");
        let rendered = render_matrix();
        if std::env::var_os("P360_TEST_UPDATE_DOCS").is_some() {
            std::fs::write(path, &rendered).unwrap();
        }
        let committed = std::fs::read_to_string(path).unwrap_or_default();
        assert_eq!(
            committed, rendered,
            "docs/permissions.md is stale: run the tenancy tests with P360_TEST_UPDATE_DOCS=1"
        );
    }

    #[test]
    fn role_names_round_trip_and_kinds_are_consistent() {
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Some(r));
            assert_eq!(r.customer_rank().is_some(), r.kind() == UserKind::Customer);
        }
        assert_eq!(Role::parse("root"), None);
    }

    #[test]
    fn viewers_cannot_manage_api_keys_and_only_admins_manage_tenants() {
        assert!(!Role::Viewer.allows(Permission::ApiKeysManage));
        assert!(!Role::Marketer.allows(Permission::ApiKeysManage));
        assert!(Role::CustomerAdmin.allows(Permission::ApiKeysManage));
        for r in Role::ALL {
            assert_eq!(
                r.allows(Permission::TenantsManage),
                r == Role::PlatformAdmin
            );
        }
    }
}
