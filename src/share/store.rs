//! `ShareStore`: every SQL statement about shares.

use tracing::instrument;

use crate::db::{Pool, now};
use crate::error::Result;
use crate::storage::ShareIndex;

/// One share as listed: owner, owner-relative path, recipient, creation time.
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize, PartialEq, Eq)]
pub struct ShareRow {
    /// Who shares.
    pub owner: String,
    /// The owner-relative path, starting with `/`.
    pub path: String,
    /// Who it is shared with.
    pub recipient: String,
    /// RFC 3339 creation time.
    pub created_at: String,
}

/// SQL access to `shares`. Cheap to clone.
#[derive(Debug, Clone)]
pub struct ShareStore {
    pool: Pool,
}

const LIST_ROWS: &str = "SELECT o.username AS owner, s.path AS path, r.username AS recipient, \
     s.created_at AS created_at FROM shares s \
     JOIN users o ON o.id = s.owner_id JOIN users r ON r.id = s.recipient_id \
     WHERE $1 IS NULL OR o.username = $1 OR r.username = $1 \
     ORDER BY o.username, s.path, r.username";

impl ShareStore {
    /// Wraps a pool.
    pub fn new(pool: Pool) -> Self {
        Self { pool }
    }

    /// Adds a share; returns false when it existed already.
    ///
    /// # Errors
    ///
    /// [`crate::Error::Query`] on database failure.
    #[instrument(skip(self))]
    pub async fn insert(&self, owner_id: i64, path: &str, recipient_id: i64) -> Result<bool> {
        let done = sqlx::query(
            "INSERT INTO shares (owner_id, path, recipient_id, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (owner_id, path, recipient_id) DO NOTHING",
        )
        .bind(owner_id)
        .bind(path)
        .bind(recipient_id)
        .bind(now())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Removes a share; returns false when there was none.
    ///
    /// # Errors
    ///
    /// [`crate::Error::Query`] on database failure.
    #[instrument(skip(self))]
    pub async fn delete(&self, owner_id: i64, path: &str, recipient_id: i64) -> Result<bool> {
        let done = sqlx::query(
            "DELETE FROM shares WHERE owner_id = $1 AND path = $2 AND recipient_id = $3",
        )
        .bind(owner_id)
        .bind(path)
        .bind(recipient_id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Every share where `user` is owner or recipient (all shares for `None`).
    ///
    /// # Errors
    ///
    /// [`crate::Error::Query`] on database failure.
    pub async fn list(&self, user: Option<&str>) -> Result<Vec<ShareRow>> {
        Ok(sqlx::query_as(LIST_ROWS).bind(user).fetch_all(&self.pool).await?)
    }

    /// The users who share something with `recipient_id`.
    ///
    /// # Errors
    ///
    /// [`crate::Error::Query`] on database failure.
    pub async fn owners_for(&self, recipient_id: i64) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar(
            "SELECT DISTINCT o.username FROM shares s JOIN users o ON o.id = s.owner_id \
             WHERE s.recipient_id = $1 AND o.enabled = TRUE ORDER BY o.username",
        )
        .bind(recipient_id)
        .fetch_all(&self.pool)
        .await?)
    }

    /// The paths `owner` shares with `recipient_id`: one query on the
    /// `shares_by_recipient` index, used to resolve every path under `/shared/<owner>`.
    ///
    /// # Errors
    ///
    /// [`crate::Error::Query`] on database failure.
    pub async fn paths_for(&self, recipient_id: i64, owner: &str) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar(
            "SELECT s.path FROM shares s JOIN users o ON o.id = s.owner_id \
             WHERE s.recipient_id = $1 AND o.username = $2 AND o.enabled = TRUE ORDER BY s.path",
        )
        .bind(recipient_id)
        .bind(owner)
        .fetch_all(&self.pool)
        .await?)
    }

    /// After the owner renamed `from` to `to`, points shares of `from` and of everything below
    /// it at the new place. A share that exists already at the new place (the same recipient)
    /// gives way to the moved one, in one transaction: SQLite's `UPDATE OR REPLACE`, written
    /// so PostgreSQL runs it too.
    ///
    /// # Errors
    ///
    /// [`crate::Error::Query`] on database failure.
    #[instrument(skip(self))]
    pub async fn move_prefix(&self, owner_id: i64, from: &str, to: &str) -> Result<u64> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "DELETE FROM shares WHERE owner_id = $1 AND EXISTS (SELECT 1 FROM shares moved \
             WHERE moved.owner_id = $1 AND moved.recipient_id = shares.recipient_id \
             AND (moved.path = $2 OR substr(moved.path, 1, length($2) + 1) = $2 || '/') \
             AND shares.path = $3 || substr(moved.path, length($2) + 1))",
        )
        .bind(owner_id)
        .bind(from)
        .bind(to)
        .execute(&mut *tx)
        .await?;
        let done = sqlx::query(
            "UPDATE shares SET path = $3 || substr(path, length($2) + 1) \
             WHERE owner_id = $1 AND (path = $2 OR substr(path, 1, length($2) + 1) = $2 || '/')",
        )
        .bind(owner_id)
        .bind(from)
        .bind(to)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(done.rows_affected())
    }

    /// After the owner deleted `path`, removes shares of it and of everything below it.
    ///
    /// # Errors
    ///
    /// [`crate::Error::Query`] on database failure.
    #[instrument(skip(self))]
    pub async fn delete_prefix(&self, owner_id: i64, path: &str) -> Result<u64> {
        let done = sqlx::query(
            "DELETE FROM shares WHERE owner_id = $1 \
             AND (path = $2 OR substr(path, 1, length($2) + 1) = $2 || '/')",
        )
        .bind(owner_id)
        .bind(path)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }
}

/// The storage tier reads `/shared` through this.
#[async_trait::async_trait]
impl ShareIndex for ShareStore {
    async fn owners_for(&self, recipient_id: i64) -> Result<Vec<String>> {
        ShareStore::owners_for(self, recipient_id).await
    }
    async fn paths_for(&self, recipient_id: i64, owner: &str) -> Result<Vec<String>> {
        ShareStore::paths_for(self, recipient_id, owner).await
    }
    async fn move_prefix(&self, owner_id: i64, from: &str, to: &str) -> Result<u64> {
        ShareStore::move_prefix(self, owner_id, from, to).await
    }
    async fn delete_prefix(&self, owner_id: i64, path: &str) -> Result<u64> {
        ShareStore::delete_prefix(self, owner_id, path).await
    }
}
