//! [`LoginFailures`]: the failed-logins policy's counts in the database, so that every node
//! on it counts the same failures: a guesser who moves from node to node is blocked after the
//! same number of tries as on one. The keys (address, user name or both) are made by the
//! caller; the rule is the engine's in-memory one (`crate::ftp::guard`): after `max` failures,
//! each within `block` of the one before, the key is blocked for `block`, and a successful
//! login clears it.

use std::time::Duration;

use super::store::{SessionStore, now_ms};
use crate::error::Result;

/// The policy the counts apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// Failures that block (0 counts as 1).
    pub max: u32,
    /// How long a block lasts, and how long a failure counts.
    pub block: Duration,
}

/// What is on record for a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Record {
    /// No failure.
    Clear,
    /// Failures, not (yet) a block.
    Counting,
    /// Blocked now.
    Blocked,
}

/// The counts over one database. Cheap to clone.
#[derive(Debug, Clone)]
pub struct LoginFailures {
    store: SessionStore,
    policy: Policy,
}

impl LoginFailures {
    pub(super) fn new(store: SessionStore, policy: Policy) -> Self {
        Self { store, policy }
    }

    /// What is on record for `key` now.
    ///
    /// # Errors
    ///
    /// [`crate::Error::Query`] on database failure.
    pub async fn check(&self, key: &str) -> Result<Record> {
        Ok(match self.store.failures(key).await? {
            None => Record::Clear,
            Some(Some(until)) if now_ms() < until => Record::Blocked,
            Some(_) => Record::Counting,
        })
    }

    /// Counts a failure of `key` now.
    ///
    /// # Errors
    ///
    /// [`crate::Error::Query`] on database failure.
    pub async fn failed(&self, key: &str) -> Result<()> {
        let block = i64::try_from(self.policy.block.as_millis()).unwrap_or(i64::MAX);
        self.store.count_failure(key, now_ms(), self.policy.max.max(1), block).await
    }

    /// Clears `key` (a successful login).
    ///
    /// # Errors
    ///
    /// [`crate::Error::Query`] on database failure.
    pub async fn succeeded(&self, key: &str) -> Result<()> {
        self.store.clear_failures(key).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::Sessions;

    #[tokio::test]
    async fn two_services_on_one_database_share_the_counts() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("db");
        let policy = Policy { max: 3, block: Duration::from_secs(60) };
        let a = Sessions::new(crate::db::open_sqlite(&db).await.unwrap()).login_failures(policy);
        let b = Sessions::new(crate::db::open_sqlite(&db).await.unwrap()).login_failures(policy);
        assert_eq!(a.check("k").await.unwrap(), Record::Clear);
        a.failed("k").await.unwrap();
        b.failed("k").await.unwrap();
        assert_eq!(a.check("k").await.unwrap(), Record::Counting);
        a.failed("k").await.unwrap();
        assert_eq!(b.check("k").await.unwrap(), Record::Blocked);
        assert_eq!(b.check("other").await.unwrap(), Record::Clear);
        b.succeeded("k").await.unwrap();
        assert_eq!(a.check("k").await.unwrap(), Record::Clear);
    }
}
