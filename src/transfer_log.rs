//! The transfer log: one line per completed upload, download and delete, in the classic
//! `xferlog` format (as written by wu-ftpd, vsftpd and ProFTPD), fed by libunftp's data events.
//!
//! Fields: `current-time transfer-time remote-host file-size filename transfer-type
//! special-action direction access-mode username service auth-method auth-user-id status`,
//! for example
//!
//! ```text
//! Wed Nov 25 15:17:01 2026 0 127.0.0.1 300000 /up.bin b _ i r alice ftp 0 * c
//! ```
//!
//! libunftp's data events carry neither the transfer's duration nor its type, so
//! `transfer-time` is always 0 and `transfer-type` always `b` (multiftp transfers bytes
//! unchanged). Spaces in file names are written as `_`, as xferlog parsers split on spaces.

use std::io::Write;
use std::path::Path;
use std::sync::Mutex;

use async_trait::async_trait;
use libunftp::notification::{DataEvent, DataListener, EventMeta};

use crate::error::{Error, Result};
use crate::session::Tracker;

/// Appends xferlog lines to a file.
#[derive(Debug)]
pub struct TransferLog {
    file: Mutex<std::fs::File>,
    tracker: Option<Tracker>,
}

impl TransferLog {
    /// Opens (creating if needed) the log at `path` for appending.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] when the file cannot be opened.
    pub fn open(path: &Path, tracker: Option<Tracker>) -> Result<Self> {
        let file = std::fs::OpenOptions::new().create(true).append(true).open(path).map_err(
            |source| Error::Io {
                what: "cannot open the transfer log (check transfer_log / MULTIFTP_TRANSFER_LOG)",
                path: path.to_path_buf(),
                source,
            },
        )?;
        Ok(Self { file: Mutex::new(file), tracker })
    }
}

/// Formats one xferlog line (without the newline).
pub fn line(
    now: chrono::DateTime<chrono::Local>,
    host: &str,
    bytes: u64,
    path: &str,
    direction: char,
    user: &str,
) -> String {
    let path: String = path.chars().map(|c| if c.is_whitespace() { '_' } else { c }).collect();
    format!(
        "{} 0 {host} {bytes} {path} b _ {direction} r {user} ftp 0 * c",
        now.format("%a %b %e %H:%M:%S %Y")
    )
}

#[async_trait]
impl DataListener for TransferLog {
    async fn receive_data_event(&self, e: DataEvent, m: EventMeta) {
        let (path, bytes, direction) = match e {
            DataEvent::Got { path, bytes } => (path, bytes, 'o'),
            DataEvent::Put { path, bytes } => (path, bytes, 'i'),
            DataEvent::Deleted { path } => (path, 0, 'd'),
            _ => return,
        };
        let host = self
            .tracker
            .as_ref()
            .and_then(|t| t.addr_of(&m.trace_id))
            .unwrap_or_else(|| "unknown".into());
        let text = line(chrono::Local::now(), &host, bytes, &path, direction, &m.username);
        let written = self.file.lock().map(|mut f| writeln!(f, "{text}"));
        if !matches!(written, Ok(Ok(()))) {
            tracing::error!(line = %text, "could not write the transfer log");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn lines_follow_xferlog() {
        let t = chrono::Local.with_ymd_and_hms(2026, 11, 5, 9, 7, 1).unwrap();
        assert_eq!(
            line(t, "10.0.0.1", 42, "/a dir/f.txt", 'i', "alice"),
            "Thu Nov  5 09:07:01 2026 0 10.0.0.1 42 /a_dir/f.txt b _ i r alice ftp 0 * c"
        );
    }
}
