//! The smoke suite: what a new instance must answer, asked of it directly
//! (not through the load balancer) before it gets any traffic.

use std::time::{Duration, Instant};

use serde_json::Value;

/// One check's result.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Check {
    pub name: &'static str,
    pub ok: bool,
    /// What was seen (the failure's cause, or a short confirmation).
    pub detail: String,
    pub ms: u64,
}

/// Run every check against `base` (e.g. `http://10.0.3.7:8360`).
/// `release`: the release label green must report (`/health/live`).
pub async fn run(base: &str, release: Option<&str>) -> Vec<Check> {
    let client = reqwest::Client::builder()
        .user_agent(crate::USER_AGENT)
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap_or_default();
    let base = base.trim_end_matches('/');
    let mut checks = Vec::new();
    let mut check =
        async |name: &'static str,
               path: &str,
               judge: &dyn Fn(u16, &str, &str) -> Result<String, String>| {
            let started = Instant::now();
            let (ok, detail) = match client.get(format!("{base}{path}")).send().await {
                Ok(r) => {
                    let status = r.status().as_u16();
                    let ctype = r
                        .headers()
                        .get(reqwest::header::CONTENT_TYPE)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("")
                        .to_string();
                    let body = r.text().await.unwrap_or_default();
                    match judge(status, &ctype, &body) {
                        Ok(d) => (true, d),
                        Err(d) => (false, format!("GET {path}: {d}")),
                    }
                }
                Err(e) => (false, format!("GET {path}: {e}")),
            };
            checks.push(Check {
                name,
                ok,
                detail,
                ms: started.elapsed().as_millis() as u64,
            });
        };
    check("live", "/health/live", &|status, _, body| {
        let v: Value = serde_json::from_str(body).map_err(|_| format!("{status}, not JSON"))?;
        if status != 200 || v["status"] != "live" {
            return Err(format!("{status} {body}"));
        }
        let reported = v["release"].as_str().unwrap_or("");
        match release {
            Some(want) if reported != want => Err(format!(
                "reports release `{reported}`, the deploy is of `{want}`"
            )),
            _ => Ok(format!("release {reported}")),
        }
    })
    .await;
    check("ready", "/health/ready", &|status, _, body| {
        if status == 200 {
            Ok("ready".into())
        } else {
            Err(format!("{status} {body}"))
        }
    })
    .await;
    check("openapi", "/openapi.json", &|status, _, body| {
        let v: Value = serde_json::from_str(body).map_err(|_| format!("{status}, not JSON"))?;
        let paths = v["paths"].as_object().map(|p| p.len()).unwrap_or(0);
        if status == 200 && paths > 0 {
            Ok(format!("{paths} paths"))
        } else {
            Err(format!("{status}, {paths} paths"))
        }
    })
    .await;
    check("metrics", "/metrics", &|status, _, body| {
        if status == 200 && body.contains("p360_db_up 1") {
            Ok("exported; database up".into())
        } else if status == 200 {
            Err("p360_db_up is not 1".into())
        } else {
            Err(format!("{status}"))
        }
    })
    .await;
    // The API refuses an anonymous caller with problem+json: routing,
    // authentication and error rendering are wired.
    check("auth", "/v1/me", &|status, ctype, _| {
        if status == 401 && ctype.starts_with("application/problem+json") {
            Ok("401 problem+json without a token".into())
        } else {
            Err(format!(
                "{status} {ctype} without a token (want 401 problem+json)"
            ))
        }
    })
    .await;
    checks
}
