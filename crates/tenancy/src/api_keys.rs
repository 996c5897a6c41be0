//! API keys for machine clients: `p360_` + 43 url-safe characters (256 random
//! bits), shown once at creation, stored only as SHA-256, revocable (effective
//! at once: every request looks the key up), last use kept.

use aws_lc_rs::digest::{SHA256, digest};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use platform::http::AppState;
use platform::http::problem::{ApiError, FieldError, Problem, conflict_on};
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::audit::RequestMeta;
use crate::auth::cache::Invalidation;
use crate::auth::{
    Actor, AuthRejection, AuthService, InTenant, Principal, Unauthorized, forbidden,
};
use crate::roles::{Permission, Role};
use crate::scope::{self, TenantId, Visibility};

pub const SECRET_PREFIX: &str = "p360_";
/// How many characters of the secret are kept to recognise a key.
const SHOWN_PREFIX: usize = 12;

#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct ApiKey {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub name: String,
    pub role: String,
    /// The first characters of the secret.
    pub prefix: String,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

macro_rules! key_columns {
    () => {
        "id, tenant_id, name, role, prefix, created_by, created_at, last_used_at, revoked_at"
    };
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedApiKey {
    #[serde(flatten)]
    pub key: ApiKey,
    /// The secret, shown this once; send it as `Authorization: Bearer p360_...`.
    pub secret: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewApiKey {
    pub name: String,
    /// A customer role no higher than the creator's.
    pub role: String,
}

fn hash(secret: &str) -> Vec<u8> {
    digest(&SHA256, secret.as_bytes()).as_ref().to_vec()
}

/// Resolve an API key secret (without its `p360_` prefix) to a principal.
pub async fn authenticate(
    pool: &PgPool,
    secret_tail: &str,
    meta: RequestMeta,
) -> Result<Principal, AuthRejection> {
    let secret = format!("{SECRET_PREFIX}{secret_tail}");
    let mut tx = scope::begin(pool, &Visibility::All).await?;
    #[derive(sqlx::FromRow)]
    struct KeyRow {
        id: Uuid,
        tenant_id: Uuid,
        role: String,
        revoked_at: Option<DateTime<Utc>>,
        status: String,
    }
    let row: Option<KeyRow> = sqlx::query_as(
        "SELECT k.id, k.tenant_id, k.role, k.revoked_at, t.status FROM api_keys k \
         JOIN tenants t ON t.id = k.tenant_id WHERE k.secret_hash = $1",
    )
    .bind(hash(&secret))
    .fetch_optional(&mut *tx)
    .await?;
    let Some(KeyRow {
        id,
        tenant_id: tenant,
        role,
        revoked_at,
        status: tenant_status,
    }) = row
    else {
        return Err(AuthRejection::Unauthorized(Unauthorized::invalid(
            "unknown API key",
        )));
    };
    if revoked_at.is_some() {
        return Err(AuthRejection::Unauthorized(Unauthorized::invalid(
            "this API key was revoked",
        )));
    }
    if tenant_status != "active" {
        return Err(forbidden("this tenant is suspended").into());
    }
    let role = Role::parse(&role).ok_or_else(|| forbidden("unknown role"))?;
    sqlx::query(
        "UPDATE api_keys SET last_used_at = now() WHERE id = $1 \
         AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')",
    )
    .bind(id)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Principal {
        actor: Actor::ApiKey(id),
        role,
        tenant: Some(TenantId(tenant)),
        assigned: Vec::new(),
        email: None,
        meta,
    })
}

/// Create an API key; the response is the only time the secret is shown.
#[utoipa::path(post, path = "/v1/api-keys", tag = "tenancy", request_body = NewApiKey,
    responses((status = 201, body = CreatedApiKey), (status = 403, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create(
    ctx: InTenant,
    State(state): State<AppState>,
    Json(body): Json<NewApiKey>,
) -> Result<(StatusCode, Json<CreatedApiKey>), ApiError> {
    ctx.principal.require(Permission::ApiKeysManage)?;
    let name = body.name.trim().to_string();
    let mut errors = Vec::new();
    if name.is_empty() || name.chars().count() > 100 {
        errors.push(FieldError::new("name", "length", "1 to 100 characters"));
    }
    let role = crate::users::customer_role(&body.role, &ctx.principal, &mut errors);
    let (Some(role), true) = (role, errors.is_empty()) else {
        return Err(Problem::validation(errors).into());
    };
    let mut raw = [0u8; 32];
    SystemRandom::new()
        .fill(&mut raw)
        .map_err(|_| anyhow::anyhow!("no randomness for an API key"))?;
    let secret = format!("{SECRET_PREFIX}{}", URL_SAFE_NO_PAD.encode(raw));
    let created_by = match ctx.principal.actor {
        Actor::User(id) => Some(id),
        _ => None,
    };
    let mut tx = scope::begin(&state.pool, &Visibility::one(ctx.tenant)).await?;
    let key: ApiKey = sqlx::query_as(concat!(
        "INSERT INTO api_keys (id, tenant_id, name, role, prefix, secret_hash, created_by) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING ",
        key_columns!(),
        ""
    ))
    .bind(Uuid::now_v7())
    .bind(ctx.tenant.0)
    .bind(&name)
    .bind(role.as_str())
    .bind(&secret[..SHOWN_PREFIX])
    .bind(hash(&secret))
    .bind(created_by)
    .fetch_one(&mut *tx)
    .await
    .map_err(|e| {
        conflict_on(e, "api_keys_tenant_name_key", || {
            format!("an active API key is already named {name}")
        })
    })?;
    ctx.record_change(
        &mut tx,
        "api_key.created",
        "api_key",
        key.id,
        serde_json::json!({"after": {"name": key.name, "role": key.role, "prefix": key.prefix}}),
    )
    .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(CreatedApiKey { key, secret })))
}

/// The tenant's API keys (secrets are never shown again).
#[utoipa::path(get, path = "/v1/api-keys", tag = "tenancy",
    responses((status = 200, body = [ApiKey]), (status = 403, body = Problem)))]
pub async fn list(
    ctx: InTenant,
    State(state): State<AppState>,
) -> Result<Json<Vec<ApiKey>>, ApiError> {
    ctx.principal.require(Permission::ApiKeysRead)?;
    let mut tx = scope::begin(&state.pool, &Visibility::one(ctx.tenant)).await?;
    let keys = sqlx::query_as(concat!(
        "SELECT ",
        key_columns!(),
        " FROM api_keys WHERE tenant_id = $1 ORDER BY created_at DESC, id DESC"
    ))
    .bind(ctx.tenant.0)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Json(keys))
}

/// One API key.
#[utoipa::path(get, path = "/v1/api-keys/{id}", tag = "tenancy", params(("id" = Uuid, Path)),
    responses((status = 200, body = ApiKey), (status = 404, body = Problem)))]
pub async fn get(
    ctx: InTenant,
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
) -> Result<Json<ApiKey>, ApiError> {
    ctx.principal.require(Permission::ApiKeysRead)?;
    let mut tx = scope::begin(&state.pool, &Visibility::one(ctx.tenant)).await?;
    let key: Option<ApiKey> = sqlx::query_as(concat!(
        "SELECT ",
        key_columns!(),
        " FROM api_keys WHERE id = $1 AND tenant_id = $2"
    ))
    .bind(id)
    .bind(ctx.tenant.0)
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    key.map(Json).ok_or_else(|| Problem::not_found().into())
}

/// Revoke an API key; it stops working at once.
#[utoipa::path(delete, path = "/v1/api-keys/{id}", tag = "tenancy", params(("id" = Uuid, Path)),
    responses((status = 204), (status = 404, body = Problem)))]
pub async fn revoke(
    ctx: InTenant,
    State(state): State<AppState>,
    Extension(auth): Extension<Arc<AuthService>>,
    Path(id): Path<Uuid>,
) -> Result<StatusCode, ApiError> {
    ctx.principal.require(Permission::ApiKeysManage)?;
    let mut tx = scope::begin(&state.pool, &Visibility::one(ctx.tenant)).await?;
    let key: Option<ApiKey> = sqlx::query_as(concat!(
        "UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) \
         WHERE id = $1 AND tenant_id = $2 RETURNING ",
        key_columns!(),
        ""
    ))
    .bind(id)
    .bind(ctx.tenant.0)
    .fetch_optional(&mut *tx)
    .await?;
    let key = key.ok_or_else(Problem::not_found)?;
    ctx.record_change(
        &mut tx,
        "api_key.revoked",
        "api_key",
        key.id,
        serde_json::json!({"after": {"revoked_at": key.revoked_at}}),
    )
    .await?;
    auth.commit_change(tx, Invalidation::Actor(key.id)).await?;
    Ok(StatusCode::NO_CONTENT)
}
