//! Where the bytes of a file ingested before are: an operator's file on
//! disk (`file://` keys), or an object in the landing bucket (`s3://`
//! keys), downloaded to scratch and removed when done with. A click file
//! reads its impression files again through these.

use std::path::{Path, PathBuf};

use platform::storage::Storage;

/// The places ingested files can be read again from.
#[derive(Clone, Default)]
pub struct Sources {
    /// `storage.landing_bucket` and its store, when configured.
    pub landing: Option<(String, Storage)>,
    /// Where downloads are written.
    pub scratch: PathBuf,
}

/// A readable copy of a file; a download is removed when dropped.
pub struct Local {
    path: PathBuf,
    download: bool,
}

impl Local {
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Local {
    fn drop(&mut self) {
        if self.download {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

impl Sources {
    /// The file ingested as `key`, if it can still be read.
    pub async fn fetch(&self, key: &str) -> anyhow::Result<Option<Local>> {
        if let Some(path) = key.strip_prefix("file://") {
            let path = PathBuf::from(path);
            return Ok(path.is_file().then_some(Local {
                path,
                download: false,
            }));
        }
        let Some(rest) = key.strip_prefix("s3://") else {
            return Ok(None);
        };
        let Some((bucket, object)) = rest.split_once('/') else {
            return Ok(None);
        };
        let Some((landing, store)) = &self.landing else {
            return Ok(None);
        };
        if bucket != landing {
            return Ok(None);
        }
        std::fs::create_dir_all(&self.scratch)?;
        let local = Local {
            path: self
                .scratch
                .join(format!("reds-{}", uuid::Uuid::now_v7().simple())),
            download: true,
        };
        Ok(store.download(object, &local.path).await?.then_some(local))
    }
}
