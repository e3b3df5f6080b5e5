//! `SessionStore`: every SQL statement about daemons and live sessions.

use crate::db::{Pool, now};
use crate::error::Result;

/// One online session as listed.
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct SessionRow {
    /// Who is logged in.
    pub username: String,
    /// RFC 3339 login time.
    pub started_at: String,
    /// Client IP address.
    pub client_addr: String,
}

/// SQL access to `daemons` and `sessions`. Cheap to clone.
#[derive(Debug, Clone)]
pub struct SessionStore {
    pool: Pool,
}

/// A heartbeat older than this many seconds means the daemon is gone.
const STALE_AFTER_SECS: i64 = 30;

fn stale_cutoff() -> String {
    (chrono::Utc::now() - chrono::Duration::seconds(STALE_AFTER_SECS))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

impl SessionStore {
    /// Wraps a pool.
    pub fn new(pool: Pool) -> Self {
        Self { pool }
    }

    /// Registers a daemon process, sweeping daemons whose heartbeat is stale (their sessions go
    /// with them by cascade).
    ///
    /// # Errors
    ///
    /// [`crate::Error::Query`] on database failure.
    pub async fn register_daemon(&self, id: &str, pid: u32) -> Result<()> {
        sqlx::query("DELETE FROM daemons WHERE heartbeat_at < $1")
            .bind(stale_cutoff())
            .execute(&self.pool)
            .await?;
        sqlx::query(
            "INSERT INTO daemons (id, pid, started_at, heartbeat_at) VALUES ($1, $2, $3, $3)",
        )
        .bind(id)
        .bind(i64::from(pid))
        .bind(now())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Refreshes a daemon's heartbeat.
    ///
    /// # Errors
    ///
    /// [`crate::Error::Query`] on database failure.
    pub async fn heartbeat(&self, id: &str) -> Result<()> {
        sqlx::query("UPDATE daemons SET heartbeat_at = $2 WHERE id = $1")
            .bind(id)
            .bind(now())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Removes a daemon and its sessions (clean shutdown).
    ///
    /// # Errors
    ///
    /// [`crate::Error::Query`] on database failure.
    pub async fn remove_daemon(&self, id: &str) -> Result<()> {
        sqlx::query("DELETE FROM daemons WHERE id = $1").bind(id).execute(&self.pool).await?;
        Ok(())
    }

    /// Records a login.
    ///
    /// # Errors
    ///
    /// [`crate::Error::Query`] on database failure.
    pub async fn open(
        &self,
        trace_id: &str,
        daemon_id: &str,
        username: &str,
        addr: &str,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO sessions (trace_id, daemon_id, user_id, client_addr, started_at) \
             SELECT $1, $2, id, $4, $5 FROM users WHERE username = $3 \
             ON CONFLICT (trace_id) DO UPDATE SET daemon_id = excluded.daemon_id, \
             user_id = excluded.user_id, client_addr = excluded.client_addr, \
             started_at = excluded.started_at",
        )
        .bind(trace_id)
        .bind(daemon_id)
        .bind(username)
        .bind(addr)
        .bind(now())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Records a logout.
    ///
    /// # Errors
    ///
    /// [`crate::Error::Query`] on database failure.
    pub async fn close(&self, trace_id: &str) -> Result<()> {
        sqlx::query("DELETE FROM sessions WHERE trace_id = $1")
            .bind(trace_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Sessions of daemons with a fresh heartbeat, oldest first.
    ///
    /// # Errors
    ///
    /// [`crate::Error::Query`] on database failure.
    pub async fn online(&self) -> Result<Vec<SessionRow>> {
        Ok(sqlx::query_as(
            "SELECT u.username AS username, s.started_at AS started_at, \
             s.client_addr AS client_addr FROM sessions s \
             JOIN users u ON u.id = s.user_id JOIN daemons d ON d.id = s.daemon_id \
             WHERE d.heartbeat_at >= $1 ORDER BY s.started_at, u.username",
        )
        .bind(stale_cutoff())
        .fetch_all(&self.pool)
        .await?)
    }
}
