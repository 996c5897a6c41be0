//! `/v1/creatives`: the multipart upload, reads, changes and previews; and
//! `/creatives/{name}`, the public file TTD is sent the URL of.

use axum::Json;
use axum::body::Body;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use platform::http::AppState;
use platform::http::pagination::{Cursor, Page, page};
use platform::http::problem::{ApiError, FieldError, Problem};
use platform::http::versioned::{Precondition, Versioned};
use tenancy::roles::Permission;
use tenancy::{Anonymous, InTenant};

use super::files::MAX_ZIP_BYTES;
use super::{Creative, CreativeKind, CreativePatch, CreativeUpload, Upload, service};
use crate::ids::CreativeId;
use crate::list::ByAdvertiser;

/// Read the form, holding at most the file size limit in memory.
async fn read_form(mut multipart: Multipart) -> Result<Upload, ApiError> {
    let mut form = Upload::default();
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

/// Upload a creative.
#[utoipa::path(post, path = "/v1/creatives", tag = "campaigns", operation_id = "creatives_create",
    request_body(content = CreativeUpload, content_type = "multipart/form-data"),
    responses((status = 201, body = Creative), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create(
    ctx: InTenant,
    State(state): State<AppState>,
    multipart: Multipart,
) -> Result<Versioned<Creative>, ApiError> {
    ctx.require(Permission::CampaignsWrite)?;
    let form = read_form(multipart).await?;
    let mut tx = ctx.begin(&state.pool).await?;
    let creative = service::create(&mut tx, &ctx.principal, &state.storage, form).await?;
    tx.commit().await?;
    Ok(Versioned::created(creative.version, creative))
}

async fn find(state: &AppState, ctx: &InTenant, id: CreativeId) -> Result<Creative, ApiError> {
    let mut tx = ctx.begin(&state.pool).await?;
    let found = service::get(&mut tx, &ctx.principal, id).await;
    tx.end_read();
    found
}

/// One creative.
#[utoipa::path(get, path = "/v1/creatives/{id}", tag = "campaigns", operation_id = "creatives_get",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Creative), (status = 404, body = Problem)))]
pub async fn get(
    ctx: InTenant,
    State(state): State<AppState>,
    Path(id): Path<CreativeId>,
) -> Result<Versioned<Creative>, ApiError> {
    let c = find(&state, &ctx, id).await?;
    Ok(Versioned::ok(c.version, c))
}

/// Creatives, newest first.
#[utoipa::path(get, path = "/v1/creatives", tag = "campaigns", operation_id = "creatives_list",
    params(ByAdvertiser),
    responses((status = 200, body = Page<Creative>)))]
pub async fn list(
    ctx: InTenant,
    State(state): State<AppState>,
    Query(q): Query<ByAdvertiser>,
) -> Result<Json<Page<Creative>>, ApiError> {
    ctx.require(Permission::CampaignsRead)?;
    let (limit, cursor) = page(q.limit, q.cursor.as_deref())?;
    let mut tx = ctx.begin(&state.pool).await?;
    let rows = service::list(&mut tx, &ctx.principal, q.advertiser_id, cursor, limit + 1).await;
    tx.end_read();
    Ok(Json(Page::from_rows(rows?, limit, |c| Cursor {
        at: c.created_at,
        id: c.id.0,
    })))
}

/// The creative as it renders: the image, or the HTML5 bundle's `index.html`.
#[utoipa::path(get, path = "/v1/creatives/{id}/preview", tag = "campaigns", operation_id = "creatives_preview",
    params(("id" = Uuid, Path)),
    responses((status = 200, description = "The image or index.html"), (status = 404, body = Problem)))]
pub async fn preview(
    ctx: InTenant,
    State(state): State<AppState>,
    Path(id): Path<CreativeId>,
) -> Result<Response, ApiError> {
    let c = find(&state, &ctx, id).await?;
    serve_file(&state, &c, &c.preview_path()).await
}

/// A file of an HTML5 bundle (scripts, styles, images it loads).
#[utoipa::path(get, path = "/v1/creatives/{id}/preview/{*path}", tag = "campaigns", operation_id = "creatives_preview_file",
    params(("id" = Uuid, Path), ("path" = String, Path)),
    responses((status = 200, description = "The file"), (status = 404, body = Problem)))]
pub async fn preview_file(
    ctx: InTenant,
    State(state): State<AppState>,
    Path((id, path)): Path<(CreativeId, String)>,
) -> Result<Response, ApiError> {
    let c = find(&state, &ctx, id).await?;
    if c.kind != CreativeKind::Html5 {
        return Err(Problem::not_found().into());
    }
    serve_file(&state, &c, &path).await
}

async fn serve_file(state: &AppState, c: &Creative, path: &str) -> Result<Response, ApiError> {
    let (bytes, content_type) = service::read_file(&state.storage, c, path).await?;
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

/// Rename a creative or change its click-through URL (`If-Match` required).
#[utoipa::path(patch, path = "/v1/creatives/{id}", tag = "campaigns", operation_id = "creatives_update",
    request_body = CreativePatch, params(("id" = Uuid, Path)),
    responses((status = 200, body = Creative), (status = 404, body = Problem), (status = 412, body = Problem), (status = 422, body = Problem), (status = 428, body = Problem)))]
pub async fn update(
    ctx: InTenant,
    State(state): State<AppState>,
    Path(id): Path<CreativeId>,
    expected: Precondition,
    Json(body): Json<CreativePatch>,
) -> Result<Versioned<Creative>, ApiError> {
    let mut tx = ctx.begin(&state.pool).await?;
    let c = service::update(&mut tx, &ctx.principal, id, &expected, body).await?;
    tx.commit().await?;
    Ok(Versioned::ok(c.version, c))
}

/// Archive a creative: it keeps its files and history, and can no longer be
/// assigned to ad groups (`If-Match` required).
#[utoipa::path(delete, path = "/v1/creatives/{id}", tag = "campaigns", operation_id = "creatives_archive",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Creative), (status = 404, body = Problem), (status = 412, body = Problem), (status = 428, body = Problem)))]
pub async fn archive(
    ctx: InTenant,
    State(state): State<AppState>,
    Path(id): Path<CreativeId>,
    expected: Precondition,
) -> Result<Versioned<Creative>, ApiError> {
    let mut tx = ctx.begin(&state.pool).await?;
    let c = service::archive(&mut tx, &ctx.principal, id, &expected).await?;
    tx.commit().await?;
    Ok(Versioned::ok(c.version, c))
}

/// How long browsers, CDNs and TTD may keep a public creative file. A file
/// never changes under its URL (a new file is a new creative); archiving one
/// takes at most this long to reach caches.
pub const PUBLIC_MAX_AGE_SECS: u32 = 3600;

/// A creative's public file: what TTD is sent the URL of.
///
/// The image, or an HTML5 creative's zip, at the name the sync sends (`{id}`
/// or `{id}.zip` under `ttd.creative_base_url`). Public: no credentials,
/// rate limited per source address. Only a creative that an active ad group
/// of an approved, active or paused campaign runs is served; anything else
/// is 404.
#[utoipa::path(get, path = "/creatives/{name}", tag = "campaigns", operation_id = "creatives_public_file",
    params(("name" = String, Path, description = "The creative's id; an HTML5 creative's followed by `.zip`")),
    responses(
        (status = 200, description = "The file, with its content type, an ETag and public caching",
            headers(("ETag" = String), ("Cache-Control" = String))),
        (status = 304, description = "Not modified (If-None-Match)"),
        (status = 404, body = Problem)))]
pub async fn public_file(
    _caller: Anonymous,
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let file = service::find_public(&state.pool, &name).await?;
    let etag = format!("\"{}\"", file.sha256);
    let mut res = if none_match(&headers, &etag) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let bytes = service::read_public(&state.storage, &file).await?;
        let mut res = Response::new(Body::from(bytes));
        res.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_str(&file.mime)
                .unwrap_or(HeaderValue::from_static("application/octet-stream")),
        );
        res
    };
    let h = res.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_str(&format!("public, max-age={PUBLIC_MAX_AGE_SECS}"))
            .expect("a valid header"),
    );
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    // Opened directly, nothing in it runs with the app's origin.
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; img-src 'self'; sandbox"),
    );
    Ok(res)
}

/// The headers `GET /creatives/{name}` would answer, without the file.
#[utoipa::path(head, path = "/creatives/{name}", tag = "campaigns", operation_id = "creatives_public_file_head",
    params(("name" = String, Path, description = "The creative's id; an HTML5 creative's followed by `.zip`")),
    responses(
        (status = 200, description = "The file's headers (Content-Type, Content-Length, ETag, Cache-Control)"),
        (status = 304, description = "Not modified (If-None-Match)"),
        (status = 404, description = "Not found (HEAD: the problem's headers, no body)")))]
pub async fn public_file_head(
    caller: Anonymous,
    state: State<AppState>,
    name: Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    // The body is dropped for HEAD by the router, its length kept.
    public_file(caller, state, name, headers).await
}

/// Whether `If-None-Match` names `etag` (weakly) or is `*`.
fn none_match(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .any(|t| t == "*" || t.trim_start_matches("W/") == etag)
}
