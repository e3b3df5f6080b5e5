//! The verb table: [`parse`] splits a line into its verb and argument and builds the
//! [`Command`], reading the argument with the grammars in `args.rs`.
//!
//! The verb is case-insensitive (RFC 959 section 5.3). A path argument is everything after the
//! single space that follows the verb, kept as sent: RFC 959 defines `<pathname>` as any
//! characters but CR and LF, so names may begin or end with spaces. Other arguments are
//! trimmed, as clients differ in trailing blanks.

use super::args::{
    Arg, param, parse_eprt, parse_epsv, parse_opts, parse_port, parse_rang, parse_type, split_time,
    syntax,
};
use super::{Command, ParseError, Prot};

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

/// At most [`MAX_ECHO`] characters of `text`, for quoting it in a reply.
fn echo(text: &str) -> &str {
    match text.char_indices().nth(MAX_ECHO) {
        Some((i, _)) => &text[..i],
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Epsv, Opts, TransferType};
    use super::*;
    use std::net::SocketAddr;
    use std::time::{Duration, SystemTime};

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
