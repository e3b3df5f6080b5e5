//! Configuration: defaults < TOML file (`--config`) < `MULTIFTP_*` environment < command-line
//! flags. The binaries' clap parsers read flags and their environment twins into a
//! [`RawConfig`] (clap already gives flags precedence over the environment); [`Settings::load`]
//! lays that over the file and the defaults, then validates once into typed [`Settings`].
//! Nothing after that re-reads strings.

use std::net::IpAddr;
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The example configuration file, documenting every key.
pub const EXAMPLE: &str = include_str!("../config/multiftpd.example.toml");

/// One layer of configuration as read from the file, the environment or flags. Every key is
/// optional; unknown keys in the file are an error.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    /// Address to listen on.
    pub bind: Option<String>,
    /// Control port.
    pub port: Option<u16>,
    /// Data root: database and homes.
    pub root: Option<PathBuf>,
    /// SQLite database file.
    pub db: Option<PathBuf>,
    /// Passive data ports, `LOW-HIGH`.
    pub passive_ports: Option<String>,
    /// Greeting sent on connect (220).
    pub greeting: Option<String>,
    /// Seconds an idle session is kept open.
    pub idle_timeout: Option<u64>,
    /// Seconds running transfers get to finish on shutdown.
    pub shutdown_grace: Option<u64>,
    /// Seconds a data connection may make no progress before its transfer fails.
    pub data_timeout: Option<u64>,
    /// Address advertised in passive replies: `from-connection`, an IPv4 address or a DNS name.
    pub passive_host: Option<String>,
    /// TLS certificate chain (PEM) for FTPS.
    pub tls_cert: Option<PathBuf>,
    /// TLS private key (PEM) for FTPS.
    pub tls_key: Option<PathBuf>,
    /// When TLS is required: `none`, `logins` or `all`.
    pub tls_required: Option<String>,
    /// Log format on stderr: `text` or `json`.
    pub log_format: Option<String>,
    /// Transfer log in xferlog format.
    pub transfer_log: Option<PathBuf>,
    /// Most logged-in sessions per user (0 = no limit).
    pub max_sessions_per_user: Option<u32>,
    /// Most logged-in sessions in all (0 = no limit).
    pub max_sessions: Option<u32>,
    /// Failed logins before a block.
    pub failed_logins_max: Option<u32>,
    /// Seconds a block lasts.
    pub failed_logins_block: Option<u64>,
    /// What a block applies to: `user-and-ip`, `ip` or `user`.
    pub failed_logins_by: Option<String>,
    /// Address of the HTTP listener for /metrics and /health.
    pub http_bind: Option<String>,
    /// PROXY protocol mode: the port clients see for the control connection.
    pub proxy_protocol_port: Option<u16>,
    /// Whether active mode (PORT/EPRT) is allowed.
    pub active_mode: Option<bool>,
    /// Port for implicit FTPS (TLS from the first byte).
    pub implicit_tls_port: Option<u16>,
    /// Refuse TLS data connections that do not resume the control connection's TLS session.
    pub require_tls_session_reuse: Option<bool>,
    /// Accept data connections only from the control connection's address.
    pub data_peer_check: Option<bool>,
    /// Longest command line accepted after login, in bytes.
    pub line_limit: Option<usize>,
}

impl RawConfig {
    /// `self` with every key that `over` sets replaced.
    fn overlay(self, over: RawConfig) -> RawConfig {
        RawConfig {
            bind: over.bind.or(self.bind),
            port: over.port.or(self.port),
            root: over.root.or(self.root),
            db: over.db.or(self.db),
            passive_ports: over.passive_ports.or(self.passive_ports),
            greeting: over.greeting.or(self.greeting),
            idle_timeout: over.idle_timeout.or(self.idle_timeout),
            shutdown_grace: over.shutdown_grace.or(self.shutdown_grace),
            data_timeout: over.data_timeout.or(self.data_timeout),
            passive_host: over.passive_host.or(self.passive_host),
            tls_cert: over.tls_cert.or(self.tls_cert),
            tls_key: over.tls_key.or(self.tls_key),
            tls_required: over.tls_required.or(self.tls_required),
            log_format: over.log_format.or(self.log_format),
            transfer_log: over.transfer_log.or(self.transfer_log),
            max_sessions_per_user: over.max_sessions_per_user.or(self.max_sessions_per_user),
            max_sessions: over.max_sessions.or(self.max_sessions),
            failed_logins_max: over.failed_logins_max.or(self.failed_logins_max),
            failed_logins_block: over.failed_logins_block.or(self.failed_logins_block),
            failed_logins_by: over.failed_logins_by.or(self.failed_logins_by),
            http_bind: over.http_bind.or(self.http_bind),
            proxy_protocol_port: over.proxy_protocol_port.or(self.proxy_protocol_port),
            active_mode: over.active_mode.or(self.active_mode),
            implicit_tls_port: over.implicit_tls_port.or(self.implicit_tls_port),
            require_tls_session_reuse: over
                .require_tls_session_reuse
                .or(self.require_tls_session_reuse),
            data_peer_check: over.data_peer_check.or(self.data_peer_check),
            line_limit: over.line_limit.or(self.line_limit),
        }
    }
}

/// Validated settings shared by `multiftpd` and `ftpadm`.
#[derive(Debug, Clone, Serialize)]
pub struct Settings {
    /// Address to listen on.
    pub bind: IpAddr,
    /// Control port (0 picks a free one; used by tests).
    pub port: u16,
    /// Absolute data root.
    pub root: PathBuf,
    /// Absolute path of the SQLite database.
    pub db: PathBuf,
    /// Passive data port range.
    pub passive_ports: RangeInclusive<u16>,
    /// 220 greeting.
    pub greeting: String,
    /// Idle session timeout.
    pub idle_timeout: Duration,
    /// Grace period for running transfers at shutdown.
    pub shutdown_grace: Duration,
    /// How long a data connection may make no progress (nothing sent or received) before its
    /// transfer fails (vsftpd's `data_connection_timeout`).
    pub data_timeout: Duration,
    /// What passive replies advertise.
    pub passive_host: PassiveHostSetting,
    /// FTPS certificate and key, when configured.
    pub tls: Option<TlsFiles>,
    /// When TLS is required.
    pub tls_required: TlsRequired,
    /// Log format on stderr.
    pub log_format: LogFormat,
    /// Transfer log file (xferlog format), if any.
    pub transfer_log: Option<PathBuf>,
    /// Most logged-in sessions per user (0 = no limit).
    pub max_sessions_per_user: u32,
    /// Most logged-in sessions in all (0 = no limit).
    pub max_sessions: u32,
    /// Failed logins before a block (0 = no blocking).
    pub failed_logins_max: u32,
    /// How long a block lasts.
    pub failed_logins_block: Duration,
    /// What a block applies to.
    pub failed_logins_by: BlockBy,
    /// HTTP listener for /metrics and /health, if any.
    pub http_bind: Option<std::net::SocketAddr>,
    /// PROXY protocol mode (behind a load balancer): the external control port. Every
    /// control connection must then start with a PROXY header (v1 or v2).
    pub proxy_protocol_port: Option<u16>,
    /// Whether active mode (PORT/EPRT) is allowed; the engine connects only to the client's
    /// own address and ports >= 1024 (RFC 2577).
    pub active_mode: bool,
    /// Port for implicit FTPS (TLS from the first byte), if any; needs a certificate.
    pub implicit_tls_port: Option<u16>,
    /// Refuse TLS data connections that do not resume the control connection's TLS session
    /// (vsftpd's `require_ssl_reuse`). Off by default: Python's ftplib does not resume.
    pub require_tls_session_reuse: bool,
    /// Accept data connections only from the control connection's address (off for odd NATs).
    pub data_peer_check: bool,
    /// Longest command line accepted after login, in bytes (before login the engine allows
    /// 512).
    pub line_limit: usize,
}

/// Shortest `line_limit` allowed: RFC 959 section 4.1 commands with a full path need room.
pub const MIN_LINE_LIMIT: usize = 512;

/// Log format on stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// What the failed-logins policy blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum BlockBy {
    /// The pair of source address and username.
    UserAndIp,
    /// The source address, for every username.
    Ip,
    /// The username, from every address.
    User,
}

/// The address put in PASV replies (RFC 959 4.1.2; behind NAT it must be the public one).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PassiveHostSetting {
    /// The local address of the control connection.
    FromConnection,
    /// A fixed IPv4 address.
    Ip(std::net::Ipv4Addr),
    /// A DNS name, resolved when a client enters passive mode.
    Dns(String),
}

/// PEM files for FTPS.
#[derive(Debug, Clone, Serialize)]
pub struct TlsFiles {
    /// Certificate chain.
    pub cert: PathBuf,
    /// Private key (its path only; the key itself is never printed).
    pub key: PathBuf,
}

/// When clients must use TLS (RFC 4217).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TlsRequired {
    /// TLS is offered but optional.
    None,
    /// The control channel must be protected before USER/PASS (credentials never in clear).
    Logins,
    /// Control and data channels must both be protected.
    All,
}

/// Default control port (unprivileged, so no root is needed to try it).
pub const DEFAULT_PORT: u16 = 2121;

impl Settings {
    /// Loads the layers: defaults, then the file at `file` (if any), then `overrides` (flags
    /// and environment, as parsed by the binary).
    ///
    /// # Errors
    ///
    /// [`Error::Config`] naming the key, file or value that is wrong.
    pub fn load(file: Option<&Path>, overrides: RawConfig) -> Result<Settings> {
        let from_file = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| {
                    Error::Config(format!("cannot read config file {}: {e}", path.display()))
                })?;
                toml::from_str::<RawConfig>(&text).map_err(|e| {
                    let place = e.span().map(|span| key_at(&text, span.start)).unwrap_or_default();
                    Error::Config(format!(
                        "invalid config file {}: {place}{}",
                        path.display(),
                        e.message().trim()
                    ))
                })?
            }
            None => RawConfig::default(),
        };
        Self::validate(from_file.overlay(overrides))
    }

    fn validate(raw: RawConfig) -> Result<Settings> {
        let bind_text = raw.bind.unwrap_or_else(|| "0.0.0.0".into());
        let bind = bind_text.parse::<IpAddr>().map_err(|_| {
            Error::Config(format!(
                "invalid bind address '{bind_text}' (key 'bind', env MULTIFTP_BIND, flag --bind): \
                 use an IP address such as 0.0.0.0 or 127.0.0.1"
            ))
        })?;
        let root = absolute(&raw.root.unwrap_or_else(|| PathBuf::from("./data")))?;
        let db = match raw.db {
            Some(db) => absolute(&db)?,
            None => root.join("multiftp.db"),
        };
        let passive_ports =
            parse_port_range(raw.passive_ports.as_deref().unwrap_or("50000-50100"))?;
        let greeting = raw.greeting.unwrap_or_else(|| "Welcome to multiftp".into());
        let data_timeout = match raw.data_timeout.unwrap_or(300) {
            0 => {
                return Err(Error::Config(
                    "invalid data timeout 0 (key 'data_timeout', env MULTIFTP_DATA_TIMEOUT, flag \
                     --data-timeout): use a number of seconds, at least 1 (default 300)"
                        .into(),
                ));
            }
            secs => Duration::from_secs(secs),
        };
        if greeting.contains(['\r', '\n']) {
            return Err(Error::Config(
                "invalid greeting (key 'greeting', env MULTIFTP_GREETING): use a single line"
                    .into(),
            ));
        }
        let passive_host = match raw.passive_host.as_deref().map(str::trim) {
            None | Some("" | "from-connection") => PassiveHostSetting::FromConnection,
            Some(text) => match text.parse::<IpAddr>() {
                Ok(IpAddr::V4(ip)) => PassiveHostSetting::Ip(ip),
                Ok(IpAddr::V6(_)) => {
                    return Err(Error::Config(format!(
                        "invalid passive host '{text}' (key 'passive_host', env \
                         MULTIFTP_PASSIVE_HOST): PASV replies carry IPv4 only; IPv6 clients \
                         use EPSV, which needs no host"
                    )));
                }
                Err(_) if is_dns_name(text) => PassiveHostSetting::Dns(text.to_string()),
                Err(_) => {
                    return Err(Error::Config(format!(
                        "invalid passive host '{text}' (key 'passive_host', env \
                         MULTIFTP_PASSIVE_HOST): use from-connection, an IPv4 address or a DNS \
                         name"
                    )));
                }
            },
        };
        let tls = match (raw.tls_cert, raw.tls_key) {
            (None, None) => None,
            (Some(cert), Some(key)) => {
                for (what, path) in [("tls_cert", &cert), ("tls_key", &key)] {
                    std::fs::File::open(path).map_err(|e| {
                        Error::Config(format!(
                            "cannot read {} (key '{what}', env MULTIFTP_{}): {e}",
                            path.display(),
                            what.to_ascii_uppercase()
                        ))
                    })?;
                }
                Some(TlsFiles { cert: absolute(&cert)?, key: absolute(&key)? })
            }
            _ => {
                return Err(Error::Config(
                    "FTPS needs both tls_cert and tls_key (env MULTIFTP_TLS_CERT and \
                     MULTIFTP_TLS_KEY, flags --tls-cert and --tls-key)"
                        .into(),
                ));
            }
        };
        let tls_required = match raw.tls_required.as_deref().map(str::trim) {
            None | Some("none") => TlsRequired::None,
            Some("logins") => TlsRequired::Logins,
            Some("all") => TlsRequired::All,
            Some(other) => {
                return Err(Error::Config(format!(
                    "invalid tls_required '{other}' (env MULTIFTP_TLS_REQUIRED, flag \
                     --tls-required): use none, logins or all"
                )));
            }
        };
        if tls_required != TlsRequired::None && tls.is_none() {
            return Err(Error::Config(
                "tls_required is set but no certificate is configured: set tls_cert and tls_key \
                 (ftpadm cert self-signed makes a pair for trying it out)"
                    .into(),
            ));
        }
        let log_format = match raw.log_format.as_deref() {
            None | Some("text") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(other) => {
                return Err(Error::Config(format!(
                    "invalid log_format '{other}' (env MULTIFTP_LOG_FORMAT, flag --log-format): \
                     use text or json"
                )));
            }
        };
        let failed_logins_by = match raw.failed_logins_by.as_deref() {
            None | Some("user-and-ip") => BlockBy::UserAndIp,
            Some("ip") => BlockBy::Ip,
            Some("user") => BlockBy::User,
            Some(other) => {
                return Err(Error::Config(format!(
                    "invalid failed_logins_by '{other}' (env MULTIFTP_FAILED_LOGINS_BY): use \
                     user-and-ip, ip or user"
                )));
            }
        };
        if raw.require_tls_session_reuse == Some(true) && tls.is_none() {
            return Err(Error::Config(
                "require_tls_session_reuse is set but no certificate is configured: set tls_cert \
                 and tls_key"
                    .into(),
            ));
        }
        let port = raw.port.unwrap_or(DEFAULT_PORT);
        if let Some(implicit) = raw.implicit_tls_port {
            if tls.is_none() {
                return Err(Error::Config(
                    "implicit_tls_port is set but no certificate is configured: set tls_cert and \
                     tls_key (env MULTIFTP_TLS_CERT and MULTIFTP_TLS_KEY)"
                        .into(),
                ));
            }
            if implicit == port && port != 0 {
                return Err(Error::Config(format!(
                    "invalid implicit_tls_port {implicit} (env MULTIFTP_IMPLICIT_TLS_PORT, flag \
                     --implicit-tls-port): it must differ from the control port"
                )));
            }
        }
        let line_limit = raw.line_limit.unwrap_or(8192);
        if line_limit < MIN_LINE_LIMIT {
            return Err(Error::Config(format!(
                "invalid line_limit {line_limit} (env MULTIFTP_LINE_LIMIT, flag --line-limit): \
                 use at least {MIN_LINE_LIMIT} bytes (default 8192)"
            )));
        }
        let transfer_log = raw.transfer_log.as_deref().map(absolute).transpose()?;
        let http_bind = match raw.http_bind.as_deref() {
            None | Some("") => None,
            Some(text) => Some(text.parse::<std::net::SocketAddr>().map_err(|_| {
                Error::Config(format!(
                    "invalid http_bind '{text}' (env MULTIFTP_HTTP_BIND, flag --http-bind): use \
                     ADDR:PORT such as 127.0.0.1:9121"
                ))
            })?),
        };
        Ok(Settings {
            http_bind,
            proxy_protocol_port: raw.proxy_protocol_port,
            active_mode: raw.active_mode.unwrap_or(true),
            implicit_tls_port: raw.implicit_tls_port,
            require_tls_session_reuse: raw.require_tls_session_reuse.unwrap_or(false),
            data_peer_check: raw.data_peer_check.unwrap_or(true),
            line_limit,
            log_format,
            transfer_log,
            max_sessions_per_user: raw.max_sessions_per_user.unwrap_or(0),
            max_sessions: raw.max_sessions.unwrap_or(0),
            failed_logins_max: raw.failed_logins_max.unwrap_or(3),
            failed_logins_block: Duration::from_secs(raw.failed_logins_block.unwrap_or(300)),
            failed_logins_by,
            passive_host,
            tls,
            tls_required,
            bind,
            port,
            root,
            db,
            passive_ports,
            greeting,
            idle_timeout: Duration::from_secs(raw.idle_timeout.unwrap_or(600)),
            shutdown_grace: Duration::from_secs(raw.shutdown_grace.unwrap_or(10)),
            data_timeout,
        })
    }

    /// `<root>/home`, where the users' homes live.
    pub fn homes(&self) -> PathBuf {
        self.root.join("home")
    }
}

/// Every `MULTIFTP_*` variable the binaries read.
pub const KNOWN_ENV: &[&str] = &[
    "MULTIFTP_CONFIG",
    "MULTIFTP_ROOT",
    "MULTIFTP_DB",
    "MULTIFTP_BIND",
    "MULTIFTP_PORT",
    "MULTIFTP_PASSIVE_PORTS",
    "MULTIFTP_PASSIVE_HOST",
    "MULTIFTP_GREETING",
    "MULTIFTP_IDLE_TIMEOUT",
    "MULTIFTP_SHUTDOWN_GRACE",
    "MULTIFTP_DATA_TIMEOUT",
    "MULTIFTP_TLS_CERT",
    "MULTIFTP_TLS_KEY",
    "MULTIFTP_TLS_REQUIRED",
    "MULTIFTP_LOG_FORMAT",
    "MULTIFTP_TRANSFER_LOG",
    "MULTIFTP_MAX_SESSIONS_PER_USER",
    "MULTIFTP_MAX_SESSIONS",
    "MULTIFTP_FAILED_LOGINS_MAX",
    "MULTIFTP_FAILED_LOGINS_BLOCK",
    "MULTIFTP_FAILED_LOGINS_BY",
    "MULTIFTP_HTTP_BIND",
    "MULTIFTP_PROXY_PROTOCOL_PORT",
    "MULTIFTP_ACTIVE_MODE",
    "MULTIFTP_IMPLICIT_TLS_PORT",
    "MULTIFTP_REQUIRE_TLS_SESSION_REUSE",
    "MULTIFTP_DATA_PEER_CHECK",
    "MULTIFTP_LINE_LIMIT",
    "MULTIFTP_VERBOSE",
];

/// `MULTIFTP_*` variables in the environment that no setting reads: likely typos, which would
/// otherwise be ignored silently.
pub fn unknown_env_vars() -> Vec<String> {
    std::env::vars_os()
        .filter_map(|(k, _)| k.into_string().ok())
        .filter(|k| k.starts_with("MULTIFTP_") && !KNOWN_ENV.contains(&k.as_str()))
        .collect()
}

/// Where a TOML error at byte `at` of `text` is, as `key 'port' (line 3): `: the key of that
/// line, because toml's own message for a wrong type (`invalid type: string "2121", expected
/// u16`) does not say which key it is about.
fn key_at(text: &str, at: usize) -> String {
    let at = at.min(text.len());
    let Some(before) = text.get(..at) else { return String::new() };
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let line_no = before.matches('\n').count() + 1;
    let line = text[line_start..].lines().next().unwrap_or("");
    match line.split_once('=') {
        Some((key, _)) if !key.trim().is_empty() && !key.trim_start().starts_with('#') => {
            format!("key '{}' (line {line_no}): ", key.trim().trim_matches(['"', '\'']))
        }
        _ => format!("line {line_no}: "),
    }
}

fn is_dns_name(text: &str) -> bool {
    text.len() <= 253
        && text.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

fn absolute(path: &Path) -> Result<PathBuf> {
    std::path::absolute(path)
        .map_err(|e| Error::Config(format!("cannot resolve path {}: {e}", path.display())))
}

/// Parses a passive port range `LOW-HIGH` (inclusive, LOW <= HIGH, both >= 1024).
///
/// # Errors
///
/// [`Error::Config`] explaining the expected form.
pub fn parse_port_range(text: &str) -> Result<RangeInclusive<u16>> {
    let bad = || {
        Error::Config(format!(
            "invalid passive port range '{text}' (key 'passive_ports', env \
             MULTIFTP_PASSIVE_PORTS, flag --passive-ports): use LOW-HIGH with \
             1024 <= LOW <= HIGH <= 65535, e.g. 50000-50100"
        ))
    };
    let (low, high) = text.trim().split_once('-').ok_or_else(bad)?;
    let low: u16 = low.trim().parse().map_err(|_| bad())?;
    let high: u16 = high.trim().parse().map_err(|_| bad())?;
    if low < 1024 || low > high {
        return Err(bad());
    }
    Ok(low..=high)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_file_parses_and_matches_defaults() {
        let raw: RawConfig = toml::from_str(EXAMPLE).unwrap();
        let from_example = Settings::validate(raw).unwrap();
        let defaults = Settings::validate(RawConfig::default()).unwrap();
        assert_eq!(from_example.port, defaults.port);
        assert_eq!(from_example.passive_ports, defaults.passive_ports);
        assert_eq!(from_example.bind, defaults.bind);
        assert_eq!(from_example.greeting, defaults.greeting);
        assert_eq!(from_example.active_mode, defaults.active_mode);
        assert_eq!(from_example.data_peer_check, defaults.data_peer_check);
        assert_eq!(from_example.require_tls_session_reuse, defaults.require_tls_session_reuse);
        assert_eq!(from_example.line_limit, defaults.line_limit);
        assert_eq!(from_example.implicit_tls_port, defaults.implicit_tls_port);
    }

    #[test]
    fn engine_settings_defaults_and_checks() {
        let d = Settings::validate(RawConfig::default()).unwrap();
        assert!(d.active_mode && d.data_peer_check && !d.require_tls_session_reuse);
        assert_eq!((d.line_limit, d.implicit_tls_port), (8192, None));
        let raw = RawConfig { line_limit: Some(511), ..Default::default() };
        assert!(Settings::validate(raw).unwrap_err().to_string().contains("MULTIFTP_LINE_LIMIT"));
        let raw = RawConfig { line_limit: Some(512), ..Default::default() };
        assert_eq!(Settings::validate(raw).unwrap().line_limit, 512);
        let raw = RawConfig { implicit_tls_port: Some(990), ..Default::default() };
        assert!(Settings::validate(raw).unwrap_err().to_string().contains("no certificate"));
        let raw = RawConfig { require_tls_session_reuse: Some(true), ..Default::default() };
        assert!(Settings::validate(raw).unwrap_err().to_string().contains("no certificate"));
        let raw: RawConfig =
            toml::from_str("active_mode = false\ndata_peer_check = false\nline_limit = 1024")
                .unwrap();
        let s = Settings::validate(raw).unwrap();
        assert!(!s.active_mode && !s.data_peer_check);
        assert_eq!(s.line_limit, 1024);
    }

    #[test]
    fn the_example_file_documents_every_environment_variable() {
        for var in
            KNOWN_ENV.iter().filter(|v| !matches!(**v, "MULTIFTP_CONFIG" | "MULTIFTP_VERBOSE"))
        {
            assert!(EXAMPLE.contains(var), "{var} missing from config/multiftpd.example.toml");
        }
    }

    #[test]
    fn later_layers_win() {
        let file =
            RawConfig { port: Some(21), greeting: Some("file".into()), ..Default::default() };
        let flags = RawConfig { port: Some(2200), ..Default::default() };
        let s = Settings::validate(file.overlay(flags)).unwrap();
        assert_eq!(s.port, 2200);
        assert_eq!(s.greeting, "file");
    }

    #[test]
    fn db_defaults_into_root() {
        let raw = RawConfig { root: Some("/srv/ftp".into()), ..Default::default() };
        let s = Settings::validate(raw).unwrap();
        assert_eq!(s.db, PathBuf::from("/srv/ftp/multiftp.db"));
    }

    #[test]
    fn unknown_keys_and_bad_values_are_rejected() {
        assert!(toml::from_str::<RawConfig>("prot = 21").is_err());
        for bad in ["", "5000", "60000-50000", "80-90", "a-b", "1-70000"] {
            assert!(parse_port_range(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_port_range("50000-50100").unwrap(), 50000..=50100);
        let raw = RawConfig { bind: Some("localhost:21".into()), ..Default::default() };
        assert!(Settings::validate(raw).unwrap_err().to_string().contains("MULTIFTP_BIND"));
        let raw = RawConfig { tls_required: Some("logins".into()), ..Default::default() };
        assert!(Settings::validate(raw).unwrap_err().to_string().contains("no certificate"));
        let raw = RawConfig { tls_cert: Some("/x.pem".into()), ..Default::default() };
        assert!(Settings::validate(raw).unwrap_err().to_string().contains("both"));
        let raw = RawConfig { data_timeout: Some(0), ..Default::default() };
        assert!(Settings::validate(raw).unwrap_err().to_string().contains("--data-timeout"));
        let raw = RawConfig { data_timeout: Some(30), ..Default::default() };
        assert_eq!(Settings::validate(raw).unwrap().data_timeout, Duration::from_secs(30));
    }

    #[test]
    fn a_wrong_type_in_the_file_names_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("multiftpd.toml");
        std::fs::write(&file, "# ports\ngreeting = \"hi\"\nport = \"2121\"\n").unwrap();
        let e = Settings::load(Some(&file), RawConfig::default()).unwrap_err().to_string();
        assert!(e.contains("key 'port' (line 3)"), "{e}");
        assert_eq!(key_at("a = 1\n\"b\" = x", 13), "key 'b' (line 2): ");
        assert_eq!(key_at("[oops", 5), "line 1: ");
    }

    #[test]
    fn passive_host_forms() {
        let host = |h: &str| {
            Settings::validate(RawConfig { passive_host: Some(h.into()), ..Default::default() })
                .map(|s| s.passive_host)
        };
        assert_eq!(host("from-connection").unwrap(), PassiveHostSetting::FromConnection);
        assert_eq!(host("203.0.113.7").unwrap(), PassiveHostSetting::Ip([203, 0, 113, 7].into()));
        assert_eq!(
            host("ftp.example.org").unwrap(),
            PassiveHostSetting::Dns("ftp.example.org".into())
        );
        assert!(host("::1").is_err());
        assert!(host("bad host!").is_err());
    }
}
