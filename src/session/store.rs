//! `SessionStore`: every SQL statement about daemons (nodes), live sessions and the
//! failed-logins counts, the state that several daemons on one database share.
//!
//! The SQL is written to run on SQLite and PostgreSQL alike: `$N` placeholders, `INSERT ...
//! ON CONFLICT`, times as Unix milliseconds computed by the node (nodes keep their clocks in
//! step with NTP; a skew of a second or two only shifts a window by as much).

use crate::db::{Backend, Pool, now};
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
    /// The node (`node_name`) serving the session.
    pub node: String,
}

/// SQL access to `daemons`, `sessions` and `failed_logins`. Cheap to clone.
#[derive(Debug, Clone)]
pub struct SessionStore {
    pool: Pool,
    backend: Backend,
}

/// Open sessions of live nodes, in all and of one user, when a login asks to be admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenCounts {
    /// Sessions in all.
    pub total: i64,
    /// Sessions of the user logging in.
    pub mine: i64,
}

/// A new session's row.
#[derive(Debug, Clone, Copy)]
pub struct NewSession<'a> {
    /// Unique across the daemons on the database.
    pub trace_id: &'a str,
    /// The daemon serving it.
    pub daemon_id: &'a str,
    /// Who logged in.
    pub username: &'a str,
    /// From where.
    pub addr: &'a str,
}

/// Unix milliseconds now, the clock of every row this store compares.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

impl SessionStore {
    /// Wraps a pool.
    pub fn new(pool: Pool) -> Self {
        let backend = Backend::of(&pool);
        Self { pool, backend }
    }

    /// How many writers may record logins and logouts at once: one on SQLite, whose one
    /// write lock makes concurrent writers sleep in its busy handler (in steps of
    /// milliseconds); on PostgreSQL half the pool, so that the logins' reads keep connections.
    pub fn concurrent_writers(&self) -> usize {
        match self.backend {
            Backend::Sqlite => 1,
            Backend::Postgres => (self.pool.options().get_max_connections() as usize / 2).max(1),
        }
    }

    /// Begins a transaction for the rows of who is online. On PostgreSQL its commit does not
    /// wait for the WAL to reach the disk (`synchronous_commit` off for this transaction only:
    /// PostgreSQL manual, "Asynchronous Commit"); with the server's default every login and
    /// logout waited for an fsync, which bounded a node at about 250 logins/s. Other nodes see
    /// the rows at commit as before, so the session limits hold the same; only a crash of the
    /// database server may lose the last fraction of a second of such commits, which leaves
    /// the same traces as a commit the crash cut off (a session unlisted, or listed until its
    /// node's next start). SQLite (WAL, `synchronous = NORMAL`) does not sync at commit anyway.
    async fn begin_online(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>> {
        let mut tx = self.pool.begin().await?;
        if self.backend == Backend::Postgres {
            sqlx::query("SET LOCAL synchronous_commit TO OFF").execute(&mut *tx).await?;
        }
        Ok(tx)
    }

    /// Registers a daemon process of node `node_name`, alive until `alive_until`, after
    /// sweeping the daemons of every node that is gone (their sessions go with them by
    /// cascade) and those of `earlier`, this node's earlier runs (see
    /// [`SessionStore::daemons_of`]).
    ///
    /// # Errors
    ///
    /// [`crate::Error::Query`] on database failure.
    pub async fn register_daemon(
        &self,
        id: &str,
        node_name: &str,
        pid: u32,
        alive_until: i64,
        earlier: &[String],
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM daemons WHERE alive_until < $1")
            .bind(now_ms())
            .execute(&mut *tx)
            .await?;
        for gone in earlier {
            sqlx::query("DELETE FROM daemons WHERE id = $1").bind(gone).execute(&mut *tx).await?;
        }
        Self::insert_daemon(&mut tx, id, node_name, pid, alive_until).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The daemons listed as alive for node `node_name`: id and process id.
    ///
    /// # Errors
    ///
    /// [`crate::Error::Query`] on database failure.
    pub async fn daemons_of(&self, node_name: &str) -> Result<Vec<(String, i64)>> {
        Ok(sqlx::query_as("SELECT id, pid FROM daemons WHERE node_name = $1 AND alive_until >= $2")
            .bind(node_name)
            .bind(now_ms())
            .fetch_all(&self.pool)
            .await?)
    }

    async fn insert_daemon(
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        id: &str,
        node_name: &str,
        pid: u32,
        alive_until: i64,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO daemons (id, node_name, pid, started_at, heartbeat_at, alive_until) \
             VALUES ($1, $2, $3, $4, $4, $5)",
        )
        .bind(id)
        .bind(node_name)
        .bind(i64::from(pid))
        .bind(now())
        .bind(alive_until)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// Refreshes a daemon's heartbeat: one statement per node and interval, whatever the
    /// number of its sessions. `false` when its row was gone (swept as stale after a
    /// database outage, or by a daemon of the same node name): the row is added again,
    /// without its sessions.
    ///
    /// # Errors
    ///
    /// [`crate::Error::Query`] on database failure.
    pub async fn heartbeat(
        &self,
        id: &str,
        node_name: &str,
        pid: u32,
        alive_until: i64,
    ) -> Result<bool> {
        let done =
            sqlx::query("UPDATE daemons SET heartbeat_at = $2, alive_until = $3 WHERE id = $1")
                .bind(id)
                .bind(now())
                .bind(alive_until)
                .execute(&self.pool)
                .await?;
        if done.rows_affected() > 0 {
            return Ok(true);
        }
        let mut tx = self.pool.begin().await?;
        Self::insert_daemon(&mut tx, id, node_name, pid, alive_until).await?;
        tx.commit().await?;
        Ok(false)
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

    /// Records a login without a limit to check.
    ///
    /// # Errors
    ///
    /// [`crate::Error::Query`] on database failure.
    pub async fn open(&self, session: NewSession<'_>) -> Result<()> {
        if self.backend == Backend::Sqlite {
            return Self::insert_session(&self.pool, session).await;
        }
        let mut tx = self.begin_online().await?;
        Self::insert_session(&mut *tx, session).await?;
        Ok(tx.commit().await?)
    }

    async fn insert_session<'c, E>(executor: E, s: NewSession<'_>) -> Result<()>
    where
        E: sqlx::Executor<'c, Database = sqlx::Any>,
    {
        sqlx::query(
            "INSERT INTO sessions (trace_id, daemon_id, user_id, client_addr, started_at) \
             SELECT $1, $2, id, $4, $5 FROM users WHERE username = $3 \
             ON CONFLICT (trace_id) DO UPDATE SET daemon_id = excluded.daemon_id, \
             user_id = excluded.user_id, client_addr = excluded.client_addr, \
             started_at = excluded.started_at",
        )
        .bind(s.trace_id)
        .bind(s.daemon_id)
        .bind(s.username)
        .bind(s.addr)
        .bind(now())
        .execute(executor)
        .await?;
        Ok(())
    }

    /// Records a login if `admit` agrees, given the open sessions of live nodes, as one step
    /// for all nodes: the transaction first updates the `session_admission` lock row, which
    /// SQLite answers with its one write lock and PostgreSQL with a row lock held to the
    /// commit, so a second login counting at the same time on any node waits and then sees
    /// this one's row. Returns `admit`'s refusal, if any (nothing is recorded then).
    ///
    /// # Errors
    ///
    /// [`crate::Error::Query`] on database failure.
    pub async fn open_within<R>(
        &self,
        session: NewSession<'_>,
        admit: impl FnOnce(OpenCounts) -> Option<R>,
    ) -> Result<Option<R>> {
        let mut tx = self.begin_online().await?;
        sqlx::query("UPDATE cluster_locks SET held = held WHERE name = 'session_admission'")
            .execute(&mut *tx)
            .await?;
        let (total, mine): (i64, i64) = sqlx::query_as(
            "SELECT COUNT(*), COALESCE(SUM(CASE WHEN u.username = $1 THEN 1 ELSE 0 END), 0) \
             FROM sessions s JOIN daemons d ON d.id = s.daemon_id \
             JOIN users u ON u.id = s.user_id WHERE d.alive_until >= $2",
        )
        .bind(session.username)
        .bind(now_ms())
        .fetch_one(&mut *tx)
        .await?;
        if let Some(refusal) = admit(OpenCounts { total, mine }) {
            tx.rollback().await?;
            return Ok(Some(refusal));
        }
        Self::insert_session(&mut *tx, session).await?;
        tx.commit().await?;
        Ok(None)
    }

    /// Records a logout.
    ///
    /// # Errors
    ///
    /// [`crate::Error::Query`] on database failure.
    pub async fn close(&self, trace_id: &str) -> Result<()> {
        let delete = sqlx::query("DELETE FROM sessions WHERE trace_id = $1").bind(trace_id);
        if self.backend == Backend::Sqlite {
            delete.execute(&self.pool).await?;
            return Ok(());
        }
        let mut tx = self.begin_online().await?;
        delete.execute(&mut *tx).await?;
        Ok(tx.commit().await?)
    }

    /// Sessions of live nodes, oldest first.
    ///
    /// # Errors
    ///
    /// [`crate::Error::Query`] on database failure.
    pub async fn online(&self) -> Result<Vec<SessionRow>> {
        Ok(sqlx::query_as(
            "SELECT u.username AS username, s.started_at AS started_at, \
             s.client_addr AS client_addr, d.node_name AS node FROM sessions s \
             JOIN users u ON u.id = s.user_id JOIN daemons d ON d.id = s.daemon_id \
             WHERE d.alive_until >= $1 ORDER BY s.started_at, u.username, d.node_name",
        )
        .bind(now_ms())
        .fetch_all(&self.pool)
        .await?)
    }

    /// When the block of failed-logins key `key` ends (Unix ms), `Some(None)` when failures
    /// are on record without a block, `None` when nothing is.
    ///
    /// # Errors
    ///
    /// [`crate::Error::Query`] on database failure.
    pub async fn failures(&self, key: &str) -> Result<Option<Option<i64>>> {
        let row: Option<(Option<i64>,)> =
            sqlx::query_as("SELECT blocked_until FROM failed_logins WHERE key = $1")
                .bind(key)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.map(|(until,)| until))
    }

    /// Counts one failed login for `key` at `now` (Unix ms), in one statement so that nodes
    /// counting the same key at once all count: failures older than `block_ms` start over, a
    /// running block stays as it is, and the failure that reaches `max` blocks the key for
    /// `block_ms`. Rows over for `block_ms` are swept first, so the table holds only the keys
    /// of the last `block_ms`.
    ///
    /// # Errors
    ///
    /// [`crate::Error::Query`] on database failure.
    pub async fn count_failure(&self, key: &str, now: i64, max: u32, block_ms: i64) -> Result<()> {
        sqlx::query("DELETE FROM failed_logins WHERE last_at <= $1")
            .bind(now - block_ms)
            .execute(&self.pool)
            .await?;
        // `failed_logins.x` is the row as it was (also in the later SET expressions); a row is
        // over once last_at + block has passed, since a block starts at the failure that
        // set last_at and lasts `block`.
        sqlx::query(
            "INSERT INTO failed_logins (key, failures, last_at, blocked_until) \
             VALUES ($1, 1, $2, CASE WHEN $3 <= 1 THEN $2 + $4 END) \
             ON CONFLICT (key) DO UPDATE SET \
             failures = CASE \
                 WHEN failed_logins.last_at + $4 <= $2 THEN 1 \
                 WHEN failed_logins.blocked_until IS NOT NULL THEN failed_logins.failures \
                 ELSE failed_logins.failures + 1 END, \
             last_at = CASE \
                 WHEN failed_logins.last_at + $4 > $2 \
                      AND failed_logins.blocked_until IS NOT NULL THEN failed_logins.last_at \
                 ELSE $2 END, \
             blocked_until = CASE \
                 WHEN failed_logins.last_at + $4 <= $2 THEN CASE WHEN $3 <= 1 THEN $2 + $4 END \
                 WHEN failed_logins.blocked_until IS NOT NULL THEN failed_logins.blocked_until \
                 WHEN failed_logins.failures + 1 >= $3 THEN $2 + $4 END",
        )
        .bind(key)
        .bind(now)
        .bind(i64::from(max))
        .bind(block_ms)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Forgets the failures of `key` (a successful login).
    ///
    /// # Errors
    ///
    /// [`crate::Error::Query`] on database failure.
    pub async fn clear_failures(&self, key: &str) -> Result<()> {
        sqlx::query("DELETE FROM failed_logins WHERE key = $1")
            .bind(key)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn store() -> (tempfile::TempDir, SessionStore) {
        let dir = tempfile::tempdir().unwrap();
        let pool = crate::db::open_sqlite(&dir.path().join("db")).await.unwrap();
        (dir, SessionStore::new(pool))
    }

    /// The block's end for `key`, `Some(None)` while counting, `None` without a record.
    async fn state(s: &SessionStore, key: &str) -> Option<Option<i64>> {
        s.failures(key).await.unwrap()
    }

    #[tokio::test]
    async fn failures_count_block_and_start_over_as_the_engine_guard_does() {
        let (_dir, s) = store().await;
        let block = 60_000;
        let t0 = now_ms();
        assert_eq!(state(&s, "k").await, None);
        s.count_failure("k", t0, 3, block).await.unwrap();
        s.count_failure("k", t0, 3, block).await.unwrap();
        assert_eq!(state(&s, "k").await, Some(None));
        s.count_failure("k", t0 + 1000, 3, block).await.unwrap();
        assert_eq!(state(&s, "k").await, Some(Some(t0 + 1000 + block)), "blocked at the 3rd");
        // More failures during the block do not extend it.
        s.count_failure("k", t0 + 30_000, 3, block).await.unwrap();
        assert_eq!(state(&s, "k").await, Some(Some(t0 + 1000 + block)));
        // Once over, counting starts again from one.
        let end = t0 + 1000 + block;
        s.count_failure("k", end, 3, block).await.unwrap();
        assert_eq!(state(&s, "k").await, Some(None));
        // Old failures stop counting: two, far apart, do not block at max 2.
        s.count_failure("j", t0, 2, block).await.unwrap();
        s.count_failure("j", t0 + block + 1, 2, block).await.unwrap();
        assert_eq!(state(&s, "j").await, Some(None));
        // max 1 blocks at the first failure; a success clears.
        s.count_failure("one", t0, 1, block).await.unwrap();
        assert_eq!(state(&s, "one").await, Some(Some(t0 + block)));
        s.clear_failures("one").await.unwrap();
        assert_eq!(state(&s, "one").await, None);
        // Rows over for a whole block are swept by the next failure.
        s.count_failure("late", t0 + 3 * block, 3, block).await.unwrap();
        assert_eq!(state(&s, "k").await, None, "swept");
    }
}
