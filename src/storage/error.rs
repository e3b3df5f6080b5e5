//! Maps our failures to libunftp storage errors. The `ErrorKind` picks the FTP reply code
//! (RFC 959 section 4.2): `PermissionDenied` and `PermanentFileNotAvailable` give 550,
//! `LocalError` gives 451 (try again later).

use unftp_core::storage::{Error as StorageError, ErrorKind};

/// A write into the read-only `/shared` tree (or onto the reserved name): 550.
pub fn read_only() -> StorageError {
    StorageError::new(
        ErrorKind::PermissionDenied,
        std::io::Error::other("/shared is read-only: shared files belong to their owners"),
    )
}

/// A path that does not exist or is not shared with this user: 550. Unshared files of another
/// user look exactly like missing ones, so nothing leaks about the owner's home.
pub fn not_found() -> StorageError {
    StorageError::from(ErrorKind::PermanentFileNotAvailable)
}

/// The share database failed while resolving a path: 451, the client may retry.
pub fn database(e: crate::Error) -> StorageError {
    StorageError::new(ErrorKind::LocalError, e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_give_the_intended_reply_codes() {
        assert_eq!(read_only().kind(), ErrorKind::PermissionDenied);
        assert_eq!(not_found().kind(), ErrorKind::PermanentFileNotAvailable);
        let db = database(crate::Error::InvalidInput("x".into()));
        assert_eq!(db.kind(), ErrorKind::LocalError);
    }
}
