//! SIGINT/SIGTERM as a value that any part of a command can wait on.

use tokio::sync::watch;

/// Resolves once a termination signal has arrived (or [`Shutdown::trigger`] was called).
#[derive(Clone)]
pub struct Shutdown {
    rx: watch::Receiver<bool>,
    tx: std::sync::Arc<watch::Sender<bool>>,
}

impl Shutdown {
    /// Start listening for SIGINT and SIGTERM. Call early, so that a signal
    /// during start-up is not lost.
    pub fn on_signals() -> std::io::Result<Shutdown> {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate())?;
        let mut int = signal(SignalKind::interrupt())?;
        let s = Shutdown::manual();
        let tx = s.tx.clone();
        tokio::spawn(async move {
            let name = tokio::select! {
                _ = term.recv() => "SIGTERM",
                _ = int.recv() => "SIGINT",
            };
            tracing::info!(signal = name, "shutdown requested");
            tx.send_replace(true);
        });
        Ok(s)
    }

    /// A shutdown that only [`Shutdown::trigger`] sets off (tests, embedding).
    pub fn manual() -> Shutdown {
        let (tx, rx) = watch::channel(false);
        Shutdown {
            rx,
            tx: std::sync::Arc::new(tx),
        }
    }

    pub fn trigger(&self) {
        self.tx.send_replace(true);
    }

    pub fn is_triggered(&self) -> bool {
        *self.rx.borrow()
    }

    pub async fn wait(&self) {
        let mut rx = self.rx.clone();
        // An error means every sender is gone, which cannot happen while `self` holds one.
        let _ = rx.wait_for(|v| *v).await;
    }
}
