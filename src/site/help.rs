//! `SITE HELP`: lists the custom SITE commands with their syntax (214, RFC 959 section 4.2).
//! Admin-only commands are listed for admins only. Anyone logged in may run it.

use crate::ftp::{Reply, SiteRequest};
use async_trait::async_trait;

use super::{COMMANDS, SiteHandler};
use crate::account::LoggedIn;
use crate::account::Role;

/// The handler.
#[derive(Debug)]
pub struct Help;

#[async_trait]
impl SiteHandler for Help {
    async fn handle(&self, user: &LoggedIn, _req: &SiteRequest<'_>) -> Reply {
        let is_admin = user.role == Role::Admin;
        let mut lines = vec!["Custom SITE commands:".to_string()];
        lines.extend(
            COMMANDS
                .iter()
                .filter(|c| is_admin || !c.admin)
                .map(|c| format!("  SITE {:<36} {}", c.syntax, c.summary)),
        );
        lines.push("End of list".to_string());
        Reply::multi(214, lines)
    }
}
