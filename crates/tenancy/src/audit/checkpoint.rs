//! The audit chains anchored outside the database. The hash chain shows an
//! edit to anyone who cannot recompute it, but the database's owner can:
//! remove the last events and move the head back, or rewrite an event and
//! every hash after it, and the chain is whole again. A checkpoint — each
//! chain's head (sequence number and hash) at a moment, signed with a key
//! the database does not hold — is written to object storage (in AWS, the
//! audit archive bucket under Object Lock); `p360 audit verify` then checks
//! that every chain still holds the checkpoint's hash at the checkpoint's
//! sequence number. The worker takes one every `audit.checkpoint_every_secs`.

use std::path::Path;

use anyhow::{Context, Result};
use aws_lc_rs::hmac;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use futures_util::TryStreamExt;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStoreExt, PutPayload};
use platform::config::PlatformConfig;
use platform::jobs::{Job, JobContext};
use platform::storage::Storage;
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use uuid::Uuid;

use super::{chain_name, store};
use crate::config::{AuditConfig, decode_key};
use crate::credentials::dev::hex;
use crate::scope::{AllTenants, ScopedTx};

const PREFIX: &str = "audit/checkpoints";

/// One chain's head when the checkpoint was taken.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainHead {
    /// The tenant's id; the nil uuid for the platform's chain.
    pub chain_id: Uuid,
    pub seq: i64,
    /// Hex.
    pub hash: String,
}

/// What is signed, and the signature.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Checkpoint {
    pub taken_at: DateTime<Utc>,
    pub chains: Vec<ChainHead>,
    /// HMAC-SHA256 of the JSON of `taken_at` and `chains`, base64.
    pub signature: String,
}

/// How the database differs from a checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    /// An event of the checkpoint was changed or removed: history rewritten.
    Tampered(String),
    /// A chain, whole as far as it goes, ends before the checkpoint's head:
    /// what a restore to an earlier point in time looks like (and a cut
    /// tail too, which is why only an operator who restored may accept it).
    Truncated(String),
}

/// Chain heads of signed checkpoints: (chain, sequence) to the event's
/// hash (hex) and when the checkpoint was taken.
pub type SignedHeads = std::collections::HashMap<(Uuid, i64), (String, DateTime<Utc>)>;

/// Where checkpoints go and the key that signs them.
#[derive(Clone)]
pub struct Checkpoints {
    storage: Storage,
    key: hmac::Key,
}

impl Checkpoints {
    /// From `[audit]`: the configured key, or on embedded defaults one kept
    /// in `DATA_DIR/audit/checkpoint.key`; the configured bucket, or the
    /// platform's object storage.
    pub fn from_config(audit: &AuditConfig, platform: &PlatformConfig) -> Result<Checkpoints> {
        let key = match &audit.checkpoint_key {
            Some(k) => decode_key(k).context("audit.checkpoint_key is not base64 of 32 bytes")?,
            None => key_file(&platform.data_dir.join("audit").join("checkpoint.key"))?,
        };
        let storage = match &audit.checkpoint_bucket {
            Some(bucket) => Storage::locked_bucket(platform, bucket)?,
            None => Storage::from_config(platform)?,
        };
        Ok(Checkpoints {
            storage,
            key: hmac::Key::new(hmac::HMAC_SHA256, &key),
        })
    }

    /// Where the checkpoints (and the audit archive) are kept.
    pub fn storage(&self) -> &Storage {
        &self.storage
    }

    /// Take a checkpoint of every chain now; returns it and its object key.
    pub async fn take(&self, pool: &PgPool) -> Result<(String, Checkpoint)> {
        let mut tx = ScopedTx::all(pool, AllTenants::system()).await?;
        let heads = store::heads(&mut tx).await?;
        drop(tx); // read only
        let taken_at = Utc::now();
        let chains: Vec<ChainHead> = heads
            .into_iter()
            .map(|(chain_id, seq, hash)| ChainHead {
                chain_id,
                seq,
                hash: hex(&hash),
            })
            .collect();
        let signature = STANDARD.encode(hmac::sign(&self.key, &signed(&taken_at, &chains)?));
        let checkpoint = Checkpoint {
            taken_at,
            chains,
            signature,
        };
        // Names sort by time, so the newest is the last listed.
        let name = format!("{PREFIX}/{}.json", taken_at.format("%Y%m%dT%H%M%S%.6fZ"));
        self.storage
            .store
            .put(
                &ObjectPath::from(name.as_str()),
                PutPayload::from(serde_json::to_vec_pretty(&checkpoint)?),
            )
            .await
            .with_context(|| format!("cannot write {name} to {}", self.storage.describe))?;
        Ok((name, checkpoint))
    }

    /// Every checkpoint's object key, in no particular order.
    async fn listed(&self) -> Result<Vec<ObjectPath>> {
        let listed: Vec<object_store::ObjectMeta> = self
            .storage
            .store
            .list(Some(&ObjectPath::from(PREFIX)))
            .try_collect()
            .await
            .with_context(|| format!("cannot list {PREFIX} in {}", self.storage.describe))?;
        Ok(listed.into_iter().map(|o| o.location).collect())
    }

    /// The newest checkpoint, if any was taken.
    pub async fn latest(&self) -> Result<Option<(String, Checkpoint)>> {
        let Some(newest) = self.listed().await?.into_iter().max() else {
            return Ok(None);
        };
        let bytes = self.storage.store.get(&newest).await?.bytes().await?;
        let checkpoint = serde_json::from_slice(&bytes)
            .with_context(|| format!("{newest} is not a checkpoint"))?;
        Ok(Some((newest.to_string(), checkpoint)))
    }

    /// Whether `checkpoint` is signed with this key.
    fn signed_here(&self, checkpoint: &Checkpoint) -> Result<bool> {
        let signed = signed(&checkpoint.taken_at, &checkpoint.chains)?;
        let signature = STANDARD.decode(&checkpoint.signature).unwrap_or_default();
        Ok(hmac::verify(&self.key, &signed, &signature).is_ok())
    }

    /// Every chain head of every checkpoint signed with this key, by chain
    /// and sequence, with its hash (hex) and when it was taken; and what is
    /// wrong with the others (not a checkpoint, or not signed here).
    pub async fn signed_heads(&self) -> Result<(SignedHeads, Vec<String>)> {
        let mut heads = SignedHeads::new();
        let mut problems = Vec::new();
        for location in self.listed().await? {
            let bytes = self.storage.store.get(&location).await?.bytes().await?;
            let checkpoint: Checkpoint = match serde_json::from_slice(&bytes) {
                Ok(c) => c,
                Err(e) => {
                    problems.push(format!("{location} is not a checkpoint: {e}"));
                    continue;
                }
            };
            if !self.signed_here(&checkpoint)? {
                problems.push(format!(
                    "{location} is not signed with this key (altered or forged)"
                ));
                continue;
            }
            for head in checkpoint.chains {
                heads.insert((head.chain_id, head.seq), (head.hash, checkpoint.taken_at));
            }
        }
        Ok((heads, problems))
    }

    /// What in the database disagrees with `checkpoint` (nothing: empty).
    pub async fn check(&self, pool: &PgPool, checkpoint: &Checkpoint) -> Result<Vec<Finding>> {
        let when = checkpoint.taken_at.to_rfc3339();
        if !self.signed_here(checkpoint)? {
            return Ok(vec![Finding::Tampered(format!(
                "the checkpoint of {when} is not signed with this key (altered or forged)"
            ))]);
        }
        let mut problems = Vec::new();
        let mut tx = ScopedTx::all(pool, AllTenants::system()).await?;
        let heads: std::collections::HashMap<Uuid, i64> = store::heads(&mut tx)
            .await?
            .into_iter()
            .map(|(chain, seq, _)| (chain, seq))
            .collect();
        let bases = store::bases(&mut tx).await?;
        for head in &checkpoint.chains {
            let name = chain_name(head.chain_id);
            let dropped = bases
                .get(&head.chain_id)
                .filter(|(seq, _)| head.seq <= *seq);
            match store::hash_at(&mut tx, head.chain_id, head.seq).await? {
                // In a month archived and dropped: the table keeps the
                // link to its last event (the archive has the others;
                // `archive::verify` compares them with every checkpoint).
                None if dropped.is_some_and(|(seq, hash)| {
                    *seq == head.seq && hex(hash) != head.hash
                }) =>
                {
                    problems.push(Finding::Tampered(format!(
                        "chain {name}: event #{} differs from the checkpoint of {when} (history rewritten)",
                        head.seq
                    )))
                }
                None if dropped.is_some() => {}
                None => match heads.get(&head.chain_id) {
                    // The chain (verified on its own) just ends earlier.
                    Some(&last) if last < head.seq => problems.push(Finding::Truncated(format!(
                        "chain {name} ends at event #{last}, the checkpoint of {when} has #{}: \
                         its last {} event(s) are not in this database",
                        head.seq,
                        head.seq - last
                    ))),
                    _ => problems.push(Finding::Tampered(format!(
                        "chain {name}: event #{} of the checkpoint of {when} is gone (events removed)",
                        head.seq
                    ))),
                },
                Some(hash) if hex(&hash) != head.hash => problems.push(Finding::Tampered(format!(
                    "chain {name}: event #{} differs from the checkpoint of {when} (history rewritten)",
                    head.seq
                ))),
                Some(_) => {}
            }
        }
        drop(tx); // read only
        Ok(problems)
    }
}

/// The recurring job (`audit.checkpoint`).
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct TakeCheckpoint;

impl Job for TakeCheckpoint {
    const KIND: &'static str = "audit.checkpoint";
    const MAX_ATTEMPTS: i64 = 3;
    type Context = Checkpoints;

    async fn run(self, ctx: JobContext<Checkpoints>) -> Result<()> {
        let (name, checkpoint) = ctx.services.take(&ctx.pool).await?;
        tracing::info!(
            object = name,
            chains = checkpoint.chains.len(),
            "audit checkpoint taken"
        );
        Ok(())
    }
}

/// The bytes a signature covers: `taken_at` and `chains` as JSON.
fn signed(taken_at: &DateTime<Utc>, chains: &[ChainHead]) -> Result<Vec<u8>> {
    Ok(serde_json::to_vec(&(taken_at, chains))?)
}

/// The embedded default: 32 random bytes in a file the database never sees.
fn key_file(path: &Path) -> Result<Vec<u8>> {
    crate::credentials::key_file::load_or_create(path, || {
        let mut key = vec![0u8; 32];
        aws_lc_rs::rand::fill(&mut key).map_err(|_| anyhow::anyhow!("no randomness"))?;
        Ok(key)
    })
}
