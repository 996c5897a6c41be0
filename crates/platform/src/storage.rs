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
    /// The directory the objects are files in, when local (object `a/b` is
    /// `DIR/a/b`): a large file can be written there while it is read.
    pub local_dir: Option<std::path::PathBuf>,
}

impl Storage {
    /// Whether the object `key` exists.
    pub async fn exists(&self, key: &str) -> anyhow::Result<bool> {
        use object_store::ObjectStoreExt;
        match self.store.head(&object_store::path::Path::from(key)).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(e).with_context(|| format!("cannot look up {key} in {}", self.describe)),
        }
    }

    /// Stream the object `key` into a new file at `path`; `Ok(false)` when
    /// there is no such object (nothing written).
    pub async fn download(&self, key: &str, path: &std::path::Path) -> anyhow::Result<bool> {
        use futures_util::StreamExt;
        use object_store::ObjectStoreExt;
        use tokio::io::AsyncWriteExt;
        let got = match self.store.get(&object_store::path::Path::from(key)).await {
            Err(object_store::Error::NotFound { .. }) => return Ok(false),
            r => r.with_context(|| format!("cannot read {key} from {}", self.describe))?,
        };
        let mut out = tokio::fs::File::create(path)
            .await
            .with_context(|| format!("cannot create {}", path.display()))?;
        let mut body = got.into_stream();
        while let Some(chunk) = body.next().await {
            let chunk = chunk.with_context(|| format!("reading {key} from {}", self.describe))?;
            out.write_all(&chunk).await?;
        }
        out.flush().await?;
        Ok(true)
    }

    /// The S3 bucket `bucket` with the storage section's credentials,
    /// region and endpoint, for a bucket with Object Lock (its writes carry
    /// a SHA-256 checksum and name its algorithm, which S3 requires there).
    pub fn locked_bucket(config: &PlatformConfig, bucket: &str) -> anyhow::Result<Storage> {
        s3(config, bucket, Some(object_store::aws::Checksum::SHA256))
    }

    /// The bucket files land in (`storage.landing_bucket`), if configured.
    pub fn landing(config: &PlatformConfig) -> anyhow::Result<Option<(String, Storage)>> {
        match &config.storage.landing_bucket {
            Some(bucket) => Ok(Some((bucket.clone(), s3(config, bucket, None)?))),
            None => Ok(None),
        }
    }

    pub fn from_config(config: &PlatformConfig) -> anyhow::Result<Storage> {
        let s = &config.storage;
        match &s.s3_bucket {
            Some(bucket) => s3(config, bucket, None),
            None => {
                let dir = config.data_dir.join("objects");
                std::fs::create_dir_all(&dir)
                    .with_context(|| format!("cannot create {}", dir.display()))?;
                let store = LocalFileSystem::new_with_prefix(&dir)
                    .with_context(|| format!("cannot use {} for objects", dir.display()))?;
                Ok(Storage {
                    store: Arc::new(store),
                    describe: format!("local:{}", dir.display()),
                    local_dir: Some(dir),
                })
            }
        }
    }
}

/// The S3 bucket `bucket`: credentials and region from the standard AWS
/// environment (AWS_ACCESS_KEY_ID, AWS_REGION, the task role in ECS, ...)
/// unless the storage section names them.
fn s3(
    config: &PlatformConfig,
    bucket: &str,
    checksum: Option<object_store::aws::Checksum>,
) -> anyhow::Result<Storage> {
    let s = &config.storage;
    let mut b = AmazonS3Builder::from_env().with_bucket_name(bucket);
    // (Client options first: the settings below add to them.)
    if let Some(c) = checksum {
        // Object Lock wants the algorithm named as well as the checksum sent.
        let mut named = axum::http::HeaderMap::new();
        named.insert(
            "x-amz-sdk-checksum-algorithm",
            axum::http::HeaderValue::from_static("SHA256"),
        );
        b = b
            .with_checksum_algorithm(c)
            .with_client_options(object_store::ClientOptions::new().with_default_headers(named));
    }
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
    let store = b
        .build()
        .with_context(|| format!("cannot configure S3 bucket {bucket}"))?;
    Ok(Storage {
        store: Arc::new(store),
        describe: format!("s3://{bucket}"),
        local_dir: None,
    })
}
