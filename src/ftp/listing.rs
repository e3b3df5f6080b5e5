//! The text of directory listings and file times: `LIST` lines, `NLST` names, `MLSD`/`MLST`
//! entries (RFC 3659 section 7), FEAT's `MLST` line and the `YYYYMMDDHHMMSS` time values of
//! RFC 3659 section 2.3.
//!
//! `LIST` has no standard format (RFC 959 section 4.1.3 says it is for humans); clients parse
//! the de facto `ls -l` form, so that is what we write: fixed-width columns, dates as
//! `Mon DD HH:MM` this year and `Mon DD YYYY` before, right-aligned (the bytes libunftp wrote,
//! which our clients and tests already parse). Lines are written straight into one buffer, and
//! [`Dates`] reuses the date text while consecutive entries fall in the same minute, so a
//! 10,000-entry folder formats in a few milliseconds.
//!
//! Names: a listing line ends at CRLF, so a name holding CR or LF could forge entries (and RFC
//! 3659 section 7.2 notes such names cannot be represented); those characters are written as
//! `?`.

use std::io::Write;
use std::time::SystemTime;

use chrono::{DateTime, Datelike, NaiveDate, Utc};

use super::backend::{FileKind, Meta};

/// Formats `LIST` dates, reusing the text while consecutive entries fall in the same minute
/// (files written together usually do), so most lines cost no date formatting at all.
#[derive(Debug)]
pub struct Dates {
    /// The current year: it decides between the time and the year column.
    year: i32,
    /// The minute (since the epoch) `text` was made for.
    minute: Option<i64>,
    /// The formatted date.
    text: String,
}

impl Dates {
    /// A cache for listings made now (the current year decides the date style).
    pub fn new() -> Self {
        Self { year: Utc::now().year(), minute: None, text: String::new() }
    }

    /// The date column for `t`.
    fn format(&mut self, t: SystemTime) -> &str {
        let at = DateTime::<Utc>::from(t);
        let minute = at.timestamp().div_euclid(60);
        if self.minute != Some(minute) {
            self.text = if at.year() == self.year {
                at.format("%b %d %H:%M").to_string()
            } else {
                at.format("%b %d %Y").to_string()
            };
            self.minute = Some(minute);
        }
        &self.text
    }
}

impl Default for Dates {
    fn default() -> Self {
        Self::new()
    }
}

/// Appends `name` with CR and LF replaced by `?` (they would end the line early).
fn push_name(out: &mut Vec<u8>, name: &str) {
    if name.contains(['\r', '\n']) {
        out.extend(name.bytes().map(|b| if b == b'\r' || b == b'\n' { b'?' } else { b }));
    } else {
        out.extend_from_slice(name.as_bytes());
    }
}

/// Appends the `LIST` (`ls -l` style) line of `name` with `meta`, ending in CRLF.
pub fn list_line(out: &mut Vec<u8>, name: &str, meta: &Meta, dates: &mut Dates) {
    let kind = match meta.kind {
        FileKind::Dir => b'd',
        FileKind::Symlink => b'l',
        FileKind::File => b'-',
    };
    let mut perms = [b'-'; 9];
    for (i, p) in perms.iter_mut().enumerate() {
        if meta.mode & (0o400 >> i) != 0 {
            *p = b"rwxrwxrwx"[i];
        }
    }
    out.push(kind);
    out.extend_from_slice(&perms);
    // Writing into a Vec cannot fail.
    let _ = write!(
        out,
        " {:>12} {:>12} {:>12} {:>14} {:>12} ",
        meta.links,
        meta.uid,
        meta.gid,
        meta.len,
        dates.format(meta.modified)
    );
    push_name(out, name);
    out.extend_from_slice(b"\r\n");
}

/// Appends the `NLST` line of `name` (the name alone), ending in CRLF.
pub fn nlst_line(out: &mut Vec<u8>, name: &str) {
    push_name(out, name);
    out.extend_from_slice(b"\r\n");
}

/// Which MLSx facts (RFC 3659 section 7.5) are on; `OPTS MLST` changes them per session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Facts(u8);

/// The facts we offer, in the order they are written, with their bits.
const FACTS: [(&str, u8); 5] =
    [("type", 1), ("size", 2), ("modify", 4), ("perm", 8), ("unix.mode", 16)];

impl Facts {
    /// Every fact we offer.
    pub fn all() -> Self {
        Self(FACTS.iter().map(|(_, bit)| bit).sum())
    }

    /// The facts named in `OPTS MLST` (lower-case); unknown names are ignored and an empty
    /// list turns every fact off (RFC 3659 section 7.9).
    pub fn from_opts(requested: &[String]) -> Self {
        let mut bits = 0;
        for name in requested {
            if let Some((_, bit)) = FACTS.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)) {
                bits |= bit;
            }
        }
        Self(bits)
    }

    /// Whether fact `bit` is on.
    fn has(self, bit: u8) -> bool {
        self.0 & bit != 0
    }

    /// FEAT's line (RFC 3659 section 7.8): every fact offered, active ones marked with `*`:
    /// `MLST type*;size*;modify*;perm*;unix.mode;`.
    pub fn feat_line(&self) -> String {
        let mut line = String::from("MLST ");
        for (name, bit) in FACTS {
            line.push_str(name);
            if self.has(bit) {
                line.push('*');
            }
            line.push(';');
        }
        line
    }

    /// The active facts as `OPTS MLST` reports them (RFC 3659 section 7.9): `type;size;`.
    pub fn opts_reply(&self) -> String {
        let mut text = String::new();
        for (name, bit) in FACTS {
            if self.has(bit) {
                text.push_str(name);
                text.push(';');
            }
        }
        text
    }
}

impl Default for Facts {
    /// The facts of a new session: type, size, modify, perm (`unix.mode` only on request).
    fn default() -> Self {
        Self(1 | 2 | 4 | 8)
    }
}

/// One MLSx entry "fact=v;fact=v; name" (RFC 3659 7.2), ending CRLF. `type_override`
/// gives `cdir`/`pdir` types for MLSD's `.` entry.
///
/// MLST's reply puts this line inside a multi-line reply after one space (RFC 3659 7.2); the
/// caller adds that space.
pub fn mlsx_line(
    out: &mut Vec<u8>,
    name: &str,
    meta: &Meta,
    facts: Facts,
    type_override: Option<&str>,
) {
    if facts.has(1) {
        // RFC 3659 7.5.1; a link (listings do not follow them) is offered as a file, the
        // type every client understands.
        let kind = type_override.unwrap_or(if meta.is_dir() { "dir" } else { "file" });
        out.extend_from_slice(b"type=");
        out.extend_from_slice(kind.as_bytes());
        out.push(b';');
    }
    if facts.has(2) && !meta.is_dir() {
        // RFC 3659 7.5.7: the size of a file's content; none for folders.
        let _ = write!(out, "size={};", meta.len);
    }
    if facts.has(4) {
        let _ = write!(out, "modify={};", ftp_time(meta.modified));
    }
    if facts.has(8) {
        // RFC 3659 7.5.5: what the user may do with it.
        let perm: &[u8] = match (meta.is_dir(), meta.writable()) {
            (true, true) => b"elcdfmp",
            (true, false) => b"el",
            (false, true) => b"rwadf",
            (false, false) => b"r",
        };
        out.extend_from_slice(b"perm=");
        out.extend_from_slice(perm);
        out.push(b';');
    }
    if facts.has(16) {
        let _ = write!(out, "unix.mode=0{:o};", meta.mode & 0o7777);
    }
    out.push(b' ');
    push_name(out, name);
    out.extend_from_slice(b"\r\n");
}

/// `t` as `YYYYMMDDHHMMSS` in UTC (RFC 3659 section 2.3), as MDTM and MLSx's `modify` need.
pub fn ftp_time(t: SystemTime) -> String {
    DateTime::<Utc>::from(t).format("%Y%m%d%H%M%S").to_string()
}

/// Parses `YYYYMMDDHHMMSS` (UTC) with an optional `.fraction` of up to nine digits (RFC 3659
/// section 2.3); `None` if it is not a valid time.
pub fn parse_ftp_time(s: &str) -> Option<SystemTime> {
    let (whole, fraction) = match s.split_once('.') {
        Some((w, f)) => (w, Some(f)),
        None => (s, None),
    };
    if whole.len() != 14 || !whole.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let num = |range: std::ops::Range<usize>| whole[range].parse::<u32>().ok();
    let year = i32::try_from(num(0..4)?).ok()?;
    let date = NaiveDate::from_ymd_opt(year, num(4..6)?, num(6..8)?)?;
    let nanos = match fraction {
        None => 0,
        Some(f) if (1..=9).contains(&f.len()) && f.bytes().all(|b| b.is_ascii_digit()) => {
            // ".5" is half a second: pad to nine digits.
            f.parse::<u32>().ok()? * 10u32.pow(9 - f.len() as u32)
        }
        Some(_) => return None,
    };
    let at = date.and_hms_nano_opt(num(8..10)?, num(10..12)?, num(12..14)?, nanos)?;
    Some(SystemTime::from(at.and_utc()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn meta(kind: FileKind, len: u64, modified: SystemTime, mode: u32) -> Meta {
        Meta { kind, len, modified, mode, uid: 1000, gid: 1000, links: 1 }
    }

    fn text(out: Vec<u8>) -> String {
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn list_lines_have_the_ls_columns() {
        let old = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000); // 2001-09-09 01:46:40
        let mut dates = Dates::new();
        let mut out = Vec::new();
        list_line(&mut out, "dir", &meta(FileKind::Dir, 4096, old, 0o755), &mut dates);
        list_line(&mut out, "a b.txt", &meta(FileKind::File, 1234, old, 0o644), &mut dates);
        list_line(&mut out, "l", &meta(FileKind::Symlink, 7, old, 0o777), &mut dates);
        list_line(&mut out, "s", &meta(FileKind::File, u64::MAX, old, 0o4751), &mut dates);
        assert_eq!(
            text(out),
            "drwxr-xr-x            1         1000         1000           4096  Sep 09 2001 dir\r\n\
             -rw-r--r--            1         1000         1000           1234  Sep 09 2001 a b.txt\r\n\
             lrwxrwxrwx            1         1000         1000              7  Sep 09 2001 l\r\n\
             -rwxr-x--x            1         1000         1000 18446744073709551615  Sep 09 2001 s\r\n"
        );
    }

    #[test]
    fn list_dates_this_year_show_the_time() {
        let now = SystemTime::now();
        let at = DateTime::<Utc>::from(now);
        let mut out = Vec::new();
        list_line(&mut out, "n", &meta(FileKind::File, 0, now, 0o600), &mut Dates::new());
        let want = format!(" {} n\r\n", at.format("%b %d %H:%M"));
        assert!(text(out).ends_with(&want));
    }

    #[test]
    fn names_cannot_inject_lines() {
        let m = meta(FileKind::File, 1, SystemTime::UNIX_EPOCH, 0o644);
        let mut out = Vec::new();
        nlst_line(&mut out, "a\r\nb");
        assert_eq!(text(out), "a??b\r\n");
        let mut out = Vec::new();
        list_line(&mut out, "x\ny", &m, &mut Dates::new());
        assert!(text(out).ends_with(" x?y\r\n"));
        let mut out = Vec::new();
        mlsx_line(&mut out, "x\rz", &m, Facts::from_opts(&[]), None);
        assert_eq!(text(out), " x?z\r\n");
        let mut out = Vec::new();
        nlst_line(&mut out, "ünï ✓");
        assert_eq!(text(out), "ünï ✓\r\n");
    }

    #[test]
    fn mlsx_lines() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_602_324_610);
        let file = meta(FileKind::File, 42, t, 0o644);
        let ro_file = meta(FileKind::File, 0, t, 0o444);
        let dir = meta(FileKind::Dir, 4096, t, 0o755);
        let ro_dir = meta(FileKind::Dir, 4096, t, 0o555);
        let link = meta(FileKind::Symlink, 3, t, 0o777);
        let line = |name: &str, m: &Meta, f: Facts, o: Option<&str>| {
            let mut out = Vec::new();
            mlsx_line(&mut out, name, m, f, o);
            text(out)
        };
        let d = Facts::default();
        assert_eq!(
            line("f.txt", &file, d, None),
            "type=file;size=42;modify=20201010101010;perm=rwadf; f.txt\r\n"
        );
        assert_eq!(
            line("r", &ro_file, d, None),
            "type=file;size=0;modify=20201010101010;perm=r; r\r\n"
        );
        assert_eq!(line("d", &dir, d, None), "type=dir;modify=20201010101010;perm=elcdfmp; d\r\n");
        assert_eq!(line("d", &ro_dir, d, None), "type=dir;modify=20201010101010;perm=el; d\r\n");
        assert_eq!(
            line(".", &dir, d, Some("cdir")),
            "type=cdir;modify=20201010101010;perm=elcdfmp; .\r\n"
        );
        assert_eq!(
            line("l", &link, Facts::all(), None),
            "type=file;size=3;modify=20201010101010;perm=rwadf;unix.mode=0777; l\r\n"
        );
        let some = Facts::from_opts(&["size".into(), "TYPE".into(), "bogus".into()]);
        assert_eq!(line(" sp ", &file, some, None), "type=file;size=42;  sp \r\n");
        assert_eq!(
            line("/abs/p", &dir, Facts::from_opts(&["unix.mode".into()]), None),
            "unix.mode=0755; /abs/p\r\n"
        );
    }

    #[test]
    fn facts_in_feat_and_opts() {
        assert_eq!(Facts::default().feat_line(), "MLST type*;size*;modify*;perm*;unix.mode;");
        assert_eq!(Facts::all().feat_line(), "MLST type*;size*;modify*;perm*;unix.mode*;");
        let some = Facts::from_opts(&["type".into(), "size".into()]);
        assert_eq!(some.opts_reply(), "type;size;");
        assert_eq!(some.feat_line(), "MLST type*;size*;modify;perm;unix.mode;");
        assert_eq!(Facts::from_opts(&[]).opts_reply(), "");
        assert_eq!(Facts::default().opts_reply(), "type;size;modify;perm;");
    }

    #[test]
    fn ftp_times() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_602_324_610);
        assert_eq!(ftp_time(t), "20201010101010");
        assert_eq!(ftp_time(SystemTime::UNIX_EPOCH), "19700101000000");
        assert_eq!(parse_ftp_time("20201010101010"), Some(t));
        assert_eq!(parse_ftp_time("20201010101010.5"), Some(t + Duration::from_millis(500)));
        assert_eq!(parse_ftp_time("20201010101010.123"), Some(t + Duration::from_millis(123)));
        assert_eq!(
            parse_ftp_time("19691231235959"),
            Some(SystemTime::UNIX_EPOCH - Duration::from_secs(1))
        );
        for bad in [
            "",
            "2020101010101",
            "202010101010100",
            "20201310101010",
            "20200230101010",
            "20201010241010",
            "20201010106010",
            "20201010101060",
            "2020101010101x",
            "20201010101010.",
            "20201010101010.1234567890",
            "20201010101010.x",
            "+2020101010101",
        ] {
            assert_eq!(parse_ftp_time(bad), None, "{bad}");
        }
    }

    #[test]
    fn ten_thousand_list_lines_are_fast() {
        let now = SystemTime::now();
        let entries: Vec<(String, Meta)> = (0..10_000)
            .map(|i| (format!("file-{i:05}.dat"), meta(FileKind::File, i * 1000, now, 0o644)))
            .collect();
        let started = std::time::Instant::now();
        let mut out = Vec::with_capacity(1 << 20);
        let mut dates = Dates::new();
        for (name, m) in &entries {
            list_line(&mut out, name, m, &mut dates);
        }
        assert_eq!(out.iter().filter(|&&b| b == b'\n').count(), 10_000);
        // Generous for unoptimised test builds on a busy machine; release takes ~1 ms.
        assert!(started.elapsed() < Duration::from_secs(1), "{:?}", started.elapsed());
    }
}
