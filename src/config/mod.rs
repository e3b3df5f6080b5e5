//! Settings: [`RawConfig`] (in `layer.rs`) defines every setting once - its file key, flag,
//! `MULTIFTP_*` variable, default and help; [`Settings::load`] stacks the layers, defaults <
//! TOML file (`--config`) < environment < flags, and validates them once into typed
//! [`Settings`]. Nothing after that re-reads strings. `reference.rs` renders the README's
//! table from the same definition.

mod db;
mod layer;
mod node;
pub mod reference;
pub mod seconds;
mod values;

use std::net::IpAddr;
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

pub use db::{DbLocation, PgUrl};
pub use layer::{BlockBy, DataArgs, LogFormat, RawConfig, TlsRequired};
pub use values::parse_port_range;
use values::{absolute, is_dns_name, positive, set};

use crate::error::{Error, Result};

/// `db_max_connections` when not set, on SQLite: it runs on this process's cores, and every
/// connection has its own page cache, lookaside memory and thread (bench/ W7).
pub const SQLITE_MAX_CONNECTIONS: u32 = 4;
/// `db_max_connections` when not set, on PostgreSQL: the queries run on the server; half the
/// pool writes the session records (src/session/).
pub const POSTGRES_MAX_CONNECTIONS: u32 = 8;

/// The example configuration file, documenting every key.
pub const EXAMPLE: &str = include_str!("../../config/multiftpd.example.toml");

/// Validated settings shared by `multiftpd` and `ftpadm`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Settings {
    /// Address to listen on.
    pub bind: IpAddr,
    /// Control port (0 picks a free one; used by tests).
    pub port: u16,
    /// Absolute data root.
    pub root: PathBuf,
    /// The database: a SQLite file (absolute path) or a PostgreSQL URL.
    pub db: DbLocation,
    /// Most open database connections of this process.
    pub db_max_connections: u32,
    /// How long a query waits for a database connection before failing.
    pub db_acquire_timeout: Duration,
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
    /// This node's name among the daemons sharing the database (default: the host name).
    pub node_name: String,
    /// How often this node refreshes its heartbeat; its sessions count as gone after
    /// [`HEARTBEAT_WINDOW`] intervals without one.
    pub heartbeat_interval: Duration,
}

pub use node::{HEARTBEAT_WINDOW, MAX_NODE_NAME};

/// Shortest `line_limit` allowed: RFC 959 section 4.1 commands with a full path need room.
pub const MIN_LINE_LIMIT: usize = 512;

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
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TlsFiles {
    /// Certificate chain.
    pub cert: PathBuf,
    /// Private key (its path only; the key itself is never printed).
    pub key: PathBuf,
}

impl Settings {
    /// Loads the layers: defaults, then the file at `file` (if any), then `overrides` (flags
    /// and environment, as parsed by the binary), and validates the result.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] naming the key, file or value that is wrong.
    pub fn load(file: Option<&Path>, overrides: RawConfig) -> Result<Settings> {
        Self::validate(Self::layers(file, overrides)?)
    }

    /// The layers of [`Settings::load`] merged, before validation: every key with a default
    /// is set. Written out with [`RawConfig::to_toml`] it is a file that `--config` reads
    /// back to the same settings (`multiftpd check-config` prints it).
    ///
    /// # Errors
    ///
    /// [`Error::Config`] for a file that cannot be read or parsed.
    pub fn layers(file: Option<&Path>, overrides: RawConfig) -> Result<RawConfig> {
        let from_file = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| {
                    Error::Config(format!("cannot read config file {}: {e}", path.display()))
                })?;
                // Parsed here rather than through figment's file provider: toml's error spans
                // let the message name the line.
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
        RawConfig::defaults().merged(&from_file)?.merged(&overrides)
    }

    /// Checks the merged layers and types them. Every key with a default is set by then (the
    /// defaults layer is at the bottom), so no default is written here.
    fn validate(raw: RawConfig) -> Result<Settings> {
        let bind_text = set(raw.bind, "bind")?;
        let bind = bind_text.parse::<IpAddr>().map_err(|_| {
            Error::Config(format!(
                "invalid bind address '{bind_text}' (key 'bind', env MULTIFTP_BIND, flag --bind): \
                 use an IP address such as 0.0.0.0 or 127.0.0.1"
            ))
        })?;
        let root = absolute(&set(raw.root, "root")?)?;
        let db = match raw.db.as_deref().map(DbLocation::parse).transpose()? {
            Some(DbLocation::Sqlite(path)) => DbLocation::Sqlite(absolute(&path)?),
            Some(postgres) => postgres,
            None => DbLocation::Sqlite(root.join("multiftp.db")),
        };
        // The default depends on the database (see the setting's help).
        let default_connections = match &db {
            DbLocation::Sqlite(_) => SQLITE_MAX_CONNECTIONS,
            _ => POSTGRES_MAX_CONNECTIONS,
        };
        let db_max_connections = match raw.db_max_connections {
            Some(n) => {
                positive(Some(n), "db_max_connections", "1", &default_connections.to_string())?
            }
            None => default_connections,
        };
        let db_acquire_timeout = Duration::from_secs(positive(
            raw.db_acquire_timeout,
            "db_acquire_timeout",
            "1s",
            "30s",
        )?);
        let passive_ports = parse_port_range(&set(raw.passive_ports, "passive_ports")?)?;
        let greeting = set(raw.greeting, "greeting")?;
        let data_timeout =
            Duration::from_secs(positive(raw.data_timeout, "data_timeout", "1s", "5m")?);
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
        let tls_required = set(raw.tls_required, "tls_required")?;
        if tls_required != TlsRequired::None && tls.is_none() {
            return Err(Error::Config(
                "tls_required is set but no certificate is configured: set tls_cert and tls_key \
                 (ftpadm cert self-signed makes a pair for trying it out)"
                    .into(),
            ));
        }
        let log_format = set(raw.log_format, "log_format")?;
        let failed_logins_by = set(raw.failed_logins_by, "failed_logins_by")?;
        if raw.require_tls_session_reuse == Some(true) && tls.is_none() {
            return Err(Error::Config(
                "require_tls_session_reuse is set but no certificate is configured: set tls_cert \
                 and tls_key"
                    .into(),
            ));
        }
        let port = set(raw.port, "port")?;
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
        let line_limit = set(raw.line_limit, "line_limit")?;
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
        let node_name = node::resolve(raw.node_name.as_deref())?;
        let heartbeat_interval = Duration::from_secs(positive(
            raw.heartbeat_interval,
            "heartbeat_interval",
            "1s",
            "10s",
        )?);
        Ok(Settings {
            node_name,
            heartbeat_interval,
            http_bind,
            proxy_protocol_port: raw.proxy_protocol_port,
            active_mode: set(raw.active_mode, "active_mode")?,
            implicit_tls_port: raw.implicit_tls_port,
            require_tls_session_reuse: set(
                raw.require_tls_session_reuse,
                "require_tls_session_reuse",
            )?,
            data_peer_check: set(raw.data_peer_check, "data_peer_check")?,
            line_limit,
            log_format,
            transfer_log,
            max_sessions_per_user: set(raw.max_sessions_per_user, "max_sessions_per_user")?,
            max_sessions: set(raw.max_sessions, "max_sessions")?,
            failed_logins_max: set(raw.failed_logins_max, "failed_logins_max")?,
            failed_logins_block: Duration::from_secs(set(
                raw.failed_logins_block,
                "failed_logins_block",
            )?),
            failed_logins_by,
            passive_host,
            tls,
            tls_required,
            bind,
            port,
            root,
            db,
            db_max_connections,
            db_acquire_timeout,
            passive_ports,
            greeting,
            idle_timeout: Duration::from_secs(set(raw.idle_timeout, "idle_timeout")?),
            shutdown_grace: Duration::from_secs(set(raw.shutdown_grace, "shutdown_grace")?),
            data_timeout,
        })
    }

    /// `<root>/home`, where the users' homes live.
    pub fn homes(&self) -> PathBuf {
        self.root.join("home")
    }
}

/// `MULTIFTP_*` variables in the environment that no argument of `command` reads: likely
/// typos, which would otherwise be ignored silently.
pub fn unknown_env_vars(command: &clap::Command) -> Vec<String> {
    let known: Vec<_> = command.get_arguments().filter_map(clap::Arg::get_env).collect();
    std::env::vars_os()
        .filter_map(|(k, _)| k.into_string().ok())
        .filter(|k| k.starts_with("MULTIFTP_") && !known.iter().any(|known| *known == k.as_str()))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_file_parses_and_matches_defaults() {
        let raw: RawConfig = toml::from_str(EXAMPLE).unwrap();
        let from_example = Settings::load(None, raw).unwrap();
        let defaults = Settings::load(None, RawConfig::default()).unwrap();
        assert_eq!(from_example, defaults, "the example file's values are the defaults");
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
        let d = Settings::load(None, RawConfig::default()).unwrap();
        assert!(d.active_mode && d.data_peer_check && !d.require_tls_session_reuse);
        assert_eq!((d.line_limit, d.implicit_tls_port), (8192, None));
        let raw = RawConfig { line_limit: Some(511), ..Default::default() };
        assert!(Settings::load(None, raw).unwrap_err().to_string().contains("MULTIFTP_LINE_LIMIT"));
        let raw = RawConfig { line_limit: Some(512), ..Default::default() };
        assert_eq!(Settings::load(None, raw).unwrap().line_limit, 512);
        let raw = RawConfig { implicit_tls_port: Some(990), ..Default::default() };
        assert!(Settings::load(None, raw).unwrap_err().to_string().contains("no certificate"));
        let raw = RawConfig { require_tls_session_reuse: Some(true), ..Default::default() };
        assert!(Settings::load(None, raw).unwrap_err().to_string().contains("no certificate"));
        let raw: RawConfig =
            toml::from_str("active_mode = false\ndata_peer_check = false\nline_limit = 1024")
                .unwrap();
        let s = Settings::load(None, raw).unwrap();
        assert!(!s.active_mode && !s.data_peer_check);
        assert_eq!(s.line_limit, 1024);
    }

    #[test]
    fn the_example_file_documents_every_environment_variable() {
        use clap::Args;
        let command =
            DataArgs::augment_args(RawConfig::augment_args(clap::Command::new("settings")));
        let vars: Vec<_> = command.get_arguments().filter_map(clap::Arg::get_env).collect();
        assert!(vars.len() > 20, "{vars:?}");
        for var in vars.iter().map(|v| v.to_string_lossy()).filter(|v| v != "MULTIFTP_CONFIG") {
            assert!(EXAMPLE.contains(&*var), "{var} missing from config/multiftpd.example.toml");
        }
    }

    #[test]
    fn the_defaults_parse_and_fill_every_key_that_has_one() {
        let d = RawConfig::defaults();
        assert_eq!(d.port, Some(2121));
        assert_eq!(d.idle_timeout, Some(600));
        assert_eq!(d.root, Some(PathBuf::from("./data")));
        assert_eq!((&d.db, &d.tls_cert, &d.http_bind), (&None, &None, &None));
        // The defaults layer alone is valid: every `set` in validate finds its value.
        Settings::validate(d).unwrap();
    }

    #[test]
    fn durations_are_seconds_or_durations_and_print_back() {
        let raw: RawConfig =
            toml::from_str("idle_timeout = \"10m\"\nshutdown_grace = 7\ndata_timeout = \"1h 1s\"")
                .unwrap();
        let s = Settings::load(None, raw.clone()).unwrap();
        assert_eq!(s.idle_timeout, Duration::from_secs(600));
        assert_eq!(s.shutdown_grace, Duration::from_secs(7));
        assert_eq!(s.data_timeout, Duration::from_secs(3601));
        let text = raw.to_toml().unwrap();
        assert!(text.contains("idle_timeout = \"10m\""), "{text}");
        assert_eq!(toml::from_str::<RawConfig>(&text).unwrap(), raw);
        let e = toml::from_str::<RawConfig>("idle_timeout = \"soon\"").unwrap_err().to_string();
        assert!(e.contains("such as 10m"), "{e}");
        assert!(toml::from_str::<RawConfig>("idle_timeout = -1").is_err());
    }

    /// What `multiftpd check-config` prints (the merged layers) reads back, through a file,
    /// to the same settings.
    #[test]
    fn the_merged_layers_round_trip_through_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let overrides = RawConfig {
            root: Some(dir.path().join("root")),
            passive_ports: Some("40000-40010".into()),
            idle_timeout: Some(90),
            failed_logins_by: Some(BlockBy::Ip),
            log_format: Some(LogFormat::Json),
            transfer_log: Some(dir.path().join("xferlog")),
            http_bind: Some("127.0.0.1:9121".into()),
            active_mode: Some(false),
            ..Default::default()
        };
        let settings = Settings::load(None, overrides.clone()).unwrap();
        let text = Settings::layers(None, overrides).unwrap().to_toml().unwrap();
        assert!(text.contains("passive_ports = \"40000-40010\""), "{text}");
        assert!(text.contains("idle_timeout = \"1m 30s\""), "{text}");
        let file = dir.path().join("multiftpd.toml");
        std::fs::write(&file, &text).unwrap();
        assert_eq!(Settings::load(Some(&file), RawConfig::default()).unwrap(), settings);
    }

    #[test]
    fn enums_take_their_names_in_the_file() {
        let raw: RawConfig =
            toml::from_str("log_format = \"json\"\nfailed_logins_by = \"user-and-ip\"").unwrap();
        assert_eq!(
            (raw.log_format, raw.failed_logins_by),
            (Some(LogFormat::Json), Some(BlockBy::UserAndIp))
        );
        let e = toml::from_str::<RawConfig>("tls_required = \"some\"").unwrap_err().to_string();
        assert!(e.contains("none") && e.contains("logins") && e.contains("all"), "{e}");
        assert_eq!("logins".parse::<TlsRequired>(), Ok(TlsRequired::Logins));
    }

    #[test]
    fn later_layers_win() {
        let file =
            RawConfig { port: Some(21), greeting: Some("file".into()), ..Default::default() };
        let flags = RawConfig { port: Some(2200), ..Default::default() };
        let s = Settings::load(None, file.merged(&flags).unwrap()).unwrap();
        assert_eq!(s.port, 2200);
        assert_eq!(s.greeting, "file");
    }

    #[test]
    fn db_defaults_into_root() {
        let raw = RawConfig { root: Some("/srv/ftp".into()), ..Default::default() };
        let s = Settings::load(None, raw).unwrap();
        assert_eq!(s.db, DbLocation::Sqlite("/srv/ftp/multiftp.db".into()));
        assert_eq!((s.db_max_connections, s.db_acquire_timeout), (4, Duration::from_secs(30)));
        let raw = RawConfig {
            db: Some("postgres://ftp@db.example.org/multiftp".into()),
            db_acquire_timeout: Some(5),
            ..Default::default()
        };
        let s = Settings::load(None, raw).unwrap();
        assert_eq!(s.db.to_string(), "postgres://ftp@db.example.org/multiftp");
        assert_eq!(s.db_acquire_timeout, Duration::from_secs(5));
        assert_eq!(s.db_max_connections, 8);
        // Set: the same for both databases.
        let raw = RawConfig { db_max_connections: Some(12), ..Default::default() };
        assert_eq!(Settings::load(None, raw).unwrap().db_max_connections, 12);
        let raw = RawConfig { db_max_connections: Some(0), ..Default::default() };
        let e = Settings::load(None, raw).unwrap_err().to_string();
        assert!(e.contains("MULTIFTP_DB_MAX_CONNECTIONS") && e.contains("(default 4)"), "{e}");
    }

    #[test]
    fn unknown_keys_and_bad_values_are_rejected() {
        assert!(toml::from_str::<RawConfig>("prot = 21").is_err());
        for bad in ["", "5000", "60000-50000", "80-90", "a-b", "1-70000"] {
            assert!(parse_port_range(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_port_range("50000-50100").unwrap(), 50000..=50100);
        let raw = RawConfig { bind: Some("localhost:21".into()), ..Default::default() };
        assert!(Settings::load(None, raw).unwrap_err().to_string().contains("MULTIFTP_BIND"));
        let raw = RawConfig { tls_required: Some(TlsRequired::Logins), ..Default::default() };
        assert!(Settings::load(None, raw).unwrap_err().to_string().contains("no certificate"));
        let raw = RawConfig { tls_cert: Some("/x.pem".into()), ..Default::default() };
        assert!(Settings::load(None, raw).unwrap_err().to_string().contains("both"));
        let raw = RawConfig { data_timeout: Some(0), ..Default::default() };
        assert!(Settings::load(None, raw).unwrap_err().to_string().contains("--data-timeout"));
        let raw = RawConfig { data_timeout: Some(30), ..Default::default() };
        assert_eq!(Settings::load(None, raw).unwrap().data_timeout, Duration::from_secs(30));
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
            Settings::load(None, RawConfig { passive_host: Some(h.into()), ..Default::default() })
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
