//! What the controller watches on the green instance: its own `/metrics`
//! and `/health/ready` read directly (local and tests), or the same series
//! through a Prometheus server's query API (production, where green is many
//! tasks behind a target group).

use std::future::Future;
use std::time::{Duration, Instant};

/// One reading of the counters the rollback triggers need. Counters are
/// cumulative; the controller compares successive readings.
#[derive(Debug, Clone, Default)]
pub struct Reading {
    pub at: Option<Instant>,
    pub ready: bool,
    /// Application requests (health checks and scrapes excluded).
    pub requests: f64,
    /// Of which answered 5xx.
    pub errors: f64,
    pub latency_sum: f64,
    pub latency_count: f64,
    pub cpu_seconds: f64,
    pub rss_bytes: f64,
    /// `p360_db_up` (1 when the database answered the last scrape's check).
    pub db_up: Option<f64>,
    /// TTD syncs that failed for good.
    pub integration_failures: f64,
}

pub trait MetricSource: Send + Sync {
    fn read(&self) -> impl Future<Output = Reading> + Send;
}

/// Scrape an instance at `base` (e.g. `http://127.0.0.1:8360`).
#[derive(Debug, Clone)]
pub struct Scrape {
    pub base: String,
    client: reqwest::Client,
}

impl Scrape {
    pub fn new(base: impl Into<String>) -> Scrape {
        Scrape {
            base: base.into(),
            client: reqwest::Client::builder()
                .user_agent(crate::USER_AGENT)
                .timeout(Duration::from_secs(2))
                .build()
                .unwrap_or_default(),
        }
    }
}

impl MetricSource for Scrape {
    /// A failed scrape is a reading with `ready = false` and no counters.
    async fn read(&self) -> Reading {
        let ready = matches!(
            self.client.get(format!("{}/health/ready", self.base)).send().await,
            Ok(r) if r.status().is_success()
        );
        let text = match self
            .client
            .get(format!("{}/metrics", self.base))
            .send()
            .await
        {
            Ok(r) if r.status().is_success() => r.text().await.unwrap_or_default(),
            _ => String::new(),
        };
        let mut reading = parse(&text);
        reading.ready = ready;
        reading.at = Some(Instant::now());
        reading
    }
}

/// Green's series in a Prometheus server: the same counters summed over
/// green's instances, selected by `matchers` (e.g. `job="p360",slot="green"`);
/// readiness is still asked of green itself at `ready_url` (Prometheus
/// learns it a scrape later). Amazon Managed Prometheus wants its queries
/// signed with SigV4 (service `aps`): see [`Prometheus::with_sigv4`].
#[derive(Debug, Clone)]
pub struct Prometheus {
    /// e.g. `http://prometheus:9090`.
    pub base: String,
    pub matchers: String,
    pub ready_url: String,
    client: reqwest::Client,
    sigv4: Option<Sigv4>,
}

/// Signing of queries for Amazon Managed Prometheus.
#[derive(Debug, Clone)]
struct Sigv4 {
    region: String,
    credentials: aws_credential_types::provider::SharedCredentialsProvider,
}

impl Prometheus {
    pub fn new(
        base: impl Into<String>,
        matchers: impl Into<String>,
        ready_url: impl Into<String>,
    ) -> Prometheus {
        Prometheus {
            base: base.into().trim_end_matches('/').to_string(),
            matchers: matchers.into(),
            ready_url: ready_url.into(),
            client: reqwest::Client::builder()
                .user_agent(crate::USER_AGENT)
                .timeout(Duration::from_secs(3))
                .build()
                .unwrap_or_default(),
            sigv4: None,
        }
    }

    /// Sign every query with SigV4 for `region` (service `aps`), with the
    /// AWS environment's credentials (task role, profile, ...), or the given
    /// static ones.
    pub async fn with_sigv4(
        mut self,
        region: &str,
        credentials: Option<aws_credential_types::Credentials>,
    ) -> anyhow::Result<Prometheus> {
        use anyhow::Context;
        let credentials = match credentials {
            Some(c) => aws_credential_types::provider::SharedCredentialsProvider::new(c),
            None => aws_config::defaults(aws_config::BehaviorVersion::latest())
                .region(aws_config::Region::new(region.to_string()))
                .load()
                .await
                .credentials_provider()
                .context("no AWS credentials to sign Prometheus queries with")?,
        };
        self.sigv4 = Some(Sigv4 {
            region: region.to_string(),
            credentials,
        });
        Ok(self)
    }

    /// The SigV4 headers of a GET of `url`, when signing.
    async fn signature(&self, url: &str) -> anyhow::Result<Vec<(String, String)>> {
        use anyhow::Context;
        use aws_credential_types::provider::ProvideCredentials;
        use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
        let Some(s) = &self.sigv4 else {
            return Ok(Vec::new());
        };
        let identity = s
            .credentials
            .provide_credentials()
            .await
            .context("cannot get AWS credentials to sign a Prometheus query")?
            .into();
        let params = aws_sigv4::sign::v4::SigningParams::builder()
            .identity(&identity)
            .region(&s.region)
            .name("aps")
            .time(std::time::SystemTime::now())
            .settings(SigningSettings::default())
            .build()
            .context("SigV4 signing parameters")?
            .into();
        let request =
            SignableRequest::new("GET", url, std::iter::empty(), SignableBody::Bytes(&[]))
                .context("a Prometheus query that cannot be signed")?;
        let (instructions, _) = sign(request, &params)
            .context("SigV4 signing failed")?
            .into_parts();
        Ok(instructions
            .headers()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect())
    }

    /// The value of an instant query that yields one sample (`None`: no data).
    pub async fn query(&self, promql: &str) -> anyhow::Result<Option<f64>> {
        use anyhow::Context;
        let url = reqwest::Url::parse_with_params(
            &format!("{}/api/v1/query", self.base),
            [("query", promql)],
        )
        .with_context(|| format!("the Prometheus URL {} does not parse", self.base))?;
        let mut request = self.client.get(url.clone());
        for (name, value) in self.signature(url.as_str()).await? {
            request = request.header(name, value);
        }
        let body: serde_json::Value = request
            .send()
            .await
            .with_context(|| format!("cannot reach Prometheus at {}", self.base))?
            .error_for_status()
            .with_context(|| format!("Prometheus refused `{promql}`"))?
            .json()
            .await
            .context("Prometheus answered something other than JSON")?;
        let Some(sample) = body["data"]["result"].as_array().and_then(|r| r.first()) else {
            return Ok(None);
        };
        // ["<unix time>", "<value>"]
        let value = sample["value"][1]
            .as_str()
            .and_then(|v| v.parse::<f64>().ok())
            .with_context(|| format!("Prometheus answered `{sample}` for `{promql}`"))?;
        Ok(Some(value))
    }

    fn series(&self, name: &str, extra: &str) -> String {
        let sep = if self.matchers.is_empty() || extra.is_empty() {
            ""
        } else {
            ","
        };
        format!("{name}{{{}{sep}{extra}}}", self.matchers)
    }
}

impl MetricSource for Prometheus {
    /// Counters summed over green's instances. Any failed query makes the
    /// reading not ready, like a failed scrape.
    async fn read(&self) -> Reading {
        const APP: &str = r#"route!~"/health/.*|/metrics""#;
        let sum = |name: &str, extra: &str| format!("sum({})", self.series(name, extra));
        let queries = [
            sum("p360_http_requests_total", APP),
            sum(
                "p360_http_requests_total",
                &format!(r#"{APP},status=~"5..""#),
            ),
            sum("p360_http_request_duration_seconds_sum", APP),
            sum("p360_http_request_duration_seconds_count", APP),
            // Per instance: the CPU trigger is a share of one core.
            format!("avg({})", self.series("process_cpu_seconds_total", "")),
            format!("max({})", self.series("process_resident_memory_bytes", "")),
            format!("min({})", self.series("p360_db_up", "")),
            sum("p360_ttd_sync_total", r#"outcome="failed""#),
        ];
        let ready = async {
            matches!(
                self.client.get(&self.ready_url).send().await,
                Ok(r) if r.status().is_success()
            )
        };
        let (ready, values) = tokio::join!(ready, async {
            let mut values = Vec::with_capacity(queries.len());
            for q in &queries {
                values.push(self.query(q).await);
            }
            values
        });
        let mut r = Reading {
            at: Some(Instant::now()),
            ready,
            ..Reading::default()
        };
        let mut v = Vec::with_capacity(values.len());
        for value in values {
            match value {
                Ok(x) => v.push(x),
                Err(e) => {
                    tracing::warn!(error = format!("{e:#}"), "Prometheus reading failed");
                    r.ready = false;
                    return r;
                }
            }
        }
        let or0 = |x: Option<f64>| x.unwrap_or(0.0);
        r.requests = or0(v[0]);
        r.errors = or0(v[1]);
        r.latency_sum = or0(v[2]);
        r.latency_count = or0(v[3]);
        r.cpu_seconds = or0(v[4]);
        r.rss_bytes = or0(v[5]);
        r.db_up = v[6];
        r.integration_failures = or0(v[7]);
        r
    }
}

/// Routes that are not application traffic.
fn operational(route: &str) -> bool {
    route.starts_with("/health/") || route == "/metrics"
}

fn label<'a>(labels: &'a str, name: &str) -> Option<&'a str> {
    let start = labels.find(&format!("{name}=\""))? + name.len() + 2;
    let rest = &labels[start..];
    Some(&rest[..rest.find('"')?])
}

/// The counters of a Prometheus text exposition that the triggers use.
pub fn parse(text: &str) -> Reading {
    let mut r = Reading::default();
    for line in text.lines() {
        if line.starts_with('#') {
            continue;
        }
        let Some((series, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let Ok(value) = value.parse::<f64>() else {
            continue;
        };
        let (name, labels) = match series.split_once('{') {
            Some((n, l)) => (n, l.trim_end_matches('}')),
            None => (series, ""),
        };
        let route = label(labels, "route").unwrap_or("");
        match name {
            "p360_http_requests_total" if !operational(route) => {
                r.requests += value;
                if label(labels, "status").is_some_and(|s| s.starts_with('5')) {
                    r.errors += value;
                }
            }
            "p360_http_request_duration_seconds_sum" if !operational(route) => {
                r.latency_sum += value
            }
            "p360_http_request_duration_seconds_count" if !operational(route) => {
                r.latency_count += value
            }
            "process_cpu_seconds_total" => r.cpu_seconds = value,
            "process_resident_memory_bytes" => r.rss_bytes = value,
            "p360_db_up" => r.db_up = Some(value),
            "p360_ttd_sync_total" if label(labels, "outcome") == Some("failed") => {
                r.integration_failures += value
            }
            _ => {}
        }
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn application_traffic_errors_latency_and_process_gauges_are_read() {
        let text = r#"# TYPE p360_http_requests_total counter
p360_http_requests_total{route="/v1/me",method="GET",status="200"} 90
p360_http_requests_total{route="/v1/me",method="GET",status="503"} 6
p360_http_requests_total{route="unmatched",method="GET",status="500"} 4
p360_http_requests_total{route="/health/ready",method="GET",status="200"} 1000
p360_http_request_duration_seconds_sum{route="/v1/me",method="GET"} 5
p360_http_request_duration_seconds_count{route="/v1/me",method="GET"} 100
p360_http_request_duration_seconds_sum{route="/metrics",method="GET"} 50
process_cpu_seconds_total 12.5
process_resident_memory_bytes 31457280
p360_db_up 1
p360_ttd_sync_total{object="campaign",outcome="failed"} 2
p360_ttd_sync_total{object="campaign",outcome="synced"} 7
"#;
        let r = parse(text);
        assert_eq!((r.requests, r.errors), (100.0, 10.0));
        assert_eq!((r.latency_sum, r.latency_count), (5.0, 100.0));
        assert_eq!((r.cpu_seconds, r.rss_bytes), (12.5, 31_457_280.0));
        assert_eq!(r.db_up, Some(1.0));
        assert_eq!(r.integration_failures, 2.0);
    }
}
