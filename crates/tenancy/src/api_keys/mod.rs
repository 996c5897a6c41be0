//! API keys for machine clients: `p360_` + 43 url-safe characters (256 random
//! bits), shown once at creation, stored only as SHA-256, revocable (effective
//! at once on every instance), last use kept.

pub mod api;
pub mod store;

use aws_lc_rs::digest::{SHA256, digest};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::principal::{ApiKeyId, UserId};
use crate::scope::TenantId;

pub const SECRET_PREFIX: &str = "p360_";
/// How many characters of the secret are kept to recognise a key.
const SHOWN_PREFIX: usize = 12;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ApiKey {
    pub id: ApiKeyId,
    pub tenant_id: TenantId,
    pub name: String,
    pub role: String,
    /// The first characters of the secret.
    pub prefix: String,
    pub created_by: Option<UserId>,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedApiKey {
    #[serde(flatten)]
    pub key: ApiKey,
    /// The secret, shown this once; send it as `Authorization: Bearer p360_...`.
    pub secret: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewApiKey {
    pub name: String,
    /// A customer role no higher than the creator's.
    pub role: String,
}

/// A new secret: the prefix and 256 random bits.
fn new_secret() -> anyhow::Result<String> {
    let mut raw = [0u8; 32];
    SystemRandom::new()
        .fill(&mut raw)
        .map_err(|_| anyhow::anyhow!("no randomness for an API key"))?;
    Ok(format!("{SECRET_PREFIX}{}", URL_SAFE_NO_PAD.encode(raw)))
}

/// What is stored of a secret.
fn hash(secret: &str) -> Vec<u8> {
    digest(&SHA256, secret.as_bytes()).as_ref().to_vec()
}

/// The 401 detail of a secret no key has.
pub const UNKNOWN_KEY: &str = "unknown API key";

/// Resolve an API key secret (without its `p360_` prefix) to a principal.
pub async fn authenticate(
    pool: &sqlx::PgPool,
    secret_tail: &str,
    meta: crate::principal::RequestMeta,
) -> Result<crate::principal::Principal, crate::principal::AuthRejection> {
    use crate::principal::{Actor, AuthRejection, Principal, Unauthorized, forbidden};
    let secret = format!("{SECRET_PREFIX}{secret_tail}");
    // Which tenant the key belongs to is what we are finding out: a system path.
    let mut tx = crate::scope::ScopedTx::all(pool, crate::scope::AllTenants::system()).await?;
    let Some(key) = store::by_hash(&mut tx, &hash(&secret)).await? else {
        return Err(AuthRejection::Unauthorized(Unauthorized::invalid(
            UNKNOWN_KEY,
        )));
    };
    if key.revoked {
        return Err(AuthRejection::Unauthorized(Unauthorized::invalid(
            "this API key was revoked",
        )));
    }
    // A key acts for the user who created it: it stops with them.
    if key.creator_active == Some(false) {
        return Err(AuthRejection::Unauthorized(Unauthorized::invalid(
            "the user this API key acts for was deactivated",
        )));
    }
    if !key.tenant_active {
        return Err(forbidden("this tenant is suspended").into());
    }
    let role = crate::roles::Role::parse(&key.role).ok_or_else(|| forbidden("unknown role"))?;
    store::used(&mut tx, key.id, true).await?;
    tx.commit().await?;
    Ok(Principal {
        actor: Actor::ApiKey(key.id),
        person: key.created_by,
        role,
        tenant: Some(key.tenant_id),
        assigned: Vec::new(),
        email: None,
        meta,
    })
}

/// A recorded maker (`submitted_by`) as a person: `api_key:<id>`, recorded
/// before makers were people, is the user who created that key; anything
/// else is returned as it is.
pub async fn maker_as_person(
    tx: &mut crate::scope::TenantTx,
    recorded: &str,
) -> Result<String, sqlx::Error> {
    let key = recorded
        .strip_prefix("api_key:")
        .and_then(|id| id.parse::<uuid::Uuid>().ok());
    match key {
        Some(id) => Ok(match store::creator(tx, ApiKeyId(id)).await? {
            Some(user) => format!("user:{user}"),
            None => recorded.to_string(),
        }),
        None => Ok(recorded.to_string()),
    }
}
