//! `/v1/me`, `/v1/users` (a tenant's users and invitations) and
//! `PUT /v1/users/{id}/tenants` (staff assignments).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use platform::http::AppState;
use platform::http::problem::{ApiError, FieldError, Problem, conflict_on};
use serde::Serialize;
use utoipa::ToSchema;

use super::{
    Assignments, Invitation, StaffStatus, User, UserPatch, UserStatus, customer_role,
    email_is_plausible, store,
};
use crate::audit::{self, NewEvent, Outcome};
use crate::cache::{Invalidation, PrincipalCache};
use crate::principal::{Actor, InTenant, Principal, UserId, forbidden};
use crate::roles::{Permission, Role};
use crate::scope::{ScopedTx, TenantId};

#[derive(Debug, Serialize, ToSchema)]
pub struct Me {
    /// `user` or `api_key`.
    pub actor_type: &'static str,
    pub id: Option<String>,
    pub role: Role,
    pub email: Option<String>,
    pub tenant_id: Option<TenantId>,
    /// Staff: the tenants they are assigned to.
    pub assigned_tenants: Vec<TenantId>,
    pub permissions: Vec<&'static str>,
}

/// The caller's identity, role and permissions.
#[utoipa::path(get, path = "/v1/me", tag = "tenancy", operation_id = "me_get",
    responses((status = 200, body = Me), (status = 401, body = Problem)))]
pub async fn me(principal: Principal) -> Json<Me> {
    let (actor_type, id) = principal.actor.audit_parts();
    Json(Me {
        actor_type,
        id,
        role: principal.role,
        email: principal.email.clone(),
        tenant_id: principal.tenant,
        assigned_tenants: principal.assigned.clone(),
        permissions: crate::roles::Permission::ALL
            .into_iter()
            .filter(|p| principal.role.allows(*p))
            .map(|p| p.as_str())
            .collect(),
    })
}

/// Users of the tenant.
#[utoipa::path(get, path = "/v1/users", tag = "tenancy", operation_id = "users_list",
    responses((status = 200, body = [User]), (status = 403, body = Problem)))]
pub async fn list(
    ctx: InTenant,
    State(state): State<AppState>,
) -> Result<Json<Vec<User>>, ApiError> {
    ctx.require(Permission::UsersRead)?;
    let mut tx = ctx.begin(&state.pool).await?;
    let users = store::list(&mut tx).await?;
    tx.end_read();
    Ok(Json(users))
}

/// Invite a user into the tenant; they join on their first sign-in with this address.
#[utoipa::path(post, path = "/v1/users", tag = "tenancy", operation_id = "users_invite",
    request_body = Invitation,
    responses((status = 201, body = User), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn invite(
    ctx: InTenant,
    State(state): State<AppState>,
    Json(body): Json<Invitation>,
) -> Result<(StatusCode, Json<User>), ApiError> {
    ctx.require(Permission::UsersManage)?;
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
    let mut tx = ctx.begin(&state.pool).await?;
    let user = store::invite(&mut tx, &email, body.name.as_deref(), role.as_str())
        .await
        .map_err(|e| {
            conflict_on(e, "users_tenant_email_key", || {
                format!("{email} already has an account or invitation")
            })
        })?;
    audit::record_change(
        &mut tx,
        &ctx.principal,
        "user.invited",
        "user",
        user.id,
        serde_json::json!({"after": {"email": email, "role": role.as_str()}}),
    )
    .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(user)))
}

/// Change a user's role or deactivate (reactivate) them.
#[utoipa::path(patch, path = "/v1/users/{id}", tag = "tenancy", operation_id = "users_update",
    request_body = UserPatch, params(("id" = Uuid, Path)),
    responses((status = 200, body = User), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn update(
    ctx: InTenant,
    State(state): State<AppState>,
    Extension(sessions): Extension<Arc<PrincipalCache>>,
    Path(id): Path<UserId>,
    Json(body): Json<UserPatch>,
) -> Result<Json<User>, ApiError> {
    ctx.require(Permission::UsersManage)?;
    let mut errors = Vec::new();
    let role = match &body.role {
        Some(r) => customer_role(r, &ctx.principal, &mut errors),
        None => None,
    };
    let status = match body.status.as_deref() {
        None => None,
        Some("active") => Some(UserStatus::Active),
        Some("deactivated") => Some(UserStatus::Deactivated),
        Some(_) => {
            errors.push(FieldError::new(
                "status",
                "invalid_value",
                "active or deactivated",
            ));
            None
        }
    };
    if !errors.is_empty() {
        return Err(Problem::validation(errors).into());
    }
    if ctx.principal.actor == Actor::User(id) && status == Some(UserStatus::Deactivated) {
        return Err(Problem::conflict("you cannot deactivate yourself").into());
    }
    let mut tx = ctx.begin(&state.pool).await?;
    let before = store::lock(&mut tx, id)
        .await?
        .ok_or_else(Problem::not_found)?;
    if before.status == UserStatus::Invited && status.is_some() {
        return Err(
            Problem::conflict("an invitation has no status to change; delete it instead").into(),
        );
    }
    let after = store::update(&mut tx, id, role.map(|r| r.as_str()), status).await?;
    let tenant = tx.tenant();
    audit::record(
        &mut tx,
        &ctx.principal.actor,
        &ctx.principal.meta,
        NewEvent {
            tenant: Some(tenant),
            action: if after.status == UserStatus::Deactivated
                && before.status != UserStatus::Deactivated
            {
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
    sessions
        .commit_change(tx, Invalidation::Actor(id.0))
        .await?;
    Ok(Json(after))
}

/// Set the tenants a staff member is assigned to (platform admins).
#[utoipa::path(put, path = "/v1/users/{id}/tenants", tag = "tenancy", operation_id = "users_assign_tenants",
    request_body = Assignments, params(("id" = Uuid, Path)),
    responses((status = 200, body = [String]), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn assign(
    principal: Principal,
    State(state): State<AppState>,
    Extension(sessions): Extension<Arc<PrincipalCache>>,
    Path(id): Path<UserId>,
    Json(body): Json<Assignments>,
) -> Result<Json<Vec<String>>, ApiError> {
    principal.require(Permission::StaffManage)?;
    let all = principal
        .all_tenants()
        .ok_or_else(|| forbidden("only platform admins assign staff"))?;
    let mut tx = ScopedTx::all(&state.pool, all).await?;
    lock_staff(
        &mut tx,
        id,
        "only staff are assigned to tenants; customers belong to one",
    )
    .await?;
    let mut slugs = body.tenants.clone();
    slugs.sort();
    slugs.dedup();
    let ids = crate::tenants::store::ids_by_slugs(&mut tx, &slugs).await?;
    let unknown: Vec<FieldError> = slugs
        .iter()
        .filter(|s| !ids.iter().any(|(slug, _)| slug == *s))
        .map(|s| FieldError::new("tenants", "unknown_tenant", format!("no tenant {s}")))
        .collect();
    if !unknown.is_empty() {
        return Err(Problem::validation(unknown).into());
    }
    let before = store::assignment_slugs(&mut tx, id).await?;
    let tenants: Vec<TenantId> = ids.iter().map(|(_, t)| *t).collect();
    store::replace_assignments(&mut tx, id, &tenants).await?;
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
    sessions
        .commit_change(tx, Invalidation::Actor(id.0))
        .await?;
    Ok(Json(slugs))
}

/// Deactivate (or reactivate) a staff member (platform admins). Takes effect
/// on every instance at once: their cached sign-ins and the API keys they
/// created stop with them.
#[utoipa::path(put, path = "/v1/staff/{id}/status", tag = "tenancy", operation_id = "staff_set_status",
    request_body = StaffStatus, params(("id" = Uuid, Path)),
    responses((status = 200, body = StaffStatus), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn set_staff_status(
    principal: Principal,
    State(state): State<AppState>,
    Extension(sessions): Extension<Arc<PrincipalCache>>,
    Path(id): Path<UserId>,
    Json(body): Json<StaffStatus>,
) -> Result<Json<StaffStatus>, ApiError> {
    principal.require(Permission::StaffManage)?;
    let all = principal
        .all_tenants()
        .ok_or_else(|| forbidden("only platform admins deactivate staff"))?;
    let status = match body.status.as_str() {
        "active" => UserStatus::Active,
        "deactivated" => UserStatus::Deactivated,
        _ => {
            return Err(Problem::validation(vec![FieldError::new(
                "status",
                "invalid_value",
                "active or deactivated",
            )])
            .into());
        }
    };
    if principal.person == Some(id) && status == UserStatus::Deactivated {
        return Err(Problem::conflict("you cannot deactivate yourself").into());
    }
    let mut tx = ScopedTx::all(&state.pool, all).await?;
    lock_staff(
        &mut tx,
        id,
        "customers are deactivated by their tenant's admins (PATCH /v1/users/{id})",
    )
    .await?;
    let before = store::set_staff_status(&mut tx, id, status).await?;
    audit::record(
        &mut tx,
        &principal.actor,
        &principal.meta,
        NewEvent {
            tenant: None,
            action: match status {
                UserStatus::Deactivated => "user.deactivated",
                _ => "user.reactivated",
            },
            target_type: "user",
            target_id: Some(id.to_string()),
            changes: serde_json::json!({"before": {"status": before}, "after": {"status": status}}),
            outcome: Outcome::Success,
        },
    )
    .await?;
    sessions
        .commit_change(tx, Invalidation::Actor(id.0))
        .await?;
    Ok(Json(StaffStatus {
        status: body.status,
    }))
}

/// Revoke an invitation that has not been accepted: it is listed as
/// deactivated from then on (an accepted one is an account: deactivate it
/// with `PATCH`).
#[utoipa::path(delete, path = "/v1/users/{id}", tag = "tenancy", operation_id = "users_revoke_invitation",
    params(("id" = Uuid, Path)),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn revoke_invitation(
    ctx: InTenant,
    State(state): State<AppState>,
    Path(id): Path<UserId>,
) -> Result<StatusCode, ApiError> {
    ctx.require(Permission::UsersManage)?;
    let mut tx = ctx.begin(&state.pool).await?;
    let before = store::lock(&mut tx, id)
        .await?
        .ok_or_else(Problem::not_found)?;
    if before.status != UserStatus::Invited {
        return Err(Problem::conflict(
            "this invitation was accepted: deactivate the account instead (PATCH with status deactivated)",
        )
        .into());
    }
    store::revoke_invitation(&mut tx, id).await?;
    let tenant = tx.tenant();
    audit::record(
        &mut tx,
        &ctx.principal.actor,
        &ctx.principal.meta,
        NewEvent {
            tenant: Some(tenant),
            action: "user.invitation_revoked",
            target_type: "user",
            target_id: Some(id.to_string()),
            changes: serde_json::json!({"before": {"email": before.email, "role": before.role, "status": before.status}}),
            outcome: Outcome::Success,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Lock staff member `id`: 404 if there is no such user, 422 (`why`) if the
/// user is a customer.
async fn lock_staff(tx: &mut ScopedTx, id: UserId, why: &str) -> Result<(), ApiError> {
    match store::lock_kind(tx, id).await?.as_deref() {
        None => Err(Problem::not_found().into()),
        Some("staff") => Ok(()),
        Some(_) => Err(Problem::validation(vec![FieldError::new("id", "not_staff", why)]).into()),
    }
}
