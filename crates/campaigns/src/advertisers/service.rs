//! Advertiser operations: what the API, the console and jobs call, with the
//! permission check and the audit record in the caller's transaction.

use platform::http::pagination::Cursor;
use platform::http::problem::{ApiError, Problem, conflict_on};
use platform::http::versioned::Precondition;
use tenancy::roles::Permission;
use tenancy::{Principal, TenantTx};

use super::{Advertiser, AdvertiserPatch, NewAdvertiser, store};
use crate::ids::AdvertiserId;
use crate::validate::escape_like;

fn name_taken(e: sqlx::Error, name: &str) -> ApiError {
    conflict_on(e, "advertisers_tenant_name_key", || {
        format!("an advertiser named {name} exists")
    })
}

pub async fn create(
    tx: &mut TenantTx,
    by: &Principal,
    new: NewAdvertiser,
) -> Result<Advertiser, ApiError> {
    by.require(Permission::CampaignsWrite)?;
    let new = new.validate().map_err(Problem::validation)?;
    let adv = store::insert(tx, &new)
        .await
        .map_err(|e| name_taken(e, &new.name))?;
    tenancy::audit::record_change(
        tx,
        by,
        "advertiser.created",
        "advertiser",
        adv.id,
        serde_json::json!({"after": adv}),
    )
    .await?;
    Ok(adv)
}

pub async fn get(
    tx: &mut TenantTx,
    by: &Principal,
    id: AdvertiserId,
) -> Result<Advertiser, ApiError> {
    by.require(Permission::CampaignsRead)?;
    store::get(tx, id)
        .await?
        .ok_or_else(|| Problem::not_found().into())
}

/// Newest first, optionally by a substring of the name.
pub async fn list(
    tx: &mut TenantTx,
    by: &Principal,
    name: Option<&str>,
    after: Option<Cursor>,
    limit: i64,
) -> Result<Vec<Advertiser>, ApiError> {
    by.require(Permission::CampaignsRead)?;
    let pattern = name.map(escape_like);
    Ok(store::list(tx, pattern.as_deref(), after.map(|c| (c.at, c.id)), limit).await?)
}

pub async fn update(
    tx: &mut TenantTx,
    by: &Principal,
    id: AdvertiserId,
    expected: &Precondition,
    patch: AdvertiserPatch,
) -> Result<Advertiser, ApiError> {
    by.require(Permission::CampaignsWrite)?;
    let patch = patch.validate().map_err(Problem::validation)?;
    let before = store::lock(tx, id).await?.ok_or_else(Problem::not_found)?;
    // Existence first (404 for another tenant's object), then the precondition.
    expected.check(before.version)?;
    let after = store::update(tx, id, &patch)
        .await
        .map_err(|e| name_taken(e, patch.name.as_deref().unwrap_or_default()))?;
    tenancy::audit::record_change(
        tx,
        by,
        "advertiser.updated",
        "advertiser",
        id,
        serde_json::json!({"before": before, "after": after}),
    )
    .await?;
    Ok(after)
}
