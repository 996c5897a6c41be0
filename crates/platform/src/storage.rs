//! Object storage for files (creatives, uploads, exports): a directory under
//! the data dir by default, S3 when `storage.s3_bucket` is set. Both through
//! the `object_store` crate, so the code above does not know which.

use std::sync::Arc;

use anyhow::Context;
use object_store::ObjectStore;
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use secrecy::ExposeSecret;

use crate::config::PlatformConfig;

/// Where objects live.
#[derive(Clone)]
pub struct Storage {
    pub store: Arc<dyn ObjectStore>,
    /// `local:DIR` or `s3://bucket`, for logs and diagnostics.
    pub describe: String,
}

impl Storage {
    pub fn from_config(config: &PlatformConfig) -> anyhow::Result<Storage> {
        let s = &config.storage;
        match &s.s3_bucket {
            Some(bucket) => {
                // Credentials and region come from the standard AWS environment
                // (AWS_ACCESS_KEY_ID, AWS_REGION, the task role in ECS, ...).
                let mut b = AmazonS3Builder::from_env().with_bucket_name(bucket);
                if let (Some(id), Some(secret)) = (&s.s3_access_key_id, &s.s3_secret_access_key) {
                    b = b
                        .with_access_key_id(id)
                        .with_secret_access_key(secret.expose_secret());
                }
                if let Some(region) = &s.s3_region {
                    b = b.with_region(region);
                }
                if let Some(endpoint) = &s.s3_endpoint {
                    b = b
                        .with_endpoint(endpoint)
                        .with_allow_http(endpoint.starts_with("http://"))
                        .with_virtual_hosted_style_request(false);
                }
                let store = b.build().context("cannot configure S3 storage")?;
                Ok(Storage {
                    store: Arc::new(store),
                    describe: format!("s3://{bucket}"),
                })
            }
            None => {
                let dir = config.data_dir.join("objects");
                std::fs::create_dir_all(&dir)
                    .with_context(|| format!("cannot create {}", dir.display()))?;
                let store = LocalFileSystem::new_with_prefix(&dir)
                    .with_context(|| format!("cannot use {} for objects", dir.display()))?;
                Ok(Storage {
                    store: Arc::new(store),
                    describe: format!("local:{}", dir.display()),
                })
            }
        }
    }
}
