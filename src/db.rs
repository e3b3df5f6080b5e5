//! Opens the SQLite database shared by `multiftpd` and `ftpadm`, and applies migrations.
//!
//! Both processes may write at the same time, so every connection uses the WAL journal (readers
//! never block the writer), a busy timeout (a writer waits for the lock instead of failing with
//! "database is locked") and foreign keys (shares and messages go with their users).

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use crate::error::{Error, Result};

/// The schema migrations in `migrations/`, embedded at compile time.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!();

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
        std::fs::create_dir_all(parent).map_err(|source| Error::Io {
            what: "cannot create the database folder",
            path: parent.to_path_buf(),
            source,
        })?;
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
    let text = source.to_string();
    let hint = if text.contains("not a database") || text.contains("malformed") {
        "the file is not a valid SQLite database; restore it from a backup or point --db at \
         another file"
    } else if text.contains("unable to open") || text.contains("readonly") {
        "cannot open the file for reading and writing; check that it exists and that this user \
         may write it and its folder"
    } else if text.contains("locked") || text.contains("busy") {
        "the database stayed locked by another process; retry, or look for a stuck process \
         holding it"
    } else {
        "cannot use the database"
    };
    Error::Database { path: path.to_path_buf(), hint: hint.to_string(), source }
}
