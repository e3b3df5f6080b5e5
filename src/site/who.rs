//! `SITE WHO`: who is online now, in every daemon on this database (username and since when;
//! admins also see each client's address). Any logged-in user; multi-line 200.

use crate::ftp::{Reply, SiteRequest};
use async_trait::async_trait;

use super::{SiteHandler, error_reply};
use crate::account::Accounts;
use crate::account::LoggedIn;
use crate::session::Sessions;

/// The handler.
#[derive(Debug)]
pub struct Who {
    /// Who is online.
    pub sessions: Sessions,
    /// To check the caller's role.
    pub accounts: Accounts,
}

#[async_trait]
impl SiteHandler for Who {
    async fn handle(&self, me: &LoggedIn, req: &SiteRequest<'_>) -> Reply {
        if !req.args.trim().is_empty() {
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
        Reply::multi(200, lines)
    }
}
