//! The accept loop and the graceful drain. Each control connection gets one task (reaped as
//! it ends, so memory does not grow with the connections served). On shutdown the listeners
//! close at once, idle sessions are told `421` and closed, running transfers get
//! [`Options::shutdown_grace`] to finish (then their sessions close too), and whatever is
//! still running after that is cut.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::control::Control;
use super::data::PortPool;
use super::guard::{Guard, LoginGuard};
use super::session::{Counted, Session, Shared};
use super::{Backend, Client, Options};

/// The listening sockets the engine serves.
#[derive(Debug)]
pub struct Listeners {
    /// Plain FTP (explicit FTPS through `AUTH TLS`).
    pub control: TcpListener,
    /// Implicit FTPS: TLS from the first byte (needs [`Options::tls`]).
    pub implicit_tls: Option<TcpListener>,
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
    pub connections: AtomicUsize,
    /// Logged-in sessions.
    pub sessions: AtomicUsize,
    /// Transfers running.
    pub transfers: AtomicUsize,
    /// Control connections closed, logins done and transfers ended since the start: a sign
    /// that memory was freed (the daemon trims its allocator after them).
    pub ended: AtomicU64,
}

/// The FTP server over a [`Backend`]: built from [`Options`], it accepts control connections
/// and runs one session task for each until shut down.
pub struct Server<B: Backend> {
    backend: Arc<B>,
    options: Arc<Options>,
    stats: Arc<Stats>,
    /// Where the failed-logins policy counts, when [`Options::failed_logins`] is on.
    guard: Option<Arc<dyn LoginGuard>>,
}

/// How long a new connection may take to send its PROXY header or finish implicit TLS.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

impl<B: Backend> Server<B> {
    /// A server for `backend` with `options`.
    pub fn new(backend: Arc<B>, options: Options) -> Self {
        let guard = options.failed_logins.map(|p| Arc::new(Guard::new(p)) as Arc<dyn LoginGuard>);
        Self { backend, options: Arc::new(options), stats: Arc::default(), guard }
    }

    /// Counts failed logins in `guard` instead of this process's memory (several servers
    /// sharing the counts); only when [`Options::failed_logins`] turns the policy on, whose
    /// rule `guard` is to apply.
    #[must_use]
    pub fn with_login_guard(mut self, guard: Arc<dyn LoginGuard>) -> Self {
        if self.guard.is_some() {
            self.guard = Some(guard);
        }
        self
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
        let (stop_tx, stop_rx) = watch::channel(false);
        let shared = Arc::new(Shared {
            backend: Arc::clone(&self.backend),
            options: Arc::clone(&self.options),
            stats: Arc::clone(&self.stats),
            ports: PortPool::new(self.options.passive_ports.clone()),
            guard: self.guard.clone(),
            shutdown: stop_rx,
        });
        let ids = AtomicU64::new(1);
        let mut tasks = JoinSet::new();
        let Listeners { control, implicit_tls } = listeners;
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                () = &mut shutdown => break,
                Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
                accepted = control.accept() => {
                    self.spawn(&mut tasks, &shared, &ids, accepted, false);
                }
                accepted = accept_opt(implicit_tls.as_ref()) => {
                    self.spawn(&mut tasks, &shared, &ids, accepted, true);
                }
            }
        }
        drop(control);
        drop(implicit_tls);
        let _ = stop_tx.send(true);
        let running = self.stats.transfers.load(Ordering::Relaxed);
        if running > 0 {
            tracing::info!(
                running,
                grace_secs = self.options.shutdown_grace.as_secs(),
                "waiting for transfers to finish"
            );
        }
        let drained = tokio::time::timeout(self.options.shutdown_grace, async {
            while tasks.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            let cut = self.stats.transfers.load(Ordering::Relaxed);
            tracing::warn!(transfers = cut, "grace period over, closing anyway");
            tasks.abort_all();
            while tasks.join_next().await.is_some() {}
            if cut > 0 {
                return Err(ServeError::GraceExpired(cut));
            }
        }
        Ok(())
    }

    fn spawn(
        &self,
        tasks: &mut JoinSet<()>,
        shared: &Arc<Shared<B>>,
        ids: &AtomicU64,
        accepted: std::io::Result<(TcpStream, SocketAddr)>,
        implicit: bool,
    ) {
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // EMFILE and friends: say so, pause briefly rather than spin.
                tracing::warn!(cause = %e, "accept failed");
                std::thread::sleep(Duration::from_millis(5));
                return;
            }
        };
        let session = ids.fetch_add(1, Ordering::Relaxed);
        self.stats.connections.fetch_add(1, Ordering::Relaxed);
        let counted = Counted(Arc::clone(&self.stats));
        let shared = Arc::clone(shared);
        tasks.spawn(async move {
            let _counted = counted;
            // Boxed: the handshake's state (a TLS accept is most of it) is freed once done,
            // rather than sized into every session's task for its whole life (bench/ W7).
            let opened = Box::pin(open(&shared, stream, peer, session, implicit)).await;
            if let Some((control, client)) = opened {
                Session::new(shared, control, client, peer).run().await;
            }
        });
    }
}

/// Accepts on `listener`, or never when there is none.
async fn accept_opt(listener: Option<&TcpListener>) -> std::io::Result<(TcpStream, SocketAddr)> {
    match listener {
        Some(l) => l.accept().await,
        None => std::future::pending().await,
    }
}

/// The PROXY header and implicit TLS, before the greeting.
async fn open<B: Backend>(
    shared: &Shared<B>,
    mut stream: TcpStream,
    peer: SocketAddr,
    session: u64,
    implicit: bool,
) -> Option<(Control, Client)> {
    let _ = stream.set_nodelay(true);
    let local = stream.local_addr().ok()?;
    let mut addr = peer;
    if shared.options.proxy_protocol {
        match super::proxy::read_header(&mut stream, HANDSHAKE_TIMEOUT).await {
            Ok(Some(client)) => addr = client,
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(%peer, cause = %e, "bad PROXY protocol header: connection closed");
                return None;
            }
        }
    }
    let mut client = Client { session, addr, local, tls: false };
    let control = if implicit {
        let tls = shared.options.tls.as_ref()?;
        match tls.accept_control(stream, HANDSHAKE_TIMEOUT).await {
            Ok(s) => {
                client.tls = true;
                Control::Tls(Box::new(s))
            }
            Err(e) => {
                tracing::info!(%addr, cause = %e, "implicit TLS handshake failed");
                return None;
            }
        }
    } else {
        Control::Plain(stream)
    };
    tracing::debug!(session, client = %addr, "connection opened");
    Some((control, client))
}
