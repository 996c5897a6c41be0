//! Bombora's API as P360 calls it: a bearer token from client credentials
//! (kept until shortly before it expires, fetched again after a 401), and
//! every call retried on 429 (after `Retry-After`), 5xx and timeouts with
//! exponential backoff. Only the configured base URL is ever called.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use chrono::NaiveDate;
use reqwest::StatusCode;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use tokio::io::AsyncWriteExt;
use tokio::sync::Mutex;

/// How to reach Bombora.
#[derive(Debug, Clone)]
pub struct Settings {
    pub base_url: String,
    pub client_id: String,
    pub client_secret: SecretString,
    /// The whole of one call (a week's file is a large download).
    pub timeout: Duration,
    /// The longest wait for the next bytes of an answer.
    pub read_timeout: Duration,
    pub max_retries: u32,
}

pub struct BomboraClient {
    http: reqwest::Client,
    settings: Settings,
    token: Mutex<Option<(String, Instant)>>,
}

/// A week Bombora has published.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct PublishedWeek {
    pub week: NaiveDate,
    pub sha256: String,
    pub path: String,
}

#[derive(Deserialize)]
struct Weeks {
    weeks: Vec<PublishedWeek>,
}

#[derive(Deserialize)]
struct Token {
    access_token: String,
    expires_in: f64,
}

/// A topic of Bombora's taxonomy.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct TaxonomyTopic {
    pub id: i64,
    pub name: String,
    #[serde(default)]
    pub theme: String,
    #[serde(default)]
    pub category: String,
    #[serde(default)]
    pub description: String,
}

#[derive(Deserialize)]
struct Topics {
    topics: Vec<TaxonomyTopic>,
}

/// Bombora refused the bearer token: fetch another.
#[derive(Debug, thiserror::Error)]
#[error("Bombora refused the token (401)")]
struct Unauthorized;

/// Bombora's error body, `{"message": "..."}`.
#[derive(Deserialize)]
struct ErrorBody {
    message: Option<String>,
}

impl BomboraClient {
    pub fn new(settings: Settings) -> Result<BomboraClient> {
        let http = reqwest::Client::builder()
            .timeout(settings.timeout)
            .read_timeout(settings.read_timeout)
            .connect_timeout(settings.read_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(BomboraClient {
            http,
            settings,
            token: Mutex::new(None),
        })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.settings.base_url.trim_end_matches('/'))
    }

    async fn token(&self, fresh: bool) -> Result<String> {
        let mut held = self.token.lock().await;
        if !fresh
            && let Some((t, until)) = held.as_ref()
            && Instant::now() < *until
        {
            return Ok(t.clone());
        }
        let body = serde_json::json!({
            "client_id": self.settings.client_id,
            "client_secret": self.settings.client_secret.expose_secret(),
        });
        let res = self
            .send_with_retries(|| self.http.post(self.url("/oauth/token")).json(&body))
            .await?;
        let t: Token = res.json().await.context("Bombora's token answer")?;
        // Renewed a minute before it expires.
        let life = Duration::from_secs_f64((t.expires_in - 60.0).max(1.0));
        *held = Some((t.access_token.clone(), Instant::now() + life));
        Ok(t.access_token)
    }

    /// Send, retrying throttling, server errors and timeouts.
    async fn send_with_retries(
        &self,
        request: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<reqwest::Response> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let wait = match request().send().await {
                Ok(res) if res.status().is_success() => return Ok(res),
                Ok(res)
                    if res.status() == StatusCode::TOO_MANY_REQUESTS
                        || res.status().is_server_error() =>
                {
                    let after = res
                        .headers()
                        .get(reqwest::header::RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.parse::<u64>().ok());
                    let why = describe(res).await;
                    if attempt > self.settings.max_retries {
                        bail!("Bombora: {why} (after {attempt} attempts)");
                    }
                    after.map_or_else(|| backoff(attempt), |s| Duration::from_secs(s.min(60)))
                }
                Ok(res) if res.status() == StatusCode::UNAUTHORIZED => {
                    return Err(Unauthorized.into());
                }
                Ok(res) => bail!("Bombora: {}", describe(res).await),
                Err(e)
                    if attempt <= self.settings.max_retries
                        && (e.is_timeout() || e.is_connect() || e.is_request()) =>
                {
                    backoff(attempt)
                }
                Err(e) => return Err(e).context("Bombora did not answer"),
            };
            tokio::time::sleep(wait).await;
        }
    }

    /// GET `path` with the bearer token (fetched again once after a 401).
    async fn get(&self, path: &str) -> Result<reqwest::Response> {
        for fresh in [false, true] {
            let token = self.token(fresh).await?;
            let res = self
                .send_with_retries(|| self.http.get(self.url(path)).bearer_auth(&token))
                .await;
            match res {
                Err(e) if !fresh && e.is::<Unauthorized>() => continue,
                other => return other,
            }
        }
        unreachable!("the loop returns on its second pass")
    }

    /// The weeks published, newest first.
    pub async fn weeks(&self) -> Result<Vec<PublishedWeek>> {
        let res = self.get("/surge/v1/weeks").await?;
        Ok(res.json::<Weeks>().await.context("Bombora's weeks")?.weeks)
    }

    /// The topic taxonomy.
    pub async fn topics(&self) -> Result<Vec<TaxonomyTopic>> {
        let res = self.get("/reference/v1/topics").await?;
        Ok(res
            .json::<Topics>()
            .await
            .context("Bombora's topics")?
            .topics)
    }

    /// Download a week's file to `to`, streaming, and check it against the
    /// SHA-256 Bombora published for it: that SHA-256 (lower case), or an
    /// error when the bytes differ (a download cut short or damaged).
    pub async fn download(&self, week: &PublishedWeek, to: &Path) -> Result<String> {
        if !week.path.starts_with('/') || week.path.contains("://") {
            bail!("Bombora named a file outside its API: {}", week.path);
        }
        let mut res = self.get(&week.path).await?;
        let mut file = tokio::fs::File::create(to)
            .await
            .with_context(|| format!("cannot write {}", to.display()))?;
        let mut sha = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
        let mut written = 0u64;
        while let Some(chunk) = res.chunk().await.context("downloading the week's file")? {
            sha.update(&chunk);
            file.write_all(&chunk).await?;
            written += chunk.len() as u64;
        }
        file.flush().await?;
        let got = crate::hex(sha.finish().as_ref());
        if !got.eq_ignore_ascii_case(week.sha256.trim()) {
            bail!(
                "the week of {}'s file ({written} bytes) does not match the SHA-256 Bombora published for it ({}; the download's is {got})",
                week.week,
                week.sha256
            );
        }
        Ok(got)
    }
}

fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(200 * 2u64.pow(attempt.min(6)))
}

async fn describe(res: reqwest::Response) -> String {
    let status = res.status();
    let message = res
        .json::<ErrorBody>()
        .await
        .ok()
        .and_then(|b| b.message)
        .unwrap_or_default();
    format!("{} {message}", status.as_u16()).trim().to_string()
}
