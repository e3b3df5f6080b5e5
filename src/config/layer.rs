//! The one definition of every setting: [`RawConfig`] is at once the TOML file's keys (serde),
//! the `multiftpd` flags with their `MULTIFTP_*` environment twins and defaults (clap), and the
//! layer type that [`super::Settings::load`] stacks. A field's doc comment is its `--help` text
//! and its row in the README's configuration table.

use std::path::PathBuf;

use clap::parser::ValueSource;
use clap::{ArgMatches, Args, Command, FromArgMatches, ValueEnum};
use figment::Figment;
use figment::providers::Serialized;
use serde::{Deserialize, Serialize};

use super::seconds;
use crate::error::{Error, Result};

/// The keys whose flags and variables are [`DataArgs`]'s (shared with `ftpadm`),
/// so `#[arg(skip)]` here.
pub(super) const DATA_KEYS: [&str; 2] = ["root", "db"];

/// One layer of settings: the file, the environment and flags, or the defaults. Every key is
/// optional so that a layer says only what it sets; unknown keys in the file are an error.
/// Durations are whole seconds, written `600` or `"10m"`.
///
/// To add a setting: add a field here (doc comment, `#[arg]` with its flag, variable and
/// default), then read it in [`super::Settings::load`]'s validation and regenerate the README
/// table (`multiftpd settings-table`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Args, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    /// Data root; its flag and variable are in [`DataArgs`], shared with `ftpadm`.
    #[arg(skip = Some(PathBuf::from("./data")))]
    pub root: Option<PathBuf>,

    /// The database: a SQLite file path (default `<root>/multiftp.db`), `sqlite://PATH` or
    /// `postgres://USER@HOST:PORT/DBNAME`; flag and variable in [`DataArgs`]. Text here, parsed
    /// into [`super::DbLocation`] by validation (a parse error from clap would print the URL
    /// with its password).
    #[arg(skip)]
    pub db: Option<String>,

    /// Most connections this process keeps open to the database. SQLite runs inside the
    /// process, on its cores, so more connections than that only hold memory (each one has
    /// its own cache and thread) [default: 4 on SQLite, 8 on PostgreSQL]
    #[arg(long, env = "MULTIFTP_DB_MAX_CONNECTIONS", value_name = "N")]
    pub db_max_connections: Option<u32>,

    /// How long a query waits for a database connection (a free one, or a new one while the
    /// server is unreachable) before failing; logins then get 421 and /health 503
    #[arg(long, env = "MULTIFTP_DB_ACQUIRE_TIMEOUT", value_name = "SECS", default_value = "30s",
          value_parser = seconds::parse)]
    #[serde(default, with = "seconds")]
    pub db_acquire_timeout: Option<u64>,

    /// Address to listen on
    #[arg(long, env = "MULTIFTP_BIND", value_name = "ADDR", default_value = "0.0.0.0")]
    pub bind: Option<String>,

    /// Control port (21 needs CAP_NET_BIND_SERVICE)
    #[arg(long, env = "MULTIFTP_PORT", value_name = "N", default_value = "2121")]
    pub port: Option<u16>,

    /// Passive data ports LOW-HIGH (open them in the firewall)
    #[arg(
        long,
        env = "MULTIFTP_PASSIVE_PORTS",
        value_name = "LOW-HIGH",
        default_value = "50000-50100"
    )]
    pub passive_ports: Option<String>,

    /// One-line greeting sent with the 220 reply on connect
    #[arg(
        long,
        env = "MULTIFTP_GREETING",
        value_name = "TEXT",
        default_value = "Welcome to multiftp"
    )]
    pub greeting: Option<String>,

    /// How long an idle session stays open (seconds, or a duration such as 10m)
    #[arg(long, env = "MULTIFTP_IDLE_TIMEOUT", value_name = "SECS", default_value = "10m",
          value_parser = seconds::parse)]
    #[serde(default, with = "seconds")]
    pub idle_timeout: Option<u64>,

    /// How long running transfers get to finish after SIGTERM/SIGINT
    #[arg(long, env = "MULTIFTP_SHUTDOWN_GRACE", value_name = "SECS", default_value = "10s",
          value_parser = seconds::parse)]
    #[serde(default, with = "seconds")]
    pub shutdown_grace: Option<u64>,

    /// How long a data connection may make no progress (the client neither reads nor sends)
    /// before its transfer fails with 451; at least 1s
    #[arg(long, env = "MULTIFTP_DATA_TIMEOUT", value_name = "SECS", default_value = "5m",
          value_parser = seconds::parse)]
    #[serde(default, with = "seconds")]
    pub data_timeout: Option<u64>,

    /// Address in PASV replies: from-connection, an IPv4 address or a DNS name (resolved at
    /// each PASV); behind NAT, the public address
    #[arg(
        long,
        env = "MULTIFTP_PASSIVE_HOST",
        value_name = "HOST",
        default_value = "from-connection"
    )]
    pub passive_host: Option<String>,

    /// PROXY protocol mode behind a load balancer (the balancer's control port): every control
    /// connection must start with a PROXY v1 or v2 header
    #[arg(long, env = "MULTIFTP_PROXY_PROTOCOL_PORT", value_name = "PORT")]
    pub proxy_protocol_port: Option<u16>,

    /// PEM certificate chain; enables FTPS (explicit AUTH TLS; implicit with implicit_tls_port);
    /// SIGHUP reads it again
    #[arg(long, env = "MULTIFTP_TLS_CERT", value_name = "FILE")]
    pub tls_cert: Option<PathBuf>,

    /// PEM private key for tls_cert
    #[arg(long, env = "MULTIFTP_TLS_KEY", value_name = "FILE")]
    pub tls_key: Option<PathBuf>,

    /// When TLS is required
    #[arg(long, env = "MULTIFTP_TLS_REQUIRED", value_name = "POLICY", default_value = "none")]
    pub tls_required: Option<TlsRequired>,

    /// Port for implicit FTPS (TLS from the first byte); needs tls_cert
    #[arg(long, env = "MULTIFTP_IMPLICIT_TLS_PORT", value_name = "PORT")]
    pub implicit_tls_port: Option<u16>,

    /// Refuse TLS data connections that do not resume a TLS session of this server, as
    /// vsftpd's require_ssl_reuse (Python's ftplib does not resume)
    #[arg(long, env = "MULTIFTP_REQUIRE_TLS_SESSION_REUSE", value_name = "BOOL",
          default_value = "false", value_parser = clap::builder::BoolishValueParser::new())]
    pub require_tls_session_reuse: Option<bool>,

    /// Allow active mode: PORT/EPRT, only to the client's own address and ports >= 1024
    #[arg(long, env = "MULTIFTP_ACTIVE_MODE", value_name = "BOOL", default_value = "true",
          value_parser = clap::builder::BoolishValueParser::new())]
    pub active_mode: Option<bool>,

    /// Accept passive data connections only from the control connection's address (off for
    /// NATs with several public addresses; not applied in PROXY protocol mode)
    #[arg(long, env = "MULTIFTP_DATA_PEER_CHECK", value_name = "BOOL", default_value = "true",
          value_parser = clap::builder::BoolishValueParser::new())]
    pub data_peer_check: Option<bool>,

    /// Longest command line after login, in bytes, at least 512 (before login the limit is
    /// 512); a longer line gets 500 and the session goes on
    #[arg(long, env = "MULTIFTP_LINE_LIMIT", value_name = "BYTES", default_value = "8192")]
    pub line_limit: Option<usize>,

    /// Log format on stderr
    #[arg(long, env = "MULTIFTP_LOG_FORMAT", value_name = "FORMAT", default_value = "text")]
    pub log_format: Option<LogFormat>,

    /// Transfer log in xferlog format: one line per upload, download and delete; SIGHUP
    /// reopens it
    #[arg(long, env = "MULTIFTP_TRANSFER_LOG", value_name = "FILE")]
    pub transfer_log: Option<PathBuf>,

    /// Most logged-in sessions per user, 0 for no limit; logins over it get 530
    #[arg(long, env = "MULTIFTP_MAX_SESSIONS_PER_USER", value_name = "N", default_value = "0")]
    pub max_sessions_per_user: Option<u32>,

    /// Most logged-in sessions in all, 0 for no limit
    #[arg(long, env = "MULTIFTP_MAX_SESSIONS", value_name = "N", default_value = "0")]
    pub max_sessions: Option<u32>,

    /// Failed logins before a block, 0 to turn blocking off; wrong current passwords in SITE
    /// PASSWD count too
    #[arg(long, env = "MULTIFTP_FAILED_LOGINS_MAX", value_name = "N", default_value = "3")]
    pub failed_logins_max: Option<u32>,

    /// How long a failed-logins block lasts
    #[arg(long, env = "MULTIFTP_FAILED_LOGINS_BLOCK", value_name = "SECS", default_value = "5m",
          value_parser = seconds::parse)]
    #[serde(default, with = "seconds")]
    pub failed_logins_block: Option<u64>,

    /// What a failed-logins block applies to
    #[arg(
        long,
        env = "MULTIFTP_FAILED_LOGINS_BY",
        value_name = "KEY",
        default_value = "user-and-ip"
    )]
    pub failed_logins_by: Option<BlockBy>,

    /// This node's name in a cluster (several multiftpd on one database): shown by SITE WHO,
    /// ftpadm who and the logs; each node needs its own [default: the host name]
    #[arg(long, env = "MULTIFTP_NODE_NAME", value_name = "NAME")]
    pub node_name: Option<String>,

    /// How often this node tells the database it is alive; the sessions of a node that has not
    /// done so for 3 intervals are gone from SITE WHO, ftpadm who and the session limits
    #[arg(long, env = "MULTIFTP_HEARTBEAT_INTERVAL", value_name = "SECS", default_value = "10s",
          value_parser = seconds::parse)]
    #[serde(default, with = "seconds")]
    pub heartbeat_interval: Option<u64>,

    /// ADDR:PORT of an HTTP listener for Prometheus /metrics and /health (keep it private)
    #[arg(long, env = "MULTIFTP_HTTP_BIND", value_name = "ADDR:PORT")]
    pub http_bind: Option<String>,
}

/// Log format on stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LogFormat {
    /// Human-readable lines
    Text,
    /// One JSON object per line
    Json,
}

/// What the failed-logins policy blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BlockBy {
    /// The pair of source address and username, so one attacker cannot lock a user out
    UserAndIp,
    /// The source address, for every username
    Ip,
    /// The username, from every address
    User,
}

/// When clients must use TLS (RFC 4217).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TlsRequired {
    /// TLS is offered but optional
    None,
    /// The control channel must be protected before USER/PASS, for every account name
    Logins,
    /// Control and data channels must both be protected
    All,
}

impl std::str::FromStr for TlsRequired {
    type Err = String;

    /// The name as in the file and on the command line (`none`, `logins`, `all`).
    fn from_str(text: &str) -> std::result::Result<Self, String> {
        <Self as ValueEnum>::from_str(text, false)
    }
}

impl RawConfig {
    /// The defaults layer: each `#[arg(default_value)]` above, read through clap with the
    /// environment switched off, so a default is written in one place and `--help` shows it.
    pub fn defaults() -> RawConfig {
        let command =
            RawConfig::augment_args(Command::new("defaults")).mut_args(|arg| arg.env(None::<&str>));
        let matches = command
            .try_get_matches_from(["defaults"])
            .expect("the settings' default values parse (checked by a unit test)");
        RawConfig::from_arg_matches(&matches)
            .expect("the settings' default values have their types (checked by a unit test)")
    }

    /// Only what flags and environment variables set in this layer, which clap parsed into it
    /// (flattened into a binary's parser) with `matches`: the values that clap filled in from
    /// defaults are dropped, so that they do not hide the configuration file (the defaults
    /// come in below it, from [`RawConfig::defaults`]).
    ///
    /// # Errors
    ///
    /// [`Error::Config`] if the layer cannot be written as TOML (a bug).
    pub fn explicit(&self, matches: &ArgMatches) -> Result<RawConfig> {
        let mut table = to_table(self)?;
        // A field's clap id is its name, which is also its serde key.
        table.retain(|key, _| {
            !matches!(matches.value_source(key), None | Some(ValueSource::DefaultValue))
        });
        from_table(table)
    }

    /// This layer with every key that `over` sets replaced by the value there.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] if the layers cannot be merged (a bug: both are already typed).
    pub fn merged(&self, over: &RawConfig) -> Result<RawConfig> {
        // Only the keys a layer sets go in (TOML has no null), so an unset key never hides the
        // value of a layer below.
        Figment::from(Serialized::defaults(to_table(self)?))
            .merge(Serialized::defaults(to_table(over)?))
            .extract()
            .map_err(|e| Error::Config(format!("merging settings: {e}")))
    }

    /// This layer as a TOML configuration file that `--config` reads back.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] if a value cannot be written as TOML (a bug).
    pub fn to_toml(&self) -> Result<String> {
        toml::to_string(self).map_err(|e| Error::Config(format!("printing settings: {e}")))
    }
}

fn to_table(layer: &RawConfig) -> Result<toml::Table> {
    toml::Table::try_from(layer).map_err(|e| Error::Config(format!("settings as TOML: {e}")))
}

fn from_table(table: toml::Table) -> Result<RawConfig> {
    table.try_into().map_err(|e| Error::Config(format!("settings from TOML: {e}")))
}

/// Where the configuration and data are: the same flags and variables for both binaries, so
/// `--root` alone points the daemon and `ftpadm` at the same database.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct DataArgs {
    /// TOML configuration file (see config/multiftpd.example.toml).
    #[arg(long, env = "MULTIFTP_CONFIG", value_name = "FILE", global = true)]
    pub config: Option<PathBuf>,

    /// Data root holding the database and home/<user>/ [default: ./data].
    #[arg(long, env = "MULTIFTP_ROOT", value_name = "DIR", global = true)]
    pub root: Option<PathBuf>,

    /// Database: a SQLite file, sqlite://PATH, or postgres://USER@HOST:PORT/DBNAME (password
    /// from PGPASSWORD or ?passfile=PATH; TLS with ?sslmode=verify-full&sslrootcert=PATH)
    /// [default: <root>/multiftp.db].
    #[arg(long, env = "MULTIFTP_DB", value_name = "PATH|URL", global = true)]
    pub db: Option<String>,
}

impl DataArgs {
    /// These flags as a configuration layer.
    pub fn raw(&self) -> RawConfig {
        RawConfig { root: self.root.clone(), db: self.db.clone(), ..RawConfig::default() }
    }
}
