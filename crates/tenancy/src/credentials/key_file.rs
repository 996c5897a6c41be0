//! Keys kept in files under the data directory on embedded defaults (the
//! development issuer's signing key, the audit checkpoint key): read when
//! present, else created once, readable by the owner only.

use std::io::Write as _;
use std::path::Path;

use anyhow::{Context, Result};

/// The bytes at `path`, or new ones from `generate` written there
/// atomically (mode 0600): two processes racing both end up with the same
/// key.
pub fn load_or_create(path: &Path, generate: impl FnOnce() -> Result<Vec<u8>>) -> Result<Vec<u8>> {
    match std::fs::read(path) {
        Ok(bytes) => return Ok(bytes),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
    let dir = path.parent().context("a key path has a parent")?;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let key = generate()?;
    let tmp = dir.join(format!(".key.{}.tmp", std::process::id()));
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .with_context(|| format!("cannot write {}", tmp.display()))?;
        f.write_all(&key)?;
        f.sync_all()?;
    }
    let linked = std::fs::hard_link(&tmp, path);
    let _ = std::fs::remove_file(&tmp);
    match linked {
        Ok(()) => Ok(key),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
        }
        Err(e) => Err(e).with_context(|| format!("cannot create {}", path.display())),
    }
}
