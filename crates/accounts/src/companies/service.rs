//! Company operations: read for everyone who plans campaigns, import for
//! staff and operators (a file, whole or line by line).

use platform::http::problem::{ApiError, Problem};
use sqlx::PgConnection;
use tenancy::Principal;
use tenancy::audit::{self, NewEvent, Outcome};
use tenancy::roles::Permission;

use super::import::{self, FileError};
use super::{Company, ImportReport, NewCompany, store};
use crate::domain::registrable;

/// Why an import did nothing.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{0}")]
    File(#[from] FileError),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// Import a company file in the caller's transaction: every line that can be
/// imported is, the others are reported with their line numbers; a file
/// that is not a company CSV imports nothing.
pub async fn import(conn: &mut PgConnection, bytes: &[u8]) -> Result<ImportReport, ImportError> {
    let parsed = import::companies(bytes)?;
    let companies: Vec<NewCompany> = parsed.companies.into_iter().map(|(_, c)| c).collect();
    let (added, changed) = store::upsert(conn, &companies).await?;
    if added + changed > 0 {
        store::universe_changed(conn).await?;
    }
    Ok(ImportReport {
        added,
        changed,
        unchanged: companies.len() as u64 - added - changed,
        skipped: parsed.skipped,
    })
}

impl ImportError {
    /// As an API answer: a file refused whole is a 422 naming the line.
    pub fn into_api(self) -> ApiError {
        match self {
            ImportError::File(e) => import::invalid_file(e),
            ImportError::Database(e) => e.into(),
        }
    }
}

/// Record an import by a staff member on the platform's audit chain (the
/// universe belongs to no tenant): what, and what it did.
pub async fn audit_import(
    conn: &mut PgConnection,
    by: &Principal,
    action: &'static str,
    report: serde_json::Value,
) -> Result<(), ApiError> {
    audit::record(
        conn,
        &by.actor,
        &by.meta,
        NewEvent {
            tenant: None,
            action,
            target_type: "companies",
            target_id: None,
            changes: report,
            outcome: Outcome::Success,
        },
    )
    .await?;
    Ok(())
}

/// The company whose registrable domain `input` names (`www.shop.acme.co.uk`
/// finds `acme.co.uk`).
pub async fn get(
    conn: &mut PgConnection,
    by: &Principal,
    input: &str,
) -> Result<Company, ApiError> {
    by.require(Permission::CampaignsRead)?;
    let Ok(domain) = registrable(input) else {
        return Err(Problem::not_found()
            .with_detail(format!("{input} is not a company's domain"))
            .into());
    };
    store::get(conn, &domain).await?.ok_or_else(|| {
        Problem::not_found()
            .with_detail(format!("no company {domain}"))
            .into()
    })
}

/// Companies whose domain or name starts with `q` (any case), by domain.
pub async fn search(
    conn: &mut PgConnection,
    by: &Principal,
    q: &str,
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<Company>, ApiError> {
    by.require(Permission::CampaignsRead)?;
    let prefix = platform::db::escape_like(&q.trim().to_lowercase());
    Ok(store::search(conn, &prefix, after, limit).await?)
}
