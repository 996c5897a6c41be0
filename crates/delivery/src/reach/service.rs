//! The account view's rules: who may read it, which campaigns and
//! audiences a scope names, and the tenant's reporting rules.

use std::collections::HashMap;

use chrono::NaiveDate;
use platform::http::problem::{ApiError, FieldError, Problem};
use tenancy::roles::Permission;
use tenancy::{Principal, TenantTx};
use uuid::Uuid;

use super::{AccountRow, AccountView, Settings, Status, store, view};

/// Whose targets the view counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// A campaign: the members of the audiences its ad groups include.
    Campaign(Uuid),
    /// An audience: its members, reached by the campaigns that include it.
    Audience(Uuid),
    /// An advertiser: every campaign of it, and all their audiences.
    Advertiser(Uuid),
}

/// The campaigns and audiences of `scope`; 404 when it is not the tenant's.
async fn resolve(tx: &mut TenantTx, scope: Scope) -> Result<(Vec<Uuid>, Vec<Uuid>), ApiError> {
    match scope {
        Scope::Campaign(c) => {
            if campaigns::read::campaign(tx, campaigns::ids::CampaignId(c))
                .await?
                .is_none()
            {
                return Err(Problem::not_found().into());
            }
            let audiences = campaigns::read::targeted_audiences(tx, &[c]).await?;
            Ok((vec![c], audiences))
        }
        Scope::Audience(a) => {
            if audiences::read::existing(tx, &[a]).await?.is_empty() {
                return Err(Problem::not_found().into());
            }
            Ok((campaigns::read::campaigns_targeting(tx, a).await?, vec![a]))
        }
        Scope::Advertiser(adv) => {
            if !campaigns::read::owner_exists(tx, Some(adv), None).await? {
                return Err(Problem::not_found().into());
            }
            let ids = campaigns::read::campaign_ids(tx, Some(adv), None).await?;
            let audiences = campaigns::read::targeted_audiences(tx, &ids).await?;
            Ok((ids, audiences))
        }
    }
}

/// The targets (domain, held out) and what each company received.
type Reach = (
    Vec<Uuid>,
    Vec<Uuid>,
    Vec<(String, bool)>,
    HashMap<String, super::Delivered>,
);

async fn reach(
    tx: &mut TenantTx,
    scope: Scope,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Reach, ApiError> {
    let (campaigns, audiences) = resolve(tx, scope).await?;
    let targets = audiences::read::targets(tx, &audiences)
        .await?
        .into_iter()
        .map(|t| (t.domain, t.holdout))
        .collect();
    let delivered = crate::days::by_company(tx, &campaigns, from, to)
        .await?
        .into_iter()
        .map(|(company, s)| {
            (
                company,
                super::Delivered {
                    impressions: s.impressions,
                    clicks: s.clicks,
                    spend: s.spend,
                },
            )
        })
        .collect();
    Ok((campaigns, audiences, targets, delivered))
}

/// The account view of `scope` over `from..=to`.
pub async fn account_view(
    tx: &mut TenantTx,
    by: &Principal,
    scope: Scope,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<AccountView, ApiError> {
    by.require(Permission::ReportsRead)?;
    let (campaigns, audiences, targets, delivered) = reach(tx, scope, from, to).await?;
    let rule = store::settings(tx).await?.unwrap_or_default();
    let mut v = view(&targets, &delivered, rule);
    name(tx, &mut v.top_accounts).await?;
    v.from = from;
    v.to = to;
    v.campaigns = campaigns;
    v.audiences = audiences;
    Ok(v)
}

/// The target accounts of `scope` (not the held-out ones) by domain, after
/// `after`, up to `limit`, with what each received; only those in `status`
/// when given.
pub async fn accounts(
    tx: &mut TenantTx,
    by: &Principal,
    scope: Scope,
    (from, to): (NaiveDate, NaiveDate),
    status: Option<Status>,
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<AccountRow>, ApiError> {
    by.require(Permission::ReportsRead)?;
    let (_, _, targets, delivered) = reach(tx, scope, from, to).await?;
    let rule = store::settings(tx).await?.unwrap_or_default();
    let mut rows: Vec<AccountRow> = targets
        .into_iter()
        .filter(|(domain, holdout)| !holdout && after.is_none_or(|a| domain.as_str() > a))
        .filter_map(|(domain, _)| {
            let d = delivered.get(&domain);
            let s = rule.status(d);
            if status.is_some_and(|want| want != s) {
                return None;
            }
            let d = d.copied().unwrap_or_default();
            Some(AccountRow {
                domain,
                name: None,
                status: s,
                impressions: d.impressions,
                clicks: d.clicks,
                spend_usd_micros: d.spend,
            })
        })
        .take(limit.max(0) as usize)
        .collect();
    name(tx, &mut rows).await?;
    Ok(rows)
}

/// Fill in the companies' names.
async fn name(tx: &mut TenantTx, rows: &mut [AccountRow]) -> Result<(), sqlx::Error> {
    let domains: Vec<String> = rows.iter().map(|r| r.domain.clone()).collect();
    let names: HashMap<String, String> = accounts::read::company_names(tx.conn(), &domains)
        .await?
        .into_iter()
        .collect();
    for r in rows {
        r.name = names.get(&r.domain).cloned();
    }
    Ok(())
}

/// The tenant's reporting rules (the defaults until it sets its own).
pub async fn settings(tx: &mut TenantTx, by: &Principal) -> Result<Settings, ApiError> {
    by.require(Permission::ReportsRead)?;
    Ok(store::settings(tx).await?.unwrap_or_default())
}

/// Set the tenant's reporting rules (audited).
pub async fn update_settings(
    tx: &mut TenantTx,
    by: &Principal,
    new: Settings,
) -> Result<Settings, ApiError> {
    by.require(Permission::CampaignsWrite)?;
    let mut errors = Vec::new();
    for (field, v, max) in [
        ("engaged_min_clicks", new.engaged_min_clicks, 1_000_000),
        (
            "engaged_min_impressions",
            new.engaged_min_impressions,
            1_000_000,
        ),
        ("pacing_tolerance_pct", new.pacing_tolerance_pct, 100),
    ] {
        if !(1..=max).contains(&v) {
            errors.push(FieldError::new(
                field,
                "out_of_range",
                format!("1 to {max}"),
            ));
        }
    }
    if !errors.is_empty() {
        return Err(Problem::validation(errors).into());
    }
    let before = store::settings(tx).await?.unwrap_or_default();
    store::put_settings(tx, &new).await?;
    tenancy::audit::record_change(
        tx,
        by,
        "reports.settings_changed",
        "delivery_settings",
        tx.tenant().0,
        serde_json::json!({"before": before, "after": new}),
    )
    .await?;
    Ok(new)
}

/// The tenant's pacing tolerance, percent.
pub async fn tolerance(tx: &mut TenantTx) -> Result<i64, sqlx::Error> {
    Ok(store::settings(tx)
        .await?
        .unwrap_or_default()
        .pacing_tolerance_pct)
}
