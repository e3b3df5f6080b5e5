//! [`DbLocation`]: the `db` setting parsed once. A file path or `sqlite://PATH` names a SQLite
//! file (the embedded default, `<root>/multiftp.db`); `postgres://` or `postgresql://` names a
//! PostgreSQL database that several daemons can share.
//!
//! A PostgreSQL URL may carry a password; it is kept for connecting and left out of every
//! printed form ([`DbLocation`]'s `Display`, `Debug` and `Serialize`), so logs, errors and
//! `check-config` never show it. Better still, leave it out of the URL: `PGPASSWORD` or a
//! passfile (`?passfile=PATH`, `PGPASSFILE`, `~/.pgpass`) supply it at connect time.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Where the database is.
#[derive(Clone, PartialEq, Eq)]
pub enum DbLocation {
    /// A SQLite file (absolute once validated).
    Sqlite(PathBuf),
    /// A PostgreSQL database.
    Postgres(PgUrl),
}

/// A `postgres://USER:PASSWORD@HOST:PORT/DBNAME[?PARAMS]` URL, checked: it names a host and
/// a database, and its parameters are among [`PG_PARAMS`].
#[derive(Clone, PartialEq, Eq)]
pub struct PgUrl(url::Url);

impl DbLocation {
    /// Parses the setting's text: `postgres://…`, `postgresql://…`, `sqlite://PATH` or a path.
    /// A relative SQLite path stays relative (validation makes it absolute).
    ///
    /// # Errors
    ///
    /// [`Error::Config`] for a URL that cannot be used, saying what to write instead; the
    /// message shows the URL without its password.
    pub fn parse(text: &str) -> Result<DbLocation> {
        let text = text.trim();
        let bad = |why: &str| {
            Error::Config(format!(
                "invalid database '{}' (key 'db', env MULTIFTP_DB, flag --db): {why}",
                redact_text(text)
            ))
        };
        if let Some(path) = text.strip_prefix("sqlite://") {
            if path.is_empty() {
                return Err(bad("sqlite:// needs a file path, e.g. sqlite:///srv/ftp/multiftp.db"));
            }
            return Ok(DbLocation::Sqlite(PathBuf::from(path)));
        }
        let scheme = text.split_once("://").map(|(scheme, _)| scheme.to_ascii_lowercase());
        match scheme.as_deref() {
            None => {
                if text.is_empty() {
                    return Err(bad("give a file path or a postgres:// URL"));
                }
                Ok(DbLocation::Sqlite(PathBuf::from(text)))
            }
            Some("postgres" | "postgresql") => {
                let url = url::Url::parse(text).map_err(|e| {
                    bad(&format!(
                        "{e}; use postgres://USER@HOST:PORT/DBNAME (percent-encode special \
                         characters in the user name)"
                    ))
                })?;
                PgUrl::check(url).map(DbLocation::Postgres).map_err(|why| bad(&why))
            }
            Some(other) => Err(bad(&format!(
                "unsupported scheme '{other}': use a file path, sqlite://PATH or \
                 postgres://USER@HOST:PORT/DBNAME"
            ))),
        }
    }

    /// The SQLite file, if that is what this is.
    pub fn sqlite_path(&self) -> Option<&Path> {
        match self {
            DbLocation::Sqlite(path) => Some(path),
            DbLocation::Postgres(_) => None,
        }
    }

    /// The form to show and to write back into a configuration file: the path, or the URL
    /// without its password.
    pub fn redacted(&self) -> String {
        match self {
            DbLocation::Sqlite(path) => path.display().to_string(),
            DbLocation::Postgres(url) => url.redacted(),
        }
    }
}

/// The URL parameters read, as libpq names them: `passfile` (read here, see
/// [`PgUrl::passfile`]) and TLS to the server, passed to the driver: `sslmode` (one of
/// [`SSL_MODES`]), `sslrootcert` (the CA certificate that signed the server's), `sslcert` and
/// `sslkey` (a client certificate, for `cert` authentication in pg_hba.conf).
pub const PG_PARAMS: [&str; 5] = ["passfile", "sslmode", "sslrootcert", "sslcert", "sslkey"];

/// `sslmode`'s values (PostgreSQL manual, "SSL Support" in libpq): `prefer` (the default) uses
/// TLS when the server offers it, `require` insists on it, `verify-ca` also checks the server's
/// certificate against the CA, `verify-full` also its host name.
pub const SSL_MODES: [&str; 6] =
    ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"];

impl PgUrl {
    fn check(url: url::Url) -> std::result::Result<PgUrl, String> {
        if url.host_str().is_none_or(str::is_empty) {
            return Err("the URL names no host: use postgres://USER@HOST:PORT/DBNAME".into());
        }
        let db = url.path().trim_start_matches('/');
        if db.is_empty() || db.contains('/') {
            return Err("the URL names no database: use postgres://USER@HOST:PORT/DBNAME".into());
        }
        for (key, value) in url.query_pairs() {
            if !PG_PARAMS.contains(&key.as_ref()) {
                return Err(format!(
                    "unknown parameter '{key}': the ones read are {} (passfile=PATH names a \
                     pgpass file with the password; the ssl ones set up TLS)",
                    PG_PARAMS.join(", ")
                ));
            }
            if key == "sslmode" && !SSL_MODES.contains(&value.as_ref()) {
                return Err(format!("sslmode '{value}' is not one of {}", SSL_MODES.join(", ")));
            }
            if key != "sslmode" && value.is_empty() {
                return Err(format!("{key} needs a file path, e.g. {key}=/etc/multiftp/{key}.pem"));
            }
        }
        Ok(PgUrl(url))
    }

    /// The URL without its password.
    pub fn redacted(&self) -> String {
        let mut url = self.0.clone();
        let _ = url.set_password(None);
        url.to_string()
    }

    /// The full URL, password included, for the database driver only.
    pub fn secret_url(&self) -> &url::Url {
        &self.0
    }

    /// The `?passfile=` parameter, if given.
    pub fn passfile(&self) -> Option<PathBuf> {
        self.0.query_pairs().find(|(key, _)| key == "passfile").map(|(_, v)| v.as_ref().into())
    }
}

/// `text` with anything between `://user:` and `@` masked, for messages about a URL that did
/// not even parse.
fn redact_text(text: &str) -> String {
    let Some((scheme, rest)) = text.split_once("://") else { return text.to_string() };
    let Some((userinfo, host)) = rest.rsplit_once('@') else { return text.to_string() };
    match userinfo.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}@{host}"),
        None => text.to_string(),
    }
}

impl fmt::Display for DbLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl fmt::Debug for DbLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DbLocation::Sqlite(path) => f.debug_tuple("Sqlite").field(path).finish(),
            DbLocation::Postgres(url) => f.debug_tuple("Postgres").field(&url.redacted()).finish(),
        }
    }
}

impl serde::Serialize for DbLocation {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&self.redacted())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_sqlite_urls_are_sqlite_files() {
        for (text, path) in [
            ("/srv/ftp/multiftp.db", "/srv/ftp/multiftp.db"),
            ("data/x.db", "data/x.db"),
            ("sqlite:///srv/ftp/x.db", "/srv/ftp/x.db"),
            ("sqlite://rel/x.db", "rel/x.db"),
        ] {
            assert_eq!(DbLocation::parse(text).unwrap(), DbLocation::Sqlite(path.into()), "{text}");
        }
    }

    #[test]
    fn postgres_urls_keep_the_password_but_never_show_it() {
        for scheme in ["postgres", "postgresql"] {
            let text = format!("{scheme}://ftp:s3cret@db.example.org:5433/multiftp");
            let db = DbLocation::parse(&text).unwrap();
            let DbLocation::Postgres(url) = &db else { panic!("{db:?}") };
            assert_eq!(url.secret_url().password(), Some("s3cret"));
            for shown in [db.to_string(), format!("{db:?}"), serde_json::to_string(&db).unwrap()] {
                assert!(!shown.contains("s3cret"), "{shown}");
                assert!(shown.contains("ftp@db.example.org:5433/multiftp"), "{shown}");
            }
        }
        let db = DbLocation::parse("postgres://ftp@h/db?passfile=/etc/multiftp/pgpass").unwrap();
        let DbLocation::Postgres(url) = db else { panic!() };
        assert_eq!(url.passfile(), Some(PathBuf::from("/etc/multiftp/pgpass")));
        // TLS parameters beside it, as libpq names them.
        let tls = "postgres://ftp@h/db?sslmode=verify-full&sslrootcert=/etc/ca.pem&passfile=/p";
        let DbLocation::Postgres(url) = DbLocation::parse(tls).unwrap() else { panic!() };
        assert_eq!(url.passfile(), Some(PathBuf::from("/p")));
        assert!(url.redacted().contains("sslmode=verify-full"), "{}", url.redacted());
    }

    #[test]
    fn unusable_urls_say_what_to_write_without_the_password() {
        for (text, expect) in [
            ("postgres://ftp:s3cret@/multiftp", "host"),
            ("postgres://ftp:s3cret@h:5432/", "no database"),
            ("postgres://ftp:s3cret@h/db?sslmod=require", "unknown parameter 'sslmod'"),
            ("postgres://ftp:s3cret@h/db?sslmode=always", "sslmode 'always' is not one of"),
            ("postgres://ftp:s3cret@h/db?sslrootcert=", "sslrootcert needs a file path"),
            ("postgres://ftp:s3cret@h:99999/db", "invalid port"),
            ("mysql://ftp:s3cret@h/db", "unsupported scheme 'mysql'"),
            ("sqlite://", "needs a file path"),
            ("", "file path or a postgres:// URL"),
        ] {
            let e = DbLocation::parse(text).unwrap_err().to_string();
            assert!(e.contains(expect) && e.contains("MULTIFTP_DB"), "{text}: {e}");
            assert!(!e.contains("s3cret"), "{e}");
        }
    }
}
