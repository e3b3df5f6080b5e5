//! `SITE SHARE <user> <path>` and `SITE UNSHARE <user> <path>`: grant or revoke another user's
//! read access to a file or folder of your home. The path is the last argument and may contain
//! spaces; a relative path is taken from the current directory. Any logged-in user may run it;
//! 200 on success, 501 on bad syntax, 550 when refused (yourself, unknown or disabled user,
//! missing path, a path under /shared).

use crate::ftp::{Reply, SiteRequest};
use async_trait::async_trait;

use super::{SiteHandler, error_reply, ok, resolve_path, split_word, usage};
use crate::account::LoggedIn;
use crate::share::Shares;

/// The handler for both commands.
#[derive(Debug)]
pub struct Share {
    /// The share service.
    pub shares: Shares,
    /// UNSHARE instead of SHARE.
    pub revoke: bool,
}

#[async_trait]
impl SiteHandler for Share {
    async fn handle(&self, user: &LoggedIn, req: &SiteRequest<'_>) -> Reply {
        let Some((recipient, path)) = split_word(req.args) else {
            return usage(if self.revoke {
                "UNSHARE <user> <path>"
            } else {
                "SHARE <user> <path>"
            });
        };
        let path = resolve_path(req.cwd, path);
        if self.revoke {
            match self.shares.revoke(&user.username, &path, recipient).await {
                Ok(p) => ok(format!("No longer sharing {p} with {recipient}")),
                Err(e) => error_reply(&e),
            }
        } else {
            match self.shares.grant(&user.username, &path, recipient).await {
                Ok((p, true)) => ok(format!(
                    "Shared {p} with {recipient}; they see it as /shared/{}{p}",
                    user.username
                )),
                Ok((p, false)) => ok(format!("{p} was already shared with {recipient}")),
                Err(e) => error_reply(&e),
            }
        }
    }
}
