//! Parses one command line into a [`Command`] (RFC 959 section 5.3.1 for the base syntax; RFC
//! 2228, 2389, 2428, 2640, 3659, 4217 and 7151 for the extensions). Every line gives either a
//! command or a [`ParseError`] that names its reply (500, 501, 502, 504, 522, 536): a bad line
//! never ends the session.
//!
//! The verb is case-insensitive (RFC 959 section 5.3). A path argument is everything after the
//! single space that follows the verb, kept as sent: RFC 959 defines `<pathname>` as any
//! characters but CR and LF, so names may begin or end with spaces. Other arguments are
//! trimmed, as clients differ in trailing blanks.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::SystemTime;

use super::listing::parse_ftp_time;
use super::reply::Reply;

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

/// Verbs of RFC 959 and its extensions that this server does not implement: 502, not 500
/// (RFC 959 section 4.2: 502 "Command not implemented").
const NOT_IMPLEMENTED: &[&str] = &[
    "SMNT", "MLFL", "MAIL", "MSND", "MSOM", "MSAM", "MRSQ", "MRCP", "XRSQ", "XRCP", "XSEN", "XSEM",
    "XMAS", "ADAT", "MIC", "CONF", "ENC", "LPRT", "LPSV", "SPSV", "AVBL", "DSIZ", "CSID", "MFCT",
    "MFF", "XCRC", "XMD5", "XSHA", "XSHA1", "XSHA256", "XSHA512", "MD5", "MMD5", "THMB",
];

/// Longest verb quoted back in an error reply: the rest of a hostile line is not echoed.
const MAX_ECHO: usize = 32;

/// Parses one command line (without its line end).
pub fn parse(line: &[u8]) -> Result<Command, ParseError> {
    let Ok(line) = std::str::from_utf8(line) else {
        return Err(syntax("Command line is not UTF-8 (RFC 2640)"));
    };
    let (verb, arg) = match line.split_once(' ') {
        Some((verb, arg)) => (verb, Some(arg)),
        None => (line, None),
    };
    if line.is_empty() {
        return Err(ParseError::Unknown("Empty command line".into()));
    }
    if verb.is_empty() || !verb.bytes().all(|b| b.is_ascii_alphanumeric()) {
        // Not echoed: it may hold control characters.
        return Err(ParseError::Unknown("Unknown command".into()));
    }
    let verb = verb.to_ascii_uppercase();
    let a = Arg { verb: &verb, raw: arg };
    let command = match verb.as_str() {
        "USER" => Command::User(a.required_text()?.to_string()),
        // RFC 959 requires the argument, but clients log in anonymously with an empty one.
        "PASS" => Command::Pass(a.raw.unwrap_or("").to_string()),
        "ACCT" => Command::Acct(a.required_text()?.to_string()),
        "QUIT" => Command::Quit,
        "REIN" => Command::Rein,
        "NOOP" => Command::Noop,
        "SYST" => Command::Syst,
        "STAT" => Command::Stat(a.listing_path()?),
        "HELP" => Command::Help(a.optional_word()),
        "FEAT" => Command::Feat,
        "OPTS" => Command::Opts(parse_opts(a.required_text()?)?),
        "PWD" | "XPWD" => Command::Pwd,
        "CWD" | "XCWD" => Command::Cwd(a.path()?),
        "CDUP" | "XCUP" => Command::Cdup,
        "MKD" | "XMKD" => Command::Mkd(a.path()?),
        "RMD" | "XRMD" => Command::Rmd(a.path()?),
        "DELE" => Command::Dele(a.path()?),
        "RNFR" => Command::Rnfr(a.path()?),
        "RNTO" => Command::Rnto(a.path()?),
        "SIZE" => Command::Size(a.path()?),
        "MDTM" => {
            let path = a.path()?;
            // The old two-argument form (vsftpd, some clients) sets the time, like MFMT.
            match split_time(&path) {
                Some((modified, path)) => Command::Mfmt { modified, path: path.to_string() },
                None => Command::Mdtm(path),
            }
        }
        "MFMT" => {
            let arg = a.path()?;
            let Some((modified, path)) = split_time(&arg) else {
                return Err(syntax("MFMT needs YYYYMMDDHHMMSS and a path"));
            };
            Command::Mfmt { modified, path: path.to_string() }
        }
        "LIST" => Command::List(a.listing_path()?),
        "NLST" => Command::Nlst(a.listing_path()?),
        "MLSD" => Command::Mlsd(a.optional_path()?),
        "MLST" => Command::Mlst(a.optional_path()?),
        "RETR" => Command::Retr(a.path()?),
        "STOR" => Command::Stor(a.path()?),
        "STOU" => Command::Stou(a.optional_path()?),
        "APPE" => Command::Appe(a.path()?),
        "REST" => Command::Rest(a.number("REST needs a byte offset")?),
        "ALLO" => Command::Allo,
        "TYPE" => Command::Type(parse_type(a.required_text()?)?),
        "MODE" => match a.required_text()?.to_ascii_uppercase().as_str() {
            "S" => Command::Mode,
            _ => return Err(param("Only MODE S (stream) is supported")),
        },
        "STRU" => match a.required_text()?.to_ascii_uppercase().as_str() {
            "F" => Command::Stru,
            _ => return Err(param("Only STRU F (file) is supported")),
        },
        "PASV" => Command::Pasv,
        "EPSV" => Command::Epsv(parse_epsv(a.text())?),
        "PORT" => Command::Port(parse_port(a.required_text()?)?),
        "EPRT" => Command::Eprt(parse_eprt(a.required_text()?)?),
        "ABOR" => Command::Abor,
        "AUTH" => Command::Auth(a.required_text()?.to_ascii_uppercase()),
        "PBSZ" => Command::Pbsz(a.number("PBSZ needs a decimal size")?),
        "PROT" => Command::Prot(match a.required_text()?.to_ascii_uppercase().as_str() {
            "C" => Prot::Clear,
            "P" => Prot::Private,
            // RFC 4217 section 9: only C and P make sense over TLS.
            "S" | "E" => {
                return Err(ParseError::ProtParam(
                    "Protection level not supported, use C or P".into(),
                ));
            }
            _ => return Err(param("Unknown protection level, use C or P")),
        }),
        "CCC" => Command::Ccc,
        "SITE" => {
            let text = a.required_text()?;
            let (command, args) = text.split_once(char::is_whitespace).unwrap_or((text, ""));
            Command::Site { command: command.to_ascii_uppercase(), args: args.trim().to_string() }
        }
        "HASH" => Command::Hash(a.path()?),
        "RANG" => Command::Rang(parse_rang(a.required_text()?)?),
        "CLNT" => Command::Clnt(a.text().to_string()),
        "LANG" => Command::Lang(a.optional_word()),
        "HOST" => Command::Host(a.required_text()?.to_string()),
        v if NOT_IMPLEMENTED.contains(&v) => {
            return Err(ParseError::NotImplemented(format!("{v} not implemented")));
        }
        v => return Err(ParseError::Unknown(format!("Unknown command {}", echo(v)))),
    };
    Ok(command)
}

/// The argument of one command line.
struct Arg<'a> {
    /// The upper-cased verb, for messages.
    verb: &'a str,
    /// Everything after the first space, if there was one.
    raw: Option<&'a str>,
}

impl<'a> Arg<'a> {
    /// The argument trimmed, `""` when absent.
    fn text(&self) -> &'a str {
        self.raw.unwrap_or("").trim()
    }

    /// The trimmed argument; absent or blank is a syntax error.
    fn required_text(&self) -> Result<&'a str, ParseError> {
        match self.text() {
            "" => Err(syntax(format!("{} needs an argument", self.verb))),
            t => Ok(t),
        }
    }

    /// A required path, as sent.
    fn path(&self) -> Result<String, ParseError> {
        self.optional_path()?.ok_or_else(|| syntax(format!("{} needs a path", self.verb)))
    }

    /// An optional path, as sent (an empty argument is no path).
    fn optional_path(&self) -> Result<Option<String>, ParseError> {
        match self.raw {
            None | Some("") => Ok(None),
            Some(p) => check_path(p).map(|p| Some(p.to_string())),
        }
    }

    /// A path after ls-style options (`LIST -la dir`), which clients send as if the server
    /// ran `ls`; the options themselves are ignored.
    fn listing_path(&self) -> Result<Option<String>, ParseError> {
        let mut rest = self.raw.unwrap_or("");
        while rest.starts_with('-') {
            rest = rest.split_once(' ').map_or("", |(_, after)| after).trim_start_matches(' ');
        }
        match rest {
            "" => Ok(None),
            p => check_path(p).map(|p| Some(p.to_string())),
        }
    }

    /// An optional single word, trimmed.
    fn optional_word(&self) -> Option<String> {
        match self.text() {
            "" => None,
            t => Some(t.to_string()),
        }
    }

    /// A required decimal number.
    fn number(&self, message: &str) -> Result<u64, ParseError> {
        let text = self.text();
        if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(syntax(message));
        }
        text.parse().map_err(|_| syntax(message))
    }
}

/// A pathname may hold any character but CR and LF (RFC 959 section 5.3.2); NUL cannot name a
/// file on any system we serve.
fn check_path(path: &str) -> Result<&str, ParseError> {
    if path.contains(['\0', '\r', '\n']) {
        Err(syntax("Path contains a NUL or CR character"))
    } else {
        Ok(path)
    }
}

/// `YYYYMMDDHHMMSS[.sss] path` split into its time and path, if it has that form.
fn split_time(arg: &str) -> Option<(SystemTime, &str)> {
    let (time, path) = arg.split_once(' ')?;
    if path.is_empty() || !time.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    Some((parse_ftp_time(time)?, path))
}

/// `TYPE` arguments (RFC 959 section 3.1.1 and 5.3.2).
fn parse_type(arg: &str) -> Result<TransferType, ParseError> {
    let upper = arg.to_ascii_uppercase();
    let words: Vec<&str> = upper.split_whitespace().collect();
    match words.as_slice() {
        ["A"] | ["A", "N"] => Ok(TransferType::Ascii),
        ["I"] | ["L", "8"] => Ok(TransferType::Image),
        ["A", "T" | "C"] | ["E"] | ["E", "N" | "T" | "C"] => {
            Err(param("Only TYPE A, A N, I and L 8 are supported"))
        }
        ["L", n] if n.parse::<u8>().is_ok_and(|n| n > 0) => {
            Err(param("Only TYPE L 8 is supported"))
        }
        _ => Err(syntax("TYPE needs A, A N, I or L 8")),
    }
}

/// `EPSV` arguments (RFC 2428 section 3).
fn parse_epsv(arg: &str) -> Result<Epsv, ParseError> {
    if arg.is_empty() {
        return Ok(Epsv::Any);
    }
    if arg.eq_ignore_ascii_case("ALL") {
        return Ok(Epsv::All);
    }
    match net_protocol(arg)? {
        1 => Ok(Epsv::Protocol(1)),
        _ => Ok(Epsv::Protocol(2)),
    }
}

/// An RFC 2428 network protocol number: 1 (IPv4) or 2 (IPv6); other numbers are 522.
fn net_protocol(text: &str) -> Result<u8, ParseError> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(syntax("Network protocol must be 1 or 2"));
    }
    match text {
        "1" => Ok(1),
        "2" => Ok(2),
        _ => Err(ParseError::Protocol("Network protocol not supported, use (1,2)".into())),
    }
}

/// `PORT h1,h2,h3,h4,p1,p2` (RFC 959 section 4.1.2).
fn parse_port(arg: &str) -> Result<SocketAddr, ParseError> {
    let bad = || syntax("PORT needs h1,h2,h3,h4,p1,p2");
    let mut n = [0u8; 6];
    let mut fields = arg.split(',');
    for slot in &mut n {
        let field = fields.next().ok_or_else(bad)?.trim();
        if field.is_empty() || !field.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        *slot = field.parse().map_err(|_| bad())?;
    }
    if fields.next().is_some() {
        return Err(bad());
    }
    let ip = Ipv4Addr::new(n[0], n[1], n[2], n[3]);
    let port = u16::from_be_bytes([n[4], n[5]]);
    if port == 0 {
        return Err(bad());
    }
    Ok(SocketAddr::new(IpAddr::V4(ip), port))
}

/// `EPRT <d>proto<d>addr<d>port<d>` (RFC 2428 section 2), `<d>` any printable ASCII
/// character (33..=126), usually `|`.
fn parse_eprt(arg: &str) -> Result<SocketAddr, ParseError> {
    let bad = || syntax("EPRT needs |1|a.b.c.d|port| or |2|v6addr|port|");
    let delim = arg.chars().next().filter(|c| ('!'..='~').contains(c)).ok_or_else(bad)?;
    let fields: Vec<&str> = arg.split(delim).collect();
    let ["", proto, addr, port, ""] = fields.as_slice() else {
        return Err(bad());
    };
    let ip = match net_protocol(proto)? {
        1 => IpAddr::V4(addr.parse::<Ipv4Addr>().map_err(|_| bad())?),
        _ => IpAddr::V6(addr.parse::<Ipv6Addr>().map_err(|_| bad())?),
    };
    if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    match port.parse::<u16>() {
        Ok(p) if p != 0 => Ok(SocketAddr::new(ip, p)),
        _ => Err(bad()),
    }
}

/// `OPTS` arguments (RFC 2389 section 4).
fn parse_opts(arg: &str) -> Result<Opts, ParseError> {
    let (name, rest) = arg.split_once(char::is_whitespace).unwrap_or((arg, ""));
    let rest = rest.trim();
    match name.to_ascii_uppercase().as_str() {
        // draft-ietf-ftpext-utf-8-option / RFC 2640 practice: OPTS UTF8 ON.
        "UTF8" | "UTF-8" => match rest.to_ascii_uppercase().as_str() {
            "ON" => Ok(Opts::Utf8(true)),
            "OFF" => Ok(Opts::Utf8(false)),
            _ => Err(syntax("OPTS UTF8 needs ON or OFF")),
        },
        // RFC 3659 7.9: "OPTS MLST fact;fact;", an empty list turns every fact off.
        "MLST" => Ok(Opts::Mlst(
            rest.split(';')
                .map(|f| f.trim().to_ascii_lowercase())
                .filter(|f| !f.is_empty())
                .collect(),
        )),
        "HASH" => Ok(Opts::Hash(if rest.is_empty() { None } else { Some(rest.to_string()) })),
        _ => Ok(Opts::Other(arg.to_string())),
    }
}

/// `RANG start end` (draft-bryan-ftp-range): an inclusive byte range, `1 0` resets it.
fn parse_rang(arg: &str) -> Result<Option<(u64, u64)>, ParseError> {
    let bad = || syntax("RANG needs a start and an end byte (RANG 1 0 resets)");
    let words: Vec<&str> = arg.split_whitespace().collect();
    let [start, end] = words.as_slice() else {
        return Err(bad());
    };
    let number = |s: &str| -> Result<u64, ParseError> {
        if s.bytes().all(|b| b.is_ascii_digit()) {
            s.parse().map_err(|_| bad())
        } else {
            Err(bad())
        }
    };
    match (number(start)?, number(end)?) {
        (1, 0) => Ok(None),
        (start, end) if start <= end => Ok(Some((start, end))),
        _ => Err(bad()),
    }
}

/// A 501 error.
fn syntax(text: impl Into<String>) -> ParseError {
    ParseError::Syntax(text.into())
}

/// A 504 error.
fn param(text: impl Into<String>) -> ParseError {
    ParseError::Param(text.into())
}

/// At most [`MAX_ECHO`] characters of `text`, for quoting it in a reply.
fn echo(text: &str) -> &str {
    match text.char_indices().nth(MAX_ECHO) {
        Some((i, _)) => &text[..i],
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn ok(line: &str) -> Command {
        parse(line.as_bytes()).unwrap_or_else(|e| panic!("{line:?}: {e:?}"))
    }

    fn code(line: &[u8]) -> u16 {
        match parse(line) {
            Ok(c) => panic!("{:?} parsed as {c:?}", String::from_utf8_lossy(line)),
            Err(e) => e.reply().code,
        }
    }

    fn s(x: &str) -> String {
        x.to_string()
    }

    #[test]
    fn simple_commands_and_aliases() {
        let cases = [
            ("QUIT", Command::Quit),
            ("quit", Command::Quit),
            ("Rein", Command::Rein),
            ("NOOP", Command::Noop),
            ("NOOP ", Command::Noop),
            ("SYST", Command::Syst),
            ("FEAT", Command::Feat),
            ("PWD", Command::Pwd),
            ("XPWD", Command::Pwd),
            ("CDUP", Command::Cdup),
            ("xcup", Command::Cdup),
            ("PASV", Command::Pasv),
            ("ABOR", Command::Abor),
            ("CCC", Command::Ccc),
            ("ALLO 1024", Command::Allo),
            ("ALLO 1024 R 512", Command::Allo),
            ("MODE S", Command::Mode),
            ("mode s", Command::Mode),
            ("STRU F", Command::Stru),
        ];
        for (line, want) in cases {
            assert_eq!(ok(line), want, "{line}");
        }
    }

    #[test]
    fn login_commands() {
        assert_eq!(ok("USER alice"), Command::User(s("alice")));
        assert_eq!(ok("PASS se cret "), Command::Pass(s("se cret ")));
        assert_eq!(ok("PASS"), Command::Pass(s("")));
        assert_eq!(ok("PASS "), Command::Pass(s("")));
        assert_eq!(ok("ACCT x"), Command::Acct(s("x")));
        assert_eq!(code(b"USER"), 501);
        assert_eq!(code(b"USER "), 501);
        assert_eq!(code(b"ACCT"), 501);
    }

    #[test]
    fn path_commands_keep_the_path_as_sent() {
        type Make = fn(String) -> Command;
        let cases: [(&str, Make); 13] = [
            ("CWD", Command::Cwd),
            ("XCWD", Command::Cwd),
            ("MKD", Command::Mkd),
            ("XMKD", Command::Mkd),
            ("RMD", Command::Rmd),
            ("XRMD", Command::Rmd),
            ("DELE", Command::Dele),
            ("RNFR", Command::Rnfr),
            ("RNTO", Command::Rnto),
            ("SIZE", Command::Size),
            ("RETR", Command::Retr),
            ("STOR", Command::Stor),
            ("APPE", Command::Appe),
        ];
        for (verb, make) in cases {
            for path in ["a", "/a/b c", " lead", "trail ", "ünï ✓", "-la", "..", "a\"b"] {
                assert_eq!(ok(&format!("{verb} {path}")), make(s(path)), "{verb} {path:?}");
                let lower = verb.to_ascii_lowercase();
                assert_eq!(ok(&format!("{lower} {path}")), make(s(path)));
            }
            // A missing path is 501, not a dropped connection.
            assert_eq!(code(verb.as_bytes()), 501, "{verb}");
            assert_eq!(code(format!("{verb} ").as_bytes()), 501, "{verb}");
            assert_eq!(code(format!("{verb} a\0b").as_bytes()), 501, "{verb}");
            assert_eq!(code(format!("{verb} a\rb").as_bytes()), 501, "{verb}");
        }
        assert_eq!(ok("HASH /f"), Command::Hash(s("/f")));
        assert_eq!(code(b"HASH"), 501);
    }

    #[test]
    fn listing_commands_strip_ls_options() {
        assert_eq!(ok("LIST"), Command::List(None));
        assert_eq!(ok("LIST "), Command::List(None));
        assert_eq!(ok("LIST -la"), Command::List(None));
        assert_eq!(ok("LIST -a /dir"), Command::List(Some(s("/dir"))));
        assert_eq!(ok("LIST -l -R dir x"), Command::List(Some(s("dir x"))));
        assert_eq!(ok("LIST dir"), Command::List(Some(s("dir"))));
        assert_eq!(ok("LIST a -l"), Command::List(Some(s("a -l"))));
        assert_eq!(ok("NLST -1"), Command::Nlst(None));
        assert_eq!(ok("NLST x"), Command::Nlst(Some(s("x"))));
        assert_eq!(ok("STAT"), Command::Stat(None));
        assert_eq!(ok("STAT -l /a"), Command::Stat(Some(s("/a"))));
        assert_eq!(ok("MLSD"), Command::Mlsd(None));
        assert_eq!(ok("MLSD -x"), Command::Mlsd(Some(s("-x"))));
        assert_eq!(ok("MLST a b"), Command::Mlst(Some(s("a b"))));
        assert_eq!(ok("MLST"), Command::Mlst(None));
        assert_eq!(ok("STOU"), Command::Stou(None));
        assert_eq!(ok("STOU f"), Command::Stou(Some(s("f"))));
        assert_eq!(code(b"LIST a\0"), 501);
    }

    #[test]
    fn times() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_602_324_610); // 2020-10-10 10:10:10
        assert_eq!(ok("MFMT 20201010101010 a b"), Command::Mfmt { modified: t, path: s("a b") });
        assert_eq!(ok("MDTM 20201010101010 f"), Command::Mfmt { modified: t, path: s("f") });
        assert_eq!(ok("MDTM f"), Command::Mdtm(s("f")));
        assert_eq!(ok("MDTM 2020 f"), Command::Mdtm(s("2020 f")));
        assert_eq!(ok("MDTM 20201010101010"), Command::Mdtm(s("20201010101010")));
        assert_eq!(code(b"MFMT 20201010101010"), 501);
        assert_eq!(code(b"MFMT 2020101010101 f"), 501);
        assert_eq!(code(b"MFMT 20201310101010 f"), 501);
        assert_eq!(code(b"MFMT"), 501);
    }

    #[test]
    fn rest_and_numbers() {
        assert_eq!(ok("REST 0"), Command::Rest(0));
        assert_eq!(ok("REST 123456789012"), Command::Rest(123_456_789_012));
        assert_eq!(code(b"REST abc"), 501);
        assert_eq!(code(b"REST -1"), 501);
        assert_eq!(code(b"REST +1"), 501);
        assert_eq!(code(b"REST 99999999999999999999999"), 501);
        assert_eq!(code(b"REST"), 501);
        assert_eq!(ok("PBSZ 0"), Command::Pbsz(0));
        assert_eq!(code(b"PBSZ x"), 501);
    }

    #[test]
    fn type_mode_stru() {
        assert_eq!(ok("TYPE A"), Command::Type(TransferType::Ascii));
        assert_eq!(ok("TYPE a n"), Command::Type(TransferType::Ascii));
        assert_eq!(ok("TYPE I"), Command::Type(TransferType::Image));
        assert_eq!(ok("TYPE L 8"), Command::Type(TransferType::Image));
        for bad in ["TYPE E", "TYPE A T", "TYPE A C", "TYPE L 7", "TYPE L 36"] {
            assert_eq!(code(bad.as_bytes()), 504, "{bad}");
        }
        for bad in ["TYPE", "TYPE X", "TYPE A X", "TYPE L", "TYPE L x", "TYPE I N"] {
            assert_eq!(code(bad.as_bytes()), 501, "{bad}");
        }
        assert_eq!(code(b"MODE Z"), 504);
        assert_eq!(code(b"MODE B"), 504);
        assert_eq!(code(b"MODE"), 501);
        assert_eq!(code(b"STRU R"), 504);
        assert_eq!(code(b"STRU"), 501);
    }

    #[test]
    fn port_and_eprt() {
        let v4: SocketAddr = "192.168.1.2:1234".parse().unwrap();
        assert_eq!(ok("PORT 192,168,1,2,4,210"), Command::Port(v4));
        assert_eq!(ok("PORT 192, 168, 1, 2, 4, 210"), Command::Port(v4));
        for bad in [
            "PORT",
            "PORT 1,2,3,4,5",
            "PORT 1,2,3,4,5,6,7",
            "PORT 256,1,1,1,1,1",
            "PORT a,b,c,d,e,f",
            "PORT 1,2,3,4,0,0",
            "PORT 1,2,3,4,-1,1",
        ] {
            assert_eq!(code(bad.as_bytes()), 501, "{bad}");
        }
        assert_eq!(ok("EPRT |1|192.168.1.2|1234|"), Command::Eprt(v4));
        assert_eq!(ok("EPRT !1!192.168.1.2!1234!"), Command::Eprt(v4));
        let v6: SocketAddr = "[2001:db8::1]:5282".parse().unwrap();
        assert_eq!(ok("EPRT |2|2001:db8::1|5282|"), Command::Eprt(v6));
        assert_eq!(code(b"EPRT |3|1.2.3.4|1|"), 522);
        let e = parse(b"EPRT |3|1.2.3.4|1|").unwrap_err();
        assert_eq!(e.reply().encode(), "522 Network protocol not supported, use (1,2)\r\n");
        for bad in [
            "EPRT",
            "EPRT |1|1.2.3.4|1",
            "EPRT |1|1.2.3.4|0|",
            "EPRT |1|1.2.3.4|65536|",
            "EPRT |1|::1|21|",
            "EPRT |2|1.2.3.4|21|",
            "EPRT |x|1.2.3.4|21|",
            "EPRT  1 1.2.3.4 21 ",
            "EPRT |1|1.2.3.4|21|x|",
        ] {
            assert_eq!(code(bad.as_bytes()), 501, "{bad}");
        }
    }

    #[test]
    fn epsv() {
        assert_eq!(ok("EPSV"), Command::Epsv(Epsv::Any));
        assert_eq!(ok("EPSV all"), Command::Epsv(Epsv::All));
        assert_eq!(ok("EPSV 1"), Command::Epsv(Epsv::Protocol(1)));
        assert_eq!(ok("EPSV 2"), Command::Epsv(Epsv::Protocol(2)));
        assert_eq!(code(b"EPSV 3"), 522);
        assert_eq!(code(b"EPSV x"), 501);
    }

    #[test]
    fn security_commands() {
        assert_eq!(ok("AUTH tls"), Command::Auth(s("TLS")));
        assert_eq!(ok("AUTH TLS-C"), Command::Auth(s("TLS-C")));
        assert_eq!(code(b"AUTH"), 501);
        assert_eq!(ok("PROT P"), Command::Prot(Prot::Private));
        assert_eq!(ok("prot c"), Command::Prot(Prot::Clear));
        assert_eq!(code(b"PROT S"), 536);
        assert_eq!(code(b"PROT E"), 536);
        assert_eq!(code(b"PROT X"), 504);
        assert_eq!(code(b"PROT"), 501);
    }

    #[test]
    fn opts() {
        assert_eq!(ok("OPTS UTF8 ON"), Command::Opts(Opts::Utf8(true)));
        assert_eq!(ok("opts utf-8 off"), Command::Opts(Opts::Utf8(false)));
        assert_eq!(code(b"OPTS UTF8"), 501);
        assert_eq!(code(b"OPTS"), 501);
        // What Python's mlsd(facts=[...]) sends.
        assert_eq!(
            ok("OPTS MLST type;size;"),
            Command::Opts(Opts::Mlst(vec![s("type"), s("size")]))
        );
        assert_eq!(
            ok("OPTS MLST Type;UNIX.mode"),
            Command::Opts(Opts::Mlst(vec![s("type"), s("unix.mode")]))
        );
        assert_eq!(ok("OPTS MLST"), Command::Opts(Opts::Mlst(vec![])));
        assert_eq!(ok("OPTS HASH"), Command::Opts(Opts::Hash(None)));
        assert_eq!(ok("OPTS HASH SHA-1"), Command::Opts(Opts::Hash(Some(s("SHA-1")))));
        assert_eq!(ok("OPTS MODE Z level 9"), Command::Opts(Opts::Other(s("MODE Z level 9"))));
    }

    #[test]
    fn site_and_others() {
        assert_eq!(
            ok("SITE share  a.txt bob "),
            Command::Site { command: s("SHARE"), args: s("a.txt bob") }
        );
        assert_eq!(ok("SITE HELP"), Command::Site { command: s("HELP"), args: s("") });
        assert_eq!(code(b"SITE"), 501);
        assert_eq!(code(b"SITE  "), 501);
        assert_eq!(ok("RANG 0 99"), Command::Rang(Some((0, 99))));
        assert_eq!(ok("RANG 5 5"), Command::Rang(Some((5, 5))));
        assert_eq!(ok("RANG 1 0"), Command::Rang(None));
        for bad in ["RANG", "RANG 1", "RANG 5 4", "RANG a b", "RANG 1 2 3", "RANG -1 2"] {
            assert_eq!(code(bad.as_bytes()), 501, "{bad}");
        }
        assert_eq!(ok("CLNT FileZilla 3"), Command::Clnt(s("FileZilla 3")));
        assert_eq!(ok("LANG"), Command::Lang(None));
        assert_eq!(ok("LANG en"), Command::Lang(Some(s("en"))));
        assert_eq!(ok("HOST ftp.example.com"), Command::Host(s("ftp.example.com")));
        assert_eq!(code(b"HOST"), 501);
        assert_eq!(ok("HELP"), Command::Help(None));
        assert_eq!(ok("HELP retr"), Command::Help(Some(s("retr"))));
        assert_eq!(ok("STAT"), Command::Stat(None));
    }

    #[test]
    fn bad_lines_get_their_codes() {
        assert_eq!(code(b""), 500);
        assert_eq!(code(b" NOOP"), 500);
        assert_eq!(code(b"XYZZY"), 500);
        assert_eq!(code(b"NO\0OP"), 500);
        assert_eq!(code(b"\x16\x03\x01\x02\x00"), 500);
        assert_eq!(code(b"NOOP\xff"), 501);
        assert_eq!(code(b"RETR \xc3\x28"), 501);
        assert_eq!(code(b"SMNT /x"), 502);
        assert_eq!(code(b"lprt"), 502);
        // A hostile verb is not echoed in full.
        let long = "A".repeat(5000);
        let reply = parse(long.as_bytes()).unwrap_err().reply();
        assert_eq!(reply.code, 500);
        assert!(reply.lines[0].len() < 100);
        let e = parse(b"FOO bar").unwrap_err();
        assert_eq!(e.reply().encode(), "500 Unknown command FOO\r\n");
        assert_eq!(parse(b"RETR").unwrap_err().reply().encode(), "501 RETR needs a path\r\n");
    }

    #[test]
    fn verbs() {
        assert_eq!(ok("XPWD").verb(), "PWD");
        assert_eq!(ok("retr x").verb(), "RETR");
        assert_eq!(ok("MDTM 20201010101010 f").verb(), "MFMT");
        assert_eq!(ok("SITE X").verb(), "SITE");
    }
}
