//! `SITE SHARE <user> <path>` and `SITE UNSHARE <user> <path>`: grant or revoke another user's
//! read access to a file or folder of your home. The path is the last argument and may contain
//! spaces; a relative path is taken from the current directory. Any logged-in user may run it;
//! 200 on success, 501 on bad syntax, 550 when refused (yourself, unknown or disabled user,
//! missing path, a path under /shared).

use async_trait::async_trait;
use libunftp::options::{Reply, SiteCommandHandler};

use super::{Ctx, error_reply, ok, resolve_path, split_word, usage, user};
use crate::auth::FtpUser;
use crate::share::Shares;
use crate::storage::UserStorage;

/// The handler for both commands.
#[derive(Debug)]
pub struct Share {
    /// The share service.
    pub shares: Shares,
    /// UNSHARE instead of SHARE.
    pub revoke: bool,
}

#[async_trait]
impl SiteCommandHandler<UserStorage, FtpUser> for Share {
    async fn handle(&self, ctx: &Ctx) -> Reply {
        let user = match user(ctx) {
            Ok(u) => u,
            Err(r) => return r,
        };
        let Some((recipient, path)) = split_word(&ctx.arguments) else {
            return usage(if self.revoke {
                "UNSHARE <user> <path>"
            } else {
                "SHARE <user> <path>"
            });
        };
        let path = resolve_path(ctx, path);
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
