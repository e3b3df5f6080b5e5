//! The crate's error type. Messages say what failed and, where the user can act, how to fix
//! it; the underlying cause stays in `#[source]` so `{:#}` prints it once.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// Everything the library can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configuration is invalid (bad value, unknown key, unreadable file).
    #[error("{0}")]
    Config(String),

    /// The database could not be opened or a query failed.
    #[error("database error at {location}: {hint}")]
    Database {
        /// The database file or URL (without its password).
        location: String,
        /// What went wrong and what to do about it.
        hint: String,
        /// The sqlx error.
        #[source]
        source: sqlx::Error,
    },

    /// A query on an open pool failed.
    #[error("database query failed")]
    Query(#[from] sqlx::Error),

    /// The schema could not be brought up to date.
    #[error(
        "could not apply database migrations to {location}; is it a multiftp database written by \
         a newer version?"
    )]
    Migration {
        /// The database file or URL (without its password).
        location: String,
        /// The migration error.
        #[source]
        source: sqlx::migrate::MigrateError,
    },

    /// A filesystem operation failed. Reads "what: path: cause (hint)"; the cause is part of
    /// the message (not a `source`), so the hint can follow it and `{:#}` prints it once.
    #[error("{what}: {}: {cause}{}", path.display(), Hint(*hint))]
    Io {
        /// What failed, e.g. "cannot create the home folder".
        what: &'static str,
        /// The path involved.
        path: PathBuf,
        /// The I/O error.
        cause: std::io::Error,
        /// How to fix it, when there is something to say ([`Error::io`] picks one from the
        /// cause's kind).
        hint: Option<&'static str>,
    },

    /// The shutdown grace period ran out with transfers still running: they were cut off.
    #[error(
        "shutdown grace period ({}s) expired with {transfers} transfer(s) still running; they \
         were cut off (give them longer with shutdown_grace / MULTIFTP_SHUTDOWN_GRACE / \
         --shutdown-grace)",
        grace.as_secs()
    )]
    GraceExpired {
        /// The grace period that ran out.
        grace: Duration,
        /// How many transfers were cut.
        transfers: usize,
    },

    /// The process could not get a resource it needs to run (a thread, say): not a
    /// configuration mistake, and usually passing.
    #[error("{what}: {cause} (the system is short of resources; retry once it has recovered)")]
    Runtime {
        /// What failed, e.g. "cannot start the HTTP thread".
        what: &'static str,
        /// The I/O error.
        cause: std::io::Error,
    },

    /// Hashing or verifying a password failed for a reason other than a mismatch.
    #[error("password hashing failed: {0}")]
    PasswordHash(String),

    /// A named thing does not exist.
    #[error("{what} '{name}' does not exist")]
    NotFound {
        /// The kind of thing, e.g. "user".
        what: &'static str,
        /// Its name.
        name: String,
    },

    /// A named thing exists already.
    #[error("{what} '{name}' already exists")]
    AlreadyExists {
        /// The kind of thing, e.g. "user".
        what: &'static str,
        /// Its name.
        name: String,
    },

    /// The input breaks a rule (username syntax, password length, ...).
    #[error("{0}")]
    InvalidInput(String),

    /// A field name that is not one of those the operation knows (a profile field).
    #[error("unknown {what} '{name}': use {expected}")]
    UnknownField {
        /// The kind of field, e.g. "profile field".
        what: &'static str,
        /// The name given.
        name: String,
        /// The names that would work, e.g. "full_name, email or bio".
        expected: &'static str,
    },

    /// The caller may not do this.
    #[error("{0}")]
    Forbidden(String),
}

/// The crate's result alias.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An [`Error::Io`] about `path`, with the hint that fits the cause's kind (permission
    /// denied, not found, disk full, ...); construct the variant directly to give a more
    /// specific one.
    pub fn io(what: &'static str, path: impl Into<PathBuf>, cause: std::io::Error) -> Error {
        let hint = io_hint(cause.kind());
        Error::Io { what, path: path.into(), cause, hint }
    }
}

/// What to do about an I/O error of this kind, when the kind alone says it.
fn io_hint(kind: std::io::ErrorKind) -> Option<&'static str> {
    use std::io::ErrorKind as K;
    match kind {
        K::PermissionDenied => Some("check that this user may read and write it and its folder"),
        K::NotFound => Some("check that it and its folder exist"),
        K::StorageFull | K::QuotaExceeded => Some("free some disk space"),
        K::ReadOnlyFilesystem => Some("its filesystem is mounted read-only"),
        K::NotADirectory => Some("a file is in the way of a folder on this path"),
        K::AlreadyExists => Some("move the thing in the way aside"),
        _ => None,
    }
}

/// Displays " (hint)", or nothing without one.
struct Hint(Option<&'static str>);

impl fmt::Display for Hint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(hint) => write!(f, " ({hint})"),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::ErrorKind;

    #[test]
    fn io_errors_read_what_path_cause_hint() {
        let e = Error::io(
            "cannot create the home folder",
            "/srv/ftp/home/alice",
            std::io::Error::from(ErrorKind::PermissionDenied),
        );
        assert_eq!(
            e.to_string(),
            "cannot create the home folder: /srv/ftp/home/alice: permission denied (check that \
             this user may read and write it and its folder)"
        );
        // The cause is in the message, so it is not repeated as a source under `{:#}`.
        assert!(std::error::Error::source(&e).is_none());

        let e = Error::Io {
            what: "cannot open the transfer log",
            path: "/var/log/x".into(),
            cause: std::io::Error::other("boom"),
            hint: Some("check transfer_log"),
        };
        assert_eq!(
            e.to_string(),
            "cannot open the transfer log: /var/log/x: boom (check transfer_log)"
        );

        // A kind that says nothing about the fix gets no empty parentheses.
        let e = Error::io("cannot read", "/x", std::io::Error::other("odd"));
        assert_eq!(e.to_string(), "cannot read: /x: odd");
    }

    #[test]
    fn grace_and_runtime_errors_say_what_to_do() {
        let e = Error::GraceExpired { grace: Duration::from_secs(10), transfers: 2 };
        let text = e.to_string();
        assert!(
            text.starts_with("shutdown grace period (10s) expired with 2 transfer(s)"),
            "{text}"
        );
        assert!(text.contains("shutdown_grace"), "{text}");
        let e = Error::Runtime {
            what: "cannot start the HTTP thread",
            cause: std::io::Error::from(ErrorKind::OutOfMemory),
        };
        assert!(e.to_string().starts_with("cannot start the HTTP thread: "), "{e}");
    }
}
