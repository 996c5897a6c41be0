//! Authentication: bearer tokens (OIDC access tokens or `p360_` API keys) to a
//! [`Principal`], and the extractors handlers use.
//!
//! Failures are 401 problem+json with `WWW-Authenticate: Bearer
//! error="invalid_token"`; a valid identity without permission is 403.

pub mod cache;
pub mod dev;
pub mod jwt;

use std::path::Path;
use std::sync::Arc;

use crate::config::{AuthConfig, IssuerKind};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use platform::config::PlatformConfig;
use platform::http::problem::{ApiError, Problem};
use platform::rate_limit::{Backend, Decision, RateLimiter};
use sqlx::PgPool;
use uuid::Uuid;

use crate::api_keys;
use crate::audit::RequestMeta;
use crate::roles::{Permission, Role, UserKind};
use crate::scope::{TenantId, Visibility};
use crate::users;
use jwt::{Issuer, KeySource, TokenError, VerifiedToken};

/// The header staff use to choose the tenant they act in.
pub const TENANT_HEADER: &str = "p360-tenant";

/// Who acts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    User(Uuid),
    ApiKey(Uuid),
    System,
}

impl Actor {
    pub fn audit_parts(&self) -> (&'static str, Option<String>) {
        match self {
            Actor::User(id) => ("user", Some(id.to_string())),
            Actor::ApiKey(id) => ("api_key", Some(id.to_string())),
            Actor::System => ("system", None),
        }
    }
}

/// An authenticated caller.
#[derive(Debug, Clone)]
pub struct Principal {
    pub actor: Actor,
    pub role: Role,
    /// Customers and API keys: their tenant.
    pub tenant: Option<TenantId>,
    /// Staff: the tenants they are assigned to.
    pub assigned: Vec<TenantId>,
    pub email: Option<String>,
    pub meta: RequestMeta,
}

impl Principal {
    /// 403 unless the role has `p`.
    pub fn require(&self, p: Permission) -> Result<(), ApiError> {
        if self.role.allows(p) {
            Ok(())
        } else {
            Err(forbidden(format!(
                "the {} role does not have the {} permission",
                self.role,
                p.as_str()
            ))
            .into())
        }
    }

    /// The tenants this principal may see.
    pub fn visibility(&self) -> Visibility {
        match (self.role.kind(), self.tenant) {
            (UserKind::Customer, Some(t)) => Visibility::one(t),
            (UserKind::Customer, None) => Visibility::Tenants(Vec::new()),
            (UserKind::Staff, _) if self.role.sees_all_tenants() => Visibility::All,
            (UserKind::Staff, _) => Visibility::Tenants(self.assigned.clone()),
        }
    }

    pub fn is_staff(&self) -> bool {
        self.role.kind() == UserKind::Staff
    }
}

pub fn forbidden(detail: impl Into<String>) -> Problem {
    Problem::new(StatusCode::FORBIDDEN, "forbidden", "Forbidden").with_detail(detail)
}

/// A 401 with the `WWW-Authenticate` challenge.
#[derive(Debug)]
pub struct Unauthorized {
    detail: String,
    /// `false` when no credentials were sent at all (no `error=` in the challenge).
    invalid_token: bool,
}

impl Unauthorized {
    pub fn invalid(detail: impl Into<String>) -> Unauthorized {
        Unauthorized {
            detail: detail.into(),
            invalid_token: true,
        }
    }
}

impl IntoResponse for Unauthorized {
    fn into_response(self) -> Response {
        let mut res = Problem::new(StatusCode::UNAUTHORIZED, "unauthorized", "Unauthorized")
            .with_detail(self.detail)
            .into_response();
        let challenge = if self.invalid_token {
            "Bearer error=\"invalid_token\""
        } else {
            "Bearer"
        };
        res.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static(challenge),
        );
        res
    }
}

/// Rejection of the auth extractors.
#[derive(Debug)]
pub enum AuthRejection {
    Unauthorized(Unauthorized),
    Api(ApiError),
    RateLimited(std::time::Duration),
}

impl IntoResponse for AuthRejection {
    fn into_response(self) -> Response {
        match self {
            AuthRejection::Unauthorized(u) => u.into_response(),
            AuthRejection::Api(e) => e.into_response(),
            AuthRejection::RateLimited(wait) => {
                let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
                let mut res = Problem::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "rate-limited",
                    "Too many requests",
                )
                .with_detail(format!("retry after {secs} s"))
                .into_response();
                res.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
                res
            }
        }
    }
}

impl From<ApiError> for AuthRejection {
    fn from(e: ApiError) -> Self {
        AuthRejection::Api(e)
    }
}

impl From<Problem> for AuthRejection {
    fn from(p: Problem) -> Self {
        AuthRejection::Api(p.into())
    }
}

impl From<sqlx::Error> for AuthRejection {
    fn from(e: sqlx::Error) -> Self {
        AuthRejection::Api(e.into())
    }
}

/// Verifies credentials and resolves them to principals. Shared by all routes
/// (installed as a request extension).
pub struct AuthService {
    pool: PgPool,
    limiter: Arc<RateLimiter>,
    cache: Arc<cache::PrincipalCache>,
    issuers: Vec<Issuer>,
    dev: Option<dev::DevIssuer>,
    http: reqwest::Client,
    leeway: u64,
}

impl AuthService {
    pub fn new(
        pool: PgPool,
        config: &AuthConfig,
        platform: &PlatformConfig,
        limiter: Arc<RateLimiter>,
    ) -> anyhow::Result<Arc<AuthService>> {
        let mut issuers: Vec<Issuer> = config
            .issuers
            .iter()
            .map(|c| Issuer::new(c.clone(), KeySource::Remote(c.jwks_url.clone())))
            .collect();
        let dev = if config.dev_issuer_enabled(platform.mode) {
            let d = dev::DevIssuer::load_or_create(&platform.data_dir)?;
            issuers.push(Issuer::new(
                dev::DevIssuer::issuer_config(),
                KeySource::Static(vec![d.jwk()]),
            ));
            Some(d)
        } else {
            None
        };
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(5))
            .build()?;
        let principals = Arc::new(cache::PrincipalCache::default());
        cache::spawn_listener(pool.clone(), principals.clone());
        Ok(Arc::new(AuthService {
            pool,
            limiter,
            cache: principals,
            issuers,
            dev,
            http,
            leeway: config.leeway_secs,
        }))
    }

    pub fn dev_issuer(&self) -> Option<&dev::DevIssuer> {
        self.dev.as_ref()
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Verify a bearer credential and resolve it to a principal (cached; see [`cache`]).
    pub async fn authenticate(
        &self,
        token: &str,
        meta: RequestMeta,
    ) -> Result<Principal, AuthRejection> {
        let key = cache::key(token);
        if let Some(mut principal) = self.cache.get(&key) {
            principal.meta = meta;
            self.touch_if_due(&key, &principal);
            return Ok(principal);
        }
        let generation = self.cache.generation();
        let (principal, exp) = if let Some(secret) = token.strip_prefix(api_keys::SECRET_PREFIX) {
            (
                api_keys::authenticate(&self.pool, secret, meta).await?,
                None,
            )
        } else {
            let verified = self
                .verify_jwt(token)
                .await
                .map_err(|e| AuthRejection::Unauthorized(Unauthorized::invalid(e.to_string())))?;
            let exp = verified.expires_at;
            (
                users::resolve(&self.pool, &verified, meta).await?,
                Some(exp),
            )
        };
        self.cache.put(key, &principal, exp, generation);
        Ok(principal)
    }

    /// Commit a change that affects authentication: announce it to every
    /// instance (delivered on commit) and drop it from this one's cache at once.
    pub async fn commit_change(
        &self,
        mut tx: sqlx::Transaction<'static, sqlx::Postgres>,
        what: cache::Invalidation,
    ) -> Result<(), sqlx::Error> {
        cache::announce(&mut tx, &what).await?;
        tx.commit().await?;
        self.cache.forget(&what);
        Ok(())
    }

    /// Keep last-use times current for cached actors, off the request path.
    fn touch_if_due(&self, key: &cache::Key, principal: &Principal) {
        let (sql, every) = match principal.actor {
            Actor::ApiKey(_) => (
                "UPDATE api_keys SET last_used_at = now() WHERE id = $1",
                std::time::Duration::from_secs(60),
            ),
            Actor::User(_) => (
                "UPDATE users SET last_seen_at = now() WHERE id = $1",
                std::time::Duration::from_secs(300),
            ),
            Actor::System => return,
        };
        if !self.cache.touch_due(key, every) {
            return;
        }
        let (Actor::ApiKey(id) | Actor::User(id)) = principal.actor else {
            return;
        };
        let pool = self.pool.clone();
        tokio::spawn(async move {
            let result = async {
                let mut tx = crate::scope::begin(&pool, &Visibility::All).await?;
                sqlx::query(sql).bind(id).execute(&mut *tx).await?;
                tx.commit().await
            }
            .await;
            if let Err(e) = result {
                tracing::warn!(error = %e, "could not record last use; carrying on");
            }
        });
    }

    async fn verify_jwt(&self, token: &str) -> Result<VerifiedToken, TokenError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Malformed)?;
        let iss = jwt::peek_issuer(token)?;
        let issuer = self
            .issuers
            .iter()
            .find(|i| i.config.issuer == iss)
            .ok_or(TokenError::UnknownIssuer)?;
        let mut verified = issuer
            .verify(&self.http, token, &header, self.leeway)
            .await?;
        verified.dev = iss == dev::ISSUER;
        Ok(verified)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Principal {
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        if let Some(p) = parts.extensions.get::<Principal>() {
            return Ok(p.clone());
        }
        let service = auth_service(parts)?;
        let meta = request_meta(parts);
        let authenticated = match bearer(parts) {
            Ok(token) => service.authenticate(token, meta.clone()).await,
            Err(e) => Err(e),
        };
        let limits = &service.limiter.rules;
        let (key, rule) = match &authenticated {
            Ok(p) => match &p.actor {
                Actor::ApiKey(id) => (format!("key:{id}"), limits.api_key),
                Actor::User(id) => (format!("user:{id}"), limits.user),
                Actor::System => (String::from("system"), limits.api_key),
            },
            // Failed or missing credentials count against the source address.
            Err(AuthRejection::Unauthorized(_)) => (
                format!("ip:{}", meta.source_ip.as_deref().unwrap_or("unknown")),
                limits.anonymous,
            ),
            Err(_) => return authenticated,
        };
        if let (Decision::Limited { retry_after }, backend) =
            service.limiter.check(&key, rule).await
        {
            metrics::counter!("p360_rate_limited_total", "backend" => match backend {
                Backend::Redis => "redis",
                Backend::InProcess => "in_process",
            })
            .increment(1);
            return Err(AuthRejection::RateLimited(retry_after));
        }
        let principal = authenticated?;
        parts.extensions.insert(principal.clone());
        Ok(principal)
    }
}

fn auth_service(parts: &Parts) -> Result<Arc<AuthService>, AuthRejection> {
    parts
        .extensions
        .get::<Arc<AuthService>>()
        .cloned()
        .ok_or_else(|| AuthRejection::Api(anyhow::anyhow!("AuthService not installed").into()))
}

fn bearer(parts: &Parts) -> Result<&str, AuthRejection> {
    let value = parts
        .headers
        .get(header::AUTHORIZATION)
        .ok_or(AuthRejection::Unauthorized(Unauthorized {
            detail: "this endpoint needs an Authorization: Bearer token".into(),
            invalid_token: false,
        }))?;
    let value = value.to_str().map_err(|_| {
        AuthRejection::Unauthorized(Unauthorized::invalid("malformed Authorization header"))
    })?;
    let (scheme, token) =
        value
            .split_once(' ')
            .ok_or(AuthRejection::Unauthorized(Unauthorized::invalid(
                "malformed Authorization header",
            )))?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(AuthRejection::Unauthorized(Unauthorized::invalid(
            "only Bearer credentials are accepted",
        )));
    }
    Ok(token.trim())
}

/// Request id, source IP and user agent, for the audit log.
pub fn request_meta(parts: &Parts) -> RequestMeta {
    RequestMeta {
        request_id: parts
            .extensions
            .get::<platform::http::middleware::RequestId>()
            .map(|r| r.0.clone()),
        source_ip: parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|c| c.0.ip().to_string()),
        user_agent: parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|s| s.chars().take(512).collect()),
    }
}

/// A principal acting in one tenant: customers in their own; staff in the one
/// named by the `P360-Tenant` header (slug), which must be visible to them.
#[derive(Debug, Clone)]
pub struct InTenant {
    pub principal: Principal,
    pub tenant: TenantId,
}

impl InTenant {
    /// Audit a successful change to an object of this tenant, in `tx`.
    pub async fn record_change(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Postgres>,
        action: &'static str,
        target_type: &'static str,
        target_id: impl ToString,
        changes: serde_json::Value,
    ) -> Result<(), sqlx::Error> {
        crate::audit::record(
            tx,
            &self.principal.actor,
            &self.principal.meta,
            crate::audit::NewEvent {
                tenant: Some(self.tenant),
                action,
                target_type,
                target_id: Some(target_id.to_string()),
                changes,
                outcome: crate::audit::Outcome::Success,
            },
        )
        .await?;
        Ok(())
    }
}

impl<S: Send + Sync> FromRequestParts<S> for InTenant {
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let principal = Principal::from_request_parts(parts, state).await?;
        if let Some(t) = principal.tenant {
            return Ok(InTenant {
                principal,
                tenant: t,
            });
        }
        let service = auth_service(parts)?;
        let slug = parts
            .headers
            .get(TENANT_HEADER)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| {
                Problem::new(
                    StatusCode::BAD_REQUEST,
                    "tenant-required",
                    "Tenant required",
                )
                .with_detail(
                    "staff choose the tenant to act in with the P360-Tenant header (its slug)",
                )
            })?;
        let tenant = crate::tenants::id_by_slug(&service.pool, slug)
            .await?
            .filter(|t| principal.visibility().includes(*t))
            .ok_or_else(|| Problem::not_found().with_detail(format!("no tenant {slug}")))?;
        Ok(InTenant { principal, tenant })
    }
}

/// Staff issuers provision users only with a staff role; customer issuers only
/// with a customer role. The development issuer allows both.
pub fn kind_allowed(kind: IssuerKind, dev: bool, role: Role) -> bool {
    dev || match kind {
        IssuerKind::Internal => role.kind() == UserKind::Staff,
        IssuerKind::External => role.kind() == UserKind::Customer,
    }
}

/// Load (or create) the development issuer's key for `p360 token`.
pub fn dev_token(data_dir: &Path, claims: &dev::DevClaims) -> anyhow::Result<String> {
    dev::DevIssuer::load_or_create(data_dir)?.mint(claims)
}
