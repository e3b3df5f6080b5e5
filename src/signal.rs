//! The signals of `multiftpd`: SIGINT and SIGTERM shut it down, SIGHUP reloads (see
//! [`crate::server::reload`] for what changes).

use tokio::signal::unix::{Signal, SignalKind, signal};

/// Waits for SIGINT (Ctrl-C) or SIGTERM (systemd, `kill`).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    let term = async {
        match signal(SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => tracing::info!("SIGINT received, shutting down"),
        () = term => tracing::info!("SIGTERM received, shutting down"),
    }
}

/// The SIGHUPs sent to this process (`systemctl reload`, logrotate's `postrotate`), one
/// `recv()` per signal (several close together may count as one).
///
/// From this call on SIGHUP no longer terminates the process (its default action, exit 129):
/// call it before serving, so a reload that comes early cannot stop the daemon.
///
/// # Errors
///
/// When the handler cannot be installed (outside a tokio runtime).
pub fn hangups() -> std::io::Result<Signal> {
    signal(SignalKind::hangup())
}
