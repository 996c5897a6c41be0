//! The sandbox's first-party IP data, as TTD's Data API takes it:
//! `POST /data/firstpartyipaddress` with `{DataOwnerId, Items: [{Data:
//! [{Name, TtlInMinutes, IPAddresses, IPAddressRanges}]}]}`, answering
//! `{DataOwnerId, FailedLines: [{DataName, ErrorCode, IPAddress, Message,
//! ItemNumber, DataNumber}]}` (field names and error codes from TTD's
//! published Data API Swagger, `IPAddressDataRequest` and
//! `IPAddressDataServerResponse`). Each (owner, name) is a segment whose
//! addresses live until their TTL passes; a TTL of 0 takes them out at
//! once (how P360 removes a company). The segments are listed by
//! `POST /v3/dmp/firstparty/advertiser` (`{AdvertiserId}` → `{Result:
//! [{FirstPartyDataId, Name, ...}]}`), and a test reads a segment's exact
//! contents at `GET /_sandbox/data/firstparty/{owner}/{name}` (with how many
//! lines it was ever sent).

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{Shared, invalid};

/// A first-party segment: its id and its addresses (or ranges) with when
/// each expires.
#[derive(Debug, Default)]
pub(super) struct Segment {
    id: u64,
    entries: BTreeMap<String, Instant>,
    /// Addresses and ranges received for it, removals included (how tests
    /// see that only a difference was sent).
    received: u64,
}

/// Segments by (data owner, name).
#[derive(Debug, Default)]
pub(super) struct FirstParty {
    segments: HashMap<(String, String), Segment>,
    next: u64,
}

impl FirstParty {
    /// Whether `owner` has the segment `id`.
    pub(super) fn has(&self, owner: &str, id: i64) -> bool {
        self.segments
            .iter()
            .any(|((o, _), seg)| o == owner && seg.id as i64 == id)
    }
}

/// TTD's default first-party TTL (minutes) when a line gives none.
const DEFAULT_TTL: u64 = 43_200;

fn valid_range(r: &str) -> bool {
    if r.parse::<ipnet::IpNet>().is_ok() {
        return true;
    }
    let Some((a, b)) = r.split_once('-') else {
        return false;
    };
    match (a.trim().parse::<IpAddr>(), b.trim().parse::<IpAddr>()) {
        (Ok(a), Ok(b)) => a.is_ipv4() == b.is_ipv4() && a <= b,
        _ => false,
    }
}

pub(super) async fn ingest(State(s): State<Shared>, body: axum::body::Bytes) -> Response {
    let Ok(v) = serde_json::from_slice::<Value>(&body) else {
        return invalid(vec![("body".into(), "is not JSON".into())]);
    };
    let owner = v.get("DataOwnerId").and_then(Value::as_str).unwrap_or("");
    if owner.is_empty() {
        return (
            StatusCode::BAD_REQUEST,
            Json(
                json!({"DataOwnerId": null, "FailedLines": [{"ErrorCode": "MissingDataOwnerId",
                "Message": "DataOwnerId is required."}]}),
            ),
        )
            .into_response();
    }
    let Some(items) = v
        .get("Items")
        .and_then(Value::as_array)
        .filter(|i| !i.is_empty())
    else {
        return invalid(vec![(
            "Items".into(),
            "At least one item is required.".into(),
        )]);
    };
    let mut failed = Vec::new();
    let mut store = s.store.lock().unwrap_or_else(|e| e.into_inner());
    let first_party = &mut store.first_party;
    let now = Instant::now();
    for (i, item) in items.iter().enumerate() {
        let data = item
            .get("Data")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        for (d, entry) in data.iter().enumerate() {
            let name = entry.get("Name").and_then(Value::as_str).unwrap_or("");
            if name.is_empty() {
                failed.push(
                    json!({"ErrorCode": "Unknown", "Message": "Name is required.",
                    "ItemNumber": i.to_string(), "DataNumber": d.to_string()}),
                );
                continue;
            }
            let ttl = entry
                .get("TtlInMinutes")
                .and_then(Value::as_u64)
                .unwrap_or(DEFAULT_TTL);
            let key = (owner.to_string(), name.to_string());
            if !first_party.segments.contains_key(&key) {
                first_party.next += 1;
                let id = 90_000 + first_party.next;
                first_party.segments.insert(
                    key.clone(),
                    Segment {
                        id,
                        ..Segment::default()
                    },
                );
            }
            let segment = first_party.segments.get_mut(&key).expect("inserted above");
            let strings = |field: &str| -> Vec<String> {
                entry
                    .get(field)
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(Value::as_str)
                            .map(str::to_owned)
                            .collect()
                    })
                    .unwrap_or_default()
            };
            let mut apply = |value: String, ok: bool, code: &str| {
                segment.received += 1;
                if !ok {
                    failed.push(
                        json!({"DataName": name, "ErrorCode": code, "IPAddress": value,
                        "Message": format!("{value} is not valid."),
                        "ItemNumber": i.to_string(), "DataNumber": d.to_string()}),
                    );
                } else if ttl == 0 {
                    segment.entries.remove(&value);
                } else {
                    segment
                        .entries
                        .insert(value, now + Duration::from_secs(ttl * 60));
                }
            };
            for ip in strings("IPAddresses") {
                let ok = ip.parse::<IpAddr>().is_ok();
                apply(ip, ok, "InvalidIPAddress");
            }
            for range in strings("IPAddressRanges") {
                let ok = valid_range(&range);
                apply(range, ok, "InvalidIPAddressRange");
            }
        }
    }
    Json(json!({"DataOwnerId": owner, "FailedLines": failed})).into_response()
}

/// `POST /v3/dmp/firstparty/advertiser`: an advertiser's first-party
/// segments.
pub(super) async fn query(State(s): State<Shared>, body: axum::body::Bytes) -> Response {
    let v: Value = serde_json::from_slice(&body).unwrap_or_default();
    let Some(owner) = v.get("AdvertiserId").and_then(Value::as_str) else {
        return invalid(vec![(
            "AdvertiserId".into(),
            "The AdvertiserId field is required.".into(),
        )]);
    };
    let store = s.store.lock().unwrap_or_else(|e| e.into_inner());
    let now = Instant::now();
    let mut result: Vec<Value> = store
        .first_party
        .segments
        .iter()
        .filter(|((o, _), _)| o == owner)
        .map(|((_, name), seg)| {
            json!({"FirstPartyDataId": seg.id, "Name": name,
                   "ActiveIpCount": seg.entries.values().filter(|e| **e > now).count()})
        })
        .collect();
    result.sort_by_key(|r| r["FirstPartyDataId"].as_u64());
    Json(json!({"Result": result, "ResultCount": result.len()})).into_response()
}

/// `GET /_sandbox/data/firstparty/{owner}/{name}`: the segment's live
/// addresses and ranges, sorted (for tests).
pub(super) async fn contents(
    State(s): State<Shared>,
    Path((owner, name)): Path<(String, String)>,
) -> Response {
    let store = s.store.lock().unwrap_or_else(|e| e.into_inner());
    let now = Instant::now();
    match store.first_party.segments.get(&(owner, name)) {
        Some(seg) => {
            let live: Vec<&String> = seg
                .entries
                .iter()
                .filter(|(_, exp)| **exp > now)
                .map(|(v, _)| v)
                .collect();
            Json(json!({"FirstPartyDataId": seg.id, "Entries": live,
                        "LinesReceived": seg.received}))
            .into_response()
        }
        None => StatusCode::NOT_FOUND.into_response(),
    }
}
