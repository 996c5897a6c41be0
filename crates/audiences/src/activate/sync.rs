//! Syncing one segment: what TTD should hold (the CIDR blocks of the
//! audience's latest members, holdout excluded) against what it was sent;
//! only the difference goes, in chunks, each recorded once TTD took it, so a
//! sync cut short resumes where it stopped. Blocks that expire within
//! `segment_refresh_minutes` are sent again with a fresh TTL. The data
//! group around the segment is created once, found again by its marker
//! when an answer was lost (`activation::sync::ensure_object`).

use std::collections::{BTreeSet, HashMap};

use activation::SyncService;
use activation::sync::{ensure_object, marker};
use activation::ttd::model::{DataGroup, FirstPartyData, FirstPartyIpRequest, FirstPartyItem};
use chrono::{Duration, Utc};
use platform::jobs::Permanent;
use sqlx::PgPool;
use tenancy::{TenantId, TenantTx};

use super::store::{self, SegmentRow};
use crate::ids::AudienceId;

/// Blocks per Data API request.
const CHUNK: usize = 1_000;

/// What one sync sent.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Sent {
    pub added: usize,
    pub removed: usize,
    pub refreshed: usize,
    pub refused: usize,
}

/// The blocks to add, remove and refresh, from what TTD should hold and
/// what it was sent (with expiry): sorted, so chunks are reproducible.
pub fn plan(
    desired: &[String],
    sent: &HashMap<String, chrono::DateTime<Utc>>,
    refresh_by: chrono::DateTime<Utc>,
) -> (Vec<String>, Vec<String>, Vec<String>) {
    let want: BTreeSet<&String> = desired.iter().collect();
    let mut add = Vec::new();
    let mut refresh = Vec::new();
    for b in &want {
        match sent.get(*b) {
            None => add.push((*b).clone()),
            Some(expires) if *expires < refresh_by => refresh.push((*b).clone()),
            Some(_) => {}
        }
    }
    let mut remove: Vec<String> = sent.keys().filter(|b| !want.contains(b)).cloned().collect();
    remove.sort_unstable();
    (add, remove, refresh)
}

/// Bring the segment of `audience` for TTD advertiser `advertiser` up to
/// date with the audience's latest build; its data group's TTD id.
pub async fn sync_segment(
    svc: &SyncService,
    pool: &PgPool,
    tenant: TenantId,
    audience: AudienceId,
    advertiser: &str,
) -> anyhow::Result<(String, Sent)> {
    let mut tx = TenantTx::begin(pool, tenant).await?;
    let Some(name) = store::audience_name(&mut tx, audience).await? else {
        return Err(Permanent(format!(
            "an ad group targets audience {audience}, which does not exist"
        ))
        .into());
    };
    let segment = store::ensure(&mut tx, audience, advertiser).await?;
    tx.commit().await?;
    // Held for the whole sync: one sync of a segment at a time.
    let mut lock = TenantTx::begin(pool, tenant).await?;
    store::lock(&mut lock, segment.id).await?;
    let result = sync_locked(svc, pool, tenant, &name, segment).await;
    lock.end_read();
    result
}

async fn sync_locked(
    svc: &SyncService,
    pool: &PgPool,
    tenant: TenantId,
    audience_name: &str,
    mut segment: SegmentRow,
) -> anyhow::Result<(String, Sent)> {
    let mut tx = TenantTx::begin(pool, tenant).await?;
    let (build, domains) = store::activated_members(&mut tx, segment.audience_id).await?;
    let desired = accounts::read::cidr_blocks(tx.conn(), &domains).await?;
    let sent: HashMap<_, _> = store::entries(&mut tx, segment.id)
        .await?
        .into_iter()
        .collect();
    tx.end_read();
    let now = Utc::now();
    let refresh_by = now + Duration::minutes(i64::from(svc.segment_refresh_minutes));
    let (add, remove, refresh) = plan(&desired, &sent, refresh_by);
    let mut out = Sent::default();
    let mut refused = Vec::new();
    for chunk in remove.chunks(CHUNK) {
        let failed = send(svc, &segment, chunk, 0).await?;
        let mut tx = TenantTx::begin(pool, tenant).await?;
        let gone: Vec<String> = chunk
            .iter()
            .filter(|b| !failed.contains(*b))
            .cloned()
            .collect();
        store::removed(&mut tx, segment.id, &gone).await?;
        tx.commit().await?;
        out.removed += gone.len();
        refused.extend(failed);
    }
    let ttl = svc.segment_ttl_minutes;
    for (list, refreshing) in [(&add, false), (&refresh, true)] {
        for chunk in list.chunks(CHUNK) {
            // Counted from before the call: TTD's clock starts no earlier.
            let expires_at = Utc::now() + Duration::minutes(i64::from(ttl));
            let failed = send(svc, &segment, chunk, ttl).await?;
            let took: Vec<String> = chunk
                .iter()
                .filter(|b| !failed.contains(*b))
                .cloned()
                .collect();
            let mut tx = TenantTx::begin(pool, tenant).await?;
            store::sent(&mut tx, segment.id, &took, expires_at).await?;
            tx.commit().await?;
            if refreshing {
                out.refreshed += took.len();
            } else {
                out.added += took.len();
            }
            refused.extend(failed);
        }
    }
    out.refused = refused.len();
    for (action, n) in [
        ("added", out.added),
        ("removed", out.removed),
        ("refreshed", out.refreshed),
        ("refused", out.refused),
    ] {
        metrics::counter!("p360_audience_segment_blocks_total", "action" => action)
            .increment(n as u64);
    }
    if segment.first_party_data_id.is_none() && (!sent.is_empty() || out.added > 0) {
        let found = svc
            .client
            .first_party_segments(&segment.ttd_advertiser_id)
            .await?
            .into_iter()
            .find(|s| s.name == segment.name);
        if let Some(s) = found {
            let mut tx = TenantTx::begin(pool, tenant).await?;
            store::set_first_party_id(&mut tx, segment.id, s.first_party_data_id).await?;
            tx.commit().await?;
            segment.first_party_data_id = Some(s.first_party_data_id);
        }
    }
    let group = DataGroup {
        data_group_id: None,
        advertiser_id: segment.ttd_advertiser_id.clone(),
        data_group_name: format!("P360 audience {audience_name}"),
        description: Some(marker("data_group", segment.id)),
        first_party_data_ids: segment.first_party_data_id.into_iter().collect(),
    };
    let group_id = ensure_object(
        svc,
        pool,
        tenant,
        "data_group",
        segment.id,
        &segment.ttd_advertiser_id,
        group,
    )
    .await?;
    let error = (!refused.is_empty()).then(|| {
        format!(
            "TTD refused {} block(s), e.g. {}",
            refused.len(),
            refused.first().map(String::as_str).unwrap_or_default()
        )
    });
    let mut tx = TenantTx::begin(pool, tenant).await?;
    store::synced(&mut tx, segment.id, build, error.as_deref()).await?;
    tx.commit().await?;
    tracing::info!(
        audience = %segment.audience_id,
        advertiser = %segment.ttd_advertiser_id,
        build,
        added = out.added,
        removed = out.removed,
        refreshed = out.refreshed,
        refused = out.refused,
        "audience segment synced to TTD"
    );
    Ok((group_id, out))
}

/// One Data API request for `blocks` of the segment with `ttl` (0:
/// removed); the blocks TTD refused.
async fn send(
    svc: &SyncService,
    segment: &SegmentRow,
    blocks: &[String],
    ttl: u32,
) -> anyhow::Result<Vec<String>> {
    let request = FirstPartyIpRequest {
        data_owner_id: segment.ttd_advertiser_id.clone(),
        items: vec![FirstPartyItem {
            data: vec![FirstPartyData {
                name: segment.name.clone(),
                ttl_in_minutes: ttl,
                ip_addresses: Vec::new(),
                ip_address_ranges: blocks.to_vec(),
            }],
        }],
    };
    let failed = svc.client.send_first_party_ips(&request).await?;
    // A refusal that names no block refuses the request itself.
    if let Some(f) = failed.iter().find(|f| f.ip_address.is_none()) {
        anyhow::bail!(
            "TTD's Data API refused the segment {}: {} {}",
            segment.name,
            f.error_code,
            f.message
        );
    }
    Ok(failed.into_iter().filter_map(|f| f.ip_address).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_difference_and_what_expires_soon_is_planned() {
        let now = Utc::now();
        let far = now + Duration::days(20);
        let soon = now + Duration::days(2);
        let sent: HashMap<String, _> = [
            ("10.0.0.0/24".to_string(), far),
            ("10.0.1.0/24".to_string(), soon),
            ("10.0.9.0/24".to_string(), far),
        ]
        .into();
        let desired = [
            "10.0.2.0/24".to_string(),
            "10.0.1.0/24".to_string(),
            "10.0.0.0/24".to_string(),
        ];
        let (add, remove, refresh) = plan(&desired, &sent, now + Duration::days(7));
        assert_eq!(add, ["10.0.2.0/24"]);
        assert_eq!(remove, ["10.0.9.0/24"]);
        assert_eq!(refresh, ["10.0.1.0/24"]);
        // In step and far from expiry: nothing to send.
        let (add, remove, refresh) = plan(&desired[..1], &[(desired[0].clone(), far)].into(), now);
        assert!(add.is_empty() && remove.is_empty() && refresh.is_empty());
    }
}
