//! `/v1/intent`: the weeks and topics of Company Surge, a company's intent,
//! and (platform admins) a week's file uploaded (thin handlers over
//! [`super::service`] and [`super::read`]).

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use chrono::NaiveDate;
use platform::http::AppState;
use platform::http::pagination::{check_texts, keyset};
use platform::http::problem::{ApiError, FieldError, Problem};
use serde::{Deserialize, Serialize};
use tenancy::Principal;
use tenancy::principal::forbidden;
use tenancy::roles::Permission;
use tenancy::scope::ScopedTx;
use utoipa::{IntoParams, ToSchema};

use super::read::{self, CompanyIntent};
use super::service::{self, IngestError, Ingested, Input, Source};
use super::store::{SurgeFile, Topic};

impl IngestError {
    /// As an API answer: a file that does not read whole is a 422 naming
    /// where it broke; the same file for another week a 409.
    pub fn into_api(self) -> ApiError {
        match self {
            IngestError::File(e) => Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid-file",
                "Invalid file",
            )
            .with_detail(e.to_string())
            .into(),
            e @ IngestError::OtherWeek(_) => Problem::conflict(e.to_string()).into(),
            IngestError::Database(e) => e.into(),
            IngestError::Other(e) => e.into(),
        }
    }
}

fn limit_of(limit: Option<i64>, errors: &mut Vec<FieldError>) -> i64 {
    let limit = limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        errors.push(FieldError::new("limit", "out_of_range", "1 to 200"));
    }
    limit
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct WeeksQuery {
    /// The last week of the previous page.
    pub before: Option<NaiveDate>,
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
}

/// A page of weeks, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct WeekPage {
    pub items: Vec<SurgeFile>,
    /// Pass as `before` for the next page; absent on the last page.
    pub next_before: Option<NaiveDate>,
}

/// The weeks of Company Surge ingested, newest first, each with its file.
#[utoipa::path(get, path = "/v1/intent/weeks", tag = "intent", operation_id = "intent_weeks",
    params(WeeksQuery),
    responses((status = 200, body = WeekPage), (status = 422, body = Problem)))]
pub async fn weeks(
    principal: Principal,
    State(state): State<AppState>,
    Query(q): Query<WeeksQuery>,
) -> Result<Json<WeekPage>, ApiError> {
    let mut errors = Vec::new();
    let limit = limit_of(q.limit, &mut errors);
    if !errors.is_empty() {
        return Err(Problem::validation(errors).into());
    }
    let mut tx = principal.begin_visible(&state.pool).await?;
    let found = read::weeks(tx.conn(), &principal, q.before, limit + 1).await;
    drop(tx); // read only: rolled back
    let (items, next_before) = keyset(found?, limit, |w| w.week);
    Ok(Json(WeekPage { items, next_before }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct TopicsQuery {
    /// Part of a topic's name or category, any case.
    pub q: Option<String>,
    /// The last name of the previous page.
    pub after: Option<String>,
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
}

/// A page of topics, by name.
#[derive(Debug, Serialize, ToSchema)]
pub struct TopicPage {
    pub items: Vec<Topic>,
    /// Pass as `after` for the next page; absent on the last page.
    pub next_after: Option<String>,
}

/// Intent topics whose name or category contains `q`, by name.
#[utoipa::path(get, path = "/v1/intent/topics", tag = "intent", operation_id = "intent_topics",
    params(TopicsQuery),
    responses((status = 200, body = TopicPage), (status = 422, body = Problem)))]
pub async fn topics(
    principal: Principal,
    State(state): State<AppState>,
    Query(q): Query<TopicsQuery>,
) -> Result<Json<TopicPage>, ApiError> {
    let mut errors = Vec::new();
    let limit = limit_of(q.limit, &mut errors);
    check_texts(
        &[("q", q.q.as_deref()), ("after", q.after.as_deref())],
        200,
        &mut errors,
    );
    if !errors.is_empty() {
        return Err(Problem::validation(errors).into());
    }
    let mut tx = principal.begin_visible(&state.pool).await?;
    let found = read::topics(
        tx.conn(),
        &principal,
        q.q.as_deref().unwrap_or_default(),
        q.after.as_deref(),
        limit + 1,
    )
    .await;
    drop(tx); // read only: rolled back
    let (items, next_after) = keyset(found?, limit, |t| t.name.clone());
    Ok(Json(TopicPage { items, next_after }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct IntentQuery {
    /// The score from which a topic counts as surging (default 60,
    /// Bombora's threshold).
    #[param(minimum = 0, maximum = 100)]
    pub min_score: Option<u8>,
}

/// A company's intent: its surging topics in the latest week (highest
/// first) and its trend over the last eight weeks.
#[utoipa::path(get, path = "/v1/companies/{domain}/intent", tag = "intent", operation_id = "companies_intent",
    params(("domain" = String, Path), IntentQuery),
    responses((status = 200, body = CompanyIntent), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn company(
    principal: Principal,
    State(state): State<AppState>,
    Path(domain): Path<String>,
    Query(q): Query<IntentQuery>,
) -> Result<Json<CompanyIntent>, ApiError> {
    let min_score = q.min_score.unwrap_or(super::SURGING);
    if min_score > 100 {
        return Err(Problem::validation(vec![FieldError::new(
            "min_score",
            "out_of_range",
            "0 to 100",
        )])
        .into());
    }
    let mut tx = principal.begin_visible(&state.pool).await?;
    let found = read::company(tx.conn(), &state.storage, &principal, &domain, min_score).await;
    drop(tx); // read only: rolled back
    Ok(Json(found?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ImportQuery {
    /// A day of the week the file scores (its Monday is the week's name).
    pub week: NaiveDate,
}

/// Ingest a week's Company Surge file sent as the body (Bombora's CSV,
/// plain or gzip): a new week, a correction replacing the week, or the
/// same file again (unchanged). A file that does not read whole is a 422
/// naming the line and byte, and the week stays as it was. Platform admins;
/// audited on the platform's chain.
#[utoipa::path(post, path = "/v1/intent/import", tag = "intent", operation_id = "intent_import",
    params(ImportQuery),
    request_body(content = String, content_type = "text/csv"),
    responses((status = 200, body = Ingested), (status = 403, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn import(
    principal: Principal,
    State(state): State<AppState>,
    Extension(options): Extension<super::IngestOptions>,
    Query(q): Query<ImportQuery>,
    body: axum::body::Bytes,
) -> Result<Json<Ingested>, ApiError> {
    principal.require(Permission::CompaniesManage)?;
    let all = principal
        .all_tenants()
        .ok_or_else(|| forbidden("only platform admins load intent data"))?;
    let mut tx = ScopedTx::all(&state.pool, all).await?;
    let done = service::ingest(
        tx.conn(),
        &state.storage,
        q.week,
        Source::Upload,
        Input::Bytes(body),
        options.create_companies,
        None,
    )
    .await
    .map_err(IngestError::into_api)?;
    tenancy::audit::record(
        tx.conn(),
        &principal.actor,
        &principal.meta,
        tenancy::audit::NewEvent {
            tenant: None,
            action: "intent.week_ingested",
            target_type: "surge_week",
            target_id: Some(done.file.week.to_string()),
            changes: serde_json::json!({"outcome": done.outcome, "checksum": done.file.checksum,
                "replaced": done.replaced, "rows": done.file.rows_read}),
            outcome: tenancy::audit::Outcome::Success,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Json(done))
}
