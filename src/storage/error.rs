//! Builds the engine's [`StorageError`]s for the failures that are ours (not the file
//! system's): the engine picks the reply code from the kind (RFC 959 section 4.2), 550 for
//! `PermissionDenied` and `NotFound`, 451 for `Local` (the client may try again later).

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
    }
}
