//! `SITE KICK <user>`: ends every open session of `<user>`, in every daemon on this database,
//! without disabling the account (the same as `ftpadm kick`). Each session gets `530` at its
//! next command, at most [`ACCESS_RECHECK`](crate::account::ACCESS_RECHECK) after the kick; the user may
//! log in again (disable the account to keep them out). Admins only, checked in the database
//! at each use; 200, 501 on bad syntax, 550 for non-admins and unknown users.

use crate::ftp::{Reply, SiteRequest};
use async_trait::async_trait;

use super::{SiteHandler, error_reply, ok, usage};
use crate::account::LoggedIn;
use crate::account::{Accounts, validate_username};

/// The handler.
#[derive(Debug)]
pub struct Kick {
    /// The account service.
    pub accounts: Accounts,
}

#[async_trait]
impl SiteHandler for Kick {
    async fn handle(&self, me: &LoggedIn, req: &SiteRequest<'_>) -> Reply {
        match self.accounts.is_admin(&me.username).await {
            Ok(true) => {}
            Ok(false) => return Reply::new(550, "SITE KICK is for admins only"),
            Err(e) => return error_reply(&e),
        }
        let name = req.args.trim();
        if name.is_empty() || name.contains(char::is_whitespace) {
            return usage("KICK <user>");
        }
        if let Err(e) = validate_username(name) {
            return error_reply(&e);
        }
        match self.accounts.kick(name).await {
            Ok(()) => ok(format!(
                "Sessions of {name} end at their next command (within {} s)",
                crate::account::ACCESS_RECHECK.as_secs()
            )),
            Err(e) => error_reply(&e),
        }
    }
}
