//! The SQL of the company universe. Global reference data: no tenant scope
//! applies, so these take any connection of a transaction a caller opened
//! through `tenancy::scope`.

use sqlx::PgConnection;

use super::{Company, NewCompany, SizeBand};

/// How many companies one upsert statement carries.
const CHUNK: usize = 5_000;

/// Separates a company's aliases in the arrays handed to one statement.
const ALIAS_SEP: &str = "\u{1f}";

/// Insert or update `companies`; (added, changed). A company whose values
/// are all as stored is left alone (its `updated_at` too).
pub async fn upsert(
    conn: &mut PgConnection,
    companies: &[NewCompany],
) -> Result<(u64, u64), sqlx::Error> {
    let (mut added, mut changed) = (0, 0);
    for chunk in companies.chunks(CHUNK) {
        let domains: Vec<&str> = chunk.iter().map(|c| c.domain.as_str()).collect();
        let names: Vec<&str> = chunk.iter().map(|c| c.name.as_str()).collect();
        let aliases: Vec<String> = chunk.iter().map(|c| c.aliases.join(ALIAS_SEP)).collect();
        let sizes: Vec<Option<&str>> = chunk.iter().map(|c| c.size.map(SizeBand::as_str)).collect();
        let industries: Vec<Option<&str>> = chunk.iter().map(|c| c.industry.as_deref()).collect();
        let countries: Vec<Option<&str>> = chunk.iter().map(|c| c.country.as_deref()).collect();
        let rows = sqlx::query_scalar!(
            r#"INSERT INTO companies (domain, name, aliases, size, industry, country)
               SELECT d, n, CASE WHEN a = '' THEN '{}'::text[] ELSE string_to_array(a, $7) END,
                      s, i, c
               FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[])
                    AS t(d, n, a, s, i, c)
               ON CONFLICT (domain) DO UPDATE SET name = EXCLUDED.name, aliases = EXCLUDED.aliases,
                   size = EXCLUDED.size, industry = EXCLUDED.industry, country = EXCLUDED.country,
                   updated_at = now()
               WHERE (companies.name, companies.aliases, companies.size, companies.industry,
                      companies.country)
                   IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.aliases, EXCLUDED.size,
                      EXCLUDED.industry, EXCLUDED.country)
               RETURNING (xmax = 0) AS "inserted!""#,
            &domains as &[&str],
            &names as &[&str],
            &aliases,
            &sizes as &[Option<&str>],
            &industries as &[Option<&str>],
            &countries as &[Option<&str>],
            ALIAS_SEP
        )
        .fetch_all(&mut *conn)
        .await?;
        let inserted = rows.iter().filter(|i| **i).count() as u64;
        added += inserted;
        changed += rows.len() as u64 - inserted;
    }
    Ok((added, changed))
}

/// Add those of `companies` the universe lacks, leaving every company it
/// has as it is (what staff loaded wins over what a partner file says);
/// how many were added.
pub async fn insert_new(
    conn: &mut PgConnection,
    companies: &[NewCompany],
) -> Result<u64, sqlx::Error> {
    let mut added = 0;
    for chunk in companies.chunks(CHUNK) {
        let domains: Vec<&str> = chunk.iter().map(|c| c.domain.as_str()).collect();
        let names: Vec<&str> = chunk.iter().map(|c| c.name.as_str()).collect();
        let sizes: Vec<Option<&str>> = chunk.iter().map(|c| c.size.map(SizeBand::as_str)).collect();
        let industries: Vec<Option<&str>> = chunk.iter().map(|c| c.industry.as_deref()).collect();
        let countries: Vec<Option<&str>> = chunk.iter().map(|c| c.country.as_deref()).collect();
        added += sqlx::query!(
            "INSERT INTO companies (domain, name, size, industry, country) \
             SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[]) \
             ON CONFLICT (domain) DO NOTHING",
            &domains as &[&str],
            &names as &[&str],
            &sizes as &[Option<&str>],
            &industries as &[Option<&str>],
            &countries as &[Option<&str>]
        )
        .execute(&mut *conn)
        .await?
        .rows_affected();
    }
    Ok(added)
}

/// The company with registrable domain `domain`.
pub async fn get(conn: &mut PgConnection, domain: &str) -> Result<Option<Company>, sqlx::Error> {
    sqlx::query_as!(
        Company,
        r#"SELECT domain, name, aliases, size AS "size: SizeBand", industry, country, created_at,
                  updated_at
           FROM companies WHERE domain = $1"#,
        domain
    )
    .fetch_optional(conn)
    .await
}

/// Companies whose domain or name starts with `prefix` (a LIKE pattern,
/// escaped, lower case), by domain, after `after`.
pub async fn search(
    conn: &mut PgConnection,
    prefix: &str,
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<Company>, sqlx::Error> {
    sqlx::query_as!(
        Company,
        r#"SELECT domain, name, aliases, size AS "size: SizeBand", industry, country, created_at,
                  updated_at
           FROM companies
           WHERE (domain LIKE $1 || '%' OR lower(name) LIKE $1 || '%')
             AND ($2::text IS NULL OR domain > $2)
           ORDER BY domain LIMIT $3"#,
        prefix,
        after,
        limit
    )
    .fetch_all(conn)
    .await
}

/// Give the universe a new generation: every instance's in-memory copy
/// (`crate::universe`) is stale.
pub async fn universe_changed(conn: &mut PgConnection) -> Result<(), sqlx::Error> {
    sqlx::query!("UPDATE company_universe SET generation = gen_random_uuid()")
        .execute(conn)
        .await?;
    Ok(())
}
