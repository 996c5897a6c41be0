//! The SQL of audiences, each statement in the caller's tenant transaction
//! and scoped to its tenant.

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::types::Json;
use tenancy::{TenantId, TenantTx};
use uuid::Uuid;

use super::{Audience, BuildView, ChangeView, TopicScore};
use crate::build::{Change, Member};
use crate::ids::AudienceId;
use crate::rule::Rule;

/// An audience as stored.
pub struct Row {
    pub id: AudienceId,
    pub name: String,
    pub include_lists: Vec<Uuid>,
    pub exclude_lists: Vec<Uuid>,
    pub rule: Json<Rule>,
    pub builds: i64,
    pub built_week: Option<NaiveDate>,
    pub built_at: Option<DateTime<Utc>>,
    pub members: i64,
    pub held_out: i64,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i64,
}

impl From<Row> for Audience {
    fn from(r: Row) -> Audience {
        Audience {
            id: r.id,
            name: r.name,
            include_lists: r.include_lists.into_iter().map(Into::into).collect(),
            exclude_lists: r.exclude_lists.into_iter().map(Into::into).collect(),
            rule: r.rule.0,
            builds: r.builds,
            built_week: r.built_week,
            built_at: r.built_at,
            members: r.members,
            held_out: r.held_out,
            created_by: r.created_by,
            created_at: r.created_at,
            updated_at: r.updated_at,
            version: r.version,
        }
    }
}

pub struct NewRow<'a> {
    pub name: &'a str,
    pub include_lists: &'a [Uuid],
    pub exclude_lists: &'a [Uuid],
    pub rule: &'a Rule,
    pub created_by: &'a str,
}

pub async fn insert(
    tx: &mut TenantTx,
    id: AudienceId,
    new: NewRow<'_>,
) -> Result<Row, sqlx::Error> {
    let tenant = tx.tenant();
    sqlx::query_as!(
        Row,
        r#"INSERT INTO audiences (id, tenant_id, name, include_lists, exclude_lists, rule, created_by)
           VALUES ($1, $2, $3, $4, $5, $6, $7)
           RETURNING id AS "id: AudienceId", name, include_lists, exclude_lists,
               rule AS "rule: Json<Rule>", builds, built_week, built_at, members, held_out,
               created_by, created_at, updated_at, version"#,
        id as AudienceId,
        tenant as TenantId,
        new.name,
        new.include_lists,
        new.exclude_lists,
        Json(new.rule) as _,
        new.created_by
    )
    .fetch_one(tx.conn())
    .await
}

pub async fn get(tx: &mut TenantTx, id: AudienceId) -> Result<Option<Row>, sqlx::Error> {
    let tenant = tx.tenant();
    sqlx::query_as!(
        Row,
        r#"SELECT id AS "id: AudienceId", name, include_lists, exclude_lists,
               rule AS "rule: Json<Rule>", builds, built_week, built_at, members, held_out,
               created_by, created_at, updated_at, version
           FROM audiences WHERE id = $1 AND tenant_id = $2"#,
        id as AudienceId,
        tenant as TenantId
    )
    .fetch_optional(tx.conn())
    .await
}

/// Lock an audience for a build.
pub async fn lock(tx: &mut TenantTx, id: AudienceId) -> Result<Option<Row>, sqlx::Error> {
    let tenant = tx.tenant();
    sqlx::query_as!(
        Row,
        r#"SELECT id AS "id: AudienceId", name, include_lists, exclude_lists,
               rule AS "rule: Json<Rule>", builds, built_week, built_at, members, held_out,
               created_by, created_at, updated_at, version
           FROM audiences WHERE id = $1 AND tenant_id = $2 FOR UPDATE"#,
        id as AudienceId,
        tenant as TenantId
    )
    .fetch_optional(tx.conn())
    .await
}

/// Newest first, after the cursor (created_at, id).
pub async fn list(
    tx: &mut TenantTx,
    before: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> Result<Vec<Row>, sqlx::Error> {
    let tenant = tx.tenant();
    let (at, id) = before.unzip();
    sqlx::query_as!(
        Row,
        r#"SELECT id AS "id: AudienceId", name, include_lists, exclude_lists,
               rule AS "rule: Json<Rule>", builds, built_week, built_at, members, held_out,
               created_by, created_at, updated_at, version
           FROM audiences
           WHERE tenant_id = $1 AND ($2::timestamptz IS NULL OR (created_at, id) < ($2, $3::uuid))
           ORDER BY created_at DESC, id DESC LIMIT $4"#,
        tenant as TenantId,
        at,
        id,
        limit
    )
    .fetch_all(tx.conn())
    .await
}

/// Which of `ids` are audiences of the transaction's tenant.
pub async fn existing(tx: &mut TenantTx, ids: &[Uuid]) -> Result<Vec<Uuid>, sqlx::Error> {
    let tenant = tx.tenant();
    sqlx::query_scalar!(
        "SELECT id FROM audiences WHERE tenant_id = $1 AND id = ANY($2)",
        tenant as TenantId,
        ids
    )
    .fetch_all(tx.conn())
    .await
}

/// The current members' domains.
pub async fn member_domains(tx: &mut TenantTx, id: AudienceId) -> Result<Vec<String>, sqlx::Error> {
    let tenant = tx.tenant();
    sqlx::query_scalar!(
        "SELECT domain FROM audience_members WHERE audience_id = $1 AND tenant_id = $2 ORDER BY domain",
        id as AudienceId,
        tenant as TenantId
    )
    .fetch_all(tx.conn())
    .await
}

/// What one build stored.
pub struct Stored<'a> {
    pub n: i64,
    pub week: Option<NaiveDate>,
    pub trigger: &'a str,
    pub members: &'a [Member],
    pub changes: &'a [Change],
    pub unknown_topics: &'a [String],
}

/// Store build `b`: the members replaced, the changes and the build
/// recorded, the audience's counts updated.
pub async fn store_build(
    tx: &mut TenantTx,
    id: AudienceId,
    b: Stored<'_>,
) -> Result<(), sqlx::Error> {
    let tenant = tx.tenant();
    sqlx::query!(
        "DELETE FROM audience_members WHERE audience_id = $1 AND tenant_id = $2",
        id as AudienceId,
        tenant as TenantId
    )
    .execute(tx.conn())
    .await?;
    for chunk in b.members.chunks(10_000) {
        let domains: Vec<&str> = chunk.iter().map(|m| m.domain.as_str()).collect();
        let holdout: Vec<bool> = chunk.iter().map(|m| m.holdout).collect();
        let in_list: Vec<bool> = chunk.iter().map(|m| m.in_list).collect();
        let topics: Vec<serde_json::Value> = chunk
            .iter()
            .map(|m| serde_json::json!(m.topics.iter().map(|(t, s)| (t, s)).collect::<Vec<_>>()))
            .collect();
        sqlx::query!(
            "INSERT INTO audience_members (tenant_id, audience_id, domain, holdout, in_list, topics)
             SELECT $1, $2, d, h, l, t FROM UNNEST($3::text[], $4::bool[], $5::bool[], $6::jsonb[])
                 AS x(d, h, l, t)",
            tenant as TenantId,
            id as AudienceId,
            &domains as &[&str],
            &holdout,
            &in_list,
            &topics
        )
        .execute(tx.conn())
        .await?;
    }
    for chunk in b.changes.chunks(10_000) {
        let domains: Vec<&str> = chunk.iter().map(|c| c.domain.as_str()).collect();
        let added: Vec<bool> = chunk.iter().map(|c| c.added).collect();
        let reasons: Vec<&str> = chunk.iter().map(|c| c.reason.as_str()).collect();
        sqlx::query!(
            "INSERT INTO audience_changes (tenant_id, audience_id, build, domain, added, reason)
             SELECT $1, $2, $3, d, a, r FROM UNNEST($4::text[], $5::bool[], $6::text[]) AS x(d, a, r)",
            tenant as TenantId,
            id as AudienceId,
            b.n,
            &domains as &[&str],
            &added,
            &reasons as &[&str]
        )
        .execute(tx.conn())
        .await?;
    }
    let held_out = b.members.iter().filter(|m| m.holdout).count() as i64;
    let added = b.changes.iter().filter(|c| c.added).count() as i64;
    sqlx::query!(
        "INSERT INTO audience_builds (tenant_id, audience_id, n, week, trigger, members, held_out,
             added, removed, unknown_topics)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        tenant as TenantId,
        id as AudienceId,
        b.n,
        b.week,
        b.trigger,
        b.members.len() as i64,
        held_out,
        added,
        b.changes.len() as i64 - added,
        b.unknown_topics
    )
    .execute(tx.conn())
    .await?;
    sqlx::query!(
        "UPDATE audiences SET builds = $3, built_week = $4, built_at = now(), members = $5,
             held_out = $6
         WHERE id = $1 AND tenant_id = $2",
        id as AudienceId,
        tenant as TenantId,
        b.n,
        b.week,
        b.members.len() as i64,
        held_out
    )
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// A stored member.
pub struct MemberRow {
    pub domain: String,
    pub holdout: bool,
    pub in_list: bool,
    pub topics: Json<Vec<(String, u8)>>,
}

impl MemberRow {
    pub fn topics(&self) -> Vec<TopicScore> {
        self.topics
            .0
            .iter()
            .map(|(topic, score)| TopicScore {
                topic: topic.clone(),
                score: *score,
            })
            .collect()
    }
}

/// Members by domain after `after`.
pub async fn members(
    tx: &mut TenantTx,
    id: AudienceId,
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<MemberRow>, sqlx::Error> {
    let tenant = tx.tenant();
    sqlx::query_as!(
        MemberRow,
        r#"SELECT domain, holdout, in_list, topics AS "topics: Json<Vec<(String, u8)>>"
           FROM audience_members
           WHERE audience_id = $1 AND tenant_id = $2 AND ($3::text IS NULL OR domain > $3)
           ORDER BY domain LIMIT $4"#,
        id as AudienceId,
        tenant as TenantId,
        after,
        limit
    )
    .fetch_all(tx.conn())
    .await
}

pub async fn builds(tx: &mut TenantTx, id: AudienceId) -> Result<Vec<BuildView>, sqlx::Error> {
    let tenant = tx.tenant();
    sqlx::query_as!(
        BuildView,
        "SELECT n, week, trigger, members, held_out, added, removed, unknown_topics, built_at
         FROM audience_builds WHERE audience_id = $1 AND tenant_id = $2 ORDER BY n DESC",
        id as AudienceId,
        tenant as TenantId
    )
    .fetch_all(tx.conn())
    .await
}

pub async fn changes(
    tx: &mut TenantTx,
    id: AudienceId,
    n: i64,
) -> Result<Option<Vec<ChangeView>>, sqlx::Error> {
    let tenant = tx.tenant();
    let exists = sqlx::query_scalar!(
        r#"SELECT 1 AS "one!" FROM audience_builds WHERE audience_id = $1 AND tenant_id = $2 AND n = $3"#,
        id as AudienceId,
        tenant as TenantId,
        n
    )
    .fetch_optional(tx.conn())
    .await?;
    if exists.is_none() {
        return Ok(None);
    }
    Ok(Some(
        sqlx::query_as!(
            ChangeView,
            "SELECT domain, added, reason FROM audience_changes
             WHERE audience_id = $1 AND tenant_id = $2 AND build = $3 ORDER BY domain",
            id as AudienceId,
            tenant as TenantId,
            n
        )
        .fetch_all(tx.conn())
        .await?,
    ))
}

/// Audiences (of every tenant) not built on `week`: (tenant, id).
pub async fn stale(
    conn: &mut sqlx::PgConnection,
    week: NaiveDate,
) -> Result<Vec<(TenantId, AudienceId)>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"SELECT tenant_id AS "tenant: TenantId", id AS "id: AudienceId" FROM audiences
           WHERE built_week IS DISTINCT FROM $1 ORDER BY built_at NULLS FIRST LIMIT 500"#,
        week
    )
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|r| (r.tenant, r.id)).collect())
}

/// Every audience (of every tenant the connection sees): (tenant, id, its
/// lists, when it was last built).
pub async fn definitions(
    conn: &mut sqlx::PgConnection,
) -> Result<Vec<(TenantId, AudienceId, Vec<Uuid>, Option<DateTime<Utc>>)>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"SELECT tenant_id AS "tenant: TenantId", id AS "id: AudienceId",
               include_lists || exclude_lists AS "lists!", built_at
           FROM audiences ORDER BY id"#
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.tenant, r.id, r.lists, r.built_at))
        .collect())
}
