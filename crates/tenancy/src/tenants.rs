//! Tenants: the customer organisations. The agency is the operator, not a tenant.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use platform::http::AppState;
use platform::http::problem::{ApiError, FieldError, Problem, conflict_on};
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::audit::{self, NewEvent, Outcome};
use crate::auth::Principal;
use crate::roles::Permission;
use crate::scope::{self, TenantId, Visibility};

#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct Tenant {
    pub id: Uuid,
    pub slug: String,
    pub name: String,
    /// `active` or `suspended`.
    pub status: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTenant {
    /// Lower-case letters, digits and inner hyphens, 1 to 63 characters.
    pub slug: String,
    pub name: String,
}

/// A valid tenant slug.
pub fn slug_is_valid(s: &str) -> bool {
    let b = s.as_bytes();
    (1..=63).contains(&b.len())
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
}

pub async fn id_by_slug(pool: &PgPool, slug: &str) -> Result<Option<TenantId>, sqlx::Error> {
    sqlx::query_scalar("SELECT id FROM tenants WHERE slug = $1")
        .bind(slug)
        .fetch_optional(pool)
        .await
}

/// Create a tenant (platform admins).
#[utoipa::path(post, path = "/v1/tenants", tag = "tenancy", request_body = NewTenant,
    responses((status = 201, body = Tenant), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create(
    principal: Principal,
    State(state): State<AppState>,
    Json(body): Json<NewTenant>,
) -> Result<(StatusCode, Json<Tenant>), ApiError> {
    principal.require(Permission::TenantsManage)?;
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
    let mut tx = scope::begin(&state.pool, &Visibility::All).await?;
    let tenant: Tenant =
        sqlx::query_as("INSERT INTO tenants (id, slug, name) VALUES ($1, $2, $3) RETURNING *")
            .bind(Uuid::now_v7())
            .bind(&slug)
            .bind(&name)
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| {
                conflict_on(e, "tenants_slug_key", || {
                    format!("the slug {slug} is taken")
                })
            })?;
    audit::record(
        &mut tx,
        &principal.actor,
        &principal.meta,
        NewEvent {
            tenant: Some(TenantId(tenant.id)),
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
#[utoipa::path(get, path = "/v1/tenants", tag = "tenancy",
    responses((status = 200, body = [Tenant]), (status = 403, body = Problem)))]
pub async fn list(
    principal: Principal,
    State(state): State<AppState>,
) -> Result<Json<Vec<Tenant>>, ApiError> {
    principal.require(Permission::TenantsRead)?;
    let ids: Option<Vec<Uuid>> = match principal.visibility() {
        Visibility::All => None,
        Visibility::Tenants(ts) => Some(ts.into_iter().map(|t| t.0).collect()),
    };
    let rows = sqlx::query_as(
        "SELECT * FROM tenants WHERE ($1::uuid[] IS NULL OR id = ANY($1)) ORDER BY slug",
    )
    .bind(ids)
    .fetch_all(&state.pool)
    .await?;
    Ok(Json(rows))
}
