//! Who is online. The daemon records logins and logouts (from libunftp's presence events) in
//! the `sessions` table and keeps a heartbeat in `daemons`, so `ftpadm who` in another process
//! sees the same list as `SITE WHO`, and sessions of a crashed daemon drop out once its
//! heartbeat is stale.

pub mod store;

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use libunftp::notification::{EventMeta, PresenceEvent, PresenceListener};
use sqlx::SqlitePool;

use crate::error::Result;
pub use store::{SessionRow, SessionStore};

/// How often a daemon refreshes its heartbeat.
pub const HEARTBEAT: Duration = Duration::from_secs(10);

/// The session service.
#[derive(Debug, Clone)]
pub struct Sessions {
    store: SessionStore,
}

impl Sessions {
    /// The service over `pool`.
    pub fn new(pool: SqlitePool) -> Self {
        Self { store: SessionStore::new(pool) }
    }

    /// The store, for the daemon's tracker.
    pub fn store(&self) -> &SessionStore {
        &self.store
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

/// Tracks this daemon's sessions: feeds `sessions` from libunftp's presence events.
///
/// Presence events carry the username and a trace id but not the client address, so the
/// authenticator [`note_login`](Tracker::note_login)s the address of each successful login and
/// the `LoggedIn` event that follows picks it up.
#[derive(Debug, Clone)]
pub struct Tracker {
    store: SessionStore,
    daemon_id: String,
    pending: Arc<Mutex<HashMap<String, VecDeque<IpAddr>>>>,
    heartbeat: Arc<Mutex<Option<tokio::task::AbortHandle>>>,
    /// This daemon's logged-in sessions: trace id -> (username, client address).
    live: Arc<Mutex<HashMap<String, (String, String)>>>,
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
    /// Registers this daemon and starts its heartbeat task, which stops when `stop` fires.
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
            pending: Arc::default(),
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
    /// The reason, for the log, when a limit is reached.
    pub fn admit(&self, username: &str) -> std::result::Result<(), String> {
        let live = self.live.lock().map_err(|_| "session table poisoned".to_string())?;
        let total = live.len();
        if self.limits.total > 0 && total >= self.limits.total as usize {
            return Err(format!("server full: {total} sessions open (max_sessions), try later"));
        }
        let mine = live.values().filter(|(u, _)| u == username).count();
        if self.limits.per_user > 0 && mine >= self.limits.per_user as usize {
            return Err(format!(
                "too many sessions for {username}: {mine} open (max_sessions_per_user)"
            ));
        }
        Ok(())
    }

    /// Logged-in sessions in this daemon.
    pub fn live_count(&self) -> usize {
        self.live.lock().map(|l| l.len()).unwrap_or(0)
    }

    /// The client address of a live session, for the transfer log.
    pub fn addr_of(&self, trace_id: &str) -> Option<String> {
        self.live.lock().ok()?.get(trace_id).map(|(_, addr)| addr.clone())
    }

    /// Remembers the address of a successful login until its presence event arrives.
    pub fn note_login(&self, username: &str, ip: IpAddr) {
        if let Ok(mut p) = self.pending.lock() {
            let q = p.entry(username.to_string()).or_default();
            q.push_back(ip);
            // Bounded: a login whose session never started must not pile up.
            if q.len() > 64 {
                q.pop_front();
            }
        }
    }

    fn take_addr(&self, username: &str) -> String {
        self.pending
            .lock()
            .ok()
            .and_then(|mut p| {
                let q = p.get_mut(username)?;
                let ip = q.pop_front();
                if q.is_empty() {
                    p.remove(username);
                }
                ip
            })
            .map_or_else(|| "unknown".to_string(), |ip| ip.to_string())
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

#[async_trait]
impl PresenceListener for Tracker {
    async fn receive_presence_event(&self, e: PresenceEvent, m: EventMeta) {
        let result = match e {
            PresenceEvent::LoggedIn => {
                let addr = self.take_addr(&m.username);
                if let Ok(mut live) = self.live.lock() {
                    live.insert(m.trace_id.clone(), (m.username.clone(), addr.clone()));
                }
                self.store.open(&m.trace_id, &self.daemon_id, &m.username, &addr).await
            }
            PresenceEvent::LoggedOut => {
                let was_live = self.live.lock().ok().and_then(|mut l| l.remove(&m.trace_id));
                if was_live.is_none() {
                    // A connection that never logged in: nothing was recorded.
                    return;
                }
                self.store.close(&m.trace_id).await
            }
        };
        if let Err(e) = result {
            tracing::warn!(cause = %e, user = %m.username, "could not record session");
        }
    }
}
