//! Who acts: the [`Principal`] a request authenticated as (or the system),
//! the [`InTenant`] context of a principal acting in one tenant, and the
//! rejections handlers and extractors answer with. Types only: resolving a
//! credential to a principal is `auth`'s job.

use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use platform::http::problem::{ApiError, Problem};
use sqlx::PgPool;

use crate::roles::{Permission, Role, UserKind};
use crate::scope::{AllTenants, ScopedTx, TenantId, TenantTx, Visibility};

platform::typed_id! {
    /// A user (staff or customer).
    pub struct UserId;
}

platform::typed_id! {
    /// An API key.
    pub struct ApiKeyId;
}

/// Where a request came from, recorded with its audit events.
#[derive(Debug, Clone, Default)]
pub struct RequestMeta {
    pub request_id: Option<String>,
    pub source_ip: Option<String>,
    pub user_agent: Option<String>,
}

/// The header staff use to choose the tenant they act in.
pub const TENANT_HEADER: &str = "p360-tenant";

/// Who acts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    User(UserId),
    ApiKey(ApiKeyId),
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
    /// The person the credential acts for: the user themself, or the user
    /// who created an API key. None for the system and for keys no user
    /// created (service identities), which can therefore never approve.
    pub person: Option<UserId>,
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

    /// Proof that this principal sees every tenant (platform admins), for
    /// platform-wide transactions ([`ScopedTx::all`]).
    pub fn all_tenants(&self) -> Option<AllTenants> {
        (self.role.kind() == UserKind::Staff && self.role.sees_all_tenants())
            .then(AllTenants::for_staff)
    }

    /// A transaction that sees what this principal may see.
    pub async fn begin_visible(&self, pool: &PgPool) -> Result<ScopedTx, sqlx::Error> {
        ScopedTx::begin(pool, self.visibility()).await
    }

    /// A string naming the actor (`user:<id>`, `api_key:<id>`, `system:`),
    /// as recorded in `submitted_by`/`approved_by` columns.
    pub fn actor_ref(&self) -> String {
        let (kind, id) = self.actor.audit_parts();
        format!("{kind}:{}", id.unwrap_or_default())
    }

    /// The person acting, as recorded in `submitted_by`/`approved_by`
    /// (`user:<id>`), whatever credential they use: the maker-checker rule
    /// compares people, so a user's own API key is that user. A credential
    /// without a person records its actor (`api_key:<id>`).
    pub fn maker_ref(&self) -> String {
        match self.person {
            Some(u) => format!("user:{u}"),
            None => self.actor_ref(),
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
    /// What the 401 says.
    pub fn detail(&self) -> &str {
        &self.detail
    }

    /// No credentials at all (the challenge names no error).
    pub fn missing(detail: impl Into<String>) -> Unauthorized {
        Unauthorized {
            detail: detail.into(),
            invalid_token: false,
        }
    }

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

/// A principal acting in one tenant: customers in their own; staff in the one
/// named by the `P360-Tenant` header (slug), which must be visible to them.
#[derive(Debug, Clone)]
pub struct InTenant {
    pub principal: Principal,
    pub tenant: TenantId,
}

impl InTenant {
    /// Begin a transaction in this tenant: the only way a request opens one.
    pub async fn begin(&self, pool: &PgPool) -> Result<TenantTx, sqlx::Error> {
        TenantTx::begin(pool, self.tenant).await
    }

    /// 403 unless the principal's role has `p`.
    pub fn require(&self, p: Permission) -> Result<(), ApiError> {
        self.principal.require(p)
    }
}

/// Request id, source IP and user agent, for the audit log.
pub fn request_meta(parts: &Parts) -> RequestMeta {
    RequestMeta {
        request_id: parts
            .extensions
            .get::<platform::http::middleware::RequestId>()
            .map(|r| r.0.clone()),
        // The client's address (behind trusted proxies, the one they name).
        source_ip: parts
            .extensions
            .get::<platform::http::client_ip::ClientIp>()
            .map(|c| c.0.to_string())
            .or_else(|| {
                parts
                    .extensions
                    .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
                    .map(|c| c.0.ip().to_string())
            }),
        user_agent: parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|s| s.chars().take(512).collect()),
    }
}
