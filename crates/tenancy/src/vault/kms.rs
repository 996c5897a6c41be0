//! The master key in production: an AWS KMS key. A tenant's data key is
//! made by KMS (`GenerateDataKey`, AES-256) and stored as the ciphertext
//! KMS returns; it is opened by `Decrypt` when a secret is used. The tenant
//! is the encryption context of both, so KMS refuses to open one tenant's
//! key as another's, and CloudTrail logs which tenant each use was for.

use anyhow::{Context, Result};
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::DataKeySpec;
use secrecy::ExposeSecret as _;
use tokio::sync::OnceCell;
use uuid::Uuid;

use crate::config::SecretsConfig;

pub(super) struct KmsMaster {
    key_id: String,
    region: Option<String>,
    endpoint: Option<String>,
    credentials: Option<(String, secrecy::SecretString)>,
    client: OnceCell<aws_sdk_kms::Client>,
}

impl KmsMaster {
    pub(super) fn new(key_id: String, config: &SecretsConfig) -> KmsMaster {
        KmsMaster {
            key_id,
            region: config.kms_region.clone(),
            endpoint: config.kms_endpoint.clone(),
            credentials: config
                .kms_access_key_id
                .clone()
                .zip(config.kms_secret_access_key.clone()),
            client: OnceCell::new(),
        }
    }

    pub(super) fn name(&self) -> String {
        format!("kms:{}", self.key_id)
    }

    async fn client(&self) -> &aws_sdk_kms::Client {
        self.client
            .get_or_init(|| async {
                let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
                if let Some(region) = &self.region {
                    loader = loader.region(aws_config::Region::new(region.clone()));
                }
                if let Some(endpoint) = &self.endpoint {
                    loader = loader.endpoint_url(endpoint);
                }
                if let Some((id, secret)) = &self.credentials {
                    loader = loader.credentials_provider(aws_sdk_kms::config::Credentials::new(
                        id,
                        secret.expose_secret(),
                        None,
                        None,
                        "p360-config",
                    ));
                }
                aws_sdk_kms::Client::new(&loader.load().await)
            })
            .await
    }

    /// A new data key: (plaintext, KMS's ciphertext of it).
    pub(super) async fn generate(&self, tenant: Uuid) -> Result<(Vec<u8>, Vec<u8>)> {
        let out = self
            .client()
            .await
            .generate_data_key()
            .key_id(&self.key_id)
            .key_spec(DataKeySpec::Aes256)
            .encryption_context("tenant", tenant.to_string())
            .send()
            .await
            .map_err(|e| {
                anyhow::anyhow!(
                    "KMS GenerateDataKey: {}",
                    aws_sdk_kms::error::DisplayErrorContext(e)
                )
            })?;
        let plain = out
            .plaintext
            .context("KMS returned no plaintext data key")?
            .into_inner();
        let wrapped = out
            .ciphertext_blob
            .context("KMS returned no wrapped data key")?
            .into_inner();
        Ok((plain, wrapped))
    }

    pub(super) async fn decrypt(&self, tenant: Uuid, wrapped: &[u8]) -> Result<Vec<u8>> {
        let out = self
            .client()
            .await
            .decrypt()
            .key_id(&self.key_id)
            .ciphertext_blob(Blob::new(wrapped))
            .encryption_context("tenant", tenant.to_string())
            .send()
            .await
            .map_err(|e| {
                anyhow::anyhow!(
                    "KMS Decrypt: {}",
                    aws_sdk_kms::error::DisplayErrorContext(e)
                )
            })?;
        Ok(out
            .plaintext
            .context("KMS returned no plaintext")?
            .into_inner())
    }
}
