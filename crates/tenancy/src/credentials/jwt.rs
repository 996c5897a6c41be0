//! Verifying OIDC access tokens: one [`Issuer`] per trusted issuer, each with
//! its JWKS cache.
//!
//! Only RS256 and ES256, and only the algorithm the issuer's key declares (or
//! implies: RSA -> RS256, P-256 -> ES256), so `alg: none`, HMAC signed with a
//! public key and algorithm confusion all fail before any signature check.
//! An unknown `kid` refreshes the JWKS at most once a minute, and keys older
//! than `auth.jwks_max_age_secs` are refetched before they verify a token, so
//! a key the issuer removed stops being trusted within that time. A JWKS
//! endpoint that is down, or answers with no usable key, keeps the keys
//! already cached.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::config::{IssuerConfig, IssuerKind};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};

/// How often an unknown `kid` may trigger a JWKS refresh.
const REFRESH_INTERVAL: Duration = Duration::from_secs(60);

/// Why a token was refused; shown to the client as the 401 detail.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    #[error("the token is not a well-formed JWT")]
    Malformed,
    #[error("the token's issuer is not trusted")]
    UnknownIssuer,
    #[error("the token's algorithm is not accepted")]
    Algorithm,
    #[error("the token's signing key is unknown")]
    UnknownKey,
    #[error("the token is invalid: {0}")]
    Invalid(String),
}

/// Where an issuer's keys come from.
pub enum KeySource {
    /// Fetched from a JWKS URL, or from the discovery document when `None`.
    Remote(Option<String>),
    /// Known up front (the development issuer).
    Static(Vec<Jwk>),
}

struct Cache {
    keys: HashMap<String, (DecodingKey, Algorithm)>,
    /// Keys without a `kid`, tried when the token has none.
    anonymous: Vec<(DecodingKey, Algorithm)>,
    last_fetch: Option<Instant>,
    /// When the keys in use were fetched (None: never, or static keys).
    fetched_keys: Option<Instant>,
    jwks_url: Option<String>,
}

/// A trusted issuer: its settings and its cached keys.
pub struct Issuer {
    pub config: IssuerConfig,
    source_remote: bool,
    cache: Mutex<Cache>,
    refresh: tokio::sync::Mutex<()>,
    max_age: Duration,
}

/// The claims of a verified token that the platform uses.
#[derive(Debug, Clone)]
pub struct VerifiedToken {
    pub issuer: String,
    pub subject: String,
    pub kind: IssuerKind,
    pub email: Option<String>,
    /// Whether the issuer verified `email` (`email_verified`): only then may
    /// the address accept an invitation.
    pub email_verified: bool,
    pub name: Option<String>,
    /// The tenant's slug the token names (its tenant claim, through the
    /// issuer's `tenants` map when it has one).
    pub tenant: Option<String>,
    /// The tenant claim as the token carried it.
    pub claimed_tenant: Option<String>,
    /// The slugs of the tenants the issuer may speak for; `None`: any (the
    /// development issuer) or none (staff issuers).
    pub bound_tenants: Option<Vec<String>>,
    pub roles: Vec<String>,
    pub expires_at: u64,
    /// True for tokens of the built-in development issuer.
    pub dev: bool,
}

impl Issuer {
    pub fn new(config: IssuerConfig, source: KeySource) -> Issuer {
        let (remote, jwks_url, keys) = match source {
            KeySource::Remote(url) => (true, url, Vec::new()),
            KeySource::Static(keys) => (false, None, keys),
        };
        let issuer = Issuer {
            config,
            source_remote: remote,
            cache: Mutex::new(Cache {
                keys: HashMap::new(),
                anonymous: Vec::new(),
                last_fetch: None,
                fetched_keys: None,
                jwks_url,
            }),
            refresh: tokio::sync::Mutex::new(()),
            max_age: Duration::from_secs(300),
        };
        issuer.install_keys(&keys);
        issuer
    }

    /// How old the fetched keys may get before a token makes them refetched.
    pub fn with_max_age(mut self, max_age: Duration) -> Issuer {
        self.max_age = max_age;
        self
    }

    /// Install `keys`; how many were usable. None usable: the cached keys stay.
    fn install_keys(&self, keys: &[Jwk]) -> usize {
        let mut cache = self.cache.lock().expect("jwks cache lock");
        let mut by_kid = HashMap::new();
        let mut anonymous = Vec::new();
        for jwk in keys {
            let Some(alg) = accepted_algorithm(jwk) else {
                continue;
            };
            let Ok(key) = DecodingKey::from_jwk(jwk) else {
                continue;
            };
            match &jwk.common.key_id {
                Some(kid) => {
                    by_kid.insert(kid.clone(), (key, alg));
                }
                None => anonymous.push((key, alg)),
            }
        }
        let usable = by_kid.len() + anonymous.len();
        if usable > 0 {
            cache.keys = by_kid;
            cache.anonymous = anonymous;
        }
        usable
    }

    /// Whether the fetched keys are older than the maximum age.
    fn stale(&self) -> bool {
        self.source_remote
            && self
                .cache
                .lock()
                .expect("jwks cache lock")
                .fetched_keys
                .is_some_and(|t| t.elapsed() >= self.max_age)
    }

    fn lookup(&self, kid: Option<&str>) -> Option<Vec<(DecodingKey, Algorithm)>> {
        let cache = self.cache.lock().expect("jwks cache lock");
        match kid {
            Some(kid) => cache.keys.get(kid).map(|k| vec![k.clone()]),
            None if !cache.anonymous.is_empty() => Some(cache.anonymous.clone()),
            None if cache.keys.len() == 1 => Some(cache.keys.values().cloned().collect()),
            None => None,
        }
    }

    /// Fetch the JWKS unless it was fetched less than a minute ago (or, for
    /// stale keys, unless another caller just refetched them). Failures and
    /// answers without a usable key keep the cached keys.
    async fn refresh(&self, http: &reqwest::Client, stale: bool) {
        if !self.source_remote {
            return;
        }
        // Stale keys still verify while one caller refetches them: the others
        // do not queue behind an issuer that is slow or down.
        let _guard = if stale {
            match self.refresh.try_lock() {
                Ok(g) => g,
                Err(_) => return,
            }
        } else {
            self.refresh.lock().await
        };
        let url = {
            let cache = self.cache.lock().expect("jwks cache lock");
            let since_try = cache.last_fetch.map(|t| t.elapsed());
            // Unknown kid: at most once a minute. Stale keys: unless another
            // caller just refetched them, and at most once per maximum age
            // (or minute) while the issuer fails.
            let skip = if stale {
                cache
                    .fetched_keys
                    .is_some_and(|t| t.elapsed() < self.max_age)
                    || since_try.is_some_and(|d| d < self.max_age.min(REFRESH_INTERVAL))
            } else {
                since_try.is_some_and(|d| d < REFRESH_INTERVAL)
            };
            if skip {
                return;
            }
            cache.jwks_url.clone()
        };
        {
            let mut cache = self.cache.lock().expect("jwks cache lock");
            cache.last_fetch = Some(Instant::now());
        }
        match fetch_keys(http, &self.config.issuer, url).await {
            Ok((url, keys)) => {
                let usable = self.install_keys(&keys);
                let mut cache = self.cache.lock().expect("jwks cache lock");
                cache.jwks_url = Some(url);
                if usable > 0 {
                    cache.fetched_keys = Some(Instant::now());
                    tracing::info!(issuer = %self.config.name, keys = usable, "JWKS refreshed");
                } else {
                    tracing::warn!(issuer = %self.config.name, "JWKS answer has no usable key; keeping cached keys");
                }
            }
            Err(e) => {
                tracing::warn!(issuer = %self.config.name, error = %e, "JWKS refresh failed; keeping cached keys");
            }
        }
    }

    /// Verify `token` (already known to claim this issuer) and extract its claims.
    pub async fn verify(
        &self,
        http: &reqwest::Client,
        token: &str,
        header: &jsonwebtoken::Header,
        leeway: u64,
    ) -> Result<VerifiedToken, TokenError> {
        if !matches!(header.alg, Algorithm::RS256 | Algorithm::ES256) {
            return Err(TokenError::Algorithm);
        }
        let kid = header.kid.as_deref();
        if self.stale() {
            self.refresh(http, true).await;
        }
        let keys = match self.lookup(kid) {
            Some(k) => k,
            None => {
                self.refresh(http, false).await;
                self.lookup(kid).ok_or(TokenError::UnknownKey)?
            }
        };
        let mut validation = Validation::new(header.alg);
        validation.set_issuer(&[&self.config.issuer]);
        validation.set_audience(&[&self.config.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.validate_nbf = true;
        validation.leeway = leeway;
        let mut last = TokenError::Algorithm;
        for (key, alg) in keys {
            if alg != header.alg {
                last = TokenError::Algorithm;
                continue;
            }
            match jsonwebtoken::decode::<Map<String, Value>>(token, &key, &validation) {
                Ok(data) => return Ok(self.claims(data.claims)),
                Err(e) => last = TokenError::Invalid(describe(&e)),
            }
        }
        Err(last)
    }

    fn claims(&self, c: Map<String, Value>) -> VerifiedToken {
        let text = |k: &str| c.get(k).and_then(Value::as_str).map(str::to_owned);
        let roles = self
            .config
            .roles_claim
            .as_deref()
            .and_then(|k| c.get(k))
            .map(|v| match v {
                Value::String(s) => s
                    .split([' ', ','])
                    .filter(|r| !r.is_empty())
                    .map(str::to_owned)
                    .collect(),
                Value::Array(a) => a
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect(),
                _ => Vec::new(),
            })
            .unwrap_or_default();
        let claimed_tenant = self.config.tenant_claim.as_deref().and_then(text);
        let (tenant, bound_tenants) = if self.config.tenants.is_empty() {
            (claimed_tenant.clone(), None)
        } else {
            let bound = &self.config.tenants;
            (
                claimed_tenant.as_ref().and_then(|c| bound.get(c).cloned()),
                Some(bound.values().cloned().collect()),
            )
        };
        VerifiedToken {
            issuer: self.config.issuer.clone(),
            subject: text("sub").unwrap_or_default(),
            kind: self.config.kind,
            // Never preferred_username: at many issuers the user chooses it,
            // and it may look like somebody else's address.
            email: text("email"),
            email_verified: match c.get("email_verified") {
                Some(Value::Bool(b)) => *b,
                // Some issuers (Cognito) send it as a string.
                Some(Value::String(s)) => s == "true",
                _ => false,
            },
            name: text("name"),
            tenant,
            claimed_tenant,
            bound_tenants,
            roles,
            expires_at: c.get("exp").and_then(Value::as_u64).unwrap_or(0),
            dev: false,
        }
    }
}

/// The algorithm a JWK is for, if it is one we accept.
fn accepted_algorithm(jwk: &Jwk) -> Option<Algorithm> {
    let implied = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => Algorithm::RS256,
        AlgorithmParameters::EllipticCurve(ec) if ec.curve == EllipticCurve::P256 => {
            Algorithm::ES256
        }
        _ => return None,
    };
    match jwk.common.key_algorithm {
        None => Some(implied),
        Some(KeyAlgorithm::RS256) if implied == Algorithm::RS256 => Some(Algorithm::RS256),
        Some(KeyAlgorithm::ES256) if implied == Algorithm::ES256 => Some(Algorithm::ES256),
        Some(_) => None,
    }
}

fn describe(e: &jsonwebtoken::errors::Error) -> String {
    use jsonwebtoken::errors::ErrorKind::*;
    match e.kind() {
        ExpiredSignature => "expired".into(),
        ImmatureSignature => "not yet valid (nbf)".into(),
        InvalidAudience => "wrong audience".into(),
        InvalidIssuer => "wrong issuer".into(),
        InvalidSignature => "bad signature".into(),
        MissingRequiredClaim(c) => format!("missing claim {c}"),
        _ => "verification failed".into(),
    }
}

/// The `iss` of a token, read without verifying it (to pick the issuer).
pub fn peek_issuer(token: &str) -> Result<String, TokenError> {
    let payload = token.split('.').nth(1).ok_or(TokenError::Malformed)?;
    let bytes = URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .map_err(|_| TokenError::Malformed)?;
    let claims: Map<String, Value> =
        serde_json::from_slice(&bytes).map_err(|_| TokenError::Malformed)?;
    claims
        .get("iss")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or(TokenError::UnknownIssuer)
}

/// Fetch the keys (from `jwks_url`, or via discovery). Keys of types we do not
/// accept are skipped, not fatal.
async fn fetch_keys(
    http: &reqwest::Client,
    issuer: &str,
    jwks_url: Option<String>,
) -> anyhow::Result<(String, Vec<Jwk>)> {
    let url = match jwks_url {
        Some(u) => u,
        None => {
            let discovery = format!(
                "{}/.well-known/openid-configuration",
                issuer.trim_end_matches('/')
            );
            let doc: Value = http
                .get(&discovery)
                .send()
                .await?
                .error_for_status()?
                .json()
                .await?;
            doc.get("jwks_uri")
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| anyhow::anyhow!("discovery document has no jwks_uri"))?
        }
    };
    let set: Value = http
        .get(&url)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let keys = set
        .get("keys")
        .and_then(Value::as_array)
        .map(|keys| {
            keys.iter()
                .filter_map(|k| serde_json::from_value::<Jwk>(k.clone()).ok())
                .collect()
        })
        .unwrap_or_default();
    Ok((url, keys))
}
