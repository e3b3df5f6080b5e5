//! Prometheus metrics and the small HTTP listener that serves them (`--http-bind`, off by
//! default): `GET /metrics` (multiftp's `multiftp_*` metrics: logins, commands, transfers,
//! live sessions) and `GET /health` (200 when the database answers, 503 otherwise). The
//! counters are fed by the daemon's backend from the engine's events; the gauges are read from
//! the engine's live counts at each scrape.
//!
//! The listener is `tiny_http` on a thread of its own: two read-only endpoints do not need an
//! async web framework, and scrapes never compete with FTP sessions for executor threads.

use std::net::SocketAddr;
use std::sync::{Arc, LazyLock};

use prometheus::{Encoder, IntCounterVec, IntGauge, TextEncoder};

use crate::account::Accounts;
use crate::error::{Error, Result};
use crate::ftp::server::Stats;

/// Logins by result (`ok`, `failed`, `refused`).
pub static LOGINS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    prometheus::register_int_counter_vec!(
        "multiftp_logins_total",
        "FTP logins by result: ok, failed (bad credentials), blocked (failed-logins policy), \
         refused (limits, shutdown).",
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

static CONNECTIONS: LazyLock<IntGauge> = LazyLock::new(|| {
    prometheus::register_int_gauge!(
        "multiftp_connections",
        "Open control connections in this daemon, logged in or not."
    )
    .expect("metric registers once")
});

static TRANSFERS: LazyLock<IntGauge> = LazyLock::new(|| {
    prometheus::register_int_gauge!("multiftp_transfers_in_flight", "Transfers running now.")
        .expect("metric registers once")
});

static COMMANDS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    prometheus::register_int_counter_vec!(
        "multiftp_commands_total",
        "FTP commands answered, by verb (OTHER for verbs the server does not know) and reply \
         code.",
        &["verb", "code"]
    )
    .expect("metric registers once")
});

static TRANSFERS_DONE: LazyLock<IntCounterVec> = LazyLock::new(|| {
    prometheus::register_int_counter_vec!(
        "multiftp_transfers_total",
        "Finished transfers by direction (download, upload, delete) and result (ok, failed).",
        &["direction", "result"]
    )
    .expect("metric registers once")
});

static TRANSFER_BYTES: LazyLock<IntCounterVec> = LazyLock::new(|| {
    prometheus::register_int_counter_vec!(
        "multiftp_transfer_bytes_total",
        "Bytes moved over data connections by direction (download, upload).",
        &["direction"]
    )
    .expect("metric registers once")
});

/// The verbs counted under their own name; anything else a client sends is `OTHER`, so a
/// client cannot grow the label set (and the scrape) without bound.
const VERBS: &[&str] = &[
    "ABOR", "ACCT", "ALLO", "APPE", "AUTH", "CCC", "CDUP", "CWD", "DELE", "EPRT", "EPSV", "FEAT",
    "HASH", "HELP", "LIST", "MDTM", "MFMT", "MKD", "MLSD", "MLST", "MODE", "NLST", "NOOP", "OPTS",
    "PASS", "PASV", "PBSZ", "PORT", "PROT", "PWD", "QUIT", "REIN", "REST", "RETR", "RMD", "RNFR",
    "RNTO", "SITE", "SIZE", "STAT", "STOR", "STOU", "STRU", "SYST", "TYPE", "USER", "XCUP", "XCWD",
    "XMKD", "XPWD", "XRMD",
];

/// Counts one login result.
pub fn login(result: &str) {
    LOGINS.with_label_values(&[result]).inc();
}

/// Counts one answered command.
pub fn command(verb: &str, code: u16) {
    let verb = VERBS.iter().find(|v| v.eq_ignore_ascii_case(verb)).copied().unwrap_or("OTHER");
    COMMANDS.with_label_values(&[verb, &code.to_string()]).inc();
}

/// Counts one finished transfer: `direction` is `download`, `upload` or `delete`.
pub fn transfer(direction: &str, ok: bool, bytes: u64) {
    TRANSFERS_DONE.with_label_values(&[direction, if ok { "ok" } else { "failed" }]).inc();
    if direction != "delete" {
        TRANSFER_BYTES.with_label_values(&[direction]).inc_by(bytes);
    }
}

/// The running HTTP listener; [`HttpServer::stop`] ends it.
pub struct HttpServer {
    server: Arc<tiny_http::Server>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl HttpServer {
    /// Binds `addr` and serves `/metrics` and `/health` on a thread; the gauges come from
    /// the engine's `stats`, the user count and the health probe from `accounts`.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when the address cannot be bound, [`Error::Runtime`] when the thread
    /// cannot be started.
    pub fn start(addr: SocketAddr, accounts: Accounts, stats: Arc<Stats>) -> Result<HttpServer> {
        let server = Arc::new(tiny_http::Server::http(addr).map_err(|e| {
            Error::Config(format!(
                "cannot listen for HTTP on {addr}: {e} (key 'http_bind', env MULTIFTP_HTTP_BIND, \
                 flag --http-bind)"
            ))
        })?);
        for metric in [&*USERS, &*SESSIONS, &*CONNECTIONS, &*TRANSFERS] {
            metric.set(0);
        }
        LazyLock::force(&LOGINS);
        let runtime = tokio::runtime::Handle::current();
        let serving = Arc::clone(&server);
        let thread = std::thread::Builder::new()
            .name("multiftp-http".into())
            .spawn(move || {
                for request in serving.incoming_requests() {
                    let (status, content_type, body) = match (request.method(), request.url()) {
                        (tiny_http::Method::Get, "/metrics") => {
                            if let Ok(n) = runtime.block_on(accounts.count()) {
                                USERS.set(n);
                            }
                            let gauge = |n: &std::sync::atomic::AtomicUsize| {
                                let n = n.load(std::sync::atomic::Ordering::Relaxed);
                                i64::try_from(n).unwrap_or(i64::MAX)
                            };
                            SESSIONS.set(gauge(&stats.sessions));
                            CONNECTIONS.set(gauge(&stats.connections));
                            TRANSFERS.set(gauge(&stats.transfers));
                            let mut buf = Vec::new();
                            let encoder = TextEncoder::new();
                            let _ = encoder.encode(&prometheus::gather(), &mut buf);
                            (200, encoder.format_type().to_string(), buf)
                        }
                        (tiny_http::Method::Get, "/health") => {
                            match runtime.block_on(accounts.count()) {
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
            .map_err(|cause| Error::Runtime { what: "cannot start the HTTP thread", cause })?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_verbs_share_one_label() {
        command("retr", 226);
        command("XYZZY", 500);
        command("\u{1}junk", 500);
        assert!(COMMANDS.with_label_values(&["RETR", "226"]).get() >= 1);
        assert!(COMMANDS.with_label_values(&["OTHER", "500"]).get() >= 2);
        transfer("upload", true, 10);
        assert!(TRANSFER_BYTES.with_label_values(&["upload"]).get() >= 10);
    }
}
