//! Account matching's SQL: the accounts waiting, their outcomes, the counts.

use tenancy::{TenantId, TenantTx};

/// An account waiting to be matched.
pub struct Unmatched {
    pub id: String,
    pub name: String,
    pub website: Option<String>,
}

/// Accounts whose match is pending, a chunk after `after` (by id).
pub async fn pending(
    tx: &mut TenantTx,
    after: &str,
    limit: i64,
) -> Result<Vec<Unmatched>, sqlx::Error> {
    let tenant = tx.tenant();
    sqlx::query_as!(
        Unmatched,
        "SELECT id, name, website FROM crm_accounts
         WHERE tenant_id = $1 AND match_status = 'pending' AND id > $2
         ORDER BY id LIMIT $3",
        tenant as TenantId,
        after,
        limit
    )
    .fetch_all(tx.conn())
    .await
}

/// One account's match.
pub struct Matched {
    pub id: String,
    pub status: &'static str,
    pub matched_by: Option<&'static str>,
    pub company: Option<String>,
    /// Comma-free domains.
    pub candidates: Vec<String>,
    pub reason: Option<String>,
}

pub async fn set_matches(tx: &mut TenantTx, rows: &[Matched]) -> Result<(), sqlx::Error> {
    let tenant = tx.tenant();
    let ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
    let statuses: Vec<&str> = rows.iter().map(|r| r.status).collect();
    let by: Vec<Option<&str>> = rows.iter().map(|r| r.matched_by).collect();
    let companies: Vec<Option<&str>> = rows.iter().map(|r| r.company.as_deref()).collect();
    // Candidates travel as one comma-joined text each (domains hold no comma).
    let candidates: Vec<String> = rows.iter().map(|r| r.candidates.join(",")).collect();
    let reasons: Vec<Option<&str>> = rows.iter().map(|r| r.reason.as_deref()).collect();
    sqlx::query!(
        r#"UPDATE crm_accounts a SET match_status = m.status, matched_by = m.by, company = m.company,
               candidates = coalesce(string_to_array(nullif(m.candidates, ''), ','), '{}'),
               match_reason = m.reason
           FROM UNNEST($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[])
               AS m (id, status, by, company, candidates, reason)
           WHERE a.tenant_id = $1 AND a.id = m.id"#,
        tenant as TenantId,
        &ids as &[&str],
        &statuses as &[&str],
        &by as &[Option<&str>],
        &companies as &[Option<&str>],
        &candidates,
        &reasons as &[Option<&str>]
    )
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// The match report's counts: (status, accounts), deleted accounts aside.
pub async fn match_counts(tx: &mut TenantTx) -> Result<Vec<(String, i64)>, sqlx::Error> {
    let tenant = tx.tenant();
    Ok(sqlx::query!(
        r#"SELECT match_status, count(*) AS "n!" FROM crm_accounts
           WHERE tenant_id = $1 AND NOT is_deleted GROUP BY match_status"#,
        tenant as TenantId
    )
    .fetch_all(tx.conn())
    .await?
    .into_iter()
    .map(|r| (r.match_status, r.n))
    .collect())
}
