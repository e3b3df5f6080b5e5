//! [`FtpUser`], the logged-in user as libunftp sees it, and the provider that builds it.

use std::fmt;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use unftp_core::auth::{Principal, UserDetail, UserDetailError, UserDetailProvider};

use crate::account::{Accounts, Role};

/// A logged-in user: identity, role and the absolute path of their home folder.
#[derive(Debug, Clone)]
pub struct FtpUser {
    /// Database id.
    pub id: i64,
    /// Login name.
    pub username: String,
    /// Role at login time.
    pub role: Role,
    /// Absolute home folder, `<root>/home/<username>`.
    pub home: PathBuf,
    /// Whether the account is enabled.
    pub enabled: bool,
}

impl fmt::Display for FtpUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.username)
    }
}

impl UserDetail for FtpUser {
    fn account_enabled(&self) -> bool {
        self.enabled
    }

    fn home(&self) -> Option<&Path> {
        Some(&self.home)
    }
}

/// Loads an [`FtpUser`] for an authenticated principal and makes sure their home exists
/// (an admin may have removed it by hand).
#[derive(Debug, Clone)]
pub struct DbUserDetailProvider {
    accounts: Accounts,
}

impl DbUserDetailProvider {
    /// A provider over `accounts`.
    pub fn new(accounts: Accounts) -> Self {
        Self { accounts }
    }
}

#[async_trait]
impl UserDetailProvider for DbUserDetailProvider {
    type User = FtpUser;

    async fn provide_user_detail(&self, principal: &Principal) -> Result<FtpUser, UserDetailError> {
        let account = self
            .accounts
            .get(&principal.username)
            .await
            .map_err(|e| UserDetailError::with_source("loading user", e))?;
        let home = self
            .accounts
            .ensure_home(&account.username)
            .map_err(|e| UserDetailError::with_source("creating home folder", e))?;
        Ok(FtpUser {
            id: account.id,
            username: account.username,
            role: account.role,
            home,
            enabled: account.enabled,
        })
    }
}
