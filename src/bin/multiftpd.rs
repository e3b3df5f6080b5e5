//! `multiftpd`: the multiftp FTP daemon. Parses flags, sets up logging, opens the data root
//! and database, and serves until SIGINT or SIGTERM; SIGHUP reloads the configuration's live
//! settings (certificate, transfer log).

use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use multiftp::cli::{DataArgs, init_tracing};
use multiftp::config::RawConfig;
use multiftp::{App, Settings};

/// multiftp FTP server: private homes, SQLite accounts, user-to-user sharing.
///
/// Every flag has an environment twin (shown below) and a key in the --config file.
/// Precedence: defaults < config file < environment < flags.
#[derive(Debug, Parser)]
#[command(name = "multiftpd", version)]
struct Cli {
    #[command(flatten)]
    data: DataArgs,

    /// Address to listen on [default: 0.0.0.0].
    #[arg(long, env = "MULTIFTP_BIND", value_name = "ADDR")]
    bind: Option<String>,

    /// Control port [default: 2121].
    #[arg(long, env = "MULTIFTP_PORT", value_name = "N")]
    port: Option<u16>,

    /// Passive data port range [default: 50000-50100].
    #[arg(long, env = "MULTIFTP_PASSIVE_PORTS", value_name = "LOW-HIGH")]
    passive_ports: Option<String>,

    /// One-line greeting sent on connect [default: "Welcome to multiftp"].
    #[arg(long, env = "MULTIFTP_GREETING", value_name = "TEXT")]
    greeting: Option<String>,

    /// Seconds an idle session stays open [default: 600].
    #[arg(long, env = "MULTIFTP_IDLE_TIMEOUT", value_name = "SECS")]
    idle_timeout: Option<u64>,

    /// Seconds a data connection may make no progress (the client neither reads nor sends)
    /// before its transfer fails with 451 [default: 300].
    #[arg(long, env = "MULTIFTP_DATA_TIMEOUT", value_name = "SECS")]
    data_timeout: Option<u64>,

    /// Seconds running transfers get to finish on shutdown [default: 10].
    #[arg(long, env = "MULTIFTP_SHUTDOWN_GRACE", value_name = "SECS")]
    shutdown_grace: Option<u64>,

    /// Address advertised in PASV replies: from-connection, an IPv4 address or a DNS name
    /// [default: from-connection]. Set the public address when behind NAT.
    #[arg(long, env = "MULTIFTP_PASSIVE_HOST", value_name = "HOST")]
    passive_host: Option<String>,

    /// PEM certificate chain; enables FTPS (explicit AUTH TLS, RFC 4217).
    #[arg(long, env = "MULTIFTP_TLS_CERT", value_name = "FILE")]
    tls_cert: Option<std::path::PathBuf>,

    /// PEM private key for --tls-cert.
    #[arg(long, env = "MULTIFTP_TLS_KEY", value_name = "FILE")]
    tls_key: Option<std::path::PathBuf>,

    /// When TLS is required: none, logins (before USER/PASS) or all (control and data)
    /// [default: none].
    #[arg(long, env = "MULTIFTP_TLS_REQUIRED", value_name = "POLICY")]
    tls_required: Option<String>,

    /// Log format on stderr: text or json [default: text].
    #[arg(long, env = "MULTIFTP_LOG_FORMAT", value_name = "FORMAT")]
    log_format: Option<String>,

    /// Write an xferlog-format transfer log to this file.
    #[arg(long, env = "MULTIFTP_TRANSFER_LOG", value_name = "FILE")]
    transfer_log: Option<std::path::PathBuf>,

    /// Most logged-in sessions per user, 0 for no limit [default: 0].
    #[arg(long, env = "MULTIFTP_MAX_SESSIONS_PER_USER", value_name = "N")]
    max_sessions_per_user: Option<u32>,

    /// Most logged-in sessions in all, 0 for no limit [default: 0].
    #[arg(long, env = "MULTIFTP_MAX_SESSIONS", value_name = "N")]
    max_sessions: Option<u32>,

    /// Failed logins before a block, 0 to turn blocking off [default: 3].
    #[arg(long, env = "MULTIFTP_FAILED_LOGINS_MAX", value_name = "N")]
    failed_logins_max: Option<u32>,

    /// Seconds a failed-logins block lasts [default: 300].
    #[arg(long, env = "MULTIFTP_FAILED_LOGINS_BLOCK", value_name = "SECS")]
    failed_logins_block: Option<u64>,

    /// What a block applies to: user-and-ip, ip or user [default: user-and-ip].
    #[arg(long, env = "MULTIFTP_FAILED_LOGINS_BY", value_name = "KEY")]
    failed_logins_by: Option<String>,

    /// Serve Prometheus /metrics and /health over HTTP on ADDR:PORT (off by default).
    #[arg(long, env = "MULTIFTP_HTTP_BIND", value_name = "ADDR:PORT")]
    http_bind: Option<String>,

    /// PROXY protocol mode behind a load balancer: the control port clients connect to.
    #[arg(long, env = "MULTIFTP_PROXY_PROTOCOL_PORT", value_name = "PORT")]
    proxy_protocol_port: Option<u16>,

    /// Port for implicit FTPS (TLS from the first byte); needs --tls-cert [default: off].
    #[arg(long, env = "MULTIFTP_IMPLICIT_TLS_PORT", value_name = "PORT")]
    implicit_tls_port: Option<u16>,

    /// Refuse TLS data connections that do not resume the control connection's TLS session
    /// (Python's ftplib does not resume) [default: false].
    #[arg(long, env = "MULTIFTP_REQUIRE_TLS_SESSION_REUSE", value_name = "BOOL",
          value_parser = clap::builder::BoolishValueParser::new())]
    require_tls_session_reuse: Option<bool>,

    /// Allow active mode (PORT/EPRT, only to the client's own address) [default: true].
    #[arg(long, env = "MULTIFTP_ACTIVE_MODE", value_name = "BOOL",
          value_parser = clap::builder::BoolishValueParser::new())]
    active_mode: Option<bool>,

    /// Accept data connections only from the control connection's address [default: true].
    #[arg(long, env = "MULTIFTP_DATA_PEER_CHECK", value_name = "BOOL",
          value_parser = clap::builder::BoolishValueParser::new())]
    data_peer_check: Option<bool>,

    /// Longest command line after login, in bytes, at least 512 [default: 8192].
    #[arg(long, env = "MULTIFTP_LINE_LIMIT", value_name = "BYTES")]
    line_limit: Option<usize>,

    /// Log at debug level (RUST_LOG overrides). MULTIFTP_VERBOSE takes 1/0, true/false,
    /// yes/no, on/off.
    #[arg(short, long, env = "MULTIFTP_VERBOSE", value_name = "BOOL",
          value_parser = clap::builder::BoolishValueParser::new())]
    verbose: bool,

    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve FTP (the default).
    Run,
    /// Validate the configuration (loading the TLS certificate and key, if set, and checking
    /// that they belong together) and print the effective settings, then exit.
    CheckConfig,
}

impl Cli {
    fn settings(&self) -> multiftp::Result<Settings> {
        let layer = RawConfig {
            bind: self.bind.clone(),
            port: self.port,
            passive_ports: self.passive_ports.clone(),
            greeting: self.greeting.clone(),
            idle_timeout: self.idle_timeout,
            shutdown_grace: self.shutdown_grace,
            data_timeout: self.data_timeout,
            passive_host: self.passive_host.clone(),
            tls_cert: self.tls_cert.clone(),
            tls_key: self.tls_key.clone(),
            tls_required: self.tls_required.clone(),
            log_format: self.log_format.clone(),
            transfer_log: self.transfer_log.clone(),
            max_sessions_per_user: self.max_sessions_per_user,
            max_sessions: self.max_sessions,
            failed_logins_max: self.failed_logins_max,
            failed_logins_block: self.failed_logins_block,
            failed_logins_by: self.failed_logins_by.clone(),
            http_bind: self.http_bind.clone(),
            proxy_protocol_port: self.proxy_protocol_port,
            implicit_tls_port: self.implicit_tls_port,
            require_tls_session_reuse: self.require_tls_session_reuse,
            active_mode: self.active_mode,
            data_peer_check: self.data_peer_check,
            line_limit: self.line_limit,
            ..self.data.raw()
        };
        Settings::load(self.data.config.as_deref(), layer)
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Settings first: they choose the log format. Their errors go straight to stderr.
    let settings = match cli.settings() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("multiftpd: error: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    init_tracing(cli.verbose, "info,sqlx=warn", settings.log_format);
    for var in multiftp::config::unknown_env_vars() {
        tracing::warn!(%var, "unknown environment variable ignored; see multiftpd --help");
    }
    match run(cli, settings) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("multiftpd: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Threads for blocking work. A transfer on a plain data connection runs on one of them from
/// start to end, so this bounds the transfers that move at once (more wait for a free thread);
/// tokio's default of 512 is too low for a busy server. Idle threads end after 10 s.
const BLOCKING_THREADS: usize = 4096;

fn run(cli: Cli, settings: Settings) -> anyhow::Result<()> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(BLOCKING_THREADS)
        .build()
        .context("starting the async runtime")?
        .block_on(serve(cli, settings))
}

async fn serve(cli: Cli, settings: Settings) -> anyhow::Result<()> {
    if matches!(cli.command, Some(Command::CheckConfig)) {
        // The start loads the certificate only after opening the database; load it here too,
        // so a key that does not belong to the certificate is found before a restart.
        multiftp::server::engine_options(&settings)?;
        print!("{}", toml::to_string(&settings).context("printing settings")?);
        return Ok(());
    }
    // SIGHUP from the very start: its default action would kill the daemon.
    let mut hangups = multiftp::signal::hangups().context("installing the SIGHUP handler")?;
    // Each session holds a socket and a home handle, each transfer a socket and a file: raise
    // the soft open-files limit to the hard one so thousands of sessions fit.
    let open_files = rlimit::increase_nofile_limit(u64::MAX).unwrap_or(0);
    let app = App::open(settings).await?;
    // The password goes to <root>/initial-admin-password at once but is shown only once the
    // server is serving: shown before a start that then fails (port in use), it would scroll
    // away with the error while the account stays.
    let first_password = app.accounts.bootstrap_admin().await?;
    let password_file = multiftp::account::initial_password_path(&app.settings.root);
    if first_password.is_none() {
        if app.accounts.enabled_admins().await? == 0 {
            tracing::warn!(
                "no enabled admin account: nobody can manage users over FTP; make one with \
                 'ftpadm user update NAME --admin' (or 'ftpadm user add NAME --admin')"
            );
        }
        if password_file.exists() {
            tracing::warn!(
                file = %password_file.display(),
                "the generated password of the admin account is still in this file; change it \
                 with 'ftpadm passwd admin', which removes the file"
            );
        }
    }
    let s = &app.settings;
    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        listen = %std::net::SocketAddr::new(s.bind, s.port),
        root = %s.root.display(),
        db = %s.db.display(),
        users = app.accounts.count().await?,
        passive_ports = ?s.passive_ports,
        open_files,
        ftps = s.tls.is_some(),
        implicit_tls_port = ?s.implicit_tls_port,
        tls_required = ?s.tls_required,
        "multiftpd starting"
    );
    let json = s.log_format == multiftp::config::LogFormat::Json;
    let announce = move || {
        if let Some(password) = first_password {
            show_first_password(&password, &password_file, json);
        }
    };
    // On SIGHUP the settings are read again as at start (the configuration file may have
    // changed; flags and environment cannot) and handed to the server, which applies what can
    // change live and names the rest.
    let (reload_tx, reload_rx) = tokio::sync::mpsc::unbounded_channel();
    let reloader = tokio::spawn(async move {
        while hangups.recv().await.is_some() {
            tracing::info!("SIGHUP received, reloading");
            match cli.settings() {
                Ok(settings) => {
                    if reload_tx.send(settings).is_err() {
                        break;
                    }
                }
                Err(e) => tracing::error!(
                    cause = %format!("{e:#}"),
                    "reload refused: the configuration has an error; nothing changed"
                ),
            }
        }
    });
    let result =
        multiftp::server::run_with(&app, multiftp::signal::shutdown_signal(), announce, reload_rx)
            .await;
    reloader.abort();
    app.pool.close().await;
    result?;
    tracing::info!("multiftpd stopped");
    Ok(())
}

/// Shows the first admin's password, once the server is serving: a plain block on stderr, or
/// in JSON log mode one JSON event (log collectors take the stream line by line).
fn show_first_password(password: &str, file: &std::path::Path, json: bool) {
    let admin = multiftp::account::FIRST_ADMIN;
    if json {
        tracing::warn!(
            username = admin,
            password,
            password_file = %file.display(),
            "first start: created the admin account; change its password with 'ftpadm passwd \
             admin', which removes the password file"
        );
    } else {
        eprintln!(
            "\nFirst start: created the admin account.\n  username: {admin}\n  password: \
             {password}\n  saved in: {} (mode 0600)\nChange it with: ftpadm passwd {admin} (this \
             deletes the file)\n",
            file.display()
        );
    }
}
