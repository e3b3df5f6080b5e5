//! [`DbAuthenticator`]: libunftp's `Authenticator` over the account service.

use async_trait::async_trait;
use unftp_core::auth::{AuthenticationError, Authenticator, Credentials, Principal};

use crate::account::Accounts;
use crate::session::Tracker;

/// Checks FTP credentials against the `users` table.
#[derive(Debug, Clone)]
pub struct DbAuthenticator {
    accounts: Accounts,
    tracker: Option<Tracker>,
}

impl DbAuthenticator {
    /// An authenticator over `accounts`; `tracker` learns the client address of each login.
    pub fn new(accounts: Accounts, tracker: Option<Tracker>) -> Self {
        Self { accounts, tracker }
    }
}

#[async_trait]
impl Authenticator for DbAuthenticator {
    async fn authenticate(
        &self,
        username: &str,
        creds: &Credentials,
    ) -> Result<Principal, AuthenticationError> {
        let password = creds.password.as_deref().unwrap_or("");
        match self.accounts.authenticate(username, password).await {
            Ok(Some(account)) => {
                tracing::info!(user = %account.username, ip = %creds.source_ip, "login succeeded");
                if let Some(t) = &self.tracker {
                    t.note_login(&account.username, creds.source_ip);
                }
                Ok(Principal { username: account.username })
            }
            // Unknown user, disabled account and wrong password look the same to the client.
            // BadPassword (not BadUser) so libunftp's failed-logins policy counts every miss.
            Ok(None) => {
                tracing::warn!(user = %username, ip = %creds.source_ip, "login failed");
                Err(AuthenticationError::BadPassword)
            }
            Err(e) => {
                tracing::error!(user = %username, cause = %e, "login failed: database error");
                Err(AuthenticationError::with_source("account lookup failed", e))
            }
        }
    }
}
