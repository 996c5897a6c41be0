//! HTTP plumbing shared by every capability: state, the router skeleton,
//! request middleware (ids, logs, metrics, timeouts, problem+json for every
//! error) and the operational endpoints (health, metrics, OpenAPI).

pub mod client_ip;
pub mod middleware;
pub mod ops;
pub mod pagination;
pub mod problem;
pub mod shown_once;
pub mod versioned;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::extract::DefaultBodyLimit;
use metrics_exporter_prometheus::PrometheusHandle;
use sqlx::PgPool;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use crate::config::PlatformConfig;
use crate::telemetry::BuildInfo;

/// State every handler can reach: one shared allocation, so that cloning it
/// (which axum does several times per request, once per layer of the route
/// service and again for the handler and its `State` extractor) costs one
/// reference count instead of a copy of every field. Its fields are reached
/// through `Deref`, as `state.pool`, `state.config` and so on.
#[derive(Clone)]
pub struct AppState(Arc<SharedState>);

/// The fields of [`AppState`].
pub struct SharedState {
    pub pool: PgPool,
    /// Where reports read: a read replica (`database.read_url`) or `pool`.
    /// Nothing that writes may use it.
    pub read_pool: PgPool,
    pub config: Arc<PlatformConfig>,
    pub build: BuildInfo,
    pub metrics: PrometheusHandle,
    pub rate_limiter: Arc<crate::rate_limit::RateLimiter>,
    pub storage: crate::storage::Storage,
    /// Cleared as soon as shutdown begins, so load balancers stop routing here.
    accepting: AtomicBool,
}

impl std::ops::Deref for AppState {
    type Target = SharedState;

    fn deref(&self) -> &SharedState {
        &self.0
    }
}

impl AppState {
    /// The shared state; connects to Redis when `redis.url` is set.
    pub async fn new(
        pool: PgPool,
        config: Arc<PlatformConfig>,
        build: BuildInfo,
    ) -> anyhow::Result<AppState> {
        let limiter =
            crate::rate_limit::RateLimiter::new(config.rate_limit.clone(), &config.redis).await?;
        let storage = crate::storage::Storage::from_config(&config)?;
        let read_pool = crate::db::read_pool(&pool, &config.database)?;
        Ok(AppState(Arc::new(SharedState {
            pool,
            read_pool,
            config,
            build,
            rate_limiter: Arc::new(limiter),
            storage,
            metrics: crate::telemetry::prometheus(build),
            accepting: AtomicBool::new(true),
        })))
    }

    pub fn is_shutting_down(&self) -> bool {
        !self.accepting.load(Ordering::SeqCst)
    }

    /// Mark the instance as leaving: readiness answers 503 from now on.
    pub fn begin_shutdown(&self) {
        self.accepting.store(false, Ordering::SeqCst);
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "P360 Display API",
        description = "Account-based display advertising: campaigns, audiences, activation, measurement, attribution and billing.",
        license(name = "Proprietary")
    ),
    components(schemas(problem::Problem, problem::FieldError)),
    tags((name = "operations", description = "Health, metrics and API description"))
)]
struct ApiDoc;

/// What every operation can answer besides its own responses, and what the
/// route annotations leave implicit:
/// - errors are `application/problem+json` (annotations that name `Problem`
///   without a content type get it);
/// - every operation may answer 400 (a malformed path, query or body), 429
///   (rate limited), 500 and 503 (overloaded, shutting down, a dependency
///   down); every `/v1` operation 401 (no or a bad credential) and 422
///   (validation), and takes the optional `P360-Tenant` header; an operation
///   with a body 415 (not JSON);
/// - axum's catch-all segments (`{*path}`) are OpenAPI's `{path}`.
fn complete_document(mut doc: serde_json::Value) -> serde_json::Value {
    use serde_json::{Value, json};
    let problem = |description: &str| {
        json!({
            "description": description,
            "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
        })
    };
    if let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) {
        let entries: Vec<(String, Value)> = std::mem::take(paths).into_iter().collect();
        for (path, mut item) in entries {
            let api = path.starts_with("/v1/");
            if let Some(ops) = item.as_object_mut() {
                for op in ops.values_mut() {
                    let mut common = vec![
                        ("400", "Malformed path, query or body"),
                        (
                            "429",
                            "Rate limited: retry after the Retry-After header's seconds",
                        ),
                        ("500", "Internal error (quote the request_id)"),
                        (
                            "503",
                            "Timed out, shutting down, or a dependency is unavailable",
                        ),
                    ];
                    if api {
                        // Either credential, sent as `Authorization: Bearer ...`.
                        op["security"] = json!([{"bearer_jwt": []}, {"api_key": []}]);
                        common.push(("401", "No credential, or one that is invalid or expired"));
                        common.push(("422", "Validation failed: `errors` names each field"));
                        // Staff name the tenant they act in.
                        let tenant = json!({
                            "in": "header",
                            "name": "P360-Tenant",
                            "required": false,
                            "description": "Staff: the slug of the tenant to act in (customers act in their own).",
                            "schema": {"type": "string"}
                        });
                        match op.get_mut("parameters").and_then(Value::as_array_mut) {
                            Some(params) => params.push(tenant),
                            None => op["parameters"] = json!([tenant]),
                        }
                    }
                    if op.get("requestBody").is_some() {
                        common.push(("415", "The body is not application/json"));
                    }
                    let Some(responses) = op.get_mut("responses").and_then(Value::as_object_mut)
                    else {
                        continue;
                    };
                    for response in responses.values_mut() {
                        if let Some(content) =
                            response.get_mut("content").and_then(Value::as_object_mut)
                            && content.get("application/json").is_some_and(|c| {
                                c["schema"]["$ref"] == "#/components/schemas/Problem"
                            })
                            && let Some(c) = content.remove("application/json")
                        {
                            content.insert("application/problem+json".into(), c);
                        }
                    }
                    for (status, description) in common {
                        responses
                            .entry(status)
                            .or_insert_with(|| problem(description));
                    }
                }
            }
            let path = path.replace("{*", "{");
            paths.insert(path, item);
        }
    }
    let components = doc
        .as_object_mut()
        .map(|d| d.entry("components").or_insert_with(|| json!({})));
    if let Some(components) = components.and_then(Value::as_object_mut) {
        components.insert(
            "securitySchemes".into(),
            json!({
                "bearer_jwt": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": "An OIDC access token from a configured issuer (or the development issuer, `p360 token`)."
                },
                "api_key": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "p360_ API key",
                    "description": "An API key (`p360_...`), created with POST /v1/api-keys, sent as a bearer token."
                }
            }),
        );
    }
    doc
}

/// The complete application router: the operational endpoints, the given
/// capability routes, the OpenAPI document of all of them, and the middleware.
pub fn router(state: AppState, capabilities: OpenApiRouter<AppState>) -> Router {
    router_with(state, capabilities, |r| r)
}

/// As [`router`], with `wrap` applied to every route inside the request
/// middleware (e.g. fault injection, whose failures are then observed like
/// real ones).
pub fn router_with(
    state: AppState,
    capabilities: OpenApiRouter<AppState>,
    wrap: impl FnOnce(Router<AppState>) -> Router<AppState>,
) -> Router {
    let (router, api) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(ops::routes())
        .merge(capabilities)
        .split_for_parts();
    // Rendered once: the document only changes with the binary.
    let document = axum::body::Bytes::from(
        serde_json::to_vec(&complete_document(
            serde_json::to_value(&api).expect("the OpenAPI document serialises"),
        ))
        .expect("the OpenAPI document serialises"),
    );
    let body_limit = state.config.http.body_limit_bytes;
    let router = router
        .route(
            "/openapi.json",
            axum::routing::get(move || {
                let document = document.clone();
                async move {
                    (
                        [(axum::http::header::CONTENT_TYPE, "application/json")],
                        document,
                    )
                }
            }),
        )
        .fallback(middleware::not_found)
        .layer(DefaultBodyLimit::max(body_limit));
    wrap(router)
        .layer(middleware::Observe::from(&state.config.http))
        .with_state(state)
}

/// Routes a capability contributes, with their OpenAPI description.
pub type ApiRoutes = OpenApiRouter<AppState>;

/// A field of a CSV download as a spreadsheet will not run it: a leading
/// `=`, `+`, `-`, `@`, tab or carriage return is a formula to Excel, so
/// such a field is quoted with a leading `'`.
pub fn spreadsheet_cell(v: &str) -> std::borrow::Cow<'_, str> {
    if v.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{v}").into()
    } else {
        v.into()
    }
}
