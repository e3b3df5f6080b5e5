//! multiftp's FTP engine: the protocol tier. It serves RFC 959 FTP with the extensions of RFC
//! 2228 (security: AUTH, PBSZ, PROT), 2389 (FEAT, OPTS), 2428 (EPRT, EPSV, IPv6), 2640 (UTF-8
//! paths), 3659 (SIZE, MDTM, REST STREAM, MLST, MLSD), 4217 (FTP over TLS) and 7151 (HOST: one host,
//! any name accepted), on tokio with tokio-rustls, one task per session.
//!
//! It knows nothing of accounts, shares or SQL: everything outside the protocol reaches it
//! through the traits in [`backend`], so this module uses nothing else of the crate.
//!
//! Layout: [`server`] accepts connections and drains them on shutdown; [`session`] runs one
//! control connection (its byte stream is in `control.rs`, its command handlers in `cmd/`);
//! [`codec`] reads command lines, [`command`] parses them and [`reply`] writes replies;
//! [`data`] opens data connections; [`tls`] (with its session store in `tls_store.rs`),
//! [`proxy`] and [`guard`] hold FTPS, the PROXY protocol and the failed-logins policy; [`path`], [`listing`] and [`hash`] are the pure
//! helpers of the file commands.

pub mod ascii;
pub mod backend;
mod cmd;
pub mod codec;
pub mod command;
mod control;
pub mod data;
pub mod guard;
pub mod hash;
pub mod listing;
pub mod path;
pub mod proxy;
pub mod reply;
pub mod server;
pub mod session;
pub mod tls;
mod tls_store;

use std::net::IpAddr;
use std::ops::RangeInclusive;
use std::time::Duration;

pub use backend::{
    AuthError, Backend, Client, Data, DataStream, Direction, Entry, ErrorKind, Event, FileKind,
    Meta, SiteRequest, Storage, StorageError, StorageResult, WriteMode,
};
pub use reply::Reply;

/// When TLS is required (RFC 4217 section 4 leaves the policy to the server).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsPolicy {
    /// TLS offered, never required.
    Optional,
    /// The control connection must be protected before `USER` (every account name).
    Logins,
    /// Logins as above, and every data connection must be protected (`PROT P`).
    All,
}

/// What goes into PASV replies (RFC 959 section 4.1.2): behind NAT, the public address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PassiveHost {
    /// The local address of the control connection.
    FromConnection,
    /// A fixed address.
    Ip(IpAddr),
    /// A DNS name, resolved at each PASV.
    Dns(String),
}

/// What the failed-logins policy blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockBy {
    /// The pair of client address and user name.
    UserAndIp,
    /// The client address, whatever the name.
    Ip,
    /// The user name, from any address.
    User,
}

/// The failed-logins policy: after `max` failures, refuse logins for `block`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FailedLogins {
    /// Failures that trigger a block.
    pub max: u32,
    /// How long a block lasts.
    pub block: Duration,
    /// What is blocked.
    pub by: BlockBy,
}

/// How the engine behaves; every field has a setting in the daemon's configuration.
#[derive(Debug, Clone)]
pub struct Options {
    /// The text of the 220 greeting (one line).
    pub greeting: String,
    /// Ports for passive data connections.
    pub passive_ports: RangeInclusive<u16>,
    /// What PASV announces.
    pub passive_host: PassiveHost,
    /// A session with no command for this long is closed (421).
    pub idle_timeout: Duration,
    /// A data connection that makes no progress for this long fails its transfer; also how
    /// long a transfer command waits for its data connection to arrive (then 425).
    pub data_timeout: Duration,
    /// Running transfers get this long to finish after shutdown begins.
    pub shutdown_grace: Duration,
    /// FTPS, when a certificate is configured.
    pub tls: Option<tls::Tls>,
    /// When TLS is required.
    pub tls_policy: TlsPolicy,
    /// Refuse data connections whose TLS session does not resume the control connection's
    /// (vsftpd's `require_ssl_reuse`).
    pub require_tls_session_reuse: bool,
    /// Whether PORT/EPRT (active mode) is allowed.
    pub active_mode: bool,
    /// Accept data connections only from the control connection's peer address.
    pub data_peer_check: bool,
    /// Expect a PROXY protocol v1/v2 header on every control connection.
    pub proxy_protocol: bool,
    /// The failed-logins policy, if any.
    pub failed_logins: Option<FailedLogins>,
    /// Longest command line accepted after login, in bytes (before login: 512).
    pub line_limit: usize,
}

/// Longest command line before login: user names and passwords are short.
pub const LOGIN_LINE_LIMIT: usize = 512;
