//! Refusals answered from memory, before any database work: addresses whose
//! bucket for bad credentials ran dry (429 until it refills), and API key
//! secrets just found unknown (401 for a minute; an unknown secret never
//! becomes a key). A flood of bad keys from one address then costs at most
//! its burst of look-ups.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::cache::Key;

/// Entries kept at most per map; past it, expired ones are dropped first and
/// then everything (a flood of distinct keys must not grow memory).
const MAX_ENTRIES: usize = 100_000;
/// How long a refused API key is answered from memory.
pub const REFUSED_KEY_TTL: Duration = Duration::from_secs(60);

#[derive(Default)]
pub struct Shield {
    limited: Mutex<HashMap<String, Instant>>,
    refused: Mutex<HashMap<Key, (Instant, String)>>,
}

fn insert<K: std::hash::Hash + Eq, V>(
    map: &mut HashMap<K, V>,
    k: K,
    v: V,
    until: impl Fn(&V) -> Instant,
) {
    if map.len() >= MAX_ENTRIES {
        let now = Instant::now();
        map.retain(|_, v| until(v) > now);
        if map.len() >= MAX_ENTRIES {
            map.clear();
        }
    }
    map.insert(k, v);
}

impl Shield {
    /// `source` was refused for `retry_after`.
    pub fn limited(&self, source: &str, retry_after: Duration) {
        let mut map = self.limited.lock().expect("shield");
        insert(
            &mut map,
            source.to_owned(),
            Instant::now() + retry_after,
            |t| *t,
        );
    }

    /// How long `source` is still refused, if it is.
    pub fn still_limited(&self, source: &str) -> Option<Duration> {
        let map = self.limited.lock().expect("shield");
        map.get(source)
            .and_then(|until| until.checked_duration_since(Instant::now()))
    }

    /// The API key secret with this hash is unknown (`why`).
    pub fn refused(&self, key: Key, why: &str) {
        let mut map = self.refused.lock().expect("shield");
        insert(
            &mut map,
            key,
            (Instant::now() + REFUSED_KEY_TTL, why.to_owned()),
            |(t, _)| *t,
        );
    }

    /// Why this credential was refused a moment ago, if it was.
    pub fn was_refused(&self, key: &Key) -> Option<String> {
        let map = self.refused.lock().expect("shield");
        map.get(key)
            .filter(|(until, _)| *until > Instant::now())
            .map(|(_, why)| why.clone())
    }
}
