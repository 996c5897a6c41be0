//! What a deployment tells as it goes: each event is stored in
//! `deployment_events` and, unless it is a mere reading, also audited (the
//! audit log's platform chain, actor `system`), printed, and posted to the
//! notification webhook (`deploy.notify_webhook`) as JSON with a chat-ready
//! `text`. The webhook is fed by a task of its own, so a slow or failing
//! webhook never holds a deployment up.

use std::time::Duration;

use serde_json::{Value, json};
use sqlx::PgPool;
use tokio::sync::mpsc::UnboundedSender;
use tokio::task::JoinHandle;
use uuid::Uuid;

use crate::backend::{Slot, http_client};
use crate::config::DeployConfig;
use crate::store::{self, STORE_TIMEOUT};

/// Events on their way to the webhook task.
pub(crate) type Notices = UnboundedSender<Value>;

/// Where the events of one deployment go.
pub(crate) struct Journal {
    pool: PgPool,
    id: Uuid,
    version: String,
    from: Slot,
    to: Slot,
    /// Events for the notification webhook, posted in order by the task of
    /// [`notifier`].
    notices: Option<Notices>,
}

impl Journal {
    pub(crate) fn new(
        pool: PgPool,
        id: Uuid,
        version: &str,
        from: Slot,
        to: Slot,
        notices: Option<Notices>,
    ) -> Journal {
        Journal {
            pool,
            id,
            version: version.to_string(),
            from,
            to,
            notices,
        }
    }

    /// Store an event; with `text` (the human line) also in the audit log,
    /// on stdout and in the notification channel. Storing is bounded by
    /// [`STORE_TIMEOUT`] and its failure only logged.
    pub(crate) async fn record(
        &self,
        action: &'static str,
        detail: Value,
        text: Option<String>,
        outcome: tenancy::audit::Outcome,
    ) {
        let stored = async {
            let mut tx = self.pool.begin().await?;
            store::insert_event(&mut tx, self.id, action, &detail).await?;
            if text.is_some() {
                tenancy::audit::record(
                    &mut tx,
                    &tenancy::principal::Actor::System,
                    &tenancy::audit::RequestMeta::default(),
                    tenancy::audit::NewEvent {
                        tenant: None,
                        action,
                        target_type: "deployment",
                        target_id: Some(self.id.to_string()),
                        changes: json!({"version": self.version, "from": self.from.name(), "to": self.to.name(), "detail": detail}),
                        outcome,
                    },
                )
                .await?;
            }
            tx.commit().await?;
            anyhow::Ok(())
        };
        match tokio::time::timeout(STORE_TIMEOUT, stored).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::error!(
                error = format!("{e:#}"),
                action,
                "cannot store a deployment event"
            ),
            Err(_) => tracing::error!(action, "storing a deployment event timed out"),
        }
        if let Some(text) = text {
            println!("{text}");
            self.notify(action, &text, &detail);
        }
    }

    fn notify(&self, action: &str, text: &str, detail: &Value) {
        let Some(notices) = &self.notices else {
            return;
        };
        // The receiving task ends only after this sender is dropped.
        let _ = notices.send(json!({
            "text": format!("p360 deploy {}: {text}", self.version),
            "event": action,
            "deployment": self.id,
            "version": self.version,
            "detail": detail,
        }));
    }
}

/// The webhook's sender task, if one is configured: posts each event in
/// order; a failure is logged and the next event is sent.
pub(crate) fn notifier(cfg: &DeployConfig) -> (Option<Notices>, Option<JoinHandle<()>>) {
    let Some(url) = cfg.notify_webhook.clone() else {
        return (None, None);
    };
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Value>();
    let http = http_client();
    let task = tokio::spawn(async move {
        while let Some(body) = rx.recv().await {
            let event = body["event"].as_str().unwrap_or("").to_string();
            match http.post(&url).json(&body).send().await {
                Ok(r) if r.status().is_success() => {}
                Ok(r) => {
                    tracing::warn!(status = %r.status(), event, "the notification webhook refused an event")
                }
                Err(e) => {
                    tracing::warn!(error = %e, event, "the notification webhook is unreachable")
                }
            }
        }
    });
    (Some(tx), Some(task))
}

/// Let the webhook task deliver what is queued, for a bounded time.
pub(crate) async fn deliver(task: Option<JoinHandle<()>>) {
    if let Some(task) = task
        && tokio::time::timeout(Duration::from_secs(10), task)
            .await
            .is_err()
    {
        tracing::warn!("the notification webhook did not take every event within 10 s");
    }
}
