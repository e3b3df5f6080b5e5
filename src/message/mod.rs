//! The message service: short text messages between users (the seed's chat) and admin
//! broadcasts. `SITE MSG`/`SITE INBOX` and `ftpadm msg send` call it; shares notify their
//! recipient through it too, under the same per-sender rate limit.

pub mod store;

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

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

/// The message service. The rate limiter lives in the daemon's memory: it guards the FTP side,
/// where any user can send; `ftpadm` is an admin tool and is not limited.
#[derive(Debug, Clone)]
pub struct Messages {
    store: MessageStore,
    accounts: Accounts,
    sent: Arc<Mutex<HashMap<String, VecDeque<Instant>>>>,
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
        Self { store: MessageStore::new(pool), accounts, sent: Arc::default() }
    }

    fn check_rate(&self, sender: &str) -> Result<()> {
        // A panic elsewhere while holding the lock leaves at worst a partly updated queue of
        // send times: still a usable count, so the limiter goes on instead of refusing all.
        let mut sent = self.sent.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = Instant::now();
        let q = sent.entry(sender.to_string()).or_default();
        while q.front().is_some_and(|t| now.duration_since(*t) > RATE_WINDOW) {
            q.pop_front();
        }
        if q.len() >= RATE_LIMIT {
            return Err(Error::Forbidden(format!(
                "too many messages: at most {RATE_LIMIT} per minute, try again shortly"
            )));
        }
        q.push_back(now);
        Ok(())
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
        self.check_rate(sender)?;
        self.store.insert(Some(from.id), to.id, body).await?;
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

    /// A notice from `sender` (name and id) to a recipient (used when a share is granted),
    /// under the same per-sender rate limit as [`Messages::send`]: otherwise a burst of shares
    /// would push the recipient's earlier messages out of the inbox.
    ///
    /// # Errors
    ///
    /// [`Error::Forbidden`] (rate limit), [`Error::Query`] on database failure.
    pub async fn notify(
        &self,
        sender: &str,
        sender_id: i64,
        recipient_id: i64,
        body: &str,
    ) -> Result<()> {
        self.check_rate(sender)?;
        self.store.insert(Some(sender_id), recipient_id, body).await
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
    async fn a_poisoned_rate_limiter_still_counts() {
        let pool = Pool::connect_lazy("sqlite::memory:").unwrap();
        let tmp = tempfile::tempdir().unwrap();
        let messages = Messages::new(pool.clone(), Accounts::new(pool, tmp.path()));
        messages.check_rate("alice").unwrap();
        let sent = Arc::clone(&messages.sent);
        let panicked = std::thread::spawn(move || {
            let _guard = sent.lock().unwrap();
            panic!("poisons the lock on purpose");
        })
        .join();
        assert!(panicked.is_err() && messages.sent.is_poisoned());
        for _ in 1..RATE_LIMIT {
            messages.check_rate("alice").unwrap();
        }
        let refused = messages.check_rate("alice").unwrap_err();
        assert!(refused.to_string().starts_with("too many messages"), "{refused}");
        messages.check_rate("bob").unwrap();
    }
}
