//! Users: provisioning on first sign-in, invitations, role changes and deactivation.
//!
//! Users are identified by (issuer, subject). Customers are provisioned when
//! their token names an active tenant and a customer role, or when an invitation
//! for their e-mail address exists; after that P360's stored role is the one
//! that counts (so `customer_admin` can change it). Staff are provisioned from
//! the issuer's roles claim, which stays authoritative for them (Entra ID app
//! roles); their tenant assignments are kept in P360.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use chrono::{DateTime, Utc};
use platform::http::AppState;
use platform::http::problem::{ApiError, FieldError, Problem, conflict_on};
use serde::{Deserialize, Serialize};
use sqlx::{PgPool, Postgres, Transaction};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::audit::{self, NewEvent, Outcome, RequestMeta};
use crate::auth::cache::Invalidation;
use crate::auth::jwt::VerifiedToken;
use crate::auth::{
    Actor, AuthRejection, AuthService, InTenant, Principal, forbidden, kind_allowed,
};
use crate::roles::{Permission, Role, UserKind};
use crate::scope::{self, TenantId, Visibility};

#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct User {
    pub id: Uuid,
    pub tenant_id: Option<Uuid>,
    /// `staff` or `customer`.
    pub kind: String,
    pub email: Option<String>,
    pub name: Option<String>,
    pub role: String,
    /// `invited`, `active` or `deactivated`.
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: Option<DateTime<Utc>>,
}

macro_rules! user_columns {
    () => {
        "id, tenant_id, kind, email, name, role, status, created_at, last_seen_at"
    };
}

/// Resolve a verified token to a principal, provisioning the user on first sign-in.
pub async fn resolve(
    pool: &PgPool,
    token: &VerifiedToken,
    meta: RequestMeta,
) -> Result<Principal, AuthRejection> {
    match resolve_once(pool, token, meta.clone()).await {
        // Two first requests of the same user at once: the loser finds the
        // account the winner made.
        Err(AuthRejection::Api(ApiError::Problem(p)))
            if p.detail.as_deref() == Some(PROVISION_RACE) =>
        {
            resolve_once(pool, token, meta).await
        }
        other => other,
    }
}

const PROVISION_RACE: &str = "the account was provisioned by a concurrent request; retry";

async fn resolve_once(
    pool: &PgPool,
    token: &VerifiedToken,
    meta: RequestMeta,
) -> Result<Principal, AuthRejection> {
    let mut tx = scope::begin(pool, &Visibility::All).await?;
    #[derive(sqlx::FromRow)]
    struct Known {
        id: Uuid,
        tenant_id: Option<Uuid>,
        role: String,
        status: String,
        email: Option<String>,
    }
    let found: Option<Known> = sqlx::query_as(
        "SELECT id, tenant_id, role, status, email FROM users WHERE issuer = $1 AND subject = $2",
    )
    .bind(&token.issuer)
    .bind(&token.subject)
    .fetch_optional(&mut *tx)
    .await?;
    let (id, tenant, role, email) = match found {
        Some(Known {
            id,
            tenant_id: tenant,
            role,
            status,
            email,
        }) => {
            if status == "deactivated" {
                return Err(forbidden("this account is deactivated").into());
            }
            let mut role = Role::parse(&role).ok_or_else(|| forbidden("unknown role"))?;
            if role.kind() == UserKind::Staff
                && let Some(claimed) = token_role(token)
                && claimed != role
                && claimed.kind() == UserKind::Staff
            {
                sqlx::query("UPDATE users SET role = $2 WHERE id = $1")
                    .bind(id)
                    .bind(claimed.as_str())
                    .execute(&mut *tx)
                    .await?;
                role = claimed;
            }
            (id, tenant.map(TenantId), role, email)
        }
        None => provision(&mut tx, token, &meta).await?,
    };
    if let Some(t) = tenant {
        let status: Option<String> = sqlx::query_scalar("SELECT status FROM tenants WHERE id = $1")
            .bind(t.0)
            .fetch_optional(&mut *tx)
            .await?;
        if status.as_deref() != Some("active") {
            return Err(forbidden("this tenant is suspended").into());
        }
    }
    sqlx::query(
        "UPDATE users SET last_seen_at = now() WHERE id = $1 \
         AND (last_seen_at IS NULL OR last_seen_at < now() - interval '5 minutes')",
    )
    .bind(id)
    .execute(&mut *tx)
    .await?;
    let assigned: Vec<TenantId> = if role.kind() == UserKind::Staff {
        sqlx::query_scalar("SELECT tenant_id FROM staff_assignments WHERE user_id = $1")
            .bind(id)
            .fetch_all(&mut *tx)
            .await?
            .into_iter()
            .map(TenantId)
            .collect()
    } else {
        Vec::new()
    };
    tx.commit().await?;
    Ok(Principal {
        actor: Actor::User(id),
        role,
        tenant,
        assigned,
        email,
        meta,
    })
}

/// The most privileged recognised role in the token that its issuer may grant.
fn token_role(token: &VerifiedToken) -> Option<Role> {
    Role::ALL.into_iter().find(|r| {
        token.roles.iter().any(|t| t == r.as_str()) && kind_allowed(token.kind, token.dev, *r)
    })
}

async fn provision(
    tx: &mut Transaction<'static, Postgres>,
    token: &VerifiedToken,
    meta: &RequestMeta,
) -> Result<(Uuid, Option<TenantId>, Role, Option<String>), AuthRejection> {
    let role = token_role(token);
    let staff = match role {
        Some(r) => r.kind() == UserKind::Staff,
        None => token.kind == crate::config::IssuerKind::Internal,
    };
    if staff {
        let role = role.ok_or_else(|| forbidden("no P360 staff role in the token"))?;
        let id = Uuid::now_v7();
        sqlx::query(
            "INSERT INTO users (id, tenant_id, kind, issuer, subject, email, name, role) \
             VALUES ($1, NULL, 'staff', $2, $3, $4, $5, $6)",
        )
        .bind(id)
        .bind(&token.issuer)
        .bind(&token.subject)
        .bind(&token.email)
        .bind(&token.name)
        .bind(role.as_str())
        .execute(&mut **tx)
        .await
        .map_err(provision_race)?;
        record_provisioned(tx, id, None, role, "user.provisioned", meta).await?;
        return Ok((id, None, role, token.email.clone()));
    }
    let tenant: Option<TenantId> = match &token.tenant {
        Some(slug) => sqlx::query_scalar("SELECT id FROM tenants WHERE slug = $1")
            .bind(slug)
            .fetch_optional(&mut **tx)
            .await?
            .map(TenantId),
        None => None,
    };
    // An invitation for this e-mail address (in the token's tenant, if it names one).
    if let Some(email) = &token.email {
        let invites: Vec<(Uuid, Uuid, String)> = sqlx::query_as(
            "SELECT id, tenant_id, role FROM users WHERE status = 'invited' \
             AND lower(email) = lower($1) AND ($2::uuid IS NULL OR tenant_id = $2)",
        )
        .bind(email)
        .bind(tenant.map(|t| t.0))
        .fetch_all(&mut **tx)
        .await?;
        if let [(id, tenant_id, role)] = invites.as_slice() {
            let role = Role::parse(role).ok_or_else(|| forbidden("unknown role"))?;
            sqlx::query(
                "UPDATE users SET issuer = $2, subject = $3, name = coalesce(name, $4), status = 'active' \
                 WHERE id = $1",
            )
            .bind(id)
            .bind(&token.issuer)
            .bind(&token.subject)
            .bind(&token.name)
            .execute(&mut **tx)
            .await
            .map_err(provision_race)?;
            let tenant = TenantId(*tenant_id);
            record_provisioned(tx, *id, Some(tenant), role, "user.joined", meta).await?;
            return Ok((*id, Some(tenant), role, token.email.clone()));
        }
    }
    match (tenant, role) {
        (Some(tenant), Some(role)) => {
            let id = Uuid::now_v7();
            sqlx::query(
                "INSERT INTO users (id, tenant_id, kind, issuer, subject, email, name, role) \
                 VALUES ($1, $2, 'customer', $3, $4, $5, $6, $7)",
            )
            .bind(id)
            .bind(tenant.0)
            .bind(&token.issuer)
            .bind(&token.subject)
            .bind(&token.email)
            .bind(&token.name)
            .bind(role.as_str())
            .execute(&mut **tx)
            .await
            .map_err(provision_race)?;
            record_provisioned(tx, id, Some(tenant), role, "user.provisioned", meta).await?;
            Ok((id, Some(tenant), role, token.email.clone()))
        }
        _ => Err(forbidden(
            "no P360 account: the token names no known tenant and role, and there is no invitation for this address",
        )
        .into()),
    }
}

/// Two first requests of the same user at once: the loser retries as a known user.
fn provision_race(e: sqlx::Error) -> AuthRejection {
    if matches!(&e, sqlx::Error::Database(db) if db.code().as_deref() == Some("23505")) {
        Problem::conflict(PROVISION_RACE).into()
    } else {
        e.into()
    }
}

async fn record_provisioned(
    tx: &mut Transaction<'static, Postgres>,
    id: Uuid,
    tenant: Option<TenantId>,
    role: Role,
    action: &'static str,
    meta: &RequestMeta,
) -> Result<(), sqlx::Error> {
    audit::record(
        tx,
        &Actor::User(id),
        meta,
        NewEvent {
            tenant,
            action,
            target_type: "user",
            target_id: Some(id.to_string()),
            changes: serde_json::json!({"after": {"role": role.as_str(), "status": "active"}}),
            outcome: Outcome::Success,
        },
    )
    .await?;
    Ok(())
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Me {
    /// `user` or `api_key`.
    pub actor_type: &'static str,
    pub id: Option<String>,
    pub role: Role,
    pub email: Option<String>,
    pub tenant_id: Option<Uuid>,
    /// Staff: the tenants they are assigned to.
    pub assigned_tenants: Vec<Uuid>,
    pub permissions: Vec<&'static str>,
}

/// The caller's identity, role and permissions.
#[utoipa::path(get, path = "/v1/me", tag = "tenancy",
    responses((status = 200, body = Me), (status = 401, body = Problem)))]
pub async fn me(principal: Principal) -> Json<Me> {
    let (actor_type, id) = principal.actor.audit_parts();
    Json(Me {
        actor_type,
        id,
        role: principal.role,
        email: principal.email.clone(),
        tenant_id: principal.tenant.map(|t| t.0),
        assigned_tenants: principal.assigned.iter().map(|t| t.0).collect(),
        permissions: crate::roles::Permission::ALL
            .into_iter()
            .filter(|p| principal.role.allows(*p))
            .map(|p| p.as_str())
            .collect(),
    })
}

/// Users of the tenant.
#[utoipa::path(get, path = "/v1/users", tag = "tenancy",
    responses((status = 200, body = [User]), (status = 403, body = Problem)))]
pub async fn list(
    ctx: InTenant,
    State(state): State<AppState>,
) -> Result<Json<Vec<User>>, ApiError> {
    ctx.principal.require(Permission::UsersRead)?;
    let mut tx = scope::begin(&state.pool, &Visibility::one(ctx.tenant)).await?;
    let rows = sqlx::query_as(concat!(
        "SELECT ",
        user_columns!(),
        " FROM users WHERE tenant_id = $1 ORDER BY created_at, id"
    ))
    .bind(ctx.tenant.0)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Json(rows))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Invitation {
    pub email: String,
    pub role: String,
    pub name: Option<String>,
}

/// Invite a user into the tenant; they join on their first sign-in with this address.
#[utoipa::path(post, path = "/v1/users", tag = "tenancy", request_body = Invitation,
    responses((status = 201, body = User), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn invite(
    ctx: InTenant,
    State(state): State<AppState>,
    Json(body): Json<Invitation>,
) -> Result<(StatusCode, Json<User>), ApiError> {
    ctx.principal.require(Permission::UsersManage)?;
    let email = body.email.trim().to_string();
    let mut errors = Vec::new();
    if !email_is_plausible(&email) {
        errors.push(FieldError::new(
            "email",
            "invalid_format",
            "an e-mail address",
        ));
    }
    let role = customer_role(&body.role, &ctx.principal, &mut errors);
    let (Some(role), true) = (role, errors.is_empty()) else {
        return Err(Problem::validation(errors).into());
    };
    let mut tx = scope::begin(&state.pool, &Visibility::one(ctx.tenant)).await?;
    let user: User = sqlx::query_as(concat!(
        "INSERT INTO users (id, tenant_id, kind, email, name, role, status) \
         VALUES ($1, $2, 'customer', $3, $4, $5, 'invited') RETURNING ",
        user_columns!(),
        ""
    ))
    .bind(Uuid::now_v7())
    .bind(ctx.tenant.0)
    .bind(&email)
    .bind(&body.name)
    .bind(role.as_str())
    .fetch_one(&mut *tx)
    .await
    .map_err(|e| {
        conflict_on(e, "users_tenant_email_key", || {
            format!("{email} already has an account or invitation")
        })
    })?;
    ctx.record_change(
        &mut tx,
        "user.invited",
        "user",
        user.id,
        serde_json::json!({"after": {"email": email, "role": role.as_str()}}),
    )
    .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(user)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserPatch {
    pub role: Option<String>,
    /// `active` or `deactivated`.
    pub status: Option<String>,
}

/// Change a user's role or deactivate (reactivate) them.
#[utoipa::path(patch, path = "/v1/users/{id}", tag = "tenancy", request_body = UserPatch,
    params(("id" = Uuid, Path)),
    responses((status = 200, body = User), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn update(
    ctx: InTenant,
    State(state): State<AppState>,
    Extension(auth): Extension<Arc<AuthService>>,
    Path(id): Path<Uuid>,
    Json(body): Json<UserPatch>,
) -> Result<Json<User>, ApiError> {
    ctx.principal.require(Permission::UsersManage)?;
    let mut errors = Vec::new();
    let role = match &body.role {
        Some(r) => customer_role(r, &ctx.principal, &mut errors),
        None => None,
    };
    if let Some(s) = &body.status
        && !matches!(s.as_str(), "active" | "deactivated")
    {
        errors.push(FieldError::new(
            "status",
            "invalid_value",
            "active or deactivated",
        ));
    }
    if !errors.is_empty() {
        return Err(Problem::validation(errors).into());
    }
    if ctx.principal.actor == Actor::User(id) && body.status.as_deref() == Some("deactivated") {
        return Err(Problem::conflict("you cannot deactivate yourself").into());
    }
    let mut tx = scope::begin(&state.pool, &Visibility::one(ctx.tenant)).await?;
    let before: Option<User> = sqlx::query_as(concat!(
        "SELECT ",
        user_columns!(),
        " FROM users WHERE id = $1 AND tenant_id = $2 FOR UPDATE"
    ))
    .bind(id)
    .bind(ctx.tenant.0)
    .fetch_optional(&mut *tx)
    .await?;
    let before = before.ok_or_else(Problem::not_found)?;
    if before.status == "invited" && body.status.is_some() {
        return Err(
            Problem::conflict("an invitation has no status to change; delete it instead").into(),
        );
    }
    let after: User = sqlx::query_as(concat!(
        "UPDATE users SET role = coalesce($3, role), status = coalesce($4, status) \
         WHERE id = $1 AND tenant_id = $2 RETURNING ",
        user_columns!(),
        ""
    ))
    .bind(id)
    .bind(ctx.tenant.0)
    .bind(role.map(|r| r.as_str()))
    .bind(&body.status)
    .fetch_one(&mut *tx)
    .await?;
    audit::record(
        &mut tx,
        &ctx.principal.actor,
        &ctx.principal.meta,
        NewEvent {
            tenant: Some(ctx.tenant),
            action: if after.status == "deactivated" && before.status != "deactivated" {
                "user.deactivated"
            } else {
                "user.updated"
            },
            target_type: "user",
            target_id: Some(id.to_string()),
            changes: serde_json::json!({
                "before": {"role": before.role, "status": before.status},
                "after": {"role": after.role, "status": after.status},
            }),
            outcome: Outcome::Success,
        },
    )
    .await?;
    auth.commit_change(tx, Invalidation::Actor(id)).await?;
    Ok(Json(after))
}

/// A customer role the principal may grant (no higher than their own).
pub(crate) fn customer_role(
    name: &str,
    principal: &Principal,
    errors: &mut Vec<FieldError>,
) -> Option<Role> {
    let Some(role) = Role::parse(name).filter(|r| r.kind() == UserKind::Customer) else {
        errors.push(FieldError::new(
            "role",
            "invalid_value",
            "one of customer_admin, marketer, viewer",
        ));
        return None;
    };
    let allowed = match principal.role.customer_rank() {
        Some(mine) => role.customer_rank().is_some_and(|r| r <= mine),
        None => principal.is_staff(),
    };
    if !allowed {
        errors.push(FieldError::new(
            "role",
            "above_own_role",
            format!(
                "cannot grant {role}, which is above your own role ({})",
                principal.role
            ),
        ));
        return None;
    }
    Some(role)
}

fn email_is_plausible(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && s.len() <= 254
        && !s.chars().any(char::is_whitespace)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Assignments {
    /// Slugs of the tenants the staff member works in (replaces the current set).
    pub tenants: Vec<String>,
}

/// Set the tenants a staff member is assigned to (platform admins).
#[utoipa::path(put, path = "/v1/users/{id}/tenants", tag = "tenancy", request_body = Assignments,
    params(("id" = Uuid, Path)),
    responses((status = 200, body = [String]), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn assign(
    principal: Principal,
    State(state): State<AppState>,
    Extension(auth): Extension<Arc<AuthService>>,
    Path(id): Path<Uuid>,
    Json(body): Json<Assignments>,
) -> Result<Json<Vec<String>>, ApiError> {
    principal.require(Permission::StaffManage)?;
    let mut tx = scope::begin(&state.pool, &Visibility::All).await?;
    let kind: Option<String> =
        sqlx::query_scalar("SELECT kind FROM users WHERE id = $1 FOR UPDATE")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
    match kind.as_deref() {
        None => return Err(Problem::not_found().into()),
        Some("staff") => {}
        Some(_) => {
            return Err(Problem::validation(vec![FieldError::new(
                "id",
                "not_staff",
                "only staff are assigned to tenants; customers belong to one",
            )])
            .into());
        }
    }
    let mut slugs = body.tenants.clone();
    slugs.sort();
    slugs.dedup();
    let ids: Vec<(String, Uuid)> =
        sqlx::query_as("SELECT slug, id FROM tenants WHERE slug = ANY($1)")
            .bind(&slugs)
            .fetch_all(&mut *tx)
            .await?;
    let unknown: Vec<FieldError> = slugs
        .iter()
        .filter(|s| !ids.iter().any(|(slug, _)| slug == *s))
        .map(|s| FieldError::new("tenants", "unknown_tenant", format!("no tenant {s}")))
        .collect();
    if !unknown.is_empty() {
        return Err(Problem::validation(unknown).into());
    }
    let before: Vec<String> = sqlx::query_scalar(
        "SELECT t.slug FROM staff_assignments a JOIN tenants t ON t.id = a.tenant_id \
         WHERE a.user_id = $1 ORDER BY t.slug",
    )
    .bind(id)
    .fetch_all(&mut *tx)
    .await?;
    sqlx::query("DELETE FROM staff_assignments WHERE user_id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("INSERT INTO staff_assignments (user_id, tenant_id) SELECT $1, unnest($2::uuid[])")
        .bind(id)
        .bind(ids.iter().map(|(_, t)| *t).collect::<Vec<_>>())
        .execute(&mut *tx)
        .await?;
    audit::record(
        &mut tx,
        &principal.actor,
        &principal.meta,
        NewEvent {
            tenant: None,
            action: "user.assignments_changed",
            target_type: "user",
            target_id: Some(id.to_string()),
            changes: serde_json::json!({"before": before, "after": slugs}),
            outcome: Outcome::Success,
        },
    )
    .await?;
    auth.commit_change(tx, Invalidation::Actor(id)).await?;
    Ok(Json(slugs))
}
