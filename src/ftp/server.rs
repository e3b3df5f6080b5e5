//! (being written) The accept loop and graceful drain.

use std::future::Future;
use std::sync::Arc;

use super::{Backend, Options};

/// The listening sockets the engine serves.
#[derive(Debug)]
pub struct Listeners {
    /// Plain FTP (explicit FTPS through `AUTH TLS`).
    pub control: tokio::net::TcpListener,
    /// Implicit FTPS: TLS from the first byte (needs [`Options::tls`]).
    pub implicit_tls: Option<tokio::net::TcpListener>,
}

/// Why serving ended badly.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// Transfers were still running when the grace period ended; they were cut.
    #[error("shutdown grace period expired with {0} transfers still running")]
    GraceExpired(usize),
}

/// Live counts, for metrics.
#[derive(Debug, Default)]
pub struct Stats {
    /// Open control connections.
    pub connections: std::sync::atomic::AtomicUsize,
    /// Logged-in sessions.
    pub sessions: std::sync::atomic::AtomicUsize,
    /// Transfers running.
    pub transfers: std::sync::atomic::AtomicUsize,
}

/// The FTP server.
pub struct Server<B: Backend> {
    backend: Arc<B>,
    options: Arc<Options>,
    stats: Arc<Stats>,
}

impl<B: Backend> Server<B> {
    /// A server for `backend` with `options`.
    pub fn new(backend: Arc<B>, options: Options) -> Self {
        Self { backend, options: Arc::new(options), stats: Arc::default() }
    }

    /// Live counts (connections, sessions, transfers).
    pub fn stats(&self) -> Arc<Stats> {
        Arc::clone(&self.stats)
    }

    /// Serves `listeners` until `shutdown` completes; then closes the listeners at once, ends
    /// idle sessions with `421`, lets running transfers finish within
    /// [`Options::shutdown_grace`] and returns.
    ///
    /// # Errors
    ///
    /// [`ServeError::GraceExpired`] when transfers had to be cut.
    pub async fn serve<F>(self, listeners: Listeners, shutdown: F) -> Result<(), ServeError>
    where
        F: Future<Output = ()> + Send,
    {
        let _ = (&self.backend, &self.options, listeners);
        shutdown.await;
        Ok(())
    }
}
