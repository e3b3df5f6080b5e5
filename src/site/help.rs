//! `SITE HELP`: lists the custom SITE commands with their syntax (214, RFC 959 section 4.2).
//! Admin-only commands are listed for admins only. Anyone logged in may run it.

use async_trait::async_trait;
use libunftp::options::{Reply, ReplyCode, SiteCommandHandler};

use super::{COMMANDS, Ctx, user};
use crate::account::Role;
use crate::auth::FtpUser;
use crate::storage::UserStorage;

/// The handler.
#[derive(Debug)]
pub struct Help;

#[async_trait]
impl SiteCommandHandler<UserStorage, FtpUser> for Help {
    async fn handle(&self, ctx: &Ctx) -> Reply {
        let user = match user(ctx) {
            Ok(u) => u,
            Err(r) => return r,
        };
        let is_admin = user.role == Role::Admin;
        let mut lines = vec!["Custom SITE commands:".to_string()];
        lines.extend(
            COMMANDS
                .iter()
                .filter(|c| is_admin || !c.admin)
                .map(|c| format!("  SITE {:<36} {}", c.syntax, c.summary)),
        );
        lines.push("End of list".to_string());
        Reply::new_multiline(ReplyCode::HelpMessage, lines)
    }
}
