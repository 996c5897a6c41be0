//! What users read of the weeks: the weeks ingested, the topics, and a
//! company's intent (its surging topics this week and its trend).

use chrono::NaiveDate;
use platform::http::problem::{ApiError, Problem};
use platform::storage::Storage;
use serde::Serialize;
use sqlx::PgConnection;
use tenancy::Principal;
use tenancy::roles::Permission;
use utoipa::ToSchema;

use super::service::load;
use super::store::{self, SurgeFile, Topic};

pub async fn weeks(
    conn: &mut PgConnection,
    by: &Principal,
    before: Option<NaiveDate>,
    limit: i64,
) -> Result<Vec<SurgeFile>, ApiError> {
    by.require(Permission::CampaignsRead)?;
    Ok(store::weeks(conn, before, limit).await?)
}

pub async fn topics(
    conn: &mut PgConnection,
    by: &Principal,
    q: &str,
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<Topic>, ApiError> {
    by.require(Permission::CampaignsRead)?;
    let pattern = platform::db::escape_like(&q.trim().to_lowercase());
    Ok(store::topics(conn, &pattern, after, limit).await?)
}

/// A topic a company scored on.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq, Eq)]
pub struct TopicScore {
    pub topic: String,
    pub category: String,
    /// Composite score, 0 to 100.
    pub score: u8,
}

/// A company's intent in one week.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq, Eq)]
pub struct WeekIntent {
    pub week: NaiveDate,
    /// Topics scored at or above the threshold.
    pub surging_topics: usize,
    /// Its highest score that week (absent: not scored at all).
    pub highest_score: Option<u8>,
}

/// A company's intent: what it is surging on in the latest week, and its
/// trend over the last eight weeks (newest first).
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq, Eq)]
pub struct CompanyIntent {
    pub domain: String,
    /// The latest week ingested (absent: none yet).
    pub week: Option<NaiveDate>,
    /// The score from which a topic counts as surging.
    pub min_score: u8,
    /// The latest week's surging topics, highest score first.
    pub surging: Vec<TopicScore>,
    pub trend: Vec<WeekIntent>,
}

/// Weeks in a company's trend.
pub const TREND_WEEKS: i64 = 8;

pub async fn company(
    conn: &mut PgConnection,
    storage: &Storage,
    by: &Principal,
    input: &str,
    min_score: u8,
) -> Result<CompanyIntent, ApiError> {
    by.require(Permission::CampaignsRead)?;
    let domain = accounts::domain::registrable(input).map_err(|_| {
        Problem::not_found().with_detail(format!("{input} is not a company's domain"))
    })?;
    let files = store::weeks(conn, None, TREND_WEEKS).await?;
    let mut out = CompanyIntent {
        domain: domain.clone(),
        week: files.first().map(|f| f.week),
        min_score,
        surging: Vec::new(),
        trend: Vec::new(),
    };
    for (i, file) in files.iter().enumerate() {
        let week = load(storage, file).await?;
        let scores: Vec<TopicScore> = week
            .company(&domain)
            .map(|c| {
                week.scores_of(c)
                    .map(|(t, score)| TopicScore {
                        topic: t.name.clone(),
                        category: t.category.clone(),
                        score,
                    })
                    .collect()
            })
            .unwrap_or_default();
        let surging: Vec<TopicScore> = scores
            .iter()
            .filter(|s| s.score >= min_score)
            .cloned()
            .collect();
        out.trend.push(WeekIntent {
            week: file.week,
            surging_topics: surging.len(),
            highest_score: scores.iter().map(|s| s.score).max(),
        });
        if i == 0 {
            out.surging = surging;
            out.surging
                .sort_by(|a, b| b.score.cmp(&a.score).then(a.topic.cmp(&b.topic)));
        }
    }
    Ok(out)
}
