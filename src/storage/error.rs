//! Builds the engine's [`StorageError`]s for the failures that are ours (not the file
//! system's): the engine picks the reply code from the kind (RFC 959 section 4.2), 550 for
//! `PermissionDenied` and `NotFound`, 451 for `Local` (the client may try again later).
//! I/O errors become [`StorageError`]s through [`from_io`], which keeps a panicked blocking
//! task apart from the file system's own errors: it is ours, not a missing file.

use crate::ftp::{ErrorKind, StorageError};

/// A write into the read-only `/shared` tree (or onto the reserved name): 550.
pub fn read_only() -> StorageError {
    StorageError::new(
        ErrorKind::PermissionDenied,
        "/shared is read-only: shared files belong to their owners",
    )
}

/// A path that does not exist or is not shared with this user: 550. Unshared files of another
/// user look exactly like missing ones, so nothing leaks about the owner's home.
pub fn not_found() -> StorageError {
    StorageError::new(ErrorKind::NotFound, "No such file or directory")
}

/// The share database failed while resolving a path: 451, the client may retry. The cause
/// goes to the log, not to the client.
pub fn database(e: crate::Error) -> StorageError {
    tracing::error!(cause = %e, "share lookup failed");
    StorageError::new(ErrorKind::Local, "Local error: the share database failed, try again")
}

/// What a blocking storage task that panicked (or was cancelled when the runtime shut down)
/// leaves: carried inside an `std::io::Error` so the I/O helpers keep one error type, and
/// recognised by [`is_panic`] and [`from_io`].
#[derive(Debug, thiserror::Error)]
#[error("internal error: a storage task stopped unexpectedly (see the server log)")]
pub struct Panicked;

/// Turns the failure of a blocking task into an I/O error carrying [`Panicked`], logging the
/// cause at error level: a panic is a bug, never the client's doing.
pub fn panicked(e: tokio::task::JoinError) -> std::io::Error {
    tracing::error!(cause = %e, "storage task failed");
    std::io::Error::other(Panicked)
}

/// Whether `e` is a task failure from [`panicked`] rather than an error of the file system.
pub fn is_panic(e: &std::io::Error) -> bool {
    e.get_ref().is_some_and(|inner| inner.is::<Panicked>())
}

/// The engine's error for `e`: a task failure is a local error (451, "internal error"), any
/// other I/O error maps by its kind.
pub fn from_io(e: std::io::Error) -> StorageError {
    if is_panic(&e) {
        StorageError::new(ErrorKind::Local, "Local error: internal error, try again")
    } else {
        e.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_give_the_intended_reply_codes() {
        assert_eq!(read_only().kind, ErrorKind::PermissionDenied);
        assert!(read_only().message.contains("read-only"));
        assert_eq!(not_found().kind, ErrorKind::NotFound);
        let db = database(crate::Error::InvalidInput("x".into()));
        assert_eq!(db.kind, ErrorKind::Local);
        let io = from_io(std::io::Error::other(Panicked));
        assert_eq!(io.kind, ErrorKind::Local);
        assert!(io.message.contains("internal error"));
        assert_eq!(from_io(std::io::ErrorKind::NotFound.into()).kind, ErrorKind::NotFound);
        assert!(!is_panic(&std::io::Error::other("transfer worker stopped")));
    }
}
