//! Tenant scoping of database work. Every transaction that touches tenant-owned
//! rows is opened through [`begin`], which sets the tenants the row-level
//! security policies let it see; store functions still filter by tenant
//! explicitly, RLS is the second lock.

use serde::{Deserialize, Serialize};
use sqlx::{PgPool, Postgres, Transaction};
use utoipa::ToSchema;
use uuid::Uuid;

/// The id of a tenant (customer organisation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema, sqlx::Type)]
#[sqlx(transparent)]
#[serde(transparent)]
pub struct TenantId(pub Uuid);

impl std::fmt::Display for TenantId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// Which tenants' rows a transaction may see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Visibility {
    /// Platform-wide work: platform admins, authentication look-ups, system jobs.
    All,
    /// Exactly these tenants (possibly none).
    Tenants(Vec<TenantId>),
}

impl Visibility {
    pub fn one(t: TenantId) -> Visibility {
        Visibility::Tenants(vec![t])
    }

    pub fn includes(&self, t: TenantId) -> bool {
        match self {
            Visibility::All => true,
            Visibility::Tenants(ts) => ts.contains(&t),
        }
    }
}

/// Begin a transaction that sees only `vis`. The scope is set in the same
/// round trip as `BEGIN` (a simple-query batch): this runs on every request.
pub async fn begin(
    pool: &PgPool,
    vis: &Visibility,
) -> Result<Transaction<'static, Postgres>, sqlx::Error> {
    let (all, ids) = match vis {
        Visibility::All => ("on", String::new()),
        Visibility::Tenants(ts) => (
            "off",
            ts.iter()
                .map(|t| t.0.to_string())
                .collect::<Vec<_>>()
                .join(","),
        ),
    };
    // Only "on"/"off" and UUIDs rendered by the uuid crate reach this string.
    pool.begin_with(sqlx::AssertSqlSafe(format!(
        "BEGIN; SELECT set_config('p360.all_tenants', '{all}', true), \
         set_config('p360.tenant_ids', '{ids}', true)"
    )))
    .await
}

/// End a read-only transaction without waiting for it: dropping it queues a
/// ROLLBACK that sqlx sends together with the connection's next statement, so
/// reads cost one round trip less than with an explicit COMMIT.
pub fn end_read(tx: Transaction<'static, Postgres>) {
    drop(tx);
}
