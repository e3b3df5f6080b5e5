//! The working directory and file operations on the control connection: CWD, CDUP, MKD, RMD,
//! DELE, RNFR, RNTO (RFC 959 4.1), SIZE, MDTM, MLST (RFC 3659), MFMT.

use std::sync::Arc;
use std::time::{Instant, SystemTime};

use super::super::listing::{self, ftp_time};
use super::super::reply::clean;
use super::super::session::Session;
use super::super::{Backend, Direction, ErrorKind, Event, FileKind, Reply, Storage, StorageError};

/// The reply for a failed storage operation on the control connection.
pub(crate) fn error_reply(e: &StorageError) -> Reply {
    let code = match e.kind {
        ErrorKind::BadName => 553,
        ErrorKind::NoSpace => 452,
        ErrorKind::Local => 451,
        ErrorKind::ConnectionLost => 426,
        _ => 550,
    };
    Reply::new(code, clean(&e.message).into_owned())
}

impl<B: Backend> Session<B> {
    /// The logged-in user's storage (commands that reach here are logged in).
    pub(crate) fn storage(&self) -> Option<Arc<B::Storage>> {
        self.logged_in().map(|l| Arc::clone(&l.storage))
    }

    pub(super) async fn cwd(&mut self, arg: &str) -> Reply {
        let Some(storage) = self.storage() else { return not_logged_in() };
        let path = self.resolve(arg);
        match storage.stat(&path).await {
            Ok(m) if m.is_dir() => {
                let reply = Reply::path(250, &path, "is the current directory");
                self.cwd = path;
                reply
            }
            Ok(_) => Reply::new(550, "Not a directory"),
            Err(e) => error_reply(&e),
        }
    }

    pub(super) async fn mkd(&mut self, arg: &str) -> Reply {
        let Some(storage) = self.storage() else { return not_logged_in() };
        let path = self.resolve(arg);
        if path == "/" {
            return Reply::new(550, "File exists");
        }
        match storage.make_dir(&path).await {
            // RFC 959 appendix II: 257 with the quoted absolute path.
            Ok(()) => Reply::path(257, &path, "created"),
            Err(e) => error_reply(&e),
        }
    }

    pub(super) async fn rmd(&mut self, arg: &str) -> Reply {
        let Some(storage) = self.storage() else { return not_logged_in() };
        let path = self.resolve(arg);
        if path == "/" {
            return Reply::new(550, "Cannot remove the root folder");
        }
        match storage.remove_dir(&path).await {
            Ok(()) => Reply::new(250, "Directory removed"),
            Err(e) => error_reply(&e),
        }
    }

    pub(super) async fn dele(&mut self, arg: &str) -> Reply {
        let Some(storage) = self.storage() else { return not_logged_in() };
        let path = self.resolve(arg);
        let started = Instant::now();
        let result = storage.remove_file(&path).await;
        self.transfer_event(&path, Direction::Delete, 0, started, result.is_ok());
        match result {
            Ok(()) => Reply::new(250, "File deleted"),
            Err(e) => error_reply(&e),
        }
    }

    pub(super) async fn rnfr(&mut self, arg: &str) -> Reply {
        let Some(storage) = self.storage() else { return not_logged_in() };
        let path = self.resolve(arg);
        if path == "/" {
            return Reply::new(550, "Cannot rename the root folder");
        }
        match storage.stat(&path).await {
            Ok(_) => {
                self.rename_from = Some(path);
                Reply::new(350, "Ready for RNTO")
            }
            Err(e) => error_reply(&e),
        }
    }

    pub(super) async fn rnto(&mut self, arg: &str) -> Reply {
        let Some(storage) = self.storage() else { return not_logged_in() };
        let Some(from) = self.rename_from.take() else {
            return Reply::new(503, "Send RNFR first");
        };
        let to = self.resolve(arg);
        if to == "/" {
            return Reply::new(553, "Cannot rename to the root folder");
        }
        match storage.rename(&from, &to).await {
            Ok(()) => Reply::new(250, "Renamed"),
            Err(e) => error_reply(&e),
        }
    }

    /// SIZE (RFC 3659 section 4): files only; a folder is 550.
    pub(super) async fn size(&mut self, arg: &str) -> Reply {
        let Some(storage) = self.storage() else { return not_logged_in() };
        match storage.stat(&self.resolve(arg)).await {
            Ok(m) if m.kind == FileKind::Dir => Reply::new(550, "Not a plain file"),
            Ok(m) => Reply::new(213, m.len.to_string()),
            Err(e) => error_reply(&e),
        }
    }

    /// MDTM (RFC 3659 section 3): UTC, YYYYMMDDHHMMSS.
    pub(super) async fn mdtm(&mut self, arg: &str) -> Reply {
        let Some(storage) = self.storage() else { return not_logged_in() };
        match storage.stat(&self.resolve(arg)).await {
            Ok(m) if m.kind == FileKind::Dir => Reply::new(550, "Not a plain file"),
            Ok(m) => Reply::new(213, ftp_time(m.modified)),
            Err(e) => error_reply(&e),
        }
    }

    /// MFMT (draft-somers-ftp-mfxx): sets a file's modification time.
    pub(super) async fn mfmt(&mut self, at: SystemTime, arg: &str) -> Reply {
        let Some(storage) = self.storage() else { return not_logged_in() };
        let path = self.resolve(arg);
        match storage.set_modified(&path, at).await {
            Ok(()) => Reply::new(213, format!("Modify={}; {}", ftp_time(at), clean(&path))),
            Err(e) => error_reply(&e),
        }
    }

    /// MLST (RFC 3659 section 7): the facts of one entry on the control connection; a
    /// relative path is taken from the working directory.
    pub(super) async fn mlst(&mut self, arg: Option<&str>) -> Reply {
        let Some(storage) = self.storage() else { return not_logged_in() };
        let path = match arg {
            Some(a) => self.resolve(a),
            None => self.cwd.clone(),
        };
        match storage.stat(&path).await {
            Ok(meta) => {
                let mut out = Vec::new();
                listing::mlsx_line(&mut out, &path, &meta, self.facts, None);
                let line = String::from_utf8_lossy(&out);
                // RFC 3659 7.2: the entry line starts with a space.
                Reply::multi(
                    250,
                    vec![
                        format!("Listing {}", clean(&path)),
                        format!(" {}", line.trim_end_matches(['\r', '\n'])),
                        "End".to_string(),
                    ],
                )
            }
            Err(e) => error_reply(&e),
        }
    }

    /// Tells the backend a transfer or deletion ended.
    pub(crate) fn transfer_event(
        &self,
        path: &str,
        direction: Direction,
        bytes: u64,
        started: Instant,
        ok: bool,
    ) {
        if let Some(l) = self.logged_in() {
            self.shared.backend.event(Event::Transfer {
                client: &self.client,
                user: B::name(&l.user),
                path,
                direction,
                bytes,
                duration: started.elapsed(),
                ascii: self.ascii,
                ok,
            });
        }
    }
}

pub(crate) fn not_logged_in() -> Reply {
    Reply::new(530, "Please log in with USER and PASS first")
}
