//! Caching authenticated principals, so that verifying a token and loading its
//! user does not dominate every request.
//!
//! Entries are keyed by the SHA-256 of the bearer credential (a JWT or an API
//! key secret) and live until the token expires or [`TTL`], whichever is
//! sooner. Changes that affect authentication (a key revoked, a user
//! deactivated or re-roled, a tenant suspended, staff re-assigned) are
//! announced with `pg_notify` inside the changing transaction, so every
//! instance drops the affected entries when it commits; the instance that made
//! the change also drops them synchronously. If the notification connection is
//! lost the whole cache is cleared, and [`TTL`] bounds staleness regardless.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_lc_rs::digest::{SHA256, digest};
use sqlx::postgres::PgListener;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::principal::{Actor, Principal};
use crate::scope::{ScopedTransaction, TenantId};

/// The longest a cached principal is trusted without a database look-up.
pub const TTL: Duration = Duration::from_secs(30);
const CHANNEL: &str = "p360_auth_invalidate";
const MAX_ENTRIES: usize = 50_000;

/// What changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invalidation {
    Actor(Uuid),
    Tenant(TenantId),
}

impl Invalidation {
    fn encode(&self) -> String {
        match self {
            Invalidation::Actor(id) => format!("actor:{id}"),
            Invalidation::Tenant(t) => format!("tenant:{t}"),
        }
    }

    fn decode(s: &str) -> Option<Invalidation> {
        let (kind, id) = s.split_once(':')?;
        let id: Uuid = id.parse().ok()?;
        match kind {
            "actor" => Some(Invalidation::Actor(id)),
            "tenant" => Some(Invalidation::Tenant(TenantId(id))),
            _ => None,
        }
    }
}

impl PrincipalCache {
    /// Commit a change that affects authentication: announce it to every
    /// instance (delivered on commit) and drop it from this one at once.
    pub async fn commit_change(
        &self,
        mut tx: impl ScopedTransaction,
        what: Invalidation,
    ) -> Result<(), sqlx::Error> {
        announce(&mut tx, &what).await?;
        tx.commit().await?;
        self.forget(&what);
        Ok(())
    }
}

/// Announce a change to every instance; delivered when `tx` commits.
pub async fn announce(tx: &mut PgConnection, what: &Invalidation) -> Result<(), sqlx::Error> {
    sqlx::query!("SELECT pg_notify($1, $2)", CHANNEL, what.encode())
        .execute(tx)
        .await?;
    Ok(())
}

struct Entry {
    principal: Principal,
    until: Instant,
    /// When the actor's last-use time was last written.
    touched: Instant,
}

#[derive(Default)]
pub struct PrincipalCache {
    entries: Mutex<HashMap<[u8; 32], Entry>>,
    /// Bumped by every invalidation, so that a look-up that raced with one
    /// does not put a stale principal back.
    generation: std::sync::atomic::AtomicU64,
}

pub type Key = [u8; 32];

pub fn key(credential: &str) -> Key {
    let d = digest(&SHA256, credential.as_bytes());
    let mut k = [0u8; 32];
    k.copy_from_slice(d.as_ref());
    k
}

impl PrincipalCache {
    pub fn generation(&self) -> u64 {
        self.generation.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Whether the actor's last-use time is due to be written (at most once per `every`).
    pub fn touch_due(&self, key: &Key, every: Duration) -> bool {
        let mut map = self.entries.lock().expect("principal cache");
        match map.get_mut(key) {
            Some(e) if e.touched.elapsed() >= every => {
                e.touched = Instant::now();
                true
            }
            _ => false,
        }
    }

    pub fn get(&self, key: &Key) -> Option<Principal> {
        let mut map = self.entries.lock().expect("principal cache");
        match map.get(key) {
            Some(e) if e.until > Instant::now() => Some(e.principal.clone()),
            Some(_) => {
                map.remove(key);
                None
            }
            None => None,
        }
    }

    /// Cache `principal` until `token_exp` (unix seconds) or the TTL, unless an
    /// invalidation happened since `generation` was read.
    pub fn put(&self, key: Key, principal: &Principal, token_exp: Option<u64>, generation: u64) {
        let mut until = Instant::now() + TTL;
        if let Some(exp) = token_exp {
            let now = jsonwebtoken::get_current_timestamp();
            let left = Duration::from_secs(exp.saturating_sub(now));
            until = until.min(Instant::now() + left);
        }
        let mut map = self.entries.lock().expect("principal cache");
        if self.generation() != generation {
            return;
        }
        if map.len() >= MAX_ENTRIES {
            let now = Instant::now();
            map.retain(|_, e| e.until > now);
            if map.len() >= MAX_ENTRIES {
                map.clear();
            }
        }
        map.insert(
            key,
            Entry {
                principal: principal.clone(),
                until,
                touched: Instant::now(),
            },
        );
    }

    pub fn forget(&self, what: &Invalidation) {
        let mut map = self.entries.lock().expect("principal cache");
        self.generation
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        map.retain(|_, e| match what {
            Invalidation::Actor(id) => match &e.principal.actor {
                Actor::User(u) => u.0 != *id,
                // A key acts for its creator: it goes when they change.
                Actor::ApiKey(k) => k.0 != *id && e.principal.person.map(|p| p.0) != Some(*id),
                Actor::System => true,
            },
            Invalidation::Tenant(t) => {
                e.principal.tenant != Some(*t) && !e.principal.assigned.contains(t)
            }
        });
    }

    pub fn clear(&self) {
        let mut map = self.entries.lock().expect("principal cache");
        self.generation
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        map.clear();
    }
}

/// Listen for invalidations from every instance until the process ends.
pub fn spawn_listener(pool: PgPool, cache: Arc<PrincipalCache>) {
    tokio::spawn(async move {
        loop {
            let mut listener = match PgListener::connect_with(&pool).await {
                Ok(l) => l,
                Err(e) => {
                    tracing::warn!(error = %e, "auth cache: cannot listen for invalidations; retrying");
                    cache.clear();
                    tokio::time::sleep(Duration::from_secs(2)).await;
                    continue;
                }
            };
            if let Err(e) = listener.listen(CHANNEL).await {
                tracing::warn!(error = %e, "auth cache: LISTEN failed; retrying");
                tokio::time::sleep(Duration::from_secs(2)).await;
                continue;
            }
            // Anything may have changed while nobody listened.
            cache.clear();
            loop {
                match listener.try_recv().await {
                    Ok(Some(n)) => match Invalidation::decode(n.payload()) {
                        Some(what) => cache.forget(&what),
                        None => cache.clear(),
                    },
                    Ok(None) => {
                        // Connection lost; sqlx reconnects on the next call, but
                        // notifications may have been missed.
                        cache.clear();
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "auth cache: listener failed; reconnecting");
                        cache.clear();
                        break;
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    });
}
