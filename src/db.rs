//! Opens the SQLite database shared by `multiftpd` and `ftpadm`, and applies migrations.
//!
//! Both processes may write at the same time, so every connection uses the WAL journal (readers
//! never block the writer), a busy timeout (a writer waits for the lock instead of failing with
//! "database is locked") and foreign keys (shares and messages go with their users).
//!
//! Also the helpers every store shares: [`now`] for timestamps and [`classify`], the one place
//! a database error is told apart (busy, read-only, full, not a database, unique, trigger).

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use crate::error::{Error, Result};

/// The schema migrations in `migrations/`, embedded at compile time.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!();

/// The current time as stored in the database (RFC 3339, UTC, seconds).
pub fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// How long a connection waits for another process's write lock before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// Opens (creating if missing) the database at `path` and brings its schema up to date.
///
/// # Errors
///
/// [`Error::Database`] when the file cannot be opened or is not a SQLite database, and
/// [`Error::Migration`] when the schema cannot be migrated.
pub async fn open(path: &Path) -> Result<SqlitePool> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .map_err(|cause| Error::io("cannot create the database folder", parent, cause))?;
    }
    let options = SqliteConnectOptions::from_str("sqlite://")
        .map_err(|source| db_error(path, source))?
        .filename(path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        // NORMAL is durable across application crashes in WAL mode and avoids an fsync per
        // commit; a power loss can lose the last transactions but never corrupts the file.
        .synchronous(SqliteSynchronous::Normal)
        .foreign_keys(true)
        .busy_timeout(BUSY_TIMEOUT);
    let pool = SqlitePoolOptions::new()
        .max_connections(8)
        .acquire_timeout(BUSY_TIMEOUT)
        .connect_with(options)
        .await
        .map_err(|source| db_error(path, source))?;
    MIGRATOR.run(&pool).await.map_err(|source| match source {
        sqlx::migrate::MigrateError::Execute(source) => db_error(path, source),
        source => Error::Migration { path: path.to_path_buf(), source },
    })?;
    Ok(pool)
}

fn db_error(path: &Path, source: sqlx::Error) -> Error {
    let hint = match classify(&source) {
        DbFailure::NotADb => {
            "the file is not a valid SQLite database; restore it from a backup or point --db at \
             another file"
        }
        DbFailure::CantOpen | DbFailure::ReadOnly => {
            "cannot open the file for reading and writing; check that it exists and that this \
             user may write it and its folder"
        }
        DbFailure::Busy => {
            "the database stayed locked by another process; retry, or look for a stuck process \
             holding it"
        }
        DbFailure::Full => "the disk holding the database is full; free some space",
        DbFailure::Unique | DbFailure::Trigger | DbFailure::Other => "cannot use the database",
    };
    Error::Database { path: path.to_path_buf(), hint: hint.to_string(), source }
}

/// What a database failure means for the caller, decided by SQLite's result code (never by
/// the message text, which SQLite does not promise to keep).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DbFailure {
    /// Another connection held the lock longer than the busy timeout (`SQLITE_BUSY`,
    /// `SQLITE_LOCKED`), or no pooled connection became free in time.
    Busy,
    /// The file or its folder may not be written (`SQLITE_READONLY`).
    ReadOnly,
    /// The file cannot be opened at all (`SQLITE_CANTOPEN`).
    CantOpen,
    /// The disk is full (`SQLITE_FULL`).
    Full,
    /// The file is not a SQLite database or is damaged (`SQLITE_NOTADB`, `SQLITE_CORRUPT`).
    NotADb,
    /// A unique or primary-key constraint refused the row.
    Unique,
    /// A trigger aborted the statement with `RAISE(ABORT, ...)` (`SQLITE_CONSTRAINT_TRIGGER`).
    Trigger,
    /// Anything else.
    Other,
}

// SQLite result codes (https://www.sqlite.org/rescode.html). A primary code is the low byte of
// an extended one, which is what sqlx reports.
const SQLITE_BUSY: i64 = 5;
const SQLITE_LOCKED: i64 = 6;
const SQLITE_READONLY: i64 = 8;
const SQLITE_CORRUPT: i64 = 11;
const SQLITE_FULL: i64 = 13;
const SQLITE_CANTOPEN: i64 = 14;
const SQLITE_NOTADB: i64 = 26;
const SQLITE_CONSTRAINT_PRIMARYKEY: i64 = 1555;
const SQLITE_CONSTRAINT_TRIGGER: i64 = 1811;
const SQLITE_CONSTRAINT_UNIQUE: i64 = 2067;

/// Classifies a database error by its SQLite (extended) result code and sqlx's error variant.
/// Every store maps errors through this one function.
pub fn classify(e: &sqlx::Error) -> DbFailure {
    match e {
        sqlx::Error::Database(d) => {
            // sqlx's SQLite driver always reports the extended code, as a decimal number.
            let Some(code) = d.code().and_then(|c| c.parse::<i64>().ok()) else {
                return DbFailure::Other;
            };
            match (code, code & 0xff) {
                (SQLITE_CONSTRAINT_UNIQUE | SQLITE_CONSTRAINT_PRIMARYKEY, _) => DbFailure::Unique,
                (SQLITE_CONSTRAINT_TRIGGER, _) => DbFailure::Trigger,
                (_, SQLITE_BUSY | SQLITE_LOCKED) => DbFailure::Busy,
                (_, SQLITE_READONLY) => DbFailure::ReadOnly,
                (_, SQLITE_CANTOPEN) => DbFailure::CantOpen,
                (_, SQLITE_FULL) => DbFailure::Full,
                (_, SQLITE_NOTADB | SQLITE_CORRUPT) => DbFailure::NotADb,
                _ => DbFailure::Other,
            }
        }
        // Every connection stayed busy for the whole acquire timeout (the busy timeout).
        sqlx::Error::PoolTimedOut => DbFailure::Busy,
        _ => DbFailure::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::{ConnectOptions, Connection, Executor, SqliteConnection};

    /// A connection to `path` that gives up on a lock after 50 ms.
    async fn connect(path: &Path, read_only: bool) -> SqliteConnection {
        SqliteConnectOptions::new()
            .filename(path)
            .read_only(read_only)
            .busy_timeout(Duration::from_millis(50))
            .connect()
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn a_write_lock_held_elsewhere_is_busy() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        open(&path).await.unwrap().close().await;
        let mut holder = connect(&path, false).await;
        holder.execute("BEGIN IMMEDIATE").await.unwrap();
        let mut other = connect(&path, false).await;
        let e = other.execute("BEGIN IMMEDIATE").await.unwrap_err();
        assert_eq!(classify(&e), DbFailure::Busy, "{e}");
        holder.execute("ROLLBACK").await.unwrap();
    }

    #[tokio::test]
    async fn a_write_through_a_read_only_connection_is_read_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        open(&path).await.unwrap().close().await;
        let mut c = connect(&path, true).await;
        let e = c.execute("DELETE FROM users").await.unwrap_err();
        assert_eq!(classify(&e), DbFailure::ReadOnly, "{e}");
    }

    #[tokio::test]
    async fn a_file_that_is_not_a_database_is_reported_as_such() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        let junk = b"not a database, just bytes ".repeat(200);
        std::fs::write(&path, &junk).unwrap();
        let Err(Error::Database { hint, source, .. }) = open(&path).await else {
            panic!("junk opened as a database");
        };
        assert_eq!(classify(&source), DbFailure::NotADb, "{source}");
        assert!(hint.contains("not a valid SQLite database"), "{hint}");
        assert_eq!(std::fs::read(&path).unwrap(), junk, "left untouched");
    }

    #[tokio::test]
    async fn a_missing_folder_cannot_be_opened() {
        let dir = tempfile::tempdir().unwrap();
        let e = SqliteConnectOptions::new()
            .filename(dir.path().join("missing/db"))
            .connect()
            .await
            .unwrap_err();
        assert_eq!(classify(&e), DbFailure::CantOpen, "{e}");
    }

    #[tokio::test]
    async fn trigger_aborts_and_unique_violations_are_told_apart() {
        let mut c = SqliteConnection::connect("sqlite::memory:").await.unwrap();
        c.execute(
            "CREATE TABLE t (x TEXT UNIQUE); \
             CREATE TRIGGER no_b BEFORE INSERT ON t WHEN NEW.x = 'b' \
             BEGIN SELECT RAISE(ABORT, 'no b'); END; \
             INSERT INTO t VALUES ('a');",
        )
        .await
        .unwrap();
        let e = c.execute("INSERT INTO t VALUES ('b')").await.unwrap_err();
        assert_eq!(classify(&e), DbFailure::Trigger, "{e}");
        let e = c.execute("INSERT INTO t VALUES ('a')").await.unwrap_err();
        assert_eq!(classify(&e), DbFailure::Unique, "{e}");
        let e = c.execute("SELECT * FROM no_such_table").await.unwrap_err();
        assert_eq!(classify(&e), DbFailure::Other, "{e}");
        assert_eq!(classify(&sqlx::Error::RowNotFound), DbFailure::Other);
        assert_eq!(classify(&sqlx::Error::PoolTimedOut), DbFailure::Busy);
    }
}
