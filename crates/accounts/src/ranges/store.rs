//! The SQL of companies' IP ranges (global reference data, as companies).

use sqlx::PgConnection;

use super::{Key, Range};

/// Serialise imports of ranges (the overlap check reads what another import
/// could be writing); held until the transaction ends.
pub async fn lock_imports(conn: &mut PgConnection) -> Result<(), sqlx::Error> {
    sqlx::query!("SELECT pg_advisory_xact_lock(hashtextextended('company_ip_ranges.import', 0))")
        .execute(conn)
        .await?;
    Ok(())
}

/// Which of `domains` are companies of the universe.
pub async fn known(
    conn: &mut PgConnection,
    domains: &[String],
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar!(
        "SELECT domain FROM companies WHERE domain = ANY($1)",
        domains
    )
    .fetch_all(conn)
    .await
}

fn range(first: Vec<u8>, last: Vec<u8>) -> Option<Range> {
    Some(Range {
        first: Key::try_from(first).ok()?,
        last: Key::try_from(last).ok()?,
    })
}

/// The stored ranges of companies in `domains` (`inside`), or of all the
/// others (`!inside`).
pub async fn stored(
    conn: &mut PgConnection,
    domains: &[String],
    inside: bool,
) -> Result<Vec<(String, Range)>, sqlx::Error> {
    let rows = sqlx::query!(
        "SELECT domain, first_ip, last_ip FROM company_ip_ranges \
         WHERE (domain = ANY($1)) = $2 ORDER BY first_ip",
        domains,
        inside
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|r| Some((r.domain, range(r.first_ip, r.last_ip)?)))
        .collect())
}

/// Give the ranges a new generation: every instance's resolver is stale.
pub async fn ranges_changed(conn: &mut PgConnection) -> Result<(), sqlx::Error> {
    sqlx::query!("UPDATE company_universe SET ranges_generation = ranges_generation + 1")
        .execute(conn)
        .await?;
    Ok(())
}

/// Delete these ranges.
pub async fn delete(
    conn: &mut PgConnection,
    ranges: &[(String, Range)],
) -> Result<(), sqlx::Error> {
    let domains: Vec<&str> = ranges.iter().map(|(d, _)| d.as_str()).collect();
    let firsts: Vec<Vec<u8>> = ranges.iter().map(|(_, r)| r.first.to_vec()).collect();
    sqlx::query!(
        "DELETE FROM company_ip_ranges r USING UNNEST($1::text[], $2::bytea[]) AS t(d, f) \
         WHERE r.domain = t.d AND r.first_ip = t.f",
        &domains as &[&str],
        &firsts
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Insert these ranges.
pub async fn insert(
    conn: &mut PgConnection,
    ranges: &[(String, Range)],
) -> Result<(), sqlx::Error> {
    for chunk in ranges.chunks(10_000) {
        let domains: Vec<&str> = chunk.iter().map(|(d, _)| d.as_str()).collect();
        let firsts: Vec<Vec<u8>> = chunk.iter().map(|(_, r)| r.first.to_vec()).collect();
        let lasts: Vec<Vec<u8>> = chunk.iter().map(|(_, r)| r.last.to_vec()).collect();
        sqlx::query!(
            "INSERT INTO company_ip_ranges (domain, first_ip, last_ip) \
             SELECT * FROM UNNEST($1::text[], $2::bytea[], $3::bytea[])",
            &domains as &[&str],
            &firsts,
            &lasts
        )
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// The ranges of company `domain`, in address order.
pub async fn of_company(conn: &mut PgConnection, domain: &str) -> Result<Vec<Range>, sqlx::Error> {
    let rows = sqlx::query!(
        "SELECT first_ip, last_ip FROM company_ip_ranges WHERE domain = $1 ORDER BY first_ip",
        domain
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|r| range(r.first_ip, r.last_ip))
        .collect())
}
