//! The message service: short text messages between users (the seed's chat) and admin
//! broadcasts. `SITE MSG`/`SITE INBOX` and `ftpadm msg send` call it; shares notify their
//! recipient through it too, under the same per-sender rate limit.

pub mod store;

use std::time::Duration;

use crate::account::Accounts;
use crate::db::Pool;
use crate::error::{Error, Result};
pub use store::{MessageRow, MessageStore};

/// Longest message, in characters.
pub const MAX_MESSAGE_LEN: usize = 500;
/// Messages one sender may send per [`RATE_WINDOW`].
pub const RATE_LIMIT: usize = 10;
/// The rate limit's window.
pub const RATE_WINDOW: Duration = Duration::from_secs(60);
/// How many messages an inbox listing shows.
pub const INBOX_LIMIT: i64 = 50;

/// The message service. The rate limit counts a sender's messages in the database, so it
/// holds across the nodes on one database; it guards the FTP side, where any user can send;
/// `ftpadm` is an admin tool and is not limited.
#[derive(Debug, Clone)]
pub struct Messages {
    store: MessageStore,
    accounts: Accounts,
}

/// Checks a message body: not empty, bounded, one line.
///
/// # Errors
///
/// [`Error::InvalidInput`] saying what is wrong.
pub fn validate_body(body: &str) -> Result<&str> {
    let body = body.trim();
    if body.is_empty() {
        return Err(Error::InvalidInput("the message is empty".into()));
    }
    if body.chars().count() > MAX_MESSAGE_LEN {
        return Err(Error::InvalidInput(format!(
            "message too long: use at most {MAX_MESSAGE_LEN} characters"
        )));
    }
    if body.chars().any(char::is_control) {
        return Err(Error::InvalidInput("the message must not contain control characters".into()));
    }
    Ok(body)
}

impl Messages {
    /// The service over `pool`.
    pub fn new(pool: Pool, accounts: Accounts) -> Self {
        Self { store: MessageStore::new(pool), accounts }
    }

    /// Stores a message from `sender_id` under the per-sender rate limit: at most
    /// [`RATE_LIMIT`] in [`RATE_WINDOW`], counted in the database (times to the second).
    async fn insert_limited(&self, sender_id: i64, recipient_id: i64, body: &str) -> Result<()> {
        let since = chrono::Utc::now()
            - chrono::Duration::from_std(RATE_WINDOW).unwrap_or(chrono::Duration::MAX);
        let since = since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let limit = i64::try_from(RATE_LIMIT).unwrap_or(i64::MAX);
        if self.store.insert_within(sender_id, recipient_id, body, &since, limit).await? {
            return Ok(());
        }
        Err(Error::Forbidden(format!(
            "too many messages: at most {RATE_LIMIT} per minute, try again shortly"
        )))
    }

    /// A user sends a message to another existing user (rate-limited per sender).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] (body), [`Error::NotFound`] (recipient), [`Error::Forbidden`]
    /// (rate limit).
    pub async fn send(&self, sender: &str, recipient: &str, body: &str) -> Result<()> {
        let body = validate_body(body)?;
        let from = self.accounts.get(sender).await?;
        let to = self.accounts.get(recipient).await?;
        self.insert_limited(from.id, to.id, body).await?;
        tracing::info!(%sender, %recipient, "message sent");
        Ok(())
    }

    /// An admin (from `ftpadm`) sends a message to one user; the sender shows as admin.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] (body), [`Error::NotFound`] (recipient).
    pub async fn send_as_admin(&self, recipient: &str, body: &str) -> Result<()> {
        let body = validate_body(body)?;
        let to = self.accounts.get(recipient).await?;
        self.store.insert(None, to.id, body).await
    }

    /// An admin broadcast to every enabled user; returns how many got it.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] (body).
    pub async fn broadcast(&self, body: &str) -> Result<u64> {
        let body = validate_body(body)?;
        let n = self.store.insert_all(body).await?;
        tracing::info!(recipients = n, "broadcast sent");
        Ok(n)
    }

    /// A notice from user `sender_id` to a recipient (used when a share is granted),
    /// under the same per-sender rate limit as [`Messages::send`]: otherwise a burst of shares
    /// would push the recipient's earlier messages out of the inbox.
    ///
    /// # Errors
    ///
    /// [`Error::Forbidden`] (rate limit), [`Error::Query`] on database failure.
    pub async fn notify(&self, sender_id: i64, recipient_id: i64, body: &str) -> Result<()> {
        self.insert_limited(sender_id, recipient_id, body).await
    }

    /// The user's latest messages, oldest first, now marked read.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] for an unknown user.
    pub async fn inbox(&self, username: &str) -> Result<Vec<MessageRow>> {
        let user = self.accounts.get(username).await?;
        self.store.take_inbox(user.id, INBOX_LIMIT).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_checked() {
        assert_eq!(validate_body("  hi there ").unwrap(), "hi there");
        assert!(validate_body("   ").is_err());
        assert!(validate_body("a\nb").is_err());
        assert!(validate_body(&"x".repeat(MAX_MESSAGE_LEN)).is_ok());
        assert!(validate_body(&"x".repeat(MAX_MESSAGE_LEN + 1)).is_err());
    }

    #[tokio::test]
    async fn the_rate_limit_is_counted_in_the_database() {
        let tmp = tempfile::tempdir().unwrap();
        let db = tmp.path().join("db");
        let service = |pool: Pool| Messages::new(pool.clone(), Accounts::new(pool, tmp.path()));
        // Two services on one database stand in for two nodes.
        let (a, b) = (
            service(crate::db::open_sqlite(&db).await.unwrap()),
            service(crate::db::open_sqlite(&db).await.unwrap()),
        );
        for name in ["alice", "bob"] {
            a.accounts.add(crate::account::NewAccount::user(name, "password123")).await.unwrap();
        }
        for i in 0..RATE_LIMIT {
            let node = if i % 2 == 0 { &a } else { &b };
            node.send("alice", "bob", "hi").await.unwrap();
        }
        for node in [&a, &b] {
            let refused = node.send("alice", "bob", "hi").await.unwrap_err();
            assert!(refused.to_string().starts_with("too many messages"), "{refused}");
        }
        b.send("bob", "alice", "hello").await.unwrap();
        assert_eq!(a.inbox("bob").await.unwrap().len(), RATE_LIMIT);
    }
}
