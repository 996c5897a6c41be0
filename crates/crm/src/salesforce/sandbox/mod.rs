//! The Salesforce sandbox: the OAuth 2.0 JWT bearer token endpoint, which
//! verifies the assertion against the connected app's certificate, and the
//! REST API's `query`/`queryAll` with the SOQL subset P360 sends
//! ([`soql`]), `nextRecordsUrl` paging, an sObject's describe, Salesforce's
//! error bodies (`[{"message","errorCode"}]`), API-limit errors and faults
//! on request. In memory; served standalone by `p360 sandbox salesforce`,
//! or mounted by `p360 serve` at `/sandbox/salesforce` on embedded
//! defaults.
//!
//! Tests and demos drive it through `/_sandbox`: register a connected app
//! (`POST /_sandbox/apps`), write records (`POST
//! /_sandbox/orgs/{username}/{object}`: an upsert that stamps
//! `SystemModstamp`, and an opportunity's stage changes write
//! `OpportunityHistory`), delete them (`DELETE .../{object}/{id}`: kept with
//! `IsDeleted`, an account's opportunities with it, as the recycle bin
//! does), queue faults (`POST /_sandbox/faults`), expire sessions and read
//! counters (`GET /_sandbox/stats`).

pub mod data;
mod routes;
pub mod soql;

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Map, Value};

pub use routes::router;

/// How the sandbox behaves.
#[derive(Debug, Clone)]
pub struct SandboxOptions {
    /// The `instance_url` the token endpoint returns: where this sandbox is
    /// reached (its mount path included); when `None`, `http://` and the
    /// request's `Host` followed by `mount_path`.
    pub instance_url: Option<String>,
    /// Where the sandbox is mounted (`/sandbox/salesforce` in `p360
    /// serve`, empty standalone).
    pub mount_path: String,
    /// Share of data requests (0..=1) that meet a random fault.
    pub fault_rate: f64,
    pub seed: u64,
    /// How long a `timeout` fault holds the answer.
    pub hang_ms: u64,
}

/// A fault queued by a test: the next `count` data requests (after `after`
/// more succeed) meet it.
#[derive(Debug, Clone, Deserialize)]
pub struct Fault {
    /// `limit` (403 REQUEST_LIMIT_EXCEEDED), `server_error` (500),
    /// `unavailable` (503), `invalid_session` (401 INVALID_SESSION_ID),
    /// `timeout` (no answer for `hang_ms`).
    pub kind: String,
    #[serde(default = "one")]
    pub count: u64,
    #[serde(default)]
    pub after: u64,
}

fn one() -> u64 {
    1
}

/// A connected app: its consumer key, the certificate's public key, and the
/// user pre-authorised to use it (the JWT flow's `sub`).
#[derive(Debug, Clone)]
struct App {
    spki: Vec<u8>,
    username: String,
    audience: String,
}

/// An org: its records by object, and the clock that stamps them.
#[derive(Debug, Default)]
struct Org {
    id: String,
    tables: HashMap<String, data::Table>,
    last_stamp: Option<DateTime<Utc>>,
    next_id: u64,
    multi_currency: bool,
}

/// A query's remaining records, for `nextRecordsUrl`.
struct Cursor {
    records: Vec<Value>,
    total: usize,
    /// A `queryAll`'s (deleted records included).
    all: bool,
}

struct Sandbox {
    options: SandboxOptions,
    apps: Mutex<HashMap<String, App>>,
    orgs: Mutex<HashMap<String, Org>>,
    /// access token -> username
    sessions: Mutex<HashMap<String, String>>,
    cursors: Mutex<HashMap<String, Cursor>>,
    faults: Mutex<VecDeque<Fault>>,
    stats: Mutex<Stats>,
    rng: Mutex<u64>,
}

#[derive(Debug, Default, Clone, serde::Serialize)]
struct Stats {
    tokens_issued: u64,
    tokens_refused: u64,
    queries: u64,
    pages: u64,
    records_served: u64,
    faults: u64,
}

type Shared = Arc<Sandbox>;

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Sandbox {
    fn new(options: SandboxOptions) -> Sandbox {
        Sandbox {
            rng: Mutex::new(options.seed.max(1)),
            options,
            apps: Mutex::default(),
            orgs: Mutex::default(),
            sessions: Mutex::default(),
            cursors: Mutex::default(),
            faults: Mutex::default(),
            stats: Mutex::default(),
        }
    }

    fn random(&self) -> u64 {
        let mut s = lock(&self.rng);
        // xorshift64*
        *s ^= *s >> 12;
        *s ^= *s << 25;
        *s ^= *s >> 27;
        s.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn token(&self) -> String {
        format!("00D5g000000{:016x}!AR{:016x}", self.random(), self.random())
    }

    /// The fault this data request meets, if any.
    fn fault(&self) -> Option<String> {
        let mut queue = lock(&self.faults);
        if let Some(f) = queue.front_mut() {
            if f.after > 0 {
                f.after -= 1;
            } else {
                let kind = f.kind.clone();
                f.count -= 1;
                if f.count == 0 {
                    queue.pop_front();
                }
                lock(&self.stats).faults += 1;
                return Some(kind);
            }
        }
        drop(queue);
        if self.options.fault_rate > 0.0
            && ((self.random() >> 11) as f64 / (1u64 << 53) as f64) < self.options.fault_rate
        {
            lock(&self.stats).faults += 1;
            let kinds = ["limit", "server_error", "unavailable", "invalid_session"];
            return Some(kinds[(self.random() % 4) as usize].to_string());
        }
        None
    }

    /// Upsert records of `object` in `username`'s org, stamping them.
    fn write(
        &self,
        username: &str,
        object: &str,
        records: Vec<Map<String, Value>>,
    ) -> Result<Vec<String>, String> {
        let mut orgs = lock(&self.orgs);
        let org = orgs.get_mut(username).ok_or("no such org")?;
        let fields = data::schema(object, org.multi_currency).ok_or("no such object")?;
        let mut ids = Vec::with_capacity(records.len());
        for mut r in records {
            for k in r.keys() {
                if !fields.iter().any(|(f, _)| f == k) {
                    return Err(format!("No such column '{k}' on sobject of type {object}"));
                }
            }
            let now = org.stamp();
            let id = match r.get("Id").and_then(Value::as_str) {
                Some(id) => id.to_string(),
                None => {
                    org.next_id += 1;
                    data::new_id(object, org.next_id)
                }
            };
            let table = org.tables.entry(object.to_string()).or_default();
            let before = table.get(&id).cloned();
            let mut record = before.clone().unwrap_or_else(|| {
                let mut m = Map::new();
                m.insert(
                    "CreatedDate".into(),
                    Value::String(data::datetime_text(now)),
                );
                m.insert("IsDeleted".into(), Value::Bool(false));
                m
            });
            // A test may stamp a record itself: one committed late, with a
            // stamp earlier than records already seen.
            let now = r
                .remove("SystemModstamp")
                .and_then(|v| v.as_str().and_then(soql::parse_datetime))
                .unwrap_or(now);
            record.extend(r);
            record.insert("Id".into(), Value::String(id.clone()));
            record.insert(
                "SystemModstamp".into(),
                Value::String(data::datetime_text(now)),
            );
            if fields.iter().any(|(f, _)| *f == "LastModifiedDate") {
                record.insert(
                    "LastModifiedDate".into(),
                    Value::String(data::datetime_text(now)),
                );
            }
            if object == "Opportunity" {
                let stage = record.get("StageName").cloned();
                if before.as_ref().and_then(|b| b.get("StageName")) != stage.as_ref() {
                    let mut h = Map::new();
                    h.insert("OpportunityId".into(), Value::String(id.clone()));
                    for f in ["StageName", "Amount", "CloseDate"] {
                        h.insert(f.into(), record.get(f).cloned().unwrap_or(Value::Null));
                    }
                    h.insert(
                        "CreatedDate".into(),
                        Value::String(data::datetime_text(now)),
                    );
                    h.insert(
                        "SystemModstamp".into(),
                        Value::String(data::datetime_text(now)),
                    );
                    h.insert("IsDeleted".into(), Value::Bool(false));
                    org.next_id += 1;
                    let hid = data::new_id("OpportunityHistory", org.next_id);
                    h.insert("Id".into(), Value::String(hid.clone()));
                    org.tables
                        .entry("OpportunityHistory".into())
                        .or_default()
                        .insert(hid, h);
                }
            }
            org.tables
                .entry(object.to_string())
                .or_default()
                .insert(id.clone(), record);
            ids.push(id);
        }
        Ok(ids)
    }

    /// Delete a record (kept, flagged), an account's opportunities with it.
    fn delete(&self, username: &str, object: &str, id: &str) -> Result<(), String> {
        let mut orgs = lock(&self.orgs);
        let org = orgs.get_mut(username).ok_or("no such org")?;
        let now = org.stamp();
        let mut gone = vec![(object.to_string(), id.to_string())];
        if object == "Account"
            && let Some(opps) = org.tables.get("Opportunity")
        {
            gone.extend(
                opps.values()
                    .filter(|o| o.get("AccountId").and_then(Value::as_str) == Some(id))
                    .filter_map(|o| o.get("Id").and_then(Value::as_str))
                    .map(|o| ("Opportunity".to_string(), o.to_string())),
            );
        }
        let mut found = false;
        for (object, id) in gone {
            if let Some(r) = org.tables.get_mut(&object).and_then(|t| t.get_mut(&id)) {
                r.insert("IsDeleted".into(), Value::Bool(true));
                r.insert(
                    "SystemModstamp".into(),
                    Value::String(data::datetime_text(now)),
                );
                found = true;
            }
        }
        if found {
            Ok(())
        } else {
            Err("ENTITY_IS_DELETED".into())
        }
    }
}

impl Org {
    /// A new stamp, later than every earlier one (milliseconds, as
    /// Salesforce keeps them).
    fn stamp(&mut self) -> DateTime<Utc> {
        let now = Utc::now();
        let now = DateTime::from_timestamp_millis(now.timestamp_millis()).unwrap_or(now);
        let t = match self.last_stamp {
            Some(last) if last >= now => last + chrono::Duration::milliseconds(1),
            _ => now,
        };
        self.last_stamp = Some(t);
        t
    }
}
