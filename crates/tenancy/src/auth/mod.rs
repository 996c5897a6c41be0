//! Authentication: bearer tokens (OIDC access tokens or `p360_` API keys) to a
//! [`Principal`], and the extractors handlers use (`Principal`, `InTenant`).
//!
//! Failures are 401 problem+json with `WWW-Authenticate: Bearer
//! error="invalid_token"`; a valid identity without permission is 403.

pub use crate::credentials::{dev, dev_token, jwt, kind_allowed};

mod shield;

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use platform::config::PlatformConfig;
use platform::http::problem::Problem;
use platform::rate_limit::{Backend, Decision, RateLimiter};
use sqlx::PgPool;

use crate::api_keys;
use crate::cache::{Invalidation, PrincipalCache};
use crate::config::AuthConfig;
use crate::credentials::jwt::{Issuer, KeySource, TokenError, VerifiedToken};
use crate::principal::{
    Actor, AuthRejection, InTenant, Principal, RequestMeta, Unauthorized, request_meta,
};
use crate::scope::{AllTenants, ScopedTransaction, ScopedTx};
use crate::users;

pub use crate::principal::TENANT_HEADER;

/// Verifies credentials and resolves them to principals. Shared by all routes
/// (installed as a request extension).
pub struct AuthService {
    pool: PgPool,
    limiter: Arc<RateLimiter>,
    cache: Arc<PrincipalCache>,
    issuers: Vec<Issuer>,
    dev: Option<dev::DevIssuer>,
    http: reqwest::Client,
    leeway: u64,
    invitation_ttl_days: u32,
    body_limit: usize,
    shield: shield::Shield,
    /// API key look-ups that may run at once: a quarter of the pool, so a
    /// flood of random keys from many addresses cannot take the connections
    /// that requests with cached credentials need. (A token needs no slot:
    /// a forged one fails its signature check before any database work.)
    lookups: tokio::sync::Semaphore,
}

/// How long an API key look-up waits for a slot before the request gets 503.
const LOOKUP_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

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
            .map(|c| {
                Issuer::new(c.clone(), KeySource::Remote(c.jwks_url.clone()))
                    .with_max_age(std::time::Duration::from_secs(config.jwks_max_age_secs))
            })
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
        let principals = Arc::new(PrincipalCache::default());
        crate::cache::spawn_listener(pool.clone(), principals.clone());
        let lookups = (pool.options().get_max_connections() as usize / 4).max(2);
        Ok(Arc::new(AuthService {
            pool,
            limiter,
            cache: principals,
            issuers,
            dev,
            http,
            leeway: config.leeway_secs,
            invitation_ttl_days: config.invitation_ttl_days,
            body_limit: platform
                .http
                .body_limit_bytes
                .max(platform.http.upload_limit_bytes),
            shield: shield::Shield::default(),
            lookups: tokio::sync::Semaphore::new(lookups),
        }))
    }

    pub fn dev_issuer(&self) -> Option<&dev::DevIssuer> {
        self.dev.as_ref()
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// The largest body any route reads (`http.upload_limit_bytes`, file
    /// uploads; other routes stop at `http.body_limit_bytes`).
    pub fn body_limit(&self) -> usize {
        self.body_limit
    }

    /// Verify a bearer credential and resolve it to a principal (cached; see [`cache`]).
    pub async fn authenticate(
        &self,
        token: &str,
        meta: RequestMeta,
    ) -> Result<Principal, AuthRejection> {
        let key = crate::cache::key(token);
        if let Some(mut principal) = self.cache.get(&key) {
            principal.meta = meta;
            self.touch_if_due(&key, &principal);
            return Ok(principal);
        }
        let generation = self.cache.generation();
        let (principal, exp) = if let Some(secret) = token.strip_prefix(api_keys::SECRET_PREFIX) {
            if let Some(why) = self.shield.was_refused(&key) {
                metrics::counter!("p360_auth_refused_from_memory_total", "reason" => "unknown_key")
                    .increment(1);
                return Err(AuthRejection::Unauthorized(Unauthorized::invalid(why)));
            }
            let _slot = self.lookup_slot().await?;
            match api_keys::authenticate(&self.pool, secret, meta).await {
                Ok(p) => (p, None),
                Err(AuthRejection::Unauthorized(u)) if u.detail() == api_keys::UNKNOWN_KEY => {
                    self.shield.refused(key, api_keys::UNKNOWN_KEY);
                    return Err(AuthRejection::Unauthorized(u));
                }
                Err(e) => return Err(e),
            }
        } else {
            let verified = self
                .verify_jwt(token)
                .await
                .map_err(|e| AuthRejection::Unauthorized(Unauthorized::invalid(e.to_string())))?;
            let exp = verified.expires_at;
            (
                users::provision::resolve(&self.pool, &verified, meta, self.invitation_ttl_days)
                    .await?,
                Some(exp),
            )
        };
        self.cache.put(key, &principal, exp, generation);
        Ok(principal)
    }

    /// A slot for an API key look-up in the database, or 503 when the slots
    /// stay taken (a flood of unknown keys).
    async fn lookup_slot(&self) -> Result<tokio::sync::SemaphorePermit<'_>, AuthRejection> {
        match tokio::time::timeout(LOOKUP_WAIT, self.lookups.acquire()).await {
            Ok(Ok(slot)) => Ok(slot),
            _ => {
                metrics::counter!("p360_auth_refused_from_memory_total", "reason" => "lookups_busy")
                    .increment(1);
                Err(Problem::service_unavailable(
                    "too many API keys are being checked at once; retry shortly",
                )
                .into())
            }
        }
    }

    /// Whether `token` resolves from memory (no database or issuer work).
    fn is_cached(&self, token: &str) -> bool {
        self.cache.get(&crate::cache::key(token)).is_some()
    }

    /// Commit a change that affects authentication: announce it to every
    /// instance (delivered on commit) and drop it from this one's cache at once.
    pub async fn commit_change(
        &self,
        tx: impl ScopedTransaction,
        what: Invalidation,
    ) -> Result<(), sqlx::Error> {
        self.cache.commit_change(tx, what).await
    }

    /// The cache of authenticated principals (handlers that change
    /// authentication commit through it).
    pub fn cache(&self) -> Arc<PrincipalCache> {
        self.cache.clone()
    }

    /// Keep last-use times current for cached actors, off the request path.
    fn touch_if_due(&self, key: &crate::cache::Key, principal: &Principal) {
        let every = match principal.actor {
            Actor::ApiKey(_) => std::time::Duration::from_secs(60),
            Actor::User(_) => std::time::Duration::from_secs(300),
            Actor::System => return,
        };
        if !self.cache.touch_due(key, every) {
            return;
        }
        let actor = principal.actor.clone();
        let pool = self.pool.clone();
        tokio::spawn(async move {
            let result = async {
                let mut tx = ScopedTx::all(&pool, AllTenants::system()).await?;
                match actor {
                    Actor::ApiKey(id) => api_keys::store::used(&mut tx, id, false).await?,
                    Actor::User(id) => users::store::touch(&mut tx, id).await?,
                    Actor::System => {}
                }
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
        let source = format!("ip:{}", meta.source_ip.as_deref().unwrap_or("unknown"));
        // An address already refused for bad credentials gets its 429 before
        // an API key that needs looking up costs any database work. (A
        // token is verified by signature alone: no database until it is.)
        if let Ok(token) = bearer(parts)
            && token.starts_with(api_keys::SECRET_PREFIX)
            && !service.is_cached(token)
            && let Some(wait) = service.shield.still_limited(&source)
        {
            metrics::counter!("p360_auth_refused_from_memory_total", "reason" => "limited_source")
                .increment(1);
            return Err(AuthRejection::RateLimited(wait));
        }
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
            Err(AuthRejection::Unauthorized(_)) => (source, limits.anonymous),
            Err(_) => return authenticated,
        };
        take_token(&service, &key, rule).await?;
        let principal = authenticated?;
        parts.extensions.insert(principal.clone());
        Ok(principal)
    }
}

/// Take one token from `key`'s bucket, or refuse with 429 (counted).
async fn take_token(
    service: &AuthService,
    key: &str,
    rule: platform::rate_limit::Rule,
) -> Result<(), AuthRejection> {
    if let (Decision::Limited { retry_after }, backend) = service.limiter.check(key, rule).await {
        if key.starts_with("ip:") {
            service.shield.limited(key, retry_after);
        }
        metrics::counter!("p360_rate_limited_total", "backend" => match backend {
            Backend::Redis => "redis",
            Backend::InProcess => "in_process",
        })
        .increment(1);
        return Err(AuthRejection::RateLimited(retry_after));
    }
    Ok(())
}

/// A caller of a public route, which takes no credentials (an `Authorization`
/// header is ignored): rate limited by source address with
/// `rate_limit.anonymous`, the bucket requests without valid credentials
/// share.
#[derive(Debug, Clone)]
pub struct Anonymous {
    pub meta: RequestMeta,
}

impl<S: Send + Sync> FromRequestParts<S> for Anonymous {
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let service = auth_service(parts)?;
        let meta = request_meta(parts);
        let key = format!("ip:{}", meta.source_ip.as_deref().unwrap_or("unknown"));
        take_token(&service, &key, service.limiter.rules.anonymous).await?;
        Ok(Anonymous { meta })
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
    let value = parts.headers.get(header::AUTHORIZATION).ok_or_else(|| {
        AuthRejection::Unauthorized(Unauthorized::missing(
            "this endpoint needs an Authorization: Bearer token",
        ))
    })?;
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
        let tenant = crate::scope::tenant_by_slug(&service.pool, slug)
            .await?
            .filter(|t| principal.visibility().includes(*t))
            .ok_or_else(|| Problem::not_found().with_detail(format!("no tenant {slug}")))?;
        Ok(InTenant { principal, tenant })
    }
}
