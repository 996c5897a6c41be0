//! What other capabilities may read of accounts: which of a tenant's
//! account lists exist, and the companies they matched.

use tenancy::{TenantId, TenantTx};
use uuid::Uuid;

/// Which of `ids` are account lists of the transaction's tenant.
pub async fn existing_lists(tx: &mut TenantTx, ids: &[Uuid]) -> Result<Vec<Uuid>, sqlx::Error> {
    let tenant = tx.tenant();
    sqlx::query_scalar!(
        "SELECT id FROM account_lists WHERE tenant_id = $1 AND id = ANY($2)",
        tenant as TenantId,
        ids
    )
    .fetch_all(tx.conn())
    .await
}

/// The companies (domains) matched in the lists `ids`, each once.
pub async fn matched_companies(
    tx: &mut TenantTx,
    ids: &[Uuid],
) -> Result<Vec<String>, sqlx::Error> {
    let tenant = tx.tenant();
    sqlx::query_scalar!(
        r#"SELECT DISTINCT company AS "company!" FROM account_list_rows
           WHERE tenant_id = $1 AND list_id = ANY($2) AND company IS NOT NULL
           ORDER BY 1"#,
        tenant as TenantId,
        ids
    )
    .fetch_all(tx.conn())
    .await
}

/// When each of the lists `ids` (of any tenant the transaction sees) last
/// changed (a row fixed, for one).
pub async fn lists_changed(
    conn: &mut sqlx::PgConnection,
    ids: &[Uuid],
) -> Result<Vec<(Uuid, chrono::DateTime<chrono::Utc>)>, sqlx::Error> {
    let rows = sqlx::query!(
        "SELECT id, updated_at FROM account_lists WHERE id = ANY($1)",
        ids
    )
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|r| (r.id, r.updated_at)).collect())
}

/// The IP ranges of the companies `domains` as CIDR blocks (a start–end
/// range split into the fewest blocks that cover it exactly), sorted, each
/// once: what an audience sends TTD.
pub async fn cidr_blocks(
    conn: &mut sqlx::PgConnection,
    domains: &[String],
) -> Result<Vec<String>, sqlx::Error> {
    let stored = crate::ranges::store::stored(conn, domains, true).await?;
    let mut blocks: Vec<String> = stored
        .iter()
        .flat_map(|(_, r)| r.cidrs())
        .map(|n| n.to_string())
        .collect();
    blocks.sort_unstable();
    blocks.dedup();
    Ok(blocks)
}

/// Every company's domain, in no order (to count a file's companies the
/// universe lacks).
pub async fn domains(conn: &mut sqlx::PgConnection) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar!("SELECT domain FROM companies")
        .fetch_all(conn)
        .await
}

/// The names of the companies `domains` (those the universe has).
pub async fn company_names(
    conn: &mut sqlx::PgConnection,
    domains: &[String],
) -> Result<Vec<(String, String)>, sqlx::Error> {
    let rows = sqlx::query!(
        "SELECT domain, name FROM companies WHERE domain = ANY($1)",
        domains
    )
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|r| (r.domain, r.name)).collect())
}

/// The IP ranges' generation (changed by every import that adds or removes
/// one).
pub async fn ranges_generation(conn: &mut sqlx::PgConnection) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar!("SELECT ranges_generation FROM company_universe")
        .fetch_one(conn)
        .await
}
