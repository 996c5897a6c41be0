//! Ad groups: a campaign's budget split, bids, frequency cap, targeting and
//! the creatives they run. The ad groups' budgets never exceed their campaign's (the
//! campaign row is locked while they change). Any change to the ad groups of
//! an approved, active or paused campaign is a change to what will spend
//! money, so it sends the campaign back to approval.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use chrono::{DateTime, Utc};
use platform::http::AppState;
use platform::http::problem::{ApiError, FieldError, Problem, conflict_on};
use serde::{Deserialize, Serialize};
use sqlx::{Postgres, Transaction};
use tenancy::InTenant;
use tenancy::roles::Permission;
use tenancy::scope::{self, TenantId, Visibility};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::http::{Versioned, if_match, stale};
use crate::money::{self, MoneyWire};

#[derive(Debug, Clone, sqlx::FromRow)]
struct Row {
    id: Uuid,
    campaign_id: Uuid,
    name: String,
    budget_micros: i64,
    base_bid_cpm_micros: i64,
    max_bid_cpm_micros: i64,
    frequency_impressions: Option<i64>,
    frequency_period_hours: Option<i64>,
    targeting: serde_json::Value,
    creative_ids: Vec<Uuid>,
    status: String,
    version: i64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct FrequencyCap {
    /// Impressions per user...
    pub impressions: i64,
    /// ...per this many hours (1 to 720).
    pub period_hours: i64,
}

/// Audiences to include and exclude.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct AudienceSet {
    pub include: Vec<Uuid>,
    pub exclude: Vec<Uuid>,
}

/// Site domains to include and exclude.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct SiteSet {
    pub include: Vec<String>,
    pub exclude: Vec<String>,
}

/// Who sees the ads.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct Targeting {
    /// Audience ids (see the audiences API).
    pub audiences: AudienceSet,
    /// ISO 3166-1 alpha-2 codes, e.g. `US`.
    pub countries: Vec<String>,
    /// ISO 3166-2 codes, e.g. `US-CA`.
    pub regions: Vec<String>,
    /// `desktop`, `mobile`, `tablet`, `ctv`.
    pub devices: Vec<String>,
    pub sites: SiteSet,
}

const DEVICES: &[&str] = &["desktop", "mobile", "tablet", "ctv"];

impl Targeting {
    /// Normalise (site domains) and validate.
    fn check(mut self, errors: &mut Vec<FieldError>) -> Targeting {
        for c in &self.countries {
            if !(c.len() == 2 && c.bytes().all(|b| b.is_ascii_uppercase())) {
                errors.push(FieldError::new(
                    "targeting.countries",
                    "invalid_value",
                    format!("{c} is not an ISO 3166-1 alpha-2 code"),
                ));
            }
        }
        for r in &self.regions {
            let ok = r.split_once('-').is_some_and(|(c, s)| {
                c.len() == 2
                    && c.bytes().all(|b| b.is_ascii_uppercase())
                    && (1..=3).contains(&s.len())
                    && s.bytes()
                        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
            });
            if !ok {
                errors.push(FieldError::new(
                    "targeting.regions",
                    "invalid_value",
                    format!("{r} is not an ISO 3166-2 code"),
                ));
            }
        }
        for d in &self.devices {
            if !DEVICES.contains(&d.as_str()) {
                errors.push(FieldError::new(
                    "targeting.devices",
                    "invalid_value",
                    DEVICES.join(", "),
                ));
            }
        }
        if self
            .audiences
            .include
            .iter()
            .any(|a| self.audiences.exclude.contains(a))
        {
            errors.push(FieldError::new(
                "targeting.audiences",
                "conflict",
                "an audience is both included and excluded",
            ));
        }
        for (field, list) in [
            ("targeting.sites.include", &mut self.sites.include),
            ("targeting.sites.exclude", &mut self.sites.exclude),
        ] {
            for site in list.iter_mut() {
                match crate::domain::normalise(site) {
                    Ok(d) => *site = d,
                    Err(m) => errors.push(FieldError::new(
                        field,
                        "invalid_domain",
                        format!("{site}: {m}"),
                    )),
                }
            }
        }
        self
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AdGroup {
    pub id: Uuid,
    pub campaign_id: Uuid,
    pub name: String,
    pub budget: MoneyWire,
    pub base_bid_cpm: MoneyWire,
    pub max_bid_cpm: MoneyWire,
    pub frequency_cap: Option<FrequencyCap>,
    pub targeting: Targeting,
    /// Creatives assigned.
    pub creative_ids: Vec<Uuid>,
    /// `active` or `archived`.
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

fn to_api(r: &Row, currency: &str) -> AdGroup {
    AdGroup {
        id: r.id,
        campaign_id: r.campaign_id,
        name: r.name.clone(),
        budget: MoneyWire::from_micros(r.budget_micros, currency),
        base_bid_cpm: MoneyWire::from_micros(r.base_bid_cpm_micros, currency),
        max_bid_cpm: MoneyWire::from_micros(r.max_bid_cpm_micros, currency),
        frequency_cap: r
            .frequency_impressions
            .zip(r.frequency_period_hours)
            .map(|(i, h)| FrequencyCap {
                impressions: i,
                period_hours: h,
            }),
        targeting: serde_json::from_value(r.targeting.clone()).unwrap_or_default(),
        creative_ids: r.creative_ids.clone(),
        status: r.status.clone(),
        created_at: r.created_at,
        updated_at: r.updated_at,
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAdGroup {
    pub name: String,
    pub budget: MoneyWire,
    pub base_bid_cpm: MoneyWire,
    pub max_bid_cpm: MoneyWire,
    pub frequency_cap: Option<FrequencyCap>,
    #[serde(default)]
    pub targeting: Targeting,
    /// Creatives of the campaign's advertiser to run.
    #[serde(default)]
    pub creative_ids: Vec<Uuid>,
}

#[derive(Debug, sqlx::FromRow)]
struct CampaignLock {
    currency: String,
    budget_micros: i64,
    status: String,
    advertiser_id: Uuid,
    version: i64,
}

async fn lock_campaign(
    tx: &mut Transaction<'static, Postgres>,
    tenant: TenantId,
    id: Uuid,
) -> Result<Option<CampaignLock>, sqlx::Error> {
    sqlx::query_as(
        "SELECT currency, budget_micros, status, advertiser_id, version FROM campaigns \
         WHERE id = $1 AND tenant_id = $2 FOR UPDATE",
    )
    .bind(id)
    .bind(tenant.0)
    .fetch_optional(&mut **tx)
    .await
}

async fn committed(
    tx: &mut Transaction<'static, Postgres>,
    campaign: Uuid,
    except: Option<Uuid>,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT coalesce(sum(budget_micros), 0)::bigint FROM ad_groups \
         WHERE campaign_id = $1 AND status = 'active' AND ($2::uuid IS NULL OR id <> $2)",
    )
    .bind(campaign)
    .bind(except)
    .fetch_one(&mut **tx)
    .await
}

struct Checked {
    budget: Option<i64>,
    base: Option<i64>,
    max: Option<i64>,
    targeting: Targeting,
}

fn check_rate(
    field: &str,
    m: &MoneyWire,
    currency: &str,
    errors: &mut Vec<FieldError>,
) -> Option<i64> {
    if m.currency != currency {
        errors.push(FieldError::new(
            &format!("{field}.currency"),
            "currency_mismatch",
            format!("must be the advertiser's currency, {currency}"),
        ));
        return None;
    }
    match m.rate_micros() {
        Ok(0) => {
            errors.push(FieldError::new(
                &format!("{field}.amount"),
                "not_positive",
                "must be greater than zero",
            ));
            None
        }
        Ok(v) => Some(v),
        Err(e) => {
            errors.push(FieldError::new(
                &format!("{field}.amount"),
                e.code(),
                e.to_string(),
            ));
            None
        }
    }
}

/// The creatives must be active creatives of the campaign's advertiser.
async fn check_creatives(
    tx: &mut Transaction<'static, Postgres>,
    tenant: TenantId,
    advertiser: Uuid,
    ids: &[Uuid],
    errors: &mut Vec<FieldError>,
) -> Result<(), sqlx::Error> {
    let mut unique = ids.to_vec();
    unique.sort();
    unique.dedup();
    if unique.is_empty() {
        return Ok(());
    }
    let found: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM creatives WHERE tenant_id = $1 AND advertiser_id = $2 \
         AND id = ANY($3) AND status = 'active'",
    )
    .bind(tenant.0)
    .bind(advertiser)
    .bind(&unique)
    .fetch_one(&mut **tx)
    .await?;
    if found != unique.len() as i64 || unique.len() != ids.len() {
        errors.push(FieldError::new(
            "creative_ids",
            "not_found",
            "each creative once, and only active creatives of the campaign's advertiser",
        ));
    }
    Ok(())
}

/// Back to approval if the campaign was cleared to spend.
async fn require_reapproval(
    tx: &mut Transaction<'static, Postgres>,
    ctx: &InTenant,
    campaign: Uuid,
    lock: &CampaignLock,
) -> Result<(), sqlx::Error> {
    if !matches!(lock.status.as_str(), "approved" | "active" | "paused") {
        return Ok(());
    }
    let (kind, id) = ctx.principal.actor.audit_parts();
    sqlx::query(
        "UPDATE campaigns SET status = 'pending_approval', submitted_by = $3, submitted_at = now(), \
         approved_by = NULL, approved_at = NULL, version = version + 1, updated_at = now() \
         WHERE id = $1 AND tenant_id = $2",
    )
    .bind(campaign)
    .bind(ctx.tenant.0)
    .bind(format!("{kind}:{}", id.unwrap_or_default()))
    .execute(&mut **tx)
    .await?;
    tenancy::events::emit(
        tx,
        ctx.tenant,
        "campaign.resubmitted",
        "campaign",
        campaign,
        serde_json::json!({"status": "pending_approval", "previous_status": lock.status}),
    )
    .await?;
    ctx.record_change(
        tx,
        "campaign.resubmitted",
        "campaign",
        campaign,
        serde_json::json!({
            "before": {"status": lock.status, "version": lock.version},
            "after": {"status": "pending_approval"},
            "reason": "ad group changed",
        }),
    )
    .await?;
    Ok(())
}

fn name_taken(e: sqlx::Error) -> ApiError {
    conflict_on(
        e,
        "ad_groups_campaign_name_key",
        || "this campaign has an ad group with that name",
    )
}

async fn record(
    tx: &mut Transaction<'static, Postgres>,
    ctx: &InTenant,
    action: &'static str,
    before: Option<&AdGroup>,
    after: &AdGroup,
) -> Result<(), sqlx::Error> {
    ctx.record_change(
        tx,
        action,
        "ad_group",
        after.id,
        serde_json::json!({"before": before, "after": after}),
    )
    .await?;
    Ok(())
}

/// Add an ad group to a campaign.
#[utoipa::path(post, path = "/v1/campaigns/{id}/ad-groups", tag = "campaigns", request_body = NewAdGroup,
    params(("id" = Uuid, Path, description = "campaign")),
    responses((status = 201, body = AdGroup), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create(
    ctx: InTenant,
    State(state): State<AppState>,
    Path(campaign_id): Path<Uuid>,
    Json(body): Json<NewAdGroup>,
) -> Result<Versioned<AdGroup>, ApiError> {
    ctx.principal.require(Permission::CampaignsWrite)?;
    let mut tx = scope::begin(&state.pool, &Visibility::one(ctx.tenant)).await?;
    let campaign = lock_campaign(&mut tx, ctx.tenant, campaign_id)
        .await?
        .ok_or_else(Problem::not_found)?;
    if matches!(campaign.status.as_str(), "completed" | "archived") {
        return Err(Problem::conflict(format!(
            "a {} campaign cannot get ad groups",
            campaign.status
        ))
        .into());
    }
    let mut errors = Vec::new();
    crate::check_name(&body.name, &mut errors);
    let used = committed(&mut tx, campaign_id, None).await?;
    let checked = check(
        &body.budget,
        &body.base_bid_cpm,
        &body.max_bid_cpm,
        body.frequency_cap.as_ref(),
        body.targeting.clone(),
        &campaign,
        used,
        &mut errors,
    );
    check_creatives(
        &mut tx,
        ctx.tenant,
        campaign.advertiser_id,
        &body.creative_ids,
        &mut errors,
    )
    .await?;
    if !errors.is_empty() {
        return Err(Problem::validation(errors).into());
    }
    let row: Row = sqlx::query_as(
        "INSERT INTO ad_groups (id, tenant_id, campaign_id, name, budget_micros, base_bid_cpm_micros, \
         max_bid_cpm_micros, frequency_impressions, frequency_period_hours, targeting, creative_ids) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING *",
    )
    .bind(Uuid::now_v7())
    .bind(ctx.tenant.0)
    .bind(campaign_id)
    .bind(body.name.trim())
    .bind(checked.budget)
    .bind(checked.base)
    .bind(checked.max)
    .bind(body.frequency_cap.as_ref().map(|f| f.impressions))
    .bind(body.frequency_cap.as_ref().map(|f| f.period_hours))
    .bind(serde_json::to_value(&checked.targeting).map_err(anyhow::Error::from)?)
    .bind(&body.creative_ids)
    .fetch_one(&mut *tx)
    .await
    .map_err(name_taken)?;
    let group = to_api(&row, &campaign.currency);
    record(&mut tx, &ctx, "ad_group.created", None, &group).await?;
    require_reapproval(&mut tx, &ctx, campaign_id, &campaign).await?;
    tx.commit().await?;
    Ok(Versioned {
        status: StatusCode::CREATED,
        version: row.version,
        body: group,
    })
}

#[allow(clippy::too_many_arguments)]
fn check(
    budget: &MoneyWire,
    base: &MoneyWire,
    max: &MoneyWire,
    cap: Option<&FrequencyCap>,
    targeting: Targeting,
    campaign: &CampaignLock,
    used: i64,
    errors: &mut Vec<FieldError>,
) -> Checked {
    let budget_micros = crate::check_money("budget", budget, Some(&campaign.currency), errors);
    let base_micros = check_rate("base_bid_cpm", base, &campaign.currency, errors);
    let max_micros = check_rate("max_bid_cpm", max, &campaign.currency, errors);
    if let (Some(b), Some(m)) = (base_micros, max_micros)
        && m < b
    {
        errors.push(FieldError::new(
            "max_bid_cpm.amount",
            "below_base_bid",
            "must be at least base_bid_cpm",
        ));
    }
    if let Some(b) = budget_micros
        && used + b > campaign.budget_micros
    {
        errors.push(FieldError::new(
            "budget.amount",
            "exceeds_campaign",
            format!(
                "only {} of the campaign's {} is left",
                money::format_micros(campaign.budget_micros - used, 2),
                money::format_micros(campaign.budget_micros, 2)
            ),
        ));
    }
    if let Some(c) = cap {
        if c.impressions < 1 {
            errors.push(FieldError::new(
                "frequency_cap.impressions",
                "out_of_range",
                "at least 1",
            ));
        }
        if !(1..=720).contains(&c.period_hours) {
            errors.push(FieldError::new(
                "frequency_cap.period_hours",
                "out_of_range",
                "1 to 720 hours",
            ));
        }
    }
    let targeting = targeting.check(errors);
    Checked {
        budget: budget_micros,
        base: base_micros,
        max: max_micros,
        targeting,
    }
}

/// The ad groups of a campaign.
#[utoipa::path(get, path = "/v1/campaigns/{id}/ad-groups", tag = "campaigns", params(("id" = Uuid, Path, description = "campaign")),
    responses((status = 200, body = [AdGroup]), (status = 404, body = Problem)))]
pub async fn list(
    ctx: InTenant,
    State(state): State<AppState>,
    Path(campaign_id): Path<Uuid>,
) -> Result<Json<Vec<AdGroup>>, ApiError> {
    ctx.principal.require(Permission::CampaignsRead)?;
    let mut tx = scope::begin(&state.pool, &Visibility::one(ctx.tenant)).await?;
    let currency: Option<String> =
        sqlx::query_scalar("SELECT currency FROM campaigns WHERE id = $1 AND tenant_id = $2")
            .bind(campaign_id)
            .bind(ctx.tenant.0)
            .fetch_optional(&mut *tx)
            .await?;
    let currency = currency.ok_or_else(Problem::not_found)?;
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT * FROM ad_groups WHERE campaign_id = $1 AND tenant_id = $2 ORDER BY created_at, id",
    )
    .bind(campaign_id)
    .bind(ctx.tenant.0)
    .fetch_all(&mut *tx)
    .await?;
    scope::end_read(tx);
    Ok(Json(rows.iter().map(|r| to_api(r, &currency)).collect()))
}

async fn fetch(
    tx: &mut Transaction<'static, Postgres>,
    tenant: TenantId,
    id: Uuid,
) -> Result<Option<(Row, String)>, sqlx::Error> {
    let row: Option<Row> =
        sqlx::query_as("SELECT * FROM ad_groups WHERE id = $1 AND tenant_id = $2")
            .bind(id)
            .bind(tenant.0)
            .fetch_optional(&mut **tx)
            .await?;
    let Some(row) = row else { return Ok(None) };
    let currency: String = sqlx::query_scalar("SELECT currency FROM campaigns WHERE id = $1")
        .bind(row.campaign_id)
        .fetch_one(&mut **tx)
        .await?;
    Ok(Some((row, currency)))
}

/// One ad group.
#[utoipa::path(get, path = "/v1/ad-groups/{id}", tag = "campaigns", params(("id" = Uuid, Path)),
    responses((status = 200, body = AdGroup), (status = 404, body = Problem)))]
pub async fn get(
    ctx: InTenant,
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
) -> Result<Versioned<AdGroup>, ApiError> {
    ctx.principal.require(Permission::CampaignsRead)?;
    let mut tx = scope::begin(&state.pool, &Visibility::one(ctx.tenant)).await?;
    let found = fetch(&mut tx, ctx.tenant, id).await?;
    scope::end_read(tx);
    let (row, currency) = found.ok_or_else(Problem::not_found)?;
    Ok(Versioned {
        status: StatusCode::OK,
        version: row.version,
        body: to_api(&row, &currency),
    })
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AdGroupPatch {
    pub name: Option<String>,
    pub budget: Option<MoneyWire>,
    pub base_bid_cpm: Option<MoneyWire>,
    pub max_bid_cpm: Option<MoneyWire>,
    pub frequency_cap: Option<FrequencyCap>,
    pub targeting: Option<Targeting>,
    pub creative_ids: Option<Vec<Uuid>>,
}

/// Change an ad group (`If-Match` required).
#[utoipa::path(patch, path = "/v1/ad-groups/{id}", tag = "campaigns", request_body = AdGroupPatch, params(("id" = Uuid, Path)),
    responses((status = 200, body = AdGroup), (status = 404, body = Problem), (status = 412, body = Problem), (status = 422, body = Problem), (status = 428, body = Problem)))]
pub async fn update(
    ctx: InTenant,
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
    headers: HeaderMap,
    Json(body): Json<AdGroupPatch>,
) -> Result<Versioned<AdGroup>, ApiError> {
    ctx.principal.require(Permission::CampaignsWrite)?;
    let mut tx = scope::begin(&state.pool, &Visibility::one(ctx.tenant)).await?;
    let campaign_id: Uuid =
        sqlx::query_scalar("SELECT campaign_id FROM ad_groups WHERE id = $1 AND tenant_id = $2")
            .bind(id)
            .bind(ctx.tenant.0)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(Problem::not_found)?;
    let campaign = lock_campaign(&mut tx, ctx.tenant, campaign_id)
        .await?
        .ok_or_else(Problem::not_found)?;
    let (before, currency) = fetch(&mut tx, ctx.tenant, id)
        .await?
        .ok_or_else(Problem::not_found)?;
    if before.version != if_match(&headers)? {
        return Err(stale().into());
    }
    if before.status == "archived" || matches!(campaign.status.as_str(), "completed" | "archived") {
        return Err(Problem::conflict("this ad group can no longer be changed").into());
    }
    let current = to_api(&before, &currency);
    let mut errors = Vec::new();
    if let Some(n) = &body.name {
        crate::check_name(n, &mut errors);
    }
    let used = committed(&mut tx, campaign_id, Some(id)).await?;
    let cap = body.frequency_cap.clone().or(current.frequency_cap.clone());
    let checked = check(
        body.budget.as_ref().unwrap_or(&current.budget),
        body.base_bid_cpm.as_ref().unwrap_or(&current.base_bid_cpm),
        body.max_bid_cpm.as_ref().unwrap_or(&current.max_bid_cpm),
        cap.as_ref(),
        body.targeting.clone().unwrap_or(current.targeting.clone()),
        &campaign,
        used,
        &mut errors,
    );
    let creatives = body
        .creative_ids
        .clone()
        .unwrap_or(current.creative_ids.clone());
    check_creatives(
        &mut tx,
        ctx.tenant,
        campaign.advertiser_id,
        &creatives,
        &mut errors,
    )
    .await?;
    if !errors.is_empty() {
        return Err(Problem::validation(errors).into());
    }
    let row: Row = sqlx::query_as(
        "UPDATE ad_groups SET name = coalesce($3, name), budget_micros = $4, base_bid_cpm_micros = $5, \
         max_bid_cpm_micros = $6, frequency_impressions = $7, frequency_period_hours = $8, targeting = $9, \
         creative_ids = $10, version = version + 1, updated_at = now() \
         WHERE id = $1 AND tenant_id = $2 RETURNING *",
    )
    .bind(id)
    .bind(ctx.tenant.0)
    .bind(body.name.as_deref().map(str::trim))
    .bind(checked.budget)
    .bind(checked.base)
    .bind(checked.max)
    .bind(cap.as_ref().map(|c| c.impressions))
    .bind(cap.as_ref().map(|c| c.period_hours))
    .bind(serde_json::to_value(&checked.targeting).map_err(anyhow::Error::from)?)
    .bind(&creatives)
    .fetch_one(&mut *tx)
    .await
    .map_err(name_taken)?;
    let after = to_api(&row, &currency);
    record(&mut tx, &ctx, "ad_group.updated", Some(&current), &after).await?;
    require_reapproval(&mut tx, &ctx, campaign_id, &campaign).await?;
    tx.commit().await?;
    Ok(Versioned {
        status: StatusCode::OK,
        version: row.version,
        body: after,
    })
}

/// Archive an ad group: it stops counting against the campaign budget, and an
/// approved, active or paused campaign goes back to approval (`If-Match` required).
#[utoipa::path(delete, path = "/v1/ad-groups/{id}", tag = "campaigns", params(("id" = Uuid, Path)),
    responses((status = 200, body = AdGroup), (status = 404, body = Problem), (status = 409, body = Problem), (status = 412, body = Problem), (status = 428, body = Problem)))]
pub async fn archive(
    ctx: InTenant,
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
    headers: HeaderMap,
) -> Result<Versioned<AdGroup>, ApiError> {
    ctx.principal.require(Permission::CampaignsWrite)?;
    let mut tx = scope::begin(&state.pool, &Visibility::one(ctx.tenant)).await?;
    let campaign_id: Uuid =
        sqlx::query_scalar("SELECT campaign_id FROM ad_groups WHERE id = $1 AND tenant_id = $2")
            .bind(id)
            .bind(ctx.tenant.0)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(Problem::not_found)?;
    let campaign = lock_campaign(&mut tx, ctx.tenant, campaign_id)
        .await?
        .ok_or_else(Problem::not_found)?;
    let (before, currency) = fetch(&mut tx, ctx.tenant, id)
        .await?
        .ok_or_else(Problem::not_found)?;
    if before.version != if_match(&headers)? {
        return Err(stale().into());
    }
    if before.status == "archived" {
        return Err(Problem::conflict("this ad group is already archived").into());
    }
    let row: Row = sqlx::query_as(
        "UPDATE ad_groups SET status = 'archived', version = version + 1, updated_at = now() \
         WHERE id = $1 AND tenant_id = $2 RETURNING *",
    )
    .bind(id)
    .bind(ctx.tenant.0)
    .fetch_one(&mut *tx)
    .await?;
    let after = to_api(&row, &currency);
    record(
        &mut tx,
        &ctx,
        "ad_group.archived",
        Some(&to_api(&before, &currency)),
        &after,
    )
    .await?;
    require_reapproval(&mut tx, &ctx, campaign_id, &campaign).await?;
    tx.commit().await?;
    Ok(Versioned {
        status: StatusCode::OK,
        version: row.version,
        body: after,
    })
}
