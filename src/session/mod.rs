//! Who is online, and the state the daemons on one database share. The daemon records logins
//! and logouts (from the engine's events) in the `sessions` table and keeps a heartbeat in
//! `daemons`, so `ftpadm who` in another process, or `SITE WHO` on another node, sees the
//! same list, and sessions of a crashed node drop out once its heartbeat is stale
//! ([`HEARTBEAT_WINDOW`] intervals). The session limits count those rows at login, across
//! nodes ([`Tracker::admit`]); the failed-logins counts live there too ([`LoginFailures`]).

pub mod failures;
pub mod store;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub use crate::config::HEARTBEAT_WINDOW;
use crate::db::Pool;
use crate::error::Result;
pub use failures::LoginFailures;
use store::{NewSession, OpenCounts, now_ms};
pub use store::{SessionRow, SessionStore};

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

    /// Who is online now, on every live node on this database.
    ///
    /// # Errors
    ///
    /// [`crate::Error::Query`] on database failure.
    pub async fn online(&self) -> Result<Vec<SessionRow>> {
        self.store.online().await
    }

    /// The failed-logins counts over this database, for `policy`.
    pub fn login_failures(&self, policy: failures::Policy) -> LoginFailures {
        LoginFailures::new(self.store.clone(), policy)
    }
}

/// Tracks this daemon's sessions: in the `sessions` table, where every node counts them for
/// the session limits and lists them for `SITE WHO` and `ftpadm who`, and in memory, which
/// says whether a session still has a row to remove.
///
/// A login is admitted and recorded in one step ([`admit`](Tracker::admit)) before the
/// client hears 230; its row goes when the engine reports the logout
/// ([`logged_out`](Tracker::logged_out), then [`record_close`](Tracker::record_close) off the
/// session's task).
#[derive(Debug, Clone)]
pub struct Tracker {
    store: SessionStore,
    daemon_id: String,
    node_name: String,
    interval: Duration,
    heartbeat: Arc<Mutex<Option<tokio::task::AbortHandle>>>,
    /// This daemon's recorded sessions: engine session number -> username.
    live: Arc<Mutex<HashMap<u64, String>>>,
    limits: Limits,
}

/// Session limits enforced at login, over all nodes (0 = no limit).
#[derive(Debug, Clone, Copy, Default)]
pub struct Limits {
    /// Most sessions per user.
    pub per_user: u32,
    /// Most sessions in all.
    pub total: u32,
}

impl Limits {
    /// Why a login of `username` is refused with `open` sessions now, if it is.
    fn refusal(self, username: &str, open: OpenCounts) -> Option<String> {
        let OpenCounts { total, mine } = open;
        if self.total > 0 && total >= i64::from(self.total) {
            return Some(format!("server full: {total} sessions open (max_sessions), try later"));
        }
        if self.per_user > 0 && mine >= i64::from(self.per_user) {
            return Some(format!(
                "too many sessions for {username}: {mine} open (max_sessions_per_user)"
            ));
        }
        None
    }

    fn any(self) -> bool {
        self.total > 0 || self.per_user > 0
    }
}

/// Whether a daemon of this node's name with process id `other` is an earlier run of this
/// node (killed without a clean stop) rather than another daemon that runs now: a node name
/// is one machine's (the host name by default), so a process id that is ours (a container
/// restarted, its daemon again process 1) or that no process has any more is an earlier run.
/// A process id taken again by an unrelated process keeps the earlier run's rows until its
/// heartbeat window ends, as for any node that died.
fn earlier_run(other: i64, own: u32) -> bool {
    if other == i64::from(own) {
        return true;
    }
    // Only a positive id names one process (a negative one would name a process group).
    let positive = i32::try_from(other).ok().filter(|raw| *raw > 0);
    let Some(pid) = positive.and_then(rustix::process::Pid::from_raw) else {
        return true;
    };
    // EPERM: the process exists but belongs to another user.
    !matches!(rustix::process::test_kill_process(pid), Ok(()) | Err(rustix::io::Errno::PERM))
}

/// Where a node registers.
#[derive(Debug, Clone)]
pub struct Node {
    /// Its `node_name`.
    pub name: String,
    /// Its heartbeat interval.
    pub heartbeat: Duration,
}

impl Tracker {
    /// Registers this daemon as node `node` (removing what an earlier run of the same node
    /// left) and starts its heartbeat task, which ends with [`Tracker::stop`].
    ///
    /// # Errors
    ///
    /// [`crate::Error::Query`] on database failure.
    pub async fn start(sessions: &Sessions, limits: Limits, node: Node) -> Result<Tracker> {
        let daemon_id = format!("{}-{:x}", std::process::id(), rand::random::<u64>());
        let tracker = Tracker {
            store: sessions.store.clone(),
            daemon_id,
            node_name: node.name,
            interval: node.heartbeat,
            heartbeat: Arc::default(),
            live: Arc::default(),
            limits,
        };
        let (pid, name) = (std::process::id(), &tracker.node_name);
        let mut earlier = Vec::new();
        for (id, other) in sessions.store.daemons_of(name).await? {
            if earlier_run(other, pid) {
                earlier.push(id);
            } else {
                tracing::warn!(
                    node = %name,
                    other_pid = other,
                    "another multiftpd on this machine uses the same node_name; both work, but \
                     SITE WHO cannot tell their sessions apart: give each its own node_name"
                );
            }
        }
        if !earlier.is_empty() {
            tracing::info!(node = %name, "removing the sessions this node's earlier run left");
        }
        let alive_until = tracker.alive_until();
        tracker.store.register_daemon(&tracker.daemon_id, name, pid, alive_until, &earlier).await?;
        let beat = tracker.clone();
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(beat.interval);
            loop {
                tick.tick().await;
                let pid = std::process::id();
                match beat
                    .store
                    .heartbeat(&beat.daemon_id, &beat.node_name, pid, beat.alive_until())
                    .await
                {
                    Ok(true) => {}
                    Ok(false) => tracing::error!(
                        node = %beat.node_name,
                        "this node's row was gone from the database (its heartbeat missed the \
                         whole window, or another multiftpd with this node_name removed it); \
                         registered again, but its open sessions stay unlisted and uncounted \
                         until they log in again"
                    ),
                    Err(e) => tracing::warn!(cause = %e, "session heartbeat failed"),
                }
            }
        });
        if let Ok(mut h) = tracker.heartbeat.lock() {
            *h = Some(task.abort_handle());
        }
        Ok(tracker)
    }

    /// Until when this node counts as alive if it beats now: [`HEARTBEAT_WINDOW`] intervals.
    fn alive_until(&self) -> i64 {
        let window = self.interval * HEARTBEAT_WINDOW;
        now_ms().saturating_add(i64::try_from(window.as_millis()).unwrap_or(i64::MAX))
    }

    /// How many writers may call [`admit`](Tracker::admit) and
    /// [`record_close`](Tracker::record_close) at once (see
    /// [`SessionStore::concurrent_writers`]).
    pub fn concurrent_writers(&self) -> usize {
        self.store.concurrent_writers()
    }

    /// This node's name.
    pub fn node_name(&self) -> &str {
        &self.node_name
    }

    /// Admits engine session `session` logging in as `username` from `addr` if the session
    /// limits allow it, counting the open sessions of every live node, and records it in the
    /// `sessions` table in the same step (two nodes racing cannot both take the last place).
    /// Without limits it only records the session. When the database cannot be written the
    /// login is admitted (and a warning logged): a full disk must not stop logins.
    ///
    /// # Errors
    ///
    /// The reason, for the client and the log, when a limit is reached.
    pub async fn admit(
        &self,
        session: u64,
        username: &str,
        addr: IpAddr,
    ) -> std::result::Result<(), String> {
        let key = self.key(session);
        let addr = addr.to_string();
        let row = NewSession { trace_id: &key, daemon_id: &self.daemon_id, username, addr: &addr };
        let recorded = if self.limits.any() {
            let limits = self.limits;
            self.store.open_within(row, |open| limits.refusal(username, open)).await
        } else {
            self.store.open(row).await.map(|()| None)
        };
        match recorded {
            Ok(Some(reason)) => Err(reason),
            Ok(None) => {
                self.live().insert(session, username.to_string());
                Ok(())
            }
            // A database that can be read (the password was just checked) but not written, as
            // on a full disk: the login goes on, unlisted and uncounted, rather than lock
            // everyone out.
            Err(e) => {
                tracing::warn!(cause = %e, user = %username, "could not record session");
                Ok(())
            }
        }
    }

    /// Stops counting `session` (no I/O); whether it was recorded, so its row is to be removed
    /// with [`record_close`](Tracker::record_close).
    pub fn logged_out(&self, session: u64) -> bool {
        self.live().remove(&session).is_some()
    }

    /// Sessions recorded by this daemon.
    pub fn live_count(&self) -> usize {
        self.live().len()
    }

    /// The live table. A panic while it was held leaves it whole (every change is one map
    /// insert or remove), so a poisoned lock is used as it is.
    fn live(&self) -> std::sync::MutexGuard<'_, HashMap<u64, String>> {
        self.live.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The `trace_id` of engine session `session` in the `sessions` table: unique across the
    /// daemons sharing the database.
    fn key(&self, session: u64) -> String {
        format!("{}/{session}", self.daemon_id)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn earlier_runs_are_own_or_gone_process_ids() {
        let own = std::process::id();
        assert!(earlier_run(i64::from(own), own), "a restarted container's daemon is pid 1 again");
        assert!(!earlier_run(1, own), "init runs: another daemon of this name is alive");
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let gone = child.id();
        child.wait().unwrap();
        assert!(earlier_run(i64::from(gone), own), "a process that has ended");
        assert!(earlier_run(-5, own) && earlier_run(i64::MAX, own), "not a process id");
    }
}
