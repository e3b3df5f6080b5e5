//! Opens the database shared by `multiftpd` and `ftpadm` (SQLite or PostgreSQL, from
//! [`DbLocation`]) and applies migrations; also the helpers every store shares: [`now`] for
//! timestamps, [`Flag`] for booleans, and [`classify`], the one place a database error is told
//! apart.
//!
//! One code path for both databases: the pool is sqlx's `Any` pool ([`Pool`]), the driver is
//! picked at run time from the URL, and each store's SQL is written once in the dialect both
//! accept (`$1` placeholders, `ON CONFLICT`, `TRUE`/`FALSE`, `CAST`). A generic store (`S:
//! Database`) would compile every query twice and spread trait bounds over every store for no
//! gain at run time; `Any` costs a copy of each row into its own value type, small beside a
//! network round trip. Its limits shape the stores: it knows only booleans, integers, floats,
//! text and blobs (times are RFC 3339 TEXT in both schemas), it decodes SQLite's 0/1 flags as
//! integers (hence [`Flag`]), and custom types such as `Role` implement its traits by hand.
//! Where the SQL must differ, the store says so and branches on [`Backend`].
//!
//! SQLite: both processes may write at the same time, so every connection uses the WAL journal
//! (readers never block the writer), a busy timeout (a writer waits for the lock instead of
//! failing with "database is locked") and foreign keys (shares and messages go with their
//! users). `Any` builds SQLite connections from a URL, which carries none of these, so they are
//! set on each new connection.
//!
//! PostgreSQL: several daemons share one database. sqlx's migrator takes an advisory lock
//! first, so daemons starting at once apply each migration once. A server that goes away makes
//! queries fail after the acquire timeout (logins get 421, `/health` 503); idle connections are
//! tested before use, so the pool reconnects by itself once it is back.

mod pgpass;

use std::time::Duration;

use sqlx::AnyConnection;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{ConnectOptions, Connection, Executor};

use crate::config::{DbLocation, PgUrl};
use crate::error::{Error, Result};

/// The connection pool every store uses, whichever the database.
pub type Pool = sqlx::AnyPool;

/// The schema migrations, one folder per database (the same versions in both), embedded at
/// compile time.
static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

/// The current time as stored in the database (RFC 3339, UTC, seconds).
pub fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// How long a SQLite connection waits for another process's write lock before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// The pool's size and patience (settings `db_max_connections`, `db_acquire_timeout`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolSize {
    /// Most open connections.
    pub max_connections: u32,
    /// How long a query waits for a connection (free, or new while the server is down).
    pub acquire_timeout: Duration,
}

impl Default for PoolSize {
    /// The settings' defaults.
    fn default() -> Self {
        PoolSize { max_connections: 8, acquire_timeout: BUSY_TIMEOUT }
    }
}

/// Which database a pool talks to, for the few statements that must differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A SQLite file.
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

impl Backend {
    /// The backend of `pool`, from the URL it was opened with.
    pub fn of(pool: &Pool) -> Backend {
        match pool.connect_options().database_url.scheme() {
            "sqlite" => Backend::Sqlite,
            _ => Backend::Postgres,
        }
    }
}

/// Opens (for SQLite: creating if missing) the database at `location` and brings its schema
/// up to date.
///
/// # Errors
///
/// [`Error::Database`] when the database cannot be opened or reached (the hint says why and
/// what to do), [`Error::Migration`] when the schema cannot be migrated.
pub async fn open(location: &DbLocation, size: PoolSize) -> Result<Pool> {
    sqlx::any::install_default_drivers();
    let (options, migrator) = match location {
        DbLocation::Sqlite(path) => {
            if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent).map_err(|cause| {
                    Error::io("cannot create the database folder", parent, cause)
                })?;
            }
            (sqlite_options(path)?, &SQLITE_MIGRATIONS)
        }
        DbLocation::Postgres(url) => (postgres_options(url)?, &POSTGRES_MIGRATIONS),
    };
    // One connection first, outside the pool: the pool would retry a refused connection (or
    // a file that is no database) until the acquire timeout and then report only that it
    // timed out.
    let mut first = tokio::time::timeout(size.acquire_timeout, options.connect())
        .await
        .unwrap_or(Err(sqlx::Error::PoolTimedOut))
        .map_err(|source| db_error(location, source))?;
    prepare(&mut first).await.map_err(|source| db_error(location, source))?;
    first.close().await.map_err(|source| db_error(location, source))?;
    let pool = AnyPoolOptions::new()
        .max_connections(size.max_connections)
        .acquire_timeout(size.acquire_timeout)
        .after_connect(|conn, _| Box::pin(prepare(conn)))
        .connect_lazy_with(options);
    migrator.run(&pool).await.map_err(|source| match source {
        sqlx::migrate::MigrateError::Execute(source) => db_error(location, source),
        source => Error::Migration { location: location.redacted(), source },
    })?;
    Ok(pool)
}

/// What every SQLite connection runs first. NORMAL is durable across application crashes in
/// WAL mode and avoids an fsync per commit; a power loss can lose the last transactions but
/// never corrupts the file. The busy timeout is [`BUSY_TIMEOUT`] (a test keeps them equal).
///
/// Each connection's page cache is capped at 256 KiB instead of SQLite's 2 MB: in WAL mode a
/// connection drops its cache whenever another one has committed, and every login and logout
/// commits here, so a large cache is rarely reused while it keeps up to 2 MB per connection of
/// pages once read (the writer's, after a burst of logins, held the sessions table's churn:
/// bench/ W7). The pages stay in the kernel's page cache, a `pread` away.
const SQLITE_PRAGMAS: &str = "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                              PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 30000; \
                              PRAGMA cache_size = -256;";

/// Sets up a new connection: for SQLite the journal, sync level, foreign keys and busy timeout
/// (PostgreSQL needs nothing).
async fn prepare(conn: &mut AnyConnection) -> std::result::Result<(), sqlx::Error> {
    if conn.backend_name() == <sqlx::Sqlite as sqlx::Database>::NAME {
        conn.execute(SQLITE_PRAGMAS).await?;
    }
    Ok(())
}

/// A `sqlite://` URL for `path` that creates the file if missing. `Any` takes only URLs; the
/// driver percent-decodes the path, so `%` is encoded first and the rest by the URL type.
fn sqlite_options(path: &std::path::Path) -> Result<AnyConnectOptions> {
    let text = path.to_str().ok_or_else(|| {
        Error::Config(format!(
            "the database path {} is not valid UTF-8: choose another --db",
            path.display()
        ))
    })?;
    let mut url = url::Url::parse("sqlite:///").expect("a valid URL");
    url.set_path(&text.replace('%', "%25"));
    url.set_query(Some("mode=rwc"));
    AnyConnectOptions::from_url(&url)
        .map_err(|source| db_error(&DbLocation::Sqlite(path.into()), source))
}

/// The URL sqlx connects with: `passfile` taken out (the TLS parameters stay, sqlx reads
/// them) and, when neither the URL nor `PGPASSWORD` gives a password, the passfile's password
/// put in.
fn postgres_options(pg: &PgUrl) -> Result<AnyConnectOptions> {
    let mut url = pg.secret_url().clone();
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(key, _)| key != "passfile")
        .map(|(key, value)| (key.into_owned(), value.into_owned()))
        .collect();
    url.set_query(None);
    if !kept.is_empty() {
        url.query_pairs_mut().extend_pairs(kept);
    }
    if let Some(file) = pg.passfile()
        && url.password().is_none()
        && std::env::var_os("PGPASSWORD").is_none()
    {
        if url.username().is_empty() {
            return Err(Error::Config(format!(
                "{}: a passfile needs the user name in the URL (postgres://USER@HOST/DBNAME)",
                pg.redacted()
            )));
        }
        let database = url.path().trim_start_matches('/').to_string();
        let target = pgpass::Target {
            host: url.host_str().unwrap_or_default(),
            port: url.port().unwrap_or(5432),
            database: &database,
            user: url.username(),
        };
        let password = pgpass::password(&file, target)?;
        // The driver percent-decodes the password; encoding every other byte keeps it exact.
        let encoded: String = password
            .bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() {
                    char::from(b).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect();
        url.set_password(Some(&encoded)).map_err(|()| {
            Error::Config(format!("{}: cannot put the passfile's password in", pg.redacted()))
        })?;
    }
    AnyConnectOptions::from_url(&url)
        .map_err(|source| db_error(&DbLocation::Postgres(pg.clone()), source))
}

/// Whether `e` is a failed TLS handshake with PostgreSQL: sqlx reports some as `Tls`, and a
/// certificate rustls rejects as an I/O error around rustls' own.
fn tls_failure(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Tls(_) => true,
        sqlx::Error::Io(io) => {
            io.get_ref().is_some_and(|inner| inner.downcast_ref::<rustls::Error>().is_some())
        }
        _ => false,
    }
}

fn db_error(location: &DbLocation, source: sqlx::Error) -> Error {
    let postgres = matches!(location, DbLocation::Postgres(_));
    let hint = match (classify(&source), postgres) {
        _ if tls_failure(&source) => {
            "the TLS connection to PostgreSQL failed; check sslmode in --db, that the server has \
             ssl = on, and for verify-ca/verify-full that sslrootcert (or the system's CA store) \
             holds the CA that signed the server's certificate and, for verify-full, that the \
             host in --db is a name on that certificate"
        }
        (DbFailure::NotADb, false) => {
            "the file is not a valid SQLite database; restore it from a backup or point --db at \
             another file"
        }
        (DbFailure::NotADb, true) => {
            "the server has no such database; create it (createdb -O USER DBNAME) or fix the \
             name in --db"
        }
        (DbFailure::CantOpen | DbFailure::ReadOnly, false) => {
            "cannot open the file for reading and writing; check that it exists and that this \
             user may write it and its folder"
        }
        (DbFailure::Busy, false) => {
            "the database stayed locked by another process; retry, or look for a stuck process \
             holding it"
        }
        (DbFailure::Full, _) => "the disk holding the database is full; free some space",
        (DbFailure::Unreachable | DbFailure::Busy, true) => {
            "cannot reach the PostgreSQL server; check that it runs and that the host and port \
             in --db are right (db_acquire_timeout says how long to wait)"
        }
        (DbFailure::Denied, _) => {
            "PostgreSQL refused the user or password; check the user in --db and the password \
             (PGPASSWORD or ?passfile=PATH) and the server's pg_hba.conf"
        }
        _ => "cannot use the database",
    };
    Error::Database { location: location.redacted(), hint: hint.to_string(), source }
}

/// A boolean column as the `Any` driver returns it: PostgreSQL's BOOLEAN is a boolean, SQLite's
/// 0/1 an integer, which `Any` will not decode as `bool`. Fields read it with
/// `#[sqlx(try_from = "Flag")]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flag(pub bool);

impl From<Flag> for bool {
    fn from(flag: Flag) -> bool {
        flag.0
    }
}

impl sqlx::Type<sqlx::Any> for Flag {
    fn type_info() -> sqlx::any::AnyTypeInfo {
        <bool as sqlx::Type<sqlx::Any>>::type_info()
    }

    fn compatible(ty: &sqlx::any::AnyTypeInfo) -> bool {
        <bool as sqlx::Type<sqlx::Any>>::compatible(ty)
            || <i64 as sqlx::Type<sqlx::Any>>::compatible(ty)
    }
}

impl<'r> sqlx::Decode<'r, sqlx::Any> for Flag {
    fn decode(
        value: sqlx::any::AnyValueRef<'r>,
    ) -> std::result::Result<Self, sqlx::error::BoxDynError> {
        match <bool as sqlx::Decode<sqlx::Any>>::decode(value.clone()) {
            Ok(b) => Ok(Flag(b)),
            Err(_) => Ok(Flag(<i64 as sqlx::Decode<sqlx::Any>>::decode(value)? != 0)),
        }
    }
}

/// What a database failure means for the caller, decided by SQLite's result code or
/// PostgreSQL's SQLSTATE (never by the message text, which neither promises to keep).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DbFailure {
    /// Another connection held the lock longer than the busy timeout (`SQLITE_BUSY`,
    /// `SQLITE_LOCKED`; PostgreSQL's deadlocks, serialization and lock failures), or no pooled
    /// connection became free in time.
    Busy,
    /// The file or its folder may not be written (`SQLITE_READONLY`; PostgreSQL's read-only
    /// transaction, a standby).
    ReadOnly,
    /// The file cannot be opened at all (`SQLITE_CANTOPEN`).
    CantOpen,
    /// The disk is full (`SQLITE_FULL`, PostgreSQL's `53100`).
    Full,
    /// The file is not a SQLite database or is damaged (`SQLITE_NOTADB`, `SQLITE_CORRUPT`);
    /// PostgreSQL has no database of that name (`3D000`).
    NotADb,
    /// A unique or primary-key constraint refused the row (PostgreSQL's `23505`).
    Unique,
    /// A trigger aborted the statement: `RAISE(ABORT, ...)` (`SQLITE_CONSTRAINT_TRIGGER`) or
    /// PL/pgSQL's `RAISE EXCEPTION` (`P0001`).
    Trigger,
    /// The PostgreSQL server cannot be reached or went away: refused or broken connections,
    /// class `08`, shutdowns and start-ups (`57P01`-`57P03`).
    Unreachable,
    /// PostgreSQL refused the login (class `28`: wrong password, no such role, pg_hba.conf).
    Denied,
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

/// Classifies a database error by its SQLite (extended) result code or PostgreSQL SQLSTATE
/// and sqlx's error variant. Every store maps errors through this one function.
pub fn classify(e: &sqlx::Error) -> DbFailure {
    match e {
        sqlx::Error::Database(d)
            if d.try_downcast_ref::<sqlx::postgres::PgDatabaseError>().is_some() =>
        {
            d.code().map_or(DbFailure::Other, |code| classify_sqlstate(&code))
        }
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
        // Every connection stayed busy for the whole acquire timeout (the busy timeout), or
        // no new one could be made in that time.
        sqlx::Error::PoolTimedOut => DbFailure::Busy,
        // Only PostgreSQL has a network between it and us.
        sqlx::Error::Io(_) | sqlx::Error::Tls(_) | sqlx::Error::Protocol(_) => {
            DbFailure::Unreachable
        }
        _ => DbFailure::Other,
    }
}

/// PostgreSQL's SQLSTATEs (https://www.postgresql.org/docs/current/errcodes-appendix.html).
fn classify_sqlstate(code: &str) -> DbFailure {
    match code {
        "23505" => DbFailure::Unique,
        "P0001" => DbFailure::Trigger,
        "40001" | "40P01" | "55P03" => DbFailure::Busy,
        "25006" => DbFailure::ReadOnly,
        "53100" => DbFailure::Full,
        "3D000" => DbFailure::NotADb,
        "57P01" | "57P02" | "57P03" => DbFailure::Unreachable,
        code if code.starts_with("08") => DbFailure::Unreachable,
        code if code.starts_with("28") => DbFailure::Denied,
        _ => DbFailure::Other,
    }
}

/// Opens the SQLite file at `path` with the default pool, for the library's unit tests.
#[cfg(test)]
pub(crate) async fn open_sqlite(path: &std::path::Path) -> Result<Pool> {
    open(&DbLocation::Sqlite(path.to_path_buf()), PoolSize::default()).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::SqliteConnection;
    use sqlx::sqlite::SqliteConnectOptions;
    use std::path::Path;

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
    async fn sqlite_connections_use_wal_foreign_keys_the_busy_timeout_and_a_small_cache() {
        let ms = BUSY_TIMEOUT.as_millis();
        assert!(SQLITE_PRAGMAS.contains(&format!("busy_timeout = {ms};")), "{SQLITE_PRAGMAS}");
        let dir = tempfile::tempdir().unwrap();
        let pool = open_sqlite(&dir.path().join("db")).await.unwrap();
        for (pragma, want) in [
            ("journal_mode", "wal"),
            ("foreign_keys", "1"),
            ("busy_timeout", "30000"),
            ("cache_size", "-256"),
        ] {
            let row: sqlx::any::AnyRow =
                sqlx::query(sqlx::AssertSqlSafe(format!("PRAGMA {pragma}")))
                    .fetch_one(&pool)
                    .await
                    .unwrap();
            let got = sqlx::Row::try_get::<String, _>(&row, 0)
                .or_else(|_| sqlx::Row::try_get::<i64, _>(&row, 0).map(|n| n.to_string()))
                .unwrap();
            assert_eq!(got, want, "{pragma}");
        }
    }

    #[tokio::test]
    async fn sqlite_paths_with_url_characters_open_the_file_they_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a b%20c?d#e").join("multiftp.db");
        open_sqlite(&path).await.unwrap().close().await;
        assert!(path.is_file(), "{}", path.display());
    }

    #[test]
    fn postgres_sqlstates_are_classified_by_code() {
        for (code, want) in [
            ("23505", DbFailure::Unique),
            ("P0001", DbFailure::Trigger),
            ("40P01", DbFailure::Busy),
            ("40001", DbFailure::Busy),
            ("25006", DbFailure::ReadOnly),
            ("53100", DbFailure::Full),
            ("3D000", DbFailure::NotADb),
            ("08006", DbFailure::Unreachable),
            ("57P01", DbFailure::Unreachable),
            ("28P01", DbFailure::Denied),
            ("42P01", DbFailure::Other),
        ] {
            assert_eq!(classify_sqlstate(code), want, "{code}");
        }
        let io = sqlx::Error::Io(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        assert_eq!(classify(&io), DbFailure::Unreachable);
    }

    /// Each schema change is written for both databases under the same version, so a store's
    /// SQL finds the same tables on either.
    #[test]
    fn both_databases_have_the_same_migrations() {
        let versions = |m: &sqlx::migrate::Migrator| {
            m.iter().map(|m| (m.version, m.description.to_string())).collect::<Vec<_>>()
        };
        assert_eq!(versions(&SQLITE_MIGRATIONS), versions(&POSTGRES_MIGRATIONS));
        assert!(versions(&SQLITE_MIGRATIONS).len() >= 7);
    }

    #[tokio::test]
    async fn a_write_lock_held_elsewhere_is_busy() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        open_sqlite(&path).await.unwrap().close().await;
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
        open_sqlite(&path).await.unwrap().close().await;
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
        let Err(Error::Database { hint, source, .. }) = open_sqlite(&path).await else {
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
