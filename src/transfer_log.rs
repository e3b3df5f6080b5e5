//! The transfer log: one line per finished upload, download and delete, in the classic
//! `xferlog` format (as written by wu-ftpd, vsftpd and ProFTPD), fed by the engine's transfer
//! events.
//!
//! Fields: `current-time transfer-time remote-host file-size filename transfer-type
//! special-action direction access-mode username service auth-method auth-user-id status`,
//! for example
//!
//! ```text
//! Wed Nov 25 15:17:01 2026 3 127.0.0.1 300000 /up.bin b _ i r alice ftp 0 * c
//! ```
//!
//! `transfer-time` is in whole seconds (rounded down), `transfer-type` is `a` for `TYPE A`
//! and `b` for binary, `status` is `c` (complete) or `i` (incomplete: the transfer failed).
//! Spaces in file names are written as `_`, as xferlog parsers split on spaces.

use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use crate::error::{Error, Result};

/// Appends xferlog lines to a file. Clones share the file, so the daemon can keep one to
/// [`TransferLog::reopen`] it on SIGHUP while the writer task holds another.
#[derive(Debug, Clone)]
pub struct TransferLog {
    open: Arc<Mutex<Open>>,
}

/// The file being appended to, and the path it was opened at.
#[derive(Debug)]
struct Open {
    path: PathBuf,
    file: std::fs::File,
}

/// One finished transfer, as logged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The client's address.
    pub host: IpAddr,
    /// How long it took.
    pub duration: Duration,
    /// Bytes moved (0 for deletes).
    pub bytes: u64,
    /// The absolute path.
    pub path: String,
    /// `TYPE A` was in force.
    pub ascii: bool,
    /// `o` (outgoing: download), `i` (incoming: upload) or `d` (deleted).
    pub direction: char,
    /// Login name.
    pub user: String,
    /// Whether it completed.
    pub ok: bool,
}

impl TransferLog {
    /// Opens (creating if needed) the log at `path` for appending.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] when the file cannot be opened.
    pub fn open(path: &Path) -> Result<Self> {
        let file = open_append(path)?;
        Ok(Self { open: Arc::new(Mutex::new(Open { path: path.to_path_buf(), file })) })
    }

    /// Opens the file at `path` again (or a new `path`) and appends there from now on: after
    /// logrotate renamed the log, the next line goes to a new file under the configured name
    /// instead of the renamed one. On error the file in use stays.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] when the file cannot be opened.
    pub fn reopen(&self, path: &Path) -> Result<()> {
        let file = open_append(path)?;
        *self.lock() = Open { path: path.to_path_buf(), file };
        Ok(())
    }

    /// The path the log was last opened at.
    pub fn path(&self) -> PathBuf {
        self.lock().path.clone()
    }

    /// Appends the line of `record`, stamped now; a failed write is logged, not returned
    /// (the transfer itself is done).
    pub fn write(&self, record: &Record) {
        let text = line(chrono::Local::now(), record);
        if writeln!(self.lock().file, "{text}").is_err() {
            tracing::error!(line = %text, "could not write the transfer log");
        }
    }

    /// The open file; a poisoned lock (a writer panicked) still holds a usable file.
    fn lock(&self) -> std::sync::MutexGuard<'_, Open> {
        self.open.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Opens `path` for appending, creating it if needed.
fn open_append(path: &Path) -> Result<std::fs::File> {
    std::fs::OpenOptions::new().create(true).append(true).open(path).map_err(|cause| Error::Io {
        what: "cannot open the transfer log",
        path: path.to_path_buf(),
        cause,
        hint: Some("check transfer_log / MULTIFTP_TRANSFER_LOG and the folder's permissions"),
    })
}

/// Formats one xferlog line (without the newline).
pub fn line(now: chrono::DateTime<chrono::Local>, r: &Record) -> String {
    let path: String = r.path.chars().map(|c| if c.is_whitespace() { '_' } else { c }).collect();
    format!(
        "{} {} {} {} {path} {} _ {} r {} ftp 0 * {}",
        now.format("%a %b %e %H:%M:%S %Y"),
        r.duration.as_secs(),
        r.host,
        r.bytes,
        if r.ascii { 'a' } else { 'b' },
        r.direction,
        r.user,
        if r.ok { 'c' } else { 'i' },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn reopen_follows_a_rotated_log() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("xferlog");
        let log = TransferLog::open(&path).unwrap();
        let writer = log.clone();
        let record = Record {
            host: [10, 0, 0, 1].into(),
            duration: Duration::ZERO,
            bytes: 1,
            path: "/f".into(),
            ascii: false,
            direction: 'i',
            user: "alice".into(),
            ok: true,
        };
        writer.write(&record);
        let rotated = dir.path().join("xferlog.1");
        std::fs::rename(&path, &rotated).unwrap();
        log.reopen(&path).unwrap();
        writer.write(&record);
        let lines = |p: &Path| std::fs::read_to_string(p).unwrap().lines().count();
        assert_eq!((lines(&rotated), lines(&path)), (1, 1));
        // A path that cannot be opened leaves the file in use.
        assert!(log.reopen(&dir.path().join("no/such/dir/xferlog")).is_err());
        writer.write(&record);
        assert_eq!(lines(&path), 2);
        assert_eq!(log.path(), path);
    }

    #[test]
    fn lines_follow_xferlog() {
        let t = chrono::Local.with_ymd_and_hms(2026, 11, 5, 9, 7, 1).unwrap();
        let mut r = Record {
            host: [10, 0, 0, 1].into(),
            duration: Duration::from_millis(2900),
            bytes: 42,
            path: "/a dir/f.txt".into(),
            ascii: false,
            direction: 'i',
            user: "alice".into(),
            ok: true,
        };
        assert_eq!(
            line(t, &r),
            "Thu Nov  5 09:07:01 2026 2 10.0.0.1 42 /a_dir/f.txt b _ i r alice ftp 0 * c"
        );
        r.ascii = true;
        r.ok = false;
        r.direction = 'o';
        assert_eq!(
            line(t, &r),
            "Thu Nov  5 09:07:01 2026 2 10.0.0.1 42 /a_dir/f.txt a _ o r alice ftp 0 * i"
        );
    }
}
