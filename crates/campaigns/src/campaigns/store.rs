//! The SQL of campaigns.

use chrono::{DateTime, NaiveDate, Utc};
use tenancy::{TenantId, TenantTx};
use uuid::Uuid;

use sqlx::types::Json;

use super::workflow::{Action, CampaignStatus, IoTerms, Objective, Pacing};
use super::{Pending, Row};
use crate::ids::{AdGroupId, AdvertiserId, CampaignId, CreativeId, InsertionOrderId};

/// The insertion order a campaign belongs to, locked.
pub struct IoLock {
    pub advertiser_id: AdvertiserId,
    pub currency: String,
    pub terms: IoTerms,
}

/// Lock the IO (serialising budget changes under it) and return it.
pub async fn lock_io(
    tx: &mut TenantTx,
    id: InsertionOrderId,
) -> Result<Option<IoLock>, sqlx::Error> {
    let tenant = tx.tenant();
    let r = sqlx::query!(
        r#"SELECT advertiser_id AS "advertiser_id: AdvertiserId", currency, budget_micros,
                  start_date, end_date
           FROM insertion_orders WHERE id = $1 AND tenant_id = $2 FOR UPDATE"#,
        id as InsertionOrderId,
        tenant as TenantId
    )
    .fetch_optional(tx.conn())
    .await?;
    Ok(r.map(|r| IoLock {
        advertiser_id: r.advertiser_id,
        currency: r.currency,
        terms: IoTerms {
            budget_micros: r.budget_micros,
            start_date: r.start_date,
            end_date: r.end_date,
        },
    }))
}

/// Budget already committed to the IO's other campaigns (not archived): for
/// a campaign with a pending change, the greater of its live and proposed
/// budgets, so that approving the change can never overdraw the IO.
pub async fn committed(
    tx: &mut TenantTx,
    io: InsertionOrderId,
    except: Option<CampaignId>,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT coalesce(sum(greatest(budget_micros,
                      coalesce((pending->>'budget_micros')::bigint, budget_micros))), 0)::bigint
                      AS "sum!"
           FROM campaigns WHERE insertion_order_id = $1 AND status <> 'archived'
             AND ($2::uuid IS NULL OR id <> $2)"#,
        io as InsertionOrderId,
        except as Option<CampaignId>
    )
    .fetch_one(tx.conn())
    .await
}

/// Budget the campaign's ad groups (but `except`) hold once its pending
/// change, if any, is approved: an active one its own or its proposed
/// budget, a proposed one its budget, one to be archived none. (Without a
/// pending change: what its active ad groups hold.)
pub async fn ad_groups_budget(
    tx: &mut TenantTx,
    id: CampaignId,
    except: Option<AdGroupId>,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT coalesce(sum(CASE
                   WHEN pending IS NULL AND status = 'active' THEN budget_micros
                   WHEN pending->>'op' = 'update' THEN (pending->'values'->>'budget_micros')::bigint
                   WHEN pending->>'op' = 'create' THEN budget_micros
                   ELSE 0 END), 0)::bigint AS "sum!"
           FROM ad_groups
           WHERE campaign_id = $1 AND ($2::uuid IS NULL OR id <> $2)"#,
        id as CampaignId,
        except as Option<AdGroupId>
    )
    .fetch_one(tx.conn())
    .await
}

/// Make the campaign's pending ad group changes live: proposed ones run,
/// updates take their values, archivals archive.
pub async fn apply_ad_group_changes(tx: &mut TenantTx, id: CampaignId) -> Result<(), sqlx::Error> {
    let tenant = tx.tenant();
    sqlx::query!(
        r#"UPDATE ad_groups SET
               status = CASE pending->>'op' WHEN 'create' THEN 'active'
                   WHEN 'archive' THEN 'archived' ELSE status END,
               budget_micros = coalesce((pending->'values'->>'budget_micros')::bigint, budget_micros),
               base_bid_cpm_micros = coalesce((pending->'values'->>'base_bid_cpm_micros')::bigint,
                   base_bid_cpm_micros),
               max_bid_cpm_micros = coalesce((pending->'values'->>'max_bid_cpm_micros')::bigint,
                   max_bid_cpm_micros),
               frequency_impressions = CASE WHEN pending->>'op' = 'update'
                   THEN (pending->'values'->>'frequency_impressions')::bigint
                   ELSE frequency_impressions END,
               frequency_period_hours = CASE WHEN pending->>'op' = 'update'
                   THEN (pending->'values'->>'frequency_period_hours')::bigint
                   ELSE frequency_period_hours END,
               targeting = coalesce(pending->'values'->'targeting', targeting),
               creative_ids = CASE WHEN pending->>'op' = 'update'
                   THEN ARRAY(SELECT jsonb_array_elements_text(pending->'values'->'creative_ids'))::uuid[]
                   ELSE creative_ids END,
               pending = NULL, version = version + 1, updated_at = now()
           WHERE campaign_id = $1 AND tenant_id = $2 AND pending IS NOT NULL"#,
        id as CampaignId,
        tenant as TenantId
    )
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Drop the campaign's pending ad group changes (a proposed ad group stays
/// archived: it never ran).
pub async fn drop_ad_group_changes(tx: &mut TenantTx, id: CampaignId) -> Result<(), sqlx::Error> {
    let tenant = tx.tenant();
    sqlx::query!(
        "UPDATE ad_groups SET pending = NULL, version = version + 1, updated_at = now() \
         WHERE campaign_id = $1 AND tenant_id = $2 AND pending IS NOT NULL",
        id as CampaignId,
        tenant as TenantId
    )
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Decide a proposed click URL, if it is still the one proposed: `apply`
/// makes it the creative's, otherwise it is dropped.
pub async fn settle_creative_change(
    tx: &mut TenantTx,
    creative: CreativeId,
    url: &str,
    apply: bool,
) -> Result<(), sqlx::Error> {
    let tenant = tx.tenant();
    sqlx::query!(
        "UPDATE creatives SET click_url = CASE WHEN $4 THEN $3 ELSE click_url END, \
         pending_click_url = NULL, version = version + 1, updated_at = now() \
         WHERE id = $1 AND tenant_id = $2 AND pending_click_url = $3",
        creative as CreativeId,
        tenant as TenantId,
        url,
        apply
    )
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// The campaigns whose pending change carries a new click URL of
/// `creative`, but `except`.
pub async fn carrying_creative(
    tx: &mut TenantTx,
    creative: CreativeId,
    except: CampaignId,
) -> Result<Vec<CampaignId>, sqlx::Error> {
    let tenant = tx.tenant();
    sqlx::query_scalar!(
        r#"SELECT id AS "id: CampaignId" FROM campaigns
           WHERE tenant_id = $2 AND id <> $3 AND pending->'creatives' ? $1
           ORDER BY id"#,
        creative.to_string(),
        tenant as TenantId,
        except as CampaignId
    )
    .fetch_all(tx.conn())
    .await
}

/// Record a part of the campaign's pending change made elsewhere (an ad
/// group's change, a reason) with `by` as the maker of the whole change,
/// or clear the pending change when nothing is left of it.
pub async fn set_pending(
    tx: &mut TenantTx,
    id: CampaignId,
    pending: Option<&Pending>,
) -> Result<Row, sqlx::Error> {
    let tenant = tx.tenant();
    sqlx::query!(
        "UPDATE campaigns SET pending = $3, version = version + 1, updated_at = now() \
         WHERE id = $1 AND tenant_id = $2",
        id as CampaignId,
        tenant as TenantId,
        pending.map(Json) as Option<Json<&Pending>>
    )
    .execute(tx.conn())
    .await?;
    get(tx, id).await?.ok_or(sqlx::Error::RowNotFound)
}

/// What a new campaign is made of.
pub struct New<'a> {
    pub insertion_order_id: InsertionOrderId,
    pub advertiser_id: AdvertiserId,
    pub currency: &'a str,
    pub name: &'a str,
    pub objective: Objective,
    pub budget_micros: i64,
    pub daily_cap_micros: Option<i64>,
    pub flight_start: NaiveDate,
    pub flight_end: NaiveDate,
    pub pacing: Pacing,
    pub kpi_goal: Option<&'a serde_json::Value>,
}

pub async fn insert(tx: &mut TenantTx, c: &New<'_>) -> Result<Row, sqlx::Error> {
    let tenant = tx.tenant();
    sqlx::query_as!(
        Row,
        r#"INSERT INTO campaigns (id, tenant_id, insertion_order_id, advertiser_id, currency, name,
               objective, budget_micros, daily_cap_micros, flight_start, flight_end, pacing, kpi_goal)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
           RETURNING id AS "id: CampaignId", insertion_order_id AS "insertion_order_id: InsertionOrderId",
               advertiser_id AS "advertiser_id: AdvertiserId", currency, name,
               objective AS "objective: Objective", budget_micros, daily_cap_micros, flight_start,
               flight_end, pacing AS "pacing: Pacing", kpi_goal, status AS "status: CampaignStatus",
               submitted_by, submitted_at, approved_by, approved_at, first_approved_at,
               rejection_reason, pending AS "pending: Json<Pending>", version, created_at,
               updated_at"#,
        CampaignId::new() as CampaignId,
        tenant as TenantId,
        c.insertion_order_id as InsertionOrderId,
        c.advertiser_id as AdvertiserId,
        c.currency,
        c.name,
        c.objective as Objective,
        c.budget_micros,
        c.daily_cap_micros,
        c.flight_start,
        c.flight_end,
        c.pacing as Pacing,
        c.kpi_goal
    )
    .fetch_one(tx.conn())
    .await
}

pub async fn get(tx: &mut TenantTx, id: CampaignId) -> Result<Option<Row>, sqlx::Error> {
    let tenant = tx.tenant();
    sqlx::query_as!(
        Row,
        r#"SELECT id AS "id: CampaignId", insertion_order_id AS "insertion_order_id: InsertionOrderId",
               advertiser_id AS "advertiser_id: AdvertiserId", currency, name,
               objective AS "objective: Objective", budget_micros, daily_cap_micros, flight_start,
               flight_end, pacing AS "pacing: Pacing", kpi_goal, status AS "status: CampaignStatus",
               submitted_by, submitted_at, approved_by, approved_at, first_approved_at,
               rejection_reason, pending AS "pending: Json<Pending>", version, created_at,
               updated_at
           FROM campaigns WHERE id = $1 AND tenant_id = $2"#,
        id as CampaignId,
        tenant as TenantId
    )
    .fetch_optional(tx.conn())
    .await
}

/// The campaign, locked for a change.
pub async fn lock(tx: &mut TenantTx, id: CampaignId) -> Result<Option<Row>, sqlx::Error> {
    let tenant = tx.tenant();
    sqlx::query_as!(
        Row,
        r#"SELECT id AS "id: CampaignId", insertion_order_id AS "insertion_order_id: InsertionOrderId",
               advertiser_id AS "advertiser_id: AdvertiserId", currency, name,
               objective AS "objective: Objective", budget_micros, daily_cap_micros, flight_start,
               flight_end, pacing AS "pacing: Pacing", kpi_goal, status AS "status: CampaignStatus",
               submitted_by, submitted_at, approved_by, approved_at, first_approved_at,
               rejection_reason, pending AS "pending: Json<Pending>", version, created_at,
               updated_at
           FROM campaigns WHERE id = $1 AND tenant_id = $2 FOR UPDATE"#,
        id as CampaignId,
        tenant as TenantId
    )
    .fetch_optional(tx.conn())
    .await
}

/// The insertion order of a campaign (to lock it first).
pub async fn insertion_order_of(
    tx: &mut TenantTx,
    id: CampaignId,
) -> Result<Option<InsertionOrderId>, sqlx::Error> {
    let tenant = tx.tenant();
    sqlx::query_scalar!(
        r#"SELECT insertion_order_id AS "io: InsertionOrderId" FROM campaigns
           WHERE id = $1 AND tenant_id = $2"#,
        id as CampaignId,
        tenant as TenantId
    )
    .fetch_optional(tx.conn())
    .await
}

/// List filters (each optional).
#[derive(Debug, Default)]
pub struct Filter {
    pub status: Option<CampaignStatus>,
    pub advertiser_id: Option<AdvertiserId>,
    pub insertion_order_id: Option<InsertionOrderId>,
    /// Campaigns whose flight overlaps [from, to].
    pub flight_from: Option<NaiveDate>,
    pub flight_to: Option<NaiveDate>,
    /// A LIKE pattern (escaped) the name contains, case-insensitively.
    pub name: Option<String>,
    /// Waiting for a checker: submitted, or live with a pending change.
    pub awaiting_approval: Option<bool>,
}

/// Newest first, after the cursor (created_at, id).
pub async fn list(
    tx: &mut TenantTx,
    f: &Filter,
    before: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> Result<Vec<Row>, sqlx::Error> {
    let tenant = tx.tenant();
    sqlx::query_as!(
        Row,
        r#"SELECT id AS "id: CampaignId", insertion_order_id AS "insertion_order_id: InsertionOrderId",
               advertiser_id AS "advertiser_id: AdvertiserId", currency, name,
               objective AS "objective: Objective", budget_micros, daily_cap_micros, flight_start,
               flight_end, pacing AS "pacing: Pacing", kpi_goal, status AS "status: CampaignStatus",
               submitted_by, submitted_at, approved_by, approved_at, first_approved_at,
               rejection_reason, pending AS "pending: Json<Pending>", version, created_at,
               updated_at
           FROM campaigns WHERE tenant_id = $1
             AND ($2::text IS NULL OR status = $2)
             AND ($3::uuid IS NULL OR advertiser_id = $3)
             AND ($4::uuid IS NULL OR insertion_order_id = $4)
             AND ($5::date IS NULL OR flight_end >= $5)
             AND ($6::date IS NULL OR flight_start <= $6)
             AND ($7::text IS NULL OR name ILIKE '%' || $7 || '%')
             AND ($8::timestamptz IS NULL OR (created_at, id) < ($8, $9))
             AND ($11::bool IS NULL
                  OR (status = 'pending_approval' OR pending IS NOT NULL) = $11)
           ORDER BY created_at DESC, id DESC LIMIT $10"#,
        tenant as TenantId,
        f.status as Option<CampaignStatus>,
        f.advertiser_id as Option<AdvertiserId>,
        f.insertion_order_id as Option<InsertionOrderId>,
        f.flight_from,
        f.flight_to,
        f.name,
        before.map(|b| b.0),
        before.map(|b| b.1),
        limit,
        f.awaiting_approval
    )
    .fetch_all(tx.conn())
    .await
}

/// What an update writes (fields left `None` stay as they are).
pub struct Changes<'a> {
    pub name: Option<&'a str>,
    pub objective: Option<Objective>,
    pub budget_micros: Option<i64>,
    pub flight_start: NaiveDate,
    pub flight_end: NaiveDate,
    pub pacing: Option<Pacing>,
    pub daily_cap_micros: Option<i64>,
    pub kpi_goal: Option<&'a serde_json::Value>,
    /// The live campaign's change waiting for approval (replaces what was).
    pub pending: Option<&'a Pending>,
    /// The change needs approval again: `by` becomes its submitter.
    pub back_to_approval: bool,
    pub by: &'a str,
}

pub async fn update(
    tx: &mut TenantTx,
    id: CampaignId,
    c: &Changes<'_>,
) -> Result<Row, sqlx::Error> {
    let tenant = tx.tenant();
    sqlx::query_as!(
        Row,
        r#"UPDATE campaigns SET name = coalesce($3, name), objective = coalesce($4, objective),
               budget_micros = coalesce($5, budget_micros), flight_start = $6, flight_end = $7,
               pacing = coalesce($8, pacing), daily_cap_micros = coalesce($9, daily_cap_micros),
               kpi_goal = coalesce($10, kpi_goal), pending = $13,
               status = CASE WHEN $11 THEN 'pending_approval' ELSE status END,
               submitted_by = CASE WHEN $11 THEN $12 ELSE submitted_by END,
               submitted_at = CASE WHEN $11 THEN now() ELSE submitted_at END,
               approved_by = CASE WHEN $11 THEN NULL ELSE approved_by END,
               approved_at = CASE WHEN $11 THEN NULL ELSE approved_at END,
               version = version + 1, updated_at = now()
           WHERE id = $1 AND tenant_id = $2
           RETURNING id AS "id: CampaignId", insertion_order_id AS "insertion_order_id: InsertionOrderId",
               advertiser_id AS "advertiser_id: AdvertiserId", currency, name,
               objective AS "objective: Objective", budget_micros, daily_cap_micros, flight_start,
               flight_end, pacing AS "pacing: Pacing", kpi_goal, status AS "status: CampaignStatus",
               submitted_by, submitted_at, approved_by, approved_at, first_approved_at,
               rejection_reason, pending AS "pending: Json<Pending>", version, created_at,
               updated_at"#,
        id as CampaignId,
        tenant as TenantId,
        c.name,
        c.objective as Option<Objective>,
        c.budget_micros,
        c.flight_start,
        c.flight_end,
        c.pacing as Option<Pacing>,
        c.daily_cap_micros,
        c.kpi_goal,
        c.back_to_approval,
        c.by,
        c.pending.map(Json) as Option<Json<&Pending>>
    )
    .fetch_one(tx.conn())
    .await
}

/// Apply a workflow step: the new status and who took the step.
pub async fn transition(
    tx: &mut TenantTx,
    id: CampaignId,
    action: Action,
    by: &str,
    reason: Option<&str>,
) -> Result<Row, sqlx::Error> {
    let tenant = tx.tenant();
    sqlx::query_as!(
        Row,
        r#"UPDATE campaigns SET status = $3,
               submitted_by = CASE WHEN $4 = 'submit' THEN $5 ELSE submitted_by END,
               submitted_at = CASE WHEN $4 = 'submit' THEN now() ELSE submitted_at END,
               approved_by = CASE WHEN $4 = 'approve' THEN $5 ELSE approved_by END,
               approved_at = CASE WHEN $4 = 'approve' THEN now() ELSE approved_at END,
               first_approved_at = CASE WHEN $4 = 'approve'
                   THEN coalesce(first_approved_at, now()) ELSE first_approved_at END,
               rejection_reason = CASE WHEN $4 = 'reject' THEN $6
                   WHEN $4 = 'submit' THEN NULL ELSE rejection_reason END,
               pending = CASE WHEN $4 = 'archive' THEN NULL ELSE pending END,
               version = version + 1, updated_at = now()
           WHERE id = $1 AND tenant_id = $2
           RETURNING id AS "id: CampaignId", insertion_order_id AS "insertion_order_id: InsertionOrderId",
               advertiser_id AS "advertiser_id: AdvertiserId", currency, name,
               objective AS "objective: Objective", budget_micros, daily_cap_micros, flight_start,
               flight_end, pacing AS "pacing: Pacing", kpi_goal, status AS "status: CampaignStatus",
               submitted_by, submitted_at, approved_by, approved_at, first_approved_at,
               rejection_reason, pending AS "pending: Json<Pending>", version, created_at,
               updated_at"#,
        id as CampaignId,
        tenant as TenantId,
        action.to() as CampaignStatus,
        action.as_str(),
        by,
        reason
    )
    .fetch_one(tx.conn())
    .await
}

/// Make the pending change live: its values replace the live ones, its maker
/// becomes the submitter and `by` the approver.
pub async fn approve_pending(
    tx: &mut TenantTx,
    id: CampaignId,
    by: &str,
) -> Result<Row, sqlx::Error> {
    let tenant = tx.tenant();
    sqlx::query!(
        r#"UPDATE campaigns SET
               budget_micros = coalesce((pending->>'budget_micros')::bigint, budget_micros),
               daily_cap_micros = coalesce((pending->>'daily_cap_micros')::bigint, daily_cap_micros),
               flight_start = coalesce((pending->'flight'->>'start')::date, flight_start),
               flight_end = coalesce((pending->'flight'->>'end')::date, flight_end),
               pacing = coalesce(pending->>'pacing', pacing),
               submitted_by = pending->>'by', submitted_at = (pending->>'at')::timestamptz,
               approved_by = $3, approved_at = now(), rejection_reason = NULL, pending = NULL,
               version = version + 1, updated_at = now()
           WHERE id = $1 AND tenant_id = $2 AND pending IS NOT NULL"#,
        id as CampaignId,
        tenant as TenantId,
        by
    )
    .execute(tx.conn())
    .await?;
    get(tx, id).await?.ok_or(sqlx::Error::RowNotFound)
}

/// Drop the pending change, saying why.
pub async fn reject_pending(
    tx: &mut TenantTx,
    id: CampaignId,
    reason: &str,
) -> Result<Row, sqlx::Error> {
    let tenant = tx.tenant();
    sqlx::query!(
        "UPDATE campaigns SET pending = NULL, rejection_reason = $3, version = version + 1, \
         updated_at = now() WHERE id = $1 AND tenant_id = $2 AND pending IS NOT NULL",
        id as CampaignId,
        tenant as TenantId,
        reason
    )
    .execute(tx.conn())
    .await?;
    get(tx, id).await?.ok_or(sqlx::Error::RowNotFound)
}

/// The campaigns of an insertion order, locked: (id, status, version).
pub async fn lock_of_insertion_order(
    tx: &mut TenantTx,
    io: InsertionOrderId,
) -> Result<Vec<(CampaignId, CampaignStatus, i64)>, sqlx::Error> {
    let tenant = tx.tenant();
    let rows = sqlx::query!(
        r#"SELECT id AS "id: CampaignId", status AS "status: CampaignStatus", version
           FROM campaigns WHERE insertion_order_id = $1 AND tenant_id = $2
           ORDER BY id FOR UPDATE"#,
        io as InsertionOrderId,
        tenant as TenantId
    )
    .fetch_all(tx.conn())
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.id, r.status, r.version))
        .collect())
}

/// The campaigns whose active ad groups run `creative`, locked: (id,
/// status, version).
pub async fn lock_running_creative(
    tx: &mut TenantTx,
    creative: CreativeId,
) -> Result<Vec<(CampaignId, CampaignStatus, i64)>, sqlx::Error> {
    let tenant = tx.tenant();
    let rows = sqlx::query!(
        r#"SELECT id AS "id: CampaignId", status AS "status: CampaignStatus", version
           FROM campaigns
           WHERE tenant_id = $2 AND id IN (
               SELECT g.campaign_id FROM ad_groups g
               WHERE g.tenant_id = $2 AND g.status = 'active' AND $1 = ANY (g.creative_ids))
           ORDER BY id FOR UPDATE"#,
        creative as CreativeId,
        tenant as TenantId
    )
    .fetch_all(tx.conn())
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.id, r.status, r.version))
        .collect())
}

/// Back to approval after a change elsewhere (its ad groups, its insertion
/// order's pricing, a creative it runs); the new version, or `None` when the
/// campaign has a pending change of its own (left as it is).
pub async fn resubmit(
    tx: &mut TenantTx,
    id: CampaignId,
    by: &str,
) -> Result<Option<i64>, sqlx::Error> {
    let tenant = tx.tenant();
    sqlx::query_scalar!(
        "UPDATE campaigns SET status = 'pending_approval', submitted_by = $3, submitted_at = now(), \
         approved_by = NULL, approved_at = NULL, version = version + 1, updated_at = now() \
         WHERE id = $1 AND tenant_id = $2 AND pending IS NULL RETURNING version",
        id as CampaignId,
        tenant as TenantId,
        by
    )
    .fetch_optional(tx.conn())
    .await
}
