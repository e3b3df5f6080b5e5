//! [`DbAuthenticator`]: libunftp's `Authenticator` over the account service.

use async_trait::async_trait;
use unftp_core::auth::{AuthenticationError, Authenticator, Credentials, Principal};

use crate::account::Accounts;
use crate::session::Tracker;
use crate::storage::inflight::Transfers;
use std::sync::Arc;

/// Checks FTP credentials against the `users` table.
#[derive(Debug, Clone)]
pub struct DbAuthenticator {
    accounts: Accounts,
    tracker: Option<Tracker>,
    transfers: Arc<Transfers>,
}

impl DbAuthenticator {
    /// An authenticator over `accounts`; `tracker` learns the client address of each login
    /// and enforces session limits; while `transfers` drains for a shutdown, logins are refused.
    pub fn new(accounts: Accounts, tracker: Option<Tracker>, transfers: Arc<Transfers>) -> Self {
        Self { accounts, tracker, transfers }
    }
}

#[async_trait]
impl Authenticator for DbAuthenticator {
    async fn authenticate(
        &self,
        username: &str,
        creds: &Credentials,
    ) -> Result<Principal, AuthenticationError> {
        if self.transfers.draining() {
            tracing::info!(user = %username, ip = %creds.source_ip, "login refused: shutting down");
            crate::metrics::login("refused");
            return Err(refused("the server is shutting down, try again shortly"));
        }
        let password = creds.password.as_deref().unwrap_or("");
        match self.accounts.authenticate(username, password).await {
            Ok(Some(account)) => {
                if let Some(t) = &self.tracker {
                    if let Err(reason) = t.admit(&account.username) {
                        tracing::warn!(
                            user = %account.username,
                            ip = %creds.source_ip,
                            %reason,
                            "login refused"
                        );
                        crate::metrics::login("refused");
                        return Err(refused(&reason));
                    }
                    t.note_login(&account.username, creds.source_ip);
                }
                tracing::info!(user = %account.username, ip = %creds.source_ip, "login succeeded");
                crate::metrics::login("ok");
                Ok(Principal { username: account.username })
            }
            // Unknown user, disabled account and wrong password look the same to the client.
            // BadPassword (not BadUser) so libunftp's failed-logins policy counts every miss.
            Ok(None) => {
                tracing::warn!(user = %username, ip = %creds.source_ip, "login failed");
                crate::metrics::login("failed");
                Err(AuthenticationError::BadPassword)
            }
            Err(e) => {
                tracing::error!(user = %username, cause = %e, "login failed: database error");
                Err(AuthenticationError::with_source("account lookup failed", e))
            }
        }
    }
}

/// A refusal of valid credentials: the (patched) libunftp answers `530 <reason>` and does not
/// count it as a failed password, so a full server never locks anyone out.
fn refused(reason: &str) -> AuthenticationError {
    AuthenticationError::new(format!("refused: {reason}"))
}
