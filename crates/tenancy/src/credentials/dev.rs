//! The built-in development issuer: an ES256 signing key kept in the data dir,
//! tokens minted by `p360 token`, discovery and JWKS served by the app. Never
//! in production mode (configuration refuses it).

use std::path::{Path, PathBuf};

use crate::config::{IssuerConfig, IssuerKind};
use anyhow::{Context, Result};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

/// The `iss` of development tokens.
pub const ISSUER: &str = "p360-dev";
/// The `aud` of development tokens.
pub const AUDIENCE: &str = "p360-api";
pub const TENANT_CLAIM: &str = "tenant";
pub const ROLES_CLAIM: &str = "roles";

/// The development issuer's key.
pub struct DevIssuer {
    pkcs8: Vec<u8>,
    x: String,
    y: String,
    kid: String,
}

impl DevIssuer {
    /// Load the key from `DATA_DIR/dev-issuer/signing-key.p8`, creating it on first use.
    pub fn load_or_create(data_dir: &Path) -> Result<DevIssuer> {
        let path = key_path(data_dir);
        let pkcs8 = super::key_file::load_or_create(&path, || {
            let doc = EcdsaKeyPair::generate_pkcs8(
                &ECDSA_P256_SHA256_FIXED_SIGNING,
                &SystemRandom::new(),
            )
            .map_err(|_| anyhow::anyhow!("cannot generate a signing key"))?;
            Ok(doc.as_ref().to_vec())
        })?;
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &pkcs8)
            .map_err(|e| anyhow::anyhow!("{} is not a P-256 PKCS#8 key: {e}", path.display()))?;
        let point = pair.public_key().as_ref();
        // Uncompressed SEC1 point: 0x04 || x || y.
        anyhow::ensure!(
            point.len() == 65 && point[0] == 4,
            "unexpected public key encoding"
        );
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, point);
        Ok(DevIssuer {
            x: URL_SAFE_NO_PAD.encode(&point[1..33]),
            y: URL_SAFE_NO_PAD.encode(&point[33..65]),
            kid: hex(&digest.as_ref()[..8]),
            pkcs8,
        })
    }

    /// The issuer settings the verifier uses for development tokens.
    pub fn issuer_config() -> IssuerConfig {
        IssuerConfig {
            name: "dev".into(),
            issuer: ISSUER.into(),
            audience: AUDIENCE.into(),
            jwks_url: None,
            // Staff or customer is decided by the role in each token.
            kind: IssuerKind::External,
            tenant_claim: Some(TENANT_CLAIM.into()),
            // Any tenant: development only (refused in production).
            tenants: Default::default(),
            roles_claim: Some(ROLES_CLAIM.into()),
        }
    }

    pub fn jwk(&self) -> Jwk {
        serde_json::from_value(self.jwks()["keys"][0].clone()).expect("our JWK parses")
    }

    /// The public JWKS document.
    pub fn jwks(&self) -> Value {
        json!({"keys": [{
            "kty": "EC", "crv": "P-256", "x": self.x, "y": self.y,
            "kid": self.kid, "alg": "ES256", "use": "sig"
        }]})
    }

    /// Mint a signed access token.
    pub fn mint(&self, claims: &DevClaims) -> Result<String> {
        let now = jsonwebtoken::get_current_timestamp();
        let mut payload = json!({
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": format!("dev|{}", claims.email),
            "email": claims.email,
            "email_verified": true,
            "name": claims.email.split('@').next().unwrap_or_default(),
            ROLES_CLAIM: [claims.role],
            "iat": now,
            "nbf": now,
            "exp": now + claims.ttl_secs,
        });
        if let Some(t) = &claims.tenant {
            payload[TENANT_CLAIM] = Value::String(t.clone());
        }
        self.sign(&payload)
    }

    /// Sign arbitrary claims with this issuer's key (ES256, with its `kid`).
    pub fn sign(&self, claims: &Value) -> Result<String> {
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &EncodingKey::from_ec_der(&self.pkcs8))
            .context("cannot sign the token")
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }
}

/// What `p360 token` puts in a development token.
#[derive(Debug, Clone)]
pub struct DevClaims {
    pub tenant: Option<String>,
    pub role: String,
    pub email: String,
    pub ttl_secs: u64,
}

fn key_path(data_dir: &Path) -> PathBuf {
    data_dir.join("dev-issuer").join("signing-key.p8")
}

/// Lower-case hex of `bytes` (the `hex` crate: the audit archive writes two
/// hashes per event, a million events a month).
pub(crate) fn hex(bytes: &[u8]) -> String {
    hex::encode(bytes)
}
