//! A tenant's Salesforce connection: the connected app's consumer key, the
//! integration user, the login host and the private key (sealed by the
//! vault, never returned, never logged), checked by signing in before it
//! is stored.

pub mod api;
pub mod service;
pub mod store;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// What a tenant sends to connect its org.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewConnection {
    /// The connected app's consumer key.
    pub consumer_key: String,
    /// The integration user's username (pre-authorised on the app).
    pub username: String,
    /// `login.salesforce.com`, `test.salesforce.com` or the org's My Domain
    /// (`*.my.salesforce.com`).
    pub login_host: String,
    /// The private key whose certificate the connected app holds: PEM,
    /// PKCS#8 (`PRIVATE KEY`) or PKCS#1 (`RSA PRIVATE KEY`), RSA 2048 bits
    /// or more.
    pub private_key: String,
    /// The org's currency when it has one currency (default `USD`); a
    /// multi-currency org's opportunities carry their own.
    #[serde(default)]
    pub currency: Option<String>,
}

impl std::fmt::Debug for NewConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewConnection")
            .field("consumer_key", &self.consumer_key)
            .field("username", &self.username)
            .field("login_host", &self.login_host)
            .field("private_key", &"[redacted]")
            .finish()
    }
}

/// How far one object is synced.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ObjectSync {
    pub object: String,
    /// The greatest `SystemModstamp` synced.
    pub watermark: DateTime<Utc>,
    /// Records synced (inserted or updated) so far.
    pub records: i64,
}

/// A tenant's connection as shown (never its key).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Connection {
    pub consumer_key: String,
    pub username: String,
    pub login_host: String,
    pub currency: String,
    /// The org's instance, from its last sign-in.
    pub instance_url: Option<String>,
    /// `connected`, or `failing` (the last sync failed: `last_error`).
    pub status: String,
    pub last_error: Option<String>,
    pub last_sync_at: Option<DateTime<Utc>>,
    pub connected_at: DateTime<Utc>,
    pub objects: Vec<ObjectSync>,
}

/// The vault's purpose for the private key.
pub const KEY_PURPOSE: &str = "salesforce.private_key";

/// Whether `host` is a login host P360 signs in at.
pub fn valid_login_host(host: &str) -> bool {
    host == "login.salesforce.com"
        || host == "test.salesforce.com"
        || host.strip_suffix(".my.salesforce.com").is_some_and(|d| {
            !d.is_empty()
                && d.split('.').all(|l| {
                    !l.is_empty() && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                })
        })
}
