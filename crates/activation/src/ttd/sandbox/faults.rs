//! The sandbox's faults: picked at random at the configured rate, or armed
//! by a test for the next create of a type (a late apply); and the counts of
//! requests and faults a test reads back.

use axum::Json;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{Sandbox, Shared, error, invalid};

#[derive(Debug, Clone, Copy)]
enum Fault {
    Throttle,
    ServerError,
    Unavailable,
    Slow,
    LostAnswer,
    LostHang,
}

impl Sandbox {
    /// splitmix64: reproducible for a seed, good enough to pick faults.
    fn next_random(&self) -> u64 {
        let mut state = self.rng.lock().unwrap_or_else(|e| e.into_inner());
        *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = *state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn pick_fault(&self) -> Option<Fault> {
        if self.options.fault_rate <= 0.0 {
            return None;
        }
        let roll = (self.next_random() >> 11) as f64 / (1u64 << 53) as f64;
        if roll >= self.options.fault_rate {
            return None;
        }
        let faults = [
            Fault::Throttle,
            Fault::ServerError,
            Fault::Unavailable,
            Fault::Slow,
            Fault::LostAnswer,
            Fault::LostHang,
        ];
        Some(faults[(self.next_random() % faults.len() as u64) as usize])
    }

    /// Whether the next create of `kind` was armed to be applied late (disarms it).
    fn take_armed(&self, kind: &str) -> bool {
        let mut armed = self.armed.lock().unwrap_or_else(|e| e.into_inner());
        let Some(at) = armed.iter().position(|p| p == kind) else {
            return false;
        };
        armed.remove(at);
        true
    }

    /// Apply the creates of `kind` held back by a late apply.
    async fn apply_held(&self, kind: &str) {
        let held: Vec<(Request, Next)> = {
            let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
            let (now, later): (Vec<_>, Vec<_>) = held.drain(..).partition(|(k, _, _)| k == kind);
            *held = later;
            now.into_iter().map(|(_, r, n)| (r, n)).collect()
        };
        for (req, next) in held {
            let _applied = next.run(req).await;
        }
    }

    fn count(&self, name: &'static str) {
        *self
            .faults
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(name)
            .or_default() += 1;
    }
}

pub(super) async fn inject_faults(State(s): State<Shared>, req: Request, next: Next) -> Response {
    let path = req.uri().path().trim_start_matches('/').to_owned();
    if req.method() == axum::http::Method::POST {
        if let Some((kind, _)) = path.split_once("/query/") {
            // A look-up: answer it as of now, then apply the held creates.
            let answer = next.clone().run(req).await;
            s.apply_held(kind).await;
            return answer;
        }
        if s.take_armed(&path) {
            s.count("late_apply");
            let (parts, body) = req.into_parts();
            let Ok(bytes) = axum::body::to_bytes(body, 1 << 20).await else {
                return invalid(vec![("body".into(), "is unreadable".into())]);
            };
            let req = Request::from_parts(parts, axum::body::Body::from(bytes));
            s.held
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push((path, req, next));
            return error(
                StatusCode::GATEWAY_TIMEOUT,
                "The request timed out.",
                vec![],
            );
        }
    }
    let Some(fault) = s.pick_fault() else {
        return next.run(req).await;
    };
    let retry_after = |mut r: Response| {
        r.headers_mut()
            .insert("Retry-After", HeaderValue::from_static("1"));
        r
    };
    match fault {
        Fault::Throttle => {
            s.count("throttle");
            retry_after(error(
                StatusCode::TOO_MANY_REQUESTS,
                "Too many requests.",
                vec![],
            ))
        }
        Fault::ServerError => {
            s.count("server_error");
            error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "An error has occurred.",
                vec![],
            )
        }
        Fault::Unavailable => {
            s.count("unavailable");
            retry_after(error(
                StatusCode::SERVICE_UNAVAILABLE,
                "The service is temporarily unavailable.",
                vec![],
            ))
        }
        Fault::Slow => {
            s.count("slow");
            tokio::time::sleep(s.options.slow).await;
            next.run(req).await
        }
        Fault::LostAnswer => {
            s.count("lost_answer");
            let _done = next.run(req).await;
            error(StatusCode::BAD_GATEWAY, "Bad gateway.", vec![])
        }
        Fault::LostHang => {
            s.count("lost_hang");
            let _done = next.run(req).await;
            tokio::time::sleep(s.options.lost_hang).await;
            error(StatusCode::BAD_GATEWAY, "Bad gateway.", vec![])
        }
    }
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Arm {
    /// Only `late_apply`.
    fault: String,
    /// The type whose next create meets it: `advertiser`, `campaign`, `adgroup`, `creative`.
    path: String,
}

pub(super) async fn arm(State(s): State<Shared>, Json(a): Json<Arm>) -> Response {
    if a.fault != "late_apply"
        || !matches!(
            a.path.as_str(),
            "advertiser" | "campaign" | "adgroup" | "creative"
        )
    {
        return invalid(vec![(
            "fault".into(),
            "Only late_apply, for advertiser, campaign, adgroup or creative.".into(),
        )]);
    }
    s.armed
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(a.path);
    StatusCode::NO_CONTENT.into_response()
}

/// Count every request that reaches a `/v3` route, before any fault.
pub(super) async fn count_requests(State(s): State<Shared>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or(req.uri().path(), MatchedPath::as_str);
    // Mounted under a prefix (`/sandbox/ttd/v3/...`), named from `/v3` on.
    let route = route.find("/v3/").map_or(route, |at| &route[at..]);
    let key = format!("{} {route}", req.method());
    *s.requests
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .entry(key)
        .or_default() += 1;
    next.run(req).await
}

pub(super) async fn request_counts(State(s): State<Shared>) -> Json<Value> {
    let requests = s.requests.lock().unwrap_or_else(|e| e.into_inner()).clone();
    Json(json!(requests))
}

pub(super) async fn fault_counts(State(s): State<Shared>) -> Json<Value> {
    let faults = s.faults.lock().unwrap_or_else(|e| e.into_inner()).clone();
    Json(json!(faults))
}
