//! `POST /v1/tenants` (platform admins) and `GET /v1/tenants` (staff).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use platform::http::AppState;
use platform::http::problem::{ApiError, FieldError, Problem, conflict_on};

use super::{NewTenant, Tenant, slug_is_valid, store};
use crate::audit::{self, NewEvent, Outcome};
use crate::principal::{Principal, forbidden};
use crate::roles::Permission;
use crate::scope::ScopedTx;

/// Create a tenant (platform admins).
#[utoipa::path(post, path = "/v1/tenants", tag = "tenancy", operation_id = "tenants_create",
    request_body = NewTenant,
    responses((status = 201, body = Tenant), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create(
    principal: Principal,
    State(state): State<AppState>,
    Json(body): Json<NewTenant>,
) -> Result<(StatusCode, Json<Tenant>), ApiError> {
    principal.require(Permission::TenantsManage)?;
    let all = principal
        .all_tenants()
        .ok_or_else(|| forbidden("only platform admins create tenants"))?;
    let slug = body.slug.trim().to_string();
    let name = body.name.trim().to_string();
    let mut errors = Vec::new();
    if !slug_is_valid(&slug) {
        errors.push(FieldError::new(
            "slug",
            "invalid_format",
            "lower-case letters, digits and inner hyphens, 1 to 63 characters",
        ));
    }
    if name.is_empty() || name.chars().count() > 200 {
        errors.push(FieldError::new("name", "length", "1 to 200 characters"));
    }
    if !errors.is_empty() {
        return Err(Problem::validation(errors).into());
    }
    let mut tx = ScopedTx::all(&state.pool, all).await?;
    let tenant = store::insert(&mut tx, &slug, &name).await.map_err(|e| {
        conflict_on(e, "tenants_slug_key", || {
            format!("the slug {slug} is taken")
        })
    })?;
    audit::record(
        &mut tx,
        &principal.actor,
        &principal.meta,
        NewEvent {
            tenant: Some(tenant.id),
            action: "tenant.created",
            target_type: "tenant",
            target_id: Some(tenant.id.to_string()),
            changes: serde_json::json!({"after": {"slug": tenant.slug, "name": tenant.name}}),
            outcome: Outcome::Success,
        },
    )
    .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(tenant)))
}

/// Tenants visible to the caller (staff).
#[utoipa::path(get, path = "/v1/tenants", tag = "tenancy", operation_id = "tenants_list",
    responses((status = 200, body = [Tenant]), (status = 403, body = Problem)))]
pub async fn list(
    principal: Principal,
    State(state): State<AppState>,
) -> Result<Json<Vec<Tenant>>, ApiError> {
    principal.require(Permission::TenantsRead)?;
    let ids = principal.visibility().ids();
    Ok(Json(store::list(&state.pool, ids.as_deref()).await?))
}
