//! A controller's liveness and fencing. A controller (`host:pid`) beats a
//! heartbeat into its deployment's row; silent for three beats, it counts as
//! gone and another may take the deployment over. A controller whose
//! heartbeat finds its row taken over is marked lost and stops at once
//! without touching traffic or state: the new owner decides.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Result, bail};
use sqlx::PgPool;
use uuid::Uuid;

use crate::config::DeployConfig;
use crate::model::Status;
use crate::store::{self, Deployment};

/// How long a controller may be silent (in milliseconds) before it counts
/// as gone: three heartbeats.
pub(crate) fn stale_after(cfg: &DeployConfig) -> i64 {
    (cfg.heartbeat_ms * 3) as i64
}

/// This process as a controller: `host:pid`.
pub(crate) fn controller_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "localhost".into());
    format!("{host}:{}", std::process::id())
}

/// Keep `id`'s heartbeat fresh until dropped; set `lost` if another
/// controller took the deployment over.
pub(crate) struct Heartbeat(tokio::task::JoinHandle<()>);

impl Heartbeat {
    pub(crate) fn start(
        pool: PgPool,
        id: Uuid,
        me: String,
        every: Duration,
        lost: Arc<AtomicBool>,
    ) -> Heartbeat {
        Heartbeat(tokio::spawn(async move {
            loop {
                match store::beat(&pool, id, &me).await {
                    Ok(false) => {
                        let now = store::controller_of(&pool, id).await.unwrap_or(None);
                        if let Some((controller, status)) = now
                            && status == Status::Running
                            && controller != me
                        {
                            tracing::error!(deployment = %id, taken_by = %controller, "another controller took this deployment over; stopping without touching traffic");
                            lost.store(true, Ordering::Relaxed);
                        }
                        // Finished, or taken over.
                        return;
                    }
                    Err(e) => tracing::warn!(error = %e, "heartbeat failed"),
                    Ok(true) => {}
                }
                tokio::time::sleep(every).await;
            }
        }))
    }
}

impl Drop for Heartbeat {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Become the controller of `d` if its own has been silent long enough;
/// returns the previous controller.
pub(crate) async fn take_over(
    pool: &PgPool,
    d: &Deployment,
    me: &str,
    stale_ms: i64,
) -> Result<String> {
    if !store::take_over(pool, d.id, me, stale_ms).await? {
        bail!(
            "deployment {} is controlled by {} (heard from {:.1} s ago); ask it with `p360 deploy promote|rollback`",
            d.id,
            d.controller,
            d.silent_ms as f64 / 1000.0
        );
    }
    Ok(d.controller.clone())
}
