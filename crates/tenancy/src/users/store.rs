//! The SQL of users and staff assignments.

use sqlx::PgConnection;

use super::{User, UserStatus};
use crate::credentials::jwt::VerifiedToken;
use crate::principal::UserId;
use crate::scope::{TenantId, TenantTx};

/// A user as sign-in sees it.
pub struct Known {
    pub id: UserId,
    pub tenant_id: Option<TenantId>,
    pub role: String,
    pub status: UserStatus,
    pub email: Option<String>,
}

pub async fn by_subject(
    conn: &mut PgConnection,
    issuer: &str,
    subject: &str,
) -> Result<Option<Known>, sqlx::Error> {
    sqlx::query_as!(
        Known,
        r#"SELECT id AS "id: UserId", tenant_id AS "tenant_id: TenantId", role,
                  status AS "status: UserStatus", email
           FROM users WHERE issuer = $1 AND subject = $2"#,
        issuer,
        subject
    )
    .fetch_optional(conn)
    .await
}

pub async fn set_role(conn: &mut PgConnection, id: UserId, role: &str) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE users SET role = $2 WHERE id = $1",
        id as UserId,
        role
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Record a sign-in, at most every five minutes.
pub async fn seen(conn: &mut PgConnection, id: UserId) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE users SET last_seen_at = now() WHERE id = $1 \
         AND (last_seen_at IS NULL OR last_seen_at < now() - interval '5 minutes')",
        id as UserId
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Record a use by a cached principal (no throttle: the cache decides when).
pub async fn touch(conn: &mut PgConnection, id: UserId) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE users SET last_seen_at = now() WHERE id = $1",
        id as UserId
    )
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn assigned_tenants(
    conn: &mut PgConnection,
    id: UserId,
) -> Result<Vec<TenantId>, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT tenant_id AS "tenant_id: TenantId" FROM staff_assignments WHERE user_id = $1"#,
        id as UserId
    )
    .fetch_all(conn)
    .await
}

/// A new user from a verified token: staff (no tenant) or a customer of `tenant`.
pub async fn insert_from_token(
    conn: &mut PgConnection,
    token: &VerifiedToken,
    tenant: Option<TenantId>,
    role: &str,
) -> Result<UserId, sqlx::Error> {
    let id = UserId::new();
    let kind = if tenant.is_some() {
        "customer"
    } else {
        "staff"
    };
    sqlx::query!(
        "INSERT INTO users (id, tenant_id, kind, issuer, subject, email, name, role) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        id as UserId,
        tenant as Option<TenantId>,
        kind,
        token.issuer,
        token.subject,
        token.email,
        token.name,
        role
    )
    .execute(conn)
    .await?;
    Ok(id)
}

/// Open invitations for `email` (in `tenant` if given): (id, tenant, role).
pub async fn invitations(
    conn: &mut PgConnection,
    email: &str,
    tenant: Option<TenantId>,
) -> Result<Vec<(UserId, TenantId, String, i64)>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"SELECT id AS "id: UserId", tenant_id AS "tenant_id!: TenantId", role,
                  extract(day FROM now() - created_at)::bigint AS "age_days!"
           FROM users
           WHERE status = 'invited' AND lower(email) = lower($1)
             AND ($2::uuid IS NULL OR tenant_id = $2)"#,
        email,
        tenant as Option<TenantId>
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.id, r.tenant_id, r.role, r.age_days))
        .collect())
}

/// The invited user signs in for the first time.
pub async fn accept_invitation(
    conn: &mut PgConnection,
    id: UserId,
    token: &VerifiedToken,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE users SET issuer = $2, subject = $3, name = coalesce(name, $4), status = 'active' \
         WHERE id = $1",
        id as UserId,
        token.issuer,
        token.subject,
        token.name
    )
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn list(tx: &mut TenantTx) -> Result<Vec<User>, sqlx::Error> {
    let tenant = tx.tenant();
    sqlx::query_as!(
        User,
        r#"SELECT id AS "id: UserId", tenant_id AS "tenant_id: TenantId", kind, email, name, role,
                  status AS "status: UserStatus", created_at, last_seen_at
           FROM users WHERE tenant_id = $1 ORDER BY created_at, id"#,
        tenant as TenantId
    )
    .fetch_all(tx.conn())
    .await
}

pub async fn invite(
    tx: &mut TenantTx,
    email: &str,
    name: Option<&str>,
    role: &str,
) -> Result<User, sqlx::Error> {
    let tenant = tx.tenant();
    sqlx::query_as!(
        User,
        r#"INSERT INTO users (id, tenant_id, kind, email, name, role, status)
           VALUES ($1, $2, 'customer', $3, $4, $5, 'invited')
           RETURNING id AS "id: UserId", tenant_id AS "tenant_id: TenantId", kind, email, name,
                     role, status AS "status: UserStatus", created_at, last_seen_at"#,
        UserId::new() as UserId,
        tenant as TenantId,
        email,
        name,
        role
    )
    .fetch_one(tx.conn())
    .await
}

pub async fn lock(tx: &mut TenantTx, id: UserId) -> Result<Option<User>, sqlx::Error> {
    let tenant = tx.tenant();
    sqlx::query_as!(
        User,
        r#"SELECT id AS "id: UserId", tenant_id AS "tenant_id: TenantId", kind, email, name, role,
                  status AS "status: UserStatus", created_at, last_seen_at
           FROM users WHERE id = $1 AND tenant_id = $2 FOR UPDATE"#,
        id as UserId,
        tenant as TenantId
    )
    .fetch_optional(tx.conn())
    .await
}

pub async fn update(
    tx: &mut TenantTx,
    id: UserId,
    role: Option<&str>,
    status: Option<UserStatus>,
) -> Result<User, sqlx::Error> {
    let tenant = tx.tenant();
    sqlx::query_as!(
        User,
        r#"UPDATE users SET role = coalesce($3, role), status = coalesce($4, status)
           WHERE id = $1 AND tenant_id = $2
           RETURNING id AS "id: UserId", tenant_id AS "tenant_id: TenantId", kind, email, name,
                     role, status AS "status: UserStatus", created_at, last_seen_at"#,
        id as UserId,
        tenant as TenantId,
        role,
        status as Option<UserStatus>
    )
    .fetch_one(tx.conn())
    .await
}

/// The user's kind (`staff`, `customer`), locking the row.
pub async fn lock_kind(conn: &mut PgConnection, id: UserId) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar!(
        "SELECT kind FROM users WHERE id = $1 FOR UPDATE",
        id as UserId
    )
    .fetch_optional(conn)
    .await
}

/// Slugs of the tenants a staff member is assigned to.
pub async fn assignment_slugs(
    conn: &mut PgConnection,
    id: UserId,
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar!(
        "SELECT t.slug FROM staff_assignments a JOIN tenants t ON t.id = a.tenant_id \
         WHERE a.user_id = $1 ORDER BY t.slug",
        id as UserId
    )
    .fetch_all(conn)
    .await
}

pub async fn replace_assignments(
    conn: &mut PgConnection,
    id: UserId,
    tenants: &[TenantId],
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "DELETE FROM staff_assignments WHERE user_id = $1",
        id as UserId
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!(
        "INSERT INTO staff_assignments (user_id, tenant_id) SELECT $1, unnest($2::uuid[])",
        id as UserId,
        tenants as &[TenantId]
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Set a staff member's status; the status before.
pub async fn set_staff_status(
    conn: &mut PgConnection,
    id: UserId,
    status: UserStatus,
) -> Result<UserStatus, sqlx::Error> {
    sqlx::query_scalar!(
        r#"UPDATE users u SET status = $2
           FROM (SELECT status FROM users WHERE id = $1) AS before
           WHERE u.id = $1 AND u.kind = 'staff'
           RETURNING before.status AS "status: UserStatus""#,
        id as UserId,
        status as UserStatus
    )
    .fetch_one(conn)
    .await
}

/// Revoke an invitation nobody accepted: it stays listed, deactivated (the
/// application role deletes no users), and no sign-in can accept it.
pub async fn revoke_invitation(tx: &mut TenantTx, id: UserId) -> Result<(), sqlx::Error> {
    let tenant = tx.tenant();
    sqlx::query!(
        "UPDATE users SET status = 'deactivated' WHERE id = $1 AND tenant_id = $2 AND status = 'invited'",
        id as UserId,
        tenant as TenantId
    )
    .execute(tx.conn())
    .await?;
    Ok(())
}
