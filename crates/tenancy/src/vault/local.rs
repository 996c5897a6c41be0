//! The master key of embedded defaults: 32 random bytes in a file (mode
//! 0600, created on first use) that wraps tenants' data keys with
//! AES-256-GCM. Back the file up with the database, but not beside it: a
//! dump without the key holds no secret it can open.

use std::path::Path;

use anyhow::{Context, Result, bail};
use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use uuid::Uuid;

pub(super) struct LocalMaster {
    key: LessSafeKey,
    /// `local:` and the first 8 bytes of the key's SHA-256, hex: which key
    /// wrapped a data key, without saying anything of it.
    name: String,
}

impl LocalMaster {
    pub(super) fn load_or_create(path: &Path) -> Result<LocalMaster> {
        let bytes = crate::credentials::key_file::load_or_create(path, || {
            let mut k = vec![0u8; 32];
            aws_lc_rs::rand::fill(&mut k).map_err(|_| anyhow::anyhow!("no randomness"))?;
            Ok(k)
        })?;
        if bytes.len() != 32 {
            bail!(
                "{} is not a master key (32 bytes; it has {})",
                path.display(),
                bytes.len()
            );
        }
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &bytes);
        let name = format!(
            "local:{}",
            digest.as_ref()[..8]
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        );
        let key = LessSafeKey::new(
            UnboundKey::new(&AES_256_GCM, &bytes).map_err(|_| anyhow::anyhow!("bad master key"))?,
        );
        Ok(LocalMaster { key, name })
    }

    pub(super) fn name(&self) -> String {
        self.name.clone()
    }

    pub(super) fn wrap(&self, tenant: Uuid, data_key: &[u8]) -> Result<Vec<u8>> {
        let mut nonce = [0u8; NONCE_LEN];
        aws_lc_rs::rand::fill(&mut nonce).map_err(|_| anyhow::anyhow!("no randomness"))?;
        let mut body = data_key.to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(tenant.as_bytes()),
                &mut body,
            )
            .map_err(|_| anyhow::anyhow!("wrapping failed"))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&body);
        Ok(out)
    }

    pub(super) fn unwrap(&self, tenant: Uuid, wrapped: &[u8]) -> Result<Vec<u8>> {
        if wrapped.len() < NONCE_LEN + 16 {
            bail!("a wrapped data key is too short");
        }
        let nonce = Nonce::try_assume_unique_for_key(&wrapped[..NONCE_LEN])
            .map_err(|_| anyhow::anyhow!("bad nonce"))?;
        let mut body = wrapped[NONCE_LEN..].to_vec();
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(tenant.as_bytes()), &mut body)
            .map_err(|_| anyhow::anyhow!("the master key does not open this tenant's data key"))
            .context("unwrapping the tenant's data key")?;
        Ok(plain.to_vec())
    }
}
