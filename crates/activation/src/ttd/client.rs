//! A typed client for the parts of TTD's platform API v3 that P360 uses.
//!
//! - Authentication: `POST /v3/authentication` gives a token for the
//!   `TTD-Auth` header; it is renewed a minute before it expires and once
//!   when TTD answers 403.
//! - Throttling: 429 and 503 are retried after `Retry-After`; other 5xx,
//!   timeouts and connection errors back off exponentially. A create (POST of
//!   a new object) is retried only when TTD cannot have acted on it (429, 503,
//!   connection refused): after a timeout or a 5xx the object may exist, and
//!   the caller must look before creating again ([`TtdError::Ambiguous`]).
//! - At most `max_concurrency` calls in flight per endpoint (TTD asks for 4).
//! - Every call is traced and counted (`p360_ttd_requests_total`,
//!   `p360_ttd_request_duration_seconds`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tokio::sync::Semaphore;
use tracing::Instrument;

use super::model::{
    FailedLine, FirstPartyIpAnswer, FirstPartyIpRequest, FirstPartySegment, QueryPage, SegmentPage,
    TtdObject,
};

/// How a call failed.
#[derive(Debug, thiserror::Error)]
pub enum TtdError {
    /// TTD refused the request (validation, not found, ...); retrying the
    /// same request will not help.
    #[error("TTD rejected {endpoint} with {status}: {message}")]
    Rejected {
        endpoint: String,
        status: u16,
        message: String,
    },
    /// A create whose outcome is unknown (timeout, 5xx after sending): the
    /// object may exist in TTD.
    #[error("TTD did not confirm {endpoint} ({reason}); the object may exist")]
    Ambiguous { endpoint: String, reason: String },
    /// Still failing after every retry.
    #[error("TTD unavailable for {endpoint} after {attempts} attempts: {reason}")]
    Unavailable {
        endpoint: String,
        attempts: u32,
        reason: String,
    },
    /// A token could not be had, or was refused right after renewal.
    #[error("TTD authentication failed: {0}")]
    Auth(String),
    #[error("TTD answered {endpoint} with a body that does not decode: {reason}")]
    Decode { endpoint: String, reason: String },
}

/// Client settings.
#[derive(Debug, Clone)]
pub struct TtdSettings {
    /// Everything before `/v3/...`.
    pub base_url: String,
    /// Everything before `/data/...` (TTD's Data API host).
    pub data_url: String,
    pub login: String,
    pub password: SecretString,
    pub token_minutes: u32,
    pub timeout: Duration,
    pub max_concurrency: usize,
    pub max_retries: u32,
}

impl TtdSettings {
    /// From the `[ttd]` configuration, with `base_url` decided by the caller
    /// (the configured one, or the in-process sandbox).
    pub fn from_config(c: &crate::config::TtdConfig, base_url: String) -> TtdSettings {
        TtdSettings {
            data_url: c.data_url.clone().unwrap_or_else(|| base_url.clone()),
            base_url,
            login: c.login.clone(),
            password: c
                .password
                .clone()
                .unwrap_or_else(|| SecretString::from("sandbox")),
            token_minutes: c.token_minutes,
            timeout: Duration::from_millis(c.timeout_ms),
            max_concurrency: c.max_concurrency,
            max_retries: c.max_retries,
        }
    }
}

struct Token {
    value: String,
    renew_at: Instant,
}

#[derive(Clone)]
pub struct TtdClient {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    settings: TtdSettings,
    token: tokio::sync::Mutex<Option<Token>>,
    limits: Mutex<HashMap<String, Arc<Semaphore>>>,
}

/// Whether repeating a request can create a second object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Retry {
    Safe,
    Create,
}

const PAGE_SIZE: i64 = 100;

impl TtdClient {
    pub fn new(settings: TtdSettings) -> anyhow::Result<TtdClient> {
        let http = reqwest::Client::builder()
            .timeout(settings.timeout)
            .connect_timeout(Duration::from_secs(5))
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(TtdClient {
            inner: Arc::new(Inner {
                http,
                settings,
                token: tokio::sync::Mutex::new(None),
                limits: Mutex::new(HashMap::new()),
            }),
        })
    }

    /// `POST /v3/{type}`: create; the answer carries TTD's id.
    pub async fn create<T: TtdObject>(&self, object: &T) -> Result<T, TtdError> {
        let body = serde_json::to_value(object).map_err(|e| decode("create", e))?;
        self.call(Method::POST, T::PATH.to_string(), Some(body), Retry::Create)
            .await
    }

    /// `PUT /v3/{type}` with the object's id: update in place.
    pub async fn update<T: TtdObject>(&self, id: &str, object: &T) -> Result<T, TtdError> {
        let mut body = serde_json::to_value(object).map_err(|e| decode("update", e))?;
        body[T::ID] = Value::String(id.to_owned());
        self.call(Method::PUT, T::PATH.to_string(), Some(body), Retry::Safe)
            .await
    }

    /// `GET /v3/{type}/{id}`.
    pub async fn get<T: TtdObject>(&self, id: &str) -> Result<T, TtdError> {
        self.call(
            Method::GET,
            format!("{}/{}", T::PATH, urlencode(id)),
            None,
            Retry::Safe,
        )
        .await
    }

    /// One page of `POST /v3/{type}/query/{parent}`.
    pub async fn query_page<T: TtdObject>(
        &self,
        parent_id: &str,
        start: i64,
        size: i64,
    ) -> Result<QueryPage<T>, TtdError> {
        let mut body = json!({"PageStartIndex": start, "PageSize": size});
        body[T::PARENT] = Value::String(parent_id.to_owned());
        self.call(Method::POST, T::QUERY.to_string(), Some(body), Retry::Safe)
            .await
    }

    /// Every object under `parent_id`, page by page.
    pub async fn query_all<T: TtdObject>(&self, parent_id: &str) -> Result<Vec<T>, TtdError> {
        let mut all = Vec::new();
        loop {
            let page: QueryPage<T> = self
                .query_page(parent_id, all.len() as i64, PAGE_SIZE)
                .await?;
            let got = page.result.len();
            all.extend(page.result);
            if got == 0 || all.len() as i64 >= page.total_filtered_count {
                return Ok(all);
            }
        }
    }

    /// The object under `parent_id` whose `Description` is `marker`, if any:
    /// how an earlier create whose answer was lost is found again.
    pub async fn find_by_description<T: TtdObject>(
        &self,
        parent_id: &str,
        marker: &str,
    ) -> Result<Option<T>, TtdError> {
        Ok(self
            .query_all::<T>(parent_id)
            .await?
            .into_iter()
            .find(|o| o.description() == Some(marker)))
    }

    /// `POST /data/firstpartyipaddress` on the Data API host: add (or, with
    /// a TTL of 0, remove) IP addresses and ranges of the data owner's
    /// first-party segments. Sending the same lines again changes nothing
    /// but their expiry, so any failure is simply retried. Returns the lines
    /// TTD refused.
    pub async fn send_first_party_ips(
        &self,
        request: &FirstPartyIpRequest,
    ) -> Result<Vec<FailedLine>, TtdError> {
        let body = serde_json::to_value(request).map_err(|e| decode("firstpartyipaddress", e))?;
        let url = format!(
            "{}/data/firstpartyipaddress",
            self.inner.settings.data_url.trim_end_matches('/')
        );
        let endpoint = "POST /data/firstpartyipaddress";
        let span = tracing::info_span!("ttd.call", endpoint);
        let answer: FirstPartyIpAnswer = async {
            let value = self
                .send(endpoint, Method::POST, &url, Some(body), Retry::Safe)
                .await?;
            serde_json::from_value(value).map_err(|e| decode(endpoint, e))
        }
        .instrument(span)
        .await?;
        Ok(answer.failed_lines)
    }

    /// `POST /v3/dmp/firstparty/advertiser`: the advertiser's first-party
    /// segments (name and `FirstPartyDataId`).
    pub async fn first_party_segments(
        &self,
        advertiser_id: &str,
    ) -> Result<Vec<FirstPartySegment>, TtdError> {
        let page: SegmentPage = self
            .call(
                Method::POST,
                "dmp/firstparty/advertiser".into(),
                Some(json!({"AdvertiserId": advertiser_id})),
                Retry::Safe,
            )
            .await?;
        Ok(page.result)
    }

    fn limit(&self, endpoint: &str) -> Arc<Semaphore> {
        let mut limits = self.inner.limits.lock().unwrap_or_else(|e| e.into_inner());
        limits
            .entry(endpoint.to_owned())
            .or_insert_with(|| Arc::new(Semaphore::new(self.inner.settings.max_concurrency)))
            .clone()
    }

    async fn call<R: DeserializeOwned>(
        &self,
        method: Method,
        path: String,
        body: Option<Value>,
        retry: Retry,
    ) -> Result<R, TtdError> {
        // The endpoint label names the route, not the id in it.
        let endpoint = format!(
            "{method} /v3/{}",
            if method == Method::GET {
                path.split('/').next().unwrap_or("").to_string() + "/{id}"
            } else {
                path.clone()
            }
        );
        let span = tracing::info_span!("ttd.call", endpoint = %endpoint);
        let url = format!(
            "{}/v3/{path}",
            self.inner.settings.base_url.trim_end_matches('/')
        );
        async {
            let value = self.send(&endpoint, method, &url, body, retry).await?;
            serde_json::from_value(value).map_err(|e| TtdError::Decode {
                endpoint: endpoint.clone(),
                reason: e.to_string(),
            })
        }
        .instrument(span)
        .await
    }

    async fn send(
        &self,
        endpoint: &str,
        method: Method,
        url: &str,
        body: Option<Value>,
        retry: Retry,
    ) -> Result<Value, TtdError> {
        let permit = self
            .limit(endpoint)
            .acquire_owned()
            .await
            .map_err(|_| TtdError::Auth("client closed".into()))?;
        let mut attempts = 0u32;
        let mut renewed = false;
        let max = self.inner.settings.max_retries + 1;
        loop {
            attempts += 1;
            let token = self.token().await?;
            let mut req = self
                .inner
                .http
                .request(method.clone(), url)
                .header("TTD-Auth", token);
            if let Some(b) = &body {
                req = req.json(b);
            }
            let started = Instant::now();
            let sent = req.send().await;
            let (status_label, outcome) = match sent {
                Ok(resp) => {
                    let status = resp.status();
                    let retry_after = retry_after(resp.headers());
                    let text = resp.text().await.unwrap_or_default();
                    (status.as_u16().to_string(), Ok((status, retry_after, text)))
                }
                Err(e) => (
                    if e.is_timeout() { "timeout" } else { "error" }.to_string(),
                    Err(e),
                ),
            };
            metrics::counter!("p360_ttd_requests_total", "endpoint" => endpoint.to_owned(), "status" => status_label.clone()).increment(1);
            metrics::histogram!("p360_ttd_request_duration_seconds", "endpoint" => endpoint.to_owned())
                .record(started.elapsed().as_secs_f64());
            tracing::debug!(status = %status_label, attempt = attempts, ms = started.elapsed().as_millis() as u64, "ttd response");
            let wait = match outcome {
                Ok((status, _, text)) if status.is_success() => {
                    drop(permit);
                    return serde_json::from_str(&text).map_err(|e| TtdError::Decode {
                        endpoint: endpoint.to_owned(),
                        reason: e.to_string(),
                    });
                }
                Ok((StatusCode::FORBIDDEN, _, text)) => {
                    if renewed {
                        return Err(TtdError::Auth(format!(
                            "403 after a token renewal: {}",
                            message(&text)
                        )));
                    }
                    // The token may have been revoked or expired early: renew once.
                    renewed = true;
                    *self.inner.token.lock().await = None;
                    attempts -= 1;
                    continue;
                }
                Ok((status, retry_after, text))
                    if status == StatusCode::TOO_MANY_REQUESTS
                        || status == StatusCode::SERVICE_UNAVAILABLE =>
                {
                    if attempts >= max {
                        return Err(TtdError::Unavailable {
                            endpoint: endpoint.to_owned(),
                            attempts,
                            reason: format!("{status}: {}", message(&text)),
                        });
                    }
                    retry_after.unwrap_or_else(|| backoff(attempts))
                }
                Ok((status, _, text)) if status.is_server_error() => {
                    let reason = format!("{status}: {}", message(&text));
                    if retry == Retry::Create {
                        return Err(TtdError::Ambiguous {
                            endpoint: endpoint.to_owned(),
                            reason,
                        });
                    }
                    if attempts >= max {
                        return Err(TtdError::Unavailable {
                            endpoint: endpoint.to_owned(),
                            attempts,
                            reason,
                        });
                    }
                    backoff(attempts)
                }
                Ok((status, _, text)) => {
                    return Err(TtdError::Rejected {
                        endpoint: endpoint.to_owned(),
                        status: status.as_u16(),
                        message: message(&text),
                    });
                }
                Err(e) => {
                    let reason = if e.is_timeout() {
                        format!("no answer within {:?}", self.inner.settings.timeout)
                    } else {
                        format!("{e}")
                    };
                    // A refused connection never reached TTD; anything else might have.
                    if retry == Retry::Create && !e.is_connect() {
                        return Err(TtdError::Ambiguous {
                            endpoint: endpoint.to_owned(),
                            reason,
                        });
                    }
                    if attempts >= max {
                        return Err(TtdError::Unavailable {
                            endpoint: endpoint.to_owned(),
                            attempts,
                            reason,
                        });
                    }
                    backoff(attempts)
                }
            };
            tracing::debug!(wait_ms = wait.as_millis() as u64, "ttd call retried");
            tokio::time::sleep(wait).await;
        }
    }

    /// A valid token, renewed a minute before it runs out.
    async fn token(&self) -> Result<String, TtdError> {
        let mut slot = self.inner.token.lock().await;
        if let Some(t) = slot.as_ref()
            && Instant::now() < t.renew_at
        {
            return Ok(t.value.clone());
        }
        let s = &self.inner.settings;
        let url = format!("{}/v3/authentication", s.base_url.trim_end_matches('/'));
        let body = json!({
            "Login": s.login,
            "Password": s.password.expose_secret(),
            "TokenExpirationInMinutes": s.token_minutes,
        });
        let endpoint = "POST /v3/authentication";
        let mut attempts = 0;
        let token = loop {
            attempts += 1;
            let started = Instant::now();
            let sent = self.inner.http.post(&url).json(&body).send().await;
            let label = match &sent {
                Ok(r) => r.status().as_u16().to_string(),
                Err(e) if e.is_timeout() => "timeout".into(),
                Err(_) => "error".into(),
            };
            metrics::counter!("p360_ttd_requests_total", "endpoint" => endpoint, "status" => label)
                .increment(1);
            metrics::histogram!("p360_ttd_request_duration_seconds", "endpoint" => endpoint)
                .record(started.elapsed().as_secs_f64());
            let wait = match sent {
                Ok(r) if r.status().is_success() => {
                    let v: Value = r
                        .json()
                        .await
                        .map_err(|e| TtdError::Auth(format!("token answer: {e}")))?;
                    match v.get("Token").and_then(Value::as_str) {
                        Some(t) if !t.is_empty() => break t.to_owned(),
                        _ => return Err(TtdError::Auth("the answer has no Token".into())),
                    }
                }
                Ok(r) if r.status().is_server_error() || r.status() == 429 => {
                    retry_after(r.headers()).unwrap_or_else(|| backoff(attempts))
                }
                Ok(r) => {
                    let status = r.status();
                    let text = r.text().await.unwrap_or_default();
                    return Err(TtdError::Auth(format!("{status}: {}", message(&text))));
                }
                Err(_) => backoff(attempts),
            };
            if attempts > s.max_retries {
                return Err(TtdError::Unavailable {
                    endpoint: endpoint.to_owned(),
                    attempts,
                    reason: "no token".into(),
                });
            }
            tokio::time::sleep(wait).await;
        };
        let lifetime = Duration::from_secs(u64::from(s.token_minutes) * 60);
        *slot = Some(Token {
            value: token.clone(),
            renew_at: Instant::now() + lifetime.saturating_sub(Duration::from_secs(60)),
        });
        Ok(token)
    }
}

fn decode(what: &str, e: serde_json::Error) -> TtdError {
    TtdError::Decode {
        endpoint: what.to_owned(),
        reason: e.to_string(),
    }
}

fn urlencode(id: &str) -> String {
    url::form_urlencoded::byte_serialize(id.as_bytes()).collect()
}

/// `Retry-After` in seconds, capped at a minute.
fn retry_after(h: &reqwest::header::HeaderMap) -> Option<Duration> {
    let secs: f64 = h
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    Some(Duration::from_secs_f64(secs.clamp(0.0, 60.0)))
}

/// 200 ms doubling per attempt, capped at 5 s, with up to 50 % jitter.
fn backoff(attempt: u32) -> Duration {
    let base = (200u64 << attempt.min(5)).min(5_000);
    let jitter = (uuid::Uuid::now_v7().as_u128() % 500) as u64;
    Duration::from_millis(base + base * jitter / 1000)
}

/// TTD's error body: `{"Message": ..., "ErrorDetails": [{"Property", "Reasons"}]}`.
fn message(text: &str) -> String {
    let Ok(v) = serde_json::from_str::<Value>(text) else {
        return text.chars().take(200).collect();
    };
    let mut m = v
        .get("Message")
        .and_then(Value::as_str)
        .unwrap_or("no message")
        .to_owned();
    if let Some(details) = v.get("ErrorDetails").and_then(Value::as_array) {
        for d in details {
            let prop = d.get("Property").and_then(Value::as_str).unwrap_or("?");
            let reasons: Vec<&str> = d
                .get("Reasons")
                .and_then(Value::as_array)
                .map(|r| r.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            m.push_str(&format!("; {prop}: {}", reasons.join(", ")));
        }
    }
    m
}
