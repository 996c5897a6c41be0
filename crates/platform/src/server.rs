//! Running the HTTP server: graceful shutdown with readiness off first, a
//! delay for load balancers to notice, then a bounded drain.

use std::future::IntoFuture;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context, Result};
use tokio::net::TcpListener;

use axum::Router;

use crate::http::AppState;
use crate::shutdown::Shutdown;

/// The URL of `path` on this process's own server at `listen` (a wildcard
/// address as loopback): where the jobs of a process reach the sandboxes
/// `p360 serve` mounts in-process.
pub fn own_url(listen: SocketAddr, path: &str) -> String {
    let mut addr = listen;
    if addr.ip().is_unspecified() {
        addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    format!("http://{addr}{path}")
}

/// Bind the API listener, with a one-line error naming the address.
pub async fn bind(addr: SocketAddr) -> Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))
}

/// Serve until `shutdown` fires, then drain within the configured bounds.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    state: AppState,
    shutdown: Shutdown,
) -> Result<()> {
    let addr = listener.local_addr()?;
    let http = state.config.http.clone();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let app = app.into_make_service_with_connect_info::<SocketAddr>();
    let server = axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = stop_rx.await;
        })
        .into_future();
    let mut server = tokio::spawn(server);
    tracing::info!(addr = %addr, "listening");

    tokio::select! {
        _ = shutdown.wait() => {}
        res = &mut server => {
            // The server only ends on its own when accepting failed.
            return res.context("HTTP server task failed")?.context("HTTP server failed");
        }
    }
    state.begin_shutdown();
    tracing::info!(
        delay_ms = http.shutdown_delay_ms,
        drain_ms = http.drain_timeout_ms,
        "shutting down: readiness off"
    );
    tokio::time::sleep(Duration::from_millis(http.shutdown_delay_ms)).await;
    let _ = stop_tx.send(());
    match tokio::time::timeout(Duration::from_millis(http.drain_timeout_ms), &mut server).await {
        Ok(res) => res
            .context("HTTP server task failed")?
            .context("HTTP server failed")?,
        Err(_) => {
            server.abort();
            tracing::warn!("drain timed out; remaining connections closed");
        }
    }
    tracing::info!("HTTP server stopped");
    Ok(())
}
