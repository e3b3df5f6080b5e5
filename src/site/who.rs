//! `SITE WHO`: who is online now, in every daemon on this database (username and since when;
//! admins also see each client's address). Any logged-in user; multi-line 200.

use async_trait::async_trait;
use libunftp::options::{Reply, ReplyCode, SiteCommandHandler};

use super::{Ctx, error_reply, user};
use crate::account::Accounts;
use crate::auth::FtpUser;
use crate::session::Sessions;
use crate::storage::UserStorage;

/// The handler.
#[derive(Debug)]
pub struct Who {
    /// Who is online.
    pub sessions: Sessions,
    /// To check the caller's role.
    pub accounts: Accounts,
}

#[async_trait]
impl SiteCommandHandler<UserStorage, FtpUser> for Who {
    async fn handle(&self, ctx: &Ctx) -> Reply {
        let me = match user(ctx) {
            Ok(u) => u,
            Err(r) => return r,
        };
        if !ctx.arguments.trim().is_empty() {
            return super::usage("WHO");
        }
        let is_admin = match self.accounts.is_admin(&me.username).await {
            Ok(a) => a,
            Err(e) => return error_reply(&e),
        };
        let online = match self.sessions.online().await {
            Ok(rows) => rows,
            Err(e) => return error_reply(&e),
        };
        let mut lines = vec![format!("{} session(s) online:", online.len())];
        lines.extend(online.iter().map(|s| {
            if is_admin {
                format!("  {:<20} since {}  from {}", s.username, s.started_at, s.client_addr)
            } else {
                format!("  {:<20} since {}", s.username, s.started_at)
            }
        }));
        lines.push("End of list".into());
        Reply::new_multiline(ReplyCode::CommandOkay, lines)
    }
}
