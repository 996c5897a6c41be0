//! Creatives: uploaded as multipart/form-data (`advertiser_id`, `name`,
//! `click_url`, `file`), checked (see `creative_files`), stored in object
//! storage, previewed by the app with the right content type (HTML5 inside a
//! sandboxing Content-Security-Policy).

use axum::Json;
use axum::body::Body;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStoreExt, PutPayload};
use platform::http::AppState;
use platform::http::pagination::Cursor;
use platform::http::problem::{ApiError, FieldError, Problem, conflict_on};
use serde::{Deserialize, Serialize};
use tenancy::InTenant;
use tenancy::roles::Permission;
use tenancy::scope::{self, Visibility};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::creative_files::{self, Checked, MAX_ZIP_BYTES};
use crate::http::{Page, Versioned, page};

#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct Creative {
    pub id: Uuid,
    pub advertiser_id: Uuid,
    pub name: String,
    /// https only.
    pub click_url: String,
    /// `image` or `html5`.
    pub kind: String,
    /// Sniffed from the bytes.
    pub mime: String,
    /// Read from the file.
    pub width: i64,
    pub height: i64,
    pub size_bytes: i64,
    pub unpacked_bytes: Option<i64>,
    pub sha256: String,
    /// `active` or `archived`.
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[serde(skip)]
    pub version: i64,
    #[serde(skip)]
    pub storage_prefix: String,
    #[serde(skip)]
    #[schema(ignore)]
    pub files: serde_json::Value,
}

/// The multipart form of `POST /v1/creatives` (for the API description).
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct CreativeUpload {
    pub advertiser_id: Uuid,
    pub name: String,
    /// https only.
    pub click_url: String,
    /// JPEG/PNG/GIF (at most 200 KB) or an HTML5 zip with `index.html` at its
    /// root (at most 1 MB, 5 MB unpacked); an IAB display size.
    #[schema(value_type = String, format = Binary)]
    pub file: Vec<u8>,
}

struct Form {
    advertiser_id: Option<String>,
    name: Option<String>,
    click_url: Option<String>,
    file: Option<Vec<u8>>,
}

/// Read the form, holding at most the file size limit in memory.
async fn read_form(mut multipart: Multipart) -> Result<Form, ApiError> {
    let mut form = Form {
        advertiser_id: None,
        name: None,
        click_url: None,
        file: None,
    };
    let bad = |detail: String| {
        Problem::new(StatusCode::BAD_REQUEST, "bad-request", "Bad request").with_detail(detail)
    };
    while let Some(mut field) = multipart
        .next_field()
        .await
        .map_err(|e| bad(e.body_text()))?
    {
        let name = field.name().unwrap_or_default().to_string();
        if name == "file" {
            let mut bytes = Vec::new();
            while let Some(chunk) = field.chunk().await.map_err(|e| bad(e.body_text()))? {
                if bytes.len() + chunk.len() > MAX_ZIP_BYTES {
                    return Err(Problem::validation(vec![FieldError::new(
                        "file",
                        "too_large",
                        format!("files are limited to {} KB", MAX_ZIP_BYTES / 1024),
                    )])
                    .into());
                }
                bytes.extend_from_slice(&chunk);
            }
            form.file = Some(bytes);
        } else {
            let text = field.text().await.map_err(|e| bad(e.body_text()))?;
            match name.as_str() {
                "advertiser_id" => form.advertiser_id = Some(text),
                "name" => form.name = Some(text),
                "click_url" => form.click_url = Some(text),
                other => {
                    return Err(Problem::validation(vec![FieldError::new(
                        other,
                        "unknown_field",
                        "not a field of this form",
                    )])
                    .into());
                }
            }
        }
    }
    Ok(form)
}

fn sha256_hex(bytes: &[u8]) -> String {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Upload a creative.
#[utoipa::path(post, path = "/v1/creatives", tag = "campaigns",
    request_body(content = CreativeUpload, content_type = "multipart/form-data"),
    responses((status = 201, body = Creative), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create(
    ctx: InTenant,
    State(state): State<AppState>,
    multipart: Multipart,
) -> Result<Versioned<Creative>, ApiError> {
    ctx.principal.require(Permission::CampaignsWrite)?;
    let form = read_form(multipart).await?;
    let mut errors = Vec::new();
    let advertiser_id = match form.advertiser_id.as_deref().map(str::parse::<Uuid>) {
        Some(Ok(id)) => Some(id),
        Some(Err(_)) => {
            errors.push(FieldError::new("advertiser_id", "invalid", "a UUID"));
            None
        }
        None => {
            errors.push(FieldError::new(
                "advertiser_id",
                "required",
                "the advertiser the creative belongs to",
            ));
            None
        }
    };
    let name = form.name.unwrap_or_default().trim().to_string();
    crate::check_name(&name, &mut errors);
    let click_url = form.click_url.unwrap_or_default().trim().to_string();
    match url::Url::parse(&click_url) {
        Ok(u) if u.scheme() == "https" && u.host_str().is_some() => {}
        _ => errors.push(FieldError::new("click_url", "not_https", "an https:// URL")),
    }
    let checked = match &form.file {
        None => {
            errors.push(FieldError::new("file", "required", "the creative file"));
            None
        }
        Some(bytes) => match creative_files::check(bytes) {
            Ok(c) => Some(c),
            Err(r) => {
                errors.push(FieldError::new("file", r.code, r.message));
                None
            }
        },
    };
    let mut tx = scope::begin(&state.pool, &Visibility::one(ctx.tenant)).await?;
    if let Some(adv) = advertiser_id {
        let exists: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM advertisers WHERE id = $1 AND tenant_id = $2)",
        )
        .bind(adv)
        .bind(ctx.tenant.0)
        .fetch_one(&mut *tx)
        .await?;
        if !exists {
            errors.push(FieldError::new(
                "advertiser_id",
                "not_found",
                "no such advertiser",
            ));
        }
    }
    let (Some(advertiser_id), Some(checked), Some(bytes), true) =
        (advertiser_id, checked, form.file, errors.is_empty())
    else {
        return Err(Problem::validation(errors).into());
    };

    let id = Uuid::now_v7();
    let prefix = format!("tenants/{}/creatives/{id}", ctx.tenant);
    let store = &state.storage.store;
    let (kind, mime, width, height, unpacked, files) = match checked {
        Checked::Image {
            mime,
            ext,
            width,
            height,
        } => {
            put(store, &format!("{prefix}/creative.{ext}"), bytes.clone()).await?;
            (
                "image",
                mime,
                width,
                height,
                None,
                serde_json::json!([{"path": format!("creative.{ext}"), "content_type": mime}]),
            )
        }
        Checked::Html5 {
            width,
            height,
            unpacked,
            files,
        } => {
            put(store, &format!("{prefix}/bundle.zip"), bytes.clone()).await?;
            let mut listing = Vec::new();
            for f in files {
                listing.push(serde_json::json!({"path": f.path, "size": f.bytes.len(), "content_type": f.content_type}));
                put(store, &format!("{prefix}/files/{}", f.path), f.bytes).await?;
            }
            (
                "html5",
                "application/zip",
                width,
                height,
                Some(unpacked as i64),
                serde_json::Value::Array(listing),
            )
        }
    };
    let creative: Creative = sqlx::query_as(
        "INSERT INTO creatives (id, tenant_id, advertiser_id, name, click_url, kind, mime, width, height, \
         size_bytes, unpacked_bytes, sha256, storage_prefix, files) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) RETURNING *",
    )
    .bind(id)
    .bind(ctx.tenant.0)
    .bind(advertiser_id)
    .bind(&name)
    .bind(&click_url)
    .bind(kind)
    .bind(mime)
    .bind(i64::from(width))
    .bind(i64::from(height))
    .bind(bytes.len() as i64)
    .bind(unpacked)
    .bind(sha256_hex(&bytes))
    .bind(&prefix)
    .bind(&files)
    .fetch_one(&mut *tx)
    .await
    .map_err(|e| conflict_on(e, "creatives_advertiser_name_key", || format!("this advertiser has a creative named {name}")))?;
    ctx.record_change(
        &mut tx,
        "creative.created",
        "creative",
        id,
        serde_json::json!({"after": creative}),
    )
    .await?;
    tx.commit().await?;
    Ok(Versioned {
        status: StatusCode::CREATED,
        version: creative.version,
        body: creative,
    })
}

async fn put(
    store: &std::sync::Arc<dyn object_store::ObjectStore>,
    key: &str,
    bytes: Vec<u8>,
) -> Result<(), ApiError> {
    let path = ObjectPath::parse(key).map_err(|e| anyhow::anyhow!("bad object key {key}: {e}"))?;
    store
        .put(&path, PutPayload::from(bytes))
        .await
        .map_err(|e| anyhow::anyhow!("cannot store {key}: {e}"))?;
    Ok(())
}

async fn fetch(state: &AppState, ctx: &InTenant, id: Uuid) -> Result<Creative, ApiError> {
    let mut tx = scope::begin(&state.pool, &Visibility::one(ctx.tenant)).await?;
    let c: Option<Creative> =
        sqlx::query_as("SELECT * FROM creatives WHERE id = $1 AND tenant_id = $2")
            .bind(id)
            .bind(ctx.tenant.0)
            .fetch_optional(&mut *tx)
            .await?;
    scope::end_read(tx);
    c.ok_or_else(|| Problem::not_found().into())
}

/// One creative.
#[utoipa::path(get, path = "/v1/creatives/{id}", tag = "campaigns", params(("id" = Uuid, Path)),
    responses((status = 200, body = Creative), (status = 404, body = Problem)))]
pub async fn get(
    ctx: InTenant,
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
) -> Result<Versioned<Creative>, ApiError> {
    ctx.principal.require(Permission::CampaignsRead)?;
    let c = fetch(&state, &ctx, id).await?;
    Ok(Versioned {
        status: StatusCode::OK,
        version: c.version,
        body: c,
    })
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    pub advertiser_id: Option<Uuid>,
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// Creatives, newest first.
#[utoipa::path(get, path = "/v1/creatives", tag = "campaigns", params(ListQuery),
    responses((status = 200, body = Page<Creative>)))]
pub async fn list(
    ctx: InTenant,
    State(state): State<AppState>,
    Query(q): Query<ListQuery>,
) -> Result<Json<Page<Creative>>, ApiError> {
    ctx.principal.require(Permission::CampaignsRead)?;
    let (limit, cursor) = page(q.limit, q.cursor.as_deref())?;
    let mut tx = scope::begin(&state.pool, &Visibility::one(ctx.tenant)).await?;
    let rows: Vec<Creative> = sqlx::query_as(
        "SELECT * FROM creatives WHERE tenant_id = $1 AND ($2::uuid IS NULL OR advertiser_id = $2) \
         AND ($3::timestamptz IS NULL OR (created_at, id) < ($3, $4)) ORDER BY created_at DESC, id DESC LIMIT $5",
    )
    .bind(ctx.tenant.0)
    .bind(q.advertiser_id)
    .bind(cursor.map(|c| c.at))
    .bind(cursor.map(|c| c.id))
    .bind(limit + 1)
    .fetch_all(&mut *tx)
    .await?;
    scope::end_read(tx);
    Ok(Json(Page::from_rows(rows, limit, |c| Cursor {
        at: c.created_at,
        id: c.id,
    })))
}

/// The creative as it renders: the image, or the HTML5 bundle's `index.html`.
#[utoipa::path(get, path = "/v1/creatives/{id}/preview", tag = "campaigns", params(("id" = Uuid, Path)),
    responses((status = 200, description = "The image or index.html"), (status = 404, body = Problem)))]
pub async fn preview(
    ctx: InTenant,
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
) -> Result<Response, ApiError> {
    ctx.principal.require(Permission::CampaignsRead)?;
    let c = fetch(&state, &ctx, id).await?;
    let path = if c.kind == "html5" {
        "index.html".to_string()
    } else {
        c.files[0]["path"].as_str().unwrap_or_default().to_string()
    };
    serve_file(&state, &c, &path).await
}

/// A file of an HTML5 bundle (scripts, styles, images it loads).
#[utoipa::path(get, path = "/v1/creatives/{id}/preview/{*path}", tag = "campaigns",
    params(("id" = Uuid, Path), ("path" = String, Path)),
    responses((status = 200, description = "The file"), (status = 404, body = Problem)))]
pub async fn preview_file(
    ctx: InTenant,
    State(state): State<AppState>,
    Path((id, path)): Path<(Uuid, String)>,
) -> Result<Response, ApiError> {
    ctx.principal.require(Permission::CampaignsRead)?;
    let c = fetch(&state, &ctx, id).await?;
    if c.kind != "html5" {
        return Err(Problem::not_found().into());
    }
    serve_file(&state, &c, &path).await
}

async fn serve_file(state: &AppState, c: &Creative, path: &str) -> Result<Response, ApiError> {
    // Only files recorded at upload are served: no path is built from input alone.
    let entry = c
        .files
        .as_array()
        .and_then(|files| files.iter().find(|f| f["path"] == path))
        .ok_or_else(Problem::not_found)?;
    let content_type = entry["content_type"]
        .as_str()
        .unwrap_or("application/octet-stream")
        .to_string();
    let key = if c.kind == "html5" {
        format!("{}/files/{path}", c.storage_prefix)
    } else {
        format!("{}/{path}", c.storage_prefix)
    };
    let object_path =
        ObjectPath::parse(&key).map_err(|e| anyhow::anyhow!("bad object key {key}: {e}"))?;
    let bytes = state
        .storage
        .store
        .get(&object_path)
        .await
        .map_err(|e| anyhow::anyhow!("cannot read {key}: {e}"))?
        .bytes()
        .await
        .map_err(|e| anyhow::anyhow!("cannot read {key}: {e}"))?;
    let mut res = Response::new(Body::from(bytes));
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(&content_type)
            .unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    // HTML5 runs sandboxed: its scripts run, but in an opaque origin with no
    // access to the app's cookies, storage or API, and it loads only its own files.
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "sandbox allow-scripts; default-src 'self' data: blob:; script-src 'self' 'unsafe-inline'; \
             style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; connect-src 'none'; frame-ancestors 'self'",
        ),
    );
    Ok(res.into_response())
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreativePatch {
    pub name: Option<String>,
    /// https only.
    pub click_url: Option<String>,
}

/// Rename a creative or change its click-through URL (`If-Match` required).
#[utoipa::path(patch, path = "/v1/creatives/{id}", tag = "campaigns", request_body = CreativePatch,
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Creative), (status = 404, body = Problem), (status = 412, body = Problem), (status = 422, body = Problem), (status = 428, body = Problem)))]
pub async fn update(
    ctx: InTenant,
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
    headers: axum::http::HeaderMap,
    Json(body): Json<CreativePatch>,
) -> Result<Versioned<Creative>, ApiError> {
    ctx.principal.require(Permission::CampaignsWrite)?;
    let mut errors = Vec::new();
    if let Some(n) = &body.name {
        crate::check_name(n, &mut errors);
    }
    if let Some(u) = &body.click_url
        && !url::Url::parse(u).is_ok_and(|u| u.scheme() == "https" && u.host_str().is_some())
    {
        errors.push(FieldError::new("click_url", "not_https", "an https:// URL"));
    }
    change(&state, &ctx, id, &headers, errors, "creative.updated", |tx, before| {
        Box::pin(async move {
            sqlx::query_as(
                "UPDATE creatives SET name = coalesce($3, name), click_url = coalesce($4, click_url), \
                 version = version + 1, updated_at = now() WHERE id = $1 AND tenant_id = $2 RETURNING *",
            )
            .bind(before.id)
            .bind(ctx.tenant.0)
            .bind(body.name.as_deref().map(str::trim))
            .bind(body.click_url.as_deref().map(str::trim))
            .fetch_one(&mut **tx)
            .await
        })
    })
    .await
}

/// Archive a creative: it keeps its files and history, and can no longer be
/// assigned to ad groups (`If-Match` required).
#[utoipa::path(delete, path = "/v1/creatives/{id}", tag = "campaigns", params(("id" = Uuid, Path)),
    responses((status = 200, body = Creative), (status = 404, body = Problem), (status = 412, body = Problem), (status = 428, body = Problem)))]
pub async fn archive(
    ctx: InTenant,
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
    headers: axum::http::HeaderMap,
) -> Result<Versioned<Creative>, ApiError> {
    ctx.principal.require(Permission::CampaignsWrite)?;
    change(&state, &ctx, id, &headers, Vec::new(), "creative.archived", |tx, before| {
        Box::pin(async move {
            sqlx::query_as(
                "UPDATE creatives SET status = 'archived', version = version + 1, updated_at = now() \
                 WHERE id = $1 AND tenant_id = $2 RETURNING *",
            )
            .bind(before.id)
            .bind(ctx.tenant.0)
            .fetch_one(&mut **tx)
            .await
        })
    })
    .await
}

type Tx = sqlx::Transaction<'static, sqlx::Postgres>;

/// Find, check the precondition and the field errors, apply, audit.
async fn change<'a, F>(
    state: &AppState,
    ctx: &'a InTenant,
    id: Uuid,
    headers: &axum::http::HeaderMap,
    errors: Vec<FieldError>,
    action: &'static str,
    apply: F,
) -> Result<Versioned<Creative>, ApiError>
where
    F: for<'t> FnOnce(
        &'t mut Tx,
        Creative,
    ) -> std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<Creative, sqlx::Error>> + Send + 't>,
    >,
{
    let mut tx = scope::begin(&state.pool, &Visibility::one(ctx.tenant)).await?;
    let before: Creative =
        sqlx::query_as("SELECT * FROM creatives WHERE id = $1 AND tenant_id = $2 FOR UPDATE")
            .bind(id)
            .bind(ctx.tenant.0)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(Problem::not_found)?;
    if before.version != crate::http::if_match(headers)? {
        return Err(crate::http::stale().into());
    }
    if !errors.is_empty() {
        return Err(Problem::validation(errors).into());
    }
    let after = apply(&mut tx, before.clone()).await.map_err(|e| {
        conflict_on(
            e,
            "creatives_advertiser_name_key",
            || "this advertiser has a creative with that name",
        )
    })?;
    ctx.record_change(
        &mut tx,
        action,
        "creative",
        id,
        serde_json::json!({"before": before, "after": after}),
    )
    .await?;
    tx.commit().await?;
    Ok(Versioned {
        status: StatusCode::OK,
        version: after.version,
        body: after,
    })
}
