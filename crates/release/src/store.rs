//! The deployments store: every SQL statement on `deployments` and
//! `deployment_events` (migration 12, owner role only), with the typed rows
//! they read. The rest of the crate never writes SQL of its own.

use std::time::Duration;

use anyhow::Result;
use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::postgres::{PgTypeInfo, PgValueRef, Postgres};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::backend::Slot;
use crate::model::{Phase, Request, Status};

/// How long the controller waits for its own bookkeeping (events, operator
/// requests) during a rollout before going on without it.
pub(crate) const STORE_TIMEOUT: Duration = Duration::from_secs(2);

/// A stored deployment.
#[derive(Debug, Clone)]
pub struct Deployment {
    pub id: Uuid,
    pub version: String,
    pub status: Status,
    pub phase: Phase,
    pub from_slot: Slot,
    pub to_slot: Slot,
    pub weight: i64,
    pub requested: Option<Request>,
    pub trigger: Option<String>,
    pub reason: Option<String>,
    pub backup_key: Option<String>,
    pub controller: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    /// Milliseconds since the controller's last heartbeat.
    pub silent_ms: i64,
}

/// The text columns read as this crate's enums (they are bound with
/// `as_str`/`name`).
macro_rules! text_column {
    ($ty:ty, $parse:expr) => {
        impl sqlx::Type<Postgres> for $ty {
            fn type_info() -> PgTypeInfo {
                <String as sqlx::Type<Postgres>>::type_info()
            }

            fn compatible(ty: &PgTypeInfo) -> bool {
                <String as sqlx::Type<Postgres>>::compatible(ty)
            }
        }

        impl<'r> sqlx::Decode<'r, Postgres> for $ty {
            fn decode(value: PgValueRef<'r>) -> Result<$ty, sqlx::error::BoxDynError> {
                let s = <&str as sqlx::Decode<'r, Postgres>>::decode(value)?;
                Ok($parse(s)?)
            }
        }
    };
}

text_column!(Status, Status::parse);
text_column!(Request, Request::parse);
text_column!(Slot, Slot::parse);
// `phase` has no CHECK constraint: see `Phase::from_stored`.
text_column!(Phase, |s| anyhow::Ok(Phase::from_stored(s)));

/// One row of `deployment_events`, as `status` shows it.
#[derive(Debug, Clone)]
pub struct Event {
    pub at: DateTime<Utc>,
    pub kind: String,
    pub detail: Value,
}

/// A deployment as `deploy start` inserts it (phase `preflight`).
pub(crate) struct NewDeployment<'a> {
    pub id: Uuid,
    pub version: &'a str,
    pub from: Slot,
    pub to: Slot,
    pub steps: Vec<i64>,
    pub dwell_ms: i64,
    pub controller: &'a str,
}

/// Whether the deployment tables exist (the first `deploy start` creates them).
pub(crate) async fn has_tables(pool: &PgPool) -> Result<bool> {
    Ok(
        sqlx::query_scalar!(r#"SELECT to_regclass('deployments') IS NOT NULL AS "exists!""#)
            .fetch_one(pool)
            .await?,
    )
}

/// The deployment in progress, if any (none before the tables exist).
pub(crate) async fn running(pool: &PgPool) -> Result<Option<Deployment>> {
    if !has_tables(pool).await? {
        return Ok(None);
    }
    Ok(sqlx::query_as!(
        Deployment,
        r#"SELECT id, version, status AS "status: Status", phase AS "phase: Phase",
     from_slot AS "from_slot: Slot", to_slot AS "to_slot: Slot", weight,
     requested AS "requested: Request", trigger, reason, backup_key, controller, started_at,
     finished_at, (extract(epoch FROM now() - heartbeat_at) * 1000)::bigint AS "silent_ms!"
     FROM deployments WHERE status = 'running'"#
    )
    .fetch_optional(pool)
    .await?)
}

/// The deployment started last (the tables must exist).
pub(crate) async fn latest(pool: &PgPool) -> Result<Option<Deployment>> {
    Ok(sqlx::query_as!(
        Deployment,
        r#"SELECT id, version, status AS "status: Status", phase AS "phase: Phase",
     from_slot AS "from_slot: Slot", to_slot AS "to_slot: Slot", weight,
     requested AS "requested: Request", trigger, reason, backup_key, controller, started_at,
     finished_at, (extract(epoch FROM now() - heartbeat_at) * 1000)::bigint AS "silent_ms!"
     FROM deployments ORDER BY started_at DESC LIMIT 1"#
    )
    .fetch_optional(pool)
    .await?)
}

/// The last `limit` deployments, newest first (the tables must exist).
pub(crate) async fn history(pool: &PgPool, limit: i64) -> Result<Vec<Deployment>> {
    Ok(sqlx::query_as!(
        Deployment,
        r#"SELECT id, version, status AS "status: Status", phase AS "phase: Phase",
     from_slot AS "from_slot: Slot", to_slot AS "to_slot: Slot", weight,
     requested AS "requested: Request", trigger, reason, backup_key, controller, started_at,
     finished_at, (extract(epoch FROM now() - heartbeat_at) * 1000)::bigint AS "silent_ms!"
     FROM deployments ORDER BY started_at DESC LIMIT $1"#,
        limit
    )
    .fetch_all(pool)
    .await?)
}

/// Store a new running deployment; refused if another one runs.
pub(crate) async fn insert(pool: &PgPool, d: &NewDeployment<'_>) -> Result<()> {
    sqlx::query!("INSERT INTO deployments (id, version, phase, from_slot, to_slot, steps, dwell_ms, controller) \
         VALUES ($1, $2, 'preflight', $3, $4, $5, $6, $7)", d.id, d.version, d.from.name(), d.to.name(), &d.steps, d.dwell_ms, d.controller)
    .execute(pool)
    .await
    .map_err(|e| match e {
        sqlx::Error::Database(e) if e.is_unique_violation() => {
            anyhow::anyhow!("another deployment started at the same moment")
        }
        e => e.into(),
    })?;
    Ok(())
}

/// Append an event (in the caller's transaction, next to its audit event).
pub(crate) async fn insert_event(
    conn: &mut PgConnection,
    id: Uuid,
    kind: &str,
    detail: &Value,
) -> Result<()> {
    sqlx::query!(
        "INSERT INTO deployment_events (deployment_id, kind, detail) VALUES ($1, $2, $3)",
        id,
        kind,
        detail
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// The latest events of `id` other than readings (at most 20), oldest first.
pub(crate) async fn recent_events(pool: &PgPool, id: Uuid) -> Result<Vec<Event>> {
    Ok(sqlx::query_as!(
        Event,
        r#"SELECT at AS "at!", kind AS "kind!", detail AS "detail!"
           FROM (SELECT id, at, kind, detail FROM deployment_events
                 WHERE deployment_id = $1 AND kind <> 'deployment.reading'
                 ORDER BY id DESC LIMIT 20) e ORDER BY id"#,
        id
    )
    .fetch_all(pool)
    .await?)
}

pub(crate) async fn set_phase(pool: &PgPool, id: Uuid, phase: Phase) -> Result<()> {
    sqlx::query!(
        "UPDATE deployments SET phase = $2 WHERE id = $1",
        id,
        phase.as_str()
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// Close the deployment (clearing any operator request).
pub(crate) async fn finish(
    pool: &PgPool,
    id: Uuid,
    status: Status,
    trigger: Option<&str>,
    reason: Option<&str>,
) -> Result<()> {
    sqlx::query!(
        "UPDATE deployments SET status = $2, trigger = $3, reason = $4, requested = NULL, \
         finished_at = now() WHERE id = $1",
        id,
        status.as_str(),
        trigger,
        reason
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// The new slot's weight as last set, in percent.
pub(crate) async fn set_weight(pool: &PgPool, id: Uuid, weight: i64) -> Result<()> {
    sqlx::query!(
        "UPDATE deployments SET weight = $2 WHERE id = $1",
        id,
        weight
    )
    .execute(pool)
    .await?;
    Ok(())
}

pub(crate) async fn backup_key(pool: &PgPool, id: Uuid) -> Result<Option<String>> {
    Ok(
        sqlx::query_scalar!("SELECT backup_key FROM deployments WHERE id = $1", id)
            .fetch_one(pool)
            .await?,
    )
}

pub(crate) async fn set_backup_key(pool: &PgPool, id: Uuid, key: &str) -> Result<()> {
    sqlx::query!(
        "UPDATE deployments SET backup_key = $2 WHERE id = $1",
        id,
        key
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// What an operator asked of `id`, if anything.
pub(crate) async fn requested(pool: &PgPool, id: Uuid) -> Result<Option<Request>> {
    Ok(sqlx::query_scalar!(
        r#"SELECT requested AS "requested: Request" FROM deployments WHERE id = $1"#,
        id
    )
    .fetch_one(pool)
    .await?)
}

/// Ask the controller of `id`, if it still runs, for `request`.
pub(crate) async fn request(pool: &PgPool, id: Uuid, request: Request) -> Result<()> {
    sqlx::query!(
        "UPDATE deployments SET requested = $2 WHERE id = $1 AND status = 'running'",
        id,
        request.as_str()
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// The request was taken up.
pub(crate) async fn clear_request(pool: &PgPool, id: Uuid) -> Result<()> {
    sqlx::query!("UPDATE deployments SET requested = NULL WHERE id = $1", id)
        .execute(pool)
        .await?;
    Ok(())
}

pub(crate) async fn status(pool: &PgPool, id: Uuid) -> Result<Status> {
    Ok(sqlx::query_scalar!(
        r#"SELECT status AS "status: Status" FROM deployments WHERE id = $1"#,
        id
    )
    .fetch_one(pool)
    .await?)
}

/// A heartbeat of `controller` into `id`: `false` when the row no longer
/// runs under it (finished, or taken over).
pub(crate) async fn beat(pool: &PgPool, id: Uuid, controller: &str) -> Result<bool> {
    let beat = sqlx::query!(
        "UPDATE deployments SET heartbeat_at = now() \
         WHERE id = $1 AND controller = $2 AND status = 'running'",
        id,
        controller
    )
    .execute(pool)
    .await?;
    Ok(beat.rows_affected() > 0)
}

/// Who controls `id` now, and its status.
pub(crate) async fn controller_of(pool: &PgPool, id: Uuid) -> Result<Option<(String, Status)>> {
    Ok(sqlx::query!(
        r#"SELECT controller, status AS "status: Status" FROM deployments WHERE id = $1"#,
        id
    )
    .fetch_optional(pool)
    .await?
    .map(|r| (r.controller, r.status)))
}

/// Make `controller` the controller of running `id` if its own has been
/// silent for more than `stale_ms`; `false` if it has not.
pub(crate) async fn take_over(
    pool: &PgPool,
    id: Uuid,
    controller: &str,
    stale_ms: i64,
) -> Result<bool> {
    let taken = sqlx::query!("UPDATE deployments SET controller = $2, heartbeat_at = now() \
         WHERE id = $1 AND status = 'running' AND heartbeat_at < now() - make_interval(secs => $3::float8 / 1000)", id, controller, stale_ms as f64)
    .execute(pool)
    .await?;
    Ok(taken.rows_affected() > 0)
}

/// The deployment in progress, as every serving instance exports it on
/// `/metrics`: whether one runs, the new slot's share, and how long its
/// controller has been silent (a dead controller can leave traffic split; an
/// alert watches this). The application role may read the table (migration 13).
pub async fn record_gauges(pool: &PgPool) -> Result<(), sqlx::Error> {
    let r = sqlx::query!(
        r#"SELECT count(*) AS "running!", coalesce(max(weight), 0)::float8 AS "weight!",
                  coalesce(max(extract(epoch FROM now() - heartbeat_at)), 0)::float8 AS "silent!"
           FROM deployments WHERE status = 'running'"#
    )
    .fetch_one(pool)
    .await?;
    metrics::gauge!("p360_deploy_in_progress").set(r.running as f64);
    metrics::gauge!("p360_deploy_weight_percent").set(r.weight);
    metrics::gauge!("p360_deploy_controller_silent_seconds").set(r.silent);
    Ok(())
}
