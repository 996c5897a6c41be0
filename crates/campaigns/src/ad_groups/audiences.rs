//! Checking the audiences an ad group targets without depending on the
//! audiences capability: it implements [`AudienceCatalog`] and the binary
//! installs it on the routes.

use std::future::Future;
use std::pin::Pin;

use platform::http::problem::FieldError;
use tenancy::TenantTx;
use uuid::Uuid;

use super::AudienceSet;

pub type CatalogFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Vec<Uuid>, sqlx::Error>> + Send + 'a>>;

/// Which audiences exist.
pub trait AudienceCatalog: Send + Sync + 'static {
    /// Which of `ids` are audiences of the transaction's tenant.
    fn existing<'a>(&'a self, tx: &'a mut TenantTx, ids: &'a [Uuid]) -> CatalogFuture<'a>;
}

/// No audiences (a deployment without the audiences capability, tests):
/// an ad group can target none.
pub struct NoAudiences;

impl AudienceCatalog for NoAudiences {
    fn existing<'a>(&'a self, _: &'a mut TenantTx, _: &'a [Uuid]) -> CatalogFuture<'a> {
        Box::pin(async { Ok(Vec::new()) })
    }
}

/// Every audience `set` names must be one of the tenant's.
pub(super) async fn check(
    tx: &mut TenantTx,
    catalog: &dyn AudienceCatalog,
    set: &AudienceSet,
    errors: &mut Vec<FieldError>,
) -> Result<(), sqlx::Error> {
    let mut ids: Vec<Uuid> = set.include.iter().chain(&set.exclude).copied().collect();
    ids.sort_unstable();
    ids.dedup();
    if ids.is_empty() {
        return Ok(());
    }
    let found = catalog.existing(tx, &ids).await?;
    for id in ids.iter().filter(|id| !found.contains(id)) {
        errors.push(FieldError::new(
            "targeting.audiences",
            "not_found",
            format!("{id} is not one of this tenant's audiences"),
        ));
    }
    Ok(())
}
