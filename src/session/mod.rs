//! Who is online. The daemon records logins and logouts (from the engine's events) in the
//! `sessions` table and keeps a heartbeat in `daemons`, so `ftpadm who` in another process
//! sees the same list as `SITE WHO`, and sessions of a crashed daemon drop out once its
//! heartbeat is stale.

pub mod store;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::db::Pool;
use crate::error::Result;
pub use store::{SessionRow, SessionStore};

/// How often a daemon refreshes its heartbeat.
const HEARTBEAT: Duration = Duration::from_secs(10);

/// The session service.
#[derive(Debug, Clone)]
pub struct Sessions {
    store: SessionStore,
}

impl Sessions {
    /// The service over `pool`.
    pub fn new(pool: Pool) -> Self {
        Self { store: SessionStore::new(pool) }
    }

    /// Who is online now, in any live daemon on this database.
    ///
    /// # Errors
    ///
    /// [`crate::Error::Query`] on database failure.
    pub async fn online(&self) -> Result<Vec<SessionRow>> {
        self.store.online().await
    }
}

/// Tracks this daemon's sessions: the live ones in memory (for the session limits, checked at
/// every login without a query) and in the `sessions` table (for `SITE WHO` and `ftpadm who`).
///
/// The in-memory table changes at once when the engine reports a login or logout, so the next
/// login is counted right; the table rows are written by the caller, in order, off the
/// session's task ([`record_open`](Tracker::record_open), [`record_close`](Tracker::record_close)).
#[derive(Debug, Clone)]
pub struct Tracker {
    store: SessionStore,
    daemon_id: String,
    heartbeat: Arc<Mutex<Option<tokio::task::AbortHandle>>>,
    /// This daemon's logged-in sessions: engine session number -> username.
    live: Arc<Mutex<HashMap<u64, String>>>,
    limits: Limits,
}

/// Session limits enforced at login (0 = no limit).
#[derive(Debug, Clone, Copy, Default)]
pub struct Limits {
    /// Most sessions per user.
    pub per_user: u32,
    /// Most sessions in all.
    pub total: u32,
}

impl Tracker {
    /// Registers this daemon and starts its heartbeat task, which ends with [`Tracker::stop`].
    ///
    /// # Errors
    ///
    /// [`crate::Error::Query`] on database failure.
    pub async fn start(sessions: &Sessions, limits: Limits) -> Result<Tracker> {
        let daemon_id = format!("{}-{:x}", std::process::id(), rand::random::<u64>());
        sessions.store.register_daemon(&daemon_id, std::process::id()).await?;
        let tracker = Tracker {
            store: sessions.store.clone(),
            daemon_id,
            heartbeat: Arc::default(),
            live: Arc::default(),
            limits,
        };
        let beat = tracker.clone();
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(HEARTBEAT);
            loop {
                tick.tick().await;
                if let Err(e) = beat.store.heartbeat(&beat.daemon_id).await {
                    tracing::warn!(cause = %e, "session heartbeat failed");
                }
            }
        });
        if let Ok(mut h) = tracker.heartbeat.lock() {
            *h = Some(task.abort_handle());
        }
        Ok(tracker)
    }

    /// Checks the session limits for a new login of `username`.
    ///
    /// # Errors
    ///
    /// The reason, for the client and the log, when a limit is reached.
    pub fn admit(&self, username: &str) -> std::result::Result<(), String> {
        let live = self.live();
        let total = live.len();
        if self.limits.total > 0 && total >= self.limits.total as usize {
            return Err(format!("server full: {total} sessions open (max_sessions), try later"));
        }
        let mine = live.values().filter(|u| *u == username).count();
        if self.limits.per_user > 0 && mine >= self.limits.per_user as usize {
            return Err(format!(
                "too many sessions for {username}: {mine} open (max_sessions_per_user)"
            ));
        }
        Ok(())
    }

    /// Counts engine session `session` as logged in as `username` (no I/O).
    pub fn logged_in(&self, session: u64, username: &str) {
        self.live().insert(session, username.to_string());
    }

    /// Stops counting `session` (no I/O); whether it was counted.
    pub fn logged_out(&self, session: u64) -> bool {
        self.live().remove(&session).is_some()
    }

    /// Logged-in sessions in this daemon.
    pub fn live_count(&self) -> usize {
        self.live().len()
    }

    /// The live table. A panic while it was held leaves it whole (every change is one map
    /// insert or remove), so a poisoned lock is used as it is: refusing every login as "session
    /// table poisoned", or counting nobody, would be worse.
    fn live(&self) -> std::sync::MutexGuard<'_, HashMap<u64, String>> {
        self.live.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The `trace_id` of engine session `session` in the `sessions` table: unique across the
    /// daemons sharing the database.
    fn key(&self, session: u64) -> String {
        format!("{}/{session}", self.daemon_id)
    }

    /// Records the login of `session` in the `sessions` table.
    ///
    /// # Errors
    ///
    /// [`crate::Error::Query`] on database failure.
    pub async fn record_open(&self, session: u64, username: &str, addr: IpAddr) -> Result<()> {
        self.store.open(&self.key(session), &self.daemon_id, username, &addr.to_string()).await
    }

    /// Removes `session` from the `sessions` table.
    ///
    /// # Errors
    ///
    /// [`crate::Error::Query`] on database failure.
    pub async fn record_close(&self, session: u64) -> Result<()> {
        self.store.close(&self.key(session)).await
    }

    /// Removes this daemon and its sessions (at clean shutdown).
    ///
    /// # Errors
    ///
    /// [`crate::Error::Query`] on database failure.
    pub async fn stop(&self) -> Result<()> {
        if let Some(task) = self.heartbeat.lock().ok().and_then(|mut h| h.take()) {
            task.abort();
        }
        self.store.remove_daemon(&self.daemon_id).await
    }
}
