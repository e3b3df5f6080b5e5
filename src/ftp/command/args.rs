//! The grammars of command arguments: paths (as sent, no NUL or CR), ls-style options, numbers,
//! `YYYYMMDDHHMMSS` times, TYPE, EPSV, PORT's host-port, EPRT, OPTS and RANG. Each gives its
//! value or the [`ParseError`] that names the reply.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::SystemTime;

use super::super::listing::parse_ftp_time;
use super::{Epsv, Opts, ParseError, TransferType};

/// The argument of one command line.
pub(super) struct Arg<'a> {
    /// The upper-cased verb, for messages.
    pub(super) verb: &'a str,
    /// Everything after the first space, if there was one.
    pub(super) raw: Option<&'a str>,
}

impl<'a> Arg<'a> {
    /// The argument trimmed, `""` when absent.
    pub(super) fn text(&self) -> &'a str {
        self.raw.unwrap_or("").trim()
    }

    /// The trimmed argument; absent or blank is a syntax error.
    pub(super) fn required_text(&self) -> Result<&'a str, ParseError> {
        match self.text() {
            "" => Err(syntax(format!("{} needs an argument", self.verb))),
            t => Ok(t),
        }
    }

    /// A required path, as sent.
    pub(super) fn path(&self) -> Result<String, ParseError> {
        self.optional_path()?.ok_or_else(|| syntax(format!("{} needs a path", self.verb)))
    }

    /// An optional path, as sent (an empty argument is no path).
    pub(super) fn optional_path(&self) -> Result<Option<String>, ParseError> {
        match self.raw {
            None | Some("") => Ok(None),
            Some(p) => check_path(p).map(|p| Some(p.to_string())),
        }
    }

    /// A path after ls-style options (`LIST -la dir`), which clients send as if the server
    /// ran `ls`; the options themselves are ignored.
    pub(super) fn listing_path(&self) -> Result<Option<String>, ParseError> {
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
    pub(super) fn optional_word(&self) -> Option<String> {
        match self.text() {
            "" => None,
            t => Some(t.to_string()),
        }
    }

    /// A required decimal number.
    pub(super) fn number(&self, message: &str) -> Result<u64, ParseError> {
        let text = self.text();
        if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(syntax(message));
        }
        text.parse().map_err(|_| syntax(message))
    }
}

/// A pathname may hold any character but CR and LF (RFC 959 section 5.3.2); NUL cannot name a
/// file on any system we serve.
pub(super) fn check_path(path: &str) -> Result<&str, ParseError> {
    if path.contains(['\0', '\r', '\n']) {
        Err(syntax("Path contains a NUL or CR character"))
    } else {
        Ok(path)
    }
}

/// `YYYYMMDDHHMMSS[.sss] path` split into its time and path, if it has that form.
pub(super) fn split_time(arg: &str) -> Option<(SystemTime, &str)> {
    let (time, path) = arg.split_once(' ')?;
    if path.is_empty() || !time.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    Some((parse_ftp_time(time)?, path))
}

/// `TYPE` arguments (RFC 959 section 3.1.1 and 5.3.2).
pub(super) fn parse_type(arg: &str) -> Result<TransferType, ParseError> {
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
pub(super) fn parse_epsv(arg: &str) -> Result<Epsv, ParseError> {
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
pub(super) fn parse_port(arg: &str) -> Result<SocketAddr, ParseError> {
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
pub(super) fn parse_eprt(arg: &str) -> Result<SocketAddr, ParseError> {
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
pub(super) fn parse_opts(arg: &str) -> Result<Opts, ParseError> {
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
pub(super) fn parse_rang(arg: &str) -> Result<Option<(u64, u64)>, ParseError> {
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
pub(super) fn syntax(text: impl Into<String>) -> ParseError {
    ParseError::Syntax(text.into())
}

/// A 504 error.
pub(super) fn param(text: impl Into<String>) -> ParseError {
    ParseError::Param(text.into())
}
