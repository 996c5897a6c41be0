//! Salesforce's REST API as P360 calls it for one tenant's org: a session
//! from the JWT bearer flow (made again once after `401
//! INVALID_SESSION_ID`), SOQL queries (`query`, or `queryAll` to see
//! deleted records too) read page by page through `nextRecordsUrl`, and
//! retries with exponential backoff on `REQUEST_LIMIT_EXCEEDED`, 5xx and
//! timeouts. Only the login host and an instance URL the endpoints allow
//! are ever called.

use std::time::Duration;

use anyhow::{Context, Result, bail};
use aws_lc_rs::signature::RsaKeyPair;
use reqwest::StatusCode;
use serde::Deserialize;
use serde_json::Value;
use tokio::sync::Mutex;

use super::jwt;

/// Where a tenant's org is reached: Salesforce itself, or the sandbox.
#[derive(Debug, Clone)]
pub enum Endpoints {
    /// `https://{login_host}` for tokens; instance URLs under these host
    /// suffixes (e.g. `.salesforce.com`, `.force.com`).
    Salesforce { instance_suffixes: Vec<String> },
    /// Every call to the sandbox at this base URL (tokens and instance).
    Sandbox { base_url: String },
}

impl Endpoints {
    fn token_url(&self, login_host: &str) -> String {
        match self {
            Endpoints::Salesforce { .. } => format!("https://{login_host}/services/oauth2/token"),
            Endpoints::Sandbox { base_url } => {
                format!("{}/services/oauth2/token", base_url.trim_end_matches('/'))
            }
        }
    }

    /// Whether P360 may call `instance_url` (what the token endpoint named).
    pub fn allows_instance(&self, instance_url: &str) -> bool {
        let Ok(u) = url::Url::parse(instance_url) else {
            return false;
        };
        match self {
            Endpoints::Salesforce { instance_suffixes } => {
                u.scheme() == "https"
                    && u.host_str().is_some_and(|h| {
                        instance_suffixes
                            .iter()
                            .any(|s| h.ends_with(s.as_str()) && h.len() > s.len())
                    })
            }
            Endpoints::Sandbox { base_url } => {
                instance_url.trim_end_matches('/') == base_url.trim_end_matches('/')
            }
        }
    }
}

/// How to call.
#[derive(Debug, Clone)]
pub struct Settings {
    pub endpoints: Endpoints,
    /// e.g. `v62.0`.
    pub api_version: String,
    /// Records a page (200 to 2,000).
    pub batch_size: u32,
    pub timeout: Duration,
    pub max_retries: u32,
    /// The first retry's wait; each next one doubles it.
    pub backoff: Duration,
}

/// The org's credentials (the private key opened from the vault).
pub struct Credentials {
    pub consumer_key: String,
    pub username: String,
    pub login_host: String,
    pub key: RsaKeyPair,
}

/// What went wrong, as Salesforce said it.
#[derive(Debug, thiserror::Error)]
pub enum SfError {
    /// The token endpoint refused the assertion.
    #[error("Salesforce refused the sign-in: {error} ({description})")]
    Auth { error: String, description: String },
    /// The API answered an error (`[{"message","errorCode"}]`).
    #[error("Salesforce answered {status}: {code}: {message}")]
    Api {
        status: u16,
        code: String,
        message: String,
    },
    /// Retries ran out on throttling, server errors or timeouts.
    #[error("Salesforce: {0} (after retries)")]
    Exhausted(String),
    #[error("Salesforce named an instance URL P360 does not call: {0}")]
    Instance(String),
}

impl SfError {
    /// The API limit is reached: later, not now.
    pub fn is_limit(&self) -> bool {
        matches!(self, SfError::Api { code, .. } if code == "REQUEST_LIMIT_EXCEEDED")
            || matches!(self, SfError::Exhausted(m) if m.contains("REQUEST_LIMIT_EXCEEDED"))
    }
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    instance_url: String,
}

#[derive(Deserialize)]
struct OAuthError {
    error: String,
    #[serde(default)]
    error_description: String,
}

#[derive(Deserialize)]
struct ApiErrorItem {
    message: String,
    #[serde(rename = "errorCode")]
    error_code: String,
}

/// One page of a query.
#[derive(Debug, Deserialize)]
pub struct Page {
    #[serde(rename = "totalSize")]
    pub total_size: u64,
    pub done: bool,
    #[serde(rename = "nextRecordsUrl")]
    pub next_records_url: Option<String>,
    /// Each record's JSON as sent (amounts are read from their text).
    pub records: Vec<Box<serde_json::value::RawValue>>,
}

#[derive(Clone)]
struct Session {
    token: String,
    instance_url: String,
}

pub struct SalesforceClient {
    http: reqwest::Client,
    settings: Settings,
    credentials: Credentials,
    session: Mutex<Option<Session>>,
}

/// What one attempt came to.
enum Attempt {
    Done(reqwest::Response),
    Retry(String, Option<Duration>),
    Session,
    Fail(SfError),
}

impl SalesforceClient {
    pub fn new(settings: Settings, credentials: Credentials) -> Result<SalesforceClient> {
        let http = reqwest::Client::builder()
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout.min(Duration::from_secs(10)))
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(SalesforceClient {
            http,
            settings,
            credentials,
            session: Mutex::new(None),
        })
    }

    /// Sign in by the JWT bearer flow: the instance URL.
    pub async fn authenticate(&self) -> Result<String> {
        Ok(self.session(true).await?.instance_url)
    }

    async fn session(&self, fresh: bool) -> Result<Session> {
        let mut held = self.session.lock().await;
        if !fresh && let Some(s) = held.as_ref() {
            return Ok(s.clone());
        }
        let c = &self.credentials;
        let claims = jwt::Claims {
            iss: c.consumer_key.clone(),
            sub: c.username.clone(),
            aud: format!("https://{}", c.login_host),
            exp: chrono::Utc::now().timestamp() + jwt::ASSERTION_SECS,
        };
        let assertion = jwt::sign(&c.key, &claims)?;
        let url = self.settings.endpoints.token_url(&c.login_host);
        let form = [
            ("grant_type", jwt::GRANT_TYPE),
            ("assertion", assertion.as_str()),
        ];
        let res = self.send(|| self.http.post(&url).form(&form)).await?;
        if !res.status().is_success() {
            let status = res.status();
            let body: Option<OAuthError> = res.json().await.ok();
            return Err(match body {
                Some(e) => SfError::Auth {
                    error: e.error,
                    description: e.error_description,
                },
                None => SfError::Auth {
                    error: status.as_u16().to_string(),
                    description: "the token endpoint answered no OAuth error".into(),
                },
            }
            .into());
        }
        let t: TokenAnswer = res.json().await.context("Salesforce's token answer")?;
        if !self.settings.endpoints.allows_instance(&t.instance_url) {
            return Err(SfError::Instance(t.instance_url).into());
        }
        let s = Session {
            token: t.access_token,
            instance_url: t.instance_url.trim_end_matches('/').to_string(),
        };
        *held = Some(s.clone());
        Ok(s)
    }

    /// Send with retries on 429/5xx/limit/timeouts; other answers returned.
    async fn send(
        &self,
        request: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<reqwest::Response> {
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let outcome = match request().send().await {
                Ok(res) => classify(res).await,
                Err(e) if e.is_timeout() || e.is_connect() || e.is_request() => {
                    Attempt::Retry(format!("no answer: {e}"), None)
                }
                Err(e) => return Err(e).context("Salesforce did not answer"),
            };
            match outcome {
                Attempt::Done(res) => return Ok(res),
                Attempt::Fail(e) => return Err(e.into()),
                Attempt::Session => {
                    return Err(SfError::Api {
                        status: 401,
                        code: "INVALID_SESSION_ID".into(),
                        message: "Session expired or invalid".into(),
                    }
                    .into());
                }
                Attempt::Retry(why, after) => {
                    if attempt > self.settings.max_retries {
                        return Err(SfError::Exhausted(why).into());
                    }
                    let wait = after.unwrap_or_else(|| {
                        self.settings.backoff * 2u32.saturating_pow(attempt.min(8) - 1)
                    });
                    tracing::warn!(attempt, ?wait, reason = %why, "Salesforce call retried");
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }

    /// GET a path of the instance with the session, signing in again once
    /// when Salesforce says the session is invalid.
    async fn get(&self, path_and_query: &str) -> Result<String> {
        for fresh in [false, true] {
            let session = self.session(fresh).await?;
            let url = format!("{}{path_and_query}", session.instance_url);
            let batch = format!("batchSize={}", self.settings.batch_size);
            let res = self
                .send(|| {
                    self.http
                        .get(&url)
                        .bearer_auth(&session.token)
                        .header("Sforce-Query-Options", &batch)
                })
                .await;
            match res {
                Err(e)
                    if !fresh
                        && matches!(e.downcast_ref::<SfError>(), Some(SfError::Api { code, .. }) if code == "INVALID_SESSION_ID") =>
                {
                    continue;
                }
                Err(e) => return Err(e),
                Ok(res) if res.status().is_success() => {
                    return res.text().await.context("Salesforce's answer");
                }
                Ok(res) => return Err(api_error(res).await.into()),
            }
        }
        unreachable!("the loop returns on its second pass")
    }

    /// The first page of a SOQL query (`all`: deleted records too).
    pub async fn query(&self, soql: &str, all: bool) -> Result<Page> {
        let path = format!(
            "/services/data/{}/{}?q={}",
            self.settings.api_version,
            if all { "queryAll" } else { "query" },
            url::form_urlencoded::byte_serialize(soql.as_bytes()).collect::<String>()
        );
        serde_json::from_str(&self.get(&path).await?).context("Salesforce's query page")
    }

    /// The page at a `nextRecordsUrl`.
    pub async fn next(&self, next_records_url: &str) -> Result<Page> {
        if !next_records_url.starts_with("/services/data/") || next_records_url.contains("://") {
            bail!("Salesforce named a next page outside its API: {next_records_url}");
        }
        serde_json::from_str(&self.get(next_records_url).await?).context("Salesforce's query page")
    }

    /// The names of an object's fields (`describe`).
    pub async fn fields(&self, object: &str) -> Result<Vec<String>> {
        let v: Value = serde_json::from_str(
            &self
                .get(&format!(
                    "/services/data/{}/sobjects/{object}/describe",
                    self.settings.api_version
                ))
                .await?,
        )?;
        Ok(v["fields"]
            .as_array()
            .map(|f| {
                f.iter()
                    .filter_map(|f| f["name"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default())
    }
}

async fn classify(res: reqwest::Response) -> Attempt {
    let status = res.status();
    // The token endpoint's refusals are read by the caller (OAuth's form).
    let token = res.url().path().ends_with("/services/oauth2/token");
    if status.is_success() || token && status.is_client_error() {
        return Attempt::Done(res);
    }
    if status == StatusCode::UNAUTHORIZED {
        return Attempt::Session;
    }
    let retry_after = res
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .map(|s| Duration::from_secs(s.min(60)));
    let e = api_error(res).await;
    if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() || e.is_limit() {
        return Attempt::Retry(e.to_string(), retry_after);
    }
    Attempt::Fail(e)
}

async fn api_error(res: reqwest::Response) -> SfError {
    let status = res.status().as_u16();
    let text = res.text().await.unwrap_or_default();
    match serde_json::from_str::<Vec<ApiErrorItem>>(&text) {
        Ok(items) if !items.is_empty() => SfError::Api {
            status,
            code: items[0].error_code.clone(),
            message: items[0].message.clone(),
        },
        _ => SfError::Api {
            status,
            code: "UNKNOWN".into(),
            message: text.chars().take(200).collect(),
        },
    }
}
