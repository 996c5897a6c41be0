//! The SQL of account lists, each statement in the caller's tenant
//! transaction and scoped to its tenant.

use chrono::{DateTime, Utc};
use tenancy::{TenantId, TenantTx};

use super::matching::Outcome;
use super::parse::InputRow;
use super::{AccountList, ListRow, MatchedBy, RowStatus};
use crate::ids::AccountListId;

/// Separates a row's candidates in the arrays handed to one statement.
const SEP: &str = "\u{1f}";

/// A new list's counts.
#[derive(Debug, Clone, Copy, Default)]
pub struct Counts {
    pub rows: i64,
    pub matched: i64,
    pub ambiguous: i64,
    pub unmatched: i64,
    pub companies: i64,
}

/// A new list, counted as empty until its rows are matched
/// ([`set_counts`]).
pub async fn insert(
    tx: &mut TenantTx,
    id: AccountListId,
    name: &str,
    created_by: &str,
) -> Result<(), sqlx::Error> {
    let tenant = tx.tenant();
    sqlx::query!(
        r#"INSERT INTO account_lists (id, tenant_id, name, rows_total, matched, ambiguous,
               unmatched, companies, created_by)
           VALUES ($1, $2, $3, 0, 0, 0, 0, 0, $4)"#,
        id as AccountListId,
        tenant as TenantId,
        name,
        created_by
    )
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// A new list's counts, once its rows are matched (not a new version: the
/// list is being created).
pub async fn set_counts(
    tx: &mut TenantTx,
    id: AccountListId,
    counts: Counts,
) -> Result<AccountList, sqlx::Error> {
    let tenant = tx.tenant();
    sqlx::query_as!(
        AccountList,
        r#"UPDATE account_lists
           SET rows_total = $3, matched = $4, ambiguous = $5, unmatched = $6, companies = $7
           WHERE id = $1 AND tenant_id = $2
           RETURNING id AS "id: AccountListId", name, rows_total AS rows, matched, ambiguous,
               unmatched, companies,
               CASE WHEN rows_total = 0 THEN 0 ELSE matched::float8 / rows_total END
                   AS "match_rate!",
               created_by, created_at, updated_at, version"#,
        id as AccountListId,
        tenant as TenantId,
        counts.rows,
        counts.matched,
        counts.ambiguous,
        counts.unmatched,
        counts.companies
    )
    .fetch_one(tx.conn())
    .await
}

/// Store some of a list's rows with their outcomes, in one statement.
pub async fn insert_rows(
    tx: &mut TenantTx,
    id: AccountListId,
    chunk: &[(InputRow, Outcome)],
) -> Result<(), sqlx::Error> {
    let tenant = tx.tenant();
    let lines: Vec<i64> = chunk.iter().map(|(r, _)| r.line as i64).collect();
    let domains: Vec<Option<&str>> = chunk.iter().map(|(r, _)| r.domain.as_deref()).collect();
    let names: Vec<Option<&str>> = chunk.iter().map(|(r, _)| r.name.as_deref()).collect();
    let sf: Vec<Option<&str>> = chunk
        .iter()
        .map(|(r, _)| r.salesforce_id.as_deref())
        .collect();
    let statuses: Vec<RowStatus> = chunk.iter().map(|(_, o)| o.status).collect();
    let by: Vec<Option<MatchedBy>> = chunk.iter().map(|(_, o)| o.matched_by).collect();
    let companies: Vec<Option<&str>> = chunk.iter().map(|(_, o)| o.company.as_deref()).collect();
    let candidates: Vec<String> = chunk.iter().map(|(_, o)| o.candidates.join(SEP)).collect();
    let reasons: Vec<Option<&str>> = chunk.iter().map(|(_, o)| o.reason.as_deref()).collect();
    sqlx::query!(
        r#"INSERT INTO account_list_rows (tenant_id, list_id, line, domain, name, salesforce_id,
               status, matched_by, company, candidates, reason)
           SELECT $1, $2, l, d, n, s, st, b, c,
                  CASE WHEN ca = '' THEN '{}'::text[] ELSE string_to_array(ca, $12) END, r
           FROM UNNEST($3::int8[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
                       $9::text[], $10::text[], $11::text[])
                AS t(l, d, n, s, st, b, c, ca, r)"#,
        tenant as TenantId,
        id as AccountListId,
        &lines,
        &domains as &[Option<&str>],
        &names as &[Option<&str>],
        &sf as &[Option<&str>],
        &statuses as &[RowStatus],
        &by as &[Option<MatchedBy>],
        &companies as &[Option<&str>],
        &candidates,
        &reasons as &[Option<&str>],
        SEP
    )
    .execute(tx.conn())
    .await?;
    Ok(())
}

pub async fn get(tx: &mut TenantTx, id: AccountListId) -> Result<Option<AccountList>, sqlx::Error> {
    let tenant = tx.tenant();
    sqlx::query_as!(
        AccountList,
        r#"SELECT id AS "id: AccountListId", name, rows_total AS rows, matched, ambiguous,
               unmatched, companies,
               CASE WHEN rows_total = 0 THEN 0 ELSE matched::float8 / rows_total END
                   AS "match_rate!",
               created_by, created_at, updated_at, version
           FROM account_lists WHERE id = $1 AND tenant_id = $2"#,
        id as AccountListId,
        tenant as TenantId
    )
    .fetch_optional(tx.conn())
    .await
}

/// Newest first, after the cursor (created_at, id).
pub async fn list(
    tx: &mut TenantTx,
    before: Option<(DateTime<Utc>, uuid::Uuid)>,
    limit: i64,
) -> Result<Vec<AccountList>, sqlx::Error> {
    let tenant = tx.tenant();
    let (at, id) = before.unzip();
    sqlx::query_as!(
        AccountList,
        r#"SELECT id AS "id: AccountListId", name, rows_total AS rows, matched, ambiguous,
               unmatched, companies,
               CASE WHEN rows_total = 0 THEN 0 ELSE matched::float8 / rows_total END
                   AS "match_rate!",
               created_by, created_at, updated_at, version
           FROM account_lists
           WHERE tenant_id = $1
             AND ($2::timestamptz IS NULL OR (created_at, id) < ($2, $3::uuid))
           ORDER BY created_at DESC, id DESC LIMIT $4"#,
        tenant as TenantId,
        at,
        id,
        limit
    )
    .fetch_all(tx.conn())
    .await
}

/// A list's rows by line after `after`, only those in `statuses` (all when
/// empty).
pub async fn rows(
    tx: &mut TenantTx,
    id: AccountListId,
    statuses: &[RowStatus],
    after: i64,
    limit: i64,
) -> Result<Vec<ListRow>, sqlx::Error> {
    let tenant = tx.tenant();
    sqlx::query_as!(
        ListRow,
        r#"SELECT line, domain, name, salesforce_id, status AS "status: RowStatus",
               matched_by AS "matched_by: MatchedBy", company, candidates, reason
           FROM account_list_rows
           WHERE list_id = $1 AND tenant_id = $2 AND line > $3
             AND (cardinality($4::text[]) = 0 OR status = ANY($4))
           ORDER BY line LIMIT $5"#,
        id as AccountListId,
        tenant as TenantId,
        after,
        statuses as &[RowStatus],
        limit
    )
    .fetch_all(tx.conn())
    .await
}

/// One row, locked for a change.
pub async fn lock_row(
    tx: &mut TenantTx,
    id: AccountListId,
    line: i64,
) -> Result<Option<ListRow>, sqlx::Error> {
    let tenant = tx.tenant();
    sqlx::query_as!(
        ListRow,
        r#"SELECT line, domain, name, salesforce_id, status AS "status: RowStatus",
               matched_by AS "matched_by: MatchedBy", company, candidates, reason
           FROM account_list_rows
           WHERE list_id = $1 AND tenant_id = $2 AND line = $3 FOR UPDATE"#,
        id as AccountListId,
        tenant as TenantId,
        line
    )
    .fetch_optional(tx.conn())
    .await
}

/// Lock the list (its counts change with a row).
pub async fn lock(tx: &mut TenantTx, id: AccountListId) -> Result<bool, sqlx::Error> {
    let tenant = tx.tenant();
    Ok(sqlx::query_scalar!(
        r#"SELECT 1 AS "one!" FROM account_lists WHERE id = $1 AND tenant_id = $2 FOR UPDATE"#,
        id as AccountListId,
        tenant as TenantId
    )
    .fetch_optional(tx.conn())
    .await?
    .is_some())
}

/// A user picked `company` for a row.
pub async fn pick(
    tx: &mut TenantTx,
    id: AccountListId,
    line: i64,
    company: &str,
) -> Result<ListRow, sqlx::Error> {
    let tenant = tx.tenant();
    sqlx::query_as!(
        ListRow,
        r#"UPDATE account_list_rows
           SET status = 'matched', matched_by = 'picked', company = $4, reason = NULL
           WHERE list_id = $1 AND tenant_id = $2 AND line = $3
           RETURNING line, domain, name, salesforce_id, status AS "status: RowStatus",
               matched_by AS "matched_by: MatchedBy", company, candidates, reason"#,
        id as AccountListId,
        tenant as TenantId,
        line,
        company
    )
    .fetch_one(tx.conn())
    .await
}

/// Count a list's rows again after a change, as a new version.
pub async fn recount(tx: &mut TenantTx, id: AccountListId) -> Result<AccountList, sqlx::Error> {
    let tenant = tx.tenant();
    sqlx::query_as!(
        AccountList,
        r#"UPDATE account_lists l
           SET matched = c.matched, ambiguous = c.ambiguous, unmatched = c.unmatched,
               companies = c.companies, version = l.version + 1, updated_at = now()
           FROM (SELECT count(*) FILTER (WHERE status = 'matched')::int8 AS matched,
                        count(*) FILTER (WHERE status = 'ambiguous')::int8 AS ambiguous,
                        count(*) FILTER (WHERE status = 'unmatched')::int8 AS unmatched,
                        count(DISTINCT company)::int8 AS companies
                 FROM account_list_rows WHERE list_id = $1 AND tenant_id = $2) c
           WHERE l.id = $1 AND l.tenant_id = $2
           RETURNING l.id AS "id: AccountListId", l.name, l.rows_total AS rows,
               l.matched, l.ambiguous, l.unmatched, l.companies,
               CASE WHEN l.rows_total = 0 THEN 0 ELSE l.matched::float8 / l.rows_total END
                   AS "match_rate!",
               l.created_by, l.created_at, l.updated_at, l.version"#,
        id as AccountListId,
        tenant as TenantId
    )
    .fetch_one(tx.conn())
    .await
}
