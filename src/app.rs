//! [`App`]: everything opened from the settings that both binaries need: the data root and
//! its homes folder, the database (migrated), and the services over it. `multiftpd` serves
//! FTP on top of it ([`crate::server`]); `ftpadm` calls the services directly.

use crate::account::Accounts;
use crate::config::Settings;
use crate::db::Pool;
use crate::error::{Error, Result};
use crate::message::Messages;
use crate::session::Sessions;
use crate::share::Shares;

/// Everything opened from [`Settings`]: the database and the services over it.
#[derive(Debug, Clone)]
pub struct App {
    /// The validated settings.
    pub settings: Settings,
    /// The database pool (SQLite or PostgreSQL).
    pub pool: Pool,
    /// The account service.
    pub accounts: Accounts,
    /// The share service.
    pub shares: Shares,
    /// The message service.
    pub messages: Messages,
    /// Who is online.
    pub sessions: Sessions,
}

impl App {
    /// Creates the root and `<root>/home` if missing, checks the root is writable, opens (and
    /// migrates) the database. Run as root on a data root owned by another user (the
    /// daemon's), it gives that user the homes folder and database it made.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] for an unusable root, [`Error::Database`]/[`Error::Migration`] for the
    /// database.
    pub async fn open(mut settings: Settings) -> Result<App> {
        let homes = settings.homes();
        std::fs::create_dir_all(&homes).map_err(|cause| Error::Io {
            what: "cannot create the data root",
            path: homes.clone(),
            cause,
            hint: Some("check --root / MULTIFTP_ROOT and permissions"),
        })?;
        // One name per process: two `ftpadm` runs at once must not remove each other's probe.
        let probe = settings.root.join(format!(".multiftp-write-test.{}", std::process::id()));
        std::fs::write(&probe, b"").and_then(|()| std::fs::remove_file(&probe)).map_err(
            |cause| Error::Io {
                what: "the data root is not writable",
                path: settings.root.clone(),
                cause,
                hint: Some("fix its permissions or choose another --root"),
            },
        )?;
        // Canonical from here on: the storage checks that each home is `<root>/home/<user>`.
        settings.root = std::fs::canonicalize(&settings.root)
            .map_err(|cause| Error::io("cannot resolve the data root", &settings.root, cause))?;
        let size = crate::db::PoolSize {
            max_connections: settings.db_max_connections,
            acquire_timeout: settings.db_acquire_timeout,
        };
        let pool = crate::db::open(&settings.db, size).await?;
        // Made by root (`sudo ftpadm ...` on a root owned by the service user), the homes
        // folder, the SQLite database and its WAL files go to the root's owner, or the daemon
        // could not write them.
        let mut made = vec![homes];
        if let Some(db) = settings.db.sqlite_path() {
            for suffix in ["", "-wal", "-shm"] {
                let mut file = db.as_os_str().to_owned();
                file.push(suffix);
                made.push(file.into());
            }
        }
        for path in made.iter().filter(|p| p.exists()) {
            crate::account::give_to_root_owner(&settings.root, path)?;
        }
        let accounts = Accounts::new(pool.clone(), &settings.root);
        let messages = Messages::new(pool.clone(), accounts.clone());
        let shares = Shares::new(pool.clone(), accounts.clone(), messages.clone());
        let sessions = Sessions::new(pool.clone());
        Ok(App { settings, pool, accounts, shares, messages, sessions })
    }
}
