//! `MessageStore`: every SQL statement about messages.

use crate::db::{Flag, Pool, now};
use crate::error::Result;

/// One message as shown in an inbox.
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct MessageRow {
    /// Message id.
    pub id: i64,
    /// Sender's username, `None` for admin/system messages.
    pub sender: Option<String>,
    /// The message as sent (one line, at most the service's length limit).
    pub body: String,
    /// RFC 3339 send time.
    pub sent_at: String,
    /// Whether it had been read before this listing.
    #[sqlx(try_from = "Flag")]
    pub was_read: bool,
}

/// SQL access to `messages`. Cheap to clone.
#[derive(Debug, Clone)]
pub struct MessageStore {
    pool: Pool,
}

impl MessageStore {
    /// Wraps a pool.
    pub fn new(pool: Pool) -> Self {
        Self { pool }
    }

    /// Stores a message from `sender_id` (None = admin/system) to `recipient_id`.
    ///
    /// # Errors
    ///
    /// [`crate::Error::Query`] on database failure.
    pub async fn insert(
        &self,
        sender_id: Option<i64>,
        recipient_id: i64,
        body: &str,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO messages (sender_id, recipient_id, body, sent_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(sender_id)
        .bind(recipient_id)
        .bind(body)
        .bind(now())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Stores a message from user `sender_id` to `recipient_id` unless that sender has sent
    /// `limit` or more since `since` (RFC 3339, as `sent_at`); whether it was stored. One
    /// statement, so every node and process counts the same messages.
    ///
    /// # Errors
    ///
    /// [`crate::Error::Query`] on database failure.
    pub async fn insert_within(
        &self,
        sender_id: i64,
        recipient_id: i64,
        body: &str,
        since: &str,
        limit: i64,
    ) -> Result<bool> {
        let done = sqlx::query(
            "INSERT INTO messages (sender_id, recipient_id, body, sent_at) \
             SELECT $1, $2, $3, $4 WHERE \
             (SELECT COUNT(*) FROM messages WHERE sender_id = $1 AND sent_at > $5) < $6",
        )
        .bind(sender_id)
        .bind(recipient_id)
        .bind(body)
        .bind(now())
        .bind(since)
        .bind(limit)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Stores one admin/system message for every enabled user; returns how many.
    ///
    /// # Errors
    ///
    /// [`crate::Error::Query`] on database failure.
    pub async fn insert_all(&self, body: &str) -> Result<u64> {
        let done = sqlx::query(
            "INSERT INTO messages (sender_id, recipient_id, body, sent_at) \
             SELECT CAST(NULL AS BIGINT), id, $1, $2 FROM users WHERE enabled = TRUE",
        )
        .bind(body)
        .bind(now())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    /// The last `limit` messages of `recipient_id`, oldest first, and marks them read, in one
    /// transaction so a message arriving in between is neither lost nor marked unseen.
    ///
    /// # Errors
    ///
    /// [`crate::Error::Query`] on database failure.
    pub async fn take_inbox(&self, recipient_id: i64, limit: i64) -> Result<Vec<MessageRow>> {
        let mut tx = self.pool.begin().await?;
        let mut rows: Vec<MessageRow> = sqlx::query_as(
            "SELECT m.id AS id, u.username AS sender, m.body AS body, m.sent_at AS sent_at, \
             m.read_at IS NOT NULL AS was_read FROM messages m \
             LEFT JOIN users u ON u.id = m.sender_id \
             WHERE m.recipient_id = $1 ORDER BY m.id DESC LIMIT $2",
        )
        .bind(recipient_id)
        .bind(limit)
        .fetch_all(&mut *tx)
        .await?;
        if let Some(newest) = rows.first() {
            sqlx::query(
                "UPDATE messages SET read_at = $3 \
                 WHERE recipient_id = $1 AND id <= $2 AND read_at IS NULL",
            )
            .bind(recipient_id)
            .bind(newest.id)
            .bind(now())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        rows.reverse();
        Ok(rows)
    }
}
