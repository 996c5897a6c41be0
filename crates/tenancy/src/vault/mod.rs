//! Envelope encryption of tenants' secrets (a CRM's private key, a
//! partner's credentials): each tenant has one data key (AES-256), stored
//! only wrapped by the master key — a local key file on embedded defaults
//! ([`local`]), AWS KMS in production ([`kms`]). A secret is sealed with
//! AES-256-GCM under its tenant's data key, with the tenant and the
//! secret's purpose as associated data, so a sealed value copied to another
//! tenant's row, or to another purpose, does not open.
//!
//! Nothing here logs a key or a secret; opened secrets are handed out in a
//! [`SecretBox`] that zeroes them when dropped.

pub mod kms;
pub mod local;
mod store;

use std::sync::Arc;

use anyhow::{Context, Result, bail};
use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use secrecy::SecretBox;

use crate::config::SecretsConfig;
use crate::scope::TenantTx;

/// The first byte of a sealed value: its format.
const SEALED_V1: u8 = 1;

/// What wraps the tenants' data keys.
enum Master {
    Local(local::LocalMaster),
    Kms(kms::KmsMaster),
}

/// Seals and opens tenants' secrets.
#[derive(Clone)]
pub struct Vault {
    master: Arc<Master>,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match *self.master {
            Master::Local(_) => "Vault(local key file)",
            Master::Kms(_) => "Vault(AWS KMS)",
        })
    }
}

/// A data key in the clear, only while it is used.
struct DataKey(LessSafeKey);

impl Vault {
    /// The vault `config` describes: KMS with `secrets.kms_key_id`,
    /// otherwise the key file (`secrets.key_file`, by default
    /// `DATA_DIR/secrets/master.key`, created on first use).
    pub fn from_config(config: &SecretsConfig, data_dir: &std::path::Path) -> Result<Vault> {
        let master = match &config.kms_key_id {
            Some(key_id) => Master::Kms(kms::KmsMaster::new(key_id.clone(), config)),
            None => {
                let path = config
                    .key_file
                    .clone()
                    .unwrap_or_else(|| data_dir.join("secrets").join("master.key"));
                Master::Local(local::LocalMaster::load_or_create(&path)?)
            }
        };
        Ok(Vault {
            master: Arc::new(master),
        })
    }

    /// Seal `plaintext` for the transaction's tenant, for `purpose`.
    pub async fn seal(
        &self,
        tx: &mut TenantTx,
        purpose: &str,
        plaintext: &[u8],
    ) -> Result<Vec<u8>> {
        let key = self.data_key(tx).await?;
        let mut nonce = [0u8; NONCE_LEN];
        aws_lc_rs::rand::fill(&mut nonce).map_err(|_| anyhow::anyhow!("no randomness"))?;
        let mut out = Vec::with_capacity(1 + NONCE_LEN + plaintext.len() + 16);
        out.push(SEALED_V1);
        out.extend_from_slice(&nonce);
        let mut body = plaintext.to_vec();
        key.0
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(associated(tx, purpose)),
                &mut body,
            )
            .map_err(|_| anyhow::anyhow!("sealing failed"))?;
        out.extend_from_slice(&body);
        Ok(out)
    }

    /// Open what [`Vault::seal`] sealed for this tenant and `purpose`.
    pub async fn open(
        &self,
        tx: &mut TenantTx,
        purpose: &str,
        sealed: &[u8],
    ) -> Result<SecretBox<Vec<u8>>> {
        if sealed.len() < 1 + NONCE_LEN + 16 || sealed[0] != SEALED_V1 {
            bail!("the sealed {purpose} is not in a known format");
        }
        let key = self.data_key(tx).await?;
        let nonce = Nonce::try_assume_unique_for_key(&sealed[1..1 + NONCE_LEN])
            .map_err(|_| anyhow::anyhow!("bad nonce"))?;
        let mut body = sealed[1 + NONCE_LEN..].to_vec();
        let plain = key
            .0
            .open_in_place(nonce, Aad::from(associated(tx, purpose)), &mut body)
            .map_err(|_| {
                anyhow::anyhow!("the sealed {purpose} does not open with this tenant's key")
            })?
            .to_vec();
        Ok(SecretBox::new(Box::new(plain)))
    }

    /// The tenant's data key, made (and stored wrapped) on first use.
    async fn data_key(&self, tx: &mut TenantTx) -> Result<DataKey> {
        let tenant = tx.tenant().0;
        let (wrapped, by) = match store::get(tx).await? {
            Some(k) => k,
            None => {
                let (plain, wrapped, by) = match &*self.master {
                    Master::Local(m) => {
                        let mut plain = vec![0u8; 32];
                        aws_lc_rs::rand::fill(&mut plain)
                            .map_err(|_| anyhow::anyhow!("no randomness"))?;
                        let wrapped = m.wrap(tenant, &plain)?;
                        (plain, wrapped, m.name())
                    }
                    Master::Kms(m) => {
                        let (plain, wrapped) = m.generate(tenant).await?;
                        (plain, wrapped, m.name())
                    }
                };
                // Another request may have made one first: theirs is kept.
                if store::insert(tx, &wrapped, &by).await? {
                    return key_of(&plain);
                }
                store::get(tx)
                    .await?
                    .context("the tenant's data key vanished")?
            }
        };
        let plain = match &*self.master {
            Master::Local(m) if by == m.name() => m.unwrap(tenant, &wrapped)?,
            Master::Kms(m) if by == m.name() => m.decrypt(tenant, &wrapped).await?,
            _ => bail!(
                "the tenant's data key is wrapped by {by}, which this instance's secrets configuration does not name"
            ),
        };
        key_of(&plain)
    }
}

fn key_of(plain: &[u8]) -> Result<DataKey> {
    let unbound =
        UnboundKey::new(&AES_256_GCM, plain).map_err(|_| anyhow::anyhow!("bad data key"))?;
    Ok(DataKey(LessSafeKey::new(unbound)))
}

/// The associated data of a tenant's secret: its purpose and its tenant.
fn associated(tx: &TenantTx, purpose: &str) -> Vec<u8> {
    let mut aad = purpose.as_bytes().to_vec();
    aad.push(0);
    aad.extend_from_slice(tx.tenant().0.as_bytes());
    aad
}
