//! Serving: [`run`] puts the FTP engine ([`crate::ftp`]) on top of an opened [`App`], with
//! [`Daemon`] as its backend, and serves until the shutdown future completes;
//! [`engine_options`] turns settings into the engine's options and [`reload`] applies a
//! SIGHUP's settings to a running daemon.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::sync::mpsc;

use crate::app::App;
use crate::auth::{Daemon, SharedGuard};
use crate::config::{BlockBy, PassiveHostSetting, Settings, TlsRequired};
use crate::error::{Error, Result};
use crate::ftp::server::{Listeners, ServeError, Server};
use crate::ftp::{self, FailedLogins, Options, PassiveHost, TlsPolicy};
use crate::session::{Limits, Node, Tracker, failures};
use crate::transfer_log::TransferLog;

/// Serves FTP until `shutdown` completes: from then on logins are refused, the listeners
/// close, idle sessions end and running transfers get the configured grace period. Binds
/// first so a busy port is reported clearly before anything else happens.
///
/// # Errors
///
/// [`Error::Config`] when an address is in use or the certificate cannot be loaded,
/// [`Error::GraceExpired`] when transfers had to be cut at shutdown, [`Error::Io`] for an
/// unusable homes folder or transfer log, [`Error::Runtime`] when the HTTP thread cannot start
/// and [`Error::Query`] when the session table cannot be set up.
pub async fn run<F>(app: &App, shutdown: F) -> Result<()>
where
    F: Future<Output = ()> + Send + Sync + 'static,
{
    // Nothing announced, and no sender: nothing is ever reloaded.
    run_with(app, shutdown, || {}, mpsc::unbounded_channel().1).await
}

/// Like [`run`], calling `serving` once the listeners are bound and everything else that can
/// stop a start has succeeded, just before the first connection is accepted (`multiftpd` shows
/// the first admin's password only then), and applying while serving each [`Settings`] that
/// arrives on `reloads` (`multiftpd` sends the configuration read again on SIGHUP) with
/// [`reload`].
///
/// # Errors
///
/// As [`run`].
pub async fn run_with<F, A>(
    app: &App,
    shutdown: F,
    serving: A,
    mut reloads: mpsc::UnboundedReceiver<Settings>,
) -> Result<()>
where
    F: Future<Output = ()> + Send + Sync + 'static,
    A: FnOnce() + Send,
{
    let s = &app.settings;
    let control = bind(SocketAddr::new(s.bind, s.port), "--port / MULTIFTP_PORT").await?;
    let implicit_tls = match s.implicit_tls_port {
        Some(port) => Some(
            bind(SocketAddr::new(s.bind, port), "--implicit-tls-port / MULTIFTP_IMPLICIT_TLS_PORT")
                .await?,
        ),
        None => None,
    };
    let options = engine_options(s)?;
    let tls = options.tls.clone();
    let homes = s.homes();
    let homes_dir = Arc::new(
        cap_std::fs::Dir::open_ambient_dir(&homes, cap_std::ambient_authority())
            .map_err(|cause| Error::io("cannot open the homes folder", &homes, cause))?,
    );
    let transfer_log = s.transfer_log.as_deref().map(TransferLog::open).transpose()?;
    crate::account::password::prewarm().await;
    let limits = Limits { per_user: s.max_sessions_per_user, total: s.max_sessions };
    let node = Node { name: s.node_name.clone(), heartbeat: s.heartbeat_interval };
    let tracker = Tracker::start(&app.sessions, limits, node).await?;
    let reloader = {
        let (mut current, log) = (s.clone(), transfer_log.clone());
        tokio::spawn(async move {
            while let Some(new) = reloads.recv().await {
                reload(&mut current, &new, tls.as_ref(), log.as_ref());
            }
        })
    };
    let daemon = Arc::new(Daemon::new(app, tracker.clone(), homes_dir, transfer_log));
    // The failed-logins counts live in the database, shared with every node on it.
    let shared_guard = options.failed_logins.map(|policy| {
        let failures =
            app.sessions.login_failures(failures::Policy { max: policy.max, block: policy.block });
        Arc::new(SharedGuard::new(failures, policy.by))
    });
    let mut server = Server::new(Arc::clone(&daemon), options);
    if let Some(guard) = shared_guard {
        server = server.with_login_guard(guard);
    }
    let http = match s.http_bind {
        Some(http_addr) => {
            match crate::metrics::HttpServer::start(http_addr, app.accounts.clone(), server.stats())
            {
                Ok(http) => Some(http),
                Err(e) => {
                    reloader.abort();
                    let _ = tracker.stop().await;
                    return Err(e);
                }
            }
        }
        None => None,
    };
    // After a burst of work, give the allocator's freed pages back (src/memory.rs).
    let trimmer = tokio::spawn(crate::memory::trim_when_quiet(server.stats()));
    serving();
    let draining = Arc::clone(&daemon);
    let result = server
        .serve(Listeners { control, implicit_tls }, async move {
            shutdown.await;
            draining.begin_drain();
        })
        .await;
    reloader.abort();
    trimmer.abort();
    if let Some(http) = http {
        http.stop();
    }
    // The last logouts and transfer-log lines first, then this daemon's rows go.
    daemon.flush().await;
    if let Err(e) = tracker.stop().await {
        tracing::warn!(cause = %e, "could not clear this daemon's sessions");
    }
    result.map_err(|e| match e {
        ServeError::GraceExpired(transfers) => {
            Error::GraceExpired { grace: app.settings.shutdown_grace, transfers }
        }
    })
}

/// Applies the reloaded settings `new` to a running daemon whose settings in force are
/// `current` (SIGHUP in `multiftpd`). Only these change live: the FTPS certificate and key
/// (`tls_cert`, `tls_key`) are read again into `tls`, even when their paths stay (certbot
/// renews in place), and the transfer log (`transfer_log`) is reopened, even when its path
/// stays (logrotate renamed it). `current` is updated with what took effect. Whatever fails
/// is logged and the old state stays: a reload never stops the daemon. Every other changed
/// setting (also turning FTPS or the transfer log on or off) needs a restart: their names
/// are logged and returned.
pub fn reload(
    current: &mut Settings,
    new: &Settings,
    tls: Option<&ftp::tls::Tls>,
    transfer_log: Option<&TransferLog>,
) -> Vec<String> {
    let pending: Vec<String> = changed_settings(current, new)
        .into_iter()
        .filter(|key| match key.as_str() {
            "tls_cert" | "tls_key" => tls.is_none() || new.tls.is_none(),
            "transfer_log" => transfer_log.is_none() || new.transfer_log.is_none(),
            _ => true,
        })
        .collect();
    let mut ok = true;
    if let (Some(tls), Some(files)) = (tls, &new.tls) {
        match tls.reload_pem_files(&files.cert, &files.key) {
            Ok(()) => {
                tracing::info!(cert = %files.cert.display(), "FTPS certificate reloaded");
                current.tls = Some(files.clone());
            }
            Err(e) => {
                ok = false;
                tracing::error!(cause = %e, "FTPS certificate not reloaded: the one in use stays");
            }
        }
    }
    if let (Some(log), Some(path)) = (transfer_log, &new.transfer_log) {
        match log.reopen(path) {
            Ok(()) => {
                tracing::info!(path = %path.display(), "transfer log reopened");
                current.transfer_log = Some(path.clone());
            }
            Err(e) => {
                ok = false;
                tracing::error!(cause = %e, "transfer log not reopened: the file in use stays");
            }
        }
    }
    if !pending.is_empty() {
        tracing::warn!(
            settings = %pending.join(", "),
            "changed settings take effect only after a restart"
        );
    }
    if ok {
        tracing::info!("reload done");
    }
    pending
}

/// The settings that differ between `current` and `new`, by their configuration key
/// (`tls_cert` and `tls_key` for the certificate pair); the data root is compared resolved.
fn changed_settings(current: &Settings, new: &Settings) -> Vec<String> {
    let mut new = new.clone();
    if let Ok(root) = std::fs::canonicalize(&new.root) {
        new.root = root;
    }
    let (Ok(serde_json::Value::Object(old)), Ok(serde_json::Value::Object(new))) =
        (serde_json::to_value(current), serde_json::to_value(&new))
    else {
        return Vec::new();
    };
    let mut changed = Vec::new();
    for (key, value) in &new {
        if old.get(key) == Some(value) {
            continue;
        }
        if key == "tls" {
            let file = |v: Option<&serde_json::Value>, f: &str| v.and_then(|t| t.get(f)).cloned();
            for (f, name) in [("cert", "tls_cert"), ("key", "tls_key")] {
                if file(old.get(key), f) != file(Some(value), f) {
                    changed.push(name.to_string());
                }
            }
        } else {
            changed.push(key.clone());
        }
    }
    changed
}

/// The engine's options from the settings; loads the certificate when FTPS is configured.
///
/// # Errors
///
/// [`Error::Config`] naming `tls_cert` / `tls_key` when they cannot be loaded.
pub fn engine_options(s: &Settings) -> Result<Options> {
    let tls = match &s.tls {
        Some(files) => {
            Some(ftp::tls::Tls::from_pem_files(&files.cert, &files.key).map_err(|e| {
                Error::Config(format!(
                    "cannot load the FTPS certificate: {e} (check tls_cert / tls_key: PEM \
                     certificate chain and private key)"
                ))
            })?)
        }
        None => None,
    };
    Ok(Options {
        greeting: s.greeting.clone(),
        passive_ports: s.passive_ports.clone(),
        passive_host: match &s.passive_host {
            PassiveHostSetting::FromConnection => PassiveHost::FromConnection,
            PassiveHostSetting::Ip(ip) => PassiveHost::Ip((*ip).into()),
            PassiveHostSetting::Dns(name) => PassiveHost::Dns(name.clone()),
        },
        idle_timeout: s.idle_timeout,
        data_timeout: s.data_timeout,
        shutdown_grace: s.shutdown_grace,
        tls,
        tls_policy: match s.tls_required {
            TlsRequired::None => TlsPolicy::Optional,
            TlsRequired::Logins => TlsPolicy::Logins,
            TlsRequired::All => TlsPolicy::All,
        },
        require_tls_session_reuse: s.require_tls_session_reuse,
        active_mode: s.active_mode,
        data_peer_check: s.data_peer_check,
        // The engine needs only to know whether to expect the header: the balancer's control
        // port was libunftp's way to tell control from data connections on one listener, and
        // the engine's passive data connections have listeners of their own.
        proxy_protocol: s.proxy_protocol_port.is_some(),
        // By default a source IP + username pair is blocked after 3 failures for 5 minutes:
        // keyed on the pair, one attacker cannot lock a user out from everywhere.
        failed_logins: (s.failed_logins_max > 0).then_some(FailedLogins {
            max: s.failed_logins_max,
            block: s.failed_logins_block,
            by: match s.failed_logins_by {
                BlockBy::UserAndIp => ftp::BlockBy::UserAndIp,
                BlockBy::Ip => ftp::BlockBy::Ip,
                BlockBy::User => ftp::BlockBy::User,
            },
        }),
        line_limit: s.line_limit,
    })
}

/// Binds a listener on `addr`, explaining a busy port or a refused address; `flag` names the
/// setting that chose the port.
async fn bind(addr: SocketAddr, flag: &str) -> Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr).await.map_err(|e| {
        if e.kind() == std::io::ErrorKind::AddrInUse {
            Error::Config(format!(
                "port {} on {} is already in use: stop the other server or choose another port \
                 with {flag}",
                addr.port(),
                addr.ip()
            ))
        } else {
            Error::Config(format!(
                "cannot listen on {addr}: {e} (ports below 1024 need CAP_NET_BIND_SERVICE; check \
                 --bind / MULTIFTP_BIND)"
            ))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::RawConfig;

    #[test]
    fn settings_map_onto_engine_options() {
        let raw = RawConfig {
            passive_host: Some("203.0.113.7".into()),
            failed_logins_max: Some(0),
            proxy_protocol_port: Some(21),
            active_mode: Some(false),
            line_limit: Some(1024),
            ..Default::default()
        };
        let o = engine_options(&Settings::load(None, raw).unwrap()).unwrap();
        assert_eq!(o.passive_host, PassiveHost::Ip([203, 0, 113, 7].into()));
        assert_eq!(o.failed_logins, None);
        assert!(o.proxy_protocol && !o.active_mode && o.data_peer_check);
        assert!(o.tls.is_none() && o.tls_policy == TlsPolicy::Optional);
        assert_eq!(o.line_limit, 1024);
        let o = engine_options(&Settings::load(None, RawConfig::default()).unwrap()).unwrap();
        let policy = o.failed_logins.unwrap();
        assert_eq!((policy.max, policy.by), (3, ftp::BlockBy::UserAndIp));
        assert!(!o.proxy_protocol && o.active_mode);
    }

    /// Writes a self-signed pair into `dir` as `<name>.crt` and `<name>.key`.
    fn pair(dir: &std::path::Path, name: &str) -> (std::path::PathBuf, std::path::PathBuf) {
        let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
        let (cert, key) = (dir.join(format!("{name}.crt")), dir.join(format!("{name}.key")));
        std::fs::write(&cert, ck.cert.pem()).unwrap();
        std::fs::write(&key, ck.signing_key.serialize_pem()).unwrap();
        (cert, key)
    }

    #[tokio::test]
    async fn reload_takes_the_certificate_and_log_and_names_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let (cert_a, key_a) = pair(dir.path(), "a");
        let (cert_b, key_b) = pair(dir.path(), "b");
        let raw = |cert: &std::path::Path, key: &std::path::Path, log: &str| RawConfig {
            root: Some(dir.path().to_path_buf()),
            tls_cert: Some(cert.to_path_buf()),
            tls_key: Some(key.to_path_buf()),
            transfer_log: Some(dir.path().join(log)),
            ..Default::default()
        };
        let mut current = Settings::load(None, raw(&cert_a, &key_a, "x.log")).unwrap();
        let tls = engine_options(&current).unwrap().tls.unwrap();
        let log = TransferLog::open(&dir.path().join("x.log")).unwrap();

        let new = Settings::load(
            None,
            RawConfig {
                greeting: Some("hello".into()),
                max_sessions: Some(7),
                ..raw(&cert_b, &key_b, "y.log")
            },
        )
        .unwrap();
        let mut pending = reload(&mut current, &new, Some(&tls), Some(&log));
        pending.sort();
        assert_eq!(pending, ["greeting", "max_sessions"]);
        assert_eq!(current.tls.as_ref().unwrap().cert, cert_b);
        assert_eq!(log.path(), dir.path().join("y.log"));
        assert_eq!(current.greeting, Settings::load(None, RawConfig::default()).unwrap().greeting);

        // A certificate that does not load changes nothing, and is no restart matter either.
        let mut broken = current.clone();
        broken.tls =
            Some(crate::config::TlsFiles { cert: dir.path().join("missing.crt"), key: key_b });
        assert!(reload(&mut current, &broken, Some(&tls), Some(&log)).is_empty());
        assert_eq!(current.tls.as_ref().unwrap().cert, cert_b);
        // Without a transfer log at start, one in the file waits for a restart.
        let mut no_log = current.clone();
        no_log.transfer_log = None;
        let mut pending = reload(&mut no_log, &new, Some(&tls), None);
        pending.sort();
        assert_eq!(pending, ["greeting", "max_sessions", "transfer_log"]);
    }

    #[tokio::test]
    async fn a_busy_port_is_named() {
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let e = bind(taken.local_addr().unwrap(), "--port / MULTIFTP_PORT").await.unwrap_err();
        assert!(e.to_string().contains("already in use"), "{e}");
    }
}
