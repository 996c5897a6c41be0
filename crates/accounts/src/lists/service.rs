//! Account-list operations: upload (parse, match, store, in the caller's
//! transaction), reads, the match report's CSV of rows not matched, and a
//! user's pick for a row.

use std::collections::HashSet;

use platform::http::pagination::Cursor;
use platform::http::problem::{ApiError, FieldError, Problem, conflict_on};
use platform::http::spreadsheet_cell as cell;
use tenancy::roles::Permission;
use tenancy::{Principal, TenantTx};

use super::matching::{Outcome, Prepared, match_prepared};
use super::parse::{InputRow, rows_of};
use super::store::{self, Counts};
use super::{AccountList, ListRow, RowStatus};
use crate::companies::import::invalid_file;
use crate::domain::registrable;
use crate::ids::AccountListId;
use crate::universe::Universe;

fn check_name(name: &str) -> Result<&str, ApiError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 || name.chars().any(char::is_control) {
        return Err(Problem::validation(vec![FieldError::new(
            "name",
            "invalid",
            "1 to 200 characters, no control characters",
        )])
        .into());
    }
    Ok(name)
}

/// Rows handed from the matching thread to the inserts at a time (one
/// insert statement each).
const CHUNK: usize = 10_000;

/// Parse `file` and work out what matching needs of each row (CPU work, on
/// a blocking thread while the universe is checked or loaded).
fn prepare(file: axum::body::Bytes) -> tokio::task::JoinHandle<Result<Vec<Prepared>, ApiError>> {
    tokio::task::spawn_blocking(move || {
        let rows = rows_of(&file).map_err(invalid_file)?;
        Ok(rows.into_iter().map(Prepared::new).collect())
    })
}

/// Match prepared `rows` against `universe` on a blocking thread, handing
/// them on in chunks as they are matched (so the first are stored while
/// the rest are matched), and count the outcomes.
fn match_all(
    universe: std::sync::Arc<Universe>,
    rows: Vec<Prepared>,
) -> (
    tokio::sync::mpsc::Receiver<Vec<(InputRow, Outcome)>>,
    tokio::task::JoinHandle<Counts>,
) {
    let (send, chunks) = tokio::sync::mpsc::channel(2);
    let counter = tokio::task::spawn_blocking(move || {
        let mut counts = Counts {
            rows: rows.len() as i64,
            ..Counts::default()
        };
        let mut companies = HashSet::new();
        let mut rows = rows.into_iter().peekable();
        while rows.peek().is_some() {
            let chunk: Vec<(InputRow, Outcome)> = rows
                .by_ref()
                .take(CHUNK)
                .map(|prepared| {
                    let outcome = match_prepared(&universe, &prepared);
                    match outcome.status {
                        RowStatus::Matched => counts.matched += 1,
                        RowStatus::Ambiguous => counts.ambiguous += 1,
                        RowStatus::Unmatched => counts.unmatched += 1,
                    }
                    if let Some(c) = &outcome.company {
                        companies.insert(c.clone());
                    }
                    (prepared.row, outcome)
                })
                .collect();
            if send.blocking_send(chunk).is_err() {
                break; // the upload failed; nothing more is wanted
            }
        }
        counts.companies = companies.len() as i64;
        counts
    });
    (chunks, counter)
}

fn failed(what: &str, e: tokio::task::JoinError) -> ApiError {
    ApiError::from(anyhow::anyhow!("{what} an account list failed: {e}"))
}

/// Upload a list: every row matched and stored, or (a file that is not an
/// account list) nothing.
pub async fn create(
    tx: &mut TenantTx,
    by: &Principal,
    name: &str,
    file: axum::body::Bytes,
) -> Result<AccountList, ApiError> {
    by.require(Permission::CampaignsWrite)?;
    let name = check_name(name)?;
    let rows = prepare(file);
    let universe = Universe::current(tx.conn()).await?;
    let rows = rows.await.map_err(|e| failed("preparing", e))??;
    let id = AccountListId::new();
    // The list first (its rows name it), counted once every row is matched.
    store::insert(tx, id, name, &by.maker_ref())
        .await
        .map_err(|e| {
            conflict_on(e, "account_lists_tenant_name_key", || {
                format!("an account list named {name} exists")
            })
        })?;
    let (mut chunks, counter) = match_all(universe, rows);
    while let Some(chunk) = chunks.recv().await {
        store::insert_rows(tx, id, &chunk).await?;
    }
    let counts = counter.await.map_err(|e| failed("matching", e))?;
    let list = store::set_counts(tx, id, counts).await?;
    tenancy::audit::record_change(
        tx,
        by,
        "account_list.created",
        "account_list",
        id,
        serde_json::json!({"after": {"name": list.name, "rows": list.rows,
            "matched": list.matched, "ambiguous": list.ambiguous,
            "unmatched": list.unmatched}}),
    )
    .await?;
    Ok(list)
}

pub async fn get(
    tx: &mut TenantTx,
    by: &Principal,
    id: AccountListId,
) -> Result<AccountList, ApiError> {
    by.require(Permission::CampaignsRead)?;
    store::get(tx, id)
        .await?
        .ok_or_else(|| Problem::not_found().into())
}

/// Newest first.
pub async fn list(
    tx: &mut TenantTx,
    by: &Principal,
    after: Option<Cursor>,
    limit: i64,
) -> Result<Vec<AccountList>, ApiError> {
    by.require(Permission::CampaignsRead)?;
    Ok(store::list(tx, after.map(|c| (c.at, c.id)), limit).await?)
}

/// A list's rows by line, optionally only those with `statuses`.
pub async fn rows(
    tx: &mut TenantTx,
    by: &Principal,
    id: AccountListId,
    statuses: &[RowStatus],
    after: i64,
    limit: i64,
) -> Result<Vec<ListRow>, ApiError> {
    get(tx, by, id).await?;
    Ok(store::rows(tx, id, statuses, after, limit).await?)
}

/// The rows not matched (ambiguous and unmatched) as CSV, to fix in a
/// spreadsheet: line, what the file said, the status, why, the candidates.
pub async fn not_matched_csv(
    tx: &mut TenantTx,
    by: &Principal,
    id: AccountListId,
) -> Result<Vec<u8>, ApiError> {
    get(tx, by, id).await?;
    let rows = store::rows(
        tx,
        id,
        &[RowStatus::Ambiguous, RowStatus::Unmatched],
        0,
        i64::MAX,
    )
    .await?;
    Ok(to_csv(&rows))
}

fn to_csv(rows: &[ListRow]) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let header = [
        "line",
        "domain",
        "name",
        "salesforce_id",
        "status",
        "reason",
        "candidates",
    ];
    // Writing to a Vec cannot fail.
    let _ = w.write_record(header);
    for r in rows {
        let line = r.line.to_string();
        let candidates = r.candidates.join(" ");
        let _ = w.write_record([
            line.as_str(),
            &cell(r.domain.as_deref().unwrap_or_default()),
            &cell(r.name.as_deref().unwrap_or_default()),
            r.salesforce_id.as_deref().unwrap_or_default(),
            r.status.as_str(),
            &cell(r.reason.as_deref().unwrap_or_default()),
            &candidates,
        ]);
    }
    w.into_inner().unwrap_or_default()
}

/// A user says which company a row means (one of an ambiguous row's
/// candidates, or any company of the universe).
pub async fn pick(
    tx: &mut TenantTx,
    by: &Principal,
    id: AccountListId,
    line: i64,
    company: &str,
) -> Result<(ListRow, AccountList), ApiError> {
    by.require(Permission::CampaignsWrite)?;
    if !store::lock(tx, id).await? {
        return Err(Problem::not_found().into());
    }
    let before = store::lock_row(tx, id, line)
        .await?
        .ok_or_else(|| Problem::not_found().with_detail(format!("the list has no line {line}")))?;
    let unknown = || {
        Problem::validation(vec![FieldError::new(
            "company",
            "unknown",
            format!("{company} is not a company P360 knows"),
        )])
    };
    let domain = registrable(company).map_err(|_| unknown())?;
    if crate::companies::store::get(tx.conn(), &domain)
        .await?
        .is_none()
    {
        return Err(unknown().into());
    }
    let after = store::pick(tx, id, line, &domain).await?;
    let list = store::recount(tx, id).await?;
    tenancy::audit::record_change(
        tx,
        by,
        "account_list.row_matched",
        "account_list",
        id,
        serde_json::json!({"line": line, "before": {"status": before.status,
            "company": before.company}, "after": {"status": after.status,
            "company": after.company}}),
    )
    .await?;
    Ok((after, list))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_csv_of_rows_not_matched_cannot_run_formulas() {
        let row = ListRow {
            line: 7,
            domain: Some("=HYPERLINK(\"http://evil.example\")".into()),
            name: Some("Acme, Inc.".into()),
            salesforce_id: None,
            status: RowStatus::Ambiguous,
            matched_by: None,
            company: None,
            candidates: vec!["acme.com".into(), "acme.co.uk".into()],
            reason: Some("2 companies are named Acme, Inc.".into()),
        };
        let csv = String::from_utf8(to_csv(&[row])).unwrap();
        assert_eq!(
            csv,
            "line,domain,name,salesforce_id,status,reason,candidates\n\
             7,\"'=HYPERLINK(\"\"http://evil.example\"\")\",\"Acme, Inc.\",,ambiguous,\
             \"2 companies are named Acme, Inc.\",acme.com acme.co.uk\n"
        );
    }
}
