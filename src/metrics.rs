//! Prometheus metrics and the small HTTP listener that serves them (`--http-bind`, off by
//! default): `GET /metrics` (libunftp's `ftp_*` metrics plus multiftp's own `multiftp_*`) and
//! `GET /health` (200 when the database answers, 503 otherwise).
//!
//! The listener is `tiny_http` on a thread of its own: two read-only endpoints do not need an
//! async web framework, and scrapes never compete with FTP sessions for executor threads.

use std::net::SocketAddr;
use std::sync::{Arc, LazyLock};

use prometheus::{Encoder, IntCounterVec, IntGauge, TextEncoder};

use crate::error::{Error, Result};
use crate::server::App;
use crate::session::Tracker;
use crate::storage::inflight::Transfers;

/// Logins by result (`ok`, `failed`, `refused`).
pub static LOGINS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    prometheus::register_int_counter_vec!(
        "multiftp_logins_total",
        "FTP logins by result: ok, failed (bad credentials), refused (limits, shutdown).",
        &["result"]
    )
    .expect("metric registers once")
});

static USERS: LazyLock<IntGauge> = LazyLock::new(|| {
    prometheus::register_int_gauge!("multiftp_users", "Accounts in the database.")
        .expect("metric registers once")
});

static SESSIONS: LazyLock<IntGauge> = LazyLock::new(|| {
    prometheus::register_int_gauge!("multiftp_sessions", "Logged-in sessions in this daemon.")
        .expect("metric registers once")
});

static TRANSFERS: LazyLock<IntGauge> = LazyLock::new(|| {
    prometheus::register_int_gauge!("multiftp_transfers_in_flight", "Transfers running now.")
        .expect("metric registers once")
});

/// Counts one login result.
pub fn login(result: &str) {
    LOGINS.with_label_values(&[result]).inc();
}

/// The running HTTP listener; [`HttpServer::stop`] ends it.
pub struct HttpServer {
    server: Arc<tiny_http::Server>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl HttpServer {
    /// Binds `addr` and serves `/metrics` and `/health` on a thread.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when the address cannot be bound.
    pub fn start(
        addr: SocketAddr,
        app: &App,
        tracker: Tracker,
        transfers: Arc<Transfers>,
    ) -> Result<HttpServer> {
        let server = Arc::new(tiny_http::Server::http(addr).map_err(|e| {
            Error::Config(format!(
                "cannot listen for HTTP on {addr}: {e} (key 'http_bind', env MULTIFTP_HTTP_BIND, \
                 flag --http-bind)"
            ))
        })?);
        for metric in [&*USERS, &*SESSIONS, &*TRANSFERS] {
            metric.set(0);
        }
        LazyLock::force(&LOGINS);
        let runtime = tokio::runtime::Handle::current();
        let app = app.clone();
        let serving = Arc::clone(&server);
        let thread = std::thread::Builder::new()
            .name("multiftp-http".into())
            .spawn(move || {
                for request in serving.incoming_requests() {
                    let (status, content_type, body) = match (request.method(), request.url()) {
                        (tiny_http::Method::Get, "/metrics") => {
                            if let Ok(n) = runtime.block_on(app.accounts.count()) {
                                USERS.set(n);
                            }
                            SESSIONS.set(i64::try_from(tracker.live_count()).unwrap_or(i64::MAX));
                            TRANSFERS.set(i64::try_from(transfers.running()).unwrap_or(i64::MAX));
                            let mut buf = Vec::new();
                            let encoder = TextEncoder::new();
                            let _ = encoder.encode(&prometheus::gather(), &mut buf);
                            (200, encoder.format_type().to_string(), buf)
                        }
                        (tiny_http::Method::Get, "/health") => {
                            match runtime.block_on(app.accounts.count()) {
                                Ok(_) => (200, "text/plain".into(), b"ok\n".to_vec()),
                                Err(e) => (503, "text/plain".into(), format!("{e}\n").into_bytes()),
                            }
                        }
                        _ => (
                            404,
                            "text/plain".into(),
                            b"not found: try /metrics or /health\n".to_vec(),
                        ),
                    };
                    let header = tiny_http::Header::from_bytes("Content-Type", content_type)
                        .expect("a valid header");
                    let response = tiny_http::Response::from_data(body)
                        .with_status_code(status)
                        .with_header(header);
                    let _ = request.respond(response);
                }
            })
            .map_err(|e| Error::Config(format!("cannot start the HTTP thread: {e}")))?;
        tracing::info!(%addr, "metrics and health on http");
        Ok(HttpServer { server, thread: Some(thread) })
    }

    /// Stops the listener and waits for its thread.
    pub fn stop(mut self) {
        self.server.unblock();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
