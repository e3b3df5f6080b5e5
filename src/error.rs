//! The crate's error type. Messages say what failed and, where the user can act, how to fix
//! it; the underlying cause stays in `#[source]` so `{:#}` prints it once.

use std::path::PathBuf;

/// Everything the library can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configuration is invalid (bad value, unknown key, unreadable file).
    #[error("{0}")]
    Config(String),

    /// The database could not be opened or a query failed.
    #[error("database error at {path}: {hint}")]
    Database {
        /// The database file.
        path: PathBuf,
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
        "could not apply database migrations to {path}; is it a multiftp database written by a \
         newer version?"
    )]
    Migration {
        /// The database file.
        path: PathBuf,
        /// The migration error.
        #[source]
        source: sqlx::migrate::MigrateError,
    },

    /// A filesystem operation failed.
    #[error("{what} {path}")]
    Io {
        /// What we were doing, e.g. "creating home folder".
        what: &'static str,
        /// The path involved.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
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
