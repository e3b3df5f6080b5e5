//! The commands a session runs: [`Command`], the arguments' types, and [`ParseError`], whose
//! kinds name their replies (500, 501, 502, 504, 522, 536). Every line gives either a command
//! or a parse error: a bad line never ends the session. [`parse`] reads a line's verb
//! (`parse.rs`); the argument grammars (paths, host-port, EPRT, TYPE, OPTS, RANG, numbers) are
//! in `args.rs`. RFC 959 section 5.3.1 gives the base syntax; RFC 2228, 2389, 2428, 2640,
//! 3659, 4217 and 7151 the extensions.

use std::net::SocketAddr;
use std::time::SystemTime;

use super::reply::Reply;

mod args;
mod parse;

pub use parse::parse;

/// One parsed command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `USER name` (RFC 959 4.1.1).
    User(String),
    /// `PASS password`, possibly empty (RFC 959 4.1.1).
    Pass(String),
    /// `ACCT account` (RFC 959 4.1.1).
    Acct(String),
    /// `QUIT`.
    Quit,
    /// `REIN`: log out, keep the connection.
    Rein,
    /// `NOOP`.
    Noop,
    /// `SYST`.
    Syst,
    /// `STAT`, or `STAT path` (a listing over the control connection).
    Stat(Option<String>),
    /// `HELP [command]`.
    Help(Option<String>),
    /// `FEAT` (RFC 2389).
    Feat,
    /// `OPTS` (RFC 2389).
    Opts(Opts),
    /// `PWD` / `XPWD`.
    Pwd,
    /// `CWD path` / `XCWD`.
    Cwd(String),
    /// `CDUP` / `XCUP`.
    Cdup,
    /// `MKD path` / `XMKD`.
    Mkd(String),
    /// `RMD path` / `XRMD`.
    Rmd(String),
    /// `DELE path`.
    Dele(String),
    /// `RNFR path`.
    Rnfr(String),
    /// `RNTO path`.
    Rnto(String),
    /// `SIZE path` (RFC 3659 4).
    Size(String),
    /// `MDTM path` (RFC 3659 3).
    Mdtm(String),
    /// `MFMT time path` (draft-somers-ftp-mfxx), also the old `MDTM time path` form.
    Mfmt {
        /// The new modification time.
        modified: SystemTime,
        /// The file.
        path: String,
    },
    /// `LIST [path]`, ls-style options removed.
    List(Option<String>),
    /// `NLST [path]`, ls-style options removed.
    Nlst(Option<String>),
    /// `MLSD [path]` (RFC 3659 7).
    Mlsd(Option<String>),
    /// `MLST [path]` (RFC 3659 7).
    Mlst(Option<String>),
    /// `RETR path`.
    Retr(String),
    /// `STOR path`.
    Stor(String),
    /// `STOU [path]`.
    Stou(Option<String>),
    /// `APPE path`.
    Appe(String),
    /// `REST offset` (RFC 3659 5, stream mode).
    Rest(u64),
    /// `ALLO ...`: accepted and ignored (RFC 959 says servers that need no allocation treat
    /// it as NOOP).
    Allo,
    /// `TYPE` (RFC 959 3.1.1).
    Type(TransferType),
    /// `MODE S` (the only mode offered).
    Mode,
    /// `STRU F` (the only structure offered).
    Stru,
    /// `PASV`.
    Pasv,
    /// `EPSV [1|2|ALL]` (RFC 2428 3).
    Epsv(Epsv),
    /// `PORT h1,h2,h3,h4,p1,p2`.
    Port(SocketAddr),
    /// `EPRT |proto|addr|port|` (RFC 2428 2).
    Eprt(SocketAddr),
    /// `ABOR`.
    Abor,
    /// `AUTH mechanism`, upper-cased (RFC 2228, 4217).
    Auth(String),
    /// `PBSZ size` (RFC 2228).
    Pbsz(u64),
    /// `PROT C|P` (RFC 2228, 4217).
    Prot(Prot),
    /// `CCC` (RFC 2228).
    Ccc,
    /// `SITE command args` (RFC 959 4.1.3).
    Site {
        /// The subcommand, upper-cased.
        command: String,
        /// The rest, trimmed (may be empty).
        args: String,
    },
    /// `HASH path` (draft-bryan-ftpext-hash-02).
    Hash(String),
    /// `RANG start end` (draft-bryan-ftp-range); `None` for the reset form `RANG 1 0`.
    Rang(Option<(u64, u64)>),
    /// `CLNT name`: the client names itself.
    Clnt(String),
    /// `LANG [tag]` (RFC 2640 4).
    Lang(Option<String>),
    /// `HOST name` (RFC 7151).
    Host(String),
}

/// The representation type (RFC 959 3.1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransferType {
    /// `TYPE A` / `TYPE A N`: ASCII, line ends converted to CRLF on the wire.
    Ascii,
    /// `TYPE I` / `TYPE L 8`: bytes as they are.
    Image,
}

/// The argument of `EPSV` (RFC 2428 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Epsv {
    /// No argument: the protocol of the control connection.
    Any,
    /// `EPSV 1` (IPv4) or `EPSV 2` (IPv6).
    Protocol(u8),
    /// `EPSV ALL`: from now on only EPSV.
    All,
}

/// The data channel protection level (RFC 2228, RFC 4217 9).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prot {
    /// `PROT C`: clear.
    Clear,
    /// `PROT P`: TLS.
    Private,
}

/// The argument of `OPTS` (RFC 2389 4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Opts {
    /// `OPTS UTF8 ON|OFF` (also `UTF-8`).
    Utf8(bool),
    /// `OPTS MLST fact;fact;` (RFC 3659 7.9): the requested facts, lower-case; may be empty.
    Mlst(Vec<String>),
    /// `OPTS HASH [algorithm]`: `None` asks for the current one.
    Hash(Option<String>),
    /// Anything else (the whole argument): the session answers 501.
    Other(String),
}

/// Why a line is not a command the session can run; each kind has its reply code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// 500: unknown verb (or not a command at all).
    #[error("{0}")]
    Unknown(String),
    /// 502: a known command this server does not implement.
    #[error("{0}")]
    NotImplemented(String),
    /// 501: syntax error in the arguments.
    #[error("{0}")]
    Syntax(String),
    /// 504: a valid parameter this server does not implement.
    #[error("{0}")]
    Param(String),
    /// 522: network protocol not supported (RFC 2428 2 and 3).
    #[error("{0}")]
    Protocol(String),
    /// 536: protection level not supported (RFC 2228, RFC 4217 9).
    #[error("{0}")]
    ProtParam(String),
}

impl ParseError {
    /// The reply for this error.
    pub fn reply(&self) -> Reply {
        let (code, text) = match self {
            Self::Unknown(t) => (500, t),
            Self::NotImplemented(t) => (502, t),
            Self::Syntax(t) => (501, t),
            Self::Param(t) => (504, t),
            Self::Protocol(t) => (522, t),
            Self::ProtParam(t) => (536, t),
        };
        Reply::new(code, text.clone())
    }
}

impl Command {
    /// The verb, upper-cased (`RETR`), for logs and metrics; aliases give their main verb.
    pub fn verb(&self) -> &'static str {
        match self {
            Self::User(_) => "USER",
            Self::Pass(_) => "PASS",
            Self::Acct(_) => "ACCT",
            Self::Quit => "QUIT",
            Self::Rein => "REIN",
            Self::Noop => "NOOP",
            Self::Syst => "SYST",
            Self::Stat(_) => "STAT",
            Self::Help(_) => "HELP",
            Self::Feat => "FEAT",
            Self::Opts(_) => "OPTS",
            Self::Pwd => "PWD",
            Self::Cwd(_) => "CWD",
            Self::Cdup => "CDUP",
            Self::Mkd(_) => "MKD",
            Self::Rmd(_) => "RMD",
            Self::Dele(_) => "DELE",
            Self::Rnfr(_) => "RNFR",
            Self::Rnto(_) => "RNTO",
            Self::Size(_) => "SIZE",
            Self::Mdtm(_) => "MDTM",
            Self::Mfmt { .. } => "MFMT",
            Self::List(_) => "LIST",
            Self::Nlst(_) => "NLST",
            Self::Mlsd(_) => "MLSD",
            Self::Mlst(_) => "MLST",
            Self::Retr(_) => "RETR",
            Self::Stor(_) => "STOR",
            Self::Stou(_) => "STOU",
            Self::Appe(_) => "APPE",
            Self::Rest(_) => "REST",
            Self::Allo => "ALLO",
            Self::Type(_) => "TYPE",
            Self::Mode => "MODE",
            Self::Stru => "STRU",
            Self::Pasv => "PASV",
            Self::Epsv(_) => "EPSV",
            Self::Port(_) => "PORT",
            Self::Eprt(_) => "EPRT",
            Self::Abor => "ABOR",
            Self::Auth(_) => "AUTH",
            Self::Pbsz(_) => "PBSZ",
            Self::Prot(_) => "PROT",
            Self::Ccc => "CCC",
            Self::Site { .. } => "SITE",
            Self::Hash(_) => "HASH",
            Self::Rang(_) => "RANG",
            Self::Clnt(_) => "CLNT",
            Self::Lang(_) => "LANG",
            Self::Host(_) => "HOST",
        }
    }
}
