//! `/v1/api-keys`: create (the secret is shown once), list, get, revoke.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use platform::http::AppState;
use platform::http::problem::{ApiError, FieldError, Problem, conflict_on};
use platform::http::shown_once::SecretInResponse;

use super::{ApiKey, CreatedApiKey, NewApiKey, SHOWN_PREFIX, hash, new_secret, store};
use crate::audit;
use crate::cache::{Invalidation, PrincipalCache};
use crate::principal::{ApiKeyId, InTenant};
use crate::roles::Permission;
use crate::users::customer_role;

/// Create an API key; the response is the only time the secret is shown.
#[utoipa::path(post, path = "/v1/api-keys", tag = "tenancy", operation_id = "api_keys_create",
    request_body = NewApiKey,
    responses((status = 201, body = CreatedApiKey), (status = 403, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create(
    ctx: InTenant,
    State(state): State<AppState>,
    Json(body): Json<NewApiKey>,
) -> Result<(StatusCode, Extension<SecretInResponse>, Json<CreatedApiKey>), ApiError> {
    ctx.require(Permission::ApiKeysManage)?;
    let name = body.name.trim().to_string();
    let mut errors = Vec::new();
    if name.is_empty() || name.chars().count() > 100 {
        errors.push(FieldError::new("name", "length", "1 to 100 characters"));
    }
    let role = customer_role(&body.role, &ctx.principal, &mut errors);
    let (Some(role), true) = (role, errors.is_empty()) else {
        return Err(Problem::validation(errors).into());
    };
    let secret = new_secret()?;
    // A key acts for the person behind the credential that made it (a key
    // minted with a key is still that person's, and stops with them).
    let created_by = ctx.principal.person;
    let mut tx = ctx.begin(&state.pool).await?;
    let key = store::insert(
        &mut tx,
        &name,
        role.as_str(),
        &secret[..SHOWN_PREFIX],
        &hash(&secret),
        created_by,
    )
    .await
    .map_err(|e| {
        conflict_on(e, "api_keys_tenant_name_key", || {
            format!("an active API key is already named {name}")
        })
    })?;
    audit::record_change(
        &mut tx,
        &ctx.principal,
        "api_key.created",
        "api_key",
        key.id,
        serde_json::json!({"after": {"name": key.name, "role": key.role, "prefix": key.prefix}}),
    )
    .await?;
    tx.commit().await?;
    // Shown once: an idempotent replay answers without it.
    let replay = SecretInResponse::new(format!(
        "this request created API key {} ({}); its secret is shown only once. \
         If the response was lost, revoke the key and create another.",
        key.id, key.prefix
    ));
    Ok((
        StatusCode::CREATED,
        Extension(replay),
        Json(CreatedApiKey { key, secret }),
    ))
}

/// The tenant's API keys (secrets are never shown again).
#[utoipa::path(get, path = "/v1/api-keys", tag = "tenancy", operation_id = "api_keys_list",
    responses((status = 200, body = [ApiKey]), (status = 403, body = Problem)))]
pub async fn list(
    ctx: InTenant,
    State(state): State<AppState>,
) -> Result<Json<Vec<ApiKey>>, ApiError> {
    ctx.require(Permission::ApiKeysRead)?;
    let mut tx = ctx.begin(&state.pool).await?;
    let keys = store::list(&mut tx).await?;
    tx.end_read();
    Ok(Json(keys))
}

/// One API key.
#[utoipa::path(get, path = "/v1/api-keys/{id}", tag = "tenancy", operation_id = "api_keys_get",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = ApiKey), (status = 404, body = Problem)))]
pub async fn get(
    ctx: InTenant,
    State(state): State<AppState>,
    Path(id): Path<ApiKeyId>,
) -> Result<Json<ApiKey>, ApiError> {
    ctx.require(Permission::ApiKeysRead)?;
    let mut tx = ctx.begin(&state.pool).await?;
    let key = store::get(&mut tx, id).await?;
    tx.end_read();
    key.map(Json).ok_or_else(|| Problem::not_found().into())
}

/// Revoke an API key; it stops working at once.
#[utoipa::path(delete, path = "/v1/api-keys/{id}", tag = "tenancy", operation_id = "api_keys_revoke",
    params(("id" = Uuid, Path)),
    responses((status = 204), (status = 404, body = Problem)))]
pub async fn revoke(
    ctx: InTenant,
    State(state): State<AppState>,
    Extension(sessions): Extension<Arc<PrincipalCache>>,
    Path(id): Path<ApiKeyId>,
) -> Result<StatusCode, ApiError> {
    ctx.require(Permission::ApiKeysManage)?;
    let mut tx = ctx.begin(&state.pool).await?;
    let key = store::revoke(&mut tx, id)
        .await?
        .ok_or_else(Problem::not_found)?;
    audit::record_change(
        &mut tx,
        &ctx.principal,
        "api_key.revoked",
        "api_key",
        key.id,
        serde_json::json!({"after": {"revoked_at": key.revoked_at}}),
    )
    .await?;
    sessions
        .commit_change(tx, Invalidation::Actor(key.id.0))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
