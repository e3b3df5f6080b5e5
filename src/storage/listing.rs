//! The `LIST` long format, written straight into one buffer.
//!
//! Why: libunftp formats each entry through `Fileinfo`'s `Display`, which runs a chrono
//! `strftime` and allocates five strings per line; on a 10,000-file folder that was a fifth of
//! the server's time for `LIST` (bench/, W6). The bytes are the same (a test holds them to
//! `Fileinfo`'s output): `ls -l`-like lines, fixed-width columns, dates as `Mon DD HH:MM` this
//! year and `Mon DD  YYYY` before (the usual FTP listing that clients parse, see RFC 959 4.1.3
//! on LIST being for humans and the de facto `ls` format clients rely on).

use std::io::Write;
use std::time::SystemTime;

use chrono::{DateTime, Datelike, Utc};
use unftp_core::storage::{Metadata, Permissions};

/// Formats dates, reusing the text while consecutive entries fall in the same minute (files
/// written together usually do), so most lines cost no date formatting at all.
pub struct Dates {
    year: i32,
    minute: Option<i64>,
    text: String,
}

impl Dates {
    /// A cache for listings made now (the current year decides the date style).
    pub fn new() -> Self {
        Self { year: Utc::now().year(), minute: None, text: String::new() }
    }

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

/// Appends the listing line of `name` with `meta`, ending in CRLF.
pub fn line<M: Metadata>(out: &mut Vec<u8>, name: &str, meta: &M, dates: &mut Dates) {
    let kind = if meta.is_dir() {
        'd'
    } else if meta.is_symlink() {
        'l'
    } else {
        '-'
    };
    let modified = match meta.modified() {
        Ok(t) => dates.format(t),
        Err(_) => "--- -- --:--",
    };
    let Permissions(mode) = meta.permissions();
    let mut perms = [b'-'; 9];
    for (i, p) in perms.iter_mut().enumerate() {
        if mode & (0o400 >> i) != 0 {
            *p = b"rwxrwxrwx"[i];
        }
    }
    out.push(kind as u8);
    out.extend_from_slice(&perms);
    // Writing into a Vec cannot fail.
    let _ = write!(
        out,
        " {:>12} {:>12} {:>12} {:>14} {:>12} {name}\r\n",
        meta.links(),
        meta.uid(),
        meta.gid(),
        meta.len(),
        modified
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::Meta;
    use std::time::Duration;
    use unftp_core::storage::Fileinfo;

    #[test]
    fn lines_match_libunftp_fileinfo_display() {
        let now = SystemTime::now();
        let old = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000);
        let mut dates = Dates::new();
        let cases = [
            ("a.txt", Meta::for_test(false, false, 1234, now, 0o644)),
            ("same minute.bin", Meta::for_test(false, false, 0, now, 0o600)),
            ("dir", Meta::for_test(true, false, 4096, old, 0o755)),
            ("link", Meta::for_test(false, true, 7, old, 0o777)),
            ("ünïcode ✓", Meta::for_test(false, false, u64::MAX, now, 0o4751)),
        ];
        for (name, meta) in cases {
            let mut ours = Vec::new();
            line(&mut ours, name, &meta, &mut dates);
            let theirs = format!(
                "{}\r\n",
                Fileinfo { path: std::path::PathBuf::from(name), metadata: meta }
            );
            assert_eq!(String::from_utf8(ours).unwrap(), theirs, "{name}");
        }
    }
}
