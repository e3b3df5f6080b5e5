//! The share service: users granting each other read access to files and folders of their
//! homes. Grants appear to the recipient under `/shared/<owner>/<path>` (see
//! [`crate::storage`]). `SITE SHARE`/`UNSHARE`/`SHARES` and `ftpadm share` both call this.

pub mod store;

use crate::account::Accounts;
use crate::db::Pool;
use crate::error::{Error, Result};
use crate::message::Messages;
use crate::storage::paths::{Target, classify};
use crate::storage::shareable;
pub use store::{ShareRow, ShareStore};

/// The share service.
#[derive(Debug, Clone)]
pub struct Shares {
    store: ShareStore,
    accounts: Accounts,
    messages: Messages,
}

impl Shares {
    /// The service over `pool`, the account service and the message service (a new share
    /// sends its recipient a message).
    pub fn new(pool: Pool, accounts: Accounts, messages: Messages) -> Self {
        Self { store: ShareStore::new(pool), accounts, messages }
    }

    /// The SQL store, for the storage backend's path resolution.
    pub fn store(&self) -> &ShareStore {
        &self.store
    }

    /// Normalises an owner-relative path and checks it may be shared: inside the home, not
    /// the home itself, not under `/shared`.
    fn owner_path(path: &str) -> Result<String> {
        if path.trim().is_empty() {
            return Err(Error::InvalidInput("give the path of a file or folder to share".into()));
        }
        match classify(path) {
            Target::Home(p) if p == "/" => Err(Error::InvalidInput(
                "cannot share your whole home; share a file or folder in it".into(),
            )),
            Target::Home(p) => Ok(p),
            _ => Err(Error::InvalidInput(
                "cannot share what is under /shared; only files of your own home".into(),
            )),
        }
    }

    /// Shares `path` (owner-relative) of `owner` with `recipient`. Returns the normalised path
    /// and whether the share is new; sharing twice is harmless.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] (self, bad path, disabled recipient), [`Error::NotFound`]
    /// (unknown user, missing path).
    pub async fn grant(&self, owner: &str, path: &str, recipient: &str) -> Result<(String, bool)> {
        let path = Self::owner_path(path)?;
        if owner == recipient {
            return Err(Error::InvalidInput("cannot share with yourself".into()));
        }
        let owner_acc = self.accounts.get(owner).await?;
        let recipient_acc = self.accounts.get(recipient).await?;
        if !recipient_acc.enabled {
            return Err(Error::InvalidInput(format!(
                "user '{recipient}' is disabled and cannot receive shares"
            )));
        }
        // Only what the recipient will be served: a path reached from the home without
        // following a symbolic link. Anything else, a missing file or a link out of the home
        // alike, gets the same answer, so SITE SHARE cannot probe the file system.
        let home = self.accounts.home_of(owner);
        let inside = path.clone();
        let found =
            tokio::task::spawn_blocking(move || shareable(&home, &inside)).await.unwrap_or(false);
        if !found {
            return Err(Error::NotFound { what: "file or folder", name: path });
        }
        let created = self.store.insert(owner_acc.id, &path, recipient_acc.id).await?;
        if created {
            tracing::info!(%owner, %path, %recipient, "share granted");
            let note = format!("shared {path} with you: see /shared/{owner}{path}");
            // The notice counts against the owner's message rate limit, like SITE MSG: a burst
            // of shares must not flood the recipient's inbox. The share stands either way.
            match self.messages.notify(owner_acc.id, recipient_acc.id, &note).await {
                Ok(()) => {}
                Err(Error::Forbidden(why)) => {
                    tracing::info!(%owner, %recipient, %why, "share notice not sent");
                }
                Err(e) => tracing::warn!(cause = %e, "could not send the share notice"),
            }
        }
        Ok((path, created))
    }

    /// Revokes a share. Returns the normalised path.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] when no such share (or user) exists.
    pub async fn revoke(&self, owner: &str, path: &str, recipient: &str) -> Result<String> {
        let path = Self::owner_path(path)?;
        let owner_acc = self.accounts.get(owner).await?;
        let recipient_acc = self.accounts.get(recipient).await?;
        if !self.store.delete(owner_acc.id, &path, recipient_acc.id).await? {
            return Err(Error::NotFound {
                what: "share",
                name: format!("{path} of {owner} with {recipient}"),
            });
        }
        tracing::info!(%owner, %path, %recipient, "share revoked");
        Ok(path)
    }

    /// Shares where `user` is owner or recipient, or every share for `None`.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] for an unknown user, [`Error::Query`] on database failure.
    pub async fn list(&self, user: Option<&str>) -> Result<Vec<ShareRow>> {
        if let Some(user) = user {
            self.accounts.get(user).await?;
        }
        self.store.list(user).await
    }
}
