//! The daemon: [`App`] opens everything the server and `ftpadm` need (root, homes,
//! database, services); [`run`] builds the libunftp server on top and serves until the shutdown
//! future completes.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use libunftp::ServerBuilder;
use libunftp::options::{
    FailedLoginsBlock, FailedLoginsPolicy, FtpsRequired, PassiveHost, Shutdown, TlsFlags,
};
use sqlx::SqlitePool;

use crate::account::Accounts;
use crate::auth::{DbAuthenticator, DbUserDetailProvider};
use crate::config::{BlockBy, PassiveHostSetting, Settings, TlsRequired};
use crate::error::{Error, Result};
use crate::message::Messages;
use crate::session::{Limits, Sessions, Tracker};
use crate::share::Shares;
use crate::storage::UserStorage;
use crate::storage::inflight::Transfers;
use crate::transfer_log::TransferLog;
use std::time::Duration;

/// Everything opened from [`Settings`]: the database and the services over it.
#[derive(Debug, Clone)]
pub struct App {
    /// The validated settings.
    pub settings: Settings,
    /// The SQLite pool.
    pub pool: SqlitePool,
    /// The account service.
    pub accounts: Accounts,
    /// The share service.
    pub shares: Shares,
    /// The message service.
    pub messages: Messages,
    /// Who is online.
    pub sessions: Sessions,
}

impl App {
    /// Creates the root and `<root>/home` if missing, checks the root is writable, opens (and
    /// migrates) the database.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] for an unusable root, [`Error::Database`]/[`Error::Migration`] for the
    /// database.
    pub async fn open(mut settings: Settings) -> Result<App> {
        let homes = settings.homes();
        std::fs::create_dir_all(&homes).map_err(|source| Error::Io {
            what: "cannot create the data root (check --root / MULTIFTP_ROOT and permissions)",
            path: homes.clone(),
            source,
        })?;
        let probe = settings.root.join(".multiftp-write-test");
        std::fs::write(&probe, b"").and_then(|()| std::fs::remove_file(&probe)).map_err(
            |source| Error::Io {
                what: "the data root is not writable (fix its permissions or choose another \
                       --root)",
                path: settings.root.clone(),
                source,
            },
        )?;
        // Canonical from here on: libunftp's filesystem checks that each home is under it.
        settings.root = std::fs::canonicalize(&settings.root).map_err(|source| Error::Io {
            what: "cannot resolve the data root",
            path: settings.root.clone(),
            source,
        })?;
        let pool = crate::db::open(&settings.db).await?;
        let accounts = Accounts::new(pool.clone(), &settings.root);
        let messages = Messages::new(pool.clone(), accounts.clone());
        let shares = Shares::new(pool.clone(), accounts.clone(), messages.clone());
        let sessions = Sessions::new(pool.clone());
        Ok(App { settings, pool, accounts, shares, messages, sessions })
    }
}

/// Serves FTP until `shutdown` completes, then gives running transfers the configured grace
/// period. Binds first so a busy port is reported clearly before anything else happens.
///
/// # Errors
///
/// [`Error::Config`] when the address is in use or the server cannot be built.
pub async fn run<F>(app: &App, shutdown: F) -> Result<()>
where
    F: Future<Output = ()> + Send + Sync + 'static,
{
    let s = &app.settings;
    let addr = SocketAddr::new(s.bind, s.port);
    check_bindable(addr)?;

    let homes = s.homes();
    let accounts = app.accounts.clone();
    crate::auth::password::prewarm().await;
    let limits = Limits { per_user: s.max_sessions_per_user, total: s.max_sessions };
    let tracker = Tracker::start(&app.sessions, limits).await?;
    let share_store = app.shares.store().clone();
    let factory_homes = homes.clone();
    let grace = s.shutdown_grace;
    // libunftp only takes a &'static greeting; it is built once per process.
    let greeting: &'static str = Box::leak(s.greeting.clone().into_boxed_str());

    let transfers = Transfers::new();
    let homes_dir = Arc::new(
        cap_std::fs::Dir::open_ambient_dir(&homes, cap_std::ambient_authority()).map_err(
            |source| Error::Io {
                what: "cannot open the homes folder",
                path: homes.clone(),
                source,
            },
        )?,
    );
    let factory_transfers = Arc::clone(&transfers);
    let data_timeout = s.data_timeout;
    let builder = ServerBuilder::with_user_detail_provider(
        Box::new(move || {
            UserStorage::new(
                &factory_homes,
                Arc::clone(&homes_dir),
                share_store.clone(),
                Arc::clone(&factory_transfers),
                data_timeout,
            )
            .expect("the homes folder was opened at start-up")
        }),
        Arc::new(DbUserDetailProvider::new(accounts.clone())),
    )
    .authenticator(Arc::new(DbAuthenticator::new(
        accounts,
        Some(tracker.clone()),
        Arc::clone(&transfers),
    )))
    .greeting(greeting)
    .passive_ports(s.passive_ports.clone())
    .idle_session_timeout(s.idle_timeout.as_secs())
    .notify_presence(tracker.clone())
    .shutdown_indicator(drain(shutdown, Arc::clone(&transfers), grace));
    // By default a source IP + username pair is blocked after 3 failures for 5 minutes: keyed
    // on the pair, one attacker cannot lock a user out from everywhere.
    let builder = if s.failed_logins_max == 0 {
        builder
    } else {
        builder.failed_logins_policy(FailedLoginsPolicy::new(
            s.failed_logins_max,
            s.failed_logins_block,
            match s.failed_logins_by {
                BlockBy::UserAndIp => FailedLoginsBlock::UserAndIP,
                BlockBy::Ip => FailedLoginsBlock::IP,
                BlockBy::User => FailedLoginsBlock::User,
            },
        ))
    };
    let builder = match &s.transfer_log {
        Some(path) => builder.notify_data(TransferLog::open(path, Some(tracker.clone()))?),
        None => builder,
    };
    let builder = builder.passive_host(match &s.passive_host {
        PassiveHostSetting::FromConnection => PassiveHost::FromConnection,
        PassiveHostSetting::Ip(ip) => PassiveHost::Ip(*ip),
        PassiveHostSetting::Dns(name) => PassiveHost::Dns(name.clone()),
    });
    let builder = match &s.tls {
        None => builder,
        Some(tls) => {
            let (control, data) = match s.tls_required {
                TlsRequired::None => (FtpsRequired::None, FtpsRequired::None),
                TlsRequired::Logins => (FtpsRequired::Accounts, FtpsRequired::None),
                TlsRequired::All => (FtpsRequired::Accounts, FtpsRequired::Accounts),
            };
            builder
                .ftps(tls.cert.clone(), tls.key.clone())
                .ftps_required(control, data)
                // TLS 1.2 and 1.3; session-id resumption for 1.2 (curl and lftp reuse the
                // control channel's session on data connections). TLS 1.3 works since the
                // vendored libunftp sends no 1.3 session tickets (vendor/libunftp/PATCHES.md).
                .ftps_tls_flags(TlsFlags::V1_2 | TlsFlags::V1_3 | TlsFlags::RESUMPTION_SESS_ID)
        }
    };
    let builder = match s.proxy_protocol_port {
        Some(port) => builder.proxy_protocol_mode(port),
        None => builder,
    };
    let builder = if s.http_bind.is_some() { builder.metrics() } else { builder };
    let builder = crate::site::register(builder, app);
    let server = builder.build().map_err(|e| {
        Error::Config(format!(
            "cannot start the FTP server: {e} (check tls_cert / tls_key: PEM certificate chain \
             and private key)"
        ))
    })?;
    let http = match s.http_bind {
        Some(http_addr) => Some(crate::metrics::HttpServer::start(
            http_addr,
            app,
            tracker.clone(),
            Arc::clone(&transfers),
        )?),
        None => None,
    };
    let result = server.listen(addr.to_string()).await;
    if let Some(http) = http {
        http.stop();
    }
    if let Err(e) = tracker.stop().await {
        tracing::warn!(cause = %e, "could not clear this daemon's sessions");
    }
    result.map_err(|e| {
        let text = e.to_string();
        if text.contains("grace period") {
            Error::Config("shutdown grace period expired with transfers still running".into())
        } else {
            Error::Config(format!("FTP server on {addr} stopped: {text}"))
        }
    })
}

/// The shutdown libunftp sees. libunftp's own shutdown closes every session at once, data
/// connections included, so when `shutdown` fires we first refuse new logins and wait (at most
/// `grace`) for running transfers to finish; only then does libunftp close the idle sessions.
async fn drain<F>(shutdown: F, transfers: Arc<Transfers>, grace: Duration) -> Shutdown
where
    F: Future<Output = ()> + Send + Sync + 'static,
{
    shutdown.await;
    transfers.begin_drain();
    let started = tokio::time::Instant::now();
    let running = transfers.running();
    if running > 0 {
        tracing::info!(running, grace_secs = grace.as_secs(), "waiting for transfers to finish");
        if tokio::time::timeout(grace, transfers.wait_idle()).await.is_err() {
            tracing::warn!(running = transfers.running(), "grace period over, closing anyway");
        }
        // Give the control channels a moment to send their 226 replies.
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let left = grace.saturating_sub(started.elapsed()).max(Duration::from_secs(1));
    Shutdown::new().grace_period(left)
}

fn check_bindable(addr: SocketAddr) -> Result<()> {
    match std::net::TcpListener::bind(addr) {
        Ok(listener) => {
            drop(listener);
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => Err(Error::Config(format!(
            "port {} on {} is already in use: stop the other server or choose another port \
             with --port / MULTIFTP_PORT",
            addr.port(),
            addr.ip()
        ))),
        Err(e) => Err(Error::Config(format!(
            "cannot listen on {addr}: {e} (ports below 1024 need CAP_NET_BIND_SERVICE; check \
             --bind / MULTIFTP_BIND)"
        ))),
    }
}
