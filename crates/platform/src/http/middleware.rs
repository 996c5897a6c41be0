//! The request middleware every route runs behind.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tower_layer::Layer;
use tower_service::Service;

use super::client_ip::{ClientIp, TrustedProxies};
use super::problem::{self, Problem};
use crate::config::HttpConfig;

pub static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
/// Error bodies larger than this are not inspected when turned into problem+json.
const ERROR_BODY_LIMIT: usize = 16 * 1024;

/// The id of the current request, available to handlers as an extension.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// The request middleware every route runs behind, as a tower layer: request
/// id, structured log line, metrics, timeout, body-size check, and
/// problem+json for every error response whoever produced it. It keeps only
/// what it needs of the configuration, and calls the route directly (axum's
/// `from_fn` would box the route again and clone it on every request).
#[derive(Debug, Clone)]
pub struct Observe {
    /// The largest body any route accepts (an upload's): a declared length
    /// over it is refused before the route runs; each route's own limit
    /// (`DefaultBodyLimit`) is enforced as its body is read.
    pub body_limit: usize,
    pub timeout: Duration,
    /// Who may say who the client is ([`ClientIp`]).
    pub proxies: Arc<TrustedProxies>,
}

impl From<&HttpConfig> for Observe {
    fn from(http: &HttpConfig) -> Observe {
        Observe {
            body_limit: http.body_limit_bytes.max(http.upload_limit_bytes),
            timeout: Duration::from_millis(http.request_timeout_ms),
            // Checked when the configuration was loaded.
            proxies: TrustedProxies::from_config(http).unwrap_or_default(),
        }
    }
}

impl<S> Layer<S> for Observe {
    type Service = Observed<S>;

    fn layer(&self, inner: S) -> Observed<S> {
        Observed {
            cfg: self.clone(),
            inner,
        }
    }
}

/// A route behind [`Observe`].
#[derive(Debug, Clone)]
pub struct Observed<S> {
    cfg: Observe,
    inner: S,
}
impl<S> Service<Request> for Observed<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request) -> Self::Future {
        let started = Instant::now();
        // The client's id, if it is one we can echo, else a new UUIDv7.
        let (request_id, id_header) = match req
            .headers()
            .get(&REQUEST_ID)
            .filter(|v| is_acceptable_request_id(v.as_bytes()))
        {
            Some(v) => (v.to_str().unwrap_or_default().to_owned(), v.clone()),
            None => {
                let mut buf = uuid::Uuid::encode_buffer();
                let id = new_request_id().hyphenated().encode_lower(&mut buf);
                (
                    id.to_owned(),
                    HeaderValue::from_str(id).expect("a UUID is a valid header value"),
                )
            }
        };
        let span = tracing::info_span!("request", request_id = request_id.as_str());
        req.extensions_mut().insert(RequestId(request_id));
        if let Some(peer) = req
            .extensions()
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        {
            let client = self.cfg.proxies.client(peer.0.ip(), req.headers());
            req.extensions_mut().insert(ClientIp(client));
        }
        let method = req.method().clone();
        let uri = req.uri().clone();
        let route = metric_handles::route(req.extensions().get::<MatchedPath>());
        let in_flight = InFlight::new(route);

        let limit = self.cfg.body_limit;
        let declared_len = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        let handled = if declared_len.is_some_and(|n| n > limit as u64) {
            None
        } else {
            Some(span.in_scope(|| self.inner.call(req)))
        };
        let timeout = self.cfg.timeout;
        Box::pin(async move {
            let _in_flight = in_flight;
            let response = match handled {
                None => Problem::for_status(StatusCode::PAYLOAD_TOO_LARGE)
                    .with_detail(format!("request bodies are limited to {limit} bytes"))
                    .into_response(),
                Some(handled) => match within(started + timeout, &span, handled).await {
                    Some(res) => res,
                    None => Problem::service_unavailable(format!(
                        "the request did not complete within {} ms",
                        timeout.as_millis()
                    ))
                    .into_response(),
                },
            };
            let mut response =
                if response.status().is_client_error() || response.status().is_server_error() {
                    let id = id_header.to_str().unwrap_or_default();
                    as_problem(response, id).await
                } else {
                    response
                };
            let status = response.status();
            response.headers_mut().insert(REQUEST_ID.clone(), id_header);

            let latency = started.elapsed();
            metric_handles::record(route, &method, status, latency);
            span.in_scope(|| {
                tracing::info!(
                    target: "p360::http",
                    method = method.as_str(),
                    route = route.label,
                    path = uri.path(),
                    status = status.as_u16(),
                    latency_ms = latency.as_secs_f64() * 1000.0,
                    "request"
                )
            });
            Ok(response)
        })
    }
}

/// The route's answer, polled inside the request span, unless `deadline`
/// passes first. Most requests are answered on their first poll: they get no
/// timer.
async fn within<F>(deadline: Instant, span: &tracing::Span, handled: F) -> Option<Response>
where
    F: Future<Output = Result<Response, Infallible>>,
{
    let mut handled = std::pin::pin!(handled);
    let mut in_span = std::future::poll_fn(|cx| span.in_scope(|| handled.as_mut().poll(cx)));
    let first = std::future::poll_fn(|cx| Poll::Ready(Pin::new(&mut in_span).poll(cx))).await;
    let answered = match first {
        Poll::Ready(answered) => answered,
        Poll::Pending => {
            let deadline = tokio::time::Instant::from_std(deadline);
            tokio::time::timeout_at(deadline, in_span).await.ok()?
        }
    };
    let Ok(res) = answered;
    Some(res)
}

/// A new request id: a UUIDv7 (the time in milliseconds, then 74 random
/// bits). The random bits come from a generator per thread, seeded from the
/// operating system once: request ids need to be unique, not unguessable, and
/// `Uuid::now_v7` would cost a `getrandom` system call and a process-wide
/// lock on every request.
fn new_request_id() -> uuid::Uuid {
    use std::cell::Cell;
    use std::hash::{BuildHasher, Hasher};
    thread_local! {
        // std's hasher keys are random per process and per thread.
        static STATE: Cell<u64> = Cell::new({
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_u128(uuid::Uuid::now_v7().as_u128());
            h.finish()
        });
    }
    // SplitMix64: every output is distinct for 2^64 steps of one thread.
    fn next(state: &Cell<u64>) -> u64 {
        let s = state.get().wrapping_add(0x9e37_79b9_7f4a_7c15);
        state.set(s);
        let z = (s ^ (s >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        let z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    let (a, b) = STATE.with(|s| (next(s), next(s)));
    let mut random = [0u8; 10];
    random[..8].copy_from_slice(&a.to_le_bytes());
    random[8..].copy_from_slice(&b.to_le_bytes()[..2]);
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    uuid::Builder::from_unix_timestamp_millis(millis, &random).into_uuid()
}

/// Request ids from clients are echoed back, so keep them short and printable.
fn is_acceptable_request_id(v: &[u8]) -> bool {
    !v.is_empty()
        && v.len() <= 128
        && v.iter()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(b))
}

/// Make an error response a problem document carrying the request id.
async fn as_problem(response: Response, request_id: &str) -> Response {
    let (parts, body) = response.into_parts();
    let is_problem = parts
        .headers
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(problem::CONTENT_TYPE.as_bytes()));
    let bytes = axum::body::to_bytes(body, ERROR_BODY_LIMIT)
        .await
        .unwrap_or_default();
    let mut doc: serde_json::Value = if is_problem {
        serde_json::from_slice(&bytes).unwrap_or_else(|_| {
            serde_json::to_value(Problem::for_status(parts.status)).unwrap_or_default()
        })
    } else {
        let mut p = Problem::for_status(parts.status);
        let text = String::from_utf8_lossy(&bytes).trim().to_string();
        if !text.is_empty() && !parts.status.is_server_error() {
            p = p.with_detail(text);
        }
        serde_json::to_value(p).unwrap_or_default()
    };
    if let Some(obj) = doc.as_object_mut() {
        obj.insert("request_id".into(), request_id.into());
    }
    let mut out = Response::from_parts(
        parts,
        Body::from(serde_json::to_vec(&doc).unwrap_or_default()),
    );
    out.headers_mut().remove(header::CONTENT_LENGTH);
    out.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(problem::CONTENT_TYPE),
    );
    out
}

/// The fallback for unknown routes.
pub async fn not_found(req: Request) -> Problem {
    Problem::not_found().with_detail(format!(
        "no route for {} {}",
        req.method(),
        req.uri().path()
    ))
}

/// Counts a request in flight for as long as it lives, even if the client goes away.
struct InFlight(&'static metrics::Gauge);

impl InFlight {
    fn new(route: &'static metric_handles::Route) -> InFlight {
        route.in_flight.increment(1.0);
        InFlight(&route.in_flight)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.decrement(1.0);
    }
}

/// The request metrics' handles, looked up once and kept: a request then
/// costs an atomic update of each metric instead of building its labels
/// (three `String`s) and finding them in the registry. Label values are the
/// same as ever: the route as matched (`unmatched` when no route did), the
/// method and the status code.
mod metric_handles {
    use std::cell::RefCell;
    use std::collections::{BTreeMap, HashMap};
    use std::hash::{BuildHasherDefault, Hasher};
    use std::sync::{Mutex, PoisonError};
    use std::time::Duration;

    use axum::extract::MatchedPath;
    use axum::http::{Method, StatusCode};
    use metrics::{Counter, Gauge, Histogram};

    /// A route's label and in-flight gauge, one per route for the life of
    /// the process (routes are the router's, so there are few).
    pub struct Route {
        pub label: &'static str,
        pub in_flight: Gauge,
    }

    /// A route (by address), a method (by index) and a status.
    type RequestKey = (usize, u8, u16);

    /// The request counter and latency histogram of a [`RequestKey`].
    struct RequestMetrics {
        count: Counter,
        duration: Histogram,
    }

    // Each thread keeps the handles it has used: no lock, no shared writes.
    thread_local! {
        static ROUTES: RefCell<HashMap<Box<str>, &'static Route, Fast>> = RefCell::default();
        static REQUESTS: RefCell<HashMap<RequestKey, RequestMetrics, Fast>> = RefCell::default();
    }

    /// The keys are addresses, status codes and the router's route
    /// templates, none chosen by clients: FxHash's multiply-rotate instead of
    /// SipHash.
    type Fast = BuildHasherDefault<FastHasher>;

    #[derive(Default)]
    struct FastHasher(u64);

    impl FastHasher {
        fn add(&mut self, word: u64) {
            self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
        }
    }

    impl Hasher for FastHasher {
        fn write(&mut self, bytes: &[u8]) {
            for chunk in bytes.chunks(8) {
                let mut word = [0; 8];
                word[..chunk.len()].copy_from_slice(chunk);
                self.add(u64::from_le_bytes(word));
            }
        }

        fn write_u8(&mut self, n: u8) {
            self.add(u64::from(n));
        }

        fn write_u16(&mut self, n: u16) {
            self.add(u64::from(n));
        }

        fn write_usize(&mut self, n: usize) {
            self.add(n as u64);
        }

        fn finish(&self) -> u64 {
            self.0
        }
    }

    /// The route of a request: its matched path, or `unmatched`.
    pub fn route(matched: Option<&MatchedPath>) -> &'static Route {
        let path = matched.map_or("unmatched", MatchedPath::as_str);
        if let Some(route) = ROUTES.with_borrow(|routes| routes.get(path).copied()) {
            return route;
        }
        let route = shared_route(path);
        ROUTES.with_borrow_mut(|routes| routes.insert(path.into(), route));
        route
    }

    /// The process's one [`Route`] for `path`, made on first use.
    fn shared_route(path: &str) -> &'static Route {
        static ALL: Mutex<BTreeMap<Box<str>, &'static Route>> = Mutex::new(BTreeMap::new());
        let mut all = ALL.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(route) = all.get(path) {
            return route;
        }
        let label: &'static str = Box::leak(path.into());
        let route: &'static Route = Box::leak(Box::new(Route {
            label,
            in_flight: metrics::gauge!("p360_http_requests_in_flight", "route" => label),
        }));
        all.insert(path.into(), route);
        route
    }

    /// Count a request and record its latency.
    pub fn record(route: &'static Route, method: &Method, status: StatusCode, latency: Duration) {
        let Some((index, method)) = standard_method(method) else {
            // Extension methods: rare, and not worth a cache entry each.
            let method = method.to_string();
            counter(route, method.clone(), status).increment(1);
            histogram(route, method).record(latency);
            return;
        };
        let key = (route as *const Route as usize, index, status.as_u16());
        REQUESTS.with_borrow_mut(|handles| {
            let metrics = handles.entry(key).or_insert_with(|| RequestMetrics {
                count: counter(route, method, status),
                duration: histogram(route, method),
            });
            metrics.count.increment(1);
            metrics.duration.record(latency);
        });
    }

    fn counter(
        route: &Route,
        method: impl Into<metrics::SharedString>,
        status: StatusCode,
    ) -> Counter {
        metrics::counter!(
            "p360_http_requests_total",
            "route" => route.label,
            "method" => method.into(),
            "status" => status.as_str().to_owned()
        )
    }

    fn histogram(route: &Route, method: impl Into<metrics::SharedString>) -> Histogram {
        metrics::histogram!(
            "p360_http_request_duration_seconds",
            "route" => route.label,
            "method" => method.into()
        )
    }

    const METHODS: [&str; 9] = [
        "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "CONNECT", "TRACE",
    ];

    /// A standard method's index and name.
    fn standard_method(method: &Method) -> Option<(u8, &'static str)> {
        let i = METHODS.iter().position(|m| *m == method.as_str())?;
        Some((i as u8, METHODS[i]))
    }
}
